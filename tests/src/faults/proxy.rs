//! A fault-injecting HTTP proxy in front of moto server: the AWS endpoint of the stores and the
//! queue under test. It forwards every request and, by rules keyed on the operation (the
//! `X-Amz-Target` header: DynamoDB and, since aws-sdk-sqs 1.x, SQS speak the JSON protocol),
//! plays the faults AWS has in production:
//!
//! - [`Fault::Throttle`]: answers 400 with the service's throttling error, nothing forwarded;
//! - [`Fault::LoseAnswer`]: forwards (the write happens), then answers 500, so the SDK or the
//!   app retries a write that already succeeded;
//! - [`Fault::PartialBatch`]: `SendMessageBatch` forwards only part of its entries and reports
//!   the rest in `Failed`, as SQS does under internal errors;
//! - a kill ([`FaultProxy::kill_after_writes`]): after the Nth DynamoDB write is forwarded, its
//!   answer and every later DynamoDB call hang, so the worker stops between two writes of one
//!   record; the test then drops that worker and starts a fresh one.
//!
//! Which calls fail is decided by a seeded hash of (seed, rule, operation, the call's number for
//! that operation), so a scenario injects the same sequence of faults on every run (which
//! request gets the k-th decision depends on scheduling). Everything injected is counted.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

/// DynamoDB operations that write (the kill counts these).
pub const DYNAMO_WRITES: &[&str] =
    &["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"];
/// DynamoDB operations the worker calls on its path (reads and writes, no table management).
pub const DYNAMO_DATA: &[&str] = &[
    "GetItem",
    "Query",
    "BatchGetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];
/// SQS operations of the webhook and the worker's poller.
pub const SQS_DATA: &[&str] =
    &["SendMessageBatch", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility"];

/// What happens to a call a rule picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Throttle,
    LoseAnswer,
    PartialBatch,
}

/// Picks `per_mille` of the calls to `ops` for `fault`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub ops: &'static [&'static str],
    pub fault: Fault,
    pub per_mille: u64,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    seed: u64,
    rules: Mutex<Vec<Rule>>,
    /// One-shot faults: the next call to the operation (whose body contains the text) gets the
    /// fault.
    once: Mutex<Vec<(String, String, Fault)>>,
    /// Calls seen per operation (the k of the decision).
    calls: Mutex<BTreeMap<String, u64>>,
    /// Faults injected, "Fault Operation" → count.
    injected: Mutex<BTreeMap<String, u64>>,
    /// `kill_after_writes`: DynamoDB writes still to forward before the hang (0: no kill armed).
    kill_countdown: AtomicU64,
    hung: AtomicBool,
    kills: AtomicU64,
}

/// The running proxy; dropping it stops it.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A 64-bit mix (splitmix64's finaliser): the proxy's and the checker's seeded choices.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn decide(seed: u64, parts: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    mix(seed ^ h.finish())
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1:0 forwarding to `upstream` (moto's URL), with no rules yet.
    pub async fn start(upstream: &str, seed: u64) -> FaultProxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client"),
            seed,
            rules: Mutex::default(),
            once: Mutex::default(),
            calls: Mutex::default(),
            injected: Mutex::default(),
            kill_countdown: AtomicU64::new(0),
            hung: AtomicBool::new(false),
            kills: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy { addr, shared, task }
    }

    /// The endpoint URL the AWS clients under test use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the rules (setup runs before any, so tables and queues are made cleanly).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *lock(&self.shared.rules) = rules;
    }

    /// The next call to `op` (and only it) gets `fault`: a lost answer at one chosen step.
    pub fn next_call(&self, op: &str, fault: Fault) {
        self.next_call_with(op, "", fault);
    }

    /// The next call to `op` whose body contains `text` gets `fault`: one chosen write, e.g.
    /// the assignment (`assign_state = :done`) among the UpdateItems of a new conversation.
    pub fn next_call_with(&self, op: &str, text: &str, fault: Fault) {
        lock(&self.shared.once).push((op.to_string(), text.to_string(), fault));
    }

    /// After `n` more DynamoDB writes are forwarded, the n-th one's answer and every later
    /// DynamoDB call hang: the worker is stuck between two writes, as if its process died.
    pub fn kill_after_writes(&self, n: u64) {
        self.shared.hung.store(false, Ordering::SeqCst);
        self.shared.kill_countdown.store(n.max(1), Ordering::SeqCst);
    }

    /// Whether a kill has happened and calls are hanging.
    pub fn is_hung(&self) -> bool {
        self.shared.hung.load(Ordering::SeqCst)
    }

    /// Lets calls through again (after the test dropped the killed worker).
    pub fn revive(&self) {
        self.shared.kill_countdown.store(0, Ordering::SeqCst);
        self.shared.hung.store(false, Ordering::SeqCst);
    }

    /// Faults injected so far, "Fault Operation" → count (kills as "Kill").
    pub fn injected(&self) -> BTreeMap<String, u64> {
        let mut m = lock(&self.shared.injected).clone();
        let kills = self.shared.kills.load(Ordering::SeqCst);
        if kills > 0 {
            m.insert("Kill".into(), kills);
        }
        m
    }

    /// The total of [`FaultProxy::injected`].
    pub fn injected_total(&self) -> u64 {
        self.injected().values().sum()
    }

    /// Calls seen per operation.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.calls).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `DynamoDB_20120810.PutItem` → ("dynamodb", "PutItem"); `AmazonSQS.SendMessageBatch` →
/// ("sqs", "SendMessageBatch").
fn operation(headers: &HeaderMap) -> (&'static str, String) {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (prefix, op) = target.split_once('.').unwrap_or(("", target));
    let service = match prefix {
        p if p.starts_with("DynamoDB") => "dynamodb",
        "AmazonSQS" => "sqs",
        _ => "other",
    };
    (service, op.to_string())
}

fn aws_error(status: StatusCode, service: &str, code: &str, message: &str) -> Response {
    let namespace = if service == "sqs" { "com.amazonaws.sqs" } else { "com.amazonaws.dynamodb.v20120810" };
    let body = json!({"__type": format!("{namespace}#{code}"), "message": message}).to_string();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.0"));
    // The SQS JSON protocol also names the error in this header.
    let side = if status.is_server_error() { "Receiver" } else { "Sender" };
    if service == "sqs"
        && let Ok(v) = HeaderValue::from_str(&format!("{code};{side}"))
    {
        r.headers_mut().insert("x-amzn-query-error", v);
    }
    r
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return aws_error(StatusCode::BAD_REQUEST, "other", "SerializationException", "unreadable body");
    };
    let (service, op) = operation(&parts.headers);
    let k = {
        let mut calls = lock(&s.calls);
        let n = calls.entry(op.clone()).or_default();
        *n += 1;
        *n
    };
    if service == "dynamodb" && s.hung.load(Ordering::SeqCst) {
        return hang(service).await;
    }
    let once = {
        let mut once = lock(&s.once);
        let text = String::from_utf8_lossy(&body);
        once.iter().position(|(o, t, _)| *o == op && text.contains(t.as_str())).map(|i| once.remove(i).2)
    };
    let fault = once.or_else(|| {
        lock(&s.rules).iter().enumerate().find_map(|(i, r)| {
            let picked =
                r.ops.contains(&op.as_str()) && decide(s.seed, (i, op.as_str(), k)) % 1000 < r.per_mille;
            picked.then_some(r.fault)
        })
    });
    if let Some(f) = fault {
        tracing::info!(target: "faults", fault = ?f, op = %op, call = k, "injecting");
        *lock(&s.injected).entry(format!("{f:?} {op}")).or_default() += 1;
    }
    if fault == Some(Fault::Throttle) {
        let code = match (service, k % 2) {
            ("sqs", 0) => "RequestThrottled",
            ("sqs", _) => "ThrottlingException",
            (_, 0) => "ProvisionedThroughputExceededException",
            _ => "ThrottlingException",
        };
        return aws_error(StatusCode::BAD_REQUEST, service, code, "injected: rate exceeded");
    }
    let partial = fault == Some(Fault::PartialBatch) && op == "SendMessageBatch";
    let (body, refused) = if partial { split_batch(&body, s.seed, k) } else { (body, Vec::new()) };
    let is_write = service == "dynamodb" && DYNAMO_WRITES.contains(&op.as_str());
    let forwarded = if partial && entries_of(&body).is_empty() {
        // Every entry refused: nothing reaches the queue.
        Ok((
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from(json!({"Successful": [], "Failed": []}).to_string()),
        ))
    } else {
        forward(&s, &parts, body).await
    };
    let (status, headers, answer) = match forwarded {
        Ok(a) => a,
        Err(e) => {
            return aws_error(StatusCode::BAD_GATEWAY, service, "InternalError", &format!("proxy: {e}"));
        }
    };
    if is_write && arm_hang(&s) {
        return hang(service).await;
    }
    if fault == Some(Fault::LoseAnswer) {
        return aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            service,
            "InternalServerError",
            "injected: answer lost",
        );
    }
    let answer = if partial && status.is_success() { add_failed(&answer, &refused) } else { answer };
    let mut r = Response::new(Body::from(answer));
    *r.status_mut() = status;
    for (name, value) in &headers {
        if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
            r.headers_mut().append(name, value.clone());
        }
    }
    r
}

/// Counts a forwarded DynamoDB write against an armed kill; true when this write was the last.
fn arm_hang(s: &Shared) -> bool {
    let before = s
        .kill_countdown
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n > 0).then(|| n - 1))
        .unwrap_or(0);
    if before == 1 {
        s.hung.store(true, Ordering::SeqCst);
        s.kills.fetch_add(1, Ordering::SeqCst);
        tracing::info!(target: "faults", "worker killed: DynamoDB calls hang from here");
        return true;
    }
    false
}

/// A call of a killed worker: never answered while the worker lives (the test drops it well
/// within this), then a 500 in case anything still listens.
async fn hang(service: &str) -> Response {
    tokio::time::sleep(Duration::from_secs(30)).await;
    aws_error(StatusCode::INTERNAL_SERVER_ERROR, service, "InternalServerError", "injected: worker killed")
}

async fn forward(
    s: &Shared,
    parts: &axum::http::request::Parts,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Bytes), reqwest::Error> {
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = s.client.request(parts.method.clone(), format!("{}{path}", s.upstream)).body(body);
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "host" | "content-length" | "transfer-encoding" | "connection") {
            req = req.header(name, value);
        }
    }
    let r = req.send().await?;
    let status = r.status();
    let headers = r.headers().clone();
    Ok((status, headers, r.bytes().await?))
}

fn entries_of(body: &Bytes) -> Vec<Value> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["Entries"].as_array().cloned())
        .unwrap_or_default()
}

/// Keeps part of a SendMessageBatch's entries (seeded; at least one refused) and returns the
/// new body and the ids of the refused ones.
fn split_batch(body: &Bytes, seed: u64, k: u64) -> (Bytes, Vec<String>) {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else { return (body.clone(), Vec::new()) };
    let entries = v["Entries"].as_array().cloned().unwrap_or_default();
    let first = decide(seed, ("partial-first", k)) as usize % entries.len().max(1);
    let (mut kept, mut refused) = (Vec::new(), Vec::new());
    for (j, e) in entries.into_iter().enumerate() {
        if j == first || decide(seed, ("partial", k, j)).is_multiple_of(2) {
            refused.push(e["Id"].as_str().unwrap_or_default().to_string());
        } else {
            kept.push(e);
        }
    }
    v["Entries"] = Value::Array(kept);
    (Bytes::from(v.to_string()), refused)
}

/// Adds the refused entries to a SendMessageBatch answer's `Failed`, as SQS reports them.
fn add_failed(answer: &Bytes, refused: &[String]) -> Bytes {
    let mut v: Value = serde_json::from_slice(answer).unwrap_or_else(|_| json!({"Successful": []}));
    let mut failed = v["Failed"].as_array().cloned().unwrap_or_default();
    failed.extend(refused.iter().map(|id| {
        json!({"Id": id, "SenderFault": false, "Code": "InternalError", "Message": "injected: entry not sent"})
    }));
    v["Failed"] = Value::Array(failed);
    Bytes::from(v.to_string())
}
