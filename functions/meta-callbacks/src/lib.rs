//! Meta's data callbacks (no user auth: the `signed_request` form field, HMAC-SHA256 with the app
//! secret, is the check; a missing or forged one answers 400/401 and nothing changes):
//!
//! - `POST /facebook/deauthorize`: the person removed the app. The Pages whose stored token is
//!   theirs lose their connection (reason given) and the tokens are deleted.
//! - `POST /facebook/data-deletion`: the same, and everything the product holds under the
//!   person's Facebook id is deleted; the answer names a status URL and a confirmation code.
//! - `GET /facebook/data-deletion/{code}`: the status of that deletion.
//!
//! What is and is not deleted: docs/data-retention.md.

use std::sync::Arc;

use adapters::Stores;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::ports::{
    DeletionCounts, DeletionRequest, DeletionStatus, FacebookUserStore, PageStore, StoreError,
};
use domain::signature::AppSecrets;
use domain::signed_request::{self, SignedRequestError};
use domain::timefmt::{now_ms, rfc3339_ms};
use secrecy::SecretString;
use serde_json::json;
use tracing::{error, info, warn};

pub const DEAUTHORIZE_PATH: &str = "/facebook/deauthorize";
pub const DATA_DELETION_PATH: &str = "/facebook/data-deletion";
pub const DATA_DELETION_STATUS_PATH: &str = "/facebook/data-deletion/{code}";

/// The lost reason a Page shows when the person who connected it removed the app.
pub const DEAUTHORIZED_REASON: &str = "the person who connected it removed the app";
/// The lost reason a Page shows when that person had Meta ask for their data to be deleted.
pub const DELETION_REASON: &str = "the person who connected it asked Facebook to delete their data";

/// Meta's form bodies are a few hundred bytes.
const MAX_BODY_BYTES: usize = 16 * 1024;

pub struct CallbacksConfig {
    pub app_secrets: AppSecrets,
    /// Where this function is reached from outside (`CALLBACK_BASE_URL`, no trailing slash):
    /// the status URL given to Meta is `{base}/facebook/data-deletion/{code}`. Unset, it is
    /// `https://` and the `Host` Meta called (the API's domain).
    pub base_url: Option<String>,
}

impl CallbacksConfig {
    /// The app secret list (comma-separated during rotation, `APP_SECRET_ARN` or
    /// `FB_APP_SECRET`, read at start-up), `CALLBACK_BASE_URL` (optional) from the environment.
    pub fn new(app_secrets: &SecretString) -> Result<CallbacksConfig, adapters::config::ConfigError> {
        let app_secrets = AppSecrets::from_list(app_secrets);
        if app_secrets.is_empty() {
            return Err(adapters::config::ConfigError::Invalid {
                name: "APP_SECRET_ARN",
                why: "no secret in the list".into(),
            });
        }
        let base_url =
            adapters::config::optional("CALLBACK_BASE_URL").map(|u| u.trim_end_matches('/').to_string());
        Ok(CallbacksConfig { app_secrets, base_url })
    }
}

/// The function's state: the app secrets and the two ports it uses.
pub struct MetaCallbacks {
    pub config: CallbacksConfig,
    pub pages: Arc<dyn PageStore>,
    pub users: Arc<dyn FacebookUserStore>,
}

impl MetaCallbacks {
    pub fn new(config: CallbacksConfig, stores: &Stores) -> MetaCallbacks {
        MetaCallbacks { config, pages: stores.pages.clone(), users: stores.facebook_users.clone() }
    }

    /// Revokes every Page token the shops hold from this person: for each (shop, Page) they
    /// imported, unless someone else imported the Page into that shop since (the shop then
    /// holds that person's token). Returns how many it revoked. Idempotent.
    pub async fn revoke_person(&self, user_id: &str, reason: &str) -> Result<u32, StoreError> {
        let mut revoked = 0;
        for link in self.users.links(user_id).await? {
            let importer = self.users.importer(&link.tenant_id, &link.page_id).await?;
            if importer.as_deref().is_some_and(|u| u != user_id) {
                continue;
            }
            self.pages.revoke_page(&link.tenant_id, &link.page_id, reason).await?;
            revoked += 1;
        }
        Ok(revoked)
    }

    /// Deletes what the product holds under the person's Facebook id: the tokens (as
    /// deauthorize does), then their (shop, Page) links and importer records.
    pub async fn delete_person(&self, user_id: &str) -> Result<DeletionCounts, StoreError> {
        let page_tokens = self.revoke_person(user_id, DELETION_REASON).await?;
        let mut page_links = 0;
        for link in self.users.links(user_id).await? {
            self.users.unlink(user_id, &link.tenant_id, &link.page_id).await?;
            page_links += 1;
        }
        Ok(DeletionCounts { page_tokens, page_links })
    }

    fn status_url(&self, host: Option<&str>, code: &str) -> String {
        let base = match (&self.config.base_url, host) {
            (Some(b), _) => b.clone(),
            (None, Some(h)) => format!("https://{h}"),
            (None, None) => String::new(),
        };
        format!("{base}{DATA_DELETION_PATH}/{code}")
    }
}

pub fn router(cb: Arc<MetaCallbacks>) -> Router {
    Router::new()
        .route(DEAUTHORIZE_PATH, post(deauthorize))
        .route(DATA_DELETION_PATH, post(data_deletion))
        .route(DATA_DELETION_STATUS_PATH, get(deletion_status))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(cb)
}

fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn unavailable() -> Response {
    error_body(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the request could not be completed; retry")
}

/// The person a signed form body names.
fn signed_user(cb: &MetaCallbacks, body: &[u8]) -> Result<String, SignedRequestError> {
    let field = url::form_urlencoded::parse(body).find(|(k, _)| k == "signed_request").map(|(_, v)| v);
    signed_request::verify(&cb.config.app_secrets, field.as_deref()).map(|r| r.user_id)
}

/// A refused `signed_request`: 400 when it is missing, malformed or names nobody, 401 when it is
/// not Meta's (forged, or another algorithm).
fn refusal(e: SignedRequestError) -> Response {
    warn!(error = %e, "Meta callback refused");
    match e {
        SignedRequestError::Missing | SignedRequestError::Malformed | SignedRequestError::NoUser => {
            error_body(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string())
        }
        _ => error_body(StatusCode::UNAUTHORIZED, "invalid_signature", &e.to_string()),
    }
}

async fn deauthorize(State(cb): State<Arc<MetaCallbacks>>, body: Bytes) -> Response {
    let user_id = match signed_user(&cb, &body) {
        Ok(u) => u,
        Err(e) => return refusal(e),
    };
    match cb.revoke_person(&user_id, DEAUTHORIZED_REASON).await {
        Ok(revoked) => {
            info!(pages_revoked = revoked, "deauthorize handled");
            adapters::telemetry::count("PagesRevoked", u64::from(revoked), ("Function", "meta-callbacks"));
            (StatusCode::OK, axum::Json(json!({"pages_revoked": revoked}))).into_response()
        }
        Err(e) => {
            error!(error = %adapters::telemetry::error_chain(&e), "deauthorize failed; Meta may retry");
            unavailable()
        }
    }
}

async fn data_deletion(State(cb): State<Arc<MetaCallbacks>>, headers: HeaderMap, body: Bytes) -> Response {
    let user_id = match signed_user(&cb, &body) {
        Ok(u) => u,
        Err(e) => return refusal(e),
    };
    let code = uuid::Uuid::new_v4().simple().to_string();
    let request = DeletionRequest {
        code: code.clone(),
        status: DeletionStatus::Pending,
        requested_ms: now_ms(),
        completed_ms: None,
        deleted: DeletionCounts::default(),
    };
    if let Err(e) = cb.users.create_deletion(&request).await {
        error!(error = %adapters::telemetry::error_chain(&e), "deletion request could not be recorded");
        return unavailable();
    }
    // The work is a few writes per Page the person imported: done before answering. A failure
    // leaves the request pending (its URL says so) and answers 503, so Meta sends it again;
    // every step is idempotent.
    let deleted = match cb.delete_person(&user_id).await {
        Ok(d) => d,
        Err(e) => {
            error!(error = %adapters::telemetry::error_chain(&e), confirmation_code = %code, "data deletion failed");
            return unavailable();
        }
    };
    if let Err(e) = cb.users.finish_deletion(&code, &deleted, now_ms()).await {
        error!(error = %adapters::telemetry::error_chain(&e), confirmation_code = %code, "deletion done but not recorded");
        return unavailable();
    }
    info!(confirmation_code = %code, page_tokens = deleted.page_tokens, page_links = deleted.page_links, "data deletion done");
    // A host name, nothing else, goes into the URL.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b)));
    let answer = json!({"url": cb.status_url(host, &code), "confirmation_code": code});
    (StatusCode::OK, axum::Json(answer)).into_response()
}

/// A confirmation code as this function issues them: 32 lower-case hex digits.
fn is_code(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

async fn deletion_status(State(cb): State<Arc<MetaCallbacks>>, Path(code): Path<String>) -> Response {
    if !is_code(&code) {
        return error_body(StatusCode::NOT_FOUND, "not_found", "no deletion request has this code");
    }
    match cb.users.deletion(&code).await {
        Ok(Some(d)) => {
            let body = json!({
                "confirmation_code": d.code,
                "status": d.status.as_str(),
                "requested_at": rfc3339_ms(d.requested_ms),
                "completed_at": d.completed_ms.map(rfc3339_ms),
                "deleted": {"page_tokens": d.deleted.page_tokens, "page_links": d.deleted.page_links},
            });
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Ok(None) => error_body(StatusCode::NOT_FOUND, "not_found", "no deletion request has this code"),
        Err(e) => {
            error!(error = %adapters::telemetry::error_chain(&e), "deletion status could not be read");
            unavailable()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_what_data_deletion_issues_and_nothing_else() {
        assert!(is_code(&uuid::Uuid::new_v4().simple().to_string()));
        for bad in
            ["", "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef", "../../../../etc/passwd-xxxxxxxxxx"]
        {
            assert!(!is_code(bad), "{bad}");
        }
    }
}
