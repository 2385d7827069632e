//! The console at `/` and the development sign-in behind its form (*Email*, *Cửa hàng*,
//! *Vai trò*, *Đăng nhập*): `POST /_local/token` mints a token for the local authorizer, the
//! same one `cargo run -p local-stack -- token` prints. Local only: the Lambda functions have
//! no such route; in production the console signs in with OIDC (`docs/console.md`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use domain::model::Role;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

/// How long a development sign-in lasts.
const DEV_TOKEN_TTL_SECONDS: i64 = 12 * 3600;

#[derive(Deserialize)]
struct SignIn {
    email: String,
    tenant_id: String,
    role: String,
}

type Answer = (StatusCode, Json<Value>);

fn refused(code: &str, message: &str) -> Answer {
    (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": {"code": code, "message": message}})))
}

async fn token(State(secret): State<Arc<SecretString>>, Json(b): Json<SignIn>) -> Answer {
    let email = b.email.trim().to_lowercase();
    let tenant = b.tenant_id.trim();
    if domain::ids::Email::parse(&email).is_err() {
        return refused("invalid_email", "enter an email address");
    }
    if domain::ids::TenantId::parse(tenant).is_err() {
        return refused("invalid_tenant", "enter a shop id (letters, digits, - and _)");
    }
    if Role::parse(&b.role).is_none() {
        return refused("invalid_role", "the role is owner, admin or agent");
    }
    match crate::auth::mint(&secret, &email, tenant, &b.role, DEV_TOKEN_TTL_SECONDS) {
        Ok(t) => (StatusCode::OK, Json(json!({"token": t, "expires_in": DEV_TOKEN_TTL_SECONDS}))),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"code": "internal", "message": "could not sign the token"}})),
        ),
    }
}

/// The console's routes plus the development sign-in.
pub fn router(config: console::ConsoleConfig, jwt_secret: &SecretString) -> Router {
    console::router(config)
        .merge(Router::new().route("/_local/token", post(token)).with_state(Arc::new(jwt_secret.clone())))
}
