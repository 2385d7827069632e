//! A Meta simulator, for the local stack and the tests (`docs/meta-simulator.md`).
//!
//! [`graph`] is the scriptable fake of the Graph API the integration tests drive on its own
//! port. [`Simulator`] mounts the same fake under a prefix of another server (the local stack
//! uses `/_sim`) and plays the rest of Meta around it, so the whole seed flow works with no
//! Meta app: a demo user and Pages, Facebook's login dialog, the Send API's echo webhooks,
//! and a customer's view that writes to a Page and reads its replies, every webhook signed
//! with the app secret. It is clearly labelled as a simulator wherever a person sees it.
//!
//! Only the local stack and the tests depend on this crate, never a Lambda function.

pub mod graph;
pub mod webhooks;

mod customer;
mod demo;
mod dialog;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};

pub use customer::{CommentRequest, CustomerMessage, MessageRequest, SimComment, SimError, Who};
pub use demo::{Customer, DEMO_PAGES, DEMO_USER_ID, DEMO_USER_NAME, DemoPage, HISTORY_PAGE};
use graph::{CommentEvent, FAKE_VERSION, FakeGraph, SentEvent};
use webhooks::WebhookSender;

/// The label every page of the simulator carries.
pub const LABEL: &str = "Trình mô phỏng Meta — Meta simulator (not Facebook)";

/// Where the simulator is and whom it plays for.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where [`Simulator::router`] is reachable from outside, without a trailing slash:
    /// `http://127.0.0.1:3000/_sim`.
    pub base_url: String,
    pub app_id: String,
    /// Checks the app's Graph calls and signs the webhooks.
    pub app_secret: String,
    /// The app's webhook callback (`http://127.0.0.1:3000/webhooks/facebook`).
    pub webhook_url: String,
}

/// What the simulator remembers beyond the Graph fake's state.
#[derive(Default)]
pub(crate) struct SimState {
    pub(crate) customers: Vec<Customer>,
    /// (page, psid) → the customer's read watermark (ms).
    pub(crate) reads: HashMap<(String, String), i64>,
    /// Mids whose delivery to the customer was announced (the Page's) or whose webhook the
    /// app accepted (the customer's).
    pub(crate) delivered: HashSet<String>,
    pub(crate) comments: Vec<SimComment>,
}

struct Inner {
    cfg: SimConfig,
    graph: Arc<FakeGraph>,
    state: Arc<Mutex<SimState>>,
    sender: WebhookSender,
    echoes: tokio::task::JoinHandle<()>,
    feed: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.echoes.abort();
        self.feed.abort();
    }
}

/// The running simulator (cheap to clone; the echo task stops when the last clone is gone).
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

impl Simulator {
    /// Seeds the demo world and starts echoing Send API calls as webhooks. Call inside a
    /// Tokio runtime, then serve [`Simulator::router`] at `cfg.base_url`.
    pub fn new(cfg: SimConfig) -> Simulator {
        let base = cfg.base_url.trim_end_matches('/').to_string();
        let cfg = SimConfig { base_url: base.clone(), ..cfg };
        let graph = Arc::new(FakeGraph::detached(&format!("{base}/graph/{FAKE_VERSION}")));
        graph.set_app(&cfg.app_id, &cfg.app_secret);
        let customers = demo::seed(&graph, domain::timefmt::now_ms());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        graph.state().send_events = Some(tx);
        let (comment_tx, comment_rx) = tokio::sync::mpsc::unbounded_channel();
        graph.state().comment_events = Some(comment_tx);
        // The demo history happened before the app: reached the customer, not the app's webhooks.
        let delivered = graph
            .state()
            .conversations
            .values()
            .flatten()
            .flat_map(|c| c.messages.iter().map(|m| m.mid.clone()))
            .collect();
        let state = Arc::new(Mutex::new(SimState { customers, delivered, ..SimState::default() }));
        let sender = WebhookSender::new(&cfg.webhook_url, &cfg.app_secret);
        let echoes =
            tokio::spawn(echo_loop(rx, graph.clone(), state.clone(), sender.clone(), cfg.app_id.clone()));
        let feed = tokio::spawn(feed_loop(comment_rx, graph.clone(), sender.clone()));
        Simulator { inner: Arc::new(Inner { cfg, graph, state, sender, echoes, feed }) }
    }

    /// Every route of the simulator, relative to its prefix (nest it there): `/graph/...`,
    /// `/dialog/oauth`, `/customer` (+ its script and style), `/api/...`. No fallback, so it
    /// merges with any other router.
    pub fn router(&self) -> Router {
        Router::new()
            .nest_service("/graph", self.inner.graph.router())
            .route("/dialog/oauth", get(dialog::show).post(dialog::submit))
            .route("/customer", get(customer::page))
            .route("/customer.js", get(customer::script))
            .route("/customer.css", get(customer::style))
            .route("/api/info", get(customer::info))
            .route("/api/webhooks", get(customer::webhooks_log))
            .route("/api/customer/messages", post(customer::post_message))
            .route("/api/customer/thread", get(customer::thread))
            .route("/api/customer/read", post(customer::post_read))
            .route("/api/customer/comments", get(customer::comments).post(customer::post_comment))
            .with_state(self.clone())
    }

    /// The Graph fake, to inspect (`subscribed`, `sent`) or script it.
    pub fn graph(&self) -> &FakeGraph {
        &self.inner.graph
    }

    pub fn app_id(&self) -> &str {
        &self.inner.cfg.app_id
    }

    /// `FB_GRAPH_URL` for the app: `{base}/graph/v25.0`.
    pub fn graph_url(&self) -> String {
        self.inner.graph.base_url()
    }

    /// `FB_DIALOG_URL` for the app.
    pub fn dialog_url(&self) -> String {
        format!("{}/dialog/oauth", self.inner.cfg.base_url)
    }

    pub fn customer_url(&self) -> String {
        format!("{}/customer", self.inner.cfg.base_url)
    }

    pub fn webhook_url(&self) -> &str {
        self.inner.sender.url()
    }

    /// The demo Pages with what the simulator knows of each (`GET {prefix}/api/info`).
    pub fn info(&self) -> Value {
        let pages: Vec<Value> = DEMO_PAGES
            .iter()
            .map(|p| {
                let customers: Vec<Value> = self
                    .state()
                    .customers
                    .iter()
                    .filter(|c| c.page_id == p.id)
                    .map(|c| json!({ "psid": c.psid, "name": c.name }))
                    .collect();
                json!({
                    "id": p.id,
                    "name": p.name,
                    "subscribed_fields": self.graph().subscribed(p.id),
                    "posts": [{ "id": p.post_id, "message": p.post_text }],
                    "customers": customers,
                })
            })
            .collect();
        json!({
            "simulator": LABEL,
            "customer_url": self.customer_url(),
            "graph_url": self.graph_url(),
            "dialog_url": self.dialog_url(),
            "webhook_url": self.webhook_url(),
            "app_id": self.app_id(),
            "user": { "id": DEMO_USER_ID, "name": DEMO_USER_NAME },
            "pages": pages,
        })
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, SimState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn sender(&self) -> &WebhookSender {
        &self.inner.sender
    }
}

/// Whether the app subscribed `page_id` to webhook `field`: Meta delivers nothing else.
pub(crate) fn subscribed_to(graph: &FakeGraph, page_id: &str, field: &str) -> bool {
    graph.subscribed(page_id).is_some_and(|fields| fields.iter().any(|f| f == field))
}

/// Tells the app of the shop's own comment moderation as Meta does, when the Page is
/// subscribed to `feed`: the Page's public reply as a new comment (`add`, from the Page, its
/// parent the comment answered), a hide or unhide (`hide`/`unhide`), a delete (`remove`).
async fn feed_loop(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<CommentEvent>,
    graph: Arc<FakeGraph>,
    sender: WebhookSender,
) {
    while let Some(ev) = rx.recv().await {
        let (page_id, comment, verb) = match ev {
            CommentEvent::Replied { page_id, comment } => (page_id, comment, "add"),
            CommentEvent::Hidden { page_id, comment, hidden } => {
                (page_id, comment, if hidden { "hide" } else { "unhide" })
            }
            CommentEvent::Removed { page_id, comment } => (page_id, comment, "remove"),
        };
        if !subscribed_to(&graph, &page_id, "feed") {
            continue;
        }
        let parent_id = comment.parent_id.clone().unwrap_or_else(|| comment.post_id.clone());
        let payload = webhooks::comment_change(
            &webhooks::Comment {
                page_id: &page_id,
                post_id: &comment.post_id,
                comment_id: &comment.id,
                parent_id: &parent_id,
                from_id: &comment.from_id,
                from_name: &comment.from_name,
                message: &comment.text,
                created_ms: comment.created_ms,
            },
            verb,
            domain::timefmt::now_ms().max(comment.created_ms),
        );
        // One at a time, in the order of the shop's calls: a hide then an unhide must not
        // arrive the other way round.
        sender.deliver(&payload).await;
    }
}

/// Echoes every accepted Send API call as Meta does: the `message_echoes` webhook, then a
/// `message_deliveries` one (the customer's phone got it), each when the Page is subscribed.
async fn echo_loop(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<SentEvent>,
    graph: Arc<FakeGraph>,
    state: Arc<Mutex<SimState>>,
    sender: WebhookSender,
    app_id: String,
) {
    while let Some(ev) = rx.recv().await {
        let (graph, state, sender, app_id) = (graph.clone(), state.clone(), sender.clone(), app_id.clone());
        tokio::spawn(async move {
            if subscribed_to(&graph, &ev.page_id, "message_echoes") {
                let echo =
                    webhooks::echo(&app_id, &ev.page_id, &ev.recipient_id, &ev.mid, &ev.body, ev.at_ms);
                sender.deliver(&echo).await;
            }
            state.lock().unwrap_or_else(|p| p.into_inner()).delivered.insert(ev.mid.clone());
            if subscribed_to(&graph, &ev.page_id, "message_deliveries") {
                let now = domain::timefmt::now_ms().max(ev.at_ms);
                sender.deliver(&webhooks::delivery(&ev.page_id, &ev.recipient_id, &[ev.mid], now)).await;
            }
        });
    }
}
