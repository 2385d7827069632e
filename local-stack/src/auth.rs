//! The local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with
//! `LOCAL_JWT_SECRET`, with `exp`, `iss` ([`LOCAL_ISSUER`]) and `aud` ([`LOCAL_AUDIENCE`])
//! required and checked, `nbf` checked when present (as API Gateway does), and the `token`
//! command that mints them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};

/// The issuer of the local stack's tokens (API Gateway checks the template's `JwtIssuer`).
pub const LOCAL_ISSUER: &str = "fb-inbox-local-stack";
/// The audience of the local stack's tokens (API Gateway checks the template's `JwtAudience`).
pub const LOCAL_AUDIENCE: &str = "fb-inbox-admin-api";

pub struct LocalAuthorizer {
    key: DecodingKey,
    validation: Validation,
}

impl LocalAuthorizer {
    pub fn new(secret: &SecretString) -> LocalAuthorizer {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[LOCAL_ISSUER]);
        validation.set_audience(&[LOCAL_AUDIENCE]);
        validation.validate_nbf = true;
        LocalAuthorizer { key: DecodingKey::from_secret(secret.expose_secret().as_bytes()), validation }
    }
}

pub async fn require_jwt(State(auth): State<Arc<LocalAuthorizer>>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let Some(token) = token else {
        return admin_api::ApiError::Unauthorized(
            admin_api::ErrorCode::MissingToken,
            "an Authorization: Bearer token is required",
        )
        .into_response();
    };
    let claims = match jsonwebtoken::decode::<HashMap<String, serde_json::Value>>(
        token,
        &auth.key,
        &auth.validation,
    ) {
        Ok(d) => d.claims,
        Err(e) => {
            // The reason (expired, bad signature...) but never the token itself.
            tracing::info!(reason = %e, "local authorizer refused a token");
            return admin_api::ApiError::Unauthorized(
                admin_api::ErrorCode::InvalidToken,
                "the token is invalid or expired",
            )
            .into_response();
        }
    };
    // As API Gateway hands them over: every claim a string (`email_verified: false` → "false").
    let claims: HashMap<String, String> = claims
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Bool(b) => Some((k, b.to_string())),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            _ => None,
        })
        .collect();
    let identity = admin_api::identity::from_claims(|k| claims.get(k).map(String::as_str));
    match identity {
        Ok(id) => {
            req.extensions_mut().insert(id);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Mints a token the local authorizer accepts.
pub fn mint(
    secret: &SecretString,
    email: &str,
    tenant: &str,
    role: &str,
    ttl_seconds: i64,
) -> anyhow::Result<String> {
    mint_claims(secret, &claims(email, tenant, role, ttl_seconds))
}

/// The claims [`mint`] signs (tests change one and sign them with [`mint_claims`]).
pub fn claims(email: &str, tenant: &str, role: &str, ttl_seconds: i64) -> serde_json::Value {
    let now = domain::timefmt::now_ms() / 1000;
    serde_json::json!({
        "sub": format!("local|{email}"),
        "email": email,
        "tenant_id": tenant,
        "role": role,
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    })
}

/// Signs `claims` as the local authorizer expects (HS256 with `LOCAL_JWT_SECRET`).
pub fn mint_claims(secret: &SecretString, claims: &serde_json::Value) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )?)
}
