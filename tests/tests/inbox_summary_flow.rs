//! What the inbox list shows of each conversation, end to end against the fake Graph API: the
//! customer's name (a profile lookup by the worker for a conversation a webhook created, best
//! effort; the participants' names for synced ones), the last message (incoming, a late older
//! one ignored, a reply sent from the inbox) and the channel. Every log line of this test binary
//! is captured (`integration_tests::flow`).

use integration_tests::fake_graph::FakeFailure;
use integration_tests::flow::*;
use integration_tests::*;
use serde_json::{Value, json};

async fn conversation(w: &World, id: &str) -> Option<Value> {
    let (_, b) = get_json(&w.stack, "/api/conversations?view=all", &w.owner).await;
    b["items"].as_array()?.iter().find(|c| c["id"] == id).cloned()
}

async fn webhook_conversations_get_a_name_and_a_last_message(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1601", "Shop", "page-token-1601", &["MANAGE"]);
    w.fake.add_profile("1601", "71", "Nguyễn Thị Lan");
    login(&w, "c").await;
    let (s, b) =
        post_json(&w.stack, "/api/pages/1601/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200, "{b}");
    let now = domain::timefmt::now_ms() - 60_000;

    // A new conversation: its customer's name is looked up once, with the Page's token.
    let first = notification("1601", vec![text_item("1601", "71", now, "in-71-1", "Còn size M không shop?")]);
    assert_eq!(post_webhook(&w.stack, &first).await, 200);
    let c = eventually(20, "the name of 71", || async {
        let c = conversation(&w, "1601_71").await?;
        (!c["customer_name"].is_null()).then_some(c)
    })
    .await;
    assert_eq!(c["customer_name"], "Nguyễn Thị Lan");
    assert_eq!(c["kind"], "messenger");
    let sent_at = domain::timefmt::rfc3339_ms(now);
    assert_eq!(
        c["last_message"],
        json!({"direction": "in", "kind": "text", "text": "Còn size M không shop?", "sent_at": sent_at})
    );
    let lookups = w.fake.requests_to("profile");
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(lookups[0].path, "/v25.0/71");
    assert_eq!(lookups[0].param("fields"), Some("name"));
    assert_eq!(lookups[0].param("access_token"), Some("page-token-1601"));

    // Later messages of a known conversation pay no lookup; a late older one leaves the last
    // message alone.
    let more = notification(
        "1601",
        vec![
            text_item("1601", "71", now + 2_000, "in-71-2", "Shop ơi"),
            text_item("1601", "71", now + 1_000, "in-71-late", "tin đến muộn"),
        ],
    );
    assert_eq!(post_webhook(&w.stack, &more).await, 200);
    eventually(20, "the later messages of 71", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1601_71").await.ok()?;
        (m.len() == 3).then_some(())
    })
    .await;
    let c = conversation(&w, "1601_71").await.expect("71");
    assert_eq!(c["last_message"]["text"], "Shop ơi");
    assert_eq!(w.fake.request_count("profile"), 1);

    // A lookup Graph refuses (no profile for 72), and one that fails (73): the message is
    // stored all the same, the name stays null, and nothing is retried.
    w.fake.fail_next("profile", FakeFailure::error(500, 2, None, "An unexpected error has occurred."));
    let body = notification("1601", vec![text_item("1601", "73", now, "in-73", "alo")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    let body = notification("1601", vec![text_item("1601", "72", now, "in-72", "alo")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    for id in ["1601_72", "1601_73"] {
        let c = eventually(20, "a conversation whose lookup failed", || async {
            let c = conversation(&w, id).await?;
            let m = try_all_messages(&w.stack, &w.owner, id).await.ok()?;
            (m.len() == 1).then_some(c)
        })
        .await;
        assert!(c["customer_name"].is_null(), "{c}");
        assert_eq!(c["last_message"]["text"], "alo");
    }
    eventually(10, "both lookups tried", || async { (w.fake.request_count("profile") == 3).then_some(()) })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(w.fake.request_count("profile"), 3, "a failed lookup is not retried");

    // A reply sent from the inbox becomes the last message.
    let (s, b) =
        post_json(&w.stack, "/api/conversations/1601_71/messages", &w.owner, json!({"text": "Dạ còn ạ"}))
            .await;
    assert_eq!(s, 201, "{b}");
    let c = conversation(&w, "1601_71").await.expect("71");
    assert_eq!(c["last_message"]["direction"], "out");
    assert_eq!(c["last_message"]["text"], "Dạ còn ạ");
    assert_eq!(c["last_message"]["sent_at"], b["sent_at"]);
    assert_eq!(c["last_activity_at"], b["sent_at"]);
    assert_no_token_in_logs(&["page-token-", "short-c", "long-short-c"]);
}

async fn synced_conversations_carry_the_participants_names(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1701", "Shop", "page-token-1701", &["MANAGE"]);
    let t = domain::timefmt::now_ms() / 1000 * 1000 - 3_600_000;
    w.fake.add_conversation(
        "1701",
        "t_1",
        t + 1000,
        "81",
        vec![("h-1", t, "81", "có màu đỏ không?"), ("h-2", t + 1000, "1701", "")],
    );
    login(&w, "c").await;
    let (s, b) =
        post_json(&w.stack, "/api/pages/1701/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200, "{b}");
    let c = eventually(30, "the synced conversation", || async { conversation(&w, "1701_81").await }).await;
    // The fake names a thread's customer "Customer <psid>"; the newest message was the Page's
    // attachment.
    assert_eq!(c["customer_name"], "Customer 81");
    assert_eq!(
        c["last_message"],
        json!({"direction": "out", "kind": "attachment", "text": null, "sent_at": domain::timefmt::rfc3339_ms(t + 1000)})
    );
    assert_eq!(w.fake.request_count("profile"), 0, "a synced conversation needs no lookup");
}

integration_tests::on_both_backends!(
    webhook_conversations_get_a_name_and_a_last_message,
    synced_conversations_carry_the_participants_names,
);
