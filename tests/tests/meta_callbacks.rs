//! Finding 6: Meta's deauthorize and data-deletion callbacks and a shop deleting a Page's data,
//! through the local stack against the fake Graph API, on both backends. On the old code none
//! of these routes existed (404) and nothing could be deleted.

use std::collections::HashMap;
use std::time::Duration;

use integration_tests::fake_graph::{DEFAULT_USER_ID, FakeGraph};
use integration_tests::*;
use serde_json::{Value, json};

const OTHER_USER: &str = "20000000002";

struct World {
    stack: local_stack::RunningStack,
    fake: FakeGraph,
}

async fn world(backend: Backend) -> World {
    let fake = FakeGraph::start().await;
    let mut cfg = stack_config(backend, Duration::from_secs(2), 5);
    cfg.graph_url = fake.base_url();
    World { stack: start_configured(cfg).await, fake }
}

fn owner(shop: &str) -> String {
    token(&format!("owner@{shop}.vn"), shop, "owner")
}

/// Facebook Login for `owner_token`'s shop with `code` (already known to the fake); returns
/// the outcome's query pairs.
async fn login(w: &World, owner_token: &str, code: &str) -> HashMap<String, String> {
    let out = browser_login(&w.stack, owner_token, code).await;
    assert_eq!(out.get("result").map(String::as_str), Some("ok"), "{out:?}");
    out
}

async fn pages(w: &World, owner_token: &str) -> Vec<Value> {
    let (s, b) = get_json(&w.stack, "/api/pages", owner_token).await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().cloned().unwrap_or_default()
}

fn page<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter().find(|p| p["page_id"] == id).unwrap_or_else(|| panic!("page {id} not in {list:?}"))
}

async fn token_of(w: &World, shop: &str, page: &str) -> Option<String> {
    w.stack.stores.pages.page(shop, page).await.expect("page").and_then(|p| p.token_enc)
}

/// Meta's signed_request for `user_id`, signed with `secret`.
fn signed(secret: &str, user_id: &str) -> String {
    let payload = json!({"algorithm": "HMAC-SHA256", "issued_at": 1_764_000_000, "user_id": user_id});
    domain::signed_request::sign(secret, &payload.to_string())
}

/// POSTs a form to a Meta callback (`signed_request` when given, else an unrelated field).
async fn post_form(w: &World, path: &str, signed_request: Option<&str>) -> (u16, Value) {
    let body = match signed_request {
        Some(s) => format!("signed_request={s}"),
        None => "something=else".to_string(),
    };
    let r = http()
        .post(w.stack.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn connect(w: &World, owner_token: &str, page_id: &str) {
    let path = format!("/api/pages/{page_id}/connect");
    let (s, b) = post_json(&w.stack, &path, owner_token, json!({"chat_mode": "only_me"})).await;
    assert_eq!(s, 200, "{b}");
}

/// Shop A has Pages 601 (connected) and 602 imported by the default person.
async fn shop_a_with_pages(w: &World) -> String {
    w.fake.add_page("601", "Áo Đẹp", "page-token-601", &["MANAGE", "MESSAGING"]);
    w.fake.add_page("602", "Giày Xinh", "page-token-602", &["MANAGE"]);
    w.fake.add_code("code-a", "short-a");
    let a = owner("shop-a");
    login(w, &a, "code-a").await;
    connect(w, &a, "601").await;
    a
}

/// A missing, forged or wrongly signed `signed_request` is refused and changes nothing.
async fn forged_or_missing_signed_requests_change_nothing(backend: Backend) {
    let w = world(backend).await;
    let a = shop_a_with_pages(&w).await;
    let forged = signed("not-the-app-secret", DEFAULT_USER_ID);
    let sha1 = domain::signed_request::sign(
        APP_SECRET,
        &json!({"algorithm": "HMAC-SHA1", "issued_at": 1, "user_id": DEFAULT_USER_ID}).to_string(),
    );
    for path in ["/facebook/deauthorize", "/facebook/data-deletion"] {
        let (s, b) = post_form(&w, path, None).await;
        assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_request")), "{path}: {b}");
        let (s, b) = post_form(&w, path, Some("garbage")).await;
        assert_eq!(s, 400, "{path}: {b}");
        let (s, b) = post_form(&w, path, Some(&forged)).await;
        assert_eq!((s, b["error"]["code"].as_str()), (401, Some("invalid_signature")), "{path}: {b}");
        let (s, _) = post_form(&w, path, Some(&sha1)).await;
        assert_eq!(s, 401, "{path}: another algorithm");
    }
    let list = pages(&w, &a).await;
    assert_eq!(page(&list, "601")["status"], "connected");
    assert_eq!(page(&list, "602")["status"], "not_connected");
    assert!(token_of(&w, "shop-a", "601").await.is_some() && token_of(&w, "shop-a", "602").await.is_some());
    assert_eq!(w.stack.stores.facebook_users.links(DEFAULT_USER_ID).await.expect("links").len(), 2);
}

/// Deauthorize: every Page whose stored token is the person's loses its connection with the
/// reason and its token; replies then get 409 `reconnect_required`; events keep being stored.
/// A shop where someone else imported the Page since keeps its token.
async fn deauthorize_marks_the_persons_pages_lost_and_deletes_tokens(backend: Backend) {
    let w = world(backend).await;
    let a = shop_a_with_pages(&w).await;
    // Shop B: the same person imports, then another admin imports again (their token is kept).
    let b = owner("shop-b");
    w.fake.add_code("code-b1", "short-b1");
    login(&w, &b, "code-b1").await;
    w.fake.add_code_for_user("code-b2", "short-b2", OTHER_USER);
    login(&w, &b, "code-b2").await;
    // A customer writes to 601.
    let now = domain::timefmt::now_ms();
    let body = notification("601", vec![text_item("601", "9001", now - 60_000, "m-1", "Còn hàng không?")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    eventually(20, "the first message", || async {
        let (s, m) = get_json(&w.stack, "/api/conversations/601_9001/messages", &a).await;
        (s == 200 && m["items"].as_array()?.len() == 1).then_some(())
    })
    .await;

    // Signed with the secret being rotated out: still Meta's.
    let (s, body) =
        post_form(&w, "/facebook/deauthorize", Some(&signed(OLD_APP_SECRET, DEFAULT_USER_ID))).await;
    assert_eq!((s, body["pages_revoked"].as_u64()), (200, Some(2)), "{body}");

    let list = pages(&w, &a).await;
    let p601 = page(&list, "601");
    assert_eq!(p601["status"], "lost_connection");
    assert!(p601["lost_reason"].as_str().is_some_and(|r| r.contains("removed the app")), "{p601}");
    assert_eq!(page(&list, "602")["status"], "not_connected");
    assert_eq!(token_of(&w, "shop-a", "601").await, None);
    assert_eq!(token_of(&w, "shop-a", "602").await, None);
    // (601 was taken by shop A, so shop B only imported 602.)
    assert!(token_of(&w, "shop-b", "602").await.is_some(), "shop B holds the other admin's token");

    let (s, body) =
        post_json(&w.stack, "/api/conversations/601_9001/messages", &a, json!({"text": "Dạ còn ạ"})).await;
    assert_eq!((s, body["error"]["code"].as_str()), (409, Some("reconnect_required")), "{body}");
    assert!(w.fake.requests_to("send").is_empty());
    let (s, body) = post_json(&w.stack, "/api/pages/602/connect", &a, json!({"chat_mode": "only_me"})).await;
    assert_eq!((s, body["error"]["code"].as_str()), (409, Some("reconnect_required")), "{body}");

    // The Page still routes to shop A: a new message is stored, nothing lost.
    let body = notification("601", vec![text_item("601", "9001", now, "m-2", "Alo?")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    eventually(20, "the message after the deauthorize", || async {
        let (s, m) = get_json(&w.stack, "/api/conversations/601_9001/messages", &a).await;
        (s == 200 && m["items"].as_array()?.len() == 2).then_some(())
    })
    .await;
    // Repeated by Meta: nothing more to do, same answer shape.
    let (s, _) = post_form(&w, "/facebook/deauthorize", Some(&signed(APP_SECRET, DEFAULT_USER_ID))).await;
    assert_eq!(s, 200);
}

/// Data deletion: the answer names a status URL and a code; the URL reports the deletion done,
/// with what it deleted; the person's links are gone.
async fn data_deletion_answers_a_code_and_the_status_url_reports_done(backend: Backend) {
    let w = world(backend).await;
    let a = shop_a_with_pages(&w).await;
    let (s, body) =
        post_form(&w, "/facebook/data-deletion", Some(&signed(APP_SECRET, DEFAULT_USER_ID))).await;
    assert_eq!(s, 200, "{body}");
    let code = body["confirmation_code"].as_str().expect("code").to_string();
    let url = body["url"].as_str().expect("url").to_string();
    assert_eq!(url, w.stack.url(&format!("/facebook/data-deletion/{code}")));

    let status = http().get(&url).send().await.expect("status");
    assert_eq!(status.status().as_u16(), 200);
    let status: Value = status.json().await.expect("json");
    assert_eq!(status["confirmation_code"], code.as_str());
    assert_eq!(status["status"], "done");
    assert_eq!(status["deleted"], json!({"page_tokens": 2, "page_links": 2}));
    assert!(status["completed_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    assert!(w.stack.stores.facebook_users.links(DEFAULT_USER_ID).await.expect("links").is_empty());
    assert_eq!(token_of(&w, "shop-a", "601").await, None);
    let list = pages(&w, &a).await;
    assert_eq!(page(&list, "601")["status"], "lost_connection");

    // A second request has nothing left to delete; unknown or malformed codes are 404.
    let (s, again) =
        post_form(&w, "/facebook/data-deletion", Some(&signed(APP_SECRET, DEFAULT_USER_ID))).await;
    assert_eq!(s, 200);
    assert_ne!(again["confirmation_code"], code.as_str());
    let second: Value = http()
        .get(again["url"].as_str().expect("url"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(second["deleted"], json!({"page_tokens": 0, "page_links": 0}));
    for bad in ["ffffffffffffffffffffffffffffffff", "..%2F..", "not-a-code"] {
        let r = http().get(w.stack.url(&format!("/facebook/data-deletion/{bad}"))).send().await.expect("get");
        assert_eq!(r.status().as_u16(), 404, "{bad}");
    }
}

/// `DELETE /api/pages/{id}`: refused while connected; afterwards the Page item, its token and
/// all the shop's conversations and messages of the Page go (more than one job step), other
/// Pages' stay; repeating it is harmless.
async fn a_shop_deletes_a_pages_data(backend: Backend) {
    let w = world(backend).await;
    let a = shop_a_with_pages(&w).await;
    connect(&w, &a, "602").await;
    let now = domain::timefmt::now_ms();
    let items: Vec<Value> = (0..30)
        .map(|i| text_item("601", &format!("70{i:02}"), now - 1000 + i, &format!("m-{i}"), "alo"))
        .collect();
    assert_eq!(post_webhook(&w.stack, &notification("601", items)).await, 200);
    let kept = notification("602", vec![text_item("602", "8001", now, "m-kept", "giữ lại")]);
    assert_eq!(post_webhook(&w.stack, &kept).await, 200);
    let count = |page_id: &'static str| {
        let stack = &w.stack;
        async move {
            let filter = domain::ports::ConversationFilter::All { page_id: Some(page_id.into()) };
            stack
                .stores
                .conversations
                .list_conversations("shop-a", &filter, None, 100)
                .await
                .expect("list")
                .items
                .len()
        }
    };
    eventually(30, "31 conversations", || async {
        (count("601").await == 30 && count("602").await == 1).then_some(())
    })
    .await;

    let (s, body) = delete(&w.stack, "/api/pages/601", &a).await;
    assert_eq!((s, body["error"]["code"].as_str()), (409, Some("page_connected")), "{body}");
    let agent = token("agent@shop-a.vn", "shop-a", "agent");
    let (s, _) =
        post_json(&w.stack, "/api/members", &a, json!({"email": "agent@shop-a.vn", "role": "agent"})).await;
    assert_eq!(s, 201);
    assert_eq!(delete(&w.stack, "/api/pages/601", &agent).await.0, 403);
    assert_eq!(delete(&w.stack, "/api/pages/..", &a).await.0, 404);

    let (s, body) = post_json(&w.stack, "/api/pages/601/disconnect", &a, json!({})).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = delete(&w.stack, "/api/pages/601", &a).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!((body["page"].as_str(), body["conversations"].as_str()), (Some("deleted"), Some("queued")));
    eventually(60, "the Page's conversations deleted", || async { (count("601").await == 0).then_some(()) })
        .await;
    assert!(w.stack.stores.conversations.conversation("shop-a", "601_7000").await.expect("read").is_none());
    let left =
        w.stack.stores.conversations.list_messages("shop-a", "601_7029", None, 10).await.expect("messages");
    assert!(left.items.is_empty());
    assert_eq!(count("602").await, 1, "another Page's conversations stay");
    let list = pages(&w, &a).await;
    assert!(list.iter().all(|p| p["page_id"] != "601"), "{list:?}");
    assert_eq!(token_of(&w, "shop-a", "601").await, None);

    let (s, body) = delete(&w.stack, "/api/pages/601", &a).await;
    assert_eq!((s, body["page"].as_str()), (202, Some("absent")), "{body}");
}

integration_tests::on_both_backends!(
    forged_or_missing_signed_requests_change_nothing,
    deauthorize_marks_the_persons_pages_lost_and_deletes_tokens,
    data_deletion_answers_a_code_and_the_status_url_reports_done,
    a_shop_deletes_a_pages_data,
);
