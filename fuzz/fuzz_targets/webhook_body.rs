//! The webhook's work on a body once its signature is checked (`functions/webhook`, `prepare`):
//! parse it (`domain::meta::parse_notification`), plan the queue messages
//! (`plan_queue_messages`) and split them into SendMessageBatch calls.
//!
//! Asserts: no panic; every body within the queue's limit, deduplicated by its own SHA-256,
//! readable by the worker, in the FIFO group of each event it carries; every parsed event queued
//! exactly once; every send call within SQS's ten entries and 256 KiB.
#![no_main]

use domain::event::{MAX_QUEUE_BODY_BYTES, PlanError, QueuedBatch, plan_queue_messages, split_send_batches};
use domain::meta::parse_notification;
use domain::queue_ids::{MAX_FIFO_ID_LEN, body_dedup_id, fifo_id};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok(parsed) = parse_notification(body) else { return };
    let mut sent: Vec<(String, String, i64)> = Vec::new();
    for ev in &parsed.events {
        // What the worker does with each event, short of the store.
        let _ = (ev.to_message(), ev.comment_change(), ev.is_from_customer(), ev.kind());
        sent.push((ev.conversation_id(), ev.event_id(), ev.timestamp_ms));
    }
    let plan = match plan_queue_messages(parsed.events, MAX_QUEUE_BODY_BYTES) {
        Ok(plan) => plan,
        // Only an event over 256 KiB on its own; the webhook refuses the POST loudly.
        Err(PlanError::EventTooLarge { size, max, .. }) => {
            assert!(size > max.saturating_sub(19), "refused an event of {size} bytes");
            return;
        }
        Err(e) => panic!("plan failed: {e}"),
    };
    let mut queued: Vec<(String, String, i64)> = Vec::new();
    for m in &plan {
        assert!(m.body.len() <= MAX_QUEUE_BODY_BYTES, "body of {} bytes", m.body.len());
        assert_eq!(m.dedup_id, body_dedup_id(&m.body));
        assert!(!m.group_id.is_empty() && m.group_id.len() <= MAX_FIFO_ID_LEN);
        assert!(m.group_id.bytes().all(|c| (b'!'..=b'~').contains(&c)), "group id {:?}", m.group_id);
        let batch: QueuedBatch = serde_json::from_str(&m.body).expect("the worker reads every body");
        assert_eq!(batch.events.len(), m.event_count);
        for ev in batch.events {
            assert_eq!(m.group_id, fifo_id(&ev.conversation_id()));
            queued.push((ev.conversation_id(), ev.event_id(), ev.timestamp_ms));
        }
    }
    sent.sort();
    queued.sort();
    assert_eq!(sent, queued, "every event queued exactly once");
    for range in split_send_batches(&plan, 10, 256 * 1024) {
        let calls = &plan[range];
        assert!(!calls.is_empty() && calls.len() <= 10);
        let bytes: usize = calls.iter().map(|m| m.body.len()).sum();
        assert!(bytes <= 256 * 1024 || calls.len() == 1, "a call of {bytes} bytes");
    }
});
