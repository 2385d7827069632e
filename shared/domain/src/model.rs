//! Records of the domain, with the field names of the external contract (the README's "What the admin API offers").

use serde::{Deserialize, Serialize};

/// A member's role in a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }

    /// Owners and admins manage Pages, rules and members and see every conversation.
    pub fn is_manager(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// A person with an account in a shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageStatus {
    Connected,
    LostConnection,
    NotConnected,
}

impl PageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PageStatus::Connected => "connected",
            PageStatus::LostConnection => "lost_connection",
            PageStatus::NotConnected => "not_connected",
        }
    }
    pub fn parse(s: &str) -> Option<PageStatus> {
        match s {
            "connected" => Some(PageStatus::Connected),
            "lost_connection" => Some(PageStatus::LostConnection),
            "not_connected" => Some(PageStatus::NotConnected),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatMode {
    OnlyMe,
    Shared,
}

impl ChatMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatMode::OnlyMe => "only_me",
            ChatMode::Shared => "shared",
        }
    }
    pub fn parse(s: &str) -> Option<ChatMode> {
        match s {
            "only_me" => Some(ChatMode::OnlyMe),
            "shared" => Some(ChatMode::Shared),
            _ => None,
        }
    }
}

/// A Page as one shop sees it (the page object of the contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRecord {
    pub page_id: String,
    pub name: String,
    pub status: PageStatus,
    pub chat_mode: Option<ChatMode>,
    pub rule_id: Option<String>,
    pub connected_by: Option<String>,
    pub last_connected_at: Option<String>,
    pub lost_reason: Option<String>,
}

/// Where a Page's events go: the one shop that has it connected (or in lost connection).
/// Read by the worker for every event batch, so it is its own small item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRoute {
    pub page_id: String,
    pub tenant_id: String,
    pub status: PageStatus,
    pub chat_mode: ChatMode,
    pub rule_id: Option<String>,
    /// Email of the member who connected the Page (the owner in only-me mode).
    pub connected_by: String,
}

/// Direction of a message relative to the Page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        [Direction::In, Direction::Out].into_iter().find(|d| d.as_str() == s)
    }
}

/// Identifier of a conversation: one customer (PSID) with one Page.
pub fn conversation_id(page_id: &str, customer_id: &str) -> String {
    format!("{page_id}_{customer_id}")
}

/// A conversation as stored and as served (the conversation object of the contract).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub tenant_id: String,
    pub page_id: String,
    pub customer_id: String,
    /// Email of the member who holds it, or None while pooled or unassigned.
    pub assignee: Option<String>,
    /// The self-claim rule whose pool holds it, while unclaimed.
    pub pool_rule_id: Option<String>,
    /// True from creation until the worker has decided where it goes.
    pub assignment_pending: bool,
    pub last_customer_message_ms: Option<i64>,
    pub last_activity_ms: i64,
    pub read_watermark_ms: Option<i64>,
    pub delivery_watermark_ms: Option<i64>,
    /// The customer's name as Meta gives it (history sync's participants, or the worker's
    /// profile lookup after a webhook created the conversation); None until known.
    pub customer_name: Option<String>,
    /// The newest message, for the inbox list: written with the move that makes it the
    /// newest, so it always belongs to `last_activity_ms`.
    pub last_message: Option<LastMessage>,
    /// For a comment conversation (one customer's comments on one post): the post's id.
    /// None for a Messenger conversation.
    pub post_id: Option<String>,
    /// Vietnamese phone numbers found in the customer's messages and comments, normalised
    /// (`crate::phones`), sorted, each once.
    pub phones: Vec<String>,
    /// The private reply this Messenger conversation grew from (`crate::comments::Handoff`).
    pub handoff: Option<crate::comments::Handoff>,
}

/// The channel of a conversation (the contract's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    Messenger,
    Comment,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Messenger => "messenger",
            ConversationKind::Comment => "comment",
        }
    }
}

impl Conversation {
    pub fn kind(&self) -> ConversationKind {
        if self.post_id.is_some() { ConversationKind::Comment } else { ConversationKind::Messenger }
    }
}

/// The most characters of a message's text kept in [`LastMessage`]: an inbox line shows a
/// preview, and every conversation header carries it, so every inbox page reads it.
pub const LAST_MESSAGE_TEXT_MAX: usize = 200;

/// What the inbox list shows of a conversation's newest message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    pub direction: Direction,
    pub kind: MessageKind,
    /// The first [`LAST_MESSAGE_TEXT_MAX`] characters of the text, if it has any.
    pub text: Option<String>,
    pub sent_ms: i64,
}

impl LastMessage {
    pub fn of(m: &Message) -> LastMessage {
        LastMessage {
            direction: m.direction,
            kind: m.kind,
            text: m.text.as_ref().map(|t| t.chars().take(LAST_MESSAGE_TEXT_MAX).collect()),
            sent_ms: m.sent_ms,
        }
    }
}

/// What a stored message is (the `kind` of the contract's message object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    /// Attachments only (images, files, stickers...), no text.
    Attachment,
    /// A button press (`postback.title` is the text).
    Postback,
    /// A reaction to another message (`detail.target_mid`); the emoji is the text.
    Reaction,
    /// A Page comment added, edited, removed, or with a verb we do not know.
    Comment,
    CommentEdited,
    CommentRemoved,
    CommentOther,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Attachment => "attachment",
            MessageKind::Postback => "postback",
            MessageKind::Reaction => "reaction",
            MessageKind::Comment => "comment",
            MessageKind::CommentEdited => "comment_edited",
            MessageKind::CommentRemoved => "comment_removed",
            MessageKind::CommentOther => "comment_other",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        [
            MessageKind::Text,
            MessageKind::Attachment,
            MessageKind::Postback,
            MessageKind::Reaction,
            MessageKind::Comment,
            MessageKind::CommentEdited,
            MessageKind::CommentRemoved,
            MessageKind::CommentOther,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// The kind of a comment event by its webhook `verb`.
    pub fn of_comment_verb(verb: &str) -> MessageKind {
        match verb {
            "add" => MessageKind::Comment,
            "edited" => MessageKind::CommentEdited,
            "remove" => MessageKind::CommentRemoved,
            _ => MessageKind::CommentOther,
        }
    }
}

impl PartialEq<&str> for MessageKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A stored message (the message object of the contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Meta's `mid` (or a stable id derived from the event for reactions and comments).
    pub id: String,
    pub conversation_id: String,
    pub direction: Direction,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub sent_ms: i64,
    /// Event details beyond text (attachments, quick reply payload, reply_to, reaction...).
    pub detail: Option<serde_json::Value>,
    /// For a reply sent from the inbox: its own id and where it stands at Meta. None for what
    /// Meta delivered (customers' messages, echoes of what was sent elsewhere).
    pub reply: Option<ReplyState>,
    /// For a Page comment (a customer's, or the Page's own): its state at Meta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<crate::comments::CommentState>,
}

/// Where a reply sent from the inbox stands at Meta (`docs/rules.md`, "Replies").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    /// Recorded, the Send API call not answered yet (or the function stopped during it).
    Pending,
    /// Meta accepted it (its `message_id` is known), or its echo came back.
    Sent,
    /// Meta refused it: nothing reached the customer.
    Failed,
    /// No clear answer (timeout, 5xx): it may or may not have reached the customer.
    Unknown,
}

impl ReplyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyStatus::Pending => "pending",
            ReplyStatus::Sent => "sent",
            ReplyStatus::Failed => "failed",
            ReplyStatus::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<ReplyStatus> {
        [ReplyStatus::Pending, ReplyStatus::Sent, ReplyStatus::Failed, ReplyStatus::Unknown]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A reply's own record: its id (`reply:...`, given before the Send API call), its status, and
/// why it failed or is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyState {
    pub reply_id: String,
    pub status: ReplyStatus,
    pub error: Option<String>,
}

/// One page of a listing, with an opaque cursor for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// How a sharing rule hands out new conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    RoundRobin,
    SelfClaim,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::RoundRobin => "round_robin",
            Method::SelfClaim => "self_claim",
        }
    }
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "round_robin" => Some(Method::RoundRobin),
            "self_claim" => Some(Method::SelfClaim),
            _ => None,
        }
    }
}

/// What happens to conversations that predate the rule or lost their agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OldConversations {
    None,
    Available,
    All,
}

impl OldConversations {
    pub fn as_str(self) -> &'static str {
        match self {
            OldConversations::None => "none",
            OldConversations::Available => "available",
            OldConversations::All => "all",
        }
    }
    pub fn parse(s: &str) -> Option<OldConversations> {
        match s {
            "none" => Some(OldConversations::None),
            "available" => Some(OldConversations::Available),
            "all" => Some(OldConversations::All),
            _ => None,
        }
    }
}

/// A sharing rule (*quy tắc chia hội thoại*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub page_ids: Vec<String>,
    pub agent_emails: Vec<String>,
    pub method: Method,
    pub old_conversations: OldConversations,
    /// Who chose the old-conversation policy, and when (RFC 3339): sharing old conversations
    /// shares their history and customer data with the agents.
    pub policy_chosen_by: Option<String>,
    pub policy_chosen_at: Option<String>,
}

impl Rule {
    /// The agent whose turn `turn` (1-based, from the rule's atomic counter) is: turns cycle
    /// through the agents in order, so N consecutive turns give each of K agents floor(N/K) or
    /// ceil(N/K) conversations.
    pub fn agent_for_turn(&self, turn: u64) -> Option<&str> {
        let k = self.agent_emails.len() as u64;
        if k == 0 || turn == 0 {
            return None;
        }
        self.agent_emails.get(((turn - 1) % k) as usize).map(String::as_str)
    }
}

#[cfg(test)]
mod kind_tests {
    use super::MessageKind;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in [MessageKind::Text, MessageKind::Attachment, MessageKind::CommentOther] {
            assert_eq!(MessageKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).ok(), Some(serde_json::Value::from(k.as_str())));
        }
        assert_eq!(MessageKind::parse("sticker"), None);
        assert_eq!(MessageKind::of_comment_verb("edited"), MessageKind::CommentEdited);
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    #[test]
    fn turns_cycle_fairly() {
        let r = Rule {
            id: "r".into(),
            name: "n".into(),
            page_ids: vec!["p".into()],
            agent_emails: (0..7).map(|i| format!("a{i}")).collect(),
            method: Method::RoundRobin,
            old_conversations: OldConversations::None,
            policy_chosen_by: None,
            policy_chosen_at: None,
        };
        let mut counts = std::collections::HashMap::new();
        for t in 1..=300 {
            *counts.entry(r.agent_for_turn(t).expect("agent")).or_insert(0) += 1;
        }
        assert!(counts.values().all(|c| *c == 42 || *c == 43), "{counts:?}");
        assert_eq!(r.agent_for_turn(0), None);
    }
}
