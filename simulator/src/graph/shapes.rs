//! The Graph API's answer bodies the fake gives: its error JSON, token answers and time format.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Graph error answer.
pub(super) struct GraphErr {
    pub(super) status: u16,
    pub(super) code: i64,
    pub(super) subcode: Option<i64>,
    pub(super) message: String,
}

pub(super) fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> GraphErr {
    GraphErr { status, code, subcode, message: message.to_string() }
}

/// Graph's error JSON: `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`.
pub fn graph_error_response(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut e = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": format!("Fk{}", uuid::Uuid::new_v4().simple()),
    });
    if let Some(sub) = subcode {
        e["error_subcode"] = json!(sub);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({ "error": e }))).into_response()
}

pub(super) fn invalid_token() -> GraphErr {
    graph_error(400, 190, None, "Invalid OAuth access token - Cannot parse access token")
}

pub(super) fn token_answer(token: String) -> Value {
    json!({ "access_token": token, "token_type": "bearer", "expires_in": 5_183_944 })
}

/// Graph's time format, `2026-11-20T10:00:00+0000` (whole seconds).
pub fn meta_time(ms: i64) -> String {
    let iso = domain::timefmt::rfc3339_ms(ms); // 2026-11-20T10:00:00.000Z
    format!("{}+0000", iso.get(..19).unwrap_or(&iso))
}
