//! A fake of Meta's Graph API on loopback (`docs/meta-platform.md`: Facebook Login, Page subscription,
//! Conversations API, Errors), scripted through shared state: codes and tokens it issues, the user's Pages
//! and permissions, per-Page subscriptions, `debug_token` answers, conversations, and failures queued per
//! route. Every request is recorded, query included, so tests can assert which token and fields were sent.
//!
//! Route keys: "exchange", "long_lived", "permissions", "me", "accounts", "subscribe",
//! "unsubscribe", "subscribed_apps", "debug_token", "conversations" ("unknown" otherwise).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const FAKE_APP_ID: &str = "test-app-id";
pub const FAKE_APP_SECRET: &str = "test-app-secret";
pub const FAKE_APP_NAME: &str = "Test Inbox App";
/// The version segment of [`FakeGraph::base_url`]; any `/vNN.N` prefix is accepted.
pub const FAKE_VERSION: &str = "v25.0";

/// A failure to play on the next request of a route (one per request, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeFailure {
    /// Graph's error JSON with this status, code and subcode (and a fresh fbtrace_id).
    Error { status: u16, code: i64, subcode: Option<i64>, message: String },
    /// Sleep, then answer normally (to make client timeouts).
    Delay(Duration),
    /// Any status and raw body, e.g. a proxy's HTML 502 or a 200 that is not JSON.
    Raw { status: u16, body: String },
    /// Handle the request as usual (a Send API call is sent and kept), then answer this status
    /// with Graph's transient error body: a 5xx after the message went out.
    AfterHandling { status: u16 },
}

impl FakeFailure {
    pub fn error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> FakeFailure {
        FakeFailure::Error { status, code, subcode, message: message.to_string() }
    }
}

/// One request the fake saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The route key ("accounts", "subscribe", ...).
    pub route: String,
    pub method: String,
    /// Path as sent, version included (`/v25.0/me/accounts`).
    pub path: String,
    /// The raw (percent-encoded) query string.
    pub query: String,
    /// The decoded query parameters, in order.
    pub params: Vec<(String, String)>,
    /// The request body as text (the Send API's JSON).
    pub body: String,
}

impl RecordedRequest {
    /// The first decoded value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct FakePage {
    pub id: String,
    pub name: String,
    pub token: String,
    pub tasks: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FakeMessage {
    pub mid: String,
    pub created_ms: i64,
    pub from_id: String,
    /// Empty for an attachment-only message (Graph then sends `"message": ""`).
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct FakeConversation {
    pub id: String,
    pub updated_ms: i64,
    pub customer_id: String,
    pub messages: Vec<FakeMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeTokenInfo {
    pub is_valid: bool,
    pub expires_at: i64,
    pub scopes: Vec<String>,
}

/// Everything the fake knows; lock it through [`FakeGraph::state`] for unusual scripts.
#[derive(Debug)]
pub struct FakeState {
    pub base_url: String,
    pub app_id: String,
    pub app_secret: String,
    /// When set, the code exchange insists on this `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// code → short-lived token; a code works once.
    pub codes: HashMap<String, String>,
    /// Short-lived tokens issued by the code exchange.
    pub short_lived: HashSet<String>,
    /// Long-lived tokens issued: the only valid user tokens.
    pub long_lived: HashSet<String>,
    pub permissions: Vec<(String, String)>,
    pub pages: Vec<FakePage>,
    pub accounts_page_size: usize,
    /// page id → app id → subscribed fields.
    pub subscriptions: HashMap<String, BTreeMap<String, Vec<String>>>,
    pub token_info: HashMap<String, FakeTokenInfo>,
    /// page id → conversations.
    pub conversations: HashMap<String, Vec<FakeConversation>>,
    pub conversations_page_size: usize,
    pub failures: HashMap<String, VecDeque<FakeFailure>>,
    pub requests: Vec<RecordedRequest>,
    /// Send API calls accepted: (page, request body).
    pub sent: Vec<(String, Value)>,
    /// Long-lived user token → the person's app-scoped id (`GET /me?fields=id`); tokens not
    /// listed belong to [`DEFAULT_USER_ID`].
    pub user_ids: HashMap<String, String>,
}

/// The app-scoped id of the person behind a user token not given another one.
pub const DEFAULT_USER_ID: &str = "10000000001";

type Shared = Arc<Mutex<FakeState>>;

fn lock(s: &Shared) -> MutexGuard<'_, FakeState> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running fake; the server stops when this is dropped.
pub struct FakeGraph {
    base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGraph {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start() -> FakeGraph {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Graph API");
        let addr = listener.local_addr().expect("local address");
        let base_url = format!("http://{addr}/{FAKE_VERSION}");
        let state = Arc::new(Mutex::new(FakeState {
            base_url: base_url.clone(),
            app_id: FAKE_APP_ID.to_string(),
            app_secret: FAKE_APP_SECRET.to_string(),
            redirect_uri: None,
            codes: HashMap::new(),
            short_lived: HashSet::new(),
            long_lived: HashSet::new(),
            permissions: domain::graph::REQUIRED_PERMISSIONS
                .iter()
                .map(|p| (p.to_string(), "granted".to_string()))
                .collect(),
            pages: Vec::new(),
            accounts_page_size: 100,
            subscriptions: HashMap::new(),
            token_info: HashMap::new(),
            conversations: HashMap::new(),
            conversations_page_size: 25,
            failures: HashMap::new(),
            requests: Vec::new(),
            sent: Vec::new(),
            user_ids: HashMap::new(),
        }));
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let server = tokio::spawn(async move {
            // Ends only when the task is aborted (drop) or the listener fails.
            let _ = axum::serve(listener, app).await;
        });
        FakeGraph { base_url, state, server }
    }

    /// `http://127.0.0.1:PORT/v25.0`, to use as `FB_GRAPH_URL`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        lock(&self.state)
    }

    pub fn app_id(&self) -> String {
        self.state().app_id.clone()
    }

    pub fn app_secret(&self) -> String {
        self.state().app_secret.clone()
    }

    pub fn set_app(&self, app_id: &str, app_secret: &str) {
        let mut s = self.state();
        s.app_id = app_id.to_string();
        s.app_secret = app_secret.to_string();
    }

    /// The code exchange then requires exactly this `redirect_uri` (error 100/36008 otherwise).
    pub fn expect_redirect_uri(&self, uri: &str) {
        self.state().redirect_uri = Some(uri.to_string());
    }

    /// A dialog code that exchanges (once) for `short_token`; its long-lived exchange gives
    /// `long-<short_token>`.
    pub fn add_code(&self, code: &str, short_token: &str) {
        self.state().codes.insert(code.to_string(), short_token.to_string());
    }

    /// Like [`FakeGraph::add_code`], for the person with app-scoped id `user_id`.
    pub fn add_code_for_user(&self, code: &str, short_token: &str, user_id: &str) {
        let mut s = self.state();
        s.codes.insert(code.to_string(), short_token.to_string());
        s.user_ids.insert(format!("long-{short_token}"), user_id.to_string());
    }

    /// `/me/permissions` for every valid user token (default: all required ones granted).
    pub fn set_permissions<P: Into<String>, S: Into<String>>(&self, perms: impl IntoIterator<Item = (P, S)>) {
        self.state().permissions = perms.into_iter().map(|(p, s)| (p.into(), s.into())).collect();
    }

    pub fn add_page(&self, id: &str, name: &str, page_token: &str, tasks: &[&str]) {
        self.state().pages.push(FakePage {
            id: id.to_string(),
            name: name.to_string(),
            token: page_token.to_string(),
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
        });
    }

    /// Pages per `/me/accounts` answer (at most; the request's `limit` also caps it).
    pub fn set_accounts_page_size(&self, n: usize) {
        self.state().accounts_page_size = n.max(1);
    }

    /// The fields this app is subscribed to on a Page (None: not subscribed).
    pub fn subscribed(&self, page_id: &str) -> Option<Vec<String>> {
        let s = self.state();
        s.subscriptions.get(page_id).and_then(|apps| apps.get(&s.app_id)).cloned()
    }

    /// Another app's subscription on the Page (listed by GET, never this app's).
    pub fn add_foreign_subscription(&self, page_id: &str, app_id: &str, fields: &[&str]) {
        self.state()
            .subscriptions
            .entry(page_id.to_string())
            .or_default()
            .insert(app_id.to_string(), fields.iter().map(|f| f.to_string()).collect());
    }

    /// What `debug_token` says of `token` (unknown tokens are not valid).
    pub fn set_token_info(&self, token: &str, is_valid: bool, expires_at: i64, scopes: &[&str]) {
        self.state().token_info.insert(
            token.to_string(),
            FakeTokenInfo { is_valid, expires_at, scopes: scopes.iter().map(|s| s.to_string()).collect() },
        );
    }

    /// A Messenger thread of `page` with `customer_id`; messages are `(mid, created_ms,
    /// from_id, text)` in any order (an empty text plays an attachment-only message). Graph
    /// times have whole seconds: milliseconds are dropped.
    pub fn add_conversation(
        &self,
        page_id: &str,
        conversation_id: &str,
        updated_time_ms: i64,
        customer_id: &str,
        messages: Vec<(&str, i64, &str, &str)>,
    ) {
        let messages = messages
            .into_iter()
            .map(|(mid, created_ms, from_id, text)| FakeMessage {
                mid: mid.to_string(),
                created_ms,
                from_id: from_id.to_string(),
                text: text.to_string(),
            })
            .collect();
        self.state().conversations.entry(page_id.to_string()).or_default().push(FakeConversation {
            id: conversation_id.to_string(),
            updated_ms: updated_time_ms,
            customer_id: customer_id.to_string(),
            messages,
        });
    }

    pub fn set_conversations_page_size(&self, n: usize) {
        self.state().conversations_page_size = n.max(1);
    }

    /// Queues a failure for the next request of `route_key`.
    pub fn fail_next(&self, route_key: &str, failure: FakeFailure) {
        self.state().failures.entry(route_key.to_string()).or_default().push_back(failure);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    pub fn requests_to(&self, route_key: &str) -> Vec<RecordedRequest> {
        self.state().requests.iter().filter(|r| r.route == route_key).cloned().collect()
    }

    pub fn request_count(&self, route_key: &str) -> usize {
        self.state().requests.iter().filter(|r| r.route == route_key).count()
    }

    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }
}

// ---- the server ----

/// The path without its `/vNN.N` prefix.
fn unversioned(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else { return path };
    let end = rest.find('/').unwrap_or(rest.len());
    let version = &rest[..end];
    if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        &rest[end..]
    } else {
        path
    }
}

fn route_key(method: &Method, path: &str, params: &[(String, String)]) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let grant = params.iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v.as_str());
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["oauth", "access_token"]) if grant == Some("fb_exchange_token") => "long_lived",
        ("GET", ["oauth", "access_token"]) => "exchange",
        ("GET", ["me", "permissions"]) => "permissions",
        ("GET", ["me", "accounts"]) => "accounts",
        ("GET", ["me"]) => "me",
        ("POST", [_, "subscribed_apps"]) => "subscribe",
        ("DELETE", [_, "subscribed_apps"]) => "unsubscribe",
        ("GET", [_, "subscribed_apps"]) => "subscribed_apps",
        ("GET", ["debug_token"]) => "debug_token",
        ("GET", [_, "conversations"]) => "conversations",
        ("POST", [_, "messages"]) => "send",
        _ => "unknown",
    }
}

type Answer = Result<Value, GraphErr>;

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, body: axum::body::Bytes) -> Response {
    let params: Vec<(String, String)> =
        Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let path = uri.path().to_string();
    let rest = unversioned(&path).to_string();
    let route = route_key(&method, &rest, &params);
    let failure = {
        let mut s = lock(&state);
        s.requests.push(RecordedRequest {
            route: route.to_string(),
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().unwrap_or("").to_string(),
            params: params.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        s.failures.get_mut(route).and_then(VecDeque::pop_front)
    };
    match failure.clone() {
        Some(FakeFailure::Error { status, code, subcode, message }) => {
            return graph_error_response(status, code, subcode, &message);
        }
        Some(FakeFailure::Raw { status, body }) => {
            return (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body)
                .into_response();
        }
        Some(FakeFailure::Delay(d)) => tokio::time::sleep(d).await,
        Some(FakeFailure::AfterHandling { .. }) | None => {}
    }
    let q = Params(&params);
    let mut s = lock(&state);
    let answer = match route {
        "exchange" => exchange(&mut s, &q),
        "long_lived" => long_lived(&mut s, &q),
        "permissions" => permissions(&s, &q),
        "me" => me(&s, &q),
        "accounts" => accounts(&s, &q, &rest),
        "subscribe" => subscribe(&mut s, &q, &rest),
        "unsubscribe" => unsubscribe(&mut s, &q, &rest),
        "subscribed_apps" => subscribed_apps(&s, &q, &rest),
        "debug_token" => debug_token(&s, &q),
        "conversations" => conversations(&s, &q, &rest),
        "send" => send(&mut s, &q, &rest, &body),
        _ => Err(graph_error(400, 100, Some(33), "Unsupported request: unknown path components")),
    };
    if let Some(FakeFailure::AfterHandling { status }) = failure {
        return graph_error_response(
            status,
            2,
            None,
            "An unexpected error has occurred. Please retry your request later.",
        );
    }
    match answer {
        Ok(v) => Json(v).into_response(),
        Err(e) => graph_error_response(e.status, e.code, e.subcode, &e.message),
    }
}

struct Params<'a>(&'a [(String, String)]);

impl<'a> Params<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A Graph error answer.
struct GraphErr {
    status: u16,
    code: i64,
    subcode: Option<i64>,
    message: String,
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> GraphErr {
    GraphErr { status, code, subcode, message: message.to_string() }
}

/// Graph's error JSON: `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`.
pub fn graph_error_response(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut e = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": format!("Fk{}", uuid::Uuid::new_v4().simple()),
    });
    if let Some(sub) = subcode {
        e["error_subcode"] = json!(sub);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({ "error": e }))).into_response()
}

fn invalid_token() -> GraphErr {
    graph_error(400, 190, None, "Invalid OAuth access token - Cannot parse access token")
}

fn check_app(s: &FakeState, q: &Params<'_>) -> Result<(), GraphErr> {
    if q.get("client_id") != Some(s.app_id.as_str()) {
        return Err(graph_error(400, 101, None, "Error validating application. Invalid application ID."));
    }
    if q.get("client_secret") != Some(s.app_secret.as_str()) {
        return Err(graph_error(400, 1, None, "Error validating client secret."));
    }
    Ok(())
}

fn user_token<'a>(s: &FakeState, q: &Params<'a>) -> Result<&'a str, GraphErr> {
    match q.get("access_token") {
        Some(t) if s.long_lived.contains(t) => Ok(t),
        _ => Err(invalid_token()),
    }
}

/// The Page of `/{page}/...`, with its token checked.
fn page_for<'s>(s: &'s FakeState, q: &Params<'_>, rest: &str) -> Result<&'s FakePage, GraphErr> {
    let id = rest.trim_matches('/').split('/').next().unwrap_or("");
    let Some(page) = s.pages.iter().find(|p| p.id == id) else {
        return Err(graph_error(
            400,
            100,
            Some(33),
            &format!(
                "Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
            ),
        ));
    };
    if q.get("access_token") != Some(page.token.as_str()) {
        return Err(invalid_token());
    }
    Ok(page)
}

fn token_answer(token: String) -> Value {
    json!({ "access_token": token, "token_type": "bearer", "expires_in": 5_183_944 })
}

fn exchange(s: &mut FakeState, q: &Params<'_>) -> Answer {
    check_app(s, q)?;
    if let Some(expected) = &s.redirect_uri
        && q.get("redirect_uri") != Some(expected.as_str())
    {
        return Err(graph_error(
            400,
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        ));
    }
    let code = q.get("code").unwrap_or("");
    let Some(short) = s.codes.remove(code) else {
        return Err(graph_error(400, 100, Some(36007), "Invalid verification code format."));
    };
    s.short_lived.insert(short.clone());
    Ok(token_answer(short))
}

fn long_lived(s: &mut FakeState, q: &Params<'_>) -> Answer {
    check_app(s, q)?;
    match q.get("fb_exchange_token") {
        Some(short) if s.short_lived.contains(short) => {
            let long = format!("long-{short}");
            s.long_lived.insert(long.clone());
            Ok(token_answer(long))
        }
        _ => Err(invalid_token()),
    }
}

fn permissions(s: &FakeState, q: &Params<'_>) -> Answer {
    user_token(s, q)?;
    let data: Vec<Value> =
        s.permissions.iter().map(|(p, st)| json!({ "permission": p, "status": st })).collect();
    Ok(json!({ "data": data }))
}

/// `after` cursors are offsets in disguise.
fn cursor(offset: usize) -> String {
    format!("QVFI{offset:08}")
}

fn offset_of(q: &Params<'_>) -> Result<usize, GraphErr> {
    match q.get("after") {
        None => Ok(0),
        Some(c) => c
            .strip_prefix("QVFI")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| graph_error(400, 100, None, "Invalid after cursor")),
    }
}

/// `paging` for items `[offset, end)` of `total`, with an absolute `next` (the request's
/// query, token included, with the new cursor) unless this is the last page.
fn paging(s: &FakeState, q: &Params<'_>, rest: &str, offset: usize, end: usize, total: usize) -> Value {
    let mut paging = json!({ "cursors": { "before": cursor(offset), "after": cursor(end) } });
    if end < total {
        let mut next = reqwest::Url::parse(&format!("{}{rest}", s.base_url)).expect("the fake's own URL");
        {
            let mut pairs = next.query_pairs_mut();
            for (k, v) in q.0.iter().filter(|(k, _)| k != "after") {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("after", &cursor(end));
        }
        paging["next"] = json!(next.to_string());
    }
    paging
}

fn window(q: &Params<'_>, page_size: usize, total: usize) -> Result<(usize, usize), GraphErr> {
    let offset = offset_of(q)?.min(total);
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(25).clamp(1, page_size.max(1));
    Ok((offset, (offset + limit).min(total)))
}

fn accounts(s: &FakeState, q: &Params<'_>, rest: &str) -> Answer {
    user_token(s, q)?;
    let (offset, end) = window(q, s.accounts_page_size, s.pages.len())?;
    let data: Vec<Value> = s.pages[offset..end]
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "access_token": p.token,
                "category": "Shopping & retail",
                "category_list": [{ "id": "200600219953504", "name": "Shopping & retail" }],
                "tasks": p.tasks,
            })
        })
        .collect();
    Ok(json!({ "data": data, "paging": paging(s, q, rest, offset, end, s.pages.len()) }))
}

fn subscribe(s: &mut FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let page_id = page_for(s, q, rest)?.id.clone();
    let fields: Vec<String> = q
        .get("subscribed_fields")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    if fields.is_empty() {
        return Err(graph_error(400, 100, None, "(#100) The parameter subscribed_fields is required."));
    }
    let app_id = s.app_id.clone();
    s.subscriptions.entry(page_id).or_default().insert(app_id, fields);
    Ok(json!({ "success": true }))
}

fn unsubscribe(s: &mut FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let page_id = page_for(s, q, rest)?.id.clone();
    let app_id = s.app_id.clone();
    if let Some(apps) = s.subscriptions.get_mut(&page_id) {
        apps.remove(&app_id);
    }
    Ok(json!({ "success": true }))
}

fn subscribed_apps(s: &FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let page = page_for(s, q, rest)?;
    let data: Vec<Value> = s
        .subscriptions
        .get(&page.id)
        .map(|apps| {
            apps.iter()
                .map(|(app_id, fields)| {
                    let name =
                        if *app_id == s.app_id { FAKE_APP_NAME.to_string() } else { format!("App {app_id}") };
                    json!({
                        "category": "Business",
                        "link": format!("https://www.facebook.com/games/?app_id={app_id}"),
                        "name": name,
                        "id": app_id,
                        "subscribed_fields": fields,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({ "data": data }))
}

/// `GET /me?fields=id`: the person's app-scoped id.
fn me(s: &FakeState, q: &Params<'_>) -> Answer {
    let token = user_token(s, q)?;
    let id = s.user_ids.get(token).cloned().unwrap_or_else(|| DEFAULT_USER_ID.to_string());
    Ok(json!({ "id": id }))
}

fn debug_token(s: &FakeState, q: &Params<'_>) -> Answer {
    let app_token = format!("{}|{}", s.app_id, s.app_secret);
    if q.get("access_token") != Some(app_token.as_str()) {
        return Err(graph_error(400, 190, None, "Invalid OAuth access token signature."));
    }
    let input = q.get("input_token").unwrap_or("");
    Ok(match s.token_info.get(input) {
        Some(info) => json!({ "data": {
            "app_id": s.app_id,
            "type": if s.pages.iter().any(|p| p.token == input) { "PAGE" } else { "USER" },
            "application": FAKE_APP_NAME,
            "data_access_expires_at": 0,
            "expires_at": info.expires_at,
            "is_valid": info.is_valid,
            "scopes": info.scopes,
            "user_id": "10000000001",
        }}),
        None => json!({ "data": {
            "error": { "code": 190, "message": "Invalid OAuth access token." },
            "is_valid": false,
            "scopes": [],
        }}),
    })
}

/// Graph's time format, `2026-11-20T10:00:00+0000` (whole seconds).
pub fn meta_time(ms: i64) -> String {
    let iso = domain::timefmt::rfc3339_ms(ms); // 2026-11-20T10:00:00.000Z
    format!("{}+0000", iso.get(..19).unwrap_or(&iso))
}

fn conversations(s: &FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let page = page_for(s, q, rest)?;
    if let Some(p) = q.get("platform")
        && p != "messenger"
    {
        return Ok(json!({ "data": [] }));
    }
    let mut all: Vec<&FakeConversation> =
        s.conversations.get(&page.id).map(|c| c.iter().collect()).unwrap_or_default();
    all.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then_with(|| a.id.cmp(&b.id)));
    let (offset, end) = window(q, s.conversations_page_size, all.len())?;
    let data: Vec<Value> = all[offset..end]
        .iter()
        .map(|c| {
            let mut msgs: Vec<&FakeMessage> = c.messages.iter().collect();
            msgs.sort_by_key(|m| std::cmp::Reverse(m.created_ms));
            msgs.truncate(20);
            let party = |id: &str| {
                if id == page.id {
                    json!({ "name": page.name, "id": page.id })
                } else {
                    json!({ "name": format!("Customer {id}"), "email": format!("{id}@facebook.com"), "id": id })
                }
            };
            let messages: Vec<Value> = msgs
                .iter()
                .map(|m| {
                    let to = if m.from_id == page.id { c.customer_id.as_str() } else { page.id.as_str() };
                    json!({
                        "id": m.mid,
                        "created_time": meta_time(m.created_ms),
                        "from": party(&m.from_id),
                        "to": { "data": [party(to)] },
                        "message": m.text,
                    })
                })
                .collect();
            json!({
                "id": c.id,
                "updated_time": meta_time(c.updated_ms),
                "participants": { "data": [party(&c.customer_id), party(&page.id)] },
                "messages": { "data": messages },
            })
        })
        .collect();
    Ok(json!({ "data": data, "paging": paging(s, q, rest, offset, end, all.len()) }))
}

/// `POST /{page}/messages`: the Send API. Checks the Page token and the body's shape, keeps it,
/// answers `{recipient_id, message_id}`.
fn send(s: &mut FakeState, q: &Params<'_>, rest: &str, body: &[u8]) -> Answer {
    let page_id = page_for(s, q, rest)?.id.clone();
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Err(graph_error(400, 100, None, "(#100) The request body is not JSON"));
    };
    let Some(recipient) = v["recipient"]["id"].as_str().map(str::to_string) else {
        return Err(graph_error(400, 100, None, "(#100) The parameter recipient is required"));
    };
    if v["message"]["text"].as_str().is_none_or(str::is_empty) {
        return Err(graph_error(400, 100, None, "(#100) The parameter message is required"));
    }
    match (v["messaging_type"].as_str(), v["tag"].as_str()) {
        (Some("RESPONSE"), None) | (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")) => {}
        _ => return Err(graph_error(400, 100, None, "(#100) messaging_type/tag invalid")),
    }
    s.sent.push((page_id, v));
    Ok(json!({ "recipient_id": recipient, "message_id": format!("m_sent_{}", s.sent.len()) }))
}
