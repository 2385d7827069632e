//! Routing decisions (`assignment.rs`): round robin is fair over any run of turns and names
//! only the rule's agents; a new or old conversation goes where its Page's mode and its rule's
//! policy say; a claim is attempted only by the pool's own agents and reveals the holder only
//! to those who may know.

use proptest::prelude::*;

use crate::access::Member;
use crate::assignment::{
    Assignment, ClaimDecision, STANDARD_WINDOW_MS, Target, claim, new_conversation, old_conversation,
    turn_holder, within_standard_window,
};
use crate::ids::TenantId;
use crate::model::{ChatMode, Conversation, Method, OldConversations, PageRoute, PageStatus, Role, Rule};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(2000)
}

const EMAILS: &[&str] = &["a@shop.vn", "b@shop.vn", "c@shop.vn", "d@shop.vn", "e@shop.vn", "owner@shop.vn"];

fn email() -> impl Strategy<Value = String> {
    prop::sample::select(EMAILS.to_vec()).prop_map(str::to_string)
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        prop::sample::subsequence(EMAILS.to_vec(), 0..=EMAILS.len()),
        prop::sample::select(vec![Method::RoundRobin, Method::SelfClaim]),
        prop::sample::select(vec![
            OldConversations::None,
            OldConversations::Available,
            OldConversations::All,
        ]),
        prop::sample::select(vec!["r1", "r2"]),
    )
        .prop_map(|(agents, method, old, id)| Rule {
            id: id.into(),
            name: "Sales".into(),
            page_ids: vec!["1".into()],
            agent_emails: agents.into_iter().map(str::to_string).collect(),
            method,
            old_conversations: old,
            policy_chosen_by: None,
            policy_chosen_at: None,
        })
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(vec![Role::Owner, Role::Admin, Role::Agent])
}

fn member() -> impl Strategy<Value = Member> {
    (email(), role(), prop::sample::select(vec!["A", "B"])).prop_map(|(email, role, t)| Member {
        email,
        tenant_id: TenantId::parse(t).expect("tenant"),
        role,
    })
}

fn conversation() -> impl Strategy<Value = Conversation> {
    (
        prop::option::of(email()),
        prop::option::of(prop::sample::select(vec!["r1", "r2"])),
        prop::sample::select(vec!["A", "B"]),
    )
        .prop_map(|(assignee, pool, tenant)| Conversation {
            id: "1_2".into(),
            tenant_id: tenant.into(),
            page_id: "1".into(),
            customer_id: "2".into(),
            // A pooled conversation has no holder (the store clears one when it pools).
            assignee: if pool.is_some() { None } else { assignee },
            pool_rule_id: pool.map(str::to_string),
            ..Conversation::default()
        })
}

proptest! {
    #![proptest_config(config())]

    /// Any run of consecutive turns, from any point of the counter, gives each agent of the
    /// rule floor(n/k) or ceil(n/k) conversations, and nobody outside the rule any.
    #[test]
    fn round_robin_is_fair_over_any_run_of_turns(r in rule(), first in 1u64..u64::MAX / 2, n in 0u64..200) {
        let k = r.agent_emails.len() as u64;
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for turn in first..first + n {
            match turn_holder(&r, turn) {
                Assignment::Agent(a) => {
                    prop_assert!(r.agent_emails.contains(&a), "{} is not in the rule", a);
                    *counts.entry(a).or_default() += 1;
                }
                other => {
                    prop_assert_eq!(k, 0, "{:?} with agents", other);
                    prop_assert_eq!(other, Assignment::Unassigned);
                }
            }
        }
        if let Some(floor) = n.checked_div(k) {
            for a in &r.agent_emails {
                let c = counts.get(a).copied().unwrap_or(0);
                prop_assert!(c == floor || c == n.div_ceil(k), "{} got {} of {} turns among {}", a, c, n, k);
            }
        }
    }

    #[test]
    fn a_new_conversation_goes_by_the_pages_mode_and_rule(
        only_me in any::<bool>(), connected_by in email(), r in prop::option::of(rule()),
    ) {
        let route = PageRoute {
            page_id: "1".into(), tenant_id: "A".into(), status: PageStatus::Connected,
            chat_mode: if only_me { ChatMode::OnlyMe } else { ChatMode::Shared },
            rule_id: r.as_ref().map(|r| r.id.clone()), connected_by: connected_by.clone(),
        };
        let t = new_conversation(&route, r.as_ref());
        let want = match (&r, only_me) {
            (_, true) => Target::To(Assignment::Agent(connected_by)),
            (None, false) => Target::To(Assignment::Unassigned),
            (Some(r), false) if r.method == Method::SelfClaim => Target::To(Assignment::Pool(r.id.clone())),
            (Some(r), false) => Target::NextInTurn(r.clone()),
        };
        prop_assert_eq!(t, want);
    }

    /// An old conversation is handed out only by a rule whose policy covers it: `all` always,
    /// `available` inside the 24-hour window, `none` never.
    #[test]
    fn an_old_conversation_follows_the_policy(
        r in prop::option::of(rule()), last in prop::option::of(0i64..4 * STANDARD_WINDOW_MS), now in 0i64..4 * STANDARD_WINDOW_MS,
    ) {
        let t = old_conversation(r.as_ref(), last, now);
        let handed_out = !matches!(t, Target::To(Assignment::Unassigned));
        let covered = match r.as_ref().map(|r| r.old_conversations) {
            Some(OldConversations::All) => true,
            Some(OldConversations::Available) => within_standard_window(last, now),
            _ => false,
        };
        prop_assert_eq!(handed_out, covered);
        if let (Some(l), true) = (last, within_standard_window(last, now)) {
            prop_assert!(now - l < STANDARD_WINDOW_MS);
        }
    }

    /// Only an agent of the pool's own rule attempts a claim; the holder is told only to a
    /// manager, the holder, or an agent of the rule; a claim never names anyone but the holder.
    #[test]
    fn a_claim_is_attempted_and_revealed_only_to_those_entitled(me in member(), c in conversation(), r in prop::option::of(rule())) {
        let in_rule = r.as_ref().is_some_and(|r| r.agent_emails.contains(&me.email));
        match claim(&me, &c, r.as_ref()) {
            ClaimDecision::Attempt { rule_id } => {
                prop_assert!(in_rule);
                prop_assert_eq!(Some(&rule_id), c.pool_rule_id.as_ref());
                prop_assert_eq!(r.map(|r| r.id), Some(rule_id));
            }
            ClaimDecision::AlreadyClaimed { holder } => {
                prop_assert_eq!(Some(&holder), c.assignee.as_ref());
                prop_assert!(me.role.is_manager() || in_rule || holder == me.email);
            }
            ClaimDecision::Hidden => {
                let pooled_for_me = c.pool_rule_id.is_some() && in_rule && r.as_ref().map(|r| &r.id) == c.pool_rule_id.as_ref();
                prop_assert!(!pooled_for_me);
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Meta's timestamps are whatever a signed body says (any 64-bit number): the window
    /// answers for any pair without overflowing, and a message from the future is inside it.
    #[test]
    fn the_window_answers_for_any_instants(last in prop::option::of(any::<i64>()), now in any::<i64>()) {
        let inside = within_standard_window(last, now);
        if let Some(l) = last {
            prop_assert_eq!(inside, (i128::from(now) - i128::from(l)) < i128::from(STANDARD_WINDOW_MS));
        } else {
            prop_assert!(!inside);
        }
    }
}
