//! A fake of Meta's Graph API on loopback (`docs/meta-platform.md`: Facebook Login, Page subscription,
//! Conversations API, Errors), scripted through shared state: codes and tokens it issues, the user's Pages
//! and permissions, per-Page subscriptions, `debug_token` answers, conversations, and failures queued per
//! route. Every request is recorded, query included, so tests can assert which token and fields were sent.
//!
//! Route keys: "exchange", "long_lived", "permissions", "me", "accounts", "subscribe",
//! "unsubscribe", "subscribed_apps", "debug_token", "conversations", "send", "profile",
//! and for comments (`comments.rs`) "reply_comment", "private_reply" (the Send API with
//! `recipient.comment_id`), "hide_comment", "delete_comment", "posts", "comments"
//! ("unknown" otherwise).
//!
//! The tests start it on its own port ([`FakeGraph::start`]); the simulator
//! ([`crate::Simulator`]) mounts the same handler under a prefix of another server
//! ([`FakeGraph::detached`] + [`FakeGraph::router`]) and adds per-login grants, customer
//! profiles and echo events on top.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

mod comments;
mod routes;
mod shapes;

pub use comments::{CommentEvent, FakeComment, FakePost};

pub use shapes::{graph_error_response, meta_time};

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
    /// Per-login grants (code or token → grant), see [`FakeGrant`].
    pub grants: HashMap<String, FakeGrant>,
    /// PSID → profile (also names the participants of conversations).
    pub profiles: HashMap<String, FakeProfile>,
    /// page id → its posts.
    pub posts: HashMap<String, Vec<FakePost>>,
    pub posts_page_size: usize,
    /// post id → its comments (replies included), in the order they were made.
    pub comments: HashMap<String, Vec<FakeComment>>,
    pub comments_page_size: usize,
    /// Comment author id → their PSID with the Page: whom a private reply reaches (a comment
    /// author's id is not their PSID). Authors not listed are answered with their own id.
    pub comment_authors: HashMap<String, String>,
    /// The Page's public replies it accepted (the comments they created).
    pub public_replies: Vec<FakeComment>,
    /// Private replies it accepted: (page, request body).
    pub private_replies: Vec<(String, Value)>,
    /// Simulator mode: the shop's replies, hides and deletes, to be announced as `feed`
    /// webhooks. Tests leave it off.
    pub comment_events: Option<tokio::sync::mpsc::UnboundedSender<CommentEvent>>,
    /// Simulator mode: accepted sends are also added to the conversation with that customer
    /// and announced here (to be echoed as webhooks), and `debug_token` finds every token
    /// the fake issued valid. Tests leave it off.
    pub send_events: Option<tokio::sync::mpsc::UnboundedSender<SentEvent>>,
    /// Meta's rate-limit headers (`X-App-Usage`, `X-Business-Use-Case-Usage`, or anything
    /// else: raw name and value) added to every answer, errors included, while set.
    pub usage_headers: Vec<(String, String)>,
}

/// What one login granted (the simulator's dialog): keyed by code, then by the short-lived and
/// long-lived tokens it became. Tokens with a grant see only its Pages and permissions; the
/// others see the global [`FakeState::pages`] and [`FakeState::permissions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGrant {
    pub user_id: String,
    /// Ids of the Pages the person chose.
    pub pages: Vec<String>,
    /// (permission, "granted" | "declined").
    pub permissions: Vec<(String, String)>,
    /// The dialog's `redirect_uri`: the code exchange must repeat it.
    pub redirect_uri: Option<String>,
}

/// A customer as a Page sees them (`GET /{psid}?fields=name` with that Page's token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeProfile {
    pub page_id: String,
    pub name: String,
}

/// A Send API call the fake accepted, for the simulator to echo back as a webhook.
#[derive(Debug, Clone)]
pub struct SentEvent {
    pub page_id: String,
    pub recipient_id: String,
    pub mid: String,
    /// The request body as sent (its `metadata` goes into the echo).
    pub body: Value,
    pub at_ms: i64,
}

/// The app-scoped id of the person behind a user token not given another one.
pub const DEFAULT_USER_ID: &str = "10000000001";

type Shared = Arc<Mutex<FakeState>>;

fn lock(s: &Shared) -> MutexGuard<'_, FakeState> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running fake; the server (if it has its own) stops when this is dropped.
pub struct FakeGraph {
    base_url: String,
    state: Shared,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

impl FakeGraph {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start() -> FakeGraph {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Graph API");
        let addr = listener.local_addr().expect("local address");
        let mut fake = FakeGraph::detached(&format!("http://{addr}/{FAKE_VERSION}"));
        let app = fake.router();
        fake.server = Some(tokio::spawn(async move {
            // Ends only when the task is aborted (drop) or the listener fails.
            let _ = axum::serve(listener, app).await;
        }));
        fake
    }

    /// A fake with no server of its own: serve [`FakeGraph::router`] where `base_url`
    /// (version included, e.g. `http://127.0.0.1:3000/_sim/graph/v25.0`) points, nested with
    /// `nest_service` so the handler sees the path from the version on.
    pub fn detached(base_url: &str) -> FakeGraph {
        let base_url = base_url.trim_end_matches('/').to_string();
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
            grants: HashMap::new(),
            profiles: HashMap::new(),
            posts: HashMap::new(),
            posts_page_size: 25,
            comments: HashMap::new(),
            comments_page_size: 100,
            comment_authors: HashMap::new(),
            public_replies: Vec::new(),
            private_replies: Vec::new(),
            comment_events: None,
            send_events: None,
            usage_headers: Vec::new(),
        }));
        FakeGraph { base_url, state, server: None }
    }

    /// The Graph API over this fake's state, every path answered (no other routes).
    pub fn router(&self) -> axum::Router {
        axum::Router::new().fallback(routes::handle).with_state(self.state.clone())
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

    /// Every answer from now on carries these usage headers (raw values, so a test can send
    /// malformed ones); `None` leaves that header out. See PLATFORM.md, "Rate-limit headers".
    pub fn set_usage_headers(&self, app_usage: Option<&str>, business_use_case: Option<&str>) {
        let mut h = Vec::new();
        if let Some(v) = app_usage {
            h.push(("x-app-usage".to_string(), v.to_string()));
        }
        if let Some(v) = business_use_case {
            h.push(("x-business-use-case-usage".to_string(), v.to_string()));
        }
        self.state().usage_headers = h;
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

    /// A dialog code bound to one login's choices (see [`FakeGrant`]); it exchanges once for
    /// `short_token`, whose long-lived exchange gives `long-<short_token>`.
    pub fn add_grant(&self, code: &str, short_token: &str, grant: FakeGrant) {
        let mut s = self.state();
        s.codes.insert(code.to_string(), short_token.to_string());
        s.user_ids.insert(format!("long-{short_token}"), grant.user_id.clone());
        s.grants.insert(code.to_string(), grant);
    }

    /// The name `GET /{psid}?fields=name` answers to `page_id`'s token (and the participant's
    /// name in that Page's conversations).
    pub fn add_profile(&self, page_id: &str, psid: &str, name: &str) {
        self.state()
            .profiles
            .insert(psid.to_string(), FakeProfile { page_id: page_id.to_string(), name: name.to_string() });
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

    /// Adds one message to the Page's conversation with `customer_id` (started if there is
    /// none), as if it had just been exchanged on Messenger.
    pub fn add_message(
        &self,
        page_id: &str,
        customer_id: &str,
        mid: &str,
        created_ms: i64,
        from_id: &str,
        text: &str,
    ) {
        let m = FakeMessage {
            mid: mid.to_string(),
            created_ms,
            from_id: from_id.to_string(),
            text: text.to_string(),
        };
        routes::add_to_thread(&mut self.state(), page_id, customer_id, m);
    }

    pub fn set_conversations_page_size(&self, n: usize) {
        self.state().conversations_page_size = n.max(1);
    }

    /// A post of `page_id` (`{page}_{post}`), made at `created_ms`.
    pub fn add_post(&self, page_id: &str, post_id: &str, created_ms: i64) {
        let post = FakePost { id: post_id.to_string(), created_ms };
        self.state().posts.entry(page_id.to_string()).or_default().push(post);
    }

    /// A comment on its post (see [`FakeComment::new`]), after those already there.
    pub fn add_comment(&self, comment: FakeComment) {
        self.state().comments.entry(comment.post_id.clone()).or_default().push(comment);
    }

    /// The PSID a private reply to `author_id`'s comments reaches.
    pub fn set_comment_author_psid(&self, author_id: &str, psid: &str) {
        self.state().comment_authors.insert(author_id.to_string(), psid.to_string());
    }

    /// A comment as the fake holds it now (deleted ones included).
    pub fn comment(&self, comment_id: &str) -> Option<FakeComment> {
        self.state().comments.values().flatten().find(|c| c.id == comment_id).cloned()
    }

    pub fn set_posts_page_size(&self, n: usize) {
        self.state().posts_page_size = n.max(1);
    }

    pub fn set_comments_page_size(&self, n: usize) {
        self.state().comments_page_size = n.max(1);
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
