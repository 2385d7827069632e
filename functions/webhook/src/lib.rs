//! The webhook function: Meta's verification GET and the signed POST that carries Page events.
//!
//! A POST is answered 200 only once every event it carries is durably in the FIFO queue; a
//! forged or unsigned one gets 401 and nothing is queued; an event kind we do not know is
//! acknowledged, logged and counted (Meta would otherwise retry it and, after an hour of
//! failures, unsubscribe the Page).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::event::{
    MAX_QUEUE_BODY_BYTES, OutboundQueueMessage, PlanError, plan_queue_messages, split_send_batches,
};
use domain::meta::parse_notification;
use domain::ports::{EventQueue, QueueError};
use domain::signature::{AppSecrets, SignatureError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tracing::{error, info, warn};

pub const PATH: &str = "/webhooks/facebook";

/// SendMessageBatch limits: ten entries and 256 KiB of bodies per call.
const MAX_BATCH_ENTRIES: usize = 10;
const MAX_BATCH_BYTES: usize = 256 * 1024;

pub struct WebhookConfig {
    pub app_secrets: AppSecrets,
    pub verify_token: SecretString,
    pub max_body_bytes: usize,
}

impl WebhookConfig {
    /// The app secret list (comma-separated during rotation, `APP_SECRET_ARN` or
    /// `FB_APP_SECRET`), the verify token (`VERIFY_TOKEN_ARN` or `FB_VERIFY_TOKEN`), both read
    /// at start-up, and `WEBHOOK_MAX_BODY_BYTES` (default 5 MiB) from the environment.
    pub fn new(
        app_secrets: &SecretString,
        verify_token: SecretString,
    ) -> Result<WebhookConfig, adapters::config::ConfigError> {
        let app_secrets = AppSecrets::from_list(app_secrets);
        if app_secrets.is_empty() {
            return Err(adapters::config::ConfigError::Invalid {
                name: "APP_SECRET_ARN",
                why: "no secret in the list".into(),
            });
        }
        Ok(WebhookConfig {
            app_secrets,
            verify_token,
            max_body_bytes: adapters::config::parse_or("WEBHOOK_MAX_BODY_BYTES", 5 * 1024 * 1024)?,
        })
    }
}

pub struct Webhook {
    pub config: WebhookConfig,
    pub queue: Arc<dyn EventQueue>,
}

/// What one POST produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub events: usize,
    pub unknown: usize,
    pub queue_messages: usize,
    pub send_calls: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("could not prepare the events for the queue")]
    Plan(#[from] PlanError),
    #[error("could not queue the events")]
    Queue(#[from] QueueError),
}

/// The CPU part of a POST: verify, parse, split by conversation and build the queue messages.
/// Pure and synchronous, so benchmarks measure it alone.
pub fn prepare(
    config: &WebhookConfig,
    signature: Option<&[u8]>,
    body: &[u8],
) -> Result<(Vec<OutboundQueueMessage>, IngestReport), IngestError> {
    config.app_secrets.verify(signature, body)?;
    let parsed = match parse_notification(body) {
        Ok(p) => p,
        Err(e) => {
            // Signed by Meta yet not a notification: nothing in it can be stored, and refusing
            // it would only make Meta retry it until the subscription is dropped.
            error!(error = %e, body_bytes = body.len(), "signed webhook body is not a notification; acknowledged");
            adapters::telemetry::count("WebhookMalformedBodies", 1, ("Function", "webhook"));
            return Ok((Vec::new(), IngestReport { unknown: 1, ..Default::default() }));
        }
    };
    for u in &parsed.unknown {
        warn!(page_id = u.page_id.as_deref().unwrap_or("-"), kind = %u.kind, reason = %u.reason, "unknown webhook event acknowledged");
    }
    adapters::telemetry::count("WebhookUnknownEvents", parsed.unknown.len() as u64, ("Function", "webhook"));
    let report =
        IngestReport { events: parsed.events.len(), unknown: parsed.unknown.len(), ..Default::default() };
    let messages = plan_queue_messages(parsed.events, MAX_QUEUE_BODY_BYTES)?;
    let report = IngestReport { queue_messages: messages.len(), ..report };
    Ok((messages, report))
}

impl Webhook {
    /// A whole POST: prepare, then queue every message; Ok only when all are queued.
    pub async fn ingest(&self, signature: Option<&[u8]>, body: &[u8]) -> Result<IngestReport, IngestError> {
        let (messages, mut report) = prepare(&self.config, signature, body)?;
        let batches = split_send_batches(&messages, MAX_BATCH_ENTRIES, MAX_BATCH_BYTES);
        report.send_calls = batches.len();
        let sends = batches.into_iter().map(|r| self.queue.send_batch(&messages[r]));
        for result in futures::future::join_all(sends).await {
            result?;
        }
        Ok(report)
    }
}

/// The function's routes.
pub fn router(webhook: Arc<Webhook>) -> Router {
    let limit = webhook.config.max_body_bytes;
    Router::new()
        .route(PATH, get(verify).post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(webhook)
}

#[derive(Deserialize)]
struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn verify(
    State(w): State<Arc<Webhook>>,
    q: Result<Query<VerifyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error_body(StatusCode::BAD_REQUEST, "invalid_request", "query parameters are malformed");
    };
    let (Some(mode), Some(token), Some(challenge)) = (q.mode, q.verify_token, q.challenge) else {
        return error_body(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "hub.mode, hub.verify_token and hub.challenge are required",
        );
    };
    if challenge.len() > 256 {
        return error_body(StatusCode::BAD_REQUEST, "invalid_request", "hub.challenge is too long");
    }
    let expected = w.config.verify_token.expose_secret().as_bytes();
    let token_ok: bool = token.as_bytes().ct_eq(expected).into();
    if mode != "subscribe" || !token_ok {
        warn!(mode = %mode, "webhook verification refused");
        return error_body(StatusCode::FORBIDDEN, "verification_failed", "verify token does not match");
    }
    info!("webhook verification accepted");
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], challenge).into_response()
}

async fn receive(State(w): State<Arc<Webhook>>, headers: HeaderMap, body: Bytes) -> Response {
    let sig = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    match w.ingest(sig, &body).await {
        Ok(r) => {
            info!(
                events = r.events,
                unknown = r.unknown,
                queue_messages = r.queue_messages,
                send_calls = r.send_calls,
                "webhook queued"
            );
            (StatusCode::OK, "EVENT_RECEIVED").into_response()
        }
        Err(IngestError::Signature(e)) => {
            warn!(error = %e, body_bytes = body.len(), "webhook refused");
            error_body(StatusCode::UNAUTHORIZED, "invalid_signature", &e.to_string())
        }
        Err(e @ IngestError::Plan(_)) => {
            error!(error = %adapters::telemetry::error_chain(&e), "webhook could not be prepared for the queue");
            error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "queue_unavailable",
                "events could not be queued; retry",
            )
        }
        Err(e @ IngestError::Queue(_)) => {
            error!(error = %adapters::telemetry::error_chain(&e), "webhook queuing failed; Meta will retry");
            adapters::telemetry::count("WebhookQueueFailures", 1, ("Function", "webhook"));
            error_body(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                "events could not be queued; retry",
            )
        }
    }
}
