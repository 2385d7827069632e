//! The domain of the Facebook Page inbox: what a Page, a shop member, a conversation and a
//! message are, how Meta's webhook payloads become domain events, who may see what, and the
//! ports (traits) that storage and queue adapters implement.
//!
//! This crate knows nothing of AWS or HTTP clients; adapters live in the `adapters` crate.

pub mod access;
pub mod assignment;
pub mod comments;
pub mod cursor;
pub mod custody;
pub mod event;
pub mod graph;
pub mod ids;
pub mod meta;
pub mod model;
pub mod oauth;
pub mod phones;
pub mod ports;
pub mod queue_ids;
pub mod reply;
pub mod signature;
pub mod signed_request;
pub mod timefmt;

/// Property tests (proptest) of the parsers and rules above, one file per module under test.
#[cfg(test)]
mod props;

pub use event::{EventBody, InboundEvent, QueuedBatch};
pub use model::*;
