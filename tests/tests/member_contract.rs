//! The member store's contract on both backends (the in-memory twin, and DynamoDB on moto):
//! a shop founded once, the `sub` bound once, and a member's removal that no rule edit can
//! outlive (findings 4 and 7 of issue 10; `docs/facebook-login.md`, "Shops and members").

use adapters::Stores;
use domain::model::{Member, Method, OldConversations, Role, Rule};
use domain::ports::{AgentsChange, ImportedPage, StoreError};
use integration_tests::store_contract;

fn owner(email: &str) -> Member {
    Member { email: email.into(), role: Role::Owner }
}

fn agent(email: &str) -> Member {
    Member { email: email.into(), role: Role::Agent }
}

fn rule(id: &str, page: &str, agents: &[&str]) -> Rule {
    Rule {
        id: id.into(),
        name: format!("Quy tắc {id}"),
        page_ids: vec![page.into()],
        agent_emails: agents.iter().map(|a| a.to_string()).collect(),
        method: Method::RoundRobin,
        old_conversations: OldConversations::None,
        policy_chosen_by: None,
        policy_chosen_at: None,
    }
}

async fn import(s: &Stores, tenant: &str, page: &str) {
    let p = ImportedPage {
        page_id: page.into(),
        name: page.into(),
        token_enc: "v1:x".into(),
        imported_by: "o@a.vn".into(),
    };
    s.pages.import_page(tenant, &p).await.expect("import");
}

/// Finding 4: many first owners at once, one founder; afterwards nobody founds the shop again,
/// not a second owner-claiming token, not the founder once removed; a shop that has members
/// (stored before founding was recorded) counts as founded.
async fn a_shop_is_founded_once(s: Stores) {
    let founders = (0..8).map(|i| {
        let s = s.clone();
        async move { s.members.found_shop("A", &owner(&format!("o{i}@a.vn")), &format!("sub-{i}")).await }
    });
    let results: Vec<bool> =
        futures::future::join_all(founders).await.into_iter().map(|r| r.expect("found")).collect();
    assert_eq!(results.iter().filter(|f| **f).count(), 1, "{results:?}");
    let winner = results.iter().position(|f| *f).expect("a founder");
    let members = s.members.list_members("A").await.expect("list");
    assert_eq!(members, vec![owner(&format!("o{winner}@a.vn"))]);
    let m = s.members.membership("A", &format!("o{winner}@a.vn")).await.expect("get").expect("member");
    assert_eq!((m.sub.as_deref(), m.agent_grants), (Some(format!("sub-{winner}").as_str()), 0));
    // Removed, the founder does not found it again.
    assert!(s.members.remove_member("A", &format!("o{winner}@a.vn")).await.expect("remove"));
    assert!(!s.members.found_shop("A", &owner(&format!("o{winner}@a.vn")), "x").await.expect("again"));
    assert!(s.members.membership("A", &format!("o{winner}@a.vn")).await.expect("get").is_none());
    // A shop with members and no founding record: founded.
    assert!(s.members.add_member("B", &agent("lan@b.vn")).await.expect("add"));
    assert!(!s.members.found_shop("B", &owner("boss@b.vn"), "x").await.expect("found B"));
    assert!(s.members.member("B", "boss@b.vn").await.expect("get").is_none());
}

/// Finding 4: a member added by email gets the `sub` of their first call, once.
async fn a_sub_is_bound_once(s: Stores) {
    assert!(!s.members.bind_sub("A", "lan@a.vn", "s1").await.expect("no member"));
    assert!(s.members.add_member("A", &agent("lan@a.vn")).await.expect("add"));
    assert_eq!(s.members.membership("A", "lan@a.vn").await.expect("get").and_then(|m| m.sub), None);
    let binds = ["s1", "s2", "s3", "s4"].map(|sub| {
        let s = s.clone();
        async move { (sub, s.members.bind_sub("A", "lan@a.vn", sub).await.expect("bind")) }
    });
    let won: Vec<&str> = futures::future::join_all(binds)
        .await
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(sub, _)| sub)
        .collect();
    assert_eq!(won.len(), 1, "{won:?}");
    let bound = s.members.membership("A", "lan@a.vn").await.expect("get").and_then(|m| m.sub);
    assert_eq!(bound.as_deref(), Some(won[0]));
    assert!(s.members.bind_sub("A", "lan@a.vn", won[0]).await.expect("same sub again"));
    // Removed and added again by email: the next first call binds anew.
    assert!(s.members.remove_member("A", "lan@a.vn").await.expect("remove"));
    assert!(s.members.add_member("A", &agent("lan@a.vn")).await.expect("add again"));
    assert!(s.members.bind_sub("A", "lan@a.vn", "s9").await.expect("bind anew"));
}

/// Finding 7: removal and rule edits. A removal decided on a stale read (a rule gained the
/// member meanwhile, or a rule's agents changed) writes nothing; once done, a rule edit adding
/// the removed member is refused. No rule ever names a removed member.
async fn a_removed_member_is_in_no_rule(s: Stores) {
    for p in ["P1", "P2", "P3"] {
        import(&s, "A", p).await;
    }
    for a in ["a0@a.vn", "x@a.vn"] {
        assert!(s.members.add_member("A", &agent(a)).await.expect("add"));
    }
    s.rules.create_rule("A", &rule("r1", "P1", &["a0@a.vn"]), &[]).await.expect("r1");
    s.rules.create_rule("A", &rule("r2", "P2", &["a0@a.vn", "x@a.vn"]), &[]).await.expect("r2");
    let seen = s.members.membership("A", "x@a.vn").await.expect("get").expect("member");
    assert_eq!(seen.agent_grants, 1, "r2 gained x");
    let leave_r2 = AgentsChange {
        rule_id: "r2".into(),
        expected: vec!["a0@a.vn".into(), "x@a.vn".into()],
        agents: vec!["a0@a.vn".into()],
    };
    // Meanwhile r1 gains x: the removal read before that writes nothing.
    let r1 = s.rules.rule("A", "r1").await.expect("get").expect("r1");
    let with_x = Rule { agent_emails: vec!["a0@a.vn".into(), "x@a.vn".into()], ..r1.clone() };
    s.rules.update_rule("A", &r1, &with_x, &[]).await.expect("r1 gains x");
    let stale = s.members.leave_shop("A", "x@a.vn", seen.agent_grants, std::slice::from_ref(&leave_r2), None);
    assert!(!stale.await.expect("leave"), "a rule gained the member since the read");
    assert!(s.members.member("A", "x@a.vn").await.expect("get").is_some(), "nothing removed");
    assert_eq!(s.rules.rule("A", "r2").await.expect("get").map(|r| r.agent_emails.len()), Some(2));
    // Read again: both rules; a rule whose agents changed since (r2 here) refuses it too.
    let seen = s.members.membership("A", "x@a.vn").await.expect("get").expect("member");
    assert_eq!(seen.agent_grants, 2);
    let leave_r1 = AgentsChange {
        rule_id: "r1".into(),
        expected: with_x.agent_emails.clone(),
        agents: vec!["a0@a.vn".into()],
    };
    let stale_r2 = AgentsChange { expected: vec!["x@a.vn".into()], ..leave_r2.clone() };
    let changes = [leave_r1.clone(), stale_r2];
    assert!(!s.members.leave_shop("A", "x@a.vn", seen.agent_grants, &changes, None).await.expect("leave"));
    assert_eq!(
        s.rules.rule("A", "r1").await.expect("get").map(|r| r.agent_emails),
        Some(with_x.agent_emails)
    );
    // Up to date: the member leaves the shop and both rules at once.
    let changes = [leave_r1, leave_r2];
    assert!(s.members.leave_shop("A", "x@a.vn", seen.agent_grants, &changes, None).await.expect("leave"));
    assert!(s.members.membership("A", "x@a.vn").await.expect("get").is_none());
    for r in s.rules.list_rules("A").await.expect("rules") {
        assert!(!r.agent_emails.contains(&"x@a.vn".to_string()), "{} still names x", r.id);
    }
    // Gone: no rule edit or new rule can add them back.
    let r1 = s.rules.rule("A", "r1").await.expect("get").expect("r1");
    let again = Rule { agent_emails: vec!["a0@a.vn".into(), "x@a.vn".into()], ..r1.clone() };
    assert!(matches!(s.rules.update_rule("A", &r1, &again, &[]).await, Err(StoreError::Conflict(_))));
    let r3 = rule("r3", "P3", &["x@a.vn"]);
    assert!(matches!(s.rules.create_rule("A", &r3, &[]).await, Err(StoreError::Conflict(_))));
    assert!(s.rules.rule("A", "r3").await.expect("get").is_none());
    assert_eq!(
        s.rules.rule("A", "r1").await.expect("get").map(|r| r.agent_emails),
        Some(vec!["a0@a.vn".into()])
    );
    // Leaving twice: nothing to do.
    assert!(!s.members.leave_shop("A", "x@a.vn", 0, &[], None).await.expect("leave again"));
}

/// Two owners removing each other (or themselves) at the same moment: each removal names the
/// other owner who must stay, checked in its own transaction, so the shop keeps an owner.
async fn owners_removing_each_other_leave_one_owner(s: Stores) {
    let owner = |e: &str| domain::model::Member { email: e.into(), role: domain::model::Role::Owner };
    for e in ["x@a.vn", "y@a.vn"] {
        assert!(s.members.add_member("A", &owner(e)).await.expect("add"));
    }
    let (x, y) = futures::join!(
        s.members.leave_shop("A", "x@a.vn", 0, &[], Some("y@a.vn")),
        s.members.leave_shop("A", "y@a.vn", 0, &[], Some("x@a.vn")),
    );
    let left = [x.expect("x leaves"), y.expect("y leaves")];
    assert!(left.iter().filter(|l| **l).count() <= 1, "at most one of them left: {left:?}");
    let mut owners: Vec<String> =
        s.members.list_members("A").await.expect("list").into_iter().map(|m| m.email).collect();
    assert!(!owners.is_empty(), "the shop kept an owner");
    // Both refused (DynamoDB cancels transactions that collide): one goes now, alone.
    if owners.len() == 2 {
        assert!(s.members.leave_shop("A", "x@a.vn", 0, &[], Some("y@a.vn")).await.expect("leave"));
        owners.retain(|e| e != "x@a.vn");
    }
    // The owner left cannot go with the other one as keeper: that one is gone.
    let remaining = owners[0].clone();
    let gone = if remaining == "x@a.vn" { "y@a.vn" } else { "x@a.vn" };
    assert!(!s.members.leave_shop("A", &remaining, 0, &[], Some(gone)).await.expect("leave"));
    assert_eq!(s.members.list_members("A").await.expect("list").len(), 1);
}

store_contract!(
    a_shop_is_founded_once,
    a_sub_is_bound_once,
    a_removed_member_is_in_no_rule,
    owners_removing_each_other_leave_one_owner
);
