//! DynamoDB on the wire: the worker runs against moto through a client whose interceptor
//! records every request it sends (operation, and how many items it writes), to count what an
//! inbound message costs, and can lose the answers to transactions, to test what a lost answer
//! does.

use std::sync::{Arc, Mutex};

use adapters::Stores;
use adapters::dynamo::DynamoStore;
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use domain::model::PageStatus;
use integration_tests::*;

/// What the interceptor saw, and the faults it is told to make.
#[derive(Debug, Default)]
struct Requests {
    /// (operation, items written) of every request sent.
    sent: Mutex<Vec<(String, usize)>>,
    /// How many more TransactWriteItems answers to lose: the request reaches the server (and
    /// may commit there), the client sees a 500.
    lose_transactions: std::sync::atomic::AtomicUsize,
    losing_this_one: std::sync::atomic::AtomicBool,
}

impl Requests {
    fn take(&self) -> Vec<(String, usize)> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[derive(Debug, Clone)]
struct Recorder(Arc<Requests>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "RequestRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let op = request.headers().get("x-amz-target").unwrap_or_default();
        let mut op = op.trim_start_matches("DynamoDB_20120810.").to_string();
        let body: serde_json::Value =
            request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
        if op == "UpdateItem" && body["Key"]["pk"]["S"].as_str().is_some_and(|pk| pk.starts_with("PAGE#")) {
            op.push_str(":PAGE#");
        }
        let writes = match op.as_str() {
            "PutItem" | "UpdateItem" | "UpdateItem:PAGE#" | "DeleteItem" => 1,
            "TransactWriteItems" => body["TransactItems"].as_array().map_or(0, Vec::len),
            "BatchWriteItem" => body["RequestItems"]
                .as_object()
                .map_or(0, |t| t.values().filter_map(|v| v.as_array()).map(Vec::len).sum()),
            _ => 0,
        };
        use std::sync::atomic::Ordering::SeqCst;
        let lose = op == "TransactWriteItems"
            && self.0.lose_transactions.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok();
        self.0.losing_this_one.store(lose, SeqCst);
        self.0.sent.lock().unwrap_or_else(|p| p.into_inner()).push((op, writes));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if self.0.losing_this_one.swap(false, std::sync::atomic::Ordering::SeqCst) {
            let response = context.response_mut();
            *response.status_mut() = 500u16.try_into()?;
            response.headers_mut().insert("x-amzn-ErrorType", "InternalServerError");
        }
        Ok(())
    }
}

fn record(body: &str, n: usize) -> SqsEvent {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../events/assignment-sqs-batch.json")).expect("sample");
    let mut r = event["Records"][0].clone();
    r["body"] = body.into();
    r["messageId"] = format!("msg-{n}").into();
    event["Records"] = serde_json::json!([r]);
    serde_json::from_value(event).expect("SQS event")
}

fn queued(psid: &str, ts: i64, mid: &str) -> String {
    let body =
        notification("111111111111111", vec![text_item("111111111111111", psid, ts, mid, "Còn size M?")]);
    let parsed = domain::meta::parse_notification(body.as_bytes()).expect("parse");
    let planned = domain::event::plan_queue_messages(parsed.events, 200_000).expect("plan");
    assert_eq!(planned.len(), 1);
    planned[0].body.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_in_an_existing_conversation_costs_three_writes() {
    let requests = Arc::new(Requests::default());
    let cfg = moto_config().await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&cfg).interceptor(Recorder(requests.clone())).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), unique("tbl"));
    store.create_table_if_missing().await.expect("table");
    let stores = Stores::from_one(Arc::new(store));
    connect_only_me(&stores, "shop-a", "111111111111111", "owner@shop-a.vn", PageStatus::Connected).await;
    let worker = assignment::Worker::new(stores.clone());
    requests.take();

    let writes = |reqs: &[(String, usize)]| reqs.iter().map(|(_, w)| w).sum::<usize>();
    // A new conversation: the message, the header, the assignment; and the Page's delivery
    // heartbeat on the route item, which a worker writes at most once per interval per Page
    // (not per message).
    let out = worker.handle_sqs(record(&queued("2222", 1_764_000_000_000, "m-1"), 1)).await;
    assert!(out.batch_item_failures.is_empty());
    let mut first = requests.take();
    let heartbeats = first.iter().filter(|(op, _)| op == "UpdateItem:PAGE#").count();
    assert_eq!(heartbeats, 1, "{first:?}");
    first.retain(|(op, _)| op != "UpdateItem:PAGE#");
    assert_eq!(writes(&first), 3, "{first:?}");

    // Each further message: the header's move with its log entry, and the message.
    for i in 2..=4 {
        let out = worker
            .handle_sqs(record(&queued("2222", 1_764_000_000_000 + i, &format!("m-{i}")), i as usize))
            .await;
        assert!(out.batch_item_failures.is_empty());
        let reqs = requests.take();
        assert_eq!(writes(&reqs), 3, "{reqs:?}");
        let ops: Vec<&str> = reqs.iter().filter(|(_, w)| *w > 0).map(|(op, _)| op.as_str()).collect();
        assert_eq!(ops, ["TransactWriteItems", "PutItem"], "{reqs:?}");
        assert!(reqs.iter().all(|(op, _)| op != "Scan"), "{reqs:?}");
    }

    // The header's last message is the newest one, written by the moves above (no write of
    // its own); a late older message is stored alone and leaves it.
    let last = |c: Option<domain::model::Conversation>| {
        c.and_then(|c| c.last_message).map(|m| (m.sent_ms, m.text, m.direction))
    };
    let newest = Some((1_764_000_000_004, Some("Còn size M?".to_string()), domain::model::Direction::In));
    let conv = stores.conversations.conversation("shop-a", "111111111111111_2222").await.expect("get");
    assert_eq!(last(conv), newest);
    let out = worker.handle_sqs(record(&queued("2222", 1_764_000_000_001, "m-late"), 8)).await;
    assert!(out.batch_item_failures.is_empty());
    let late = requests.take();
    assert_eq!(writes(&late), 1, "{late:?}");
    let conv = stores.conversations.conversation("shop-a", "111111111111111_2222").await.expect("get");
    assert_eq!(last(conv), newest);

    // A redelivered message writes nothing new: its PutItem fails the condition and the header
    // has seen its time already.
    let out = worker.handle_sqs(record(&queued("2222", 1_764_000_000_004, "m-4"), 9)).await;
    assert!(out.batch_item_failures.is_empty());
    let again = requests.take();
    assert!(again.iter().all(|(op, _)| op != "TransactWriteItems"), "{again:?}");
    let msgs = stores
        .conversations
        .list_messages("shop-a", "111111111111111_2222", None, 10)
        .await
        .expect("messages");
    assert_eq!(msgs.items.len(), 5);

    // Reading the inbox: Queries on the index and the move log, never a Scan.
    requests.take();
    let all = domain::ports::ConversationFilter::All { page_id: None };
    let page = stores.conversations.list_conversations("shop-a", &all, None, 25).await.expect("inbox");
    assert_eq!(page.items.len(), 1);
    let reads = requests.take();
    let ops: Vec<&str> = reads.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(ops, ["Query", "Query"], "the index, then the move log");
}

/// The answers to a move's transaction are lost (every SDK attempt sees a 500, though the first
/// one committed): the worker reads the header again, finds the move done, and the event is
/// stored once, the conversation moved once, and a walk lists it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_whose_answers_are_lost_is_read_again_not_repeated() {
    let lost = Arc::new(Requests::default());
    let cfg = moto_config().await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&cfg)
        .interceptor(Recorder(lost.clone()))
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(2))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), unique("tbl"));
    store.create_table_if_missing().await.expect("table");
    let stores = Stores::from_one(Arc::new(store));
    let touch = |ts: i64| domain::ports::ConversationTouch {
        tenant_id: "shop-a".into(),
        conversation_id: "P_C1".into(),
        page_id: "P".into(),
        customer_id: "C1".into(),
        activity_ms: ts,
        customer_ms: Some(ts),
        last_message: None,
        customer_name: None,
        post_id: None,
        phones: Vec::new(),
    };
    for (i, ts) in [1_000i64, 2_000].into_iter().enumerate() {
        let other = domain::ports::ConversationTouch { conversation_id: format!("P_X{i}"), ..touch(ts) };
        stores.conversations.touch_conversation(&other).await.expect("others");
    }
    stores.conversations.touch_conversation(&touch(500)).await.expect("create");
    let all = domain::ports::ConversationFilter::All { page_id: None };
    let first = stores.conversations.list_conversations("shop-a", &all, None, 1).await.expect("first page");
    assert_eq!(first.items[0].id, "P_X1");

    // Both SDK attempts of the move lose their answer.
    lost.lose_transactions.store(2, std::sync::atomic::Ordering::SeqCst);
    let c = stores.conversations.touch_conversation(&touch(3_000)).await.expect("move despite lost answers");
    assert_eq!(lost.lose_transactions.load(std::sync::atomic::Ordering::SeqCst), 0, "the faults were hit");
    let ops: Vec<String> = lost.take().into_iter().map(|(op, _)| op).collect();
    assert!(ops.iter().filter(|op| *op == "TransactWriteItems").count() >= 2, "{ops:?}");
    assert_eq!((c.last_activity_ms, c.last_customer_message_ms), (3_000, Some(3_000)));
    let stored = stores.conversations.conversation("shop-a", "P_C1").await.expect("get").expect("exists");
    assert_eq!(stored.last_activity_ms, 3_000);

    // The walk begun before the move lists it once, at its old place (last).
    let mut ids: Vec<String> = first.items.iter().map(|c| c.id.clone()).collect();
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor {
        let p = stores.conversations.list_conversations("shop-a", &all, Some(&c), 1).await.expect("page");
        ids.extend(p.items.iter().map(|c| c.id.clone()));
        cursor = p.next_cursor;
    }
    assert_eq!(ids, ["P_X1", "P_X0", "P_C1"]);
    // A new walk shows it on top.
    let top = stores.conversations.list_conversations("shop-a", &all, None, 1).await.expect("top");
    assert_eq!(top.items[0].id, "P_C1");
}

/// A store on a fresh moto table whose requests `requests` records.
async fn recorded_store(requests: &Arc<Requests>) -> Stores {
    let cfg = moto_config().await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&cfg).interceptor(Recorder(requests.clone())).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), unique("tbl"));
    store.create_table_if_missing().await.expect("table");
    Stores::from_one(Arc::new(store))
}

fn comment_touch(ts: i64, phones: &[&str]) -> domain::ports::ConversationTouch {
    domain::ports::ConversationTouch {
        tenant_id: "shop-a".into(),
        conversation_id: "111_222_p333".into(),
        page_id: "111".into(),
        customer_id: "222".into(),
        activity_ms: ts,
        customer_ms: Some(ts),
        last_message: None,
        customer_name: None,
        post_id: Some("111_333".into()),
        phones: phones.iter().map(|p| p.to_string()).collect(),
    }
}

fn comment_message(id: &str, ts: i64, text: &str, hidden: bool) -> domain::model::Message {
    domain::model::Message {
        id: id.into(),
        conversation_id: "111_222_p333".into(),
        direction: domain::model::Direction::In,
        kind: domain::model::MessageKind::Comment,
        text: Some(text.into()),
        sent_ms: ts,
        detail: None,
        reply: None,
        comment: Some(domain::comments::CommentState {
            comment_id: id.into(),
            post_id: Some("111_333".into()),
            parent_id: Some("111_333".into()),
            hidden,
            ..Default::default()
        }),
    }
}

fn item_writes(reqs: &[(String, usize)]) -> usize {
    reqs.iter().map(|(_, w)| w).sum()
}

/// A customer's comment (hidden at once by auto-hide, with a phone number) in a comment
/// conversation that exists: the header's move, its log entry (the phone numbers ride on the
/// move) and the comment itself, its index entry included: 3 item writes, as for a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_in_an_existing_conversation_costs_three_writes() {
    let requests = Arc::new(Requests::default());
    let stores = recorded_store(&requests).await;
    stores.conversations.touch_conversation(&comment_touch(1_000, &[])).await.expect("create");
    assert!(
        stores
            .conversations
            .put_message("shop-a", &comment_message("333_1", 1_000, "đẹp", false))
            .await
            .expect("put")
    );
    requests.take();

    let c =
        stores.conversations.touch_conversation(&comment_touch(2_000, &["0912345678"])).await.expect("move");
    let hidden = comment_message("333_2", 2_000, "ib 0912 345 678", true);
    assert!(stores.conversations.put_message("shop-a", &hidden).await.expect("put comment"));
    let reqs = requests.take();
    assert!(item_writes(&reqs) <= 3, "{reqs:?}");
    let ops: Vec<&str> = reqs.iter().filter(|(_, w)| *w > 0).map(|(op, _)| op.as_str()).collect();
    assert_eq!(ops, ["TransactWriteItems", "PutItem"], "{reqs:?}");
    assert_eq!(c.phones, ["0912345678"]);
    let stored = stores.comments.comment_in("shop-a", "111_222_p333", "333_2").await.expect("read");
    assert_eq!(stored, Some(hidden));
}

/// An edit of a stored comment: the header's move and its log entry, and one conditional
/// UpdateItem of the comment (the previous text kept in the same write): at most 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_a_stored_comment_costs_three_writes() {
    let requests = Arc::new(Requests::default());
    let stores = recorded_store(&requests).await;
    stores.conversations.touch_conversation(&comment_touch(1_000, &[])).await.expect("create");
    assert!(
        stores
            .conversations
            .put_message("shop-a", &comment_message("333_1", 1_000, "đẹp", false))
            .await
            .expect("put")
    );
    requests.take();

    stores.conversations.touch_conversation(&comment_touch(2_000, &[])).await.expect("move");
    let edit = domain::comments::CommentChange::Edited { text: Some("đẹp quá".into()), at_ms: 2_000 };
    let edited =
        stores.comments.change_comment("shop-a", "111_222_p333", "333_1", &edit).await.expect("edit");
    let reqs = requests.take();
    assert!(item_writes(&reqs) <= 3, "{reqs:?}");
    let ops: Vec<&str> = reqs.iter().filter(|(_, w)| *w > 0).map(|(op, _)| op.as_str()).collect();
    assert_eq!(ops, ["TransactWriteItems", "UpdateItem"], "{reqs:?}");
    let edited = edited.and_then(|m| m.comment.map(|c| (m.text, c.previous_text)));
    assert_eq!(edited, Some((Some("đẹp quá".to_string()), Some("đẹp".to_string()))));

    // The same edit redelivered: its UpdateItem fails its condition, and the read answers.
    stores.comments.change_comment("shop-a", "111_222_p333", "333_1", &edit).await.expect("again");
    let reqs = requests.take();
    let ops: Vec<&str> = reqs.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(ops, ["UpdateItem", "GetItem"], "{reqs:?}");
}
