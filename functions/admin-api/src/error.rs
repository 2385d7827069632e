//! Every admin API failure, mapped to its status and `{"error":{"code","message"}}` in one
//! place. A failure of ours (5xx) is logged with its whole cause chain and shown only as a
//! generic message; nothing secret is ever in an answer or a log line.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::ports::{BoxError, StoreError};
use serde::{Serialize, Serializer};

/// The `code` of an error answer: what a client branches on. Written as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    // 400
    InvalidBody,
    InvalidQuery,
    InvalidLimit,
    InvalidView,
    InvalidCursor,
    CursorExpired,
    InvalidChatMode,
    InvalidIdempotencyKey,
    // 401
    MissingToken,
    InvalidToken,
    // 403
    Forbidden,
    NotAMember,
    NotYourConversation,
    EmailNotVerified,
    IdentityMismatch,
    // 404
    NotFound,
    // 409
    Conflict,
    MemberExists,
    LastOwner,
    LastAgentOfRule,
    RulesChanging,
    AlreadyClaimed,
    PageTaken,
    /// Another change of the Page (connect, disconnect) is running.
    PageBusy,
    /// The shop does not hold the Page's route, so it cannot act on it at Meta.
    PageNotHeld,
    PageInOtherRule,
    RuleNameTaken,
    RuleHasPages,
    ReconnectRequired,
    PageConnected,
    AlreadyPrivateReplied,
    // 422
    InvalidEmail,
    InvalidRole,
    InvalidName,
    InvalidMethod,
    InvalidOldConversations,
    InvalidPages,
    NoPages,
    NoAgents,
    TooManyPages,
    UnknownPages,
    UnknownEmails,
    InvalidText,
    OutsideWindow,
    RecipientUnavailable,
    InvalidReplyTo,
    InvalidAutoHide,
    // 429
    RateLimited,
    // 502
    GraphError,
    // 503
    Unavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidLimit => "invalid_limit",
            ErrorCode::InvalidView => "invalid_view",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::CursorExpired => "cursor_expired",
            ErrorCode::InvalidChatMode => "invalid_chat_mode",
            ErrorCode::InvalidIdempotencyKey => "invalid_idempotency_key",
            ErrorCode::MissingToken => "missing_token",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotAMember => "not_a_member",
            ErrorCode::NotYourConversation => "not_your_conversation",
            ErrorCode::EmailNotVerified => "email_not_verified",
            ErrorCode::IdentityMismatch => "identity_mismatch",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::MemberExists => "member_exists",
            ErrorCode::LastOwner => "last_owner",
            ErrorCode::LastAgentOfRule => "last_agent_of_rule",
            ErrorCode::RulesChanging => "rules_changing",
            ErrorCode::AlreadyClaimed => "already_claimed",
            ErrorCode::PageTaken => "page_taken",
            ErrorCode::PageBusy => "page_busy",
            ErrorCode::PageNotHeld => "page_not_held",
            ErrorCode::PageInOtherRule => "page_in_other_rule",
            ErrorCode::RuleNameTaken => "rule_name_taken",
            ErrorCode::RuleHasPages => "rule_has_pages",
            ErrorCode::ReconnectRequired => "reconnect_required",
            ErrorCode::PageConnected => "page_connected",
            ErrorCode::AlreadyPrivateReplied => "already_private_replied",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidRole => "invalid_role",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidMethod => "invalid_method",
            ErrorCode::InvalidOldConversations => "invalid_old_conversations",
            ErrorCode::InvalidPages => "invalid_pages",
            ErrorCode::NoPages => "no_pages",
            ErrorCode::NoAgents => "no_agents",
            ErrorCode::TooManyPages => "too_many_pages",
            ErrorCode::UnknownPages => "unknown_pages",
            ErrorCode::UnknownEmails => "unknown_emails",
            ErrorCode::InvalidText => "invalid_text",
            ErrorCode::OutsideWindow => "outside_window",
            ErrorCode::RecipientUnavailable => "recipient_unavailable",
            ErrorCode::InvalidReplyTo => "invalid_reply_to",
            ErrorCode::InvalidAutoHide => "invalid_auto_hide",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::GraphError => "graph_error",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{1}")]
    BadRequest(ErrorCode, String),
    #[error("{1}")]
    Unauthorized(ErrorCode, &'static str),
    #[error("{1}")]
    Forbidden(ErrorCode, &'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{1}")]
    Conflict(ErrorCode, String),
    #[error("{1}")]
    Unprocessable(ErrorCode, String),
    /// Meta refused a call; the message is Graph's own (scrubbed of secrets by the client).
    #[error("{1}")]
    BadGateway(ErrorCode, String),
    /// Answered with `Retry-After` (seconds): Meta's own estimate when it gave one.
    #[error("{1}")]
    TooManyRequests(ErrorCode, String, u64),
    /// The deployment is wrong (a setting that does not parse...): 503, logged with its cause.
    #[error("misconfigured: {what}")]
    Misconfigured {
        what: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// Seconds a caller should wait after a 429 when Meta gave no estimate of its own (its rate
/// limit outlasted our retries).
pub const RETRY_AFTER_SECONDS: u64 = 60;

impl ApiError {
    /// A store write that lost to a concurrent change: 409 `conflict`, worth trying again.
    pub fn try_again(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(m) => ApiError::Conflict(ErrorCode::Conflict, format!("{m}; try again")),
            e => e.into(),
        }
    }

    /// The answer's status, code and message; a failure of ours is logged here, with its causes.
    fn answer(&self) -> (StatusCode, ErrorCode, String) {
        match self {
            ApiError::BadRequest(c, m) => (StatusCode::BAD_REQUEST, *c, m.clone()),
            ApiError::Unauthorized(c, m) => (StatusCode::UNAUTHORIZED, *c, m.to_string()),
            ApiError::Forbidden(c, m) => (StatusCode::FORBIDDEN, *c, m.to_string()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, ErrorCode::NotFound, m.to_string()),
            ApiError::Conflict(c, m) => (StatusCode::CONFLICT, *c, m.clone()),
            ApiError::Unprocessable(c, m) => (StatusCode::UNPROCESSABLE_ENTITY, *c, m.clone()),
            ApiError::BadGateway(c, m) => (StatusCode::BAD_GATEWAY, *c, m.clone()),
            ApiError::TooManyRequests(c, m, _) => (StatusCode::TOO_MANY_REQUESTS, *c, m.clone()),
            ApiError::Misconfigured { what, .. } => {
                tracing::error!(reason = what, error = %cause_chain(self), "misconfigured");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "the service is temporarily unavailable".into(),
                )
            }
            ApiError::Store(StoreError::InvalidCursor) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidCursor,
                "the cursor is not one this listing issued".into(),
            ),
            ApiError::Store(StoreError::CursorExpired) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::CursorExpired,
                "this listing began too long ago to be continued; start again from the first page".into(),
            ),
            ApiError::Store(StoreError::Conflict(m)) => {
                (StatusCode::CONFLICT, ErrorCode::Conflict, m.clone())
            }
            ApiError::Store(e) => {
                tracing::error!(error = %cause_chain(e), "storage failure");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "the service is temporarily unavailable; retry".into(),
                )
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize)]
struct ErrorDetail {
    code: ErrorCode,
    message: String,
}

impl ApiError {
    /// The error answer with one more top-level field beside `error` (e.g. the reply a failed
    /// send left behind, with its status).
    pub fn into_response_with(self, name: &str, value: serde_json::Value) -> Response {
        let (status, code, message) = self.answer();
        let body = serde_json::json!({"error": {"code": code, "message": message}, name: value});
        let mut response = (status, Json(body)).into_response();
        self.retry_after(&mut response);
        response
    }

    /// The `Retry-After` header of a 429.
    fn retry_after(&self, response: &mut Response) {
        if let ApiError::TooManyRequests(_, _, seconds) = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.answer();
        let mut response = (status, Json(ErrorBody { error: ErrorDetail { code, message } })).into_response();
        self.retry_after(&mut response);
        response
    }
}

/// `e` and every error under it, as `a: b: c`, for a log line (one helper for both edges:
/// the worker logs a failed record the same way).
pub use adapters::telemetry::error_chain as cause_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_whole_chain_is_logged() {
        let e =
            StoreError::Backend { op: "get_item", source: Box::new(Outer(std::io::Error::other("inner"))) };
        assert_eq!(cause_chain(&e), "storage call get_item failed: outer: inner");
    }

    #[tokio::test]
    async fn a_store_failure_answers_generically() {
        let e = ApiError::Store(StoreError::Backend {
            op: "get_item",
            source: Box::new(std::io::Error::other("secret detail")),
        });
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.expect("body");
        assert_eq!(
            std::str::from_utf8(&body).expect("utf-8"),
            r#"{"error":{"code":"unavailable","message":"the service is temporarily unavailable; retry"}}"#
        );
    }

    #[test]
    fn a_rate_limit_says_when_to_retry() {
        let r = ApiError::TooManyRequests(ErrorCode::RateLimited, "slow down".into(), RETRY_AFTER_SECONDS)
            .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("60"));
        let r = ApiError::TooManyRequests(ErrorCode::RateLimited, "slow down".into(), 420).into_response();
        assert_eq!(r.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("420"));
    }

    #[test]
    fn codes_are_snake_case() {
        let json = serde_json::to_string(&[ErrorCode::NotAMember, ErrorCode::InvalidOldConversations])
            .expect("serialize");
        assert_eq!(json, r#"["not_a_member","invalid_old_conversations"]"#);
    }
}
