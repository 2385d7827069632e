//! The shop's Pages: listing, the Facebook Login link, and connecting / disconnecting a Page.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use domain::access::{Identity, Member as Caller};
use domain::event::SyncJob;
use domain::graph::{GraphError, SUBSCRIBED_FIELDS};
use domain::model::{ChatMode, PageRecord, PageRoute, PageStatus, Rule};
use domain::oauth::{OAuthState, STATE_TTL_MS, dialog_url};
use domain::ports::{RuleLink, StoreError, StoredPage};
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
/// to the caller and the shop.
pub async fn login_url(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Pages>,
    Extension(id): Extension<Identity>,
) -> Result<Json<LoginUrlView>, ApiError> {
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
    Ok(Json(LoginUrlView { expires_at: rfc3339_ms(state.expires_ms), url }))
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

/// What a Graph failure on a Page call does to the Page, and the caller's answer.
pub async fn graph_failure(api: &AdminApi, tenant: &str, page_id: &str, e: &GraphError) -> ApiError {
    if let Some(reason) = e.lost_reason() {
        warn!(page_id, code = ?e.code, subcode = ?e.subcode, "Page token or permission no longer works");
        if let Err(se) = api.stores.pages.mark_lost(tenant, page_id, &reason).await {
            warn!(error = %cause_chain(&se), "could not record the lost connection");
        }
    } else {
        warn!(page_id, code = ?e.code, status = e.status, kind = ?e.kind, "Graph call failed");
    }
    let code = e.code.map(|c| format!(" (code {c})")).unwrap_or_default();
    ApiError::BadGateway(ErrorCode::GraphError, format!("Facebook refused the request: {}{code}", e.message))
}

/// `POST /api/pages/{page_id}/connect`: subscribe the app to the Page's webhooks, and only when
/// Meta accepted, make the Page receive for this shop (in only-me mode, or shared under a rule,
/// existing or created with it).
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
    // A Page moving to another rule, or to only-me, leaves its current rule.
    let leaving = match &page.rule_id {
        Some(current) if Some(current) != rule_id.as_ref() => {
            api.stores.rules.rule(&me.tenant_id, current).await?
        }
        _ => None,
    };
    let token = connectable_token(&api, &me.tenant_id, &page_id, token).await?;
    if let Err(e) = api.facebook.graph.subscribe_page(&page_id, &token, SUBSCRIBED_FIELDS).await {
        return Err(graph_failure(&api, &me.tenant_id, &page_id, &e).await);
    }
    let (connected, route) = connected_records(&me, page, mode, rule_id.clone());
    if let Some(old) = &leaving {
        leave_rule(&api, &me.tenant_id, &page_id, old).await?;
    }
    link_page(&api, &connected, &route, link.as_ref()).await?;
    info!(page_id = %page_id, tenant_id = %me.tenant_id, mode = mode.as_str(), "Page connected");
    // The Page's earlier conversations come through the Conversations API, step by step.
    let history_sync = queue_history_sync(&api, &me.tenant_id, &page_id).await;
    Ok(Json(PageView { history_sync: Some(history_sync), ..PageView::from(&connected) }))
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

/// The Page's token, decrypted, if the Page may be connected here: 409 `reconnect_required`
/// without a usable token, 409 `page_taken` while another shop has the Page connected.
async fn connectable_token(
    api: &AdminApi,
    tenant: &str,
    page_id: &str,
    sealed: Option<String>,
) -> Result<SecretString, ApiError> {
    let sealed = sealed.ok_or(ApiError::Conflict(
        ErrorCode::ReconnectRequired,
        "this Page has no token; run Facebook Login again".into(),
    ))?;
    if let Some(route) = api.stores.pages.page_route(page_id).await?
        && route.tenant_id != tenant
    {
        let refusal = "this Page is connected to another shop".into();
        return Err(ApiError::Conflict(ErrorCode::PageTaken, refusal));
    }
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

/// Takes the Page out of the rule it leaves.
async fn leave_rule(api: &AdminApi, tenant: &str, page_id: &str, old: &Rule) -> Result<(), ApiError> {
    let mut without = old.clone();
    without.page_ids.retain(|p| p != page_id);
    let was_connected = api.stores.pages.page_route(page_id).await?.is_some_and(|r| r.tenant_id == tenant);
    let connected_now = if was_connected { vec![page_id.to_string()] } else { Vec::new() };
    api.stores.rules.update_rule(tenant, old, &without, &connected_now).await.map_err(ApiError::try_again)
}

/// Writes the connection (with the rule side, in one transaction, when shared), then has the
/// rule's policy re-home what the Page's only-me holder had.
async fn link_page(
    api: &AdminApi,
    connected: &PageRecord,
    route: &PageRoute,
    link: Option<&RuleLink>,
) -> Result<(), ApiError> {
    let (tenant, page_id) = (&route.tenant_id, &route.page_id);
    let holders = match &connected.rule_id {
        Some(_) => crate::rules::only_me_holders(api, tenant, std::slice::from_ref(page_id)).await?,
        None => Vec::new(),
    };
    let written = match link {
        None => api.stores.pages.connect_page(connected, route).await,
        Some(link) => api.stores.rules.connect_shared(connected, route, link).await,
    };
    match written {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => {
            let message = format!("the Page could not be connected: {m}");
            return Err(ApiError::Conflict(ErrorCode::PageTaken, message));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(r) = &connected.rule_id {
        crate::rules::hand_over(api, tenant, r, &holders).await;
    }
    Ok(())
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

/// `POST /api/pages/{page_id}/disconnect`: unsubscribe and stop routing; conversations stay.
pub async fn disconnect(
    State(api): State<Arc<AdminApi>>,
    Path(page_id): Path<String>,
    me: Manager<area::Pages>,
) -> Result<Json<PageView>, ApiError> {
    let Some(StoredPage { token_enc: token, .. }) = api.stores.pages.page(&me.tenant_id, &page_id).await?
    else {
        return Err(ApiError::NotFound("page not found"));
    };
    if let Some(token) = token.and_then(|t| api.facebook.cipher.decrypt(&me.tenant_id, &page_id, &t).ok())
        && let Err(e) = api.facebook.graph.unsubscribe_page(&page_id, &token).await
    {
        // The shop asked to stop: it stops here whatever Meta says; events that still come are
        // acknowledged and dropped for want of a route.
        warn!(page_id = %page_id, code = ?e.code, "unsubscribe failed; disconnecting anyway");
    }
    api.stores.pages.disconnect_page(&me.tenant_id, &page_id).await?;
    let StoredPage { record: page, .. } =
        api.stores.pages.page(&me.tenant_id, &page_id).await?.ok_or(ApiError::NotFound("page not found"))?;
    info!(page_id = %page_id, tenant_id = %me.tenant_id, "Page disconnected");
    Ok(Json(PageView::from(&page)))
}
