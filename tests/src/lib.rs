//! Helpers for the integration tests: moto server connection, signed Meta payloads, and the
//! local stack on either backend.

/// The fake Graph API lives in the `meta-sim` crate (the local stack's simulator plays the same
/// code); re-exported here so tests keep `integration_tests::fake_graph`.
pub use meta_sim::graph as fake_graph;
pub mod faults;
mod flaky;
pub mod flow;
pub mod iam;

pub use flaky::FlakyStore;

use std::sync::Arc;
use std::time::Duration;

use adapters::dynamo::DynamoStore;
use adapters::sqs::SqsQueue;
use secrecy::SecretString;
use serde_json::{Value, json};

pub const APP_SECRET: &str = "test-app-secret";
pub const OLD_APP_SECRET: &str = "previous-app-secret";
pub const VERIFY_TOKEN: &str = "local-verify-token";
pub const JWT_SECRET: &str = "test-jwt-secret";

/// The moto server the tests talk to (`MOTO_URL`, started by scripts/test.sh).
pub fn moto_url() -> String {
    std::env::var("MOTO_URL").unwrap_or_else(|_| {
        panic!("MOTO_URL is not set: these tests need a moto server; run them with scripts/test.sh")
    })
}

pub async fn moto_config() -> aws_config::SdkConfig {
    let creds = aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .load()
        .await
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh table on moto.
pub async fn moto_store() -> DynamoStore {
    let cfg = moto_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&cfg), unique("tbl"));
    store.create_table_if_missing().await.expect("create table on moto");
    store
}

/// A fresh FIFO queue (and dead-letter queue) on moto.
pub async fn moto_queue(visibility_seconds: u32, max_receives: u32) -> SqsQueue {
    let cfg = moto_config().await;
    SqsQueue::create_if_missing(
        aws_sdk_sqs::Client::new(&cfg),
        &unique("q"),
        visibility_seconds,
        max_receives,
    )
    .await
    .expect("create queue on moto")
}

/// The header Meta would send with this body.
pub fn sign(body: &str) -> String {
    domain::signature::sign(APP_SECRET, body.as_bytes())
}

pub fn text_item(page: &str, psid: &str, ts: i64, mid: &str, text: &str) -> Value {
    json!({"sender":{"id":psid},"recipient":{"id":page},"timestamp":ts,"message":{"mid":mid,"text":text}})
}

pub fn notification(page: &str, items: Vec<Value>) -> String {
    json!({"object":"page","entry":[{"id":page,"time":1,"messaging":items}]}).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Moto,
}

pub fn stack_config(backend: Backend, visibility: Duration, max_receives: u32) -> local_stack::LocalConfig {
    local_stack::LocalConfig {
        port: 0,
        jwt_secret: SecretString::from(JWT_SECRET.to_string()),
        app_secrets: SecretString::from(format!("{APP_SECRET},{OLD_APP_SECRET}")),
        verify_token: SecretString::from(VERIFY_TOKEN.to_string()),
        max_body_bytes: 1024 * 1024,
        aws_endpoint: match backend {
            Backend::Memory => None,
            Backend::Moto => Some(moto_url()),
        },
        table_name: unique("tbl"),
        queue_name: unique("q"),
        visibility,
        max_receives,
        pollers: 2,
        // Nothing may reach Meta from the tests: a closed port unless a test sets a fake.
        graph_url: "http://127.0.0.1:9/v25.0".into(),
        app_id: "test-app-id".into(),
        dialog_url: "https://www.facebook.com/v25.0/dialog/oauth".into(),
        redirect_uri: None,
        app_base_url: Some("https://app.example.vn/facebook/done".into()),
        token_key: SecretString::from("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string()),
        graph_policy: adapters::graph::RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            timeout: Duration::from_millis(500),
            ..adapters::retry::RetryPolicy::GRAPH
        },
        callback_deadline: oauth_callback::DEADLINE,
        console_dir: None,
        // Tests script their own fake Graph; the simulator runs only where a test asks for it.
        simulator: false,
    }
}

/// Starts the local stack on a free port, on the given backend.
pub async fn start_stack(backend: Backend) -> local_stack::RunningStack {
    let cfg = stack_config(backend, Duration::from_secs(2), 5);
    start_configured(cfg).await
}

pub async fn start_configured(cfg: local_stack::LocalConfig) -> local_stack::RunningStack {
    match cfg.aws_endpoint {
        None => local_stack::start(cfg).await.expect("start local stack"),
        Some(_) => {
            // Explicit moto clients (static credentials), not the environment's.
            let aws = moto_config().await;
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &cfg.table_name);
            store.create_table_if_missing().await.expect("table");
            let visibility = u32::try_from(cfg.visibility.as_secs()).unwrap_or(2);
            let queue = SqsQueue::create_if_missing(
                aws_sdk_sqs::Client::new(&aws),
                &cfg.queue_name,
                visibility,
                cfg.max_receives,
            )
            .await
            .expect("queue");
            local_stack::start_with(
                cfg,
                adapters::Stores::from_one(Arc::new(store)),
                adapters::Queues::from_one(Arc::new(queue)),
                None,
            )
            .await
            .expect("start local stack")
        }
    }
}

pub fn token(email: &str, tenant: &str, role: &str) -> String {
    local_stack::auth::mint(&SecretString::from(JWT_SECRET.to_string()), email, tenant, role, 3600)
        .expect("mint")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client")
}

/// POSTs a signed notification to the stack's webhook; returns the status.
pub async fn post_webhook(stack: &local_stack::RunningStack, body: &str) -> u16 {
    http()
        .post(stack.url("/webhooks/facebook"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(body))
        .body(body.to_string())
        .send()
        .await
        .expect("webhook request")
        .status()
        .as_u16()
}

/// GET with a bearer token; returns status and JSON body.
/// Posts a sample webhook event of events/ as Meta would: its body and signature as recorded.
pub async fn deliver_sample(stack: &local_stack::RunningStack, event: &Value) -> u16 {
    http()
        .post(stack.url("/webhooks/facebook"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", event["headers"]["x-hub-signature-256"].as_str().unwrap_or_default())
        .body(event["body"].as_str().unwrap_or_default().to_string())
        .send()
        .await
        .expect("webhook request")
        .status()
        .as_u16()
}

/// The Graph client's retry policy in tests: three tries, 10 ms apart, 300 ms per attempt, so
/// retries and timeouts are exercised in milliseconds.
pub fn fast_graph_policy() -> adapters::graph::RetryPolicy {
    adapters::graph::RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        timeout: Duration::from_millis(300),
        ..adapters::graph::RetryPolicy::GRAPH
    }
}

/// A Graph client of the fake Graph API with [`fast_graph_policy`].
pub fn fast_graph_client(fake: &fake_graph::FakeGraph) -> adapters::graph::HttpGraph {
    adapters::graph::HttpGraph::new(
        fake.base_url(),
        fake.app_id(),
        SecretString::from(fake.app_secret()),
        fast_graph_policy(),
    )
    .expect("client")
}

pub async fn get_json(stack: &local_stack::RunningStack, path: &str, token: &str) -> (u16, Value) {
    let r = http().get(stack.url(path)).bearer_auth(token).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn delete(stack: &local_stack::RunningStack, path: &str, token: &str) -> (u16, Value) {
    let r = http().delete(stack.url(path)).bearer_auth(token).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn post_json(
    stack: &local_stack::RunningStack,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let r = http().post(stack.url(path)).bearer_auth(token).json(&body).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Registers `owner` for `tenant` and connects `page` to it in only-me mode.
pub async fn seed_shop(stack: &local_stack::RunningStack, tenant: &str, owner: &str, page: &str) -> String {
    let t = token(owner, tenant, "owner");
    let (status, body) =
        post_json(stack, "/_local/pages", &t, json!({"page_id": page, "name": "Shop Page"})).await;
    assert_eq!(status, 201, "seed failed: {body}");
    t
}

/// Polls until `f` returns Some, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if std::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every message of a conversation, walking all pages (newest first).
pub async fn all_messages(stack: &local_stack::RunningStack, token: &str, conversation: &str) -> Vec<Value> {
    match try_all_messages(stack, token, conversation).await {
        Ok(m) => m,
        Err((status, body)) => panic!("listing messages of {conversation}: {status} {body}"),
    }
}

/// Like [`all_messages`], but a non-200 answer is returned, not a panic.
pub async fn try_all_messages(
    stack: &local_stack::RunningStack,
    token: &str,
    conversation: &str,
) -> Result<Vec<Value>, (u16, Value)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/conversations/{conversation}/messages?limit=100");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = get_json(stack, &path, token).await;
        if status != 200 {
            return Err((status, body));
        }
        out.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(out),
        }
    }
}

/// Fresh backends for a custom stack: (stores, queues, memory queue if any).
pub async fn backends(
    backend: Backend,
    visibility: u32,
    max_receives: u32,
) -> (adapters::Stores, adapters::Queues, Option<Arc<adapters::memory::MemoryQueue>>) {
    match backend {
        Backend::Memory => {
            let q = Arc::new(adapters::memory::MemoryQueue::new(
                Duration::from_secs(u64::from(visibility)),
                max_receives,
            ));
            (
                adapters::Stores::from_one(Arc::new(adapters::memory::MemoryStore::new())),
                adapters::Queues::from_one(q.clone()),
                Some(q),
            )
        }
        Backend::Moto => (
            adapters::Stores::from_one(Arc::new(moto_store().await)),
            adapters::Queues::from_one(Arc::new(moto_queue(visibility, max_receives).await)),
            None,
        ),
    }
}

/// Facebook settings like the test stack's, with the Graph API at `graph_url`.
pub fn facebook_at(graph_url: &str) -> Arc<adapters::facebook::Facebook> {
    let cfg = stack_config(Backend::Memory, Duration::from_secs(1), 1);
    let graph = adapters::graph::HttpGraph::new(
        graph_url.to_string(),
        cfg.app_id.clone(),
        SecretString::from(APP_SECRET.to_string()),
        cfg.graph_policy,
    )
    .expect("graph client");
    Arc::new(facebook_with(Arc::new(graph)))
}

/// Facebook settings like the test stack's (its key ring, app id, URLs) around `graph`.
pub fn facebook_with(graph: Arc<dyn domain::graph::Graph>) -> adapters::facebook::Facebook {
    let cfg = stack_config(Backend::Memory, Duration::from_secs(1), 1);
    adapters::facebook::Facebook::new(
        graph,
        &cfg.token_key,
        cfg.app_id,
        cfg.dialog_url,
        "https://app.example.vn/oauth/facebook/callback".into(),
        "https://app.example.vn/".into(),
    )
    .expect("facebook settings")
}

/// Facebook settings whose Graph API is a closed loopback port: for tests that must not call it.
pub fn offline_facebook() -> Arc<adapters::facebook::Facebook> {
    facebook_at(&stack_config(Backend::Memory, Duration::from_secs(1), 1).graph_url)
}

/// Runs each named `async fn(Backend)` scenario as two tests: on the in-memory twins
/// (`memory::name`) and on moto server (`moto::name`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Memory).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Moto).await;
                }
            )*
        }
    };
}

/// Runs each named `async fn(Stores)` contract as two tests: on the in-memory twin
/// (`memory::name`) and on DynamoDB served by moto (`dynamodb_on_moto::name`), a fresh table
/// each. Both backends must pass every contract.
#[macro_export]
macro_rules! store_contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = ::std::sync::Arc::new(::adapters::memory::MemoryStore::new());
                    super::$name(::adapters::Stores::from_one(store)).await;
                }
            )*
        }
        mod dynamodb_on_moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = ::std::sync::Arc::new($crate::moto_store().await);
                    super::$name(::adapters::Stores::from_one(store)).await;
                }
            )*
        }
    };
}

/// Adds agents to the shop of `owner` (a token) through the admin API.
pub async fn add_agents(stack: &local_stack::RunningStack, owner: &str, emails: &[String]) {
    for email in emails {
        let (status, body) =
            post_json(stack, "/api/members", owner, json!({"email": email, "role": "agent"})).await;
        assert_eq!(status, 201, "adding {email}: {body}");
    }
}

/// `page` connected to `tenant` in only-me mode by `owner`, written to the store as the
/// connect call would.
pub async fn connect_only_me(
    stores: &adapters::Stores,
    tenant: &str,
    page: &str,
    owner: &str,
    status: domain::model::PageStatus,
) {
    use domain::model::{ChatMode, PageRecord, PageRoute};
    let record = PageRecord {
        page_id: page.into(),
        name: "Shop A".into(),
        status,
        chat_mode: Some(ChatMode::OnlyMe),
        rule_id: None,
        connected_by: Some(owner.into()),
        last_connected_at: None,
        lost_reason: None,
    };
    let route = PageRoute {
        page_id: page.into(),
        tenant_id: tenant.into(),
        status,
        chat_mode: ChatMode::OnlyMe,
        rule_id: None,
        connected_by: owner.into(),
    };
    stores.pages.connect_page(&record, &route).await.expect("connect the Page");
}

/// Emails of shop-a: `{prefix}@shop-a.vn` for each prefix.
pub fn shop_a(prefixes: &[&str]) -> Vec<String> {
    prefixes.iter().map(|p| format!("{p}@shop-a.vn")).collect()
}

/// A login link asked for by `token`: the query pairs of Meta's dialog URL it answered (its
/// `state` among them) and the `Set-Cookie` header that came with it.
pub async fn login_link(
    stack: &local_stack::RunningStack,
    token: &str,
) -> (std::collections::HashMap<String, String>, String) {
    let r =
        http().get(stack.url("/api/facebook/login-url")).bearer_auth(token).send().await.expect("login-url");
    let status = r.status().as_u16();
    let set_cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).map(String::from);
    let b: Value = r.json().await.unwrap_or_default();
    assert_eq!(status, 200, "{b}");
    let url = reqwest::Url::parse(b["url"].as_str().expect("url")).expect("dialog url");
    (url.query_pairs().into_owned().collect(), set_cookie.expect("a login cookie"))
}

/// The `name=value` part of a `Set-Cookie` header (what the browser sends back).
pub fn cookie_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap_or_default()
}

/// The browser coming back from Meta to the callback with `query` (and `cookie`, when it has
/// one): the redirect's `Location` and the `Set-Cookie` it carried.
pub async fn return_from_meta(
    stack: &local_stack::RunningStack,
    query: &[(&str, &str)],
    cookie: Option<&str>,
) -> (String, Option<String>) {
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let mut req = client.get(stack.url("/oauth/facebook/callback")).query(query);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.expect("callback");
    assert_eq!(r.status().as_u16(), 302);
    let set_cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).map(String::from);
    let loc = r.headers().get("location").and_then(|l| l.to_str().ok()).expect("location").to_string();
    (loc, set_cookie)
}

/// The outcome pairs of the callback's redirect.
pub fn outcome(location: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(location).expect("location url").query_pairs().into_owned().collect()
}

/// Facebook Login as one browser would do it: asks for the login URL as `owner_token` (keeping
/// the login cookie that answer sets), then returns from Meta with `code` and that cookie.
/// Returns the outcome's query pairs.
pub async fn browser_login(
    stack: &local_stack::RunningStack,
    owner_token: &str,
    code: &str,
) -> std::collections::HashMap<String, String> {
    let (dialog, set_cookie) = login_link(stack, owner_token).await;
    let state = dialog.get("state").cloned().expect("state");
    let query = [("code", code), ("state", state.as_str())];
    outcome(&return_from_meta(stack, &query, Some(cookie_pair(&set_cookie))).await.0)
}

/// A figure a proof produces (docs/RELIABILITY.md): printed, and appended to the file
/// `RELIABILITY_REPORT` names when set, so CI's log shows it although libtest captures the
/// output of passing tests. Tests run in parallel; each appends whole lines.
pub fn report(line: &str) {
    println!("{line}");
    if let Ok(path) = std::env::var("RELIABILITY_REPORT") {
        use std::io::Write;
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
        if let Err(e) = file.and_then(|mut f| writeln!(f, "{line}")) {
            eprintln!("RELIABILITY_REPORT {path}: {e}");
        }
    }
}
