//! End to end through the local stack's HTTP port: Meta's webhook in, the worker through the
//! queue, the admin API out. Each scenario runs on the in-memory backend and on moto server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use integration_tests::*;
use serde_json::{Value, json};

async fn conversations(stack: &local_stack::RunningStack, token: &str, view: &str) -> (u16, Vec<Value>) {
    let (s, b) = get_json(stack, &format!("/api/conversations?view={view}&limit=100"), token).await;
    (s, b["items"].as_array().cloned().unwrap_or_default())
}

async fn a_customer_message_reaches_the_owner_and_no_one_else(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", "111").await;
    let other_owner = seed_shop(&stack, "shop-b", "owner@shop-b.vn", "222").await;
    let (s, _) =
        post_json(&stack, "/api/members", &owner, json!({"email":"Agent@Shop-A.vn","role":"agent"})).await;
    assert_eq!(s, 201);
    let agent = token("agent@shop-a.vn", "shop-a", "agent");

    let raw = r#"{"object":"page","entry":[{"id":"111","time":1,"messaging":[{"sender":{"id":"999"},"recipient":{"id":"111"},"timestamp":1764000000100,"message":{"mid":"m-e2e-1","text":"Ch\u00e0o shop, \u00e1o n\u00e0y c\u00f2n size M kh\u00f4ng?"}}]}]}"#;
    assert_eq!(post_webhook(&stack, raw).await, 200);

    let conv = eventually(20, "the conversation, assigned, in the owner's inbox", || async {
        let (_, items) = conversations(&stack, &owner, "all").await;
        items.first().filter(|c| !c["assignee"].is_null()).cloned()
    })
    .await;
    assert_eq!(conv["id"], "111_999");
    assert_eq!(conv["page_id"], "111");
    assert_eq!(conv["customer_id"], "999");
    assert_eq!(conv["assignee"], "owner@shop-a.vn", "only-me: the owner who connected the Page");
    assert_eq!(conv["last_customer_message_at"], "2025-11-24T16:00:00.100Z");
    let (_, mine) = conversations(&stack, &owner, "mine").await;
    assert_eq!(mine.len(), 1);

    let msgs = eventually(20, "the message", || async {
        let (s, b) = get_json(&stack, "/api/conversations/111_999/messages", &owner).await;
        (s == 200 && !b["items"].as_array()?.is_empty()).then_some(b)
    })
    .await;
    let m = &msgs["items"][0];
    assert_eq!(m["id"], "m-e2e-1");
    assert_eq!(m["text"], "Chào shop, áo này còn size M không?");
    assert_eq!(m["direction"], "in");
    assert_eq!(m["kind"], "text");
    assert_eq!(m["sent_at"], "2025-11-24T16:00:00.100Z");

    // Another shop's owner: not found, and an empty inbox.
    let (s, b) = get_json(&stack, "/api/conversations/111_999/messages", &other_owner).await;
    assert_eq!(s, 404, "{b}");
    assert!(!b.to_string().contains("Chào"));
    assert!(conversations(&stack, &other_owner, "all").await.1.is_empty());
    // An agent of the same shop who does not hold it: not found, not in their inbox, no "all".
    let (s, _) = get_json(&stack, "/api/conversations/111_999/messages", &agent).await;
    assert_eq!(s, 404);
    assert!(conversations(&stack, &agent, "mine").await.1.is_empty());
    assert_eq!(conversations(&stack, &agent, "all").await.0, 403);
    // Someone who is not a member; a token signed with another secret; no token.
    let stranger = token("x@y.vn", "shop-a", "agent");
    assert_eq!(get_json(&stack, "/api/conversations", &stranger).await.0, 403);
    let forged =
        local_stack::auth::mint(&"other-secret".to_string().into(), "owner@shop-a.vn", "shop-a", "owner", 60)
            .expect("mint");
    assert_eq!(get_json(&stack, "/api/conversations", &forged).await.0, 401);
    let r = http().get(stack.url("/api/conversations")).send().await.expect("request");
    assert_eq!(r.status().as_u16(), 401);
}

async fn a_meta_retry_storm_stores_each_message_once(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", "111").await;
    let items: Vec<_> =
        (0..5).map(|i| text_item("111", "555", 1000 + i, &format!("storm-{i}"), "alo")).collect();
    let body = notification("111", items);
    let posts = (0..3).map(|_| post_webhook(&stack, &body));
    let statuses = futures::future::join_all(posts).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let msgs = eventually(20, "five messages", || async {
        let m = try_all_messages(&stack, &owner, "111_555").await.ok()?;
        (m.len() >= 5).then_some(m)
    })
    .await;
    // Give any straggler copy time to land, then count again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let msgs_after = all_messages(&stack, &owner, "111_555").await;
    assert_eq!(msgs.len(), 5);
    assert_eq!(msgs_after.len(), 5, "no copy landed later");
    let ids: Vec<_> = msgs_after.iter().map(|m| m["id"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(ids, ["storm-4", "storm-3", "storm-2", "storm-1", "storm-0"]);
}

async fn two_hundred_items_for_twenty_customers_in_one_post(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", "111").await;
    // Interleaved customers and timestamps out of order within the POST.
    let mut items = Vec::new();
    for i in 0..200i64 {
        let customer = format!("C{:02}", i % 20);
        let ts = 10_000 + (199 - i) * 7; // descending in the POST
        items.push(text_item("111", &customer, ts, &format!("bulk-{i}"), &format!("msg {i}")));
    }
    assert_eq!(post_webhook(&stack, &notification("111", items)).await, 200);
    eventually(60, "twenty conversations with ten messages each", || async {
        let (_, items) = conversations(&stack, &owner, "all").await;
        if items.len() < 20 {
            return None;
        }
        for c in &items {
            let id = c["id"].as_str()?;
            if try_all_messages(&stack, &owner, id).await.ok()?.len() < 10 {
                return None;
            }
        }
        Some(())
    })
    .await;
    let (_, convs) = conversations(&stack, &owner, "all").await;
    assert_eq!(convs.len(), 20);
    for c in &convs {
        let id = c["id"].as_str().expect("id");
        let msgs = all_messages(&stack, &owner, id).await;
        assert_eq!(msgs.len(), 10, "{id}");
        let times: Vec<_> =
            msgs.iter().map(|m| m["sent_at"].as_str().unwrap_or_default().to_string()).collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "newest first in {id}");
        // The conversation's latest activity is its newest message, whatever the POST order.
        assert_eq!(c["last_activity_at"], msgs[0]["sent_at"]);
        assert_eq!(c["last_customer_message_at"], msgs[0]["sent_at"]);
    }
    // Inbox: newest activity first.
    let acts: Vec<_> =
        convs.iter().map(|c| c["last_activity_at"].as_str().unwrap_or_default().to_string()).collect();
    let mut sorted = acts.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(acts, sorted);
}

/// Every conversation id of a view, walking all its pages of `limit`.
async fn walk_ids(stack: &local_stack::RunningStack, token: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/conversations?view=all&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = get_json(stack, &path, token).await;
        assert_eq!(status, 200, "{body}");
        out.extend(
            body["items"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str().map(String::from)),
        );
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// 120 conversations, read in pages of 25 while customers keep writing: between pages,
/// conversations not listed yet (just below the cursor, and the oldest) get a message and jump
/// to the top, a listed one gets one, and a new customer writes. Each conversation is listed
/// exactly once.
async fn an_inbox_walk_lists_each_conversation_once_while_messages_arrive(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", "111").await;
    let base = 1_764_000_000_000i64;
    let customers: Vec<String> = (0..120).map(|i| format!("C{i:03}")).collect();
    let items = customers
        .iter()
        .enumerate()
        .map(|(i, c)| text_item("111", c, base + i as i64 * 1000, &format!("first-{c}"), "Shop ơi"))
        .collect();
    assert_eq!(post_webhook(&stack, &notification("111", items)).await, 200);
    eventually(60, "120 conversations", || async {
        (walk_ids(&stack, &owner, 100).await.len() == 120).then_some(())
    })
    .await;

    let mut listed: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut ts = base + 1_000_000;
    for round in 0.. {
        let mut path = "/api/conversations?view=all&limit=25".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = get_json(&stack, &path, &owner).await;
        assert_eq!(status, 200, "{body}");
        let page = body["items"].as_array().cloned().unwrap_or_default();
        assert!(page.len() <= 25);
        listed.extend(page.iter().filter_map(|c| c["id"].as_str().map(String::from)));
        let Some(next) = body["next_cursor"].as_str() else { break };
        cursor = Some(next.to_string());
        assert!(round < 10, "the walk does not end");
        // New messages land (stored by the worker) before the next page is read.
        let pending: Vec<&String> =
            customers.iter().rev().filter(|c| !listed.contains(&format!("111_{c}"))).collect();
        let mut writers: Vec<String> = pending.iter().take(2).map(|c| c.to_string()).collect();
        writers.extend(pending.last().map(|c| c.to_string()));
        writers.extend(listed.first().map(|id| id.trim_start_matches("111_").to_string()));
        writers.push(format!("NEW{round}"));
        let mut batch = Vec::new();
        for w in &writers {
            ts += 1000;
            batch.push(text_item("111", w, ts, &format!("r{round}-{w}"), "Còn hàng không?"));
        }
        assert_eq!(post_webhook(&stack, &notification("111", batch)).await, 200);
        for w in &writers {
            let (conv, mid) = (format!("111_{w}"), format!("r{round}-{w}"));
            eventually(30, "the new message stored", || async {
                let msgs = try_all_messages(&stack, &owner, &conv).await.ok()?;
                msgs.iter().any(|m| m["id"] == mid.as_str()).then_some(())
            })
            .await;
        }
    }
    let unique: std::collections::HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "listed twice: {listed:?}");
    let missing: Vec<String> =
        customers.iter().map(|c| format!("111_{c}")).filter(|id| !unique.contains(id)).collect();
    assert!(missing.is_empty(), "lost during the walk: {missing:?}");
    // A new walk shows the latest writer first.
    let top = walk_ids(&stack, &owner, 25).await;
    assert!(top[0].starts_with("111_NEW"), "{:?}", &top[..3]);
}

async fn a_worker_failing_mid_batch_loses_nothing_and_stores_nothing_twice(backend: Backend) {
    let (stores, queues, mq) = backends(backend, 1, 10).await;
    // put_message fails on calls 2, 5, 6 and 9: mid-record and mid-batch crashes.
    let flaky = Arc::new(FlakyStore::new(stores, [2, 5, 6, 9]));
    let mut cfg = stack_config(backend, Duration::from_secs(1), 10);
    cfg.aws_endpoint = None;
    let stack = local_stack::start_with(cfg, flaky.stores(), queues, mq).await.expect("stack");
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", "111").await;
    let mut items = Vec::new();
    for c in 0..4 {
        for i in 0..5 {
            items.push(text_item("111", &format!("F{c}"), 100 + i, &format!("f{c}-{i}"), "hello"));
        }
    }
    assert_eq!(post_webhook(&stack, &notification("111", items)).await, 200);
    eventually(30, "all twenty messages", || async {
        let n = flaky.inserted.lock().map(|m| m.len()).unwrap_or(0);
        (n == 20).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let inserted: HashMap<String, usize> = flaky.inserted.lock().map(|m| m.clone()).unwrap_or_default();
    assert_eq!(inserted.len(), 20);
    assert!(inserted.values().all(|n| *n == 1), "{inserted:?}");
    for c in 0..4 {
        let msgs = all_messages(&stack, &owner, &format!("111_F{c}")).await;
        assert_eq!(msgs.len(), 5);
        let conv = get_json(&stack, &format!("/api/conversations/111_F{c}"), &owner).await.1;
        assert_eq!(conv["assignee"], "owner@shop-a.vn");
    }
}

async fn a_poison_message_ends_in_the_dead_letter_queue(backend: Backend) {
    let (stores, queues, mq) = backends(backend, 1, 2).await;
    let mut cfg = stack_config(backend, Duration::from_secs(1), 2);
    cfg.aws_endpoint = None;
    let stack = local_stack::start_with(cfg, stores, queues.clone(), mq).await.expect("stack");
    let poison = domain::event::OutboundQueueMessage {
        group_id: "x_y".into(),
        dedup_id: "poison".into(),
        body: "{\"v\":99,\"events\":[]}".into(),
        event_count: 0,
    };
    queues.producer.send_batch(&[poison]).await.expect("send");
    eventually(30, "the dead-letter queue to hold the poison message", || async {
        (queues.consumer.dead_letter_depth().await.ok()? == 1).then_some(())
    })
    .await;
    drop(stack);
}

async fn events_for_a_page_no_shop_connected_are_dropped(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", "111").await;
    let stray = notification("333", vec![text_item("333", "1", 1, "stray", "hi")]);
    let known = notification("111", vec![text_item("111", "2", 2, "known", "hi")]);
    assert_eq!(post_webhook(&stack, &stray).await, 200);
    assert_eq!(post_webhook(&stack, &known).await, 200);
    eventually(20, "the known message", || async {
        let (_, items) = conversations(&stack, &owner, "all").await;
        (!items.is_empty()).then_some(())
    })
    .await;
    let (_, items) = conversations(&stack, &owner, "all").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], "111_2");
    if let Some(q) = &stack.memory_queue {
        eventually(10, "the queue to drain", || async { (q.depth() == 0).then_some(()) }).await;
    }
    assert_eq!(stack.queues.consumer.dead_letter_depth().await.expect("dlq"), 0);
}

integration_tests::on_both_backends!(
    a_customer_message_reaches_the_owner_and_no_one_else,
    a_meta_retry_storm_stores_each_message_once,
    two_hundred_items_for_twenty_customers_in_one_post,
    an_inbox_walk_lists_each_conversation_once_while_messages_arrive,
    a_worker_failing_mid_batch_loses_nothing_and_stores_nothing_twice,
    a_poison_message_ends_in_the_dead_letter_queue,
    events_for_a_page_no_shop_connected_are_dropped,
);

mod sample_event {
    use integration_tests::*;

    async fn the_signed_sample_webhook_lands_with_its_attachment_and_read(backend: Backend) {
        let stack = start_stack(backend).await;
        let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", "111111111111111").await;
        let event: serde_json::Value =
            serde_json::from_str(include_str!("../../events/webhook-post-signed.json")).expect("event");
        assert_eq!(deliver_sample(&stack, &event).await, 200);
        let id = "111111111111111_2222222222222222";
        let msgs = eventually(20, "both messages", || async {
            let m = try_all_messages(&stack, &owner, id).await.ok()?;
            (m.len() == 2).then_some(m)
        })
        .await;
        assert_eq!(msgs[0]["kind"], "attachment");
        assert_eq!(
            msgs[0]["detail"]["attachments"][0]["payload"]["url"],
            "https://scontent.xx.fbcdn.net/v/t1.15752-9/walking_skeleton.jpg?_nc_cat=1&oh=00_AbC&oe=6930A1B2"
        );
        assert_eq!(msgs[1]["text"], "Chào shop, áo này còn size M không?");
        let conv = eventually(20, "the read watermark", || async {
            let (_, c) = get_json(&stack, &format!("/api/conversations/{id}"), &owner).await;
            (!c["read_watermark_at"].is_null()).then_some(c)
        })
        .await;
        assert_eq!(conv["read_watermark_at"], "2025-11-24T16:00:00.000Z");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_memory() {
        the_signed_sample_webhook_lands_with_its_attachment_and_read(Backend::Memory).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_moto() {
        the_signed_sample_webhook_lands_with_its_attachment_and_read(Backend::Moto).await;
    }
}
