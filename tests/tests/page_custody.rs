//! Page custody (docs/page-custody.md), the same contract on both store implementations: the
//! in-memory twin and DynamoDB on moto. Who holds a Page's route, at which connection version,
//! under which lease; findings 1, 3 and 7 of issue 10.

use adapters::Stores;
use domain::model::{ChatMode, Method, OldConversations, PageRecord, PageRoute, PageStatus, Rule};
use domain::ports::{
    Connection, ImportedPage, ROUTE_LEASE_MS, RouteChange, RuleLink, StoreError, Takeover,
    UNCONNECTED_TOKEN_TTL_MS,
};
use domain::timefmt::now_ms;
use integration_tests::store_contract;

async fn import(s: &Stores, tenant: &str, page: &str, token: &str) -> PageRecord {
    let p = ImportedPage {
        page_id: page.into(),
        name: format!("Page {page}"),
        token_enc: token.into(),
        imported_by: format!("o@{tenant}.vn"),
    };
    s.pages.import_page(tenant, &p).await.expect("import")
}

fn route(tenant: &str, page: &str, status: PageStatus, rule: Option<&str>) -> PageRoute {
    PageRoute {
        page_id: page.into(),
        tenant_id: tenant.into(),
        status,
        chat_mode: if rule.is_some() { ChatMode::Shared } else { ChatMode::OnlyMe },
        rule_id: rule.map(str::to_string),
        connected_by: format!("o@{tenant}.vn"),
    }
}

fn connected(p: &PageRecord, r: &PageRoute) -> PageRecord {
    PageRecord {
        status: PageStatus::Connected,
        chat_mode: Some(r.chat_mode),
        rule_id: r.rule_id.clone(),
        connected_by: Some(r.connected_by.clone()),
        last_connected_at: Some("2026-11-30T07:00:00.000Z".into()),
        lost_reason: None,
        ..p.clone()
    }
}

fn change(
    tenant: &str,
    page: &str,
    op: &str,
    draft: Option<PageRoute>,
    take_over: Option<Takeover>,
) -> RouteChange {
    RouteChange {
        tenant_id: tenant.into(),
        page_id: page.into(),
        op: op.into(),
        until_ms: now_ms() + ROUTE_LEASE_MS,
        draft,
        take_over,
    }
}

fn conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

/// `page` imported by `tenant` with `token` and connected only-me; returns the version.
async fn held(s: &Stores, tenant: &str, page: &str, token: &str) -> String {
    let p = import(s, tenant, page, token).await;
    let r = route(tenant, page, PageStatus::Connected, None);
    s.pages.connect_page(&connected(&p, &r), &r).await.expect("connect");
    s.pages.holder(page).await.expect("holder").expect("held").version
}

/// Finding 1: a route in lost connection keeps routing to its shop (quarantine) until a
/// current admin connects the Page to another shop; the takeover is one transaction that also
/// tells the previous shop why. A connected route cannot be taken over.
async fn a_lost_page_stays_with_its_shop_until_another_shop_takes_it_over(s: Stores) {
    let v1 = held(&s, "A", "1", "tok-A").await;
    let b = import(&s, "B", "1", "tok-B").await;
    let reason = domain::custody::taken_over_reason(now_ms());
    let take = Takeover { tenant_id: "A".into(), version: v1.clone(), reason: reason.clone() };
    assert!(
        conflict(s.pages.begin_change(&change("B", "1", "op-b", None, Some(take.clone()))).await),
        "A is connected"
    );

    assert!(
        s.pages
            .mark_lost("A", "1", &v1, "the person who connected the Page is no longer its admin")
            .await
            .expect("lost")
    );
    let r = s.pages.page_route("1").await.expect("route").expect("quarantined");
    assert_eq!((r.tenant_id.as_str(), r.status), ("A", PageStatus::LostConnection), "events still go to A");
    let stale = Takeover { version: "other".into(), ..take.clone() };
    assert!(
        conflict(s.pages.begin_change(&change("B", "1", "op-b", None, Some(stale))).await),
        "version seen"
    );

    s.pages.begin_change(&change("B", "1", "op-b", None, Some(take.clone()))).await.expect("lease");
    let rb = route("B", "1", PageStatus::Connected, None);
    let commit = Connection {
        page: &connected(&b, &rb),
        route: &rb,
        op: "op-b",
        version: "v-b",
        join: None,
        leave: None,
        take_over: Some(&take),
    };
    s.pages.commit_connect(&commit).await.expect("take over");
    let h = s.pages.holder("1").await.expect("holder").expect("held");
    assert_eq!((h.route.tenant_id.as_str(), h.route.status), ("B", PageStatus::Connected));
    assert_eq!((h.version.as_str(), h.token_enc.as_deref()), ("v-b", Some("tok-B")), "B's own token");
    let a = s.pages.page("A", "1").await.expect("page").expect("A keeps its item");
    assert_eq!(a.record.status, PageStatus::LostConnection);
    assert_eq!(a.record.lost_reason.as_deref(), Some(reason.as_str()));
    // A's old failure cannot touch B's connection.
    assert!(!s.pages.mark_lost("A", "1", &v1, "late").await.expect("mark"));
    assert_eq!(s.pages.page_route("1").await.expect("route").map(|r| r.status), Some(PageStatus::Connected));
}

/// Finding 3: only the holder's token at the route's version is handed out; a shop that does
/// not hold the route disconnects only its own item and the route stays.
async fn only_the_holder_gets_the_token_and_moves_the_route(s: Stores) {
    import(&s, "B", "2", "tok-B").await;
    let v = held(&s, "A", "2", "tok-A").await;
    let h = s.pages.holder("2").await.expect("holder").expect("held");
    assert_eq!(
        (h.route.tenant_id.as_str(), h.token_enc.as_deref(), h.version.as_str()),
        ("A", Some("tok-A"), v.as_str())
    );
    assert!(conflict(s.pages.begin_change(&change("B", "2", "op", None, None)).await), "B holds nothing");
    s.pages.disconnect_page("B", "2").await.expect("B's own item");
    assert_eq!(s.pages.page_route("2").await.expect("route").map(|r| r.tenant_id), Some("A".into()));
    assert_eq!(
        s.pages.page("B", "2").await.expect("page").map(|p| p.record.status),
        Some(PageStatus::NotConnected)
    );
    assert!(!s.pages.mark_lost("B", "2", &v, "x").await.expect("mark"), "not B's connection");
}

/// Finding 7: `mark_lost` is conditioned on the connection version and is one transaction, so
/// an old failure never marks a fresh connection lost and page and route never disagree.
async fn an_old_failure_never_marks_a_fresh_connection_lost(s: Stores) {
    let v1 = held(&s, "A", "3", "tok-1").await;
    let p = s.pages.page("A", "3").await.expect("page").expect("item").record;
    let r = route("A", "3", PageStatus::Connected, None);
    s.pages.connect_page(&p, &r).await.expect("reconnect");
    let v2 = s.pages.holder("3").await.expect("holder").expect("held").version;
    assert_ne!(v1, v2, "each connect has its own version");
    assert!(!s.pages.mark_lost("A", "3", &v1, "old failure").await.expect("mark"));
    let page = s.pages.page("A", "3").await.expect("page").expect("item").record;
    assert_eq!((page.status, page.lost_reason), (PageStatus::Connected, None));
    assert_eq!(s.pages.page_route("3").await.expect("route").map(|r| r.status), Some(PageStatus::Connected));
    assert!(s.pages.mark_lost("A", "3", &v2, "now").await.expect("mark"));
    assert_eq!(
        s.pages.page("A", "3").await.expect("page").map(|p| p.record.status),
        Some(PageStatus::LostConnection)
    );
    assert_eq!(
        s.pages.page_route("3").await.expect("route").map(|r| r.status),
        Some(PageStatus::LostConnection)
    );
}

/// Finding 7: a change of a route holds its lease; a concurrent connect or disconnect is
/// refused until it ends, and an expired lease (a crashed function) does not wedge the Page.
async fn connect_and_disconnect_never_interleave(s: Stores) {
    let p = import(&s, "A", "4", "tok").await;
    let r = route("A", "4", PageStatus::Connected, None);
    let draft = PageRoute { status: PageStatus::NotConnected, ..r.clone() };
    s.pages.begin_change(&change("A", "4", "connect", Some(draft.clone()), None)).await.expect("lease");
    assert!(conflict(s.pages.begin_change(&change("A", "4", "disconnect", None, None)).await));
    assert!(conflict(s.pages.disconnect_page("A", "4").await), "no disconnect under a lease");
    assert!(conflict(s.pages.commit_disconnect("A", "4", "disconnect").await));
    assert!(conflict(s.pages.connect_page(&connected(&p, &r), &r).await), "seeding waits too");
    let commit = Connection {
        page: &connected(&p, &r),
        route: &r,
        op: "connect",
        version: "v",
        join: None,
        leave: None,
        take_over: None,
    };
    s.pages.commit_connect(&commit).await.expect("connect");
    assert!(conflict(s.pages.commit_connect(&commit).await), "the lease ended with the commit");
    s.pages.begin_change(&change("A", "4", "disconnect", None, None)).await.expect("free again");
    s.pages.commit_disconnect("A", "4", "disconnect").await.expect("disconnect");
    assert!(s.pages.page_route("4").await.expect("route").is_none());
    assert_eq!(
        s.pages.page("A", "4").await.expect("page").map(|p| p.record.status),
        Some(PageStatus::NotConnected)
    );
    // A crashed connect's draft: its lease expires and another shop's connect may proceed.
    let dead = RouteChange {
        until_ms: now_ms() - 1,
        ..change("C", "4", "crashed", Some(route("C", "4", PageStatus::NotConnected, None)), None)
    };
    s.pages.begin_change(&dead).await.expect("draft");
    let mine = change("A", "4", "again", Some(draft), None);
    s.pages.begin_change(&mine).await.expect("the dead draft is replaced");
    assert_eq!(s.pages.page_route("4").await.expect("route").map(|r| r.tenant_id), Some("A".into()));
}

/// Finding 7: a draft route is written before subscribing, so events that arrive meanwhile
/// have a shop; a connect that fails removes its draft and nothing else.
async fn a_draft_route_keeps_events_and_a_failed_connect_rolls_back(s: Stores) {
    import(&s, "A", "5", "tok").await;
    let draft = route("A", "5", PageStatus::NotConnected, None);
    s.pages.begin_change(&change("A", "5", "op", Some(draft.clone()), None)).await.expect("draft");
    assert_eq!(s.pages.page_route("5").await.expect("route"), Some(draft), "the worker stores for A");
    let other = change("B", "5", "op-b", Some(route("B", "5", PageStatus::NotConnected, None)), None);
    assert!(conflict(s.pages.begin_change(&other).await), "a live draft is not taken");
    s.pages.abort_change("5", "someone-else").await.expect("not theirs");
    assert!(s.pages.page_route("5").await.expect("route").is_some());
    s.pages.abort_change("5", "op").await.expect("abort");
    assert!(s.pages.page_route("5").await.expect("route").is_none());
    assert_eq!(
        s.pages.page("A", "5").await.expect("page").map(|p| p.record.status),
        Some(PageStatus::NotConnected)
    );
}

fn rule(id: &str, name: &str, pages: &[&str]) -> Rule {
    Rule {
        id: id.into(),
        name: name.into(),
        page_ids: pages.iter().map(|p| p.to_string()).collect(),
        agent_emails: vec!["a@A.vn".into()],
        method: Method::RoundRobin,
        old_conversations: OldConversations::None,
        policy_chosen_by: None,
        policy_chosen_at: None,
    }
}

/// Finding 7: the rule a Page leaves and the one it joins change in the connection's own
/// transaction, so a connect that fails has not moved the Page out of its rule.
async fn a_failed_connect_leaves_the_page_in_its_rule(s: Stores) {
    import(&s, "A", "6", "tok").await;
    import(&s, "A", "7", "tok").await;
    // A rule's agents are members of the shop (a rule write checks it).
    let agent = domain::model::Member { email: "a@A.vn".into(), role: domain::model::Role::Agent };
    s.members.add_member("A", &agent).await.expect("agent");
    let r1 = rule("r1", "Một", &["6"]);
    s.rules.create_rule("A", &r1, &[]).await.expect("rule 1");
    s.rules.create_rule("A", &rule("r2", "Hai", &["7"]), &[]).await.expect("rule 2");
    let page = s.pages.page("A", "6").await.expect("page").expect("item").record;
    let r = route("A", "6", PageStatus::Connected, Some("r3"));
    s.pages
        .begin_change(&change(
            "A",
            "6",
            "op",
            Some(PageRoute { status: PageStatus::NotConnected, ..r.clone() }),
            None,
        ))
        .await
        .expect("lease");
    let taken_name = RuleLink::New(rule("r3", "hai", &["6"]));
    let commit = Connection {
        page: &connected(&page, &r),
        route: &r,
        op: "op",
        version: "v",
        join: Some(&taken_name),
        leave: Some(&r1),
        take_over: None,
    };
    assert!(conflict(s.pages.commit_connect(&commit).await), "the new rule's name is taken");
    assert_eq!(s.rules.rule("A", "r1").await.expect("rule").map(|r| r.page_ids), Some(vec!["6".to_string()]));
    assert_eq!(s.pages.page("A", "6").await.expect("page").and_then(|p| p.record.rule_id), Some("r1".into()));
    let fresh = RuleLink::New(rule("r3", "Ba", &["6"]));
    let commit = Connection { join: Some(&fresh), ..commit };
    s.pages.commit_connect(&commit).await.expect("connect under r3");
    assert_eq!(s.rules.rule("A", "r1").await.expect("rule").map(|r| r.page_ids), Some(Vec::new()));
    assert!(s.rules.rule("A", "r3").await.expect("rule").is_some());
    let p = s.pages.page("A", "6").await.expect("page").expect("item").record;
    assert_eq!(
        (p.rule_id.as_deref(), p.chat_mode, p.status),
        (Some("r3"), Some(ChatMode::Shared), PageStatus::Connected)
    );
}

/// The token of a Page imported but never connected expires (found through an index by the
/// sweep); a connected Page's token does not.
async fn tokens_of_pages_never_connected_expire(s: Stores) {
    import(&s, "A", "8", "tok-8").await;
    held(&s, "A", "9", "tok-9").await;
    assert_eq!(s.pages.expire_tokens(now_ms()).await.expect("sweep"), 0, "nothing expired yet");
    let later = now_ms() + UNCONNECTED_TOKEN_TTL_MS + 60_000;
    assert_eq!(s.pages.expire_tokens(later).await.expect("sweep"), 1);
    assert_eq!(s.pages.page("A", "8").await.expect("page").and_then(|p| p.token_enc), None);
    assert_eq!(
        s.pages.page("A", "9").await.expect("page").and_then(|p| p.token_enc).as_deref(),
        Some("tok-9")
    );
    assert_eq!(
        s.pages.page("A", "8").await.expect("page").map(|p| p.record.status),
        Some(PageStatus::NotConnected)
    );
}

store_contract!(
    a_lost_page_stays_with_its_shop_until_another_shop_takes_it_over,
    only_the_holder_gets_the_token_and_moves_the_route,
    an_old_failure_never_marks_a_fresh_connection_lost,
    connect_and_disconnect_never_interleave,
    a_draft_route_keeps_events_and_a_failed_connect_rolls_back,
    a_failed_connect_leaves_the_page_in_its_rule,
    tokens_of_pages_never_connected_expire,
);
