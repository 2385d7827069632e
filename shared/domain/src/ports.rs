//! Ports: what the functions need from storage and the queue, one small trait per capability.
//! Each has a DynamoDB/SQS implementation and an in-memory twin (crate `adapters`), and both
//! pass the same contract tests.

use async_trait::async_trait;

use crate::event::OutboundQueueMessage;
use crate::model::{Conversation, Member, Message, PageRecord, PageRoute, Paged, Rule};

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the cursor is not one this listing issued")]
    InvalidCursor,
    /// The walk the cursor belongs to is too old (or its shop changed too much since it began)
    /// to be continued exactly; a new walk starts from the first page.
    #[error("the cursor expired")]
    CursorExpired,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("a stored item is malformed: {0}")]
    Corrupt(String),
    #[error("storage call {op} failed")]
    Backend {
        op: &'static str,
        #[source]
        source: BoxError,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue call {op} failed")]
    Backend {
        op: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("{failed} of {total} queue entries were refused (first: {first_reason})")]
    Refused { failed: usize, total: usize, first_reason: String },
}

/// Pages as the shop sees them, and the route from a Page to its one connected shop.
#[async_trait]
pub trait PageStore: Send + Sync {
    /// The shop a Page's events belong to, if any shop has it connected or in lost connection.
    async fn page_route(&self, page_id: &str) -> Result<Option<PageRoute>, StoreError>;
    /// Records the Page for the shop and makes the shop its route, atomically. Refused with
    /// [`StoreError::Conflict`] while another shop holds the route.
    async fn connect_page(&self, page: &PageRecord, route: &PageRoute) -> Result<(), StoreError>;
    async fn list_pages(&self, tenant_id: &str) -> Result<Vec<PageRecord>, StoreError>;
    /// Records (or refreshes) a Page brought in through Facebook Login: a new one is not
    /// connected; an existing one keeps its status and mode and gets the new name and token.
    async fn import_page(&self, tenant_id: &str, page: &ImportedPage) -> Result<PageRecord, StoreError>;
    /// The shop's Page and its encrypted Page token.
    async fn page(&self, tenant_id: &str, page_id: &str) -> Result<Option<StoredPage>, StoreError>;
    /// Stops routing the Page to the shop (if it routes there) and marks it not connected,
    /// atomically; its conversations stay.
    async fn disconnect_page(&self, tenant_id: &str, page_id: &str) -> Result<(), StoreError>;
    /// Marks a connected Page of the shop as in lost connection, with the reason; its events
    /// keep being stored.
    async fn mark_lost(&self, tenant_id: &str, page_id: &str, reason: &str) -> Result<(), StoreError>;
    /// Every route (connected or lost), with when its Page last delivered an event: the
    /// health check's worklist, read through an index, never a scan.
    async fn list_routes(&self) -> Result<Vec<RouteHealth>, StoreError>;
    /// Records that the Page delivered an event at `now_ms`; writes at most about once a
    /// minute per Page (a conditional update), so it costs next to nothing per message.
    async fn touch_delivery(&self, page_id: &str, now_ms: i64) -> Result<(), StoreError>;
}

/// A shop's Page as stored: the record the shop sees, and the encrypted Page token (absent
/// until Facebook Login has imported the Page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPage {
    pub record: PageRecord,
    pub token_enc: Option<String>,
}

/// A route and its last delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHealth {
    pub route: PageRoute,
    pub last_event_ms: Option<i64>,
    /// When the route was written (connect), Unix ms.
    pub connected_ms: Option<i64>,
}

/// How stale a delivery timestamp may get before `touch_delivery` writes again.
pub const DELIVERY_TOUCH_INTERVAL_MS: i64 = 60_000;

/// A Page from `/me/accounts`, token already encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedPage {
    pub page_id: String,
    pub name: String,
    pub token_enc: String,
    pub imported_by: String,
}

/// Single-use values (the OAuth state's nonce).
#[async_trait]
pub trait NonceStore: Send + Sync {
    /// True the first time a nonce is consumed, false ever after (until it expires).
    async fn consume_once(&self, nonce: &str, expires_ms: i64) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait MemberStore: Send + Sync {
    async fn member(&self, tenant_id: &str, email: &str) -> Result<Option<Member>, StoreError>;
    /// Adds a member unless one with that email exists; returns whether it was added.
    async fn add_member(&self, tenant_id: &str, member: &Member) -> Result<bool, StoreError>;
    async fn list_members(&self, tenant_id: &str) -> Result<Vec<Member>, StoreError>;
    /// Removes a member; returns whether there was one.
    async fn remove_member(&self, tenant_id: &str, email: &str) -> Result<bool, StoreError>;
    /// Whether the shop may reply with the Human Agent tag (Meta approved the feature for it).
    async fn human_agent_enabled(&self, tenant_id: &str) -> Result<bool, StoreError>;
    async fn set_human_agent_enabled(&self, tenant_id: &str, enabled: bool) -> Result<(), StoreError>;
}

/// An event's effect on its conversation's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationTouch {
    pub tenant_id: String,
    pub conversation_id: String,
    pub page_id: String,
    pub customer_id: String,
    /// Event time; `last_activity` only moves forward.
    pub activity_ms: i64,
    /// Set when the customer wrote (opens the messaging window); only moves forward.
    pub customer_ms: Option<i64>,
}

/// Where a conversation sits (decided in [`crate::assignment`]).
pub use crate::assignment::Assignment;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatermarkKind {
    Read,
    Delivery,
}

/// Which conversations a listing covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationFilter {
    /// Every conversation of the shop.
    All { page_id: Option<String> },
    /// Those held by one member.
    AssignedTo { email: String, page_id: Option<String> },
    /// Those waiting in a self-claim rule's pool.
    Pool { rule_id: String },
}

impl ConversationFilter {
    /// Whether a conversation (of the shop being listed) belongs to this view now.
    pub fn admits(&self, c: &Conversation) -> bool {
        let on_page = |p: &Option<String>| p.as_ref().is_none_or(|p| &c.page_id == p);
        match self {
            ConversationFilter::All { page_id } => on_page(page_id),
            ConversationFilter::AssignedTo { email, page_id } => {
                c.assignee.as_ref() == Some(email) && on_page(page_id)
            }
            ConversationFilter::Pool { rule_id } => {
                c.assignee.is_none() && c.pool_rule_id.as_ref() == Some(rule_id)
            }
        }
    }
}

/// The result of pressing *Nhận chat*.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Won,
    /// Someone was first (their email, when the conversation could be read back).
    AlreadyClaimed(Option<String>),
    /// Not in that pool at all.
    NotInPool,
}

/// The rule side of a shared connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleLink {
    Existing { rule_id: String, add_page: bool },
    New(Rule),
}

/// Sharing rules and their round-robin turn counters.
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Creates a rule and links its Pages to it (each must be the shop's and in no other
    /// rule); the Pages listed in `connected` (connected to this shop) switch to shared mode
    /// under the rule. All or nothing: refused with [`StoreError::Conflict`] when the name is
    /// taken (case-insensitive), a Page is in another rule, or a connection changed meanwhile.
    async fn create_rule(&self, tenant_id: &str, rule: &Rule, connected: &[String])
    -> Result<(), StoreError>;
    async fn rule(&self, tenant_id: &str, rule_id: &str) -> Result<Option<Rule>, StoreError>;
    async fn list_rules(&self, tenant_id: &str) -> Result<Vec<Rule>, StoreError>;
    /// Connects a Page in shared mode under a rule, atomically with the rule change: the route
    /// and the shop's Page (which must not be in another rule) and either the existing rule
    /// (gaining the Page if it lacks it) or a new rule (name claimed). All or nothing.
    async fn connect_shared(
        &self,
        page: &PageRecord,
        route: &PageRoute,
        link: &RuleLink,
    ) -> Result<(), StoreError>;
    /// Replaces a rule's agents, only if they are still `expected` (optimistic: a concurrent
    /// change makes it return false and the caller reads again).
    async fn set_rule_agents(
        &self,
        tenant_id: &str,
        rule_id: &str,
        expected: &[String],
        agents: &[String],
    ) -> Result<bool, StoreError>;
    /// Replaces `old` by `new` (same id) if the rule is still `old`: the Pages it gains are
    /// claimed (in no other rule; those in `connected` switch to shared), the Pages it loses
    /// are released (those in `connected` go back to only-me). All or nothing; a concurrent
    /// change answers [`StoreError::Conflict`].
    async fn update_rule(
        &self,
        tenant_id: &str,
        old: &Rule,
        new: &Rule,
        connected: &[String],
    ) -> Result<(), StoreError>;
    /// Deletes a rule that has no Pages left.
    async fn delete_rule(&self, tenant_id: &str, rule: &Rule) -> Result<(), StoreError>;
    /// Re-homes a conversation held by `from` to the rule's next agent in turn, taking the turn
    /// and moving the conversation in one transaction: a turn is never spent without a move, so
    /// a duplicated step cannot skew the spread. Returns the new holder, or None when `from`
    /// no longer holds it.
    async fn rehome_by_turn(
        &self,
        tenant_id: &str,
        rule_id: &str,
        conversation_id: &str,
        from: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Atomically takes a round-robin turn of the rule: the smallest one given back, if any,
    /// else the next new one (1, 2, 3, ...). Concurrent callers never get the same turn.
    async fn next_turn(&self, tenant_id: &str, rule_id: &str) -> Result<u64, StoreError>;
    /// Gives back a turn that assigned nothing (the conversation was assigned meanwhile, by a
    /// concurrent delivery of the same event): the next new conversation takes it, so the
    /// spread stays even.
    async fn return_turn(&self, tenant_id: &str, rule_id: &str, turn: u64) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Creates the conversation if it is new (pending assignment) and moves its activity
    /// times forward; idempotent. Returns the conversation as it stands afterwards.
    async fn touch_conversation(&self, t: &ConversationTouch) -> Result<Conversation, StoreError>;
    /// Completes the assignment of a conversation still pending; returns false (and changes
    /// nothing) when it was already assigned, so a redelivered event never assigns twice.
    async fn complete_assignment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        assignment: &Assignment,
    ) -> Result<bool, StoreError>;
    /// Gives a pooled conversation to the first claimer: a write conditional on it still being
    /// in `rule_id`'s pool, so exactly one of any number of concurrent claims wins.
    async fn claim(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        rule_id: &str,
        email: &str,
    ) -> Result<ClaimOutcome, StoreError>;
    /// Moves a conversation from `from` to `to`, only while `from` still holds it; returns
    /// whether it moved.
    async fn reassign(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        from: &str,
        to: &Assignment,
    ) -> Result<bool, StoreError>;
    /// Stores a message unless one with its id is already stored; returns whether it was new.
    async fn put_message(&self, tenant_id: &str, message: &Message) -> Result<bool, StoreError>;
    /// Records a reply before the Send API call, under its own id (`message.id`, equal to
    /// `message.reply.reply_id`, status pending), listed in the thread from then on. A
    /// conditional write: when a reply with that id exists (a repeated request with the same
    /// idempotency key), nothing is written and that reply is returned as it stands.
    async fn begin_reply(&self, tenant_id: &str, message: &Message) -> Result<Option<Message>, StoreError>;
    /// Settles a recorded reply, once: failed or unknown only while it is pending; sent from
    /// any status but sent (an echo carrying its id proves it went out, even after a timeout).
    /// Sent moves it to Meta's message id in the thread (one message, whichever of this call
    /// and the echo's `put_message` comes first). Returns the reply as it now stands, None
    /// when no reply has that id.
    async fn settle_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        reply_id: &str,
        outcome: &crate::reply::ReplyOutcome,
    ) -> Result<Option<Message>, StoreError>;
    /// Moves a read or delivery watermark forward on an existing conversation.
    async fn advance_watermark(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        kind: WatermarkKind,
        watermark_ms: i64,
    ) -> Result<(), StoreError>;
    async fn conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<Conversation>, StoreError>;
    /// Newest activity first.
    async fn list_conversations(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Conversation>, StoreError>;
    /// Newest first.
    async fn list_messages(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Message>, StoreError>;
}

/// The producer side of the event queue (the webhook's only dependency).
#[async_trait]
pub trait EventQueue: Send + Sync {
    /// Sends up to ten messages in one call; Ok only when every one is durably queued.
    async fn send_batch(&self, messages: &[OutboundQueueMessage]) -> Result<(), QueueError>;
}

/// A message received from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub group_id: Option<String>,
    pub receive_count: u32,
}

/// The consumer side, used by the local stack's poller (Lambda's event source on AWS).
#[async_trait]
pub trait QueueConsumer: Send + Sync {
    async fn receive(&self, max: usize, wait_seconds: u32) -> Result<Vec<ReceivedMessage>, QueueError>;
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;
    /// Makes a message visible again at once (a failed record of a batch).
    async fn release(&self, receipt_handle: &str) -> Result<(), QueueError>;
    /// How many messages wait in the dead-letter queue.
    async fn dead_letter_depth(&self) -> Result<usize, QueueError>;
}
