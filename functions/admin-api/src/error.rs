//! Every admin API failure, mapped to its status and `{"error":{"code","message"}}` in one
//! place. Storage errors are logged with their cause chain and shown only as a generic message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("{1}")]
    Unauthorized(&'static str, &'static str),
    #[error("{1}")]
    Forbidden(&'static str, &'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("{1}")]
    Unprocessable(&'static str, String),
    #[error("{1}")]
    BadGateway(&'static str, String),
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("{1}")]
    TooManyRequests(&'static str, String),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            ApiError::BadRequest(c, m) => (StatusCode::BAD_REQUEST, *c, m.clone()),
            ApiError::Unauthorized(c, m) => (StatusCode::UNAUTHORIZED, *c, m.to_string()),
            ApiError::Forbidden(c, m) => (StatusCode::FORBIDDEN, *c, m.to_string()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.to_string()),
            ApiError::Conflict(c, m) => (StatusCode::CONFLICT, *c, m.clone()),
            ApiError::Unprocessable(c, m) => (StatusCode::UNPROCESSABLE_ENTITY, *c, m.clone()),
            ApiError::BadGateway(c, m) => (StatusCode::BAD_GATEWAY, *c, m.clone()),
            ApiError::TooManyRequests(c, m) => (StatusCode::TOO_MANY_REQUESTS, *c, m.clone()),
            ApiError::Unavailable(m) => {
                tracing::error!(reason = m, "misconfigured");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is temporarily unavailable".into(),
                )
            }
            ApiError::Store(StoreError::InvalidCursor) => (
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "the cursor is not one this listing issued".into(),
            ),
            ApiError::Store(StoreError::CursorExpired) => (
                StatusCode::BAD_REQUEST,
                "cursor_expired",
                "this listing began too long ago to be continued; start again from the first page".into(),
            ),
            ApiError::Store(StoreError::Conflict(m)) => (StatusCode::CONFLICT, "conflict", m.clone()),
            ApiError::Store(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e), "storage failure");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is temporarily unavailable; retry".into(),
                )
            }
        };
        (status, Json(serde_json::json!({"error": {"code": code, "message": message}}))).into_response()
    }
}
