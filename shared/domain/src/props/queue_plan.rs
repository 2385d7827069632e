//! The queue plan's size limit (`event::plan_queue_messages`): every body it makes fits the
//! limit to the byte, and an event is refused as too large exactly when its body alone would
//! not fit. Cheap (no parsing), so many cases, with sizes that land on the limit's edges.

use proptest::prelude::*;

use crate::event::{
    EventBody, InboundEvent, PlanError, QUEUE_FORMAT_VERSION, QueuedBatch, plan_queue_messages,
};
use crate::model::Direction;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(3000)
}

fn event(customer: &str, i: usize, text_len: usize) -> InboundEvent {
    InboundEvent {
        page_id: "1".into(),
        customer_id: customer.into(),
        timestamp_ms: i as i64,
        standby: false,
        body: EventBody::Message {
            mid: format!("m{i}"),
            direction: Direction::In,
            text: Some("x".repeat(text_len)),
            attachments: vec![],
            quick_reply_payload: None,
            reply_to_mid: None,
            app_id: None,
            metadata: None,
        },
    }
}

/// The body of a batch holding `events` alone.
fn body_of(events: Vec<InboundEvent>) -> String {
    let b = QueuedBatch { v: QUEUE_FORMAT_VERSION, events, sync: None, orphans: None, erase: None };
    serde_json::to_string(&b).expect("json")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_body_fits_the_limit_to_the_byte(
        sizes in prop::collection::vec((0usize..2, 0usize..400), 1..8),
        max_body in 100usize..2_500,
    ) {
        let events: Vec<InboundEvent> =
            sizes.iter().enumerate().map(|(i, (c, len))| event(if *c == 0 { "2" } else { "3" }, i, *len)).collect();
        let n = events.len();
        match plan_queue_messages(events.clone(), max_body) {
            Ok(plan) => {
                for m in &plan {
                    prop_assert!(m.body.len() <= max_body, "a body of {} bytes over {}", m.body.len(), max_body);
                }
                prop_assert_eq!(plan.iter().map(|m| m.event_count).sum::<usize>(), n);
            }
            Err(PlanError::EventTooLarge { event_id, .. }) => {
                let ev = events.iter().find(|e| e.event_id() == event_id).expect("the refused event").clone();
                let alone = body_of(vec![ev]).len();
                prop_assert!(alone > max_body, "{} refused, but its body alone is {} of {} bytes", event_id, alone, max_body);
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}
