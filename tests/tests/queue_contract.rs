//! The same contract for both queue implementations: the in-memory FIFO twin and SQS FIFO on moto.

use std::sync::Arc;
use std::time::Duration;

use adapters::Queues;
use adapters::memory::MemoryQueue;
use domain::event::OutboundQueueMessage;
use integration_tests::moto_queue;

fn msg(group: &str, body: &str) -> OutboundQueueMessage {
    OutboundQueueMessage {
        group_id: group.into(),
        dedup_id: format!("{group}-{body}"),
        body: body.into(),
        event_count: 1,
    }
}

/// Receives until `n` messages came or the time is up.
async fn receive_n(q: &Queues, n: usize, secs: u64) -> Vec<domain::ports::ReceivedMessage> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    while out.len() < n && std::time::Instant::now() < deadline {
        out.extend(q.consumer.receive(10, 1).await.expect("receive"));
    }
    out
}

async fn groups_come_in_order_and_block_while_in_flight(q: Queues) {
    q.producer.send_batch(&[msg("g1", "a1"), msg("g2", "b1"), msg("g1", "a2")]).await.expect("send");
    q.producer.send_batch(&[msg("g1", "a3")]).await.expect("send");
    let got = receive_n(&q, 4, 5).await;
    let g1: Vec<_> =
        got.iter().filter(|m| m.group_id.as_deref() == Some("g1")).map(|m| m.body.clone()).collect();
    assert_eq!(g1, ["a1", "a2", "a3"], "one group's messages keep their order");
    assert!(got.iter().any(|m| m.body == "b1"));
    assert!(got.iter().all(|m| m.receive_count == 1));
    // While they are in flight nothing else of their groups is handed out.
    q.producer.send_batch(&[msg("g1", "a4")]).await.expect("send");
    assert!(q.consumer.receive(10, 1).await.expect("receive").is_empty(), "g1 is blocked while in flight");
    for m in &got {
        q.consumer.delete(&m.receipt_handle).await.expect("delete");
    }
    let next = receive_n(&q, 1, 5).await;
    assert_eq!(next.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["a4"]);
}

async fn duplicates_within_the_window_are_dropped(q: Queues) {
    q.producer.send_batch(&[msg("g", "same")]).await.expect("send");
    q.producer.send_batch(&[msg("g", "same")]).await.expect("send again");
    let got = receive_n(&q, 2, 3).await;
    assert_eq!(got.len(), 1);
}

/// Finding 7 (FIFO deduplication): a job queued twice within the deduplication window (a
/// history sync of one Page asked for twice, a member's re-homing queued again) runs twice,
/// and a long re-homing group id is one SQS accepts; the same step queued twice by one job is
/// still dropped.
async fn a_repeated_job_is_not_swallowed(q: Queues) {
    use domain::event::{OrphanJob, SyncJob};
    let first = SyncJob::first("shop-a", "1501").to_queue_message().expect("first");
    let second = SyncJob::first("shop-a", "1501").to_queue_message().expect("second");
    q.producer.send_batch(std::slice::from_ref(&first)).await.expect("send first");
    q.producer.send_batch(&[second]).await.expect("send second");
    q.producer.send_batch(&[first]).await.expect("the same step again");
    let tenant = "t".repeat(domain::ids::TenantId::MAX_LEN);
    let email = format!("{}@{}.vn", "n".repeat(60), "d".repeat(120));
    let orphans = OrphanJob::first(&tenant, &email, Some("rule-1")).to_queue_message().expect("orphans");
    q.producer.send_batch(&[orphans]).await.expect("a long group id is accepted");
    // Each message acknowledged as it comes, so a group's next one is handed out.
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    let mut got = Vec::new();
    while std::time::Instant::now() < deadline {
        for m in q.consumer.receive(10, 1).await.expect("receive") {
            q.consumer.delete(&m.receipt_handle).await.expect("delete");
            got.push(m);
        }
    }
    let syncs = got.iter().filter(|m| m.body.contains("\"sync\"")).count();
    assert_eq!(syncs, 2, "two syncs queued, two run; the repeated step is dropped");
    assert_eq!(got.iter().filter(|m| m.body.contains("\"orphans\"")).count(), 1);
}

async fn unacknowledged_messages_come_back_then_dead_letter(q: Queues) {
    // Visibility 1 s, max receives 2 (see the table at the end).
    q.producer.send_batch(&[msg("g", "poison")]).await.expect("send");
    let first = receive_n(&q, 1, 5).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    // Not deleted: after the visibility timeout it is delivered again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = receive_n(&q, 1, 5).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].receive_count, 2);
    assert_eq!(second[0].message_id, first[0].message_id);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Past the maximum receives it goes to the dead-letter queue, not to the consumer.
    let third = q.consumer.receive(10, 2).await.expect("receive");
    assert!(third.is_empty(), "a dead-lettered message is not delivered again");
    let mut depth = 0;
    for _ in 0..20 {
        depth = q.consumer.dead_letter_depth().await.expect("depth");
        if depth == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(depth, 1);
}

async fn released_messages_come_back_at_once(q: Queues) {
    q.producer.send_batch(&[msg("g", "x")]).await.expect("send");
    let first = receive_n(&q, 1, 5).await;
    q.consumer.release(&first[0].receipt_handle).await.expect("release");
    let again = receive_n(&q, 1, 1).await;
    assert_eq!(again.len(), 1, "released message is visible before its timeout");
    q.consumer.delete(&again[0].receipt_handle).await.expect("delete");
    assert!(q.consumer.receive(10, 1).await.expect("receive").is_empty());
}

macro_rules! contract {
    ($($name:ident($vis:expr, $max:expr)),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(Queues::from_one(Arc::new(MemoryQueue::new(Duration::from_secs($vis), $max)))).await;
                }
            )*
        }
        mod sqs_on_moto {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(Queues::from_one(Arc::new(moto_queue($vis, $max).await))).await;
                }
            )*
        }
    };
}

// (visibility timeout in seconds, maximum receives before dead-lettering)
contract!(
    groups_come_in_order_and_block_while_in_flight(30, 5),
    duplicates_within_the_window_are_dropped(30, 5),
    a_repeated_job_is_not_swallowed(30, 5),
    unacknowledged_messages_come_back_then_dead_letter(1, 2),
    released_messages_come_back_at_once(30, 5),
);
