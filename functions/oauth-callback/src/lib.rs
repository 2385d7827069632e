//! `GET /oauth/facebook/callback`: the browser comes back from Meta's login dialog. Every
//! outcome, success or failure, ends in a 302 to `APP_BASE_URL` with a result the UI can show;
//! never a bare 500. The user token lives only for this request; Page tokens are stored
//! encrypted.

use std::sync::Arc;

use adapters::Stores;
use adapters::facebook::Facebook;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::graph::{GraphError, SUBSCRIBED_FIELDS};
use domain::model::{PageRoute, PageStatus};
use domain::oauth::{StateError, missing_permissions, outcome_url};
use domain::ports::{FacebookUserStore, ImportedPage, MemberStore, NonceStore, PageStore};
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
}

impl Callback {
    /// Takes the callback's ports out of a full set of stores.
    pub fn new(stores: &Stores, facebook: Arc<Facebook>) -> Callback {
        Callback {
            pages: stores.pages.clone(),
            members: stores.members.clone(),
            nonces: stores.nonces.clone(),
            facebook_users: stores.facebook_users.clone(),
            facebook,
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
    q: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = q.map(|Query(p)| p).unwrap_or_default();
    let outcome = handle(&cb, params).await;
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
    resp
}

/// The whole callback, as a value (tests call it directly).
pub async fn handle(cb: &Callback, p: Params) -> Outcome {
    let fb = &cb.facebook;
    if p.error.is_some() {
        let why = p.error_reason.unwrap_or_default();
        return failed(
            "access_denied",
            format!("Facebook Login was cancelled ({why}); nothing was imported"),
        );
    }
    let Some(state) = p.state else {
        return failed("invalid_state", "the login link is incomplete; start again");
    };
    let state = match fb.states.verify(&state, now_ms()) {
        Ok(s) => s,
        Err(StateError::Expired) => return failed("invalid_state", "the login link expired; start again"),
        Err(_) => return failed("invalid_state", "the login link is not valid; start again"),
    };
    match cb.nonces.consume_once(&state.nonce, state.expires_ms).await {
        Ok(true) => {}
        Ok(false) => return failed("invalid_state", "this login link was already used; start again"),
        Err(e) => {
            warn!(error = %e, "nonce store failed");
            return failed("server_error", "please try again in a moment");
        }
    }
    // The user must still manage the shop they started from.
    match cb.members.member(&state.tenant_id, &state.email).await {
        Ok(Some(m)) if m.role.is_manager() => {}
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
    let mut imported_ids = Vec::new();

    let tenant = state.tenant_id.as_str();
    let (mut imported, mut not_admin, mut taken, mut restored) = (0, Vec::new(), Vec::new(), Vec::new());
    for page in pages {
        if !page.is_admin() {
            not_admin.push(page.name.clone());
            continue;
        }
        match cb.pages.page_route(&page.id).await {
            Ok(Some(r)) if r.tenant_id != tenant => {
                taken.push(page.name.clone());
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                warn!(error = %e, page_id = %page.id, "route lookup failed");
                return failed("server_error", "please try again in a moment");
            }
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
        imported_ids.push(page.id.clone());
        // Connecting again through Facebook Login restores a Page in lost connection.
        if stored.status == PageStatus::LostConnection {
            if let Err(e) = fb.graph.subscribe_page(&page.id, &page.access_token, SUBSCRIBED_FIELDS).await {
                warn!(page_id = %page.id, code = ?e.code, "could not restore the Page's subscription");
                continue;
            }
            let (Some(mode), Some(by)) = (stored.chat_mode, stored.connected_by.clone()) else { continue };
            let connected = domain::model::PageRecord {
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
            match cb.pages.connect_page(&connected, &route).await {
                Ok(()) => restored.push(page.name.clone()),
                Err(e) => warn!(error = %e, page_id = %page.id, "could not restore the Page"),
            }
        }
    }
    if let Err(e) = cb.facebook_users.link_pages(&fb_user, tenant, &imported_ids).await {
        warn!(error = %e, "could not record who imported the Pages");
        return failed("server_error", "please try again in a moment");
    }
    Outcome::Imported { imported, not_admin, taken, restored }
}
