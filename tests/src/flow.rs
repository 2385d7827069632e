//! The world of the Facebook flow tests (`tests/tests/facebook_flow.rs`, `history_flow.rs`,
//! `rules_flow.rs`, `reply_flow.rs`): the local stack pointed at a fake Graph API, one shop
//! owner, the login cookies of that owner's browser, Facebook Login through the stack, and the
//! capture of every log line of the test binary so a test can check that no token reached one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

use crate::fake_graph::FakeGraph;
use crate::{
    APP_SECRET, Backend, cookie_pair, facebook_at, get_json, login_link, outcome, return_from_meta,
    stack_config, start_configured, token,
};

/// Every log line written by this test binary (each binary links its own copy of this static).
pub fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
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

pub struct CaptureWriter(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map(|mut v| v.extend_from_slice(b)).ok();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fails if any of `tokens` (or the app secret) appears in a log line captured so far.
pub fn assert_no_token_in_logs(tokens: &[&str]) {
    let logs = captured().lock().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
    assert!(logs.len() > 1000, "the logs were captured ({} bytes)", logs.len());
    for t in tokens.iter().chain([&APP_SECRET]) {
        assert!(!logs.contains(t), "a secret ({}…) reached a log line", &t[..6.min(t.len())]);
    }
}

pub struct World {
    pub stack: local_stack::RunningStack,
    pub fake: FakeGraph,
    pub owner: String,
    /// The login cookie each issued state came with (this test's one browser).
    pub cookies: Mutex<HashMap<String, String>>,
}

pub async fn world(backend: Backend) -> World {
    captured();
    let fake = FakeGraph::start().await;
    let mut cfg = stack_config(backend, Duration::from_secs(2), 5);
    cfg.graph_url = fake.base_url();
    let stack = start_configured(cfg).await;
    let owner = token("owner@shop-a.vn", "shop-a", "owner");
    World { stack, fake, owner, cookies: Mutex::default() }
}

/// Asks for the login URL as `token` and returns its `state`.
pub async fn login_state(w: &World, token: &str) -> String {
    let (q, set_cookie) = login_link(&w.stack, token).await;
    assert_eq!(q.get("client_id").map(String::as_str), Some("test-app-id"));
    for p in domain::graph::REQUIRED_PERMISSIONS {
        assert!(q.get("scope").is_some_and(|s| s.contains(p)), "{p}");
    }
    let state = q.get("state").cloned().expect("state");
    let cookie = cookie_pair(&set_cookie).to_string();
    w.cookies.lock().map(|mut m| m.insert(state.clone(), cookie)).ok();
    state
}

/// Follows Meta's redirect to the callback; returns the outcome's query pairs.
pub async fn callback(w: &World, query: &[(&str, &str)]) -> HashMap<String, String> {
    // The browser that asked for the state sends its cookie back.
    let cookie = query
        .iter()
        .find(|(k, _)| *k == "state")
        .and_then(|(_, st)| w.cookies.lock().ok().and_then(|m| m.get(*st).cloned()));
    let (loc, _) = return_from_meta(&w.stack, query, cookie.as_deref()).await;
    assert!(loc.starts_with("https://app.example.vn/facebook/done?"), "{loc}");
    outcome(&loc)
}

/// The owner's Page list.
pub async fn pages(w: &World) -> Vec<Value> {
    let (s, b) = get_json(&w.stack, "/api/pages", &w.owner).await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().cloned().unwrap_or_default()
}

/// The Page `id` of a Page list, or a panic.
pub fn page<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter().find(|p| p["page_id"] == id).unwrap_or_else(|| panic!("page {id} not in {list:?}"))
}

/// Facebook Login as the owner, returning from Meta with `code`.
pub async fn login(w: &World, code: &str) -> HashMap<String, String> {
    let state = login_state(w, &w.owner).await;
    callback(w, &[("code", code), ("state", &state)]).await
}

/// Facebook settings talking to this world's fake Graph API.
pub fn facebook_for(w: &World) -> Arc<adapters::facebook::Facebook> {
    facebook_at(&w.fake.base_url())
}
