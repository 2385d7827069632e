//! Replies through the admin API against the fake Graph API, on both backends: a reply reaches
//! Meta at most once per request (finding 5), its status shows in the thread, its echo is the
//! same message, resending is the agent's choice; only the holder replies (finding 8); Page ids
//! that are not digits never reach a Graph URL (finding 8).

use std::time::Duration;

use domain::model::PageStatus;
use domain::ports::{Assignment, ConversationTouch, ImportedPage};
use integration_tests::fake_graph::{FakeFailure, FakeGraph};
use integration_tests::*;
use secrecy::SecretString;
use serde_json::{Value, json};

const PAGE: &str = "1501";
const CONV: &str = "1501_61";

struct World {
    stack: local_stack::RunningStack,
    fake: FakeGraph,
    owner: String,
}

/// shop-a with Page 1501 connected (only me, its token stored) and customer 61 who wrote a
/// minute ago.
async fn world(backend: Backend) -> World {
    let fake = FakeGraph::start().await;
    fake.add_page(PAGE, "Shop", "page-token-1501", &["MANAGE"]);
    let mut cfg = stack_config(backend, Duration::from_secs(2), 5);
    cfg.graph_url = fake.base_url();
    let stack = start_configured(cfg).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", PAGE).await;
    let sealed = facebook_at(&fake.base_url()).cipher.encrypt(
        "shop-a",
        PAGE,
        &SecretString::from("page-token-1501".to_string()),
    );
    let page = ImportedPage {
        page_id: PAGE.into(),
        name: "Shop".into(),
        token_enc: sealed,
        imported_by: "owner@shop-a.vn".into(),
    };
    stack.stores.pages.import_page("shop-a", &page).await.expect("the Page's token");
    let now = domain::timefmt::now_ms();
    let body = notification(PAGE, vec![text_item(PAGE, "61", now - 60_000, "in-61", "Còn size L không?")]);
    assert_eq!(post_webhook(&stack, &body).await, 200);
    eventually(20, "the conversation", || async {
        let (_, c) = get_json(&stack, &format!("/api/conversations/{CONV}"), &owner).await;
        c["assignee"].as_str().map(|_| ())
    })
    .await;
    World { stack, fake, owner }
}

async fn reply(w: &World, token: &str, text: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = http()
        .post(w.stack.url(&format!("/api/conversations/{CONV}/messages")))
        .bearer_auth(token)
        .json(&json!({"text": text}));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.expect("reply");
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

async fn outgoing(w: &World) -> Vec<Value> {
    let all = all_messages(&w.stack, &w.owner, CONV).await;
    all.into_iter().filter(|m| m["direction"] == "out").collect()
}

/// The echo Meta sends for what the Page sent, with the metadata of the send.
fn echo(mid: &str, metadata: Option<&str>) -> String {
    let mut m = json!({"mid": mid, "text": "Dạ còn ạ", "is_echo": true, "app_id": 123});
    if let Some(md) = metadata {
        m["metadata"] = json!(md);
    }
    let now = domain::timefmt::now_ms();
    notification(
        PAGE,
        vec![json!({"sender":{"id":PAGE},"recipient":{"id":"61"},"timestamp": now, "message": m})],
    )
}

/// A send that times out reached Meta once: no retry, the reply stays `unknown` in the thread;
/// when its echo comes back (carrying the reply's id) it is `sent`, one message; sending again
/// is the agent's own new request.
async fn a_timed_out_send_goes_once_and_shows_unknown(backend: Backend) {
    let w = world(backend).await;
    // The stack's Graph client gives up after 500 ms; the fake answers after 1.5 s.
    w.fake.fail_next("send", FakeFailure::Delay(Duration::from_millis(1500)));
    let (s, b) = reply(&w, &w.owner, "Dạ còn ạ", None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (502, Some("graph_error")), "{b}");
    assert_eq!(b["reply"]["status"], "unknown", "{b}");
    let reply_id = b["reply"]["id"].as_str().expect("the reply's id").to_string();
    assert!(reply_id.starts_with("reply:"), "{reply_id}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sends = w.fake.requests_to("send");
    assert_eq!(sends.len(), 1, "an ambiguous send is never repeated");
    let sent_body: Value = serde_json::from_str(&sends[0].body).expect("body");
    assert_eq!(sent_body["message"]["metadata"], json!(reply_id), "the reply id rides along");
    let out = outgoing(&w).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (out[0]["id"].as_str(), out[0]["status"].as_str()),
        (Some(reply_id.as_str()), Some("unknown"))
    );
    // Meta's echo proves it went out: the same message, now sent, under Meta's id.
    assert_eq!(post_webhook(&w.stack, &echo("m_late_1", Some(&reply_id))).await, 200);
    let out = eventually(20, "the echo settles the reply", || async {
        let out = outgoing(&w).await;
        out.iter().any(|m| m["id"] == "m_late_1").then_some(out)
    })
    .await;
    assert_eq!(out.len(), 1, "one message for the reply and its echo: {out:?}");
    assert_eq!(out[0]["status"], "sent");
    assert_eq!(out[0]["detail"]["sent_by"], "owner@shop-a.vn");
    // Sending again is an explicit new request.
    let (s, b) = reply(&w, &w.owner, "Dạ shop gửi lại ạ", None).await;
    assert_eq!((s, b["status"].as_str()), (201, Some("sent")), "{b}");
    assert_eq!(w.fake.requests_to("send").len(), 2);
}

/// A 5xx after Meta sent the message: not repeated, stored `unknown`; a clear refusal: stored
/// `failed` with the reason; the agent's resend goes out once.
async fn meta_errors_leave_the_reply_failed_or_unknown(backend: Backend) {
    let w = world(backend).await;
    w.fake.fail_next("send", FakeFailure::AfterHandling { status: 500 });
    let (s, b) = reply(&w, &w.owner, "Dạ còn ạ", None).await;
    assert_eq!(s, 502, "{b}");
    assert_eq!(b["reply"]["status"], "unknown", "{b}");
    assert_eq!(w.fake.requests_to("send").len(), 1, "a 5xx is not retried");
    assert_eq!(w.fake.state().sent.len(), 1, "and the customer got it once");
    w.fake.fail_next(
        "send",
        FakeFailure::error(400, 551, Some(1545041), "This person isn't available right now."),
    );
    let (s, b) = reply(&w, &w.owner, "alo", None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("recipient_unavailable")), "{b}");
    assert_eq!(b["reply"]["status"], "failed", "{b}");
    let out = outgoing(&w).await;
    let statuses: Vec<_> = out.iter().map(|m| m["status"].as_str().unwrap_or("-")).collect();
    assert_eq!(statuses, ["failed", "unknown"], "newest first: {out:?}");
    assert!(out[0]["error"].as_str().is_some_and(|e| e.contains("isn't available")), "{out:?}");
    let (s, b) = reply(&w, &w.owner, "alo", None).await;
    assert_eq!((s, b["status"].as_str()), (201, Some("sent")), "{b}");
    assert_eq!(w.fake.requests_to("send").len(), 3);
    // Rate limits refuse: those (only those) are tried again, within the send's time budget.
    for _ in 0..2 {
        w.fake.fail_next("send", FakeFailure::error(400, 4, None, "Application request limit reached"));
    }
    let (s, b) = reply(&w, &w.owner, "Dạ", None).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(w.fake.requests_to("send").len(), 6);
}

/// The same Idempotency-Key from the same member is one reply, sent once.
async fn an_idempotency_key_sends_once(backend: Backend) {
    let w = world(backend).await;
    let (s1, b1) = reply(&w, &w.owner, "Dạ còn ạ", Some("k-123")).await;
    let (s2, b2) = reply(&w, &w.owner, "Dạ còn ạ", Some("k-123")).await;
    assert_eq!((s1, s2), (201, 200), "{b1} {b2}");
    assert_eq!(b1["id"], b2["id"]);
    assert_eq!(b2["status"], "sent");
    assert_eq!(w.fake.requests_to("send").len(), 1);
    let (s, b) = reply(&w, &w.owner, "x", Some("bad\tkey")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_idempotency_key")));
    assert_eq!(outgoing(&w).await.len(), 1);
}

/// Owners and admins do not reply in a conversation an agent holds (one customer, one voice);
/// the agent does.
async fn owners_do_not_reply_in_an_agents_conversation(backend: Backend) {
    let w = world(backend).await;
    add_agents(&w.stack, &w.owner, &shop_a(&["lan"])).await;
    let (s, _) =
        post_json(&w.stack, "/api/members", &w.owner, json!({"email":"ad@shop-a.vn","role":"admin"})).await;
    assert_eq!(s, 201);
    let moved = w
        .stack
        .stores
        .conversations
        .reassign("shop-a", CONV, "owner@shop-a.vn", &Assignment::Agent("lan@shop-a.vn".into()))
        .await
        .expect("reassign");
    assert!(moved);
    for (who, role) in [("owner@shop-a.vn", "owner"), ("ad@shop-a.vn", "admin")] {
        let (s, b) = reply(&w, &token(who, "shop-a", role), "Để chị trả lời", None).await;
        assert_eq!((s, b["error"]["code"].as_str()), (403, Some("not_your_conversation")), "{who}: {b}");
    }
    assert!(w.fake.requests_to("send").is_empty());
    let (s, b) = reply(&w, &token("lan@shop-a.vn", "shop-a", "agent"), "Dạ còn ạ", None).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["detail"]["sent_by"], "lan@shop-a.vn");
    // Nobody holds it: an owner may answer.
    let t = ConversationTouch {
        tenant_id: "shop-a".into(),
        conversation_id: "1501_62".into(),
        page_id: PAGE.into(),
        customer_id: "62".into(),
        activity_ms: domain::timefmt::now_ms() - 1000,
        customer_ms: Some(domain::timefmt::now_ms() - 1000),
        last_message: None,
        customer_name: None,
        post_id: None,
        phones: Vec::new(),
    };
    w.stack.stores.conversations.touch_conversation(&t).await.expect("touch");
    w.stack
        .stores
        .conversations
        .complete_assignment("shop-a", "1501_62", &Assignment::Unassigned)
        .await
        .expect("a");
    let r = http()
        .post(w.stack.url("/api/conversations/1501_62/messages"))
        .bearer_auth(&w.owner)
        .json(&json!({"text": "Dạ"}))
        .send()
        .await
        .expect("reply");
    assert_eq!(r.status().as_u16(), 201);
}

/// A Page id in a path that is not digits is refused before any handler (404) and so never
/// reaches Graph; the Graph client itself refuses one before any request.
async fn page_ids_that_are_not_digits_never_reach_graph(backend: Backend) {
    let w = world(backend).await;
    w.fake.clear_requests();
    for path in ["/api/pages/%2E%2E/connect", "/api/pages/me/disconnect", "/api/pages/1501%2F..%2Fx/connect"]
    {
        let (s, b) = post_json(&w.stack, path, &w.owner, json!({"chat_mode": "only_me"})).await;
        assert_eq!(s, 404, "{path}: {b}");
    }
    let graph = facebook_at(&w.fake.base_url()).graph.clone();
    let token = SecretString::from("page-token-1501".to_string());
    for bad in ["..", "", "1501/..", "me"] {
        assert!(graph.subscribe_page(bad, &token, &["messages"]).await.is_err(), "{bad:?}");
        assert!(graph.unsubscribe_page(bad, &token).await.is_err(), "{bad:?}");
        let sent = graph.send_text(bad, &token, "61", "x", domain::graph::MessagingType::Response, "").await;
        assert!(sent.is_err(), "{bad:?}");
    }
    assert!(w.fake.requests().is_empty(), "{:?}", w.fake.requests());
    assert_eq!(
        w.stack.stores.pages.page_route(PAGE).await.expect("route").map(|r| r.status),
        Some(PageStatus::Connected)
    );
}

integration_tests::on_both_backends!(
    a_timed_out_send_goes_once_and_shows_unknown,
    meta_errors_leave_the_reply_failed_or_unknown,
    an_idempotency_key_sends_once,
    owners_do_not_reply_in_an_agents_conversation,
    page_ids_that_are_not_digits_never_reach_graph,
);
