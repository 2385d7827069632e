//! In-memory twins of the store and the FIFO queue, for the local stack and fast tests.
//! They keep the semantics the DynamoDB and SQS adapters rely on (conditional writes,
//! monotonic activity, FIFO groups, visibility timeouts, dead-lettering) and pass the same
//! contract tests.
//!
//! One file per port, as in the DynamoDB store: `pages`, `members`, `nonces`, `rules` (with the
//! round-robin turn counter in `turns`), `conversations` (with the inbox listing in `inbox` and replies in `replies`),
//! and the queue in `queue`.

mod comments;
mod conversations;
mod erasure;
mod facebook_users;
mod inbox;
mod members;
mod nonces;
mod pages;
mod queue;
mod replies;
mod rules;
mod turns;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use domain::model::{Conversation, Member, Message, PageRecord, PageRoute, Rule};

pub use queue::MemoryQueue;

#[derive(Default)]
struct StoreState {
    members: BTreeMap<(String, String), Member>,
    /// (tenant, email) → what the member item holds besides the member: the bound `sub` and
    /// the count of rules that gained them as an agent.
    member_extras: HashMap<(String, String), MemberExtras>,
    /// Shops whose first owner founded them.
    founded: HashSet<String>,
    pages: BTreeMap<(String, String), PageRecord>,
    routes: HashMap<String, PageRoute>,
    page_tokens: HashMap<(String, String), String>,
    /// page → the route's version and lease
    route_meta: HashMap<String, pages::RouteMeta>,
    /// (tenant, page) → the Page item's version and token expiry
    page_meta: HashMap<(String, String), pages::PageMeta>,
    /// page → (last event, connected at)
    deliveries: HashMap<String, (Option<i64>, i64)>,
    /// The health sweep's progress and claim.
    health_sweep: pages::SweepState,
    nonces: HashMap<String, i64>,
    rules: BTreeMap<(String, String), Rule>,
    human_agent: HashSet<String>,
    /// (tenant, rule) → turns taken
    turns: HashMap<(String, String), u64>,
    /// (tenant, rule) → turns given back, taken again first
    returned_turns: HashMap<(String, String), BTreeSet<u64>>,
    conversations: HashMap<(String, String), Conversation>,
    /// (tenant, conversation) → message id → message
    messages: HashMap<(String, String), HashMap<String, Message>>,
    /// (tenant, conversation) → reply id → the reply's record (see `replies`)
    replies: HashMap<(String, String), HashMap<String, replies::ReplyRow>>,
    /// The inbox move log (see `walk`): (label, tenant, conversation, place before the move),
    /// in label order.
    moves: VecDeque<(i64, String, String, String)>,
    /// The last move label handed out; labels strictly increase.
    last_label: i64,
    facebook: facebook_users::FacebookUsers,
    /// (tenant, page) → the Page's auto-hide setting (absent: off)
    auto_hide: HashMap<(String, String), domain::comments::AutoHide>,
    /// (tenant, Messenger conversation) → the hand-off waiting for it
    handoffs: HashMap<(String, String), domain::comments::Handoff>,
}

#[derive(Debug, Clone, Default)]
struct MemberExtras {
    sub: Option<String>,
    agent_grants: u64,
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<StoreState>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoreState> {
        // A panic while holding the lock cannot leave a half-applied write behind (each
        // operation mutates at the end), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The key of a shop's entry (member, Page, rule, conversation) in the store's maps.
fn key(tenant_id: &str, id: &str) -> (String, String) {
    (tenant_id.to_string(), id.to_string())
}

/// The entries of one shop in a map keyed by [`key`], in key order.
fn of_shop<V: Clone>(map: &BTreeMap<(String, String), V>, tenant_id: &str) -> Vec<V> {
    map.iter().filter(|((t, _), _)| t == tenant_id).map(|(_, v)| v.clone()).collect()
}
