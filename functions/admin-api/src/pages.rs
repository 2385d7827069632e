//! The shop's Pages: listing, the Facebook Login link, and connecting / disconnecting a Page.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::{Extension, Json};
use domain::access::{Identity, Member as Caller};
use domain::custody::{self, ConnectPlan, ConnectRefusal};
use domain::event::SyncJob;
use domain::graph::{GraphError, SUBSCRIBED_FIELDS};
use domain::model::{ChatMode, PageRecord, PageRoute, PageStatus};
use domain::oauth::{OAuthState, STATE_TTL_MS, dialog_url, login_cookie};
use domain::ports::{Connection, ROUTE_LEASE_MS, RouteChange, RuleLink, StoreError, StoredPage};
use domain::timefmt::{now_ms, rfc3339_ms};
use secrecy::SecretString;
use serde::Deserialize;
use tracing::{info, warn};

use crate::error::cause_chain;
use crate::extract::{ApiJson, Body, Manager, Me, area, one_of};
use crate::rules::NewRule;
use crate::views::{ItemsView, JobState, LoginUrlView, PageView};
use crate::{AdminApi, ApiError, ErrorCode};

/// The page object of the contract, as JSON (for routes outside this crate, such as the local
/// stack's seeding route).
pub fn page_json(p: &PageRecord) -> serde_json::Value {
    serde_json::to_value(PageView::from(p)).unwrap_or_default()
}

/// `GET /api/pages`, by name.
pub async fn list(State(api): State<Arc<AdminApi>>, me: Me) -> Result<Json<ItemsView<PageView>>, ApiError> {
    let mut pages = api.stores.pages.list_pages(&me.tenant_id).await?;
    pages.sort_by(|a, b| a.name.cmp(&b.name).then(a.page_id.cmp(&b.page_id)));
    Ok(Json(ItemsView::of(&pages)))
}

/// `GET /api/facebook/login-url`: Meta's dialog with a signed, expiring, single-use state bound
/// to the caller and the shop, and the cookie that binds the login to this browser (the
/// callback refuses the state without it: login CSRF, `docs/facebook-login.md`).
pub async fn login_url(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Pages>,
    Extension(id): Extension<Identity>,
) -> Result<([(header::HeaderName, String); 2], Json<LoginUrlView>), ApiError> {
    let fb = &api.facebook;
    let state = OAuthState {
        tenant_id: me.tenant_id.to_string(),
        email: me.email.clone(),
        sub: id.sub,
        expires_ms: now_ms() + STATE_TTL_MS,
        nonce: uuid::Uuid::new_v4().simple().to_string(),
    };
    let url = dialog_url(&fb.dialog_url, &fb.app_id, &fb.redirect_uri, &fb.states.sign(&state))
        .map_err(|e| ApiError::Misconfigured { what: "FB_DIALOG_URL is not a URL", source: e.into() })?;
    let binding = fb.states.browser_binding(&state);
    let cookie = login_cookie(&state, &binding, &fb.redirect_uri, STATE_TTL_MS / 1000);
    // The cookie must not be cached anywhere on the way.
    let headers = [(header::SET_COOKIE, cookie), (header::CACHE_CONTROL, "no-store".to_string())];
    Ok((headers, Json(LoginUrlView { expires_at: rfc3339_ms(state.expires_ms), url })))
}

#[derive(Deserialize)]
pub struct ConnectBody {
    #[serde(deserialize_with = "one_of")]
    chat_mode: ChatMode,
    rule_id: Option<String>,
    new_rule: Option<NewRule>,
}

impl Body for ConnectBody {
    fn unknown_value(path: &[&str]) -> Option<ApiError> {
        match path {
            ["chat_mode"] => Some(ApiError::BadRequest(
                ErrorCode::InvalidChatMode,
                "chat_mode must be only_me or shared".into(),
            )),
            ["new_rule", inner @ ..] => NewRule::unknown_value(inner),
            _ => None,
        }
    }
}

/// What a Graph failure on a Page call does to the Page, and the caller's answer. A token
/// failure marks the shop's connection lost only at `version`, the connection the token
/// belonged to, so an old failure never marks a newer connection lost.
pub async fn graph_failure(
    api: &AdminApi,
    tenant: &str,
    page_id: &str,
    version: Option<&str>,
    e: &GraphError,
) -> ApiError {
    if let Some(reason) = e.lost_reason() {
        warn!(page_id, code = ?e.code, subcode = ?e.subcode, "Page token or permission no longer works");
        if let Some(v) = version
            && let Err(se) = api.stores.pages.mark_lost(tenant, page_id, v, &reason).await
        {
            warn!(error = %cause_chain(&se), "could not record the lost connection");
        }
    } else {
        warn!(page_id, code = ?e.code, status = e.status, kind = ?e.kind, "Graph call failed");
    }
    let code = e.code.map(|c| format!(" (code {c})")).unwrap_or_default();
    ApiError::BadGateway(ErrorCode::GraphError, format!("Facebook refused the request: {}{code}", e.message))
}

/// `POST /api/pages/{page_id}/connect`: takes the route's lease (writing a draft route when the
/// Page has none, so events that arrive from now on are kept), subscribes the app to the Page's
/// webhooks, and only when Meta accepted, writes the connection, the rule moves and (on a
/// takeover) the previous holder's lost connection in one transaction. A failure releases the
/// lease (and the draft) and leaves the Page where it was (docs/page-custody.md).
pub async fn connect(
    State(api): State<Arc<AdminApi>>,
    Path(page_id): Path<String>,
    me: Manager<area::Pages>,
    ApiJson(body): ApiJson<ConnectBody>,
) -> Result<Json<PageView>, ApiError> {
    let Some(StoredPage { record: page, token_enc: token }) =
        api.stores.pages.page(&me.tenant_id, &page_id).await?
    else {
        return Err(ApiError::NotFound("page not found; bring it in through Facebook Login first"));
    };
    let mode = body.chat_mode;
    // The rule side, checked before Meta is asked anything.
    let link = rule_link(&api, &me, &page_id, body).await?;
    let rule_id = link.as_ref().map(|l| match l {
        RuleLink::Existing { rule_id, .. } => rule_id.clone(),
        RuleLink::New(r) => r.id.clone(),
    });
    // A Page moving to another rule, or to only-me, leaves its current rule (in the same
    // transaction as the connection).
    let leaving = match &page.rule_id {
        Some(current) if Some(current) != rule_id.as_ref() => {
            api.stores.rules.rule(&me.tenant_id, current).await?
        }
        _ => None,
    };
    let token = readable_token(&api, &me.tenant_id, &page_id, token)?;
    let now = now_ms();
    let plan =
        match custody::connect_plan(&me.tenant_id, api.stores.pages.holder(&page_id).await?.as_ref(), now) {
            Ok(p) => p,
            Err(ConnectRefusal::Taken) => {
                let refusal = "this Page is connected to another shop".into();
                return Err(ApiError::Conflict(ErrorCode::PageTaken, refusal));
            }
            Err(ConnectRefusal::Busy) => return Err(busy()),
        };
    let (connected, route) = connected_records(&me, page, mode, rule_id.clone());
    let op = custody::new_id();
    let take_over = match &plan {
        ConnectPlan::TakeOver(t) => Some(t.clone()),
        _ => None,
    };
    let change = RouteChange {
        tenant_id: me.tenant_id.to_string(),
        page_id: page_id.clone(),
        op: op.clone(),
        until_ms: now + ROUTE_LEASE_MS,
        draft: (plan == ConnectPlan::Fresh)
            .then(|| PageRoute { status: PageStatus::NotConnected, ..route.clone() }),
        take_over: take_over.clone(),
    };
    api.stores.pages.begin_change(&change).await.map_err(|e| match e {
        StoreError::Conflict(_) => busy(),
        e => e.into(),
    })?;
    if let Err(e) = api.facebook.graph.subscribe_page(&page_id, &token, SUBSCRIBED_FIELDS).await {
        release(&api, &page_id, &op).await;
        // The token is the shop's own; it marks the shop's connection lost only if the shop
        // holds the Page at the version this token was read with.
        let version = own_version(&api, &me.tenant_id, &page_id).await;
        return Err(graph_failure(&api, &me.tenant_id, &page_id, version.as_deref(), &e).await);
    }
    let holders = match &connected.rule_id {
        Some(_) => crate::rules::only_me_holders(&api, &me.tenant_id, std::slice::from_ref(&page_id)).await?,
        None => Vec::new(),
    };
    let version = custody::new_id();
    let commit = Connection {
        page: &connected,
        route: &route,
        op: &op,
        version: &version,
        join: link.as_ref(),
        leave: leaving.as_ref(),
        take_over: take_over.as_ref(),
    };
    if let Err(e) = api.stores.pages.commit_connect(&commit).await {
        release(&api, &page_id, &op).await;
        return Err(match e {
            StoreError::Conflict(m) => ApiError::Conflict(
                ErrorCode::Conflict,
                format!("the Page could not be connected: {m}; try again"),
            ),
            e => e.into(),
        });
    }
    if let Some(r) = &connected.rule_id {
        crate::rules::hand_over(&api, &me.tenant_id, r, &holders).await;
    }
    match &take_over {
        Some(t) => {
            info!(page_id = %page_id, tenant_id = %me.tenant_id, from = %t.tenant_id, "Page taken over")
        }
        None => info!(page_id = %page_id, tenant_id = %me.tenant_id, mode = mode.as_str(), "Page connected"),
    }
    // The Page's earlier conversations come through the Conversations API, step by step.
    let history_sync = queue_history_sync(&api, &me.tenant_id, &page_id).await;
    Ok(Json(PageView { history_sync: Some(history_sync), ..PageView::from(&connected) }))
}

fn busy() -> ApiError {
    ApiError::Conflict(
        ErrorCode::PageBusy,
        "another change of this Page is in progress; try again in a moment".into(),
    )
}

/// Ends a change that did not complete; a failure is logged (the lease expires anyway).
async fn release(api: &AdminApi, page_id: &str, op: &str) {
    if let Err(e) = api.stores.pages.abort_change(page_id, op).await {
        warn!(page_id, error = %cause_chain(&e), "could not release the Page's lease; it expires");
    }
}

/// The connection version of the shop's hold on the Page, if it holds it.
async fn own_version(api: &AdminApi, tenant: &str, page_id: &str) -> Option<String> {
    match api.stores.pages.holder(page_id).await {
        Ok(Some(h)) if h.route.tenant_id == tenant && h.token_enc.is_some() => Some(h.version),
        _ => None,
    }
}

/// The rule a Page connects under: none in only-me mode, an existing rule of the shop, or a
/// new one (validated like `POST /api/rules`, holding this Page).
async fn rule_link(
    api: &AdminApi,
    me: &Caller,
    page_id: &str,
    body: ConnectBody,
) -> Result<Option<RuleLink>, ApiError> {
    match (body.chat_mode, body.rule_id, body.new_rule) {
        (ChatMode::OnlyMe, None, None) => Ok(None),
        (ChatMode::OnlyMe, _, _) => {
            let refusal = "only_me takes no rule_id or new_rule".into();
            Err(ApiError::BadRequest(ErrorCode::InvalidBody, refusal))
        }
        (ChatMode::Shared, Some(rule_id), None) => {
            let rule = api
                .stores
                .rules
                .rule(&me.tenant_id, &rule_id)
                .await?
                .ok_or(ApiError::NotFound("rule not found"))?;
            Ok(Some(RuleLink::Existing {
                add_page: !rule.page_ids.iter().any(|p| p == page_id),
                rule_id: rule.id,
            }))
        }
        (ChatMode::Shared, None, Some(new_rule)) => {
            Ok(Some(RuleLink::New(crate::rules::validate(api, me, new_rule, Some(page_id)).await?)))
        }
        (ChatMode::Shared, _, _) => {
            let refusal = "shared takes exactly one of rule_id and new_rule".into();
            Err(ApiError::BadRequest(ErrorCode::InvalidBody, refusal))
        }
    }
}

/// The shop's Page token, decrypted, or 409 `reconnect_required`.
fn readable_token(
    api: &AdminApi,
    tenant: &str,
    page_id: &str,
    sealed: Option<String>,
) -> Result<SecretString, ApiError> {
    let sealed = sealed.ok_or(ApiError::Conflict(
        ErrorCode::ReconnectRequired,
        "this Page has no token; run Facebook Login again".into(),
    ))?;
    api.facebook.cipher.decrypt(tenant, page_id, &sealed).map_err(|e| {
        warn!(page_id, error = %cause_chain(&e), "stored Page token unreadable");
        ApiError::Conflict(
            ErrorCode::ReconnectRequired,
            "the stored Page token cannot be used; run Facebook Login again".into(),
        )
    })
}

/// The shop's record of the Page, connected now by the caller, and its route.
fn connected_records(
    me: &Caller,
    page: PageRecord,
    mode: ChatMode,
    rule_id: Option<String>,
) -> (PageRecord, PageRoute) {
    let route = PageRoute {
        page_id: page.page_id.clone(),
        tenant_id: me.tenant_id.to_string(),
        status: PageStatus::Connected,
        chat_mode: mode,
        rule_id: rule_id.clone(),
        connected_by: me.email.clone(),
    };
    let connected = PageRecord {
        status: PageStatus::Connected,
        chat_mode: Some(mode),
        rule_id,
        connected_by: Some(me.email.clone()),
        last_connected_at: Some(rfc3339_ms(now_ms())),
        lost_reason: None,
        ..page
    };
    (connected, route)
}

/// Queues the first step of the Page's history sync; a failure is logged and reported, not fatal.
async fn queue_history_sync(api: &AdminApi, tenant: &str, page_id: &str) -> JobState {
    let job = SyncJob::first(tenant, page_id);
    let queued = match job.to_queue_message() {
        Ok(m) => api.queue.send_batch(&[m]).await.map_err(|e| cause_chain(&e)),
        Err(e) => Err(cause_chain(&e)),
    };
    if let Err(error) = &queued {
        warn!(page_id, error = %error, "history sync could not be queued");
    }
    JobState::queued_if(queued.is_ok())
}

/// `POST /api/pages/{page_id}/disconnect`: stop receiving; conversations stay. Only the shop
/// holding the Page's route unsubscribes at Meta, with its current token, under the route's
/// lease; a shop that does not hold it only marks its own Page not connected.
pub async fn disconnect(
    State(api): State<Arc<AdminApi>>,
    Path(page_id): Path<String>,
    me: Manager<area::Pages>,
) -> Result<Json<PageView>, ApiError> {
    if api.stores.pages.page(&me.tenant_id, &page_id).await?.is_none() {
        return Err(ApiError::NotFound("page not found"));
    }
    let conflict = |e: StoreError| match e {
        StoreError::Conflict(_) => busy(),
        e => e.into(),
    };
    match api.stores.pages.holder(&page_id).await? {
        Some(h) if h.route.tenant_id == me.tenant_id.as_str() => {
            let op = custody::new_id();
            let change = RouteChange {
                tenant_id: me.tenant_id.to_string(),
                page_id: page_id.clone(),
                op: op.clone(),
                until_ms: now_ms() + ROUTE_LEASE_MS,
                draft: None,
                take_over: None,
            };
            api.stores.pages.begin_change(&change).await.map_err(conflict)?;
            let token =
                h.token_enc.and_then(|t| api.facebook.cipher.decrypt(&me.tenant_id, &page_id, &t).ok());
            if let Some(token) = token
                && let Err(e) = api.facebook.graph.unsubscribe_page(&page_id, &token).await
            {
                // The shop asked to stop: it stops here whatever Meta says; events that still
                // come are acknowledged and dropped for want of a route.
                warn!(page_id = %page_id, code = ?e.code, "unsubscribe failed; disconnecting anyway");
            }
            if let Err(e) = api.stores.pages.commit_disconnect(&me.tenant_id, &page_id, &op).await {
                release(&api, &page_id, &op).await;
                return Err(conflict(e));
            }
        }
        // Not the holder: Meta is not asked anything; only the shop's own view changes.
        _ => api.stores.pages.disconnect_page(&me.tenant_id, &page_id).await.map_err(conflict)?,
    }
    let StoredPage { record: page, .. } =
        api.stores.pages.page(&me.tenant_id, &page_id).await?.ok_or(ApiError::NotFound("page not found"))?;
    info!(page_id = %page_id, tenant_id = %me.tenant_id, "Page disconnected");
    Ok(Json(PageView::from(&page)))
}
