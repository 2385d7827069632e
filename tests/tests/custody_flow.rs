//! Page custody through the API, Facebook Login and the worker, against the fake Graph API
//! (docs/page-custody.md): a Page a shop lost is taken over by a current admin; a shop that does
//! not hold a Page never acts on it at Meta; a connect and a disconnect never interleave;
//! events that arrive while a connect subscribes are kept.

use std::collections::HashMap;
use std::time::Duration;

use integration_tests::fake_graph::{FakeFailure, FakeGraph};
use integration_tests::*;
use serde_json::{Value, json};

struct World {
    stack: local_stack::RunningStack,
    fake: FakeGraph,
    a: String,
    b: String,
}

async fn world(backend: Backend) -> World {
    let fake = FakeGraph::start().await;
    let mut cfg = stack_config(backend, Duration::from_secs(2), 5);
    cfg.graph_url = fake.base_url();
    // Room for the scripted slow subscriptions below.
    cfg.graph_policy.timeout = Duration::from_secs(10);
    let stack = start_configured(cfg).await;
    let a = token("owner@shop-a.vn", "shop-a", "owner");
    let b = token("owner@shop-b.vn", "shop-b", "owner");
    World { stack, fake, a, b }
}

/// Facebook Login by the owner holding `owner_token`, answered with `code`: the outcome.
async fn login(w: &World, owner_token: &str, code: &str) -> HashMap<String, String> {
    browser_login(&w.stack, owner_token, code).await
}

async fn connect(w: &World, owner_token: &str, page: &str) -> (u16, Value) {
    post_json(&w.stack, &format!("/api/pages/{page}/connect"), owner_token, json!({"chat_mode":"only_me"}))
        .await
}

/// A connect (only me) sent now and answered later: its status.
fn connect_in_background(
    w: &World,
    owner_token: &str,
    page: &str,
) -> tokio::task::JoinHandle<reqwest::Result<u16>> {
    let url = w.stack.url(&format!("/api/pages/{page}/connect"));
    let owner = owner_token.to_string();
    tokio::spawn(async move {
        let r = http().post(url).bearer_auth(owner).json(&json!({"chat_mode":"only_me"})).send().await;
        r.map(|r| r.status().as_u16())
    })
}

async fn page_of(w: &World, owner_token: &str, page: &str) -> Value {
    let (s, b) = get_json(&w.stack, "/api/pages", owner_token).await;
    assert_eq!(s, 200, "{b}");
    b["items"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["page_id"] == page).cloned())
        .unwrap_or(Value::Null)
}

/// A customer message to `page` now.
async fn customer_writes(w: &World, page: &str, psid: &str, mid: &str) {
    let now = domain::timefmt::now_ms();
    let body = notification(page, vec![text_item(page, psid, now, mid, "còn hàng không?")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
}

async fn health(w: &World) -> page_health::HealthReport {
    let check = page_health::HealthCheck::new(
        w.stack.stores.pages.clone(),
        facebook_at(&w.fake.base_url()),
        Duration::from_secs(3600),
    );
    check.run().await.expect("health run")
}

/// Finding 1: a shop whose admin lost the Page keeps it in lost connection (its messages still
/// stored) until a current admin logs in from another shop and connects it; then new messages
/// go to the new shop, and the previous shop's Page says why.
async fn a_current_admin_takes_over_a_page_another_shop_lost(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("a", "short-a");
    w.fake.add_code("b", "short-b");
    w.fake.add_page("2101", "Áo Đẹp", "page-token-2101-a", &["MANAGE"]);
    w.fake.set_token_info("page-token-2101-a", true, 0, &["pages_messaging"]);
    assert_eq!(login(&w, &w.a, "a").await.get("imported").map(String::as_str), Some("1"));
    assert_eq!(connect(&w, &w.a, "2101").await.0, 200);
    customer_writes(&w, "2101", "31", "m-before").await;
    eventually(20, "the first message in shop-a", || async {
        (try_all_messages(&w.stack, &w.a, "2101_31").await.ok()?.len() == 1).then_some(())
    })
    .await;

    // shop-a's admin is removed from the Page: Meta stops taking its token.
    w.fake.set_token_info("page-token-2101-a", false, 0, &[]);
    assert_eq!(health(&w).await.marked_lost, ["2101"]);
    // Quarantine: messages still go to shop-a, nothing is dropped.
    customer_writes(&w, "2101", "31", "m-lost").await;
    eventually(20, "the message during lost connection", || async {
        (try_all_messages(&w.stack, &w.a, "2101_31").await.ok()?.len() == 2).then_some(())
    })
    .await;

    // The Page's current admin logs in from shop-b (Meta issues them their own Page token).
    w.fake.state().pages.iter_mut().for_each(|p| p.token = "page-token-2101-b".into());
    w.fake.set_token_info("page-token-2101-b", true, 0, &["pages_messaging"]);
    let out = login(&w, &w.b, "b").await;
    assert_eq!(out.get("imported").map(String::as_str), Some("1"), "{out:?}");
    assert!(!out.contains_key("taken"), "{out:?}");
    let (s, b) = connect(&w, &w.b, "2101").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "connected");
    let subscribe = w.fake.requests_to("subscribe").pop().expect("subscribed");
    assert_eq!(subscribe.param("access_token"), Some("page-token-2101-b"), "with shop-b's own token");

    let a_page = page_of(&w, &w.a, "2101").await;
    assert_eq!(a_page["status"], "lost_connection");
    assert!(a_page["lost_reason"].as_str().is_some_and(|r| r.contains("another shop")), "{a_page}");
    customer_writes(&w, "2101", "32", "m-after").await;
    eventually(20, "the new customer's message in shop-b", || async {
        (try_all_messages(&w.stack, &w.b, "2101_32").await.ok()?.len() == 1).then_some(())
    })
    .await;
    assert_eq!(get_json(&w.stack, "/api/conversations/2101_32/messages", &w.a).await.0, 404);
    assert_eq!(all_messages(&w.stack, &w.a, "2101_31").await.len(), 2, "shop-a keeps what it had");
}

/// Finding 1: a holder whose token died unnoticed (not yet marked lost) does not block the
/// Page's current admin: Facebook Login checks the holder's token with Meta, marks it lost at
/// the version it read, and imports the Page. While the token works, the Page stays taken.
async fn login_checks_a_connected_holders_token_before_reporting_taken(backend: Backend) {
    let w = world(backend).await;
    for c in ["a", "b1", "b2"] {
        w.fake.add_code(c, &format!("short-{c}"));
    }
    w.fake.add_page("2151", "Giày", "page-token-2151", &["MANAGE"]);
    w.fake.set_token_info("page-token-2151", true, 0, &["pages_messaging"]);
    login(&w, &w.a, "a").await;
    assert_eq!(connect(&w, &w.a, "2151").await.0, 200);
    let out = login(&w, &w.b, "b1").await;
    assert_eq!(
        (out.get("imported").map(String::as_str), out.get("taken").map(String::as_str)),
        (Some("0"), Some("Giày"))
    );
    assert_eq!(connect(&w, &w.b, "2151").await.0, 404, "not imported");

    w.fake.set_token_info("page-token-2151", false, 0, &[]);
    let out = login(&w, &w.b, "b2").await;
    assert_eq!(out.get("imported").map(String::as_str), Some("1"), "{out:?}");
    assert_eq!(page_of(&w, &w.a, "2151").await["status"], "lost_connection");
}

/// Finding 3: a shop that does not hold a Page never calls Meta for it: its disconnect only
/// changes its own item (the holder keeps receiving) and its reply is refused.
async fn a_shop_that_does_not_hold_a_page_cannot_act_on_it_at_meta(backend: Backend) {
    let w = world(backend).await;
    for c in ["a", "b"] {
        w.fake.add_code(c, &format!("short-{c}"));
    }
    w.fake.add_page("2201", "Túi", "page-token-2201", &["MANAGE"]);
    login(&w, &w.b, "b").await;
    assert_eq!(connect(&w, &w.b, "2201").await.0, 200);
    customer_writes(&w, "2201", "41", "m-b").await;
    eventually(20, "shop-b's conversation", || async {
        (try_all_messages(&w.stack, &w.b, "2201_41").await.ok()?.len() == 1).then_some(())
    })
    .await;
    assert_eq!(post_json(&w.stack, "/api/pages/2201/disconnect", &w.b, json!({})).await.0, 200);
    login(&w, &w.a, "a").await;
    assert_eq!(connect(&w, &w.a, "2201").await.0, 200);
    w.fake.clear_requests();

    let (s, b) = post_json(&w.stack, "/api/pages/2201/disconnect", &w.b, json!({})).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("not_connected")), "{b}");
    assert_eq!(w.fake.request_count("unsubscribe"), 0, "shop-b never unsubscribes shop-a's Page");
    assert!(w.fake.subscribed("2201").is_some());
    assert_eq!(
        w.stack.stores.pages.page_route("2201").await.expect("route").map(|r| r.tenant_id),
        Some("shop-a".into())
    );

    let (s, b) =
        post_json(&w.stack, "/api/conversations/2201_41/messages", &w.b, json!({"text": "vẫn còn ạ"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("page_not_held")), "{b}");
    assert_eq!(w.fake.request_count("send"), 0, "nothing sent as the Page");
}

/// Finding 7: a disconnect while a connect is subscribing is refused (`page_busy`), so the Page
/// never ends connected while Meta is unsubscribed.
async fn a_disconnect_racing_a_connect_is_refused(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("a", "short-a");
    w.fake.add_page("2301", "Mũ", "page-token-2301", &["MANAGE"]);
    login(&w, &w.a, "a").await;
    assert_eq!(connect(&w, &w.a, "2301").await.0, 200);
    w.fake.fail_next("subscribe", FakeFailure::Delay(Duration::from_secs(2)));
    let reconnect = connect_in_background(&w, &w.a, "2301");
    eventually(10, "the second subscribe in flight", || async {
        (w.fake.request_count("subscribe") == 2).then_some(())
    })
    .await;
    let (s, b) = post_json(&w.stack, "/api/pages/2301/disconnect", &w.a, json!({})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("page_busy")), "{b}");
    assert_eq!(reconnect.await.expect("task").expect("connect"), 200);
    assert_eq!(page_of(&w, &w.a, "2301").await["status"], "connected");
    assert!(w.fake.subscribed("2301").is_some(), "connected means subscribed");
    // Afterwards the disconnect goes through.
    assert_eq!(post_json(&w.stack, "/api/pages/2301/disconnect", &w.a, json!({})).await.0, 200);
    assert!(w.fake.subscribed("2301").is_none_or(|f| f.is_empty()));
}

/// Finding 7: events that arrive between the subscription and the connection's write are
/// stored for the connecting shop (the draft route is written before subscribing).
async fn events_arriving_while_a_connect_subscribes_are_kept(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("a", "short-a");
    w.fake.add_page("2401", "Váy", "page-token-2401", &["MANAGE"]);
    login(&w, &w.a, "a").await;
    w.fake.fail_next("subscribe", FakeFailure::Delay(Duration::from_secs(4)));
    let connecting = connect_in_background(&w, &w.a, "2401");
    eventually(10, "the subscribe in flight", || async {
        (w.fake.request_count("subscribe") == 1).then_some(())
    })
    .await;
    customer_writes(&w, "2401", "51", "m-early").await;
    eventually(20, "the early message stored", || async {
        (try_all_messages(&w.stack, &w.a, "2401_51").await.ok()?.len() == 1).then_some(())
    })
    .await;
    assert!(!connecting.is_finished(), "stored while the connect was still subscribing");
    assert_eq!(connecting.await.expect("task").expect("connect"), 200);
    assert_eq!(page_of(&w, &w.a, "2401").await["status"], "connected");
}

integration_tests::on_both_backends!(
    a_current_admin_takes_over_a_page_another_shop_lost,
    login_checks_a_connected_holders_token_before_reporting_taken,
    a_shop_that_does_not_hold_a_page_cannot_act_on_it_at_meta,
    a_disconnect_racing_a_connect_is_refused,
    events_arriving_while_a_connect_subscribes_are_kept,
);
