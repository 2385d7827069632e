//! The promise under faults: every customer message Meta delivers is stored exactly once, in
//! its shop's conversation, and each new conversation is assigned once, while AWS throttles,
//! loses answers, refuses part of a queue batch, the worker dies between two writes, and Graph
//! times out or fails. Real path: signed POSTs to the webhook, SQS (moto, behind the fault
//! proxy), the worker, DynamoDB (moto, behind the proxy); the checker then scans the table
//! straight on moto (`integration_tests::faults`). Each scenario prints one `FAULTS` line (run
//! with `--nocapture` to see them): the figures of docs/RELIABILITY.md.

use std::time::Duration;

use integration_tests::fake_graph::FakeFailure;
use integration_tests::faults::world::{AGENTS_A, OWNER_A, SHOP_A, World, psid};
use integration_tests::faults::{DYNAMO_DATA, DYNAMO_WRITES, Fault, Rule, SQS_DATA, Scenario, run};
use integration_tests::{eventually, get_json, notification, post_json, post_webhook, text_item, token};
use serde_json::json;

/// No fault: the baseline the others are compared with (and proof the checker sees a clean run
/// as clean, turns included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fault_baseline() {
    let out = run(Scenario::new("baseline", 1, 60)).await;
    assert_eq!(out.injected.values().sum::<u64>(), 0);
    out.assert_kept(true);
}

/// DynamoDB answers ProvisionedThroughputExceeded / Throttling to 10% of the worker's calls,
/// SQS RequestThrottled / Throttling to 40% of the webhook's SendMessageBatch calls and 15% of
/// the worker's receives and deletes. The SDK retries;
/// what still fails is retried by SQS (worker) or by Meta (webhook answers 500).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling() {
    let mut s = Scenario::new("throttling", 2, 60);
    s.rules = vec![
        Rule { ops: DYNAMO_DATA, fault: Fault::Throttle, per_mille: 100 },
        Rule { ops: &["SendMessageBatch"], fault: Fault::Throttle, per_mille: 400 },
        Rule { ops: SQS_DATA, fault: Fault::Throttle, per_mille: 150 },
    ];
    let out = run(s).await;
    assert!(out.injected.get("Throttle SendMessageBatch").is_some_and(|n| *n > 3), "{:?}", out.injected);
    assert!(out.injected.keys().any(|k| k.starts_with("Throttle PutItem")), "{:?}", out.injected);
    // A throttled write wrote nothing, so no turn is lost either.
    out.assert_kept(true);
}

/// Lost answers: the write happens, the answer is a 500, the SDK (or SQS, or Meta) tries again
/// a write that already succeeded. 15% of DynamoDB writes, 20% of SendMessageBatch and
/// DeleteMessage, 10% of ReceiveMessage (its records come back after the visibility timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers() {
    let mut s = Scenario::new("lost-answers", 3, 60);
    s.rules = vec![
        Rule { ops: DYNAMO_WRITES, fault: Fault::LoseAnswer, per_mille: 150 },
        Rule { ops: &["SendMessageBatch", "DeleteMessage"], fault: Fault::LoseAnswer, per_mille: 200 },
        Rule { ops: &["ReceiveMessage"], fault: Fault::LoseAnswer, per_mille: 100 },
    ];
    let out = run(s).await;
    assert!(out.injected.get("LoseAnswer PutItem").is_some_and(|n| *n > 0), "{:?}", out.injected);
    assert!(out.injected.get("LoseAnswer SendMessageBatch").is_some_and(|n| *n > 0), "{:?}", out.injected);
    // A retried turn counter write spends a turn twice: fairness may slip, the promise may not.
    out.assert_kept(false);
}

/// SendMessageBatch refuses part of its entries (reported in `Failed`, as SQS does) in half of
/// the webhook's batches: the webhook sends the refused ones again, or answers 500 and Meta
/// sends the whole POST again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_batch_failure() {
    let mut s = Scenario::new("partial-batch", 4, 60);
    s.rules = vec![Rule { ops: &["SendMessageBatch"], fault: Fault::PartialBatch, per_mille: 500 }];
    let out = run(s).await;
    assert!(out.injected.get("PartialBatch SendMessageBatch").is_some_and(|n| *n > 3), "{:?}", out.injected);
    out.assert_kept(true);
}

/// The worker dies between two DynamoDB writes of a record, four times at different points
/// (after the 5th, 13th, 29th and 8th write of each new worker): its records come back after
/// the visibility timeout to a fresh worker, which finds the writes already made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_between_writes() {
    let mut s = Scenario::new("worker-killed", 5, 60);
    s.kills = vec![5, 13, 29, 8];
    let out = run(s).await;
    assert!(out.injected.get("Kill").is_some_and(|n| *n >= 2), "{:?}", out.injected);
    // A crash between the turn and the assignment may cost a turn (docs/table-design.md).
    out.assert_kept(false);
}

/// Graph fails the worker's profile lookups of new conversations: answers slower than the
/// client's timeout, 500s, a proxy's HTML 502, and a 500 after answering (a lost answer). The
/// name stays unknown for those; storage and assignment never wait on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_faults_on_profile_lookups() {
    let mut s = Scenario::new("graph-faults", 6, 60);
    s.graph = (0..12)
        .map(|i| match i % 4 {
            0 => FakeFailure::Delay(Duration::from_millis(900)),
            1 => FakeFailure::error(500, 2, None, "An unexpected error has occurred."),
            2 => FakeFailure::Raw { status: 502, body: "<html>Bad Gateway</html>".into() },
            _ => FakeFailure::AfterHandling { status: 500 },
        })
        .collect();
    let out = run(s).await;
    assert!(out.profile_lookups >= 20, "each new conversation looked up: {}", out.profile_lookups);
    assert_eq!(out.names_known, 20 - 12, "the failed lookups leave the name unknown, the others set it");
    out.assert_kept(true);
}

/// A reply is recorded before the Send API call, so an ambiguous send is never repeated. When
/// that record's write loses its answer, the SDK writes again and meets its own record: the
/// reply must still go out, once (not be taken for a repeated request and never sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_whose_record_lost_its_answer_goes_out_once() {
    let world = World::new(7).await;
    let conv = format!("1101_{}", psid(0));
    let now = domain::timefmt::now_ms();
    let body =
        notification("1101", vec![text_item("1101", &psid(0), now - 60_000, "in-0", "Còn hàng không?")]);
    assert_eq!(post_webhook(&world.front, &body).await, 200);
    let owner = token(OWNER_A, SHOP_A, "owner");
    eventually(30, "the conversation, assigned", || async {
        let (_, c) = get_json(&world.front, &format!("/api/conversations/{conv}"), &owner).await;
        c["assignee"].as_str().map(|_| ())
    })
    .await;
    world.proxy.next_call("PutItem", Fault::LoseAnswer);
    let path = format!("/api/conversations/{conv}/messages");
    let (s, b) = post_json(&world.front, &path, &owner, json!({"text": "Dạ còn ạ"})).await;
    assert_eq!(world.proxy.injected().get("LoseAnswer PutItem"), Some(&1), "the record's answer was lost");
    assert_eq!(world.fake.state().sent.len(), 1, "the reply went out once: {s} {b}");
    assert_eq!((s, b["status"].as_str()), (201, Some("sent")), "{b}");
}

/// Round robin when the assignment's write loses its answer: the SDK writes again, the
/// condition (`assign_state = pending`) fails on the worker's own write, and the worker must not
/// take it for another delivery's and give back the turn it used (the next conversation would
/// take that turn again: the same agent twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_whose_answer_is_lost_spends_its_turn_once() {
    let world = World::new(8).await;
    let owner = token(OWNER_A, SHOP_A, "owner");
    let now = domain::timefmt::now_ms();
    let mut assignees = Vec::new();
    // Customers 1, 4, 7, 10 and 13 write to the shared Page 1102, one after the other; the first
    // assignment's answer is lost.
    world.proxy.next_call_with("UpdateItem", "assign_state = :done", Fault::LoseAnswer);
    for c in [1, 4, 7, 10, 13] {
        let conv = format!("1102_{}", psid(c));
        let body =
            notification("1102", vec![text_item("1102", &psid(c), now - 1000, &format!("rr-{c}"), "alo")]);
        assert_eq!(post_webhook(&world.front, &body).await, 200);
        let a = eventually(30, "the conversation, assigned", || async {
            let (_, h) = get_json(&world.front, &format!("/api/conversations/{conv}"), &owner).await;
            h["assignee"].as_str().map(String::from)
        })
        .await;
        assignees.push(a);
        // The record is done (its turn spent or given back) before the next customer writes.
        eventually(30, "the record done", || async { (world.queue_depth().await == 0).then_some(()) }).await;
    }
    assert_eq!(
        world.proxy.injected().get("LoseAnswer UpdateItem"),
        Some(&1),
        "the assignment's answer was lost"
    );
    let want: Vec<&str> = AGENTS_A.iter().chain(&AGENTS_A[..2]).copied().collect();
    assert_eq!(assignees, want, "one turn each, in order");
}
