//! Adapters for the domain's ports: DynamoDB and SQS, their in-memory twins, configuration
//! read once at start-up, and telemetry.

pub mod config;
pub mod crypto;
pub mod cursor;
pub mod dynamo;
pub mod facebook;
pub mod graph;
pub mod memory;
pub mod retry;
pub mod secrets;
pub mod sqs;
pub mod telemetry;
pub mod walk;
pub mod wiring;

use std::sync::Arc;

use domain::ports::{
    CommentStore, ConversationStore, ErasureStore, EventQueue, FacebookUserStore, MemberStore, NonceStore,
    PageStore, QueueConsumer, RuleStore,
};

/// Every store port, backed by one implementation.
#[derive(Clone)]
pub struct Stores {
    pub pages: Arc<dyn PageStore>,
    pub members: Arc<dyn MemberStore>,
    pub conversations: Arc<dyn ConversationStore>,
    pub nonces: Arc<dyn NonceStore>,
    pub rules: Arc<dyn RuleStore>,
    pub facebook_users: Arc<dyn FacebookUserStore>,
    pub erasure: Arc<dyn ErasureStore>,
    pub comments: Arc<dyn CommentStore>,
}

impl Stores {
    pub fn from_one<S>(s: Arc<S>) -> Stores
    where
        S: PageStore
            + MemberStore
            + ConversationStore
            + NonceStore
            + RuleStore
            + FacebookUserStore
            + ErasureStore
            + CommentStore
            + 'static,
    {
        Stores {
            pages: s.clone(),
            members: s.clone(),
            nonces: s.clone(),
            rules: s.clone(),
            facebook_users: s.clone(),
            erasure: s.clone(),
            comments: s.clone(),
            conversations: s,
        }
    }
}

/// Both queue ports, backed by one implementation.
#[derive(Clone)]
pub struct Queues {
    pub producer: Arc<dyn EventQueue>,
    pub consumer: Arc<dyn QueueConsumer>,
}

impl Queues {
    pub fn from_one<Q>(q: Arc<Q>) -> Queues
    where
        Q: EventQueue + QueueConsumer + 'static,
    {
        Queues { producer: q.clone(), consumer: q }
    }
}
