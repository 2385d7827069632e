//! Facebook Login, the Page list, connect and disconnect, the state's refusals, declined
//! permissions, a Page another shop holds, subscription failures, lost connection and its restore,
//! and the scheduled health check, against a fake Graph API speaking Meta's shapes and errors
//! (`docs/meta-platform.md`). Every log line of this test binary is captured and searched for
//! tokens. History sync is in `history_flow.rs`, rules in `rules_flow.rs`, replies in
//! `reply_flow.rs`; the shared world is `integration_tests::flow`.

use std::sync::Arc;
use std::time::Duration;

use integration_tests::fake_graph::FakeFailure;
use integration_tests::flow::*;
use integration_tests::*;
use serde_json::json;

async fn full_flow(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("code-1", "short-user-token-1");
    w.fake.add_page("501", "Áo Đẹp", "page-token-501-SECRET", &["MANAGE", "MESSAGING"]);
    w.fake.add_page("502", "Giày Xinh", "page-token-502-SECRET", &["MODERATE", "MESSAGING"]);
    w.fake.add_page("503", "Túi Hay", "page-token-503-SECRET", &["MANAGE"]);
    w.fake.set_accounts_page_size(1);

    let out = login(&w, "code-1").await;
    assert_eq!(out.get("result").map(String::as_str), Some("ok"), "{out:?}");
    assert_eq!(out.get("imported").map(String::as_str), Some("2"));
    assert_eq!(out.get("not_admin").map(String::as_str), Some("Giày Xinh"));
    assert_eq!(w.fake.request_count("accounts"), 3, "all three result pages read");

    let list = pages(&w).await;
    assert_eq!(list.len(), 2);
    let p = page(&list, "501");
    assert_eq!((p["status"].as_str(), p["chat_mode"].is_null()), (Some("not_connected"), true));
    assert!(!serde_json::to_string(&list).expect("json").contains("SECRET"), "no token in the API");

    let (s, b) =
        post_json(&w.stack, "/api/pages/501/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "connected");
    assert_eq!(b["chat_mode"], "only_me");
    assert_eq!(b["connected_by"], "owner@shop-a.vn");
    assert!(b["last_connected_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let sub = w.fake.requests_to("subscribe");
    assert_eq!(sub.len(), 1);
    assert_eq!(sub[0].param("access_token"), Some("page-token-501-SECRET"));
    let fields = w.fake.subscribed("501").expect("subscribed");
    for f in domain::graph::SUBSCRIBED_FIELDS {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }

    // A customer writes: it lands in the owner's inbox.
    let body =
        notification("501", vec![text_item("501", "9001", 1_764_000_000_000, "m-flow", "Còn hàng không?")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    let msgs = eventually(20, "the message in the owner's inbox", || async {
        let m = try_all_messages(&w.stack, &w.owner, "501_9001").await.ok()?;
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(msgs[0]["text"], "Còn hàng không?");

    // Disconnect: unsubscribed, not receiving, conversations kept.
    let (s, b) = post_json(&w.stack, "/api/pages/501/disconnect", &w.owner, json!({})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "not_connected");
    assert!(w.fake.subscribed("501").is_none_or(|f| f.is_empty()));
    assert_eq!(all_messages(&w.stack, &w.owner, "501_9001").await.len(), 1);
    let after = notification("501", vec![text_item("501", "9001", 1_764_000_000_500, "m-after", "alo?")]);
    assert_eq!(post_webhook(&w.stack, &after).await, 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(all_messages(&w.stack, &w.owner, "501_9001").await.len(), 1, "not receiving after disconnect");
    // Every fake Page token of every test in this binary starts with "page-token-".
    assert_no_token_in_logs(&["page-token-", "short-user-token-1", "long-short-user-token-1", "short-c"]);
}

async fn state_refusals(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("601", "Shop", "page-token-601", &["MANAGE"]);
    let state = login_state(&w, &w.owner).await;
    // Forged: the payload changed, the signature kept.
    let (payload, sig) = state.split_once('.').expect("state form");
    let forged = format!("{}A.{sig}", &payload[..payload.len() - 1]);
    let out = callback(&w, &[("code", "c"), ("state", &forged)]).await;
    assert_eq!(out.get("error").map(String::as_str), Some("invalid_state"), "{out:?}");
    let out = callback(&w, &[("code", "c"), ("state", "not-a-state")]).await;
    assert_eq!(out.get("error").map(String::as_str), Some("invalid_state"));
    let out = callback(&w, &[("code", "c")]).await;
    assert_eq!(out.get("error").map(String::as_str), Some("invalid_state"));
    // Used once: fine; replayed: refused.
    let out = callback(&w, &[("code", "c"), ("state", &state)]).await;
    assert_eq!(out.get("result").map(String::as_str), Some("ok"), "{out:?}");
    let out = callback(&w, &[("code", "c"), ("state", &state)]).await;
    assert_eq!(out.get("error").map(String::as_str), Some("invalid_state"));
    assert!(out.get("message").is_some_and(|m| m.contains("already used")));
    // Expired, and another user's (an agent of the shop: not allowed to connect Pages).
    let fb = adapters::facebook::Facebook::new(
        Arc::new(
            adapters::graph::HttpGraph::new(
                w.fake.base_url(),
                "test-app-id".into(),
                APP_SECRET.to_string().into(),
                Default::default(),
            )
            .expect("graph"),
        ),
        &stack_config(Backend::Memory, Duration::from_secs(1), 1).token_key,
        "test-app-id".into(),
        "https://x/d".into(),
        "https://x/cb".into(),
        "https://x/".into(),
    )
    .expect("facebook");
    let mk = |email: &str, exp: i64| {
        let st = domain::oauth::OAuthState {
            tenant_id: "shop-a".into(),
            email: email.into(),
            sub: format!("local|{email}"),
            expires_ms: exp,
            nonce: uuid::Uuid::new_v4().simple().to_string(),
        };
        let signed = fb.states.sign(&st);
        let cookie = format!("{}={}", domain::oauth::login_cookie_name(&st), fb.states.browser_binding(&st));
        w.cookies.lock().map(|mut m| m.insert(signed.clone(), cookie)).ok();
        signed
    };
    let expired = mk("owner@shop-a.vn", domain::timefmt::now_ms() - 1);
    let out = callback(&w, &[("code", "c"), ("state", &expired)]).await;
    assert_eq!(out.get("error").map(String::as_str), Some("invalid_state"));
    assert!(out.get("message").is_some_and(|m| m.contains("expired")));
    let (s, _) =
        post_json(&w.stack, "/api/members", &w.owner, json!({"email":"agent@shop-a.vn","role":"agent"}))
            .await;
    assert_eq!(s, 201);
    let agents = mk("agent@shop-a.vn", domain::timefmt::now_ms() + 60_000);
    let out = callback(&w, &[("code", "c"), ("state", &agents)]).await;
    assert_eq!(out.get("error").map(String::as_str), Some("forbidden"));
    // An agent cannot even ask for a login link.
    let (s, _) =
        get_json(&w.stack, "/api/facebook/login-url", &token("agent@shop-a.vn", "shop-a", "agent")).await;
    assert_eq!(s, 403);
    // Cancelled on Facebook.
    let s2 = login_state(&w, &w.owner).await;
    let out =
        callback(&w, &[("error", "access_denied"), ("error_reason", "user_denied"), ("state", &s2)]).await;
    assert_eq!(out.get("error").map(String::as_str), Some("access_denied"));
}

async fn declined_permissions_import_nothing(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("701", "Shop", "page-token-701", &["MANAGE"]);
    let mut perms: Vec<(String, String)> =
        domain::graph::REQUIRED_PERMISSIONS.iter().map(|p| (p.to_string(), "granted".to_string())).collect();
    perms[0].1 = "declined".into();
    perms.retain(|(p, _)| p != "pages_manage_metadata");
    w.fake.set_permissions(perms);
    let out = login(&w, "c").await;
    assert_eq!(out.get("error").map(String::as_str), Some("permissions_declined"), "{out:?}");
    assert_eq!(out.get("missing").map(String::as_str), Some("pages_messaging,pages_manage_metadata"));
    assert!(pages(&w).await.is_empty());
    assert_eq!(w.fake.request_count("accounts"), 0);
}

async fn a_page_another_shop_connected_is_reported_taken(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("a", "short-a");
    w.fake.add_code("b", "short-b");
    w.fake.add_page("801", "Shared Page", "page-token-801", &["MANAGE"]);
    assert_eq!(login(&w, "a").await.get("imported").map(String::as_str), Some("1"));
    let (s, _) =
        post_json(&w.stack, "/api/pages/801/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200);
    // The holder's token still works (Meta says so), so the Page stays with shop-a.
    w.fake.set_token_info("page-token-801", true, 0, &["pages_messaging"]);
    let other = token("owner@shop-b.vn", "shop-b", "owner");
    let state = login_state(&w, &other).await;
    let out = callback(&w, &[("code", "b"), ("state", &state)]).await;
    assert_eq!(out.get("imported").map(String::as_str), Some("0"), "{out:?}");
    assert_eq!(out.get("taken").map(String::as_str), Some("Shared Page"));
    let (_, b) = get_json(&w.stack, "/api/pages", &other).await;
    assert_eq!(b["items"].as_array().map(Vec::len), Some(0));
}

async fn subscribe_failures_leave_the_page_as_it_was(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("901", "Shop", "page-token-901", &["MANAGE"]);
    login(&w, "c").await;
    for _ in 0..3 {
        w.fake.fail_next("subscribe", FakeFailure::error(500, 2, None, "An unexpected error has occurred."));
    }
    let (s, b) =
        post_json(&w.stack, "/api/pages/901/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 502, "{b}");
    assert_eq!(b["error"]["code"], "graph_error");
    assert_eq!(w.fake.request_count("subscribe"), 3, "transient errors retried");
    assert_eq!(page(&pages(&w).await, "901")["status"], "not_connected");
    w.fake.fail_next(
        "subscribe",
        FakeFailure::error(400, 190, Some(460), "Error validating access token: password changed"),
    );
    let (s, b) =
        post_json(&w.stack, "/api/pages/901/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 502, "{b}");
    assert!(b["error"]["message"].as_str().is_some_and(|m| m.contains("190")), "{b}");
    assert_eq!(page(&pages(&w).await, "901")["status"], "not_connected");
    // Shared mode with a rule that does not exist.
    let (s, b) =
        post_json(&w.stack, "/api/pages/901/connect", &w.owner, json!({"chat_mode":"shared","rule_id":"r1"}))
            .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(page(&pages(&w).await, "901")["status"], "not_connected");
    // Unknown Page.
    let (s, _) =
        post_json(&w.stack, "/api/pages/999/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 404);
}

async fn lost_connection_keeps_storing_and_login_restores(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c1", "short-1");
    w.fake.add_code("c2", "short-2");
    w.fake.add_page("1001", "Shop", "page-token-1001", &["MANAGE"]);
    login(&w, "c1").await;
    let (s, _) =
        post_json(&w.stack, "/api/pages/1001/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200);
    // Meta invalidates the token: the next Page call answers 190/460.
    w.fake.fail_next("subscribe", FakeFailure::error(400, 190, Some(460), "password changed"));
    let (s, _) =
        post_json(&w.stack, "/api/pages/1001/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 502);
    let p = page(&pages(&w).await, "1001").clone();
    assert_eq!(p["status"], "lost_connection");
    assert!(p["lost_reason"].as_str().is_some_and(|r| r.contains("password")), "{p}");
    // Messages keep being stored.
    let body =
        notification("1001", vec![text_item("1001", "77", 1_764_000_000_000, "m-lost", "vẫn nhận chứ?")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    eventually(20, "the message during lost connection", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1001_77").await.ok()?;
        (m.len() == 1).then_some(())
    })
    .await;
    // Facebook Login again restores it.
    let out = login(&w, "c2").await;
    assert_eq!(out.get("restored").map(String::as_str), Some("Shop"), "{out:?}");
    let p = page(&pages(&w).await, "1001").clone();
    assert_eq!(p["status"], "connected");
    assert!(p["lost_reason"].is_null());
}

async fn health(w: &World, silence: Duration) -> page_health::HealthReport {
    // Each call a new sweep (no interval between sweeps), as the scheduled runs would make.
    let sweep = page_health::SweepSettings { interval: Duration::ZERO, ..Default::default() };
    page_health::HealthCheck {
        pages: w.stack.stores.pages.clone(),
        facebook: facebook_for(w),
        silence,
        sweep,
    }
    .run()
    .await
    .expect("health run")
}

async fn the_health_check_restores_subscriptions_flags_silence_and_marks_dead_tokens(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1201", "Healthy", "page-token-1201", &["MANAGE"]);
    w.fake.add_page("1202", "Dropped", "page-token-1202", &["MANAGE"]);
    w.fake.add_page("1203", "Dead", "page-token-1203", &["MANAGE"]);
    w.fake.add_page("1204", "Imported only", "page-token-1204", &["MANAGE"]);
    login(&w, "c").await;
    for p in ["1201", "1202", "1203"] {
        let (s, b) =
            post_json(&w.stack, &format!("/api/pages/{p}/connect"), &w.owner, json!({"chat_mode":"only_me"}))
                .await;
        assert_eq!(s, 200, "{b}");
    }
    for t in ["page-token-1201", "page-token-1202"] {
        w.fake.set_token_info(t, true, 0, domain::graph::REQUIRED_PERMISSIONS);
    }
    w.fake.set_token_info("page-token-1203", false, 0, &[]);
    // Meta dropped 1202's subscription (as it does after an hour of failed deliveries).
    let fb = facebook_for(&w);
    fb.graph.unsubscribe_page("1202", &"page-token-1202".to_string().into()).await.expect("unsubscribe");
    // 1201 delivers a webhook.
    let body = notification("1201", vec![text_item("1201", "5", 1_764_000_000_000, "m-h", "hi")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    eventually(20, "the delivery", || async {
        let r = w.stack.stores.pages.list_routes().await.ok()?;
        r.iter().find(|r| r.route.page_id == "1201")?.last_event_ms.map(|_| ())
    })
    .await;

    let report = health(&w, Duration::from_secs(3600)).await;
    assert_eq!(report.checked, 3, "{report:?}");
    assert_eq!(report.marked_lost, ["1203"]);
    assert_eq!(report.resubscribed, ["1202"]);
    assert!(report.silent.is_empty());
    assert!(w.fake.subscribed("1202").is_some_and(|f| f.len() == domain::graph::SUBSCRIBED_FIELDS.len()));
    let list = pages(&w).await;
    assert_eq!(page(&list, "1203")["status"], "lost_connection");
    assert!(page(&list, "1203")["lost_reason"].as_str().is_some_and(|r| r.contains("no longer valid")));
    assert_eq!(page(&list, "1201")["status"], "connected");
    assert_eq!(page(&list, "1204")["status"], "not_connected");

    // With a zero threshold every connected Page counts as silent. 1201 delivered within the
    // hour and was found healthy: skipped (no Graph call); the lost 1203 is checked again and
    // stays lost (its token is still dead).
    let report = health(&w, Duration::ZERO).await;
    assert_eq!((report.checked, report.skipped, report.still_lost), (2, 1, 1), "{report:?}");
    assert_eq!(report.silent, ["1201", "1202"]);

    // A health-check call answering 190 (the connecting user is no longer a Page admin); the
    // two Pages checked (1201 is skipped) each get one.
    for _ in 0..2 {
        w.fake.fail_next(
            "debug_token",
            FakeFailure::error(400, 190, Some(492), "User is not an admin of the Page"),
        );
    }
    let report = health(&w, Duration::from_secs(3600)).await;
    assert_eq!(report.marked_lost, ["1202"], "{report:?}");
    let lost = page(&pages(&w).await, &report.marked_lost[0]).clone();
    assert_eq!(lost["status"], "lost_connection");
    assert!(lost["lost_reason"].as_str().is_some_and(|r| r.contains("no longer its admin")), "{lost}");
}

integration_tests::on_both_backends!(
    full_flow,
    state_refusals,
    declined_permissions_import_nothing,
    a_page_another_shop_connected_is_reported_taken,
    subscribe_failures_leave_the_page_as_it_was,
    lost_connection_keeps_storing_and_login_restores,
    the_health_check_restores_subscriptions_flags_silence_and_marks_dead_tokens,
);
