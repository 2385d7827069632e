//! The local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with
//! `LOCAL_JWT_SECRET`, `exp` required, and the `token` command that mints them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};

pub struct LocalAuthorizer {
    key: DecodingKey,
    validation: Validation,
}

impl LocalAuthorizer {
    pub fn new(secret: &SecretString) -> LocalAuthorizer {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = false;
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
    let identity = admin_api::identity::from_claims(|k| claims.get(k).and_then(|v| v.as_str()));
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
    let now = domain::timefmt::now_ms() / 1000;
    let claims = serde_json::json!({
        "sub": format!("local|{email}"),
        "email": email,
        "tenant_id": tenant,
        "role": role,
        "iat": now,
        "exp": now + ttl_seconds,
    });
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )?)
}
