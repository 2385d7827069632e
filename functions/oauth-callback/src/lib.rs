//! `GET /oauth/facebook/callback`: the browser comes back from Meta's login dialog. Every
//! outcome, success or failure, ends in a 302 to `APP_BASE_URL` with a result the UI can show;
//! never a bare 500. The user token lives only for this request; Page tokens are stored
//! encrypted.

use std::sync::Arc;
use std::time::Duration;

use adapters::Stores;
use adapters::facebook::Facebook;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::custody::{self, ImportVerdict};
use domain::graph::{GraphError, GraphPage, SUBSCRIBED_FIELDS};
use domain::model::{PageRecord, PageRoute, PageStatus};
use domain::oauth::{
    StateError, clear_login_cookie, cookie_value, denial_message, login_cookie_name, missing_permissions,
    outcome_url,
};
use domain::ports::{
    Connection, FacebookUserStore, ImportedPage, MemberStore, NonceStore, PageStore, ROUTE_LEASE_MS,
    RouteChange, StoreError,
};
use domain::timefmt::{now_ms, rfc3339_ms};
use serde::Deserialize;
use tracing::{info, warn};

pub const PATH: &str = "/oauth/facebook/callback";

/// The callback's state: the ports it uses (the state's nonce, the caller's membership, the
/// imported Pages) and Facebook.
pub struct Callback {
    pub pages: Arc<dyn PageStore>,
    pub members: Arc<dyn MemberStore>,
    pub nonces: Arc<dyn NonceStore>,
    /// Who imported which Page (Meta's deauthorize and data-deletion callbacks use it).
    pub facebook_users: Arc<dyn FacebookUserStore>,
    pub facebook: Arc<Facebook>,
    /// How long the whole callback may take before it answers `graph_error` (see [`DEADLINE`]).
    pub deadline: Duration,
}

/// The callback's own time limit: under the function's 30 s and API Gateway's 30 s, so a slow
/// Meta ends in a redirect the console can show, never in a gateway timeout. What was imported
/// before it stays imported; logging in again completes it (every step is idempotent).
pub const DEADLINE: Duration = Duration::from_secs(24);

impl Callback {
    /// Takes the callback's ports out of a full set of stores.
    pub fn new(stores: &Stores, facebook: Arc<Facebook>) -> Callback {
        Callback {
            pages: stores.pages.clone(),
            members: stores.members.clone(),
            nonces: stores.nonces.clone(),
            facebook_users: stores.facebook_users.clone(),
            facebook,
            deadline: DEADLINE,
        }
    }
}

pub fn router(cb: Arc<Callback>) -> Router {
    Router::new().route(PATH, get(callback)).with_state(cb)
}

#[derive(Deserialize, Default)]
pub struct Params {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_reason: Option<String>,
}

/// The outcome, as query pairs on `APP_BASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Imported { imported: usize, not_admin: Vec<String>, taken: Vec<String>, restored: Vec<String> },
    Failed { code: &'static str, message: String, missing: Vec<&'static str> },
}

fn failed(code: &'static str, message: impl Into<String>) -> Outcome {
    Outcome::Failed { code, message: message.into(), missing: Vec::new() }
}

fn graph_failed(e: &GraphError) -> Outcome {
    warn!(code = ?e.code, subcode = ?e.subcode, status = e.status, "Graph call failed during login");
    failed("graph_error", format!("Facebook did not complete the request: {}", e.message))
}

impl Outcome {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        match self {
            Outcome::Imported { imported, not_admin, taken, restored } => {
                let mut p = vec![("result", "ok".to_string()), ("imported", imported.to_string())];
                if !not_admin.is_empty() {
                    p.push(("not_admin", not_admin.join(",")));
                }
                if !taken.is_empty() {
                    p.push(("taken", taken.join(",")));
                }
                if !restored.is_empty() {
                    p.push(("restored", restored.join(",")));
                }
                p
            }
            Outcome::Failed { code, message, missing } => {
                let mut p = vec![("error", code.to_string()), ("message", message.clone())];
                if !missing.is_empty() {
                    p.push(("missing", missing.join(",")));
                }
                p
            }
        }
    }
}

async fn callback(
    State(cb): State<Arc<Callback>>,
    headers: HeaderMap,
    q: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = q.map(|Query(p)| p).unwrap_or_default();
    let cookies: Vec<&str> = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
    // The login cookie of a state that verifies is cleared whatever the outcome: a link is
    // used once. (A forged or expired state names no cookie worth clearing.)
    let clear = params
        .state
        .as_deref()
        .and_then(|s| cb.facebook.states.verify(s, now_ms()).ok())
        .map(|s| clear_login_cookie(&s, &cb.facebook.redirect_uri));
    let outcome = handle(&cb, params, &cookies).await;
    match &outcome {
        Outcome::Imported { imported, .. } => info!(imported, "Facebook Login completed"),
        Outcome::Failed { code, .. } => warn!(code, "Facebook Login ended in an error"),
    }
    let location = outcome_url(&cb.facebook.app_base_url, &outcome.pairs());
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = clear.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// The whole callback, as a value, within the callback's deadline. `cookies` are the request's
/// `Cookie` header values: the state must come with its login cookie, set in this browser
/// when the login link was issued (login CSRF: `docs/facebook-login.md`).
pub async fn handle(cb: &Callback, p: Params, cookies: &[&str]) -> Outcome {
    match tokio::time::timeout(cb.deadline, login(cb, p, cookies)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            warn!(deadline_ms = cb.deadline.as_millis() as u64, "Facebook Login ran out of time");
            failed("graph_error", "Facebook took too long to answer; start again (nothing is lost)")
        }
    }
}

async fn login(cb: &Callback, p: Params, cookies: &[&str]) -> Outcome {
    let fb = &cb.facebook;
    if p.error.is_some() {
        // Meta's `error_reason` is only looked up, never repeated: the query string is anyone's.
        return failed("access_denied", denial_message(p.error_reason.as_deref()));
    }
    let Some(state) = p.state else {
        return failed("invalid_state", "the login link is incomplete; start again");
    };
    let state = match fb.states.verify(&state, now_ms()) {
        Ok(s) => s,
        Err(StateError::Expired) => return failed("invalid_state", "the login link expired; start again"),
        Err(_) => return failed("invalid_state", "the login link is not valid; start again"),
    };
    // Checked before the nonce is consumed: a state replayed from another browser does not
    // spend the login of the browser that asked for it.
    if !fb.states.bound_to_browser(&state, cookie_value(cookies.iter().copied(), &login_cookie_name(&state)))
    {
        warn!("a login state came back without its browser cookie");
        return failed(
            "invalid_state",
            "this login was not started in this browser; start again from the console",
        );
    }
    match cb.nonces.consume_once(&state.nonce, state.expires_ms).await {
        Ok(true) => {}
        Ok(false) => return failed("invalid_state", "this login link was already used; start again"),
        Err(e) => {
            warn!(error = %e, "nonce store failed");
            return failed("server_error", "please try again in a moment");
        }
    }
    // The user must still manage the shop they started from, as the same person (`sub`).
    match cb.members.membership(&state.tenant_id, &state.email).await {
        Ok(Some(m)) if m.member.role.is_manager() && m.sub.as_deref().is_none_or(|s| s == state.sub) => {}
        Ok(_) => return failed("forbidden", "only the shop's owners and admins can connect Pages"),
        Err(e) => {
            warn!(error = %e, "member lookup failed");
            return failed("server_error", "please try again in a moment");
        }
    }
    let Some(code) = p.code else { return failed("invalid_request", "Facebook sent no authorization code") };
    let short = match fb.graph.exchange_code(&code, &fb.redirect_uri).await {
        Ok(t) => t,
        Err(e) => return graph_failed(&e),
    };
    let user_token = match fb.graph.long_lived_token(&short).await {
        Ok(t) => t,
        Err(e) => return graph_failed(&e),
    };
    let granted = match fb.graph.permissions(&user_token).await {
        Ok(g) => g,
        Err(e) => return graph_failed(&e),
    };
    let missing = missing_permissions(&granted);
    if !missing.is_empty() {
        return Outcome::Failed {
            code: "permissions_declined",
            message: format!("grant every permission to connect Pages; missing: {}", missing.join(", ")),
            missing,
        };
    }
    let pages = match fb.graph.accounts(&user_token).await {
        Ok(p) => p,
        Err(e) => return graph_failed(&e),
    };
    // The person's app-scoped id: what Meta's deauthorize and data-deletion callbacks name.
    let fb_user = match fb.graph.user_id(&user_token).await {
        Ok(id) if domain::signed_request::is_user_id(&id) => id,
        Ok(_) => return failed("graph_error", "Facebook did not say who logged in; try again"),
        Err(e) => return graph_failed(&e),
    };
    drop(user_token);

    let tenant = state.tenant_id.as_str();
    let (mut imported, mut not_admin, mut taken, mut restored) = (0, Vec::new(), Vec::new(), Vec::new());
    for page in pages {
        if !page.is_admin() {
            not_admin.push(page.name.clone());
            continue;
        }
        // Custody (docs/page-custody.md): a Page another shop holds connected, with a token
        // that works, is reported taken; one it lost (or whose token Meta no longer takes) is
        // imported, and connecting it takes it over.
        match custody_of(cb, tenant, &page.id).await {
            Ok(true) => {}
            Ok(false) => {
                taken.push(page.name.clone());
                continue;
            }
            Err(e) => {
                warn!(error = %e, page_id = %page.id, "route lookup failed");
                return failed("server_error", "please try again in a moment");
            }
        }
        // The link first: a token stored is always one Meta's data callbacks can find, even if
        // the login stops (its deadline, an error) before the end.
        if let Err(e) = cb.facebook_users.link_pages(&fb_user, tenant, std::slice::from_ref(&page.id)).await {
            warn!(error = %e, page_id = %page.id, "could not record who imported the Page");
            return failed("server_error", "please try again in a moment");
        }
        let record = ImportedPage {
            page_id: page.id.clone(),
            name: page.name.clone(),
            token_enc: fb.cipher.encrypt(tenant, &page.id, &page.access_token),
            imported_by: state.email.clone(),
        };
        let stored = match cb.pages.import_page(tenant, &record).await {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, page_id = %page.id, "import failed");
                return failed("server_error", "please try again in a moment");
            }
        };
        imported += 1;
        // Connecting again through Facebook Login restores a Page in lost connection.
        if stored.status == PageStatus::LostConnection && restore(cb, tenant, &page, stored).await {
            restored.push(page.name.clone());
        }
    }
    Outcome::Imported { imported, not_admin, taken, restored }
}

/// Whether the shop may import the Page: no other shop holds it, or the holder lost it, or
/// the holder's token no longer works (checked with Meta; then marked lost at the version
/// read, so a fresh connection of the holder is never marked).
async fn custody_of(cb: &Callback, tenant: &str, page_id: &str) -> Result<bool, StoreError> {
    let holder = cb.pages.holder(page_id).await?;
    let h = match custody::import_verdict(tenant, holder.as_ref(), now_ms()) {
        ImportVerdict::Import => return Ok(true),
        ImportVerdict::Taken => return Ok(false),
        ImportVerdict::CheckHolder => match holder {
            Some(h) => h,
            None => return Ok(true),
        },
    };
    let fb = &cb.facebook;
    let holder_tenant = h.route.tenant_id.as_str();
    let token = h.token_enc.as_deref().and_then(|t| fb.cipher.decrypt(holder_tenant, page_id, t).ok());
    let dead = match token {
        None => true,
        Some(token) => match fb.graph.debug_token(&token).await {
            Ok(info) => !info.is_valid,
            Err(e) => e.lost_reason().is_some(),
        },
    };
    if !dead {
        return Ok(false);
    }
    info!(
        page_id,
        holder = holder_tenant,
        "the holder's Page token no longer works; the Page may be taken over"
    );
    cb.pages.mark_lost(holder_tenant, page_id, &h.version, custody::HOLDER_TOKEN_DEAD).await?;
    Ok(true)
}

/// Restores the shop's Page in lost connection with the token just imported: under the route's
/// lease, subscribe, then the connection at a new version. Only while the shop holds the route.
async fn restore(cb: &Callback, tenant: &str, page: &GraphPage, stored: PageRecord) -> bool {
    let (Some(mode), Some(by)) = (stored.chat_mode, stored.connected_by.clone()) else { return false };
    let op = custody::new_id();
    let change = RouteChange {
        tenant_id: tenant.to_string(),
        page_id: page.id.clone(),
        op: op.clone(),
        until_ms: now_ms() + ROUTE_LEASE_MS,
        draft: None,
        take_over: None,
    };
    if let Err(e) = cb.pages.begin_change(&change).await {
        info!(error = %e, page_id = %page.id, "the Page is not the shop's or is changing; not restored");
        return false;
    }
    let fb = &cb.facebook;
    if let Err(e) = fb.graph.subscribe_page(&page.id, &page.access_token, SUBSCRIBED_FIELDS).await {
        warn!(page_id = %page.id, code = ?e.code, "could not restore the Page's subscription");
        release(cb, &page.id, &op).await;
        return false;
    }
    let connected = PageRecord {
        status: PageStatus::Connected,
        lost_reason: None,
        last_connected_at: Some(rfc3339_ms(now_ms())),
        ..stored.clone()
    };
    let route = PageRoute {
        page_id: page.id.clone(),
        tenant_id: tenant.to_string(),
        status: PageStatus::Connected,
        chat_mode: mode,
        rule_id: stored.rule_id.clone(),
        connected_by: by,
    };
    let version = custody::new_id();
    let commit = Connection {
        page: &connected,
        route: &route,
        op: &op,
        version: &version,
        join: None,
        leave: None,
        take_over: None,
    };
    match cb.pages.commit_connect(&commit).await {
        Ok(()) => true,
        Err(e) => {
            warn!(error = %e, page_id = %page.id, "could not restore the Page");
            release(cb, &page.id, &op).await;
            false
        }
    }
}

async fn release(cb: &Callback, page_id: &str, op: &str) {
    if let Err(e) = cb.pages.abort_change(page_id, op).await {
        warn!(error = %e, page_id, "could not release the Page's lease; it expires");
    }
}
