//! Domain events: what the webhook hands to the worker through the queue.
//!
//! The webhook groups the events of one POST by conversation (Page + customer), orders each
//! group by Meta's timestamp and queues one [`QueuedBatch`] per group (split only when a group
//! exceeds the queue's message size), with the conversation as the FIFO message group.

use serde::{Deserialize, Serialize};

use crate::model::{Direction, Message, MessageKind, conversation_id};
use crate::queue_ids::{body_dedup_id, fifo_id};

mod jobs;
pub use jobs::{CommentSync, EraseJob, OrphanJob, SyncJob};

/// Version of the queued body format; the worker refuses versions it does not know.
pub const QUEUE_FORMAT_VERSION: u32 = 1;

/// The largest SQS message body we produce (SQS's classic limit; also the SendMessageBatch
/// total). A single event larger than this cannot be queued and is refused loudly.
pub const MAX_QUEUE_BODY_BYTES: usize = 256 * 1024;

/// One event from Meta about one conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundEvent {
    pub page_id: String,
    /// The customer side of the conversation (PSID for Messenger, user id for comments).
    pub customer_id: String,
    /// Meta's event time in Unix milliseconds.
    pub timestamp_ms: i64,
    /// True when it came in `standby[]` (another app holds the thread).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub standby: bool,
    pub body: EventBody,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(rename = "type")]
    pub kind: String,
    /// Kept as JSON: the event body is an internally tagged enum, which serde buffers, and a
    /// borrowed raw value cannot come out of that buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A message from the customer, or an echo of one the Page sent (`direction: out`).
    Message {
        mid: String,
        direction: Direction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<Attachment>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_reply_payload: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to_mid: Option<String>,
        /// For echoes: the app that sent it (None or another app: sent from Meta's own inbox).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<String>,
    },
    Postback {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
    },
    Reaction {
        mid: String,
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reaction: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emoji: Option<String>,
    },
    Read {
        watermark: i64,
    },
    Delivery {
        watermark: i64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mids: Vec<String>,
    },
    Comment {
        comment_id: String,
        verb: String,
        direction: Direction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        post_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_name: Option<String>,
    },
}

impl InboundEvent {
    /// The conversation the event belongs to: the customer's Messenger thread with the Page,
    /// or, for a comment, the author's comments on that post. (The Page's own comment belongs
    /// to the conversation of the comment it answers, which only the store knows: the worker
    /// finds it; this id then only groups the event in the queue.)
    pub fn conversation_id(&self) -> String {
        match &self.body {
            EventBody::Comment { post_id: Some(post), .. } => {
                crate::comments::comment_conversation_id(&self.page_id, &self.customer_id, post)
            }
            _ => conversation_id(&self.page_id, &self.customer_id),
        }
    }

    /// A comment event as the comment it stores (under the comment's id, whatever the verb):
    /// an edit or removal of a comment never seen stores it as it now stands, so nothing is
    /// dropped.
    fn comment_message(&self) -> Option<Message> {
        let EventBody::Comment { comment_id, verb, direction, post_id, parent_id, text, from_name } =
            &self.body
        else {
            return None;
        };
        let mut d = serde_json::Map::new();
        insert_opt(&mut d, "from_name", from_name);
        Some(Message {
            id: comment_id.clone(),
            conversation_id: self.conversation_id(),
            direction: *direction,
            kind: MessageKind::Comment,
            text: text.clone(),
            sent_ms: self.timestamp_ms,
            detail: (!d.is_empty()).then_some(serde_json::Value::Object(d)),
            reply: None,
            comment: Some(crate::comments::CommentState {
                comment_id: comment_id.clone(),
                post_id: post_id.clone(),
                parent_id: parent_id.clone(),
                hidden: verb == "hide",
                removed: verb == "remove",
                ..Default::default()
            }),
        })
    }

    /// What a comment event changes on a comment already stored (None for a new comment).
    pub fn comment_change(&self) -> Option<crate::comments::CommentChange> {
        use crate::comments::CommentChange;
        let EventBody::Comment { verb, text, .. } = &self.body else { return None };
        match verb.as_str() {
            "edited" | "edit" => Some(CommentChange::Edited { text: text.clone(), at_ms: self.timestamp_ms }),
            "remove" | "delete" => Some(CommentChange::Removed),
            "hide" => Some(CommentChange::Hidden(true)),
            "unhide" => Some(CommentChange::Hidden(false)),
            _ => None,
        }
    }

    /// A short name of the event kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self.body {
            EventBody::Message { direction: Direction::Out, .. } => "echo",
            EventBody::Message { .. } => "message",
            EventBody::Postback { .. } => "postback",
            EventBody::Reaction { .. } => "reaction",
            EventBody::Read { .. } => "read",
            EventBody::Delivery { .. } => "delivery",
            EventBody::Comment { .. } => "comment",
        }
    }

    /// The id that makes this event unique for deduplication (Meta's `mid` where there is
    /// one; otherwise derived from fields that are the same on every redelivery).
    pub fn event_id(&self) -> String {
        match &self.body {
            EventBody::Message { mid, .. } => mid.clone(),
            EventBody::Postback { mid: Some(mid), .. } => mid.clone(),
            EventBody::Postback { mid: None, .. } => {
                format!("postback:{}:{}", self.customer_id, self.timestamp_ms)
            }
            EventBody::Reaction { mid, action, .. } => {
                format!("reaction:{mid}:{}:{action}:{}", self.customer_id, self.timestamp_ms)
            }
            EventBody::Read { watermark } => format!("read:{}:{watermark}", self.customer_id),
            EventBody::Delivery { watermark, .. } => {
                format!("delivery:{}:{watermark}", self.customer_id)
            }
            EventBody::Comment { comment_id, verb, .. } if verb == "add" => comment_id.clone(),
            EventBody::Comment { comment_id, verb, .. } => {
                format!("{comment_id}:{verb}:{}", self.timestamp_ms)
            }
        }
    }

    /// Whether the customer wrote this (and so it opens Meta's messaging window).
    pub fn is_from_customer(&self) -> bool {
        match &self.body {
            EventBody::Message { direction, .. } | EventBody::Comment { direction, .. } => {
                *direction == Direction::In
            }
            EventBody::Postback { .. } => true,
            EventBody::Reaction { .. } | EventBody::Read { .. } | EventBody::Delivery { .. } => false,
        }
    }

    /// The message to store for this event, or None for reads and deliveries, which only move
    /// watermarks.
    pub fn to_message(&self) -> Option<Message> {
        let conversation_id = self.conversation_id();
        let id = self.event_id();
        let (direction, kind, text, detail): (Direction, MessageKind, Option<String>, serde_json::Value) =
            match &self.body {
                EventBody::Message {
                    direction,
                    text,
                    attachments,
                    quick_reply_payload,
                    reply_to_mid,
                    app_id,
                    metadata,
                    ..
                } => {
                    let kind = if text.is_none() && !attachments.is_empty() {
                        MessageKind::Attachment
                    } else {
                        MessageKind::Text
                    };
                    let mut d = serde_json::Map::new();
                    if !attachments.is_empty() {
                        d.insert("attachments".into(), serde_json::to_value(attachments).unwrap_or_default());
                    }
                    insert_opt(&mut d, "quick_reply_payload", quick_reply_payload);
                    insert_opt(&mut d, "reply_to_mid", reply_to_mid);
                    insert_opt(&mut d, "app_id", app_id);
                    insert_opt(&mut d, "metadata", metadata);
                    (*direction, kind, text.clone(), serde_json::Value::Object(d))
                }
                EventBody::Postback { title, payload, .. } => {
                    let mut d = serde_json::Map::new();
                    insert_opt(&mut d, "payload", payload);
                    (Direction::In, MessageKind::Postback, title.clone(), serde_json::Value::Object(d))
                }
                EventBody::Reaction { mid, action, reaction, emoji } => {
                    let mut d = serde_json::Map::new();
                    d.insert("target_mid".into(), mid.clone().into());
                    d.insert("action".into(), action.clone().into());
                    insert_opt(&mut d, "reaction", reaction);
                    (Direction::In, MessageKind::Reaction, emoji.clone(), serde_json::Value::Object(d))
                }
                EventBody::Comment { .. } => return self.comment_message(),
                EventBody::Read { .. } | EventBody::Delivery { .. } => return None,
            };
        let detail = match &detail {
            serde_json::Value::Object(m) if m.is_empty() => None,
            _ => Some(detail),
        };
        Some(Message {
            id,
            conversation_id,
            direction,
            kind,
            text,
            sent_ms: self.timestamp_ms,
            detail,
            reply: None,
            comment: None,
        })
    }
}

fn insert_opt(d: &mut serde_json::Map<String, serde_json::Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        d.insert(k.to_string(), serde_json::Value::String(v.clone()));
    }
}

/// The body of one queue message: events of one conversation, oldest first; or one step of a
/// Page's history sync.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedBatch {
    pub v: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<InboundEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncJob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphans: Option<OrphanJob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erase: Option<EraseJob>,
}

impl QueuedBatch {
    /// A body carrying nothing yet, at the current format version (jobs fill in their step).
    pub fn empty() -> QueuedBatch {
        QueuedBatch { v: QUEUE_FORMAT_VERSION, events: Vec::new(), sync: None, orphans: None, erase: None }
    }
}

/// One message to put on the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundQueueMessage {
    /// The FIFO message group: the conversation, so its events are handled in order (at most
    /// 128 characters: [`crate::queue_ids::fifo_id`]).
    pub group_id: String,
    /// Events: SHA-256 of the body (a Meta redelivery of the same POST within the queue's
    /// deduplication window is dropped by the queue itself). Jobs: the job id and step
    /// (`docs/queue-design.md`, "Ids").
    pub dedup_id: String,
    pub body: String,
    /// How many domain events the body carries.
    pub event_count: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("event {event_id} alone is {size} bytes, over the queue's {max}-byte message limit")]
    EventTooLarge { event_id: String, size: usize, max: usize },
    #[error("could not serialise an event")]
    Serialize(#[from] serde_json::Error),
}

/// Groups events by conversation, orders each group by timestamp and turns each group into
/// as few queue messages as the size limit allows.
pub fn plan_queue_messages(
    events: Vec<InboundEvent>,
    max_body: usize,
) -> Result<Vec<OutboundQueueMessage>, PlanError> {
    // Group while keeping the first-seen order of conversations.
    let mut groups: Vec<(String, Vec<InboundEvent>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for ev in events {
        let key = ev.conversation_id();
        match index.get(&key) {
            Some(&i) => groups[i].1.push(ev),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![ev]));
            }
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (group_id, mut evs) in groups {
        // Stable: events with equal timestamps keep Meta's order.
        evs.sort_by_key(|e| e.timestamp_ms);
        let whole =
            QueuedBatch { v: QUEUE_FORMAT_VERSION, events: evs, sync: None, orphans: None, erase: None };
        let body = serde_json::to_string(&whole)?;
        if body.len() <= max_body {
            out.push(make_message(group_id, body, whole.events.len()));
            continue;
        }
        // Too large: pack events greedily into several bodies, preserving order. A body of n
        // events is the empty batch's text, the n events and n - 1 commas; `chunk_len` counts
        // one comma per event, so it starts one byte short of the empty batch.
        let empty_len = format!(r#"{{"v":{QUEUE_FORMAT_VERSION},"events":[]}}"#).len();
        let mut chunk: Vec<InboundEvent> = Vec::new();
        let mut chunk_len = empty_len - 1;
        for ev in whole.events {
            let ev_len = serde_json::to_string(&ev)?.len() + 1;
            if ev_len + empty_len - 1 > max_body {
                return Err(PlanError::EventTooLarge {
                    event_id: ev.event_id(),
                    size: ev_len,
                    max: max_body,
                });
            }
            if chunk_len + ev_len > max_body && !chunk.is_empty() {
                let batch = QueuedBatch {
                    v: QUEUE_FORMAT_VERSION,
                    events: std::mem::take(&mut chunk),
                    sync: None,
                    orphans: None,
                    erase: None,
                };
                let n = batch.events.len();
                out.push(make_message(group_id.clone(), serde_json::to_string(&batch)?, n));
                chunk_len = empty_len - 1;
            }
            chunk_len += ev_len;
            chunk.push(ev);
        }
        if !chunk.is_empty() {
            let n = chunk.len();
            let batch = QueuedBatch {
                v: QUEUE_FORMAT_VERSION,
                events: chunk,
                sync: None,
                orphans: None,
                erase: None,
            };
            out.push(make_message(group_id, serde_json::to_string(&batch)?, n));
        }
    }
    Ok(out)
}

fn make_message(group_id: String, body: String, event_count: usize) -> OutboundQueueMessage {
    let dedup_id = body_dedup_id(&body);
    OutboundQueueMessage { group_id: fifo_id(&group_id), dedup_id, body, event_count }
}

/// Splits queue messages into SendMessageBatch calls: at most `max_entries` each and at most
/// `max_bytes` of bodies in total.
pub fn split_send_batches(
    msgs: &[OutboundQueueMessage],
    max_entries: usize,
    max_bytes: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, m) in msgs.iter().enumerate() {
        let n = i - start;
        if n > 0 && (n == max_entries || bytes + m.body.len() > max_bytes) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += m.body.len();
    }
    if start < msgs.len() {
        out.push(start..msgs.len());
    }
    out
}

#[cfg(test)]
mod tests;
