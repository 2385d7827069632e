//! Facebook Login, the Page list, connect and disconnect, lost connection, against a fake Graph
//! API speaking Meta's shapes and errors (`docs/meta-platform.md`). Every log line of this test binary is captured
//! and searched for tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use integration_tests::fake_graph::{FakeFailure, FakeGraph};
use integration_tests::*;
use serde_json::{Value, json};

/// Every log line written by this test binary.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info,reqwest=debug,aws=info")
            .with_writer(move || CaptureWriter(sink.clone()))
            .with_ansi(false)
            .try_init();
        buf
    })
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map(|mut v| v.extend_from_slice(b)).ok();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct World {
    stack: local_stack::RunningStack,
    fake: FakeGraph,
    owner: String,
    /// The login cookie each issued state came with (this test's one browser).
    cookies: Mutex<HashMap<String, String>>,
}

async fn world(backend: Backend) -> World {
    captured();
    let fake = FakeGraph::start().await;
    let mut cfg = stack_config(backend, Duration::from_secs(2), 5);
    cfg.graph_url = fake.base_url();
    let stack = start_configured(cfg).await;
    let owner = token("owner@shop-a.vn", "shop-a", "owner");
    World { stack, fake, owner, cookies: Mutex::default() }
}

/// The `name=value` of the login cookie a login-url answer set.
fn login_cookie(r: &reqwest::Response) -> String {
    let set = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("a login cookie");
    set.split(';').next().unwrap_or_default().to_string()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Asks for the login URL as `token` and returns its `state`.
async fn login_state(w: &World, token: &str) -> String {
    let r = http()
        .get(w.stack.url("/api/facebook/login-url"))
        .bearer_auth(token)
        .send()
        .await
        .expect("login-url");
    let s = r.status().as_u16();
    let cookie = (s == 200).then(|| login_cookie(&r));
    let b: Value = r.json().await.unwrap_or_default();
    assert_eq!(s, 200, "{b}");
    let url = reqwest::Url::parse(b["url"].as_str().expect("url")).expect("parse");
    let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q.get("client_id").map(String::as_str), Some("test-app-id"));
    for p in domain::graph::REQUIRED_PERMISSIONS {
        assert!(q.get("scope").is_some_and(|s| s.contains(p)), "{p}");
    }
    let state = q.get("state").cloned().expect("state");
    if let Some(c) = cookie {
        w.cookies.lock().map(|mut m| m.insert(state.clone(), c)).ok();
    }
    state
}

/// Follows Meta's redirect to the callback; returns the outcome's query pairs.
async fn callback(w: &World, query: &[(&str, &str)]) -> HashMap<String, String> {
    // The browser that asked for the state sends its cookie back.
    let cookie = query
        .iter()
        .find(|(k, _)| *k == "state")
        .and_then(|(_, st)| w.cookies.lock().ok().and_then(|m| m.get(*st).cloned()));
    let mut req = no_redirects().get(w.stack.url("/oauth/facebook/callback")).query(query);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.expect("callback");
    assert_eq!(r.status().as_u16(), 302);
    let loc = r.headers().get("location").and_then(|l| l.to_str().ok()).expect("location").to_string();
    assert!(loc.starts_with("https://app.example.vn/facebook/done?"), "{loc}");
    reqwest::Url::parse(&loc).expect("location url").query_pairs().into_owned().collect()
}

async fn pages(w: &World) -> Vec<Value> {
    let (s, b) = get_json(&w.stack, "/api/pages", &w.owner).await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().cloned().unwrap_or_default()
}

fn page<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter().find(|p| p["page_id"] == id).unwrap_or_else(|| panic!("page {id} not in {list:?}"))
}

async fn login(w: &World, code: &str) -> HashMap<String, String> {
    let state = login_state(w, &w.owner).await;
    callback(w, &[("code", code), ("state", &state)]).await
}

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

fn assert_no_token_in_logs(tokens: &[&str]) {
    let logs = captured().lock().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
    assert!(logs.len() > 1000, "the logs were captured ({} bytes)", logs.len());
    for t in tokens.iter().chain([&APP_SECRET]) {
        assert!(!logs.contains(t), "a secret ({}…) reached a log line", &t[..6.min(t.len())]);
    }
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
}

async fn rules_through_the_api(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    for p in ["1301", "1302", "1303"] {
        w.fake.add_page(p, &format!("Shop {p}"), &format!("page-token-{p}"), &["MANAGE"]);
    }
    login(&w, "c").await;
    add_agents(&w.stack, &w.owner, &shop_a(&["agent0", "agent1", "agent2"])).await;
    let rule = |name: &str, pages: Vec<&str>, agents: Vec<&str>, method: &str| json!({"name": name, "page_ids": pages, "agent_emails": agents, "method": method, "old_conversations": "none"});
    // Refusals, each clear.
    for (body, status, code) in [
        (rule("A", vec![], vec!["agent0@shop-a.vn"], "round_robin"), 422, "no_pages"),
        (rule("A", vec!["1303"], vec![], "round_robin"), 422, "no_agents"),
        (
            rule("A", vec!["1303"], vec!["agent0@shop-a.vn", "x@y.vn", "z@y.vn"], "round_robin"),
            422,
            "unknown_emails",
        ),
        (rule("A", vec!["9999"], vec!["agent0@shop-a.vn"], "round_robin"), 422, "unknown_pages"),
        (rule("A", vec!["1303"], vec!["agent0@shop-a.vn"], "lottery"), 422, "invalid_method"),
        (rule(" ", vec!["1303"], vec!["agent0@shop-a.vn"], "round_robin"), 422, "invalid_name"),
    ] {
        let (s, b) = post_json(&w.stack, "/api/rules", &w.owner, body).await;
        assert_eq!((s, b["error"]["code"].as_str()), (status, Some(code)), "{b}");
        if code == "unknown_emails" {
            let m = b["error"]["message"].as_str().unwrap_or_default();
            assert!(m.contains("x@y.vn") && m.contains("z@y.vn") && !m.contains("agent0"), "{m}");
        }
    }
    // Connect 1301 shared with a new rule, atomically.
    let new_rule = json!({"name": "Bán hàng", "agent_emails": ["agent0@shop-a.vn", "Agent1@Shop-A.vn"], "method": "round_robin"});
    let (s, b) = post_json(
        &w.stack,
        "/api/pages/1301/connect",
        &w.owner,
        json!({"chat_mode": "shared", "new_rule": new_rule}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["chat_mode"], "shared");
    let rule_id = b["rule_id"].as_str().expect("rule id").to_string();
    let (s, r) = get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await;
    assert_eq!(s, 200);
    assert_eq!(r["page_ids"], json!(["1301"]));
    assert_eq!(r["agent_emails"], json!(["agent0@shop-a.vn", "agent1@shop-a.vn"]));
    // The same name in another case; a Page already in a rule.
    let (s, b) = post_json(
        &w.stack,
        "/api/rules",
        &w.owner,
        rule("BÁN HÀNG", vec!["1303"], vec!["agent2@shop-a.vn"], "self_claim"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("rule_name_taken")), "{b}");
    let (s, b) = post_json(
        &w.stack,
        "/api/rules",
        &w.owner,
        rule("Tự nhận", vec!["1301"], vec!["agent2@shop-a.vn"], "self_claim"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("page_in_other_rule")), "{b}");
    assert!(b["error"]["message"].as_str().is_some_and(|m| m.contains("Bán hàng")), "{b}");
    // 1302 joins the existing rule.
    let (s, b) = post_json(
        &w.stack,
        "/api/pages/1302/connect",
        &w.owner,
        json!({"chat_mode": "shared", "rule_id": rule_id}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, r) = get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await;
    assert_eq!(r["page_ids"], json!(["1301", "1302"]));
    // Four new customers: two each, in turn.
    for (i, p) in ["1301", "1302", "1301", "1302"].iter().enumerate() {
        let body = notification(
            p,
            vec![text_item(p, &format!("77{i}"), 1_764_000_000_000 + i as i64, &format!("rr-{i}"), "alo")],
        );
        assert_eq!(post_webhook(&w.stack, &body).await, 200);
    }
    let per_agent = eventually(20, "four assigned conversations", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=all", &w.owner).await;
        let items = b["items"].as_array()?.clone();
        if items.len() < 4 || items.iter().any(|c| c["assignee"].is_null()) {
            return None;
        }
        let mut m: HashMap<String, usize> = HashMap::new();
        for c in items {
            *m.entry(c["assignee"].as_str()?.to_string()).or_default() += 1;
        }
        Some(m)
    })
    .await;
    assert_eq!(per_agent.get("agent0@shop-a.vn"), Some(&2), "{per_agent:?}");
    assert_eq!(per_agent.get("agent1@shop-a.vn"), Some(&2), "{per_agent:?}");
    // An agent is refused on every management route.
    let agent = token("agent0@shop-a.vn", "shop-a", "agent");
    assert_eq!(get_json(&w.stack, "/api/rules", &agent).await.0, 403);
    assert_eq!(get_json(&w.stack, &format!("/api/rules/{rule_id}"), &agent).await.0, 403);
    assert_eq!(
        post_json(
            &w.stack,
            "/api/rules",
            &agent,
            rule("X", vec!["1303"], vec!["agent0@shop-a.vn"], "self_claim")
        )
        .await
        .0,
        403
    );
    assert_eq!(
        post_json(&w.stack, "/api/pages/1303/connect", &agent, json!({"chat_mode":"only_me"})).await.0,
        403
    );
    assert_eq!(post_json(&w.stack, "/api/pages/1303/disconnect", &agent, json!({})).await.0, 403);
    assert_eq!(
        post_json(&w.stack, "/api/members", &agent, json!({"email":"n@x.vn","role":"agent"})).await.0,
        403
    );
    assert_eq!(get_json(&w.stack, "/api/facebook/login-url", &agent).await.0, 403);
    // Replace the rule: 1302 leaves it (back to only-me), agents change, policy recorded.
    let put = json!({"name": "Bán hàng 2", "page_ids": ["1301"], "agent_emails": ["agent0@shop-a.vn", "agent2@shop-a.vn"],
        "method": "round_robin", "old_conversations": "all"});
    let r = http()
        .put(w.stack.url(&format!("/api/rules/{rule_id}")))
        .bearer_auth(&w.owner)
        .json(&put)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let (_, r) = get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await;
    assert_eq!((r["name"].as_str(), r["page_ids"].clone()), (Some("Bán hàng 2"), json!(["1301"])));
    assert_eq!(r["old_conversations_chosen_by"], "owner@shop-a.vn");
    let list = pages(&w).await;
    assert_eq!(
        (page(&list, "1302")["chat_mode"].as_str(), page(&list, "1302")["rule_id"].is_null()),
        (Some("only_me"), true)
    );
    let body = notification("1302", vec![text_item("1302", "880", 1_764_000_001_000, "after-put", "alo")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    let c = eventually(20, "the only-me conversation", || async {
        let (s, c) = get_json(&w.stack, "/api/conversations/1302_880", &w.owner).await;
        (s == 200 && !c["assignee"].is_null()).then_some(c)
    })
    .await;
    assert_eq!(c["assignee"], "owner@shop-a.vn");
    // Deleting a rule with Pages is refused; once its last Page moves out, it goes.
    let del = |t: String| {
        let url = w.stack.url(&format!("/api/rules/{rule_id}"));
        async move { http().delete(url).bearer_auth(t).send().await.expect("delete").status().as_u16() }
    };
    assert_eq!(del(w.owner.clone()).await, 409);
    let (s, b) =
        post_json(&w.stack, "/api/pages/1301/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["rule_id"].is_null());
    assert_eq!(get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await.1["page_ids"], json!([]));
    assert_eq!(del(agent.clone()).await, 403);
    assert_eq!(del(w.owner.clone()).await, 204);
    assert_eq!(get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await.0, 404);
    // Another shop sees none of it.
    let other = token("owner@shop-b.vn", "shop-b", "owner");
    assert_eq!(get_json(&w.stack, &format!("/api/rules/{rule_id}"), &other).await.0, 404);
    assert_eq!(get_json(&w.stack, "/api/rules", &other).await.1["items"], json!([]));
    let (s, _) = post_json(
        &w.stack,
        "/api/pages/1303/connect",
        &other,
        json!({"chat_mode":"shared","rule_id": rule_id}),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(get_json(&w.stack, "/api/conversations/1301_770/messages", &other).await.0, 404);
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

async fn replies_follow_the_window_and_meta_errors(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1501", "Shop", "page-token-1501", &["MANAGE"]);
    login(&w, "c").await;
    let (s, _) =
        post_json(&w.stack, "/api/pages/1501/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200);
    let now = domain::timefmt::now_ms();
    let h = 3_600_000i64;
    for (c, age) in [("61", h), ("63", 72 * h), ("68", 8 * 24 * h)] {
        let body =
            notification("1501", vec![text_item("1501", c, now - age, &format!("in-{c}"), "alo shop")]);
        assert_eq!(post_webhook(&w.stack, &body).await, 200);
    }
    eventually(20, "three conversations", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=all", &w.owner).await;
        (b["items"].as_array()?.len() == 3 && b["items"].as_array()?.iter().all(|c| !c["assignee"].is_null()))
            .then_some(())
    })
    .await;
    let reply = |conv: &'static str, token: String, text: &'static str| {
        let url = w.stack.url(&format!("/api/conversations/{conv}/messages"));
        async move {
            let r =
                http().post(url).bearer_auth(token).json(&json!({"text": text})).send().await.expect("reply");
            let status = r.status().as_u16();
            let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
            (status, r.json::<Value>().await.unwrap_or_default(), retry_after)
        }
    };
    let count = |conv: &'static str| {
        let stack = &w.stack;
        let owner = w.owner.clone();
        async move { all_messages(stack, &owner, conv).await.len() }
    };
    // Inside 24 h: RESPONSE, with the Page token, to the customer.
    let (s, b, _) = reply("1501_61", w.owner.clone(), "Dạ còn ạ").await;
    assert_eq!(s, 201, "{b}");
    assert_eq!((b["id"].as_str(), b["direction"].as_str()), (Some("m_sent_1"), Some("out")));
    let sent = w.fake.requests_to("send");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("access_token"), Some("page-token-1501"));
    let body: Value = serde_json::from_str(&sent[0].body).expect("send body");
    assert_eq!(body["messaging_type"], "RESPONSE");
    assert_eq!(body["recipient"]["id"], "61");
    assert_eq!(body["message"]["text"], "Dạ còn ạ");
    // The echo of that reply is the same message; an echo from Meta's own inbox is stored as outgoing.
    let echo = |mid: &str, app: Option<u64>| {
        let mut m = json!({"mid": mid, "text": "Dạ còn ạ", "is_echo": true});
        if let Some(a) = app {
            m["app_id"] = json!(a);
        }
        notification(
            "1501",
            vec![json!({"sender":{"id":"1501"},"recipient":{"id":"61"},"timestamp": now, "message": m})],
        )
    };
    assert_eq!(post_webhook(&w.stack, &echo("m_sent_1", Some(123))).await, 200);
    assert_eq!(post_webhook(&w.stack, &echo("m_inbox_1", None)).await, 200);
    let msgs = eventually(20, "the inbox echo", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1501_61").await.ok()?;
        m.iter().any(|m| m["id"] == "m_inbox_1").then_some(m)
    })
    .await;
    assert_eq!(msgs.iter().filter(|m| m["id"] == "m_sent_1").count(), 1, "send then echo: one message");
    assert_eq!(
        msgs.iter().find(|m| m["id"] == "m_inbox_1").map(|m| m["direction"].clone()),
        Some(json!("out"))
    );
    // Three days: only with the Human Agent tag enabled.
    let (s, b, _) = reply("1501_63", w.owner.clone(), "Xin lỗi đã trả lời muộn").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("outside_window")), "{b}");
    let r = http()
        .put(w.stack.url("/api/settings"))
        .bearer_auth(&w.owner)
        .json(&json!({"human_agent_tag": true}))
        .send()
        .await
        .expect("settings");
    assert_eq!(r.status().as_u16(), 200);
    let (s, b, _) = reply("1501_63", w.owner.clone(), "Xin lỗi đã trả lời muộn").await;
    assert_eq!(s, 201, "{b}");
    let body: Value =
        serde_json::from_str(&w.fake.requests_to("send").last().expect("sent").body).expect("body");
    assert_eq!(
        (body["messaging_type"].as_str(), body["tag"].as_str()),
        (Some("MESSAGE_TAG"), Some("HUMAN_AGENT"))
    );
    // Eight days: closed, whatever the setting.
    let (s, b, _) = reply("1501_68", w.owner.clone(), "alo").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("outside_window")), "{b}");
    assert_eq!(count("1501_68").await, 1);
    // Meta's errors: each leaves the reply in the thread, failed (refused) or unknown (5xx:
    // not retried, it may have gone out), and one request at Meta (rate limits excepted).
    let before = count("1501_61").await;
    let cases: Vec<(Vec<FakeFailure>, u16, &str, &str)> = vec![
        (
            vec![FakeFailure::error(400, 551, Some(1545041), "This person isn't available right now.")],
            422,
            "recipient_unavailable",
            "failed",
        ),
        (
            vec![FakeFailure::error(400, 10, Some(2018278), "Message sent outside allowed window")],
            422,
            "outside_window",
            "failed",
        ),
        (
            vec![FakeFailure::error(400, 4, None, "Application request limit reached"); 3],
            429,
            "rate_limited",
            "failed",
        ),
        (
            vec![FakeFailure::error(500, 2, None, "Service temporarily unavailable")],
            502,
            "graph_error",
            "unknown",
        ),
    ];
    for (n, (failures, status, code, reply_status)) in cases.into_iter().enumerate() {
        for f in failures {
            w.fake.fail_next("send", f);
        }
        let (s, b, retry_after) = reply("1501_61", w.owner.clone(), "thử lại").await;
        assert_eq!((s, b["error"]["code"].as_str()), (status, Some(code)), "{b}");
        assert_eq!(b["reply"]["status"].as_str(), Some(reply_status), "{b}");
        if status == 429 {
            assert_eq!(retry_after.as_deref(), Some("60"));
        }
        assert_eq!(count("1501_61").await, before + n + 1, "the reply stays, with its status, after {code}");
    }
    let before = count("1501_61").await;
    assert_eq!(page(&pages(&w).await, "1501")["status"], "connected");
    // Who may not reply: an agent who does not hold it, another shop's owner.
    let (s, _) =
        post_json(&w.stack, "/api/members", &w.owner, json!({"email":"ag@shop-a.vn","role":"agent"})).await;
    assert_eq!(s, 201);
    let (s, _, _) = reply("1501_61", token("ag@shop-a.vn", "shop-a", "agent"), "x").await;
    assert!(s == 403 || s == 404, "{s}");
    let (s, _, _) = reply("1501_61", token("owner@shop-b.vn", "shop-b", "owner"), "x").await;
    assert_eq!(s, 404);
    let (s, b, _) = reply("1501_61", w.owner.clone(), "").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("invalid_text")));
    // 190 on send: the Page goes to lost connection and the caller is told why.
    w.fake.fail_next(
        "send",
        FakeFailure::error(
            400,
            190,
            Some(460),
            "The session has been invalidated because the user changed their password",
        ),
    );
    let (s, b, _) = reply("1501_61", w.owner.clone(), "thử lại").await;
    assert_eq!((s, b["error"]["code"].as_str()), (502, Some("graph_error")), "{b}");
    assert_eq!(b["reply"]["status"], "failed", "{b}");
    assert_eq!(count("1501_61").await, before + 1);
    let p = page(&pages(&w).await, "1501").clone();
    assert_eq!(p["status"], "lost_connection");
    assert!(p["lost_reason"].as_str().is_some_and(|r| r.contains("password")));
}

/// On a shared Page, only the agent holding a conversation may reply (owners and admins
/// neither, while an agent holds it: `docs/rules.md`): the rule's other agent, an agent of
/// another rule and another shop's owner are refused, and nothing reaches Meta for them.
async fn only_the_holder_of_a_shared_conversation_replies(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1701", "Shop A1", "page-token-1701", &["MANAGE"]);
    w.fake.add_page("1702", "Shop A2", "page-token-1702", &["MANAGE"]);
    login(&w, "c").await;
    add_agents(&w.stack, &w.owner, &shop_a(&["a1", "a2", "a3"])).await;
    for (page, name, agents) in
        [("1701", "Ca sáng", vec!["a1@shop-a.vn", "a2@shop-a.vn"]), ("1702", "Ca tối", vec!["a3@shop-a.vn"])]
    {
        let new_rule = json!({"name": name, "agent_emails": agents, "method": "round_robin"});
        let (s, b) = post_json(
            &w.stack,
            &format!("/api/pages/{page}/connect"),
            &w.owner,
            json!({"chat_mode": "shared", "new_rule": new_rule}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let now = domain::timefmt::now_ms();
    let body =
        notification("1701", vec![text_item("1701", "71", now - 60_000, "in-71", "Còn size L không?")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    let holder = eventually(20, "the conversation assigned in turn", || async {
        let (_, c) = get_json(&w.stack, "/api/conversations/1701_71", &w.owner).await;
        c["assignee"].as_str().map(String::from)
    })
    .await;
    let other = if holder == "a1@shop-a.vn" { "a2@shop-a.vn" } else { "a1@shop-a.vn" };
    let reply = |who: String, tenant: &'static str, role: &'static str| {
        let url = w.stack.url("/api/conversations/1701_71/messages");
        async move {
            let r = http()
                .post(url)
                .bearer_auth(token(&who, tenant, role))
                .json(&json!({"text": "Dạ còn ạ"}))
                .send()
                .await
                .expect("reply");
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or_default())
        }
    };
    let (s, b) = reply(other.to_string(), "shop-a", "agent").await;
    assert!(s == 403 || s == 404, "the rule's other agent: {s} {b}");
    let (s, b) = reply("a3@shop-a.vn".into(), "shop-a", "agent").await;
    assert!(s == 403 || s == 404, "an agent of another rule: {s} {b}");
    let (s, b) = reply("owner@shop-b.vn".into(), "shop-b", "owner").await;
    assert_eq!(s, 404, "another shop's owner: {b}");
    assert!(w.fake.requests_to("send").is_empty(), "nothing was sent for a refused reply");
    // The holder replies: inside 24 h, with the Page's own token.
    let (s, b) = reply(holder.clone(), "shop-a", "agent").await;
    assert_eq!(s, 201, "the holder: {b}");
    let sent = w.fake.requests_to("send");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("access_token"), Some("page-token-1701"));
    let sent_body: Value = serde_json::from_str(&sent[0].body).expect("send body");
    assert_eq!(sent_body["messaging_type"], "RESPONSE");
    assert_eq!(sent_body["recipient"]["id"], "71");
}

async fn an_only_me_page_joining_a_rule_hands_its_old_conversations_over(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1601", "Shop", "page-token-1601", &["MANAGE"]);
    let now = domain::timefmt::now_ms() / 1000 * 1000;
    for i in 0..4i64 {
        let customer = format!("600{i}");
        let mid = format!("o-{i}");
        w.fake.add_conversation(
            "1601",
            &format!("t_{i}"),
            now - 60_000 + i * 1000,
            &customer,
            vec![(mid.as_str(), now - 60_000 + i * 1000, customer.as_str(), "hi")],
        );
    }
    login(&w, "c").await;
    let (s, _) =
        post_json(&w.stack, "/api/pages/1601/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200);
    eventually(30, "four synced conversations held by the owner", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=mine", &w.owner).await;
        (b["items"].as_array()?.len() == 4).then_some(())
    })
    .await;
    add_agents(&w.stack, &w.owner, &shop_a(&["a", "b"])).await;
    let body = json!({"name": "Chia đều", "page_ids": ["1601"], "agent_emails": ["a@shop-a.vn", "b@shop-a.vn"],
        "method": "round_robin", "old_conversations": "all"});
    let (s, b) = post_json(&w.stack, "/api/rules", &w.owner, body).await;
    assert_eq!(s, 201, "{b}");
    let per = eventually(30, "the owner's old conversations handed to the rule's agents", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=all", &w.owner).await;
        let items = b["items"].as_array()?.clone();
        let mut m: HashMap<String, usize> = HashMap::new();
        for c in &items {
            *m.entry(c["assignee"].as_str().unwrap_or("-").to_string()).or_default() += 1;
        }
        (m.get("a@shop-a.vn") == Some(&2) && m.get("b@shop-a.vn") == Some(&2)).then_some(m)
    })
    .await;
    assert_eq!(per.len(), 2, "{per:?}");
    assert_eq!(page(&pages(&w).await, "1601")["chat_mode"], "shared");
}

fn facebook_for(w: &World) -> Arc<adapters::facebook::Facebook> {
    facebook_at(&w.fake.base_url())
}

async fn health(w: &World, silence: Duration) -> page_health::HealthReport {
    page_health::HealthCheck { pages: w.stack.stores.pages.clone(), facebook: facebook_for(w), silence }
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
        w.fake.set_token_info(t, true, 0, &["pages_messaging"]);
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

    // With a zero threshold every connected Page counts as silent; lost ones are not checked.
    let report = health(&w, Duration::ZERO).await;
    assert_eq!(report.checked, 2);
    assert_eq!(report.silent, ["1201", "1202"]);

    // A health-check call answering 190 (the connecting user is no longer a Page admin).
    w.fake.fail_next(
        "debug_token",
        FakeFailure::error(400, 190, Some(492), "User is not an admin of the Page"),
    );
    let report = health(&w, Duration::from_secs(3600)).await;
    assert_eq!(report.marked_lost.len(), 1, "{report:?}");
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
    history_sync_brings_old_conversations_once,
    the_health_check_restores_subscriptions_flags_silence_and_marks_dead_tokens,
    rules_through_the_api,
    history_of_a_shared_page_follows_the_old_conversation_policy,
    replies_follow_the_window_and_meta_errors,
    only_the_holder_of_a_shared_conversation_replies,
    an_only_me_page_joining_a_rule_hands_its_old_conversations_over,
);
