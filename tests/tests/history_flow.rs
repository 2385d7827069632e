//! History sync when a Page is connected, against a fake Graph API's Conversations API
//! (`docs/meta-platform.md`): old conversations brought once, alongside live webhooks and through
//! failed result pages, and a shared Page's history following the rule's old-conversation policy.
//! Every log line of this test binary is captured (`integration_tests::flow`).

use std::time::Duration;

use integration_tests::fake_graph::FakeFailure;
use integration_tests::flow::*;
use integration_tests::*;
use serde_json::json;

async fn history_sync_brings_old_conversations_once(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1101", "Shop", "page-token-1101", &["MANAGE"]);
    let base = 1_763_000_000_000i64;
    for i in 0..5i64 {
        let customer = format!("300{i}");
        let msgs = [
            (format!("h-{i}-0"), base + i * 60_000, customer.clone(), format!("hỏi {i}")),
            (format!("h-{i}-1"), base + i * 60_000 + 1000, "1101".to_string(), format!("đáp {i}")),
            (format!("h-{i}-2"), base + i * 60_000 + 2000, customer.clone(), String::new()),
        ];
        w.fake.add_conversation(
            "1101",
            &format!("t_{i}"),
            base + i * 60_000 + 2000,
            &customer,
            msgs.iter().map(|(a, b, c, d)| (a.as_str(), *b, c.as_str(), d.as_str())).collect(),
        );
    }
    w.fake.set_conversations_page_size(2);
    // The second result page fails for a while: the step is retried from where it stopped.
    for _ in 0..3 {
        w.fake.fail_next("conversations", FakeFailure::error(500, 1, None, "An unknown error occurred"));
    }
    login(&w, "c").await;
    let (s, b) =
        post_json(&w.stack, "/api/pages/1101/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["history_sync"], "queued");
    // Meanwhile a webhook brings a message the history also holds, and a new one.
    let live = notification(
        "1101",
        vec![
            text_item("1101", "3003", base + 3 * 60_000 + 2000, "h-3-2", "same message via webhook"),
            text_item("1101", "3003", base + 10 * 60_000, "w-new", "tin mới"),
        ],
    );
    assert_eq!(post_webhook(&w.stack, &live).await, 200);
    let convs = eventually(30, "five synced conversations with all their messages", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=all&limit=50", &w.owner).await;
        let items = b["items"].as_array()?.clone();
        if items.len() < 5 {
            return None;
        }
        for c in &items {
            let n = try_all_messages(&w.stack, &w.owner, c["id"].as_str()?).await.ok()?.len();
            let want = if c["id"] == "1101_3003" { 4 } else { 3 };
            if n < want {
                return None;
            }
        }
        Some(items)
    })
    .await;
    assert_eq!(convs.len(), 5);
    // The snapshot above was listed before its messages were counted: read it again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, b) = get_json(&w.stack, "/api/conversations?view=all&limit=50", &w.owner).await;
    let convs = b["items"].as_array().cloned().unwrap_or_default();
    assert!(
        convs.iter().all(|c| c["assignee"] == "owner@shop-a.vn"),
        "only-me: the owner holds old conversations"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    let m = all_messages(&w.stack, &w.owner, "1101_3003").await;
    let ids: Vec<_> = m.iter().map(|m| m["id"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(ids, ["w-new", "h-3-2", "h-3-1", "h-3-0"], "nothing stored twice");
    assert_eq!(m[2]["direction"], "out");
    assert_eq!(m[3]["text"], "hỏi 3");
    let c0 = all_messages(&w.stack, &w.owner, "1101_3000").await;
    assert_eq!(c0[0]["kind"], "attachment");
    assert!(w.fake.request_count("conversations") >= 3 + 3, "three result pages plus the failed tries");
    // Whatever this binary logged so far (its other test included, if it ran first).
    assert_no_token_in_logs(&["page-token-", "short-c", "long-short-c"]);
}

async fn history_of_a_shared_page_follows_the_old_conversation_policy(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1401", "Shop", "page-token-1401", &["MANAGE"]);
    let now = domain::timefmt::now_ms() / 1000 * 1000;
    for i in 0..4i64 {
        let customer = format!("500{i}");
        // Even threads: the customer wrote an hour ago; odd: three days ago.
        let t = if i % 2 == 0 { now - 3_600_000 } else { now - 3 * 86_400_000 } + i * 1000;
        let mid = format!("old-{i}");
        w.fake.add_conversation(
            "1401",
            &format!("t_{i}"),
            t,
            &customer,
            vec![(mid.as_str(), t, customer.as_str(), "hi")],
        );
    }
    login(&w, "c").await;
    add_agents(&w.stack, &w.owner, &shop_a(&["a", "b"])).await;
    let new_rule = json!({"name": "Ca sáng", "agent_emails": ["a@shop-a.vn", "b@shop-a.vn"], "method": "round_robin", "old_conversations": "available"});
    let (s, b) = post_json(
        &w.stack,
        "/api/pages/1401/connect",
        &w.owner,
        json!({"chat_mode": "shared", "new_rule": new_rule}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let rule_id = b["rule_id"].as_str().expect("rule").to_string();
    let (_, r) = get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await;
    assert_eq!(r["old_conversations"], "available");
    assert_eq!(r["old_conversations_chosen_by"], "owner@shop-a.vn");
    assert!(r["old_conversations_chosen_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(r["old_conversations_warning"].as_str().is_some_and(|t| t.contains("customer data")));
    let convs = eventually(30, "four synced conversations", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=all", &w.owner).await;
        let items = b["items"].as_array()?.clone();
        (items.len() == 4).then_some(items)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, b) = get_json(&w.stack, "/api/conversations?view=all", &w.owner).await;
    let convs = b["items"].as_array().cloned().unwrap_or(convs);
    for c in &convs {
        let i: i64 = c["customer_id"]
            .as_str()
            .and_then(|s| s.strip_prefix("500"))
            .and_then(|s| s.parse().ok())
            .expect("customer");
        if i % 2 == 0 {
            assert!(c["assignee"].as_str().is_some_and(|a| a == "a@shop-a.vn" || a == "b@shop-a.vn"), "{c}");
        } else {
            assert!(c["assignee"].is_null(), "an old thread outside the window stays unassigned: {c}");
        }
    }
}

integration_tests::on_both_backends!(
    history_sync_brings_old_conversations_once,
    history_of_a_shared_page_follows_the_old_conversation_policy,
);
