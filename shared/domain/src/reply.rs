//! Replies sent once (`docs/rules.md`, "Replies"): a reply gets its own id before the Send API
//! call, rides to Meta with that id as the message's `metadata` (which Meta hands back on the
//! echo), and is settled by what Meta answered: sent, failed (refused: nothing went out) or
//! unknown (no clear answer: it may have gone out). Nothing here retries a send.

use sha2::{Digest, Sha256};

use crate::access::Member;
use crate::graph::{GraphError, GraphErrorKind};
use crate::model::{Conversation, ReplyStatus};

/// Every reply id starts with this; Meta's message ids never do.
pub const REPLY_ID_PREFIX: &str = "reply:";

/// The longest idempotency key a client may send.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// A fresh reply id, for a send without an idempotency key.
pub fn new_reply_id() -> String {
    format!("{REPLY_ID_PREFIX}{}", uuid::Uuid::new_v4().simple())
}

/// The reply id of a send carrying the client's idempotency key: the same for the same caller
/// and key (so a repeated request finds the first one's reply), different across callers.
/// None when the key is empty, too long or not printable ASCII.
pub fn keyed_reply_id(caller: &str, key: &str) -> Option<String> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if !ok {
        return None;
    }
    let digest = Sha256::digest(format!("{caller}\n{key}").as_bytes());
    Some(format!("{REPLY_ID_PREFIX}k{}", &hex::encode(digest)[..40]))
}

/// The reply id carried in an echo's `metadata`, if it is one of ours.
pub fn reply_id_of_metadata(metadata: &str) -> Option<&str> {
    let rest = metadata.strip_prefix(REPLY_ID_PREFIX)?;
    let ok = !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(metadata)
}

/// How a reply ends, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// Meta accepted it under this `message_id` (or its echo came back with it).
    Sent { mid: String },
    /// Meta refused it; the reason, in words for the agent.
    Failed { error: String },
    /// No clear answer; the reason.
    Unknown { error: String },
}

impl ReplyOutcome {
    pub fn status(&self) -> ReplyStatus {
        match self {
            ReplyOutcome::Sent { .. } => ReplyStatus::Sent,
            ReplyOutcome::Failed { .. } => ReplyStatus::Failed,
            ReplyOutcome::Unknown { .. } => ReplyStatus::Unknown,
        }
    }
}

/// What a failed Send API call leaves: failed when Meta answered with a refusal (a 4xx error
/// it classifies: window, recipient, rate limit, token, permission, a bad request) or when the
/// call never left (status 0 of ours, not a transport failure); unknown when the answer does
/// not say (timeout, connection cut, 5xx, Graph codes 1 and 2, a 2xx without a message id).
pub fn failure_status(e: &GraphError) -> ReplyStatus {
    match e.kind {
        GraphErrorKind::Transient => ReplyStatus::Unknown,
        GraphErrorKind::Other if (200..300).contains(&e.status) => ReplyStatus::Unknown,
        _ => ReplyStatus::Failed,
    }
}

/// The outcome to record for a failed call, with the reason the thread shows.
pub fn failure_outcome(e: &GraphError) -> ReplyOutcome {
    match failure_status(e) {
        ReplyStatus::Unknown => ReplyOutcome::Unknown {
            error: "Facebook gave no clear answer; the reply may or may not have reached the customer".into(),
        },
        _ => ReplyOutcome::Failed { error: format!("Facebook refused the reply: {}", e.message) },
    }
}

/// The status a client sees: a reply still pending is shown as unknown (its call is in flight,
/// or the function stopped during it; either way nobody knows yet whether it went out).
pub fn shown_status(s: ReplyStatus) -> ReplyStatus {
    match s {
        ReplyStatus::Pending => ReplyStatus::Unknown,
        other => other,
    }
}

/// Whether the caller may reply in a conversation (`docs/rules.md`, "Who replies").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyRight {
    Allowed,
    /// The caller sees it but someone else holds it (or it waits in a pool): 403.
    NotYours {
        holder: Option<String>,
    },
    /// The caller does not see it: 404, as if it did not exist.
    Hidden,
}

/// Only the holder replies: the agent who holds it, or the owner holding an only-me Page's
/// conversation. Owners and admins also reply where nobody holds it (unassigned, outside any
/// pool), but not in a conversation an agent holds, nor in a pool before a claim: one
/// customer, one voice. (To step in, a manager reassigns the conversation first.)
pub fn reply_right(me: &Member, c: &Conversation) -> ReplyRight {
    if c.tenant_id != me.tenant_id {
        return ReplyRight::Hidden;
    }
    match (&c.assignee, &c.pool_rule_id) {
        (Some(holder), _) if *holder == me.email => ReplyRight::Allowed,
        (None, None) if me.role.is_manager() => ReplyRight::Allowed,
        _ if me.can_read(c) || c.pool_rule_id.is_some() => {
            ReplyRight::NotYours { holder: c.assignee.clone() }
        }
        _ => ReplyRight::Hidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::model::Role;

    fn conv(assignee: Option<&str>, pool: Option<&str>) -> Conversation {
        Conversation {
            id: "p_c".into(),
            tenant_id: "A".into(),
            page_id: "p".into(),
            customer_id: "c".into(),
            assignee: assignee.map(Into::into),
            pool_rule_id: pool.map(Into::into),
            assignment_pending: false,
            last_customer_message_ms: None,
            last_activity_ms: 1,
            read_watermark_ms: None,
            delivery_watermark_ms: None,
            customer_name: None,
            last_message: None,
            post_id: None,
            phones: Vec::new(),
            handoff: None,
        }
    }

    fn member(email: &str, role: Role) -> Member {
        Member { email: email.into(), tenant_id: TenantId::parse("A").expect("tenant"), role }
    }

    /// Finding 8 (owners and admins replying in an agent's conversation): refused.
    #[test]
    fn only_the_holder_replies() {
        let owner = member("o@x", Role::Owner);
        let admin = member("ad@x", Role::Admin);
        let agent = member("a@x", Role::Agent);
        let held = conv(Some("a@x"), None);
        assert_eq!(reply_right(&agent, &held), ReplyRight::Allowed);
        for m in [&owner, &admin] {
            assert_eq!(reply_right(m, &held), ReplyRight::NotYours { holder: Some("a@x".into()) });
            assert_eq!(reply_right(m, &conv(None, Some("r"))), ReplyRight::NotYours { holder: None });
            assert_eq!(reply_right(m, &conv(None, None)), ReplyRight::Allowed);
        }
        assert_eq!(reply_right(&owner, &conv(Some("o@x"), None)), ReplyRight::Allowed);
        assert_eq!(
            reply_right(&admin, &conv(Some("o@x"), None)),
            ReplyRight::NotYours { holder: Some("o@x".into()) }
        );
        assert_eq!(reply_right(&agent, &conv(Some("b@x"), None)), ReplyRight::Hidden);
        assert_eq!(reply_right(&agent, &conv(None, None)), ReplyRight::Hidden);
        let mut other_shop = held.clone();
        other_shop.tenant_id = "B".into();
        assert_eq!(reply_right(&agent, &other_shop), ReplyRight::Hidden);
    }

    #[test]
    fn keyed_ids_are_stable_per_caller_and_bounded() {
        let a = keyed_reply_id("a@x.vn", "k-1").expect("id");
        assert_eq!(Some(a.clone()), keyed_reply_id("a@x.vn", "k-1"));
        assert_ne!(Some(a.clone()), keyed_reply_id("b@x.vn", "k-1"));
        assert!(a.starts_with(REPLY_ID_PREFIX) && a.len() < 64 && !a.contains('#'));
        assert_eq!(keyed_reply_id("a@x.vn", ""), None);
        assert_eq!(keyed_reply_id("a@x.vn", &"k".repeat(MAX_IDEMPOTENCY_KEY_LEN + 1)), None);
        assert_eq!(keyed_reply_id("a@x.vn", "tab\there"), None);
        assert_eq!(reply_id_of_metadata(&a), Some(a.as_str()));
        let fresh = new_reply_id();
        assert_eq!(reply_id_of_metadata(&fresh), Some(fresh.as_str()));
        for other in ["sop", "reply:", "reply:a#b", "m_123"] {
            assert_eq!(reply_id_of_metadata(other), None, "{other}");
        }
    }

    /// Finding 5: only a clear refusal is "failed"; a timeout or 5xx is "unknown".
    #[test]
    fn only_refusals_are_failures() {
        let e = |status, code| GraphError::from_parts(status, code, None, "x".into(), None);
        assert_eq!(failure_status(&e(400, Some(551))), ReplyStatus::Failed);
        assert_eq!(failure_status(&e(400, Some(4))), ReplyStatus::Failed);
        assert_eq!(failure_status(&e(400, Some(190))), ReplyStatus::Failed);
        assert_eq!(failure_status(&e(400, Some(100))), ReplyStatus::Failed);
        assert_eq!(failure_status(&e(500, Some(2))), ReplyStatus::Unknown);
        assert_eq!(failure_status(&e(503, None)), ReplyStatus::Unknown);
        assert_eq!(failure_status(&GraphError::unreachable("timed out")), ReplyStatus::Unknown);
        assert_eq!(failure_status(&e(200, None)), ReplyStatus::Unknown);
        assert_eq!(shown_status(ReplyStatus::Pending), ReplyStatus::Unknown);
    }
}
