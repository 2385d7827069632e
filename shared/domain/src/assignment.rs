//! Who carries a conversation: every routing decision of the product, as pure functions.
//!
//! - A **new conversation** (its first event arrives) goes by its Page's chat mode: an only-me
//!   Page's to the member who connected it; a shared Page's by its rule's method: the next
//!   agent in the rule's round-robin turn, or the rule's self-claim pool (*Chờ nhận*), where
//!   the first agent of the rule to press *Nhận chat* takes it.
//! - An **old conversation** (synced history, or one whose agent left a rule or the shop) goes
//!   where the rule's old-conversation policy says: `none` leaves it unassigned (owners and
//!   admins see it), `available` hands it out by the rule's method only while the customer's
//!   last message is inside Meta's 24-hour window, `all` hands every one out.
//! - A **claim** is decided here too: who may press *Nhận chat* on a conversation, and who
//!   learns that someone else was first. The race itself (exactly one winner) is the store's
//!   conditional write (`ConversationStore::claim`).
//!
//! The functions here only decide; the worker, the re-homing steps, history sync and the admin
//! API load the rule, then carry the decision out with the store's conditional writes (which
//! is what makes a decision taken twice, by two deliveries of one event, land once).

use crate::access::Member as Caller;
use crate::model::{ChatMode, Conversation, Method, OldConversations, PageRoute, Rule};

/// Meta's standard messaging window: a Page may answer within 24 hours of the customer's last
/// message (messaging type RESPONSE).
pub const STANDARD_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// With the Human Agent tag (a feature Meta approves per app), replies stay allowed up to
/// 7 days after the customer's last message.
pub const HUMAN_AGENT_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// Whether the customer's last message (if any) is still inside the standard window at `now`.
pub fn within_standard_window(last_customer_ms: Option<i64>, now_ms: i64) -> bool {
    // Saturating: the instant is Meta's `timestamp`, any 64-bit number a signed body holds.
    last_customer_ms.is_some_and(|t| now_ms.saturating_sub(t) < STANDARD_WINDOW_MS)
}

/// Where a conversation sits: with one member, in a rule's pool, or with nobody (visible to
/// the shop's owners and admins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    Agent(String),
    Pool(String),
    Unassigned,
}

/// Where a conversation should go: somewhere known now, or to whoever holds the rule's next
/// round-robin turn (known only once the store hands out the turn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Straight to an agent, a pool, or nobody.
    To(Assignment),
    /// To the next agent in a round-robin rule's turn.
    NextInTurn(Rule),
}

/// Where a rule's method sends a conversation it hands out.
fn by_method(rule: &Rule) -> Target {
    match rule.method {
        Method::SelfClaim => Target::To(Assignment::Pool(rule.id.clone())),
        Method::RoundRobin => Target::NextInTurn(rule.clone()),
    }
}

/// Where a new conversation of the Page goes. `rule` is the Page's rule as loaded (None when
/// the route names no rule, or names one that is gone: then nobody gets it, and owners and
/// admins see it).
pub fn new_conversation(route: &PageRoute, rule: Option<&Rule>) -> Target {
    match (route.chat_mode, rule) {
        (ChatMode::OnlyMe, _) => Target::To(Assignment::Agent(route.connected_by.clone())),
        (ChatMode::Shared, Some(rule)) => by_method(rule),
        (ChatMode::Shared, None) => Target::To(Assignment::Unassigned),
    }
}

/// Whether a rule's old-conversation policy hands this conversation to the rule's agents.
pub fn policy_distributes(policy: OldConversations, last_customer_ms: Option<i64>, now_ms: i64) -> bool {
    match policy {
        OldConversations::All => true,
        OldConversations::Available => within_standard_window(last_customer_ms, now_ms),
        OldConversations::None => false,
    }
}

/// Where an old conversation goes (synced history of a rule's Page, or one re-homed because
/// its agent left): by the rule's method if its old-conversation policy distributes it, else
/// unassigned. Without a rule (the Page left its rule, or never had one) it is unassigned.
pub fn old_conversation(rule: Option<&Rule>, last_customer_ms: Option<i64>, now_ms: i64) -> Target {
    match rule {
        Some(r) if policy_distributes(r.old_conversations, last_customer_ms, now_ms) => by_method(r),
        _ => Target::To(Assignment::Unassigned),
    }
}

/// Synced history: on a Page with a rule the old-conversation policy decides; on an only-me
/// Page (or a shared one without a rule) it goes where a new conversation would.
pub fn synced_conversation(
    route: &PageRoute,
    rule: Option<&Rule>,
    last_customer_ms: Option<i64>,
    now_ms: i64,
) -> Target {
    match rule {
        Some(_) => old_conversation(rule, last_customer_ms, now_ms),
        None => new_conversation(route, None),
    }
}

/// Who holds round-robin turn `turn` of the rule (unassigned if the rule has no agents).
pub fn turn_holder(rule: &Rule, turn: u64) -> Assignment {
    rule.agent_for_turn(turn).map_or(Assignment::Unassigned, |a| Assignment::Agent(a.to_string()))
}

/// What pressing *Nhận chat* on a conversation does for this caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimDecision {
    /// The conversation waits in the pool of `rule_id` and the caller is one of its agents:
    /// try the conditional write.
    Attempt { rule_id: String },
    /// Someone already holds it, and the caller may know who (an owner or admin, the holder,
    /// or an agent of the Page's rule, who could have claimed it).
    AlreadyClaimed { holder: String },
    /// Not the caller's to claim or to know about: answered as if it did not exist.
    Hidden,
}

/// Decides a claim. `rule` is the pool's rule when the conversation is pooled, else the rule
/// of the Page's route (if the Page still routes to the caller's shop).
pub fn claim(caller: &Caller, c: &Conversation, rule: Option<&Rule>) -> ClaimDecision {
    let in_rule = rule.is_some_and(|r| r.agent_emails.contains(&caller.email));
    match (&c.pool_rule_id, &c.assignee) {
        (Some(pool), _) if in_rule && rule.is_some_and(|r| &r.id == pool) => {
            ClaimDecision::Attempt { rule_id: pool.clone() }
        }
        (Some(_), _) | (None, None) => ClaimDecision::Hidden,
        (None, Some(holder)) if caller.role.is_manager() || in_rule || holder == &caller.email => {
            ClaimDecision::AlreadyClaimed { holder: holder.clone() }
        }
        (None, Some(_)) => ClaimDecision::Hidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    const H: i64 = 3600 * 1000;

    fn rule(method: Method, old: OldConversations) -> Rule {
        Rule {
            id: "r1".into(),
            name: "Sales".into(),
            page_ids: vec!["p1".into()],
            agent_emails: vec!["a@shop.vn".into(), "b@shop.vn".into()],
            method,
            old_conversations: old,
            policy_chosen_by: None,
            policy_chosen_at: None,
        }
    }

    fn route(mode: ChatMode, rule_id: Option<&str>) -> PageRoute {
        PageRoute {
            page_id: "p1".into(),
            tenant_id: "shop".into(),
            status: crate::model::PageStatus::Connected,
            chat_mode: mode,
            rule_id: rule_id.map(str::to_string),
            connected_by: "owner@shop.vn".into(),
        }
    }

    fn conversation(assignee: Option<&str>, pool: Option<&str>) -> Conversation {
        Conversation {
            id: "p1_c1".into(),
            tenant_id: "shop".into(),
            page_id: "p1".into(),
            customer_id: "c1".into(),
            assignee: assignee.map(str::to_string),
            pool_rule_id: pool.map(str::to_string),
            assignment_pending: false,
            last_customer_message_ms: None,
            last_activity_ms: 0,
            read_watermark_ms: None,
            delivery_watermark_ms: None,
            customer_name: None,
            last_message: None,
            post_id: None,
            phones: Vec::new(),
            handoff: None,
        }
    }

    fn caller(email: &str, role: Role) -> Caller {
        Caller {
            email: email.into(),
            tenant_id: crate::ids::TenantId::parse("shop").expect("valid id"),
            role,
        }
    }

    #[test]
    fn a_new_conversation_goes_by_the_pages_mode_and_rule() {
        assert_eq!(
            new_conversation(&route(ChatMode::OnlyMe, None), None),
            Target::To(Assignment::Agent("owner@shop.vn".into()))
        );
        let pool = rule(Method::SelfClaim, OldConversations::None);
        assert_eq!(
            new_conversation(&route(ChatMode::Shared, Some("r1")), Some(&pool)),
            Target::To(Assignment::Pool("r1".into()))
        );
        let rr = rule(Method::RoundRobin, OldConversations::None);
        assert_eq!(
            new_conversation(&route(ChatMode::Shared, Some("r1")), Some(&rr)),
            Target::NextInTurn(rr.clone())
        );
        // A shared Page whose rule is gone (or was never set): nobody, owners and admins see it.
        assert_eq!(
            new_conversation(&route(ChatMode::Shared, Some("r1")), None),
            Target::To(Assignment::Unassigned)
        );
    }

    #[test]
    fn old_conversations_follow_the_policy_and_the_window() {
        let now = 100 * H;
        let fresh = Some(now - 23 * H);
        let stale = Some(now - 25 * H);
        for method in [Method::RoundRobin, Method::SelfClaim] {
            let none = rule(method, OldConversations::None);
            let available = rule(method, OldConversations::Available);
            let all = rule(method, OldConversations::All);
            let handed_out = by_method(&all);
            assert_eq!(old_conversation(Some(&none), fresh, now), Target::To(Assignment::Unassigned));
            assert_eq!(old_conversation(Some(&available), fresh, now), by_method(&available));
            assert_eq!(old_conversation(Some(&available), stale, now), Target::To(Assignment::Unassigned));
            assert_eq!(old_conversation(Some(&available), None, now), Target::To(Assignment::Unassigned));
            assert_eq!(old_conversation(Some(&all), stale, now), handed_out);
            assert_eq!(old_conversation(Some(&all), None, now), handed_out);
        }
        assert_eq!(old_conversation(None, fresh, now), Target::To(Assignment::Unassigned));
    }

    #[test]
    fn the_window_edge_is_exclusive() {
        assert!(within_standard_window(Some(0), STANDARD_WINDOW_MS - 1));
        assert!(!within_standard_window(Some(0), STANDARD_WINDOW_MS));
        assert!(!within_standard_window(None, 0));
    }

    #[test]
    fn synced_history_uses_the_policy_only_under_a_rule() {
        let now = 100 * H;
        let only_me = route(ChatMode::OnlyMe, None);
        assert_eq!(
            synced_conversation(&only_me, None, None, now),
            Target::To(Assignment::Agent("owner@shop.vn".into()))
        );
        let none = rule(Method::SelfClaim, OldConversations::None);
        let shared = route(ChatMode::Shared, Some("r1"));
        assert_eq!(
            synced_conversation(&shared, Some(&none), Some(now), now),
            Target::To(Assignment::Unassigned)
        );
    }

    #[test]
    fn turns_map_to_agents_and_an_empty_rule_to_nobody() {
        let rr = rule(Method::RoundRobin, OldConversations::None);
        assert_eq!(turn_holder(&rr, 1), Assignment::Agent("a@shop.vn".into()));
        assert_eq!(turn_holder(&rr, 4), Assignment::Agent("b@shop.vn".into()));
        let empty = Rule { agent_emails: vec![], ..rr };
        assert_eq!(turn_holder(&empty, 1), Assignment::Unassigned);
    }

    #[test]
    fn only_the_pools_agents_attempt_a_claim() {
        let r = rule(Method::SelfClaim, OldConversations::None);
        let pooled = conversation(None, Some("r1"));
        assert_eq!(
            claim(&caller("a@shop.vn", Role::Agent), &pooled, Some(&r)),
            ClaimDecision::Attempt { rule_id: "r1".into() }
        );
        // Not an agent of the rule, even an owner: the pool is the rule's agents' to take.
        assert_eq!(claim(&caller("owner@shop.vn", Role::Owner), &pooled, Some(&r)), ClaimDecision::Hidden);
        assert_eq!(claim(&caller("x@shop.vn", Role::Agent), &pooled, Some(&r)), ClaimDecision::Hidden);
        // The pool's rule is gone.
        assert_eq!(claim(&caller("a@shop.vn", Role::Agent), &pooled, None), ClaimDecision::Hidden);
        // A rule other than the pool's.
        let other = Rule { id: "r2".into(), ..r.clone() };
        assert_eq!(claim(&caller("a@shop.vn", Role::Agent), &pooled, Some(&other)), ClaimDecision::Hidden);
    }

    #[test]
    fn a_lost_race_names_the_winner_to_those_who_may_know() {
        let r = rule(Method::SelfClaim, OldConversations::None);
        let taken = conversation(Some("b@shop.vn"), None);
        let told = ClaimDecision::AlreadyClaimed { holder: "b@shop.vn".into() };
        assert_eq!(claim(&caller("a@shop.vn", Role::Agent), &taken, Some(&r)), told);
        assert_eq!(claim(&caller("boss@shop.vn", Role::Admin), &taken, None), told);
        assert_eq!(claim(&caller("b@shop.vn", Role::Agent), &taken, None), told);
        assert_eq!(claim(&caller("x@shop.vn", Role::Agent), &taken, Some(&r)), ClaimDecision::Hidden);
        assert_eq!(
            claim(&caller("a@shop.vn", Role::Agent), &conversation(None, None), Some(&r)),
            ClaimDecision::Hidden
        );
    }
}
