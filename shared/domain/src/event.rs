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
        // Too large: pack events greedily into several bodies, preserving order.
        let mut chunk: Vec<InboundEvent> = Vec::new();
        let mut chunk_len = 16usize; // {"v":1,"events":[]}
        for ev in whole.events {
            let ev_len = serde_json::to_string(&ev)?.len() + 1;
            if ev_len + 16 > max_body {
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
                chunk_len = 16;
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
mod tests {
    use super::*;

    fn text_event(page: &str, customer: &str, ts: i64, mid: &str) -> InboundEvent {
        InboundEvent {
            page_id: page.into(),
            customer_id: customer.into(),
            timestamp_ms: ts,
            standby: false,
            body: EventBody::Message {
                mid: mid.into(),
                direction: Direction::In,
                text: Some("x".repeat(100)),
                attachments: vec![],
                quick_reply_payload: None,
                reply_to_mid: None,
                app_id: None,
                metadata: None,
            },
        }
    }

    #[test]
    fn groups_by_conversation_and_orders_by_timestamp() {
        let evs = vec![
            text_event("p", "a", 3, "m3"),
            text_event("p", "b", 1, "m1b"),
            text_event("p", "a", 1, "m1"),
            text_event("p", "a", 2, "m2"),
        ];
        let plan = plan_queue_messages(evs, MAX_QUEUE_BODY_BYTES).expect("plan");
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].group_id, "p_a");
        let batch: QueuedBatch = serde_json::from_str(&plan[0].body).expect("body");
        let mids: Vec<String> = batch.events.iter().map(|e| e.event_id()).collect();
        assert_eq!(mids, ["m1", "m2", "m3"]);
        assert_eq!(plan[1].group_id, "p_b");
        assert_eq!(plan[0].dedup_id.len(), 64);
    }

    #[test]
    fn splits_an_oversized_group_in_order() {
        let evs: Vec<_> = (0..50).map(|i| text_event("p", "a", i, &format!("m{i}"))).collect();
        let plan = plan_queue_messages(evs, 1000).expect("plan");
        assert!(plan.len() > 5, "expected several bodies, got {}", plan.len());
        let mut seen = Vec::new();
        for m in &plan {
            assert!(m.body.len() <= 1000, "body of {} bytes", m.body.len());
            assert_eq!(m.group_id, "p_a");
            let b: QueuedBatch = serde_json::from_str(&m.body).expect("body");
            seen.extend(b.events.into_iter().map(|e| e.timestamp_ms));
        }
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn every_kind_survives_the_queue_round_trip() {
        let body = br#"{"object":"page","entry":[{"id":"P","messaging":[
            {"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":1,"message":{"mid":"a","attachments":[{"type":"image","payload":{"url":"https://x\/y.jpg"}}]}},
            {"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":2,"postback":{"title":"t","payload":"p"}},
            {"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":3,"reaction":{"mid":"a","action":"react","emoji":"x"}},
            {"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":4,"read":{"watermark":3}},
            {"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":5,"delivery":{"watermark":3,"mids":["a"]}}],
            "changes":[{"field":"feed","value":{"item":"comment","verb":"add","comment_id":"c","from":{"id":"U"},"message":"m","created_time":6}}]}]}"#;
        let parsed = crate::meta::parse_notification(body).expect("parse");
        assert_eq!(parsed.events.len(), 6);
        let plan = plan_queue_messages(parsed.events, MAX_QUEUE_BODY_BYTES).expect("plan");
        let back: QueuedBatch = serde_json::from_str(&plan[0].body).expect("the worker can read it");
        assert_eq!(back.events.len(), 6);
        let m = back.events[0].to_message().expect("message");
        assert_eq!(m.kind, "attachment");
        assert_eq!(
            m.detail.map(|d| d["attachments"][0]["payload"]["url"].clone()),
            Some(serde_json::json!("https://x/y.jpg"))
        );
    }

    fn comment(verb: &str, from: &str, text: Option<&str>, ts: i64) -> InboundEvent {
        let page = "1";
        InboundEvent {
            page_id: page.into(),
            customer_id: from.into(),
            timestamp_ms: ts,
            standby: false,
            body: EventBody::Comment {
                comment_id: "5_6".into(),
                verb: verb.into(),
                direction: if from == page { Direction::Out } else { Direction::In },
                post_id: Some("1_5".into()),
                parent_id: Some("1_5".into()),
                text: text.map(str::to_string),
                from_name: Some("Lan".into()),
            },
        }
    }

    #[test]
    fn a_comment_is_stored_under_its_id_in_its_post_conversation_whatever_the_verb() {
        use crate::comments::CommentChange;
        let add = comment("add", "9", Some("chốt"), 10);
        assert_eq!(add.conversation_id(), "1_9_p5");
        let m = add.to_message().expect("message");
        assert_eq!(
            (m.id.as_str(), m.kind, m.conversation_id.as_str()),
            ("5_6", MessageKind::Comment, "1_9_p5")
        );
        let state = m.comment.expect("comment state");
        assert_eq!((state.post_id.as_deref(), state.hidden, state.removed), (Some("1_5"), false, false));
        assert_eq!(add.comment_change(), None);
        // An edit: the same message id (the comment's), applied as a change.
        let edit = comment("edited", "9", Some("chốt 2"), 20);
        assert_eq!(edit.to_message().map(|m| m.id), Some("5_6".to_string()));
        assert_eq!(
            edit.comment_change(),
            Some(CommentChange::Edited { text: Some("chốt 2".into()), at_ms: 20 })
        );
        // The queue's deduplication still tells the add and its edit apart.
        assert_ne!(add.event_id(), edit.event_id());
        let removed = comment("remove", "9", None, 30);
        assert_eq!(removed.comment_change(), Some(CommentChange::Removed));
        assert!(removed.to_message().and_then(|m| m.comment).is_some_and(|c| c.removed));
        assert_eq!(comment("hide", "9", None, 30).comment_change(), Some(CommentChange::Hidden(true)));
        assert_eq!(comment("unhide", "9", None, 30).comment_change(), Some(CommentChange::Hidden(false)));
        // The Page's own comment is outgoing.
        assert_eq!(
            comment("add", "1", Some("Dạ"), 40).to_message().map(|m| m.direction),
            Some(Direction::Out)
        );
        // Messenger conversations keep their id.
        assert_eq!(text_event("1", "9", 1, "m").conversation_id(), "1_9");
    }

    #[test]
    fn refuses_a_single_event_over_the_limit() {
        let err = plan_queue_messages(vec![text_event("p", "a", 1, "m")], 100).unwrap_err();
        assert!(matches!(err, PlanError::EventTooLarge { .. }));
    }

    #[test]
    fn send_batches_respect_count_and_bytes() {
        let mk = |n: usize| OutboundQueueMessage {
            group_id: "g".into(),
            dedup_id: "d".into(),
            body: "x".repeat(n),
            event_count: 1,
        };
        let msgs: Vec<_> = (0..25).map(|_| mk(10)).collect();
        let b = split_send_batches(&msgs, 10, 1000);
        assert_eq!(b, vec![0..10, 10..20, 20..25]);
        let msgs: Vec<_> = (0..5).map(|_| mk(400)).collect();
        let b = split_send_batches(&msgs, 10, 1000);
        assert_eq!(b, vec![0..2, 2..4, 4..5]);
    }

    /// Finding 6: a Page data deletion is a queue step of its own kind; its group id stays
    /// within SQS's 128 characters whatever the ids, and a repeated request is not a duplicate.
    #[test]
    fn erase_steps_round_trip_in_a_bounded_group_and_repeats_are_not_duplicates() {
        let job =
            EraseJob { tenant_id: "t".repeat(64), page_id: "1".repeat(32), request_id: "r1".into(), step: 3 };
        let m = job.to_queue_message().expect("encode");
        assert!(m.group_id.len() <= 128 && m.group_id.starts_with("erase_"), "{}", m.group_id);
        let back: QueuedBatch = serde_json::from_str(&m.body).expect("decode");
        assert_eq!(back.erase, Some(job.clone()));
        assert!(back.events.is_empty() && back.sync.is_none() && back.orphans.is_none());
        let again = EraseJob { request_id: "r2".into(), ..job.clone() }.to_queue_message().expect("encode");
        assert_eq!(again.group_id, m.group_id, "one group per shop and Page");
        assert_ne!(again.dedup_id, m.dedup_id, "a new request is not swallowed by deduplication");
        // Bodies written before the field existed still read.
        let old: QueuedBatch = serde_json::from_str(r#"{"v":1,"events":[]}"#).expect("old body");
        assert!(old.erase.is_none());
    }
}
