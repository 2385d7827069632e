//! The caller's identity from JWT claims. On AWS the API Gateway JWT authorizer has already
//! validated the token; [`from_lambda_context`] reads its claims from the request context.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::access::Identity;
use domain::ids::TenantId;
use domain::model::Role;

use crate::{ApiError, ErrorCode};

/// Builds the identity from string claims; every claim of the contract is required.
pub fn from_claims<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Identity, ApiError> {
    let claim = |k: &'static str| {
        get(k)
            .filter(|v| !v.is_empty())
            .ok_or(ApiError::Unauthorized(ErrorCode::InvalidToken, "a required claim is missing"))
    };
    // An email the identity provider says it has not verified names nobody: refused. Claims
    // arrive as strings (API Gateway's authorizer context: "true" / "false").
    match get("email_verified") {
        None | Some("true") => {}
        Some("false") => {
            return Err(ApiError::Forbidden(
                ErrorCode::EmailNotVerified,
                "verify your email address with the sign-in provider first",
            ));
        }
        Some(_) => {
            return Err(ApiError::Unauthorized(
                ErrorCode::InvalidToken,
                "the email_verified claim is malformed",
            ));
        }
    }
    // Parsed, not just checked: the id goes into the store's keys (no `#`, bounded length).
    let tenant_id = TenantId::parse(claim("tenant_id")?)
        .map_err(|_| ApiError::Unauthorized(ErrorCode::InvalidToken, "the tenant_id claim is malformed"))?;
    Ok(Identity {
        sub: claim("sub")?.to_string(),
        email: claim("email")?.to_string(),
        tenant_id,
        claimed_role: Role::parse(claim("role")?).ok_or(ApiError::Unauthorized(
            ErrorCode::InvalidToken,
            "the role claim is not owner, admin or agent",
        ))?,
    })
}

/// Middleware for Lambda: the API Gateway HTTP API's JWT authorizer claims become the
/// request's [`Identity`].
pub async fn from_lambda_context(mut req: Request, next: Next) -> Response {
    use lambda_http::request::RequestContext;
    let identity = match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            let claims = ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|j| &j.claims);
            match claims {
                Some(c) => from_claims(|k| c.get(k).map(String::as_str)),
                None => Err(ApiError::Unauthorized(
                    ErrorCode::MissingToken,
                    "no authorizer claims on the request",
                )),
            }
        }
        _ => Err(ApiError::Unauthorized(ErrorCode::MissingToken, "no authorizer claims on the request")),
    };
    match identity {
        Ok(id) => {
            req.extensions_mut().insert(id);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_claim_is_required_and_checked() {
        let full = claims(&[("sub", "s"), ("email", "a@b.vn"), ("tenant_id", "shop"), ("role", "agent")]);
        let id = from_claims(|k| full.get(k).map(String::as_str)).expect("identity");
        assert_eq!((id.tenant_id.as_str(), id.claimed_role), ("shop", Role::Agent));
        for missing in ["sub", "email", "tenant_id", "role"] {
            let mut c = full.clone();
            c.remove(missing);
            assert!(from_claims(|k| c.get(k).map(String::as_str)).is_err(), "{missing}");
        }
        let mut bad = full.clone();
        bad.insert("role".into(), "superuser".into());
        assert!(from_claims(|k| bad.get(k).map(String::as_str)).is_err());
        bad = full.clone();
        bad.insert("tenant_id".into(), "shop#C#x".into());
        assert!(from_claims(|k| bad.get(k).map(String::as_str)).is_err());
    }

    /// Finding 4: an email the identity provider did not verify is refused where it says so.
    #[test]
    fn an_unverified_email_is_refused() {
        let base = [("sub", "s"), ("email", "a@b.vn"), ("tenant_id", "shop"), ("role", "owner")];
        let with = |v: &str| {
            let mut c = claims(&base);
            c.insert("email_verified".into(), v.into());
            from_claims(|k| c.get(k).map(String::as_str)).map_err(|e| e.into_response().status().as_u16())
        };
        assert_eq!(with("false").err(), Some(403));
        assert_eq!(with("maybe").err(), Some(401));
        assert!(with("true").is_ok());
        let absent = claims(&base);
        assert!(from_claims(|k| absent.get(k).map(String::as_str)).is_ok(), "not every provider says");
    }
}
