//! The customer's side of Messenger and of the Pages' posts: a page (`/customer`, its script
//! and style served from here, no CDN) and the JSON endpoints behind it, which the tests use
//! too. A customer writes to a demo Page (a signed `messages` webhook with a fresh mid), reads
//! the thread with the shop's replies and their marks, says they read it (a `read` webhook),
//! or comments on a Page's post (a `feed` change). Meta delivers a webhook only for the fields
//! the app subscribed the Page to; so does the simulator, and says when it did not.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::demo::{self, Customer, DEMO_PAGES, DemoPage};
use crate::graph::FakeComment;
use crate::webhooks::{self, Comment};
use crate::{Simulator, subscribed_to};

const MAX_TEXT: usize = 2000;
const MAX_NAME: usize = 100;

/// An API refusal: `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct SimError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl SimError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> SimError {
        SimError { status, code, message: message.into() }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": { "code": self.code, "message": self.message } })))
            .into_response()
    }
}

/// What a customer's message became.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerMessage {
    pub page_id: String,
    pub psid: String,
    pub mid: String,
    pub timestamp: i64,
    /// The app accepted the webhook (false: the Page is not subscribed, or delivery failed).
    pub delivered: bool,
}

/// A comment a customer wrote on a demo post.
#[derive(Debug, Clone, Serialize)]
pub struct SimComment {
    pub page_id: String,
    pub post_id: String,
    pub comment_id: String,
    pub parent_id: String,
    pub psid: String,
    /// The id Meta shows as the comment's `from.id` (not the PSID).
    pub author_id: String,
    pub name: String,
    pub message: String,
    pub created_ms: i64,
    pub delivered: bool,
}

/// Who is writing: a known PSID of that Page, or a name (a new customer the first time).
#[derive(Debug, Deserialize)]
pub struct Who {
    pub psid: Option<String>,
    pub customer_name: Option<String>,
}

fn demo_page(page_id: &str) -> Result<&'static DemoPage, SimError> {
    DEMO_PAGES.iter().find(|p| p.id == page_id).ok_or_else(|| {
        SimError::new(StatusCode::NOT_FOUND, "unknown_page", "not one of the simulator's Pages")
    })
}

fn text_of(text: &str) -> Result<String, SimError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > MAX_TEXT {
        return Err(SimError::new(
            StatusCode::BAD_REQUEST,
            "invalid_text",
            "text must have 1 to 2000 characters",
        ));
    }
    Ok(t.to_string())
}

impl Simulator {
    /// The customer `who` of `page_id`; a new name gets a new PSID (one per Page and person)
    /// and a profile the Page's token can read.
    pub fn customer(&self, page_id: &str, who: &Who) -> Result<Customer, SimError> {
        demo_page(page_id)?;
        let mut st = self.state();
        if let Some(psid) = who.psid.as_deref().filter(|p| !p.is_empty()) {
            return st.customers.iter().find(|c| c.page_id == page_id && c.psid == psid).cloned().ok_or_else(
                || SimError::new(StatusCode::NOT_FOUND, "unknown_customer", "no such customer on this Page"),
            );
        }
        let name = who.customer_name.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(SimError::new(
                StatusCode::BAD_REQUEST,
                "invalid_customer",
                "give psid or customer_name (1 to 100 characters)",
            ));
        }
        if let Some(c) = st.customers.iter().find(|c| c.page_id == page_id && c.name == name) {
            return Ok(c.clone());
        }
        let c = Customer { page_id: page_id.to_string(), psid: demo::new_psid(), name: name.to_string() };
        st.customers.push(c.clone());
        drop(st);
        self.graph().add_profile(page_id, &c.psid, &c.name);
        Ok(c)
    }

    /// The customer writes `text` to the Page: kept in the Page's conversation (the
    /// Conversations API shows it) and sent as a signed `messages` webhook.
    pub async fn customer_says(
        &self,
        page_id: &str,
        who: &Who,
        text: &str,
    ) -> Result<CustomerMessage, SimError> {
        let text = text_of(text)?;
        let c = self.customer(page_id, who)?;
        let ts = domain::timefmt::now_ms();
        let mid = format!("m_sim_{}", uuid::Uuid::new_v4().simple());
        self.graph().add_message(page_id, &c.psid, &mid, ts, &c.psid, &text);
        let delivered = subscribed_to(self.graph(), page_id, "messages")
            && self.sender().deliver(&webhooks::message(page_id, &c.psid, &mid, &text, ts)).await;
        if delivered {
            self.state().delivered.insert(mid.clone());
        }
        Ok(CustomerMessage { page_id: page_id.to_string(), psid: c.psid, mid, timestamp: ts, delivered })
    }

    /// The customer opened the thread: a `read` webhook with the watermark now.
    pub async fn customer_reads(&self, page_id: &str, psid: &str) -> Result<(i64, bool), SimError> {
        let c = self.customer(page_id, &Who { psid: Some(psid.to_string()), customer_name: None })?;
        let watermark = domain::timefmt::now_ms();
        self.state().reads.insert((page_id.to_string(), c.psid.clone()), watermark);
        let delivered = subscribed_to(self.graph(), page_id, "message_reads")
            && self.sender().deliver(&webhooks::read(page_id, &c.psid, watermark)).await;
        Ok((watermark, delivered))
    }

    /// The customer comments on the Page's post (or answers a comment there): a `feed` change.
    pub async fn customer_comments(&self, req: &CommentRequest) -> Result<SimComment, SimError> {
        let page = demo_page(&req.page_id)?;
        let text = text_of(&req.text)?;
        let post_id = req.post_id.clone().unwrap_or_else(|| page.post_id.to_string());
        if post_id != page.post_id {
            return Err(SimError::new(StatusCode::NOT_FOUND, "unknown_post", "not a post of this Page"));
        }
        let parent_id = match req.parent_id.as_deref().filter(|p| !p.is_empty()) {
            None => post_id.clone(),
            // Any live comment of the post, the Page's replies included.
            Some(p) if self.graph().comment(p).is_some_and(|c| c.post_id == post_id && !c.deleted) => {
                p.to_string()
            }
            Some(_) => {
                return Err(SimError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_comment",
                    "no such comment on this post",
                ));
            }
        };
        let c = self.customer(&req.page_id, &req.who)?;
        let created_ms = domain::timefmt::now_ms();
        let post_suffix = post_id.rsplit('_').next().unwrap_or(&post_id);
        let comment_id = format!("{post_suffix}_{}", uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000);
        let author_id = demo::author_id(&c.psid);
        // In the fake Graph before the webhook: the app may reply, hide or delete at once.
        let mut fake = FakeComment::new(&post_id, &comment_id, &author_id, &c.name, &text, created_ms);
        if parent_id != post_id {
            fake = fake.under(&parent_id);
        }
        self.graph().set_comment_author_psid(&author_id, &c.psid);
        self.graph().add_comment(fake);
        let payload = webhooks::comment(&Comment {
            page_id: &req.page_id,
            post_id: &post_id,
            comment_id: &comment_id,
            parent_id: &parent_id,
            from_id: &author_id,
            from_name: &c.name,
            message: &text,
            created_ms,
        });
        let delivered =
            subscribed_to(self.graph(), &req.page_id, "feed") && self.sender().deliver(&payload).await;
        let comment = SimComment {
            page_id: req.page_id.clone(),
            post_id,
            comment_id,
            parent_id,
            psid: c.psid,
            author_id,
            name: c.name,
            message: text,
            created_ms,
            delivered,
        };
        self.state().comments.push(comment.clone());
        Ok(comment)
    }

    /// Every comment on the demo posts (of `page_id` when given) as people see them, oldest
    /// first: the customers' (with their PSID, and whether the app got the webhook) and the
    /// Page's public replies (`from: "page"`), each with `parent_id` (the post for a top-level
    /// one), `hidden` (hidden by the shop: only its author and the Page see it), `deleted` and
    /// `private_replied` (the Page answered it in the author's Messenger).
    pub fn comment_view(&self, page_id: Option<&str>) -> Vec<Value> {
        let mut all: Vec<(String, FakeComment)> = {
            let g = self.graph().state();
            DEMO_PAGES
                .iter()
                .filter(|p| page_id.is_none_or(|id| id == p.id))
                .flat_map(|p| {
                    g.comments.get(p.post_id).into_iter().flatten().map(|c| (p.id.to_string(), c.clone()))
                })
                .collect()
        };
        all.sort_by_key(|(_, c)| c.created_ms);
        let st = self.state();
        all.into_iter()
            .map(|(page, c)| {
                let mine = st.comments.iter().find(|s| s.comment_id == c.id);
                json!({
                    "page_id": page,
                    "post_id": c.post_id,
                    "comment_id": c.id,
                    "parent_id": c.parent_id.clone().unwrap_or_else(|| c.post_id.clone()),
                    "from": if c.from_id == page { "page" } else { "customer" },
                    "psid": mine.map(|s| s.psid.clone()),
                    "author_id": c.from_id,
                    "name": c.from_name,
                    "message": c.text,
                    "created_ms": c.created_ms,
                    "delivered": mine.is_none_or(|s| s.delivered),
                    "hidden": c.hidden,
                    "deleted": c.deleted,
                    "private_replied": c.private_replied,
                })
            })
            .collect()
    }

    /// The thread as the customer sees it, oldest first; the Page's messages are marked
    /// `sent`, `delivered` (the delivery was announced) or `read` (up to the customer's
    /// watermark), the customer's `delivered` (the app accepted the webhook, or the demo
    /// history's, from before the app) or `not_delivered`.
    pub fn thread(&self, page_id: &str, psid: &str) -> Result<Value, SimError> {
        let c = self.customer(page_id, &Who { psid: Some(psid.to_string()), customer_name: None })?;
        let mut msgs = self
            .graph()
            .state()
            .conversations
            .get(page_id)
            .and_then(|list| list.iter().find(|t| t.customer_id == c.psid))
            .map(|t| t.messages.clone())
            .unwrap_or_default();
        msgs.sort_by_key(|m| m.created_ms);
        let st = self.state();
        let watermark = st.reads.get(&(page_id.to_string(), c.psid.clone())).copied();
        let messages: Vec<Value> = msgs
            .iter()
            .map(|m| {
                let from_page = m.from_id == page_id;
                let delivered = st.delivered.contains(&m.mid);
                let status = match (from_page, delivered) {
                    (true, _) if watermark.is_some_and(|w| m.created_ms <= w) => "read",
                    (true, true) => "delivered",
                    (true, false) => "sent",
                    (false, true) => "delivered",
                    (false, false) => "not_delivered",
                };
                json!({
                    "mid": m.mid,
                    "from": if from_page { "page" } else { "customer" },
                    "text": m.text,
                    "created_ms": m.created_ms,
                    "time": domain::timefmt::rfc3339_ms(m.created_ms),
                    "status": status,
                })
            })
            .collect();
        Ok(json!({
            "page_id": page_id,
            "psid": c.psid,
            "name": c.name,
            "read_watermark": watermark,
            "messages": messages,
        }))
    }
}

#[derive(Debug, Deserialize)]
pub struct MessageRequest {
    pub page_id: String,
    #[serde(flatten)]
    pub who: Who,
    pub text: String,
}

#[derive(Debug, Deserialize)]
pub struct CommentRequest {
    pub page_id: String,
    pub post_id: Option<String>,
    pub parent_id: Option<String>,
    #[serde(flatten)]
    pub who: Who,
    pub text: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ThreadQuery {
    page_id: String,
    psid: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    page_id: Option<String>,
}

pub(crate) async fn info(State(sim): State<Simulator>) -> Json<Value> {
    Json(sim.info())
}

/// `POST /api/customer/messages {page_id, customer_name | psid, text}` → `{mid, psid, ...}`.
pub(crate) async fn post_message(
    State(sim): State<Simulator>,
    Json(req): Json<MessageRequest>,
) -> Result<Json<CustomerMessage>, SimError> {
    Ok(Json(sim.customer_says(&req.page_id, &req.who, &req.text).await?))
}

/// `GET /api/customer/thread?page_id&psid`.
pub(crate) async fn thread(
    State(sim): State<Simulator>,
    Query(q): Query<ThreadQuery>,
) -> Result<Json<Value>, SimError> {
    Ok(Json(sim.thread(&q.page_id, &q.psid)?))
}

/// `POST /api/customer/read {page_id, psid}` → `{watermark, delivered}`.
pub(crate) async fn post_read(
    State(sim): State<Simulator>,
    Json(q): Json<ThreadQuery>,
) -> Result<Json<Value>, SimError> {
    let (watermark, delivered) = sim.customer_reads(&q.page_id, &q.psid).await?;
    Ok(Json(json!({ "watermark": watermark, "delivered": delivered })))
}

/// `POST /api/customer/comments {page_id, post_id?, parent_id?, customer_name | psid, text}`.
pub(crate) async fn post_comment(
    State(sim): State<Simulator>,
    Json(req): Json<CommentRequest>,
) -> Result<(StatusCode, Json<SimComment>), SimError> {
    Ok((StatusCode::CREATED, Json(sim.customer_comments(&req).await?)))
}

/// `GET /api/customer/comments?page_id`: the posts' comments, oldest first (see
/// [`Simulator::comment_view`]).
pub(crate) async fn comments(State(sim): State<Simulator>, Query(q): Query<PageQuery>) -> Json<Value> {
    Json(json!({ "comments": sim.comment_view(q.page_id.as_deref()) }))
}

/// `GET /api/webhooks`: the webhooks posted lately (kind, Page, id, accepted), oldest first.
pub(crate) async fn webhooks_log(State(sim): State<Simulator>) -> Json<Value> {
    Json(json!({ "webhooks": sim.sender().log() }))
}

pub(crate) async fn page() -> Html<&'static str> {
    Html(include_str!("web/customer.html"))
}

pub(crate) async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("web/customer.js"))
}

pub(crate) async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("web/customer.css"))
}
