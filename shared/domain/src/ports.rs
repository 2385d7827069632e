//! Ports: what the functions need from storage and the queue, one small trait per capability.
//! Each has a DynamoDB/SQS implementation and an in-memory twin (crate `adapters`), and both
//! pass the same contract tests.

use async_trait::async_trait;

use crate::event::OutboundQueueMessage;
use crate::model::{Conversation, Member, Message, PageRecord, PageRoute, Paged, Rule};

mod comments;
mod data;
mod health;
pub use comments::CommentStore;
pub use data::{
    DeletionCounts, DeletionRequest, DeletionStatus, ErasureStore, FacebookLink, FacebookUserStore,
    PageErasure,
};
pub use health::{HealthSweep, ROUTES_PAGE_MAX};

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

/// Pages as the shop sees them, and the route from a Page to the one shop holding it
/// (docs/page-custody.md). Every route carries a connection version, written with the holder's
/// Page item at each connect, restore and takeover; a change of the route (connect, disconnect,
/// takeover) first takes a short lease on it, so two changes never interleave.
#[async_trait]
pub trait PageStore: Send + Sync {
    /// The shop a Page's events belong to, if any shop holds its route (connected, in lost
    /// connection, or a draft written while a connect runs).
    async fn page_route(&self, page_id: &str) -> Result<Option<PageRoute>, StoreError>;
    /// The shop holding the Page's route, the connection version, and the holder's Page token
    /// (only while the holder's Page item is at that version): the only token any Graph call
    /// on the Page may use. Read strongly.
    async fn holder(&self, page_id: &str) -> Result<Option<Holder>, StoreError>;
    /// Records the Page for the shop and makes the shop its route with a fresh version,
    /// atomically (seeding and tests; the API connects through [`PageStore::begin_change`] and
    /// [`PageStore::commit_connect`]). Refused with [`StoreError::Conflict`] while another
    /// shop holds the route or a change holds its lease.
    async fn connect_page(&self, page: &PageRecord, route: &PageRoute) -> Result<(), StoreError>;
    async fn list_pages(&self, tenant_id: &str) -> Result<Vec<PageRecord>, StoreError>;
    /// Records (or refreshes) a Page brought in through Facebook Login: a new one is not
    /// connected; an existing one keeps its status and mode and gets the new name and token.
    /// The token of a Page that is not connected expires [`UNCONNECTED_TOKEN_TTL_MS`] later.
    async fn import_page(&self, tenant_id: &str, page: &ImportedPage) -> Result<PageRecord, StoreError>;
    /// The shop's Page and its encrypted Page token (absent once expired).
    async fn page(&self, tenant_id: &str, page_id: &str) -> Result<Option<StoredPage>, StoreError>;
    /// Stops routing the Page to the shop (if it routes there and no change holds its lease)
    /// and marks it not connected, atomically; its conversations stay.
    async fn disconnect_page(&self, tenant_id: &str, page_id: &str) -> Result<(), StoreError>;
    /// Marks the shop's Page and its route lost, with the reason, in one transaction, only if
    /// both are still at connection `version`: an old failure never marks a fresh connection
    /// lost. Returns whether it marked them. Its events keep being stored.
    async fn mark_lost(
        &self,
        tenant_id: &str,
        page_id: &str,
        version: &str,
        reason: &str,
    ) -> Result<bool, StoreError>;
    /// Takes the route's lease for a change (see [`RouteChange`]); [`StoreError::Conflict`]
    /// when another change holds it, another shop holds the route (unless taken over as
    /// expected), or there is no route of the shop and no draft to write.
    async fn begin_change(&self, change: &RouteChange) -> Result<(), StoreError>;
    /// Ends a change that did not complete: a draft route of `op` is deleted, any other route
    /// just loses the lease `op` holds. A lease held by another op is left alone.
    async fn abort_change(&self, page_id: &str, op: &str) -> Result<(), StoreError>;
    /// Completes a connect (or restore, or takeover) holding lease `op`, in one transaction:
    /// the route at the new version, the shop's Page connected, its rule moves, and the
    /// previous holder's Page marked lost with the reason. All or nothing.
    async fn commit_connect(&self, c: &Connection<'_>) -> Result<(), StoreError>;
    /// Completes a disconnect holding lease `op`: the route deleted and the shop's Page not
    /// connected, in one transaction.
    async fn commit_disconnect(&self, tenant_id: &str, page_id: &str, op: &str) -> Result<(), StoreError>;
    /// Every route (connected or lost), with when its Page last delivered an event: the
    /// health check's worklist, read through an index, never a scan.
    async fn list_routes(&self) -> Result<Vec<RouteHealth>, StoreError>;
    /// At most `limit` routes (capped at [`ROUTES_PAGE_MAX`]) in Page-id order, after `cursor`
    /// (the `next_cursor` of the page before): the health sweep's batches, through the same
    /// index. The cursor names a Page id, not an item, so it stays valid when that route goes.
    async fn list_routes_page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<RouteHealth>, StoreError>;
    /// Stamps the route, if still at connection `version`, as found healthy at `now_ms`
    /// ([`RouteHealth::checked_ms`]); returns whether it did.
    async fn record_health_check(
        &self,
        page_id: &str,
        version: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// A Page in lost connection whose holder's token works again: the shop's Page and the
    /// route go back to connected, in one conditional write, only while both are still lost at
    /// connection `version` and no change holds the route's lease (a takeover or reconnect
    /// meanwhile is never overridden). Returns whether it did.
    async fn mark_recovered(&self, tenant_id: &str, page_id: &str, version: &str)
    -> Result<bool, StoreError>;
    /// Claims the health sweep for run `run_id` until `until_ms` (refused, `None`, while another
    /// run's claim lasts) and returns where the sweep stands.
    async fn claim_health_sweep(
        &self,
        run_id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<HealthSweep>, StoreError>;
    /// Saves the sweep's progress while `run_id` holds the claim: `cursor` is where the next
    /// batch starts (`None`: the sweep is complete, the next starts over, and `now_ms` is
    /// recorded as its end); `release` gives up the claim. False when the claim was lost.
    async fn save_health_sweep(
        &self,
        run_id: &str,
        cursor: Option<&str>,
        now_ms: i64,
        release: bool,
    ) -> Result<bool, StoreError>;
    /// Records that the Page delivered an event at `now_ms`; writes at most about once a
    /// minute per Page (a conditional update), so it costs next to nothing per message.
    async fn touch_delivery(&self, page_id: &str, now_ms: i64) -> Result<(), StoreError>;
    /// Removes the tokens of Pages not connected whose expiry passed before `now_ms`, found
    /// through a sparse index (never a scan); returns how many were removed.
    async fn expire_tokens(&self, now_ms: i64) -> Result<usize, StoreError>;
    /// The person whose token the shop holds took it back (Meta's deauthorize or data-deletion
    /// callback): in one transaction, the shop's Page item loses its `token_enc` and, if it was
    /// connected or in lost connection, goes to lost connection with `reason`; the route, if
    /// this shop holds it, goes lost (its events keep being stored). Idempotent; a Page the
    /// shop does not have is left alone.
    async fn revoke_page(&self, tenant_id: &str, page_id: &str, reason: &str) -> Result<(), StoreError>;
    /// Replaces the shop's sealed Page token with `new_enc` (the same token re-wrapped under
    /// the current key) only if it still is `old_enc`: a token written meanwhile by a new
    /// Facebook Login, or removed by a revocation, is never overwritten. Returns whether it did.
    async fn replace_token(
        &self,
        tenant_id: &str,
        page_id: &str,
        old_enc: &str,
        new_enc: &str,
    ) -> Result<bool, StoreError>;
}

/// How long a change of a Page's route holds its lease: longer than any function that takes
/// one runs (the API's 15 s), so a live change is never overtaken, and short, so a crashed one
/// does not wedge the Page.
pub const ROUTE_LEASE_MS: i64 = 30_000;

/// How long the token of a Page imported (or disconnected) but not connected is kept.
pub const UNCONNECTED_TOKEN_TTL_MS: i64 = 30 * 24 * 3_600_000;

/// A shop's Page as stored: the record the shop sees, and the encrypted Page token (absent
/// until Facebook Login has imported the Page, and once an unconnected Page's token expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPage {
    pub record: PageRecord,
    pub token_enc: Option<String>,
}

/// Who holds a Page's route, at which connection version, with which token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub route: PageRoute,
    pub version: String,
    /// The holder's encrypted Page token, if its Page item is at `version`.
    pub token_enc: Option<String>,
    /// The route is a draft of a connect still running (not yet receiving per Meta).
    pub draft: bool,
    /// A change holds the route's lease until then (Unix ms).
    pub lease_until_ms: Option<i64>,
}

impl Holder {
    /// Whether a change holds the lease at `now_ms`.
    pub fn leased(&self, now_ms: i64) -> bool {
        self.lease_until_ms.is_some_and(|u| u > now_ms)
    }
}

/// A change of a Page's route about to start, holding lease `op` until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteChange {
    pub tenant_id: String,
    pub page_id: String,
    pub op: String,
    pub until_ms: i64,
    /// Written as a draft route (status `not_connected`, events stored for the shop) when the
    /// Page has no route, or only a draft whose lease expired.
    pub draft: Option<PageRoute>,
    /// Taking the Page over from another shop: its route must still be lost at that version.
    pub take_over: Option<Takeover>,
}

/// The previous holder of a route being taken over, as seen before the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    pub tenant_id: String,
    pub version: String,
    /// Shown on the previous holder's Page (`lost_reason`).
    pub reason: String,
}

/// A connect completing under lease `op`.
#[derive(Debug, Clone)]
pub struct Connection<'a> {
    pub page: &'a PageRecord,
    pub route: &'a PageRoute,
    pub op: &'a str,
    /// The new connection version.
    pub version: &'a str,
    /// The rule the Page joins (shared), if any.
    pub join: Option<&'a RuleLink>,
    /// The rule the Page leaves, as read (the Page must still be in it).
    pub leave: Option<&'a Rule>,
    pub take_over: Option<&'a Takeover>,
}

/// A route and its last delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHealth {
    pub route: PageRoute,
    pub last_event_ms: Option<i64>,
    /// When the route was written (connect), Unix ms.
    pub connected_ms: Option<i64>,
    /// The connection version.
    pub version: String,
    /// When the health check last found the Page healthy at this version, Unix ms.
    pub checked_ms: Option<i64>,
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
    /// The member with the `sub` bound to them (strongly consistent: a removal is seen at once).
    async fn membership(&self, tenant_id: &str, email: &str) -> Result<Option<Membership>, StoreError>;
    /// Founds the shop with its first owner (`sub` bound), once: false when the shop was
    /// founded before or already has members, whoever asks, however many ask at once.
    async fn found_shop(&self, tenant_id: &str, owner: &Member, sub: &str) -> Result<bool, StoreError>;
    /// Binds `sub` to a member who has none yet (added by email, or stored before subs were);
    /// true when the member's sub is now `sub`, false when they are gone or bound to another.
    async fn bind_sub(&self, tenant_id: &str, email: &str, sub: &str) -> Result<bool, StoreError>;
    /// Removes a member and takes them out of the rules in `rules`, in one transaction, only
    /// if nothing changed since it was read: the member still has `agent_grants` (a rule that
    /// gains an agent counts it on the member in the same write) and each rule's agents are
    /// still `expected`. False when anything changed (or the member is gone): read again. So
    /// no rule can name a removed member, whatever runs at the same time. With `keeper` (when
    /// the member leaving is an owner), that other member must still be an owner in the same
    /// transaction: owners removing each other at once never leave the shop without one.
    async fn leave_shop(
        &self,
        tenant_id: &str,
        email: &str,
        agent_grants: u64,
        rules: &[AgentsChange],
        keeper: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Whether the shop may reply with the Human Agent tag (Meta approved the feature for it).
    async fn human_agent_enabled(&self, tenant_id: &str) -> Result<bool, StoreError>;
    async fn set_human_agent_enabled(&self, tenant_id: &str, enabled: bool) -> Result<(), StoreError>;
}

/// A member, the identity (`sub` claim) bound to them at their first call, and how many
/// times a rule gained them as an agent (what [`MemberStore::leave_shop`] checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub member: Member,
    pub sub: Option<String>,
    pub agent_grants: u64,
}

/// A rule's agents replaced, only if they are still `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentsChange {
    pub rule_id: String,
    pub expected: Vec<String>,
    pub agents: Vec<String>,
}

/// The most rules one [`MemberStore::leave_shop`] updates (one transaction of 100 items).
pub const MAX_RULES_LEFT_AT_ONCE: usize = 99;

/// An event's effect on its conversation's header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationTouch {
    pub tenant_id: String,
    pub conversation_id: String,
    pub page_id: String,
    pub customer_id: String,
    /// Event time; `last_activity` only moves forward.
    pub activity_ms: i64,
    /// Set when the customer wrote (opens the messaging window); only moves forward.
    pub customer_ms: Option<i64>,
    /// The event's message: becomes the conversation's `last_message` when the event is
    /// newer than the conversation's activity (the same write that moves the activity), so a
    /// late older event never replaces a newer one.
    pub last_message: Option<crate::model::LastMessage>,
    /// The customer's name when the event knows it (history sync): written with the header's
    /// creation or move, no extra write.
    pub customer_name: Option<String>,
    /// A comment conversation's post, written when the touch creates the header.
    pub post_id: Option<String>,
    /// Phone numbers the event's text holds (`crate::phones`): added to the header's set in the
    /// same write as a creation or a move; an event that moves nothing writes only when it
    /// brings a number the header lacks.
    pub phones: Vec<String>,
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
    /// Those waiting in a self-claim rule's pool (of one of its Pages, if given).
    Pool { rule_id: String, page_id: Option<String> },
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
            ConversationFilter::Pool { rule_id, page_id } => {
                c.assignee.is_none() && c.pool_rule_id.as_ref() == Some(rule_id) && on_page(page_id)
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
    /// Records the customer's name on an existing conversation (the worker's profile lookup
    /// after creating it); nothing when the conversation does not exist.
    async fn set_customer_name(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        name: &str,
    ) -> Result<(), StoreError>;
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
    /// Deletes a conversation of the shop: its messages first, its header last, so an
    /// interrupted deletion is still listed and the next attempt finishes it. Idempotent;
    /// returns how many messages it deleted.
    async fn delete_conversation(&self, tenant_id: &str, conversation_id: &str) -> Result<usize, StoreError>;
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
