//! The admin API: shops and members, Pages, and the conversation inbox, for the caller's shop
//! only. Identity comes from the JWT authorizer's claims (API Gateway on AWS, the local stack's
//! HS256 check locally), placed in the request extensions by the layer in front of [`router`].

pub mod error;
pub mod extract;
pub mod identity;
pub mod messages;
pub mod pages;
pub mod rules;
pub mod views;

use std::sync::Arc;

use adapters::Stores;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use domain::access::{Identity, Member as Caller, normalize_email};
use domain::model::{Conversation, Member, PageRecord, Role};
use domain::ports::ConversationFilter;
use serde::Deserialize;
use serde_json::Value;

pub use error::{ApiError, ErrorCode};
pub use extract::{ApiJson, ApiQuery, Manager, Me};
use extract::{Body, area, one_of};
use views::{
    ConversationView, ItemsView, JobState, MemberView, MessageView, PageView, PagedView, RemovedView,
};

pub struct AdminApi {
    pub stores: Stores,
    pub facebook: Arc<adapters::facebook::Facebook>,
    /// Where connecting a Page queues its history sync.
    pub queue: Arc<dyn domain::ports::EventQueue>,
}

pub fn router(api: Arc<AdminApi>) -> Router {
    Router::new()
        .route("/api/members", get(list_members).post(add_member))
        .route("/api/members/{email}", axum::routing::delete(remove_member))
        .route("/api/pages", get(list_pages))
        .route("/api/pages/{page_id}/connect", axum::routing::post(pages::connect))
        .route("/api/pages/{page_id}/disconnect", axum::routing::post(pages::disconnect))
        .route("/api/facebook/login-url", get(pages::login_url))
        .route("/api/rules", get(rules::list).post(rules::create))
        .route("/api/rules/{rule_id}", get(rules::get_one).put(rules::replace).delete(rules::delete))
        .route("/api/conversations", get(list_conversations))
        .route("/api/conversations/{id}", get(get_conversation))
        .route("/api/conversations/{id}/claim", axum::routing::post(claim))
        .route("/api/conversations/{id}/messages", get(list_messages).post(messages::send))
        .route("/api/settings", get(messages::get_settings).put(messages::put_settings))
        .fallback(|| async { ApiError::NotFound("no such route") })
        .with_state(api)
}

/// Resolves the verified identity to a member of its shop. An owner's first call registers
/// them; anyone else must already be a member.
pub async fn caller(api: &AdminApi, id: &Identity) -> Result<Caller, ApiError> {
    let email = normalize_email(&id.email);
    if let Some(m) = api.stores.members.member(&id.tenant_id, &email).await? {
        return Ok(Caller { email, tenant_id: id.tenant_id.clone(), role: m.role });
    }
    if id.claimed_role == Role::Owner {
        api.stores
            .members
            .add_member(&id.tenant_id, &Member { email: email.clone(), role: Role::Owner })
            .await?;
        tracing::info!(tenant_id = %id.tenant_id, "owner registered on first call");
        return Ok(Caller { email, tenant_id: id.tenant_id.clone(), role: Role::Owner });
    }
    Err(ApiError::Forbidden(ErrorCode::NotAMember, "your account is not a member of this shop"))
}

/// The page object of the contract, as JSON (for routes outside this crate, such as the local
/// stack's seeding route).
pub fn page_json(p: &PageRecord) -> Value {
    serde_json::to_value(PageView::from(p)).unwrap_or_default()
}

async fn list_members(
    State(api): State<Arc<AdminApi>>,
    me: Me,
) -> Result<Json<ItemsView<MemberView>>, ApiError> {
    let mut members = api.stores.members.list_members(&me.tenant_id).await?;
    members.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(Json(ItemsView::of(&members)))
}

#[derive(Deserialize)]
struct NewMember {
    email: String,
    #[serde(deserialize_with = "one_of")]
    role: Role,
}

impl Body for NewMember {
    fn unknown_value(path: &[&str]) -> Option<ApiError> {
        (path == ["role"]).then(|| {
            ApiError::Unprocessable(ErrorCode::InvalidRole, "role must be owner, admin or agent".into())
        })
    }
}

async fn add_member(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Members>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let email = normalize_email(&body.email);
    if email.len() > 254 || !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(ApiError::Unprocessable(
            ErrorCode::InvalidEmail,
            format!("{email:?} is not an email address"),
        ));
    }
    let role = body.role;
    if role == Role::Owner && me.role != Role::Owner {
        return Err(ApiError::Forbidden(ErrorCode::Forbidden, "only owners add owners"));
    }
    let member = Member { email, role };
    if !api.stores.members.add_member(&me.tenant_id, &member).await? {
        return Err(ApiError::Conflict(
            ErrorCode::MemberExists,
            format!("{} is already a member", member.email),
        ));
    }
    tracing::info!(tenant_id = %me.tenant_id, role = role.as_str(), "member added");
    Ok((StatusCode::CREATED, Json(MemberView::from(&member))))
}

/// `DELETE /api/members/{email}`: the member leaves every rule and the shop; the
/// conversations they held are re-homed by each rule's old-conversation policy, through queued
/// steps.
async fn remove_member(
    State(api): State<Arc<AdminApi>>,
    Path(email): Path<String>,
    me: Manager<area::Members>,
) -> Result<Json<RemovedView>, ApiError> {
    let email = normalize_email(&email);
    let Some(target) = api.stores.members.member(&me.tenant_id, &email).await? else {
        return Err(ApiError::NotFound("member not found"));
    };
    if target.role == Role::Owner {
        if me.role != Role::Owner {
            return Err(ApiError::Forbidden(ErrorCode::Forbidden, "admins cannot remove owners"));
        }
        let owners = api
            .stores
            .members
            .list_members(&me.tenant_id)
            .await?
            .iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        if owners <= 1 {
            return Err(ApiError::Conflict(ErrorCode::LastOwner, "a shop keeps at least one owner".into()));
        }
    }
    // Out of every rule first (a conditional write per rule; retried on a concurrent change).
    for _ in 0..5 {
        let rules = api.stores.rules.list_rules(&me.tenant_id).await?;
        let holding: Vec<_> = rules.into_iter().filter(|r| r.agent_emails.contains(&email)).collect();
        if let Some(r) = holding.iter().find(|r| r.agent_emails.len() == 1) {
            return Err(ApiError::Conflict(
                ErrorCode::LastAgentOfRule,
                format!("{email} is the only agent of the rule {:?}; add another agent first", r.name),
            ));
        }
        let mut all_done = true;
        for r in &holding {
            let left: Vec<String> = r.agent_emails.iter().filter(|a| **a != email).cloned().collect();
            if !api.stores.rules.set_rule_agents(&me.tenant_id, &r.id, &r.agent_emails, &left).await? {
                all_done = false;
            }
        }
        if all_done {
            break;
        }
    }
    api.stores.members.remove_member(&me.tenant_id, &email).await?;
    let queued = rules::queue_rehoming(&api, &me.tenant_id, &email, None).await;
    tracing::info!(tenant_id = %me.tenant_id, "member removed");
    Ok(Json(RemovedView { reassignment: JobState::queued_if(queued), removed: email }))
}

async fn list_pages(State(api): State<Arc<AdminApi>>, me: Me) -> Result<Json<ItemsView<PageView>>, ApiError> {
    let mut pages = api.stores.pages.list_pages(&me.tenant_id).await?;
    pages.sort_by(|a, b| a.name.cmp(&b.name).then(a.page_id.cmp(&b.page_id)));
    Ok(Json(ItemsView::of(&pages)))
}

#[derive(Deserialize)]
struct ListQuery {
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

async fn list_conversations(
    State(api): State<Arc<AdminApi>>,
    me: Me,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<PagedView<ConversationView>>, ApiError> {
    let limit = limit_of(q.limit)?;
    let default_view = if me.role.is_manager() { "all" } else { "mine" };
    let page_id = q.page_id.filter(|p| !p.is_empty());
    let filter = match q.view.as_deref().unwrap_or(default_view) {
        "all" if me.role.is_manager() => ConversationFilter::All { page_id },
        "all" => {
            return Err(ApiError::Forbidden(
                ErrorCode::Forbidden,
                "only owners and admins see every conversation",
            ));
        }
        "mine" => ConversationFilter::AssignedTo { email: me.email.clone(), page_id },
        "pool" => return pool_view(&api, &me, q.rule_id.as_deref(), q.cursor.as_deref(), limit).await,
        _ => {
            return Err(ApiError::BadRequest(
                ErrorCode::InvalidView,
                "view must be mine, pool or all".into(),
            ));
        }
    };
    let page = api
        .stores
        .conversations
        .list_conversations(&me.tenant_id, &filter, q.cursor.as_deref(), limit)
        .await?;
    Ok(Json(PagedView::of(&page.items, page.next_cursor)))
}

/// The conversation if it exists in the caller's shop and the caller may read it; 404 alike
/// for "absent" and "not yours", so nothing leaks.
async fn readable(api: &AdminApi, me: &Caller, conversation_id: &str) -> Result<Conversation, ApiError> {
    match api.stores.conversations.conversation(&me.tenant_id, conversation_id).await? {
        Some(c) if me.can_read(&c) => Ok(c),
        // A pooled conversation is visible to the agents of its rule.
        Some(c) if c.assignee.is_none() && c.pool_rule_id.is_some() => {
            let rule = c.pool_rule_id.as_deref().unwrap_or_default();
            match api.stores.rules.rule(&me.tenant_id, rule).await? {
                Some(r) if r.agent_emails.contains(&me.email) => Ok(c),
                _ => Err(ApiError::NotFound("conversation not found")),
            }
        }
        _ => Err(ApiError::NotFound("conversation not found")),
    }
}

/// The self-claim pools the caller belongs to (all of the shop's for owners and admins),
/// newest activity first. With several pools and no `rule_id`, the first page of each is
/// merged; pass `rule_id` to page through one pool.
async fn pool_view(
    api: &AdminApi,
    me: &Caller,
    rule_id: Option<&str>,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Json<PagedView<ConversationView>>, ApiError> {
    let rules: Vec<_> = api
        .stores
        .rules
        .list_rules(&me.tenant_id)
        .await?
        .into_iter()
        .filter(|r| r.method == domain::model::Method::SelfClaim)
        .filter(|r| me.role.is_manager() || r.agent_emails.contains(&me.email))
        .filter(|r| rule_id.is_none_or(|id| r.id == id))
        .collect();
    if rule_id.is_some() && rules.is_empty() {
        return Err(ApiError::NotFound("no such pool"));
    }
    if cursor.is_some() && rules.len() != 1 {
        return Err(ApiError::BadRequest(ErrorCode::InvalidCursor, "a pool cursor needs its rule_id".into()));
    }
    let mut items = Vec::new();
    let mut next_cursor = None;
    for r in &rules {
        let filter = ConversationFilter::Pool { rule_id: r.id.clone() };
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

/// `POST /api/conversations/{id}/claim` (*Nhận chat*): the first agent of the rule wins,
/// whatever the concurrency; the others get 409 `already_claimed`.
async fn claim(
    State(api): State<Arc<AdminApi>>,
    Path(conversation_id): Path<String>,
    me: Me,
) -> Result<Json<ConversationView>, ApiError> {
    let Some(c) = api.stores.conversations.conversation(&me.tenant_id, &conversation_id).await? else {
        return Err(ApiError::NotFound("conversation not found"));
    };
    let Some(rule_id) = c.pool_rule_id.clone() else {
        let Some(holder) = c.assignee else { return Err(ApiError::NotFound("conversation not found")) };
        // The agents of the Page's rule (who could have claimed it) learn who was first.
        let route_rule = api
            .stores
            .pages
            .page_route(&c.page_id)
            .await?
            .filter(|r| r.tenant_id == me.tenant_id)
            .and_then(|r| r.rule_id);
        let in_rule = match route_rule {
            Some(r) => api
                .stores
                .rules
                .rule(&me.tenant_id, &r)
                .await?
                .is_some_and(|r| r.agent_emails.contains(&me.email)),
            None => false,
        };
        return if me.role.is_manager() || in_rule || holder == me.email {
            Err(ApiError::Conflict(
                ErrorCode::AlreadyClaimed,
                format!("{holder} claimed this conversation first"),
            ))
        } else {
            Err(ApiError::NotFound("conversation not found"))
        };
    };
    let rule = api.stores.rules.rule(&me.tenant_id, &rule_id).await?;
    if !rule.is_some_and(|r| r.agent_emails.contains(&me.email)) {
        return Err(ApiError::NotFound("conversation not found"));
    }
    match api.stores.conversations.claim(&me.tenant_id, &conversation_id, &rule_id, &me.email).await? {
        domain::ports::ClaimOutcome::Won => {
            tracing::info!(conversation_id = %conversation_id, "conversation claimed");
            let c = readable(&api, &me, &conversation_id).await?;
            Ok(Json(ConversationView::from(&c)))
        }
        domain::ports::ClaimOutcome::AlreadyClaimed(winner) => Err(ApiError::Conflict(
            ErrorCode::AlreadyClaimed,
            match winner {
                Some(w) => format!("{w} claimed this conversation first"),
                None => "someone claimed this conversation first".into(),
            },
        )),
        domain::ports::ClaimOutcome::NotInPool => Err(ApiError::NotFound("conversation not found")),
    }
}

async fn get_conversation(
    State(api): State<Arc<AdminApi>>,
    Path(conversation_id): Path<String>,
    me: Me,
) -> Result<Json<ConversationView>, ApiError> {
    let c = readable(&api, &me, &conversation_id).await?;
    Ok(Json(ConversationView::from(&c)))
}

#[derive(Deserialize)]
struct MessagesQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn list_messages(
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
