//! The inbox: listing conversations (mine, the pools, all), one conversation, its messages,
//! claiming a pooled one (*Nhận chat*), and replying through the Send API within Meta's
//! messaging window.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::access::Member as Caller;
use domain::assignment::{self, ClaimDecision};
use domain::graph::{GraphError, GraphErrorKind, WindowRefusal, reply_window};
use domain::model::{
    Conversation, Direction, LastMessage, Message, MessageKind, Method, ReplyState, ReplyStatus, Rule,
};
use domain::ports::{ClaimOutcome, ConversationFilter, ConversationTouch};
use domain::reply::{
    MAX_IDEMPOTENCY_KEY_LEN, ReplyOutcome, ReplyRight, failure_outcome, keyed_reply_id, new_reply_id,
    reply_right,
};
use domain::timefmt::now_ms;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use tracing::{info, warn};

use crate::error::cause_chain;
use crate::extract::{ApiJson, ApiQuery, Body, Me};
use crate::views::{ConversationView, MessageView, PagedView};
use crate::{AdminApi, ApiError, ErrorCode};

#[derive(Deserialize)]
pub struct ListQuery {
    view: Option<String>,
    /// With `view=pool`: one pool (a self-claim rule) to page through.
    rule_id: Option<String>,
    page_id: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

fn limit_of(l: Option<usize>) -> Result<usize, ApiError> {
    match l {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => {
            Err(ApiError::BadRequest(ErrorCode::InvalidLimit, format!("limit must be 1 to {MAX_LIMIT}")))
        }
    }
}

/// `GET /api/conversations?view=mine|pool|all`: an agent's own by default, every one of the
/// shop for owners and admins.
pub async fn list(
    State(api): State<Arc<AdminApi>>,
    me: Me,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<PagedView<ConversationView>>, ApiError> {
    let limit = limit_of(q.limit)?;
    let default_view = if me.role.is_manager() { "all" } else { "mine" };
    let page_id = q.page_id.filter(|p| !p.is_empty());
    let filter = match q.view.as_deref().unwrap_or(default_view) {
        "all" if me.role.is_manager() => ConversationFilter::All { page_id: page_id.clone() },
        "all" => {
            let refusal = "only owners and admins see every conversation";
            return Err(ApiError::Forbidden(ErrorCode::Forbidden, refusal));
        }
        "mine" => ConversationFilter::AssignedTo { email: me.email.clone(), page_id: page_id.clone() },
        "pool" => {
            let scope = PoolScope { rule_id: q.rule_id.as_deref(), page_id: page_id.as_deref() };
            return pool_view(&api, &me, scope, q.cursor.as_deref(), limit).await;
        }
        _ => {
            let refusal = "view must be mine, pool or all".into();
            return Err(ApiError::BadRequest(ErrorCode::InvalidView, refusal));
        }
    };
    let page = api
        .stores
        .conversations
        .list_conversations(&me.tenant_id, &filter, q.cursor.as_deref(), limit)
        .await?;
    Ok(Json(PagedView::of(&page.items, page.next_cursor)))
}

/// Which pools a `view=pool` listing covers: one rule's, and only one Page's conversations.
struct PoolScope<'a> {
    rule_id: Option<&'a str>,
    page_id: Option<&'a str>,
}

/// The self-claim pools the caller belongs to (all of the shop's for owners and admins),
/// newest activity first. With several pools and no `rule_id`, the first page of each is
/// merged; pass `rule_id` to page through one pool. With `page_id`, only the pool of the rule
/// that has the Page (a Page is in at most one rule), and only that Page's conversations:
/// none if the Page is in no pool the caller sees.
async fn pool_view(
    api: &AdminApi,
    me: &Caller,
    scope: PoolScope<'_>,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Json<PagedView<ConversationView>>, ApiError> {
    let rules: Vec<_> = api
        .stores
        .rules
        .list_rules(&me.tenant_id)
        .await?
        .into_iter()
        .filter(|r| r.method == Method::SelfClaim)
        .filter(|r| me.role.is_manager() || r.agent_emails.contains(&me.email))
        .filter(|r| scope.rule_id.is_none_or(|id| r.id == id))
        .collect();
    if scope.rule_id.is_some() && rules.is_empty() {
        return Err(ApiError::NotFound("no such pool"));
    }
    if cursor.is_some() && rules.len() != 1 {
        let refusal = "a pool cursor needs its rule_id".into();
        return Err(ApiError::BadRequest(ErrorCode::InvalidCursor, refusal));
    }
    let rules: Vec<_> = rules
        .into_iter()
        .filter(|r| scope.page_id.is_none_or(|p| r.page_ids.iter().any(|x| x == p)))
        .collect();
    let mut items = Vec::new();
    let mut next_cursor = None;
    for r in &rules {
        let filter =
            ConversationFilter::Pool { rule_id: r.id.clone(), page_id: scope.page_id.map(str::to_string) };
        let page = api.stores.conversations.list_conversations(&me.tenant_id, &filter, cursor, limit).await?;
        if rules.len() == 1 {
            next_cursor = page.next_cursor;
        }
        items.extend(page.items);
    }
    items.sort_by(|a, b| (b.last_activity_ms, &b.id).cmp(&(a.last_activity_ms, &a.id)));
    items.truncate(limit);
    Ok(Json(PagedView::of(&items, next_cursor)))
}

/// The conversation if it exists in the caller's shop and the caller may read it; 404 alike
/// for "absent" and "not yours", so nothing leaks.
async fn readable(api: &AdminApi, me: &Caller, conversation_id: &str) -> Result<Conversation, ApiError> {
    match api.stores.conversations.conversation(&me.tenant_id, conversation_id).await? {
        Some(c) if visible(api, me, &c).await? => Ok(c),
        _ => Err(ApiError::NotFound("conversation not found")),
    }
}

/// Whether the caller may read the conversation: their own or, for owners and admins, any of
/// the shop's; a pooled one is visible to the agents of its rule.
pub(crate) async fn visible(api: &AdminApi, me: &Caller, c: &Conversation) -> Result<bool, ApiError> {
    if me.can_read(c) {
        return Ok(true);
    }
    if c.tenant_id != me.tenant_id || c.assignee.is_some() {
        return Ok(false);
    }
    let Some(rule) = c.pool_rule_id.as_deref() else { return Ok(false) };
    Ok(api.stores.rules.rule(&me.tenant_id, rule).await?.is_some_and(|r| r.agent_emails.contains(&me.email)))
}

/// `GET /api/conversations/{id}`.
pub async fn get_one(
    State(api): State<Arc<AdminApi>>,
    Path(conversation_id): Path<String>,
    me: Me,
) -> Result<Json<ConversationView>, ApiError> {
    let c = readable(&api, &me, &conversation_id).await?;
    Ok(Json(ConversationView::from(&c)))
}

/// `POST /api/conversations/{id}/claim` (*Nhận chat*): who may try and who learns the winner is
/// [`domain::assignment::claim`]; the first agent of the rule wins through the store's
/// conditional write, whatever the concurrency, and the others get 409 `already_claimed`.
pub async fn claim(
    State(api): State<Arc<AdminApi>>,
    Path(conversation_id): Path<String>,
    me: Me,
) -> Result<Json<ConversationView>, ApiError> {
    let Some(c) = api.stores.conversations.conversation(&me.tenant_id, &conversation_id).await? else {
        return Err(ApiError::NotFound("conversation not found"));
    };
    let rule = claim_rule(&api, &me, &c).await?;
    let rule_id = match assignment::claim(&me, &c, rule.as_ref()) {
        ClaimDecision::Attempt { rule_id } => rule_id,
        ClaimDecision::AlreadyClaimed { holder } => return Err(claimed_first(Some(&holder))),
        ClaimDecision::Hidden => return Err(ApiError::NotFound("conversation not found")),
    };
    match api.stores.conversations.claim(&me.tenant_id, &conversation_id, &rule_id, &me.email).await? {
        ClaimOutcome::Won => {
            info!(conversation_id = %conversation_id, "conversation claimed");
            let c = readable(&api, &me, &conversation_id).await?;
            Ok(Json(ConversationView::from(&c)))
        }
        ClaimOutcome::AlreadyClaimed(winner) => Err(claimed_first(winner.as_deref())),
        ClaimOutcome::NotInPool => Err(ApiError::NotFound("conversation not found")),
    }
}

fn claimed_first(winner: Option<&str>) -> ApiError {
    let message = match winner {
        Some(w) => format!("{w} claimed this conversation first"),
        None => "someone claimed this conversation first".into(),
    };
    ApiError::Conflict(ErrorCode::AlreadyClaimed, message)
}

/// The rule a claim is decided by: the pool's while the conversation is pooled; once someone
/// holds it, the rule of its Page (while the Page still routes to the caller's shop), whose
/// agents could have claimed it and so may learn who was first.
async fn claim_rule(api: &AdminApi, me: &Caller, c: &Conversation) -> Result<Option<Rule>, ApiError> {
    let rule_id = match (&c.pool_rule_id, &c.assignee) {
        (Some(pool), _) => Some(pool.clone()),
        (None, Some(_)) => api
            .stores
            .pages
            .page_route(&c.page_id)
            .await?
            .filter(|r| r.tenant_id == me.tenant_id)
            .and_then(|r| r.rule_id),
        (None, None) => None,
    };
    Ok(match rule_id {
        Some(id) => api.stores.rules.rule(&me.tenant_id, &id).await?,
        None => None,
    })
}

#[derive(Deserialize)]
pub struct MessagesQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/conversations/{id}/messages`, newest first.
pub async fn list_messages(
    State(api): State<Arc<AdminApi>>,
    Path(conversation_id): Path<String>,
    me: Me,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<Json<PagedView<MessageView>>, ApiError> {
    let limit = limit_of(q.limit)?;
    let c = readable(&api, &me, &conversation_id).await?;
    let page =
        api.stores.conversations.list_messages(&me.tenant_id, &c.id, q.cursor.as_deref(), limit).await?;
    Ok(Json(PagedView::of(&page.items, page.next_cursor)))
}

#[derive(Deserialize)]
pub struct Reply {
    text: String,
    /// In a comment conversation: the comment answered (`crate::comments`).
    #[serde(default)]
    reply_to: Option<String>,
    /// With `reply_to`: the one private reply to that comment, through Messenger.
    #[serde(default)]
    private: bool,
}

impl Body for Reply {}

/// The header carrying a client's idempotency key: the same key from the same caller is the
/// same reply, sent at most once.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// `POST /api/conversations/{id}/messages`: a text reply, by the conversation's holder
/// ([`domain::reply::reply_right`]). The reply is recorded (pending) under its own id before
/// the Send API call and settled by Meta's answer: 201 with the message (`status: sent`, under
/// Meta's id), or the error with the reply as stored (`failed`, or `unknown` after a timeout
/// or 5xx, never retried). A repeated request with the same `Idempotency-Key` answers 200 with
/// the first one's reply and sends nothing.
pub async fn send(
    State(api): State<Arc<AdminApi>>,
    Path(conversation_id): Path<String>,
    me: Me,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Reply>,
) -> Result<Response, ApiError> {
    let text = reply_text(body.text)?;
    let reply_id = reply_id_of(&me, &headers)?;
    if let Some(reply_to) = body.reply_to {
        let r = crate::comments::CommentReply { text, reply_id, reply_to, private: body.private };
        return crate::comments::reply(&api, &me, &conversation_id, r).await;
    }
    let c = repliable(&api, &me, &conversation_id).await?;
    if c.kind() == domain::model::ConversationKind::Comment || body.private {
        let refusal = "in a comment conversation, name the comment to answer (reply_to)".into();
        return Err(ApiError::Unprocessable(ErrorCode::InvalidReplyTo, refusal));
    }
    let human_agent = api.stores.members.human_agent_enabled(&me.tenant_id).await?;
    let messaging =
        reply_window(now_ms(), c.last_customer_message_ms, human_agent).map_err(outside_window)?;
    let held = page_token(&api, &me.tenant_id, &c.page_id).await?;
    let pending = Message {
        id: reply_id.clone(),
        conversation_id: c.id.clone(),
        direction: Direction::Out,
        kind: MessageKind::Text,
        text: Some(text.clone()),
        sent_ms: now_ms(),
        detail: Some(json!({"sent_by": me.email, "messaging_type": format!("{messaging:?}")})),
        reply: Some(ReplyState { reply_id: reply_id.clone(), status: ReplyStatus::Pending, error: None }),
        comment: None,
    };
    let conversations = &api.stores.conversations;
    if let Some(first) = conversations.begin_reply(&me.tenant_id, &pending).await? {
        info!(conversation_id = %c.id, reply_id = %reply_id, "repeated reply request; nothing sent");
        return Ok((StatusCode::OK, Json(MessageView::from(&first))).into_response());
    }
    let sent = api
        .facebook
        .graph
        .send_text(&c.page_id, &held.token, &c.customer_id, &text, messaging, &reply_id)
        .await;
    match sent {
        Ok(mid) => {
            let outcome = ReplyOutcome::Sent { mid: mid.clone() };
            let message = match conversations.settle_reply(&me.tenant_id, &c.id, &reply_id, &outcome).await {
                Ok(Some(m)) => m,
                // It went out: say so. The record stays pending (shown unknown) until the
                // echo, which carries the reply id, settles it.
                other => {
                    let error = other.err().map(|e| cause_chain(&e)).unwrap_or_default();
                    warn!(conversation_id = %c.id, reply_id = %reply_id, error = %error,
                        "sent reply could not be settled");
                    sent_view(pending, mid)
                }
            };
            moved_up(&api, &me, &c, &message).await;
            info!(conversation_id = %c.id, reply_id = %reply_id, "reply sent");
            Ok((StatusCode::CREATED, Json(MessageView::from(&message))).into_response())
        }
        Err(e) => {
            let outcome = failure_outcome(&e);
            let status = outcome.status();
            let stored = conversations.settle_reply(&me.tenant_id, &c.id, &reply_id, &outcome).await?;
            warn!(conversation_id = %c.id, reply_id = %reply_id, status = status.as_str(), "reply not sent");
            let error = send_failure(&api, &me.tenant_id, &c.page_id, &held.version, e).await;
            let reply = stored.map(|m| serde_json::to_value(MessageView::from(&m)).unwrap_or_default());
            Ok(error.into_response_with("reply", reply.unwrap_or_default()))
        }
    }
}

/// The reply's id: from the caller's `Idempotency-Key` when given, else a fresh one.
fn reply_id_of(me: &Caller, headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(key) = headers.get(IDEMPOTENCY_KEY) else { return Ok(new_reply_id()) };
    key.to_str().ok().and_then(|k| keyed_reply_id(&me.email, k)).ok_or_else(|| {
        let refusal =
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters");
        ApiError::BadRequest(ErrorCode::InvalidIdempotencyKey, refusal)
    })
}

/// A sent reply as the thread shows it, when its record could not be settled.
fn sent_view(pending: Message, mid: String) -> Message {
    let reply = pending.reply.map(|r| ReplyState { status: ReplyStatus::Sent, ..r });
    Message { id: mid, reply, ..pending }
}

fn reply_text(text: String) -> Result<String, ApiError> {
    let chars = text.chars().count();
    if chars == 0 || chars > 2000 || text.trim().is_empty() {
        let refusal = "text must be 1 to 2000 characters".into();
        return Err(ApiError::Unprocessable(ErrorCode::InvalidText, refusal));
    }
    Ok(text)
}

/// The conversation if the caller may reply to it ([`reply_right`]). Someone who can see it
/// (or its pool) hears 403; anyone else 404, as if it did not exist.
async fn repliable(api: &AdminApi, me: &Caller, conversation_id: &str) -> Result<Conversation, ApiError> {
    let Some(c) = api.stores.conversations.conversation(&me.tenant_id, conversation_id).await? else {
        return Err(ApiError::NotFound("conversation not found"));
    };
    match reply_right(me, &c) {
        ReplyRight::Allowed => Ok(c),
        ReplyRight::NotYours { holder: Some(_) } => Err(ApiError::Forbidden(
            ErrorCode::NotYourConversation,
            "only the member who holds this conversation replies",
        )),
        ReplyRight::NotYours { holder: None } => Err(ApiError::Forbidden(
            ErrorCode::NotYourConversation,
            "this conversation waits in a pool: claim it before replying",
        )),
        ReplyRight::Hidden => Err(ApiError::NotFound("conversation not found")),
    }
}

fn outside_window(w: WindowRefusal) -> ApiError {
    let message = match w {
        WindowRefusal::NeedsHumanAgentTag => {
            "the customer last wrote more than 24 hours ago; replies up to 7 days need the Human Agent tag, not enabled for this shop"
        }
        WindowRefusal::Closed => {
            "the customer last wrote more than 7 days ago (or never): Meta allows no reply until they write again"
        }
    };
    ApiError::Unprocessable(ErrorCode::OutsideWindow, message.into())
}

/// The Page token a call on the Page uses, and the connection version it belongs to.
pub(crate) struct HeldToken {
    pub token: SecretString,
    pub version: String,
}

/// The current token of the Page's holder, if the caller's shop holds the Page (its route):
/// 409 `page_not_held` when another shop holds it or nobody does, 409 `reconnect_required`
/// without a usable token. A shop never acts at Meta on a Page it does not hold.
pub(crate) async fn page_token(api: &AdminApi, tenant: &str, page_id: &str) -> Result<HeldToken, ApiError> {
    let holder = api.stores.pages.holder(page_id).await?;
    let Some(h) = holder.filter(|h| h.route.tenant_id == tenant && !h.draft) else {
        let refusal = "this shop does not hold the Page (it is not connected here, or another shop connected it); connect it again".into();
        return Err(ApiError::Conflict(ErrorCode::PageNotHeld, refusal));
    };
    let Some(sealed) = h.token_enc else {
        let refusal = "the Page has no token; connect it again".into();
        return Err(ApiError::Conflict(ErrorCode::ReconnectRequired, refusal));
    };
    let token = api.facebook.cipher.decrypt(tenant, page_id, &sealed).map_err(|e| {
        warn!(page_id, error = %cause_chain(&e), "stored Page token unreadable");
        ApiError::Conflict(
            ErrorCode::ReconnectRequired,
            "the stored Page token cannot be used; connect the Page again".into(),
        )
    })?;
    Ok(HeldToken { token, version: h.version })
}

/// What a Send API failure answers (a token Meta no longer takes also marks the Page lost).
pub(crate) async fn send_failure(
    api: &AdminApi,
    tenant: &str,
    page_id: &str,
    version: &str,
    e: GraphError,
) -> ApiError {
    match e.kind {
        GraphErrorKind::OutsideWindow => ApiError::Unprocessable(
            ErrorCode::OutsideWindow,
            format!("Meta refused the reply: {}", e.message),
        ),
        GraphErrorKind::RecipientUnavailable => ApiError::Unprocessable(
            ErrorCode::RecipientUnavailable,
            "this customer cannot be reached on Messenger right now".into(),
        ),
        GraphErrorKind::RateLimited => {
            warn!(page_id, code = ?e.code, "Send API rate limited after retries");
            // Meta's estimate of when access comes back, when the usage headers gave one.
            let seconds = e.retry_after.map_or(crate::error::RETRY_AFTER_SECONDS, |d| d.as_secs().max(1));
            ApiError::TooManyRequests(
                ErrorCode::RateLimited,
                "Facebook is rate limiting this Page; retry shortly".into(),
                seconds,
            )
        }
        GraphErrorKind::TokenInvalid | GraphErrorKind::PermissionMissing => {
            crate::pages::graph_failure(api, tenant, page_id, Some(version), &e).await
        }
        GraphErrorKind::Transient | GraphErrorKind::Other => {
            warn!(page_id, code = ?e.code, status = e.status, "Send API failed");
            let message = format!("Facebook did not accept the reply: {}", e.message);
            ApiError::BadGateway(ErrorCode::GraphError, message)
        }
    }
}

/// Moves the conversation up the inbox after a reply went out, the reply becoming its last
/// message (in the same write, and only if nothing newer came meanwhile); a failure is logged
/// (the reply is stored and sent: the answer must say so).
pub(crate) async fn moved_up(api: &AdminApi, me: &Caller, c: &Conversation, reply: &Message) {
    let touch = ConversationTouch {
        tenant_id: me.tenant_id.to_string(),
        conversation_id: c.id.clone(),
        page_id: c.page_id.clone(),
        customer_id: c.customer_id.clone(),
        activity_ms: reply.sent_ms,
        customer_ms: None,
        last_message: Some(LastMessage::of(reply)),
        customer_name: None,
        post_id: None,
        phones: Vec::new(),
    };
    if let Err(e) = api.stores.conversations.touch_conversation(&touch).await {
        warn!(conversation_id = %c.id, error = %cause_chain(&e), "conversation not moved up after a reply");
    }
}
