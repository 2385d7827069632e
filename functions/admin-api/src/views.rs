//! The answers of the contract, one struct each. Fields are declared in alphabetical order,
//! the order the API has always written them in (serde_json's objects are sorted maps), so
//! answers stay byte for byte what they were; an absent value is written `null`, not left out.

use domain::model::{
    ChatMode, Conversation, Direction, LastMessage, Member, Message, MessageKind, Method, OldConversations,
    PageRecord, PageStatus, ReplyStatus, Role, Rule,
};
use domain::reply::shown_status;
use domain::timefmt::rfc3339_ms;
use serde::Serialize;

/// A whole listing: `{"items": [...]}`.
#[derive(Debug, Serialize)]
pub struct ItemsView<T> {
    pub items: Vec<T>,
}

impl<T> ItemsView<T> {
    pub fn of<'a, R: 'a>(records: impl IntoIterator<Item = &'a R>) -> ItemsView<T>
    where
        T: From<&'a R>,
    {
        ItemsView { items: records.into_iter().map(T::from).collect() }
    }
}

/// One page of a listing: `{"items": [...], "next_cursor": "..." | null}`.
#[derive(Debug, Serialize)]
pub struct PagedView<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> PagedView<T> {
    pub fn of<'a, R: 'a>(
        records: impl IntoIterator<Item = &'a R>,
        next_cursor: Option<String>,
    ) -> PagedView<T>
    where
        T: From<&'a R>,
    {
        PagedView { items: records.into_iter().map(T::from).collect(), next_cursor }
    }
}

/// Whether a background job (history sync, re-homing) was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    NotStarted,
}

impl JobState {
    pub fn queued_if(queued: bool) -> JobState {
        if queued { JobState::Queued } else { JobState::NotStarted }
    }
}

#[derive(Debug, Serialize)]
pub struct MemberView {
    pub email: String,
    pub role: Role,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        MemberView { email: m.email.clone(), role: m.role }
    }
}

/// `GET /api/me`: who the caller is in their shop, as the member list says (the console
/// shows owner and admin screens, and the caller's own conversations, from it).
#[derive(Debug, Serialize)]
pub struct MeView {
    pub email: String,
    pub role: Role,
    pub tenant_id: String,
}

impl From<&domain::access::Member> for MeView {
    fn from(m: &domain::access::Member) -> Self {
        MeView { email: m.email.clone(), role: m.role, tenant_id: m.tenant_id.to_string() }
    }
}

/// `DELETE /api/members/{email}`.
#[derive(Debug, Serialize)]
pub struct RemovedView {
    pub reassignment: JobState,
    pub removed: String,
}

#[derive(Debug, Serialize)]
pub struct PageView {
    pub chat_mode: Option<ChatMode>,
    pub connected_by: Option<String>,
    /// Only in the answer to a connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_sync: Option<JobState>,
    pub last_connected_at: Option<String>,
    pub lost_reason: Option<String>,
    pub name: String,
    pub page_id: String,
    pub rule_id: Option<String>,
    pub status: PageStatus,
}

impl From<&PageRecord> for PageView {
    fn from(p: &PageRecord) -> Self {
        PageView {
            chat_mode: p.chat_mode,
            connected_by: p.connected_by.clone(),
            history_sync: None,
            last_connected_at: p.last_connected_at.clone(),
            lost_reason: p.lost_reason.clone(),
            name: p.name.clone(),
            page_id: p.page_id.clone(),
            rule_id: p.rule_id.clone(),
            status: p.status,
        }
    }
}

/// `GET /api/facebook/login-url`.
#[derive(Debug, Serialize)]
pub struct LoginUrlView {
    pub expires_at: String,
    pub url: String,
}

#[derive(Debug, Serialize)]
pub struct RuleView {
    pub agent_emails: Vec<String>,
    pub id: String,
    pub method: Method,
    pub name: String,
    pub old_conversations: OldConversations,
    pub old_conversations_chosen_at: Option<String>,
    pub old_conversations_chosen_by: Option<String>,
    pub old_conversations_warning: Option<&'static str>,
    pub page_ids: Vec<String>,
}

/// Shown with a rule that shares old conversations.
const OLD_CONVERSATIONS_WARNING: &str =
    "distributing old conversations shares their whole history and customer data with the rule's agents";

impl From<&Rule> for RuleView {
    fn from(r: &Rule) -> Self {
        RuleView {
            agent_emails: r.agent_emails.clone(),
            id: r.id.clone(),
            method: r.method,
            name: r.name.clone(),
            old_conversations: r.old_conversations,
            old_conversations_chosen_at: r.policy_chosen_at.clone(),
            old_conversations_chosen_by: r.policy_chosen_by.clone(),
            old_conversations_warning: (r.old_conversations != OldConversations::None)
                .then_some(OLD_CONVERSATIONS_WARNING),
            page_ids: r.page_ids.clone(),
        }
    }
}

/// A conversation. `kind` is its channel (`messenger`, or `comment` for one customer's
/// comments on one post, with its `post_id`); `customer_name` is null until Meta gave it;
/// `last_message` is the newest message's preview (its text cut to
/// [`domain::model::LAST_MESSAGE_TEXT_MAX`] characters), null for a conversation stored before
/// it was kept; `phones` lists the phone numbers the customer wrote; `handoff` says which
/// private reply to a comment a Messenger conversation grew from (null otherwise).
#[derive(Debug, Serialize)]
pub struct ConversationView {
    pub assignee: Option<String>,
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub delivery_watermark_at: Option<String>,
    pub handoff: Option<HandoffView>,
    pub id: String,
    pub kind: &'static str,
    pub last_activity_at: String,
    pub last_customer_message_at: Option<String>,
    pub last_message: Option<LastMessageView>,
    pub page_id: String,
    pub phones: Vec<String>,
    pub pool_rule_id: Option<String>,
    pub post_id: Option<String>,
    pub read_watermark_at: Option<String>,
}

/// A conversation's `handoff`: `{"by","from_conversation_id","comment_id","at"}`.
#[derive(Debug, Serialize)]
pub struct HandoffView {
    pub at: String,
    pub by: String,
    pub comment_id: String,
    pub from_conversation_id: String,
}

/// A conversation's `last_message`: `{"direction","kind","sent_at","text"}`.
#[derive(Debug, Serialize)]
pub struct LastMessageView {
    pub direction: Direction,
    pub kind: MessageKind,
    pub sent_at: String,
    pub text: Option<String>,
}

impl From<&LastMessage> for LastMessageView {
    fn from(m: &LastMessage) -> Self {
        LastMessageView {
            direction: m.direction,
            kind: m.kind,
            sent_at: rfc3339_ms(m.sent_ms),
            text: m.text.clone(),
        }
    }
}

impl From<&Conversation> for ConversationView {
    fn from(c: &Conversation) -> Self {
        ConversationView {
            assignee: c.assignee.clone(),
            customer_id: c.customer_id.clone(),
            customer_name: c.customer_name.clone(),
            delivery_watermark_at: c.delivery_watermark_ms.map(rfc3339_ms),
            handoff: c.handoff.as_ref().map(|h| HandoffView {
                at: rfc3339_ms(h.at_ms),
                by: h.by.clone(),
                comment_id: h.comment_id.clone(),
                from_conversation_id: h.from_conversation_id.clone(),
            }),
            id: c.id.clone(),
            kind: c.kind().as_str(),
            last_activity_at: rfc3339_ms(c.last_activity_ms),
            last_customer_message_at: c.last_customer_message_ms.map(rfc3339_ms),
            last_message: c.last_message.as_ref().map(LastMessageView::from),
            page_id: c.page_id.clone(),
            phones: c.phones.clone(),
            pool_rule_id: c.pool_rule_id.clone(),
            post_id: c.post_id.clone(),
            read_watermark_at: c.read_watermark_ms.map(rfc3339_ms),
        }
    }
}

/// A message. Outgoing ones carry `status` (`sent` | `failed` | `unknown`: a reply still in
/// flight shows as unknown) and, for replies sent from the inbox, `reply_id` and the `error`
/// that failed them or left them unknown; an unsent reply's `id` is its `reply_id`.
#[derive(Debug, Serialize)]
pub struct MessageView {
    pub detail: Option<serde_json::Value>,
    pub direction: Direction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub id: String,
    pub kind: MessageKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_id: Option<String>,
    pub sent_at: String,
    pub status: Option<ReplyStatus>,
    pub text: Option<String>,
    /// A comment's own fields, beside the message's (absent for other messages).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub comment: Option<CommentView>,
}

/// What a comment message adds: `comment_id`, `post_id`, `parent_id`, `hidden`, `removed`,
/// `private_replied`, `edited` and `previous_text` (the text before the latest edit).
#[derive(Debug, Serialize)]
pub struct CommentView {
    pub comment_id: String,
    pub edited: bool,
    pub hidden: bool,
    pub parent_id: Option<String>,
    pub post_id: Option<String>,
    pub previous_text: Option<String>,
    pub private_replied: bool,
    pub removed: bool,
}

impl From<&domain::comments::CommentState> for CommentView {
    fn from(c: &domain::comments::CommentState) -> Self {
        CommentView {
            comment_id: c.comment_id.clone(),
            edited: c.edited_ms.is_some(),
            hidden: c.hidden,
            parent_id: c.parent_id.clone(),
            post_id: c.post_id.clone(),
            previous_text: c.previous_text.clone(),
            private_replied: c.private_reply.is_some(),
            removed: c.removed,
        }
    }
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        let status = match (&m.reply, m.direction) {
            (Some(r), _) => Some(shown_status(r.status)),
            // What Meta echoed was sent; customers' messages have no status.
            (None, Direction::Out) => Some(ReplyStatus::Sent),
            (None, Direction::In) => None,
        };
        MessageView {
            detail: m.detail.clone(),
            direction: m.direction,
            error: m.reply.as_ref().and_then(|r| r.error.clone()),
            id: m.id.clone(),
            kind: m.kind,
            reply_id: m.reply.as_ref().map(|r| r.reply_id.clone()),
            sent_at: rfc3339_ms(m.sent_ms),
            status,
            text: m.text.clone(),
            comment: m.comment.as_ref().map(CommentView::from),
        }
    }
}

/// Today's answers were built with `json!`; these check that every view writes the very same
/// bytes, `null`s and key order included.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same<T: Serialize>(view: &T, before: serde_json::Value) {
        let now = serde_json::to_string(view).expect("serialize");
        assert_eq!(now, before.to_string());
    }

    fn page(chat_mode: Option<ChatMode>, rule_id: Option<&str>) -> PageRecord {
        PageRecord {
            page_id: "1101".into(),
            name: "Shop".into(),
            status: PageStatus::LostConnection,
            chat_mode,
            rule_id: rule_id.map(Into::into),
            connected_by: Some("o@x.vn".into()),
            last_connected_at: None,
            lost_reason: Some("token".into()),
        }
    }

    #[test]
    fn pages() {
        for p in
            [page(None, None), page(Some(ChatMode::Shared), Some("r1")), page(Some(ChatMode::OnlyMe), None)]
        {
            let before = json!({
                "page_id": p.page_id,
                "name": p.name,
                "status": p.status.as_str(),
                "chat_mode": p.chat_mode.map(|c| c.as_str()),
                "rule_id": p.rule_id,
                "connected_by": p.connected_by,
                "last_connected_at": p.last_connected_at,
                "lost_reason": p.lost_reason,
            });
            same(&PageView::from(&p), before.clone());
            let mut connected = before;
            connected["history_sync"] = json!("not_started");
            same(&PageView { history_sync: Some(JobState::NotStarted), ..PageView::from(&p) }, connected);
        }
        let p = page(None, None);
        let before = json!({"items": [{
            "page_id": "1101", "name": "Shop", "status": "lost_connection", "chat_mode": null, "rule_id": null,
            "connected_by": "o@x.vn", "last_connected_at": null, "lost_reason": "token",
        }]});
        same(&ItemsView::<PageView>::of([&p]), before);
    }

    #[test]
    fn members() {
        let m = Member { email: "a@x.vn".into(), role: Role::Admin };
        same(&MemberView::from(&m), json!({"email": m.email, "role": m.role.as_str()}));
        same(
            &RemovedView { reassignment: JobState::Queued, removed: "a@x.vn".into() },
            json!({"removed": "a@x.vn", "reassignment": "queued"}),
        );
    }

    #[test]
    fn me() {
        let tenant = domain::ids::TenantId::parse("shop-a").expect("tenant");
        let m = domain::access::Member { email: "a@x.vn".into(), tenant_id: tenant, role: Role::Agent };
        same(&MeView::from(&m), json!({"email": "a@x.vn", "role": "agent", "tenant_id": "shop-a"}));
    }

    #[test]
    fn rules() {
        for (method, old, by) in [
            (Method::RoundRobin, OldConversations::None, None),
            (Method::SelfClaim, OldConversations::Available, Some("o@x.vn")),
            (Method::SelfClaim, OldConversations::All, Some("o@x.vn")),
        ] {
            let r = Rule {
                id: "r1".into(),
                name: "Bán hàng".into(),
                page_ids: vec!["1101".into(), "1102".into()],
                agent_emails: vec!["a@x.vn".into()],
                method,
                old_conversations: old,
                policy_chosen_by: by.map(Into::into),
                policy_chosen_at: by.map(|_| "2025-11-24T10:00:00.000Z".into()),
            };
            let before = json!({
                "id": r.id,
                "name": r.name,
                "page_ids": r.page_ids,
                "agent_emails": r.agent_emails,
                "method": r.method.as_str(),
                "old_conversations": r.old_conversations.as_str(),
                "old_conversations_chosen_by": r.policy_chosen_by,
                "old_conversations_chosen_at": r.policy_chosen_at,
                "old_conversations_warning": (r.old_conversations != OldConversations::None).then_some(
                    "distributing old conversations shares their whole history and customer data with the rule's agents"
                ),
            });
            same(&RuleView::from(&r), before);
        }
    }

    #[test]
    fn conversations_and_messages() {
        let mut c = Conversation {
            id: "1101_77".into(),
            tenant_id: "shop".into(),
            page_id: "1101".into(),
            customer_id: "77".into(),
            assignee: None,
            pool_rule_id: Some("r1".into()),
            assignment_pending: true,
            last_customer_message_ms: None,
            last_activity_ms: 1_764_000_000_000,
            read_watermark_ms: None,
            delivery_watermark_ms: None,
            customer_name: None,
            last_message: None,
            post_id: None,
            phones: Vec::new(),
            handoff: None,
        };
        for _ in 0..2 {
            let before = json!({
                "id": c.id,
                "page_id": c.page_id,
                "customer_id": c.customer_id,
                "assignee": c.assignee,
                "pool_rule_id": c.pool_rule_id,
                "last_customer_message_at": c.last_customer_message_ms.map(rfc3339_ms),
                "last_activity_at": rfc3339_ms(c.last_activity_ms),
                "read_watermark_at": c.read_watermark_ms.map(rfc3339_ms),
                "delivery_watermark_at": c.delivery_watermark_ms.map(rfc3339_ms),
                "kind": if c.post_id.is_some() { "comment" } else { "messenger" },
                "post_id": c.post_id,
                "phones": c.phones,
                "handoff": c.handoff.as_ref().map(|h| json!({
                    "by": h.by, "from_conversation_id": h.from_conversation_id,
                    "comment_id": h.comment_id, "at": rfc3339_ms(h.at_ms),
                })),
                "customer_name": c.customer_name,
                "last_message": c.last_message.as_ref().map(|m| json!({
                    "direction": m.direction.as_str(),
                    "kind": m.kind.as_str(),
                    "text": m.text,
                    "sent_at": rfc3339_ms(m.sent_ms),
                })),
            });
            same(&ConversationView::from(&c), before.clone());
            same(
                &PagedView::<ConversationView>::of([&c], Some("k".into())),
                json!({"items": [before], "next_cursor": "k"}),
            );
            c.assignee = Some("a@x.vn".into());
            c.pool_rule_id = None;
            c.last_customer_message_ms = Some(1_764_000_000_001);
            c.read_watermark_ms = Some(1_764_000_000_002);
            c.delivery_watermark_ms = Some(1_764_000_000_003);
            c.customer_name = Some("Nguyễn Văn A".into());
            c.last_message = Some(LastMessage {
                direction: Direction::In,
                kind: MessageKind::Text,
                text: Some("Còn size M không shop?".into()),
                sent_ms: 1_764_000_000_001,
            });
            c.post_id = Some("1101_5".into());
            c.phones = vec!["0912345678".into()];
            c.handoff = Some(domain::comments::Handoff {
                by: "a@x.vn".into(),
                from_conversation_id: "1101_9_p5".into(),
                comment_id: "5_1".into(),
                at_ms: 1_764_000_000_004,
            });
        }
        same(
            &PagedView::<ConversationView>::of(&Vec::new(), None),
            json!({"items": [], "next_cursor": null}),
        );
        for (text, detail) in [(None, None), (Some("Dạ còn ạ"), Some(json!({"sent_by": "a@x.vn"})))] {
            let m = Message {
                id: "m1".into(),
                conversation_id: "1101_77".into(),
                direction: Direction::Out,
                kind: domain::model::MessageKind::Text,
                text: text.map(Into::into),
                sent_ms: 1_764_000_000_000,
                detail,
                reply: None,
                comment: None,
            };
            let before = json!({
                "id": m.id,
                "direction": m.direction.as_str(),
                "kind": m.kind,
                "text": m.text,
                "sent_at": rfc3339_ms(m.sent_ms),
                "status": "sent",
                "detail": m.detail,
            });
            same(&MessageView::from(&m), before);
        }
        // A comment adds its own fields beside the message's (after them: compared as values).
        let m = Message {
            id: "5_1".into(),
            conversation_id: "1101_9_p5".into(),
            direction: Direction::In,
            kind: MessageKind::Comment,
            text: Some("chốt".into()),
            sent_ms: 1_764_000_000_000,
            detail: None,
            reply: None,
            comment: Some(domain::comments::CommentState {
                comment_id: "5_1".into(),
                post_id: Some("1101_5".into()),
                parent_id: Some("1101_5".into()),
                hidden: true,
                previous_text: Some("chot".into()),
                edited_ms: Some(2),
                ..Default::default()
            }),
        };
        assert_eq!(
            serde_json::to_value(MessageView::from(&m)).expect("json"),
            json!({
                "id": "5_1", "direction": "in", "kind": "comment", "text": "chốt",
                "sent_at": rfc3339_ms(m.sent_ms), "status": null, "detail": null,
                "comment_id": "5_1", "post_id": "1101_5", "parent_id": "1101_5", "hidden": true,
                "removed": false, "private_replied": false, "edited": true, "previous_text": "chot",
            }),
        );
    }
}
