//! Items and domain records: [`FromItem`] decodes each record the store reads, [`ToItem`]
//! encodes those it writes whole (their attributes; keys and bookkeeping are the writer's), and
//! [`ToAttr`] turns a value into an attribute. Attribute names are those of
//! docs/table-design.md.

use aws_sdk_dynamodb::types::AttributeValue;
use domain::model::{
    ChatMode, Conversation, Direction, LastMessage, Member, Message, MessageKind, Method, OldConversations,
    PageRecord, PageRoute, PageStatus, ReplyState, ReplyStatus, Role, Rule,
};
use domain::ports::{RouteHealth, StoreError, StoredPage};

use super::Item;

mod comments;
use comments::comment_state;

/// `assign_state` of a conversation header still waiting for its assignment.
pub(super) const PENDING: &str = "pending";
/// `assign_state` of a conversation header whose assignment is done.
pub(super) const DONE: &str = "done";

/// A record read from one item.
pub(super) trait FromItem: Sized {
    fn from_item(item: &Item) -> Result<Self, StoreError>;
}

/// A record's attributes, as written whole (without its key).
pub(super) trait ToItem {
    fn to_item(&self) -> Item;
}

/// A value as an attribute: strings (and `String`s, through `Deref`) as `S`, numbers as `N`,
/// booleans as `BOOL`, string lists as `L` of `S`.
pub(super) trait ToAttr {
    fn attr(&self) -> AttributeValue;
}

impl ToAttr for str {
    fn attr(&self) -> AttributeValue {
        AttributeValue::S(self.to_string())
    }
}

/// `ToAttr` for integer types: a number attribute.
macro_rules! number_attr {
    ($($t:ty),*) => {$(
        impl ToAttr for $t {
            fn attr(&self) -> AttributeValue {
                AttributeValue::N(self.to_string())
            }
        }
    )*};
}

number_attr!(i64, u64);

impl ToAttr for bool {
    fn attr(&self) -> AttributeValue {
        AttributeValue::Bool(*self)
    }
}

impl ToAttr for [String] {
    fn attr(&self) -> AttributeValue {
        AttributeValue::L(self.iter().map(|v| v.attr()).collect())
    }
}

/// A number set of one number (the round-robin turns given back are a set).
pub(super) fn number_set(v: u64) -> AttributeValue {
    AttributeValue::Ns(vec![v.to_string()])
}

/// A string set (`SS`): DynamoDB refuses an empty one, so the caller writes it only when
/// `values` is not empty.
pub(super) fn string_set(values: &[String]) -> AttributeValue {
    AttributeValue::Ss(values.to_vec())
}

/// The attributes of one item, read by name.
#[derive(Clone, Copy)]
pub(super) struct Row<'a>(pub(super) &'a Item);

impl Row<'_> {
    /// A string attribute, if present.
    pub(super) fn s(&self, k: &str) -> Option<String> {
        match self.0.get(k) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        }
    }

    /// A number attribute, if present and an integer.
    pub(super) fn n(&self, k: &str) -> Option<i64> {
        match self.0.get(k) {
            Some(AttributeValue::N(v)) => v.parse().ok(),
            _ => None,
        }
    }

    /// A string attribute that must be there.
    pub(super) fn req_s(&self, k: &str) -> Result<String, StoreError> {
        self.s(k).ok_or_else(|| StoreError::Corrupt(format!("attribute {k} missing")))
    }

    /// A list of strings (none when absent).
    fn strings(&self, k: &str) -> Vec<String> {
        match self.0.get(k) {
            Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
            _ => Vec::new(),
        }
    }

    /// A boolean attribute (false when absent).
    pub(super) fn b(&self, k: &str) -> bool {
        matches!(self.0.get(k), Some(AttributeValue::Bool(true)))
    }

    /// A string set, sorted (DynamoDB keeps no order in a set; none when absent).
    fn string_set(&self, k: &str) -> Vec<String> {
        let mut out = match self.0.get(k) {
            Some(AttributeValue::Ss(ss)) => ss.clone(),
            _ => Vec::new(),
        };
        out.sort();
        out.dedup();
        out
    }

    /// A map attribute decoded as `T`, if present.
    fn map<T: FromItem>(&self, k: &str) -> Result<Option<T>, StoreError> {
        match self.0.get(k) {
            Some(AttributeValue::M(m)) => T::from_item(m).map(Some),
            _ => Ok(None),
        }
    }

    /// A number set (none when absent).
    fn numbers(&self, k: &str) -> Vec<u64> {
        match self.0.get(k) {
            Some(AttributeValue::Ns(ns)) => ns.iter().filter_map(|v| v.parse().ok()).collect(),
            _ => Vec::new(),
        }
    }

    /// A string attribute parsed by `parse`; `what` names it when it is missing or unknown.
    fn parsed<T>(&self, k: &str, parse: impl FnOnce(&str) -> Option<T>, what: &str) -> Result<T, StoreError> {
        self.s(k).as_deref().and_then(parse).ok_or_else(|| StoreError::Corrupt(what.into()))
    }
}

impl FromItem for Conversation {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(Conversation {
            id: row.req_s("conversation_id")?,
            tenant_id: row.req_s("tenant_id")?,
            page_id: row.req_s("page_id")?,
            customer_id: row.req_s("customer_id")?,
            assignee: row.s("assignee"),
            pool_rule_id: row.s("pool_rule_id"),
            assignment_pending: row.s("assign_state").as_deref() != Some(DONE),
            last_customer_message_ms: row.n("last_customer_ms"),
            last_activity_ms: row
                .n("last_activity_ms")
                .ok_or_else(|| StoreError::Corrupt("last_activity_ms missing".into()))?,
            read_watermark_ms: row.n("read_wm"),
            delivery_watermark_ms: row.n("delivery_wm"),
            customer_name: row.s("customer_name"),
            last_message: match item.get("last_msg") {
                Some(AttributeValue::M(m)) => Some(LastMessage::from_item(m)?),
                _ => None,
            },
            post_id: row.s("post_id"),
            phones: row.string_set("phones"),
            handoff: row.map("handoff")?,
        })
    }
}

/// A conversation's `last_msg`: a map of `dir`, `kind`, `text` (when it has one) and `ms`.
impl ToAttr for LastMessage {
    fn attr(&self) -> AttributeValue {
        let mut m = Item::from([
            ("dir".to_string(), self.direction.as_str().attr()),
            ("kind".to_string(), self.kind.as_str().attr()),
            ("ms".to_string(), self.sent_ms.attr()),
        ]);
        if let Some(t) = &self.text {
            m.insert("text".into(), t.attr());
        }
        AttributeValue::M(m)
    }
}

impl FromItem for LastMessage {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(LastMessage {
            direction: row.parsed("dir", Direction::parse, "last message direction")?,
            kind: row.parsed("kind", MessageKind::parse, "last message kind")?,
            text: row.s("text"),
            sent_ms: row.n("ms").ok_or_else(|| StoreError::Corrupt("last message ms missing".into()))?,
        })
    }
}

impl FromItem for Message {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        let direction = match row.s("direction").as_deref() {
            Some("out") => Direction::Out,
            Some("in") => Direction::In,
            other => return Err(StoreError::Corrupt(format!("direction {other:?}"))),
        };
        Ok(Message {
            id: row.req_s("mid")?,
            conversation_id: row.req_s("conversation_id")?,
            direction,
            kind: {
                let k = row.req_s("kind")?;
                MessageKind::parse(&k).ok_or_else(|| StoreError::Corrupt(format!("message kind {k:?}")))?
            },
            text: row.s("text"),
            sent_ms: row.n("sent_ms").ok_or_else(|| StoreError::Corrupt("sent_ms missing".into()))?,
            detail: row.s("detail").and_then(|d| serde_json::from_str(&d).ok()),
            reply: match row.s("reply_id") {
                None => None,
                Some(reply_id) => Some(ReplyState {
                    reply_id,
                    status: row.parsed("status", ReplyStatus::parse, "reply status")?,
                    error: row.s("error"),
                }),
            },
            comment: comment_state(row)?,
        })
    }
}

impl ToItem for Message {
    fn to_item(&self) -> Item {
        let mut item = Item::from([
            ("mid".to_string(), self.id.attr()),
            ("conversation_id".to_string(), self.conversation_id.attr()),
            ("direction".to_string(), self.direction.as_str().attr()),
            ("kind".to_string(), self.kind.as_str().attr()),
            ("sent_ms".to_string(), self.sent_ms.attr()),
        ]);
        if let Some(t) = &self.text {
            item.insert("text".into(), t.attr());
        }
        if let Some(d) = &self.detail {
            item.insert("detail".into(), d.to_string().attr());
        }
        if let Some(r) = &self.reply {
            item.insert("reply_id".into(), r.reply_id.attr());
            item.insert("status".into(), r.status.as_str().attr());
            if let Some(e) = &r.error {
                item.insert("error".into(), e.attr());
            }
        }
        if let Some(c) = &self.comment {
            item.extend(comments::comment_attrs(c));
        }
        item
    }
}

impl FromItem for PageRecord {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(PageRecord {
            page_id: row.req_s("page_id")?,
            name: row.s("name").unwrap_or_default(),
            status: row.parsed("status", PageStatus::parse, "page status")?,
            chat_mode: row.s("chat_mode").as_deref().and_then(ChatMode::parse),
            rule_id: row.s("rule_id"),
            connected_by: row.s("connected_by"),
            last_connected_at: row.s("last_connected_at"),
            lost_reason: row.s("lost_reason"),
        })
    }
}

/// The shop's Page and its encrypted Page token.
impl FromItem for StoredPage {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        // An unconnected Page's token past its expiry is absent, swept or not.
        let expired = row.n("token_expires_ms").is_some_and(|e| e < domain::timefmt::now_ms());
        Ok(StoredPage {
            record: PageRecord::from_item(item)?,
            token_enc: if expired { None } else { row.s("token_enc") },
        })
    }
}

impl FromItem for PageRoute {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(PageRoute {
            page_id: row.req_s("page_id")?,
            tenant_id: row.req_s("tenant_id")?,
            status: row.parsed("status", PageStatus::parse, "route status")?,
            chat_mode: row.parsed("chat_mode", ChatMode::parse, "route chat_mode")?,
            rule_id: row.s("rule_id"),
            connected_by: row.req_s("connected_by")?,
        })
    }
}

impl ToItem for PageRoute {
    fn to_item(&self) -> Item {
        let mut item = Item::from([
            ("page_id".to_string(), self.page_id.attr()),
            ("tenant_id".to_string(), self.tenant_id.attr()),
            ("status".to_string(), self.status.as_str().attr()),
            ("chat_mode".to_string(), self.chat_mode.as_str().attr()),
            ("connected_by".to_string(), self.connected_by.attr()),
        ]);
        if let Some(r) = &self.rule_id {
            item.insert("rule_id".into(), r.attr());
        }
        item
    }
}

impl FromItem for RouteHealth {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(RouteHealth {
            route: PageRoute::from_item(item)?,
            last_event_ms: row.n("last_event_ms"),
            connected_ms: row.n("connected_ms"),
            version: row.s("version").unwrap_or_default(),
            checked_ms: row.n("checked_ms"),
        })
    }
}

impl FromItem for Member {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(Member { email: row.req_s("email")?, role: row.parsed("role", Role::parse, "member role")? })
    }
}

impl ToItem for Member {
    fn to_item(&self) -> Item {
        Item::from([
            ("email".to_string(), self.email.attr()),
            ("role".to_string(), self.role.as_str().attr()),
        ])
    }
}

impl FromItem for Rule {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(Rule {
            id: row.req_s("rule_id")?,
            name: row.req_s("name")?,
            page_ids: row.strings("page_ids"),
            agent_emails: row.strings("agent_emails"),
            method: row.parsed("method", Method::parse, "rule method")?,
            old_conversations: row.parsed(
                "old_conversations",
                OldConversations::parse,
                "rule old_conversations",
            )?,
            policy_chosen_by: row.s("policy_chosen_by").filter(|v| !v.is_empty()),
            policy_chosen_at: row.s("policy_chosen_at").filter(|v| !v.is_empty()),
        })
    }
}

impl ToItem for Rule {
    fn to_item(&self) -> Item {
        Item::from([
            ("rule_id".to_string(), self.id.attr()),
            ("name".to_string(), self.name.attr()),
            ("page_ids".to_string(), self.page_ids.attr()),
            ("agent_emails".to_string(), self.agent_emails.attr()),
            ("method".to_string(), self.method.as_str().attr()),
            ("old_conversations".to_string(), self.old_conversations.as_str().attr()),
            ("policy_chosen_by".to_string(), self.policy_chosen_by.as_deref().unwrap_or_default().attr()),
            ("policy_chosen_at".to_string(), self.policy_chosen_at.as_deref().unwrap_or_default().attr()),
        ])
    }
}

/// A rule's round-robin counter: the last turn taken, and the turns given back.
pub(super) struct Turns {
    pub(super) taken: Option<i64>,
    pub(super) returned: Vec<u64>,
}

impl FromItem for Turns {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(Turns { taken: row.n("rr_turn"), returned: row.numbers("returned_turns") })
    }
}

/// An entry of the inbox move log: the conversation that moved and its place before the move.
pub(super) struct Move {
    pub(super) conversation_id: String,
    pub(super) before: String,
}

impl FromItem for Move {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(Move { conversation_id: row.req_s("conversation_id")?, before: row.req_s("before")? })
    }
}

/// Decodes every item of a listing.
pub(super) fn decode_all<T: FromItem>(items: &[Item]) -> Result<Vec<T>, StoreError> {
    items.iter().map(T::from_item).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::comments::{CommentState, PrivateReplyMark};

    #[test]
    fn records_written_whole_read_back() {
        let m = Message {
            id: "m1".into(),
            conversation_id: "p_c".into(),
            direction: Direction::In,
            kind: MessageKind::Text,
            text: Some("hi".into()),
            sent_ms: 5,
            detail: Some(serde_json::json!({"a": 1})),
            reply: None,
            comment: None,
        };
        assert_eq!(Message::from_item(&m.to_item()).expect("message"), m);
        let reply = Message {
            reply: Some(ReplyState {
                reply_id: "reply:1".into(),
                status: ReplyStatus::Unknown,
                error: Some("timed out".into()),
            }),
            ..m
        };
        assert_eq!(Message::from_item(&reply.to_item()).expect("reply"), reply);
        let bare = Message { reply: None, kind: MessageKind::Comment, ..reply.clone() };
        let comment = Message {
            comment: Some(CommentState { comment_id: "9_1".into(), ..CommentState::default() }),
            ..bare.clone()
        };
        assert_eq!(Message::from_item(&comment.to_item()).expect("comment"), comment);
        let full = Message {
            comment: Some(CommentState {
                comment_id: "9_1".into(),
                post_id: Some("1_9".into()),
                parent_id: Some("1_9".into()),
                hidden: true,
                removed: true,
                previous_text: Some("old".into()),
                edited_ms: Some(7),
                private_reply: Some(PrivateReplyMark {
                    by: "a@b.c".into(),
                    reply_id: "reply:1".into(),
                    at_ms: 8,
                }),
            }),
            ..bare
        };
        assert_eq!(Message::from_item(&full.to_item()).expect("full comment"), full);
        // A previous text that was absent is stored as NULL (an edit copies `text` over with
        // `if_not_exists(text, NULL)`): read back as none.
        let mut nulled = full.to_item();
        nulled.insert("c_prev".into(), AttributeValue::Null(true));
        let read = Message::from_item(&nulled).expect("nulled");
        assert_eq!(read.comment.and_then(|c| c.previous_text), None);
        let member = Member { email: "a@b.c".into(), role: Role::Agent };
        assert_eq!(Member::from_item(&member.to_item()).expect("member"), member);
    }

    #[test]
    fn missing_or_unknown_attributes_are_corrupt() {
        let item = Item::from([("email".to_string(), "a@b.c".attr()), ("role".to_string(), "boss".attr())]);
        assert!(matches!(Member::from_item(&item), Err(StoreError::Corrupt(_))));
        assert!(matches!(Conversation::from_item(&Item::new()), Err(StoreError::Corrupt(_))));
    }
}
