//! Records of the domain, with the field names of the external contract (PRODUCT.md).

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
}

/// Identifier of a conversation: one customer (PSID) with one Page.
pub fn conversation_id(page_id: &str, customer_id: &str) -> String {
    format!("{page_id}_{customer_id}")
}

/// A conversation as stored and as served (the conversation object of the contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// A stored message (the message object of the contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Meta's `mid` (or a stable id derived from the event for reactions and comments).
    pub id: String,
    pub conversation_id: String,
    pub direction: Direction,
    pub kind: String,
    pub text: Option<String>,
    pub sent_ms: i64,
    /// Event details beyond text (attachments, quick reply payload, reply_to, reaction...).
    pub detail: Option<serde_json::Value>,
}

/// One page of a listing, with an opaque cursor for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
