//! The webhook function through its HTTP routes: verification, signatures, limits, unknown
//! events and queue failures.

use std::sync::Arc;
use std::time::Duration;

use adapters::memory::MemoryQueue;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::event::QueuedBatch;
use domain::ports::QueueConsumer;
use domain::signature::AppSecrets;
use integration_tests::{APP_SECRET, OLD_APP_SECRET, VERIFY_TOKEN, notification, sign, text_item};
use secrecy::SecretString;
use tower::ServiceExt;

fn app(queue: Arc<MemoryQueue>) -> axum::Router {
    let config = webhook::WebhookConfig {
        app_secrets: AppSecrets::from_list(&SecretString::from(format!("{APP_SECRET},{OLD_APP_SECRET}"))),
        verify_token: SecretString::from(VERIFY_TOKEN.to_string()),
        max_body_bytes: 64 * 1024,
    };
    webhook::router(Arc::new(webhook::Webhook { config, queue }))
}

fn queue() -> Arc<MemoryQueue> {
    Arc::new(MemoryQueue::new(Duration::from_secs(30), 5))
}

async fn post(app: axum::Router, sig: Option<String>, body: &str) -> (StatusCode, String) {
    let mut req = Request::post("/webhooks/facebook").header("content-type", "application/json");
    if let Some(s) = sig {
        req = req.header("x-hub-signature-256", s);
    }
    let resp = app.oneshot(req.body(Body::from(body.to_string())).expect("request")).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn get(app: axum::Router, uri: &str) -> (StatusCode, String) {
    let resp = app.oneshot(Request::get(uri).body(Body::empty()).expect("request")).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn queued(q: &MemoryQueue) -> Vec<QueuedBatch> {
    let msgs = q.receive(10, 0).await.expect("receive");
    msgs.iter().map(|m| serde_json::from_str(&m.body).expect("queued body")).collect()
}

fn body() -> String {
    notification("P1", vec![text_item("P1", "U1", 1, "m1", "Chào shop")])
}

#[tokio::test]
async fn verification_echoes_the_challenge_only_for_the_right_token() {
    let (s, b) = get(
        app(queue()),
        "/webhooks/facebook?hub.mode=subscribe&hub.verify_token=local-verify-token&hub.challenge=1158201444",
    )
    .await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, "1158201444"));
    let (s, _) =
        get(app(queue()), "/webhooks/facebook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = get(
        app(queue()),
        "/webhooks/facebook?hub.mode=unsubscribe&hub.verify_token=local-verify-token&hub.challenge=1",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = get(app(queue()), "/webhooks/facebook?hub.mode=subscribe&hub.challenge=1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("hub.verify_token"), "{b}");
    let (s, _) = get(app(queue()), "/webhooks/facebook").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_valid_signature_queues_the_events() {
    let q = queue();
    let b = body();
    let (s, _) = post(app(q.clone()), Some(sign(&b)), &b).await;
    assert_eq!(s, StatusCode::OK);
    let batches = queued(&q).await;
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].events[0].event_id(), "m1");
}

#[tokio::test]
async fn the_second_secret_of_a_rotation_is_accepted() {
    let q = queue();
    let b = body();
    let sig = domain::signature::sign(OLD_APP_SECRET, b.as_bytes());
    let (s, _) = post(app(q.clone()), Some(sig), &b).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(queued(&q).await.len(), 1);
}

#[tokio::test]
async fn wrong_missing_or_malformed_signatures_get_401_and_queue_nothing() {
    let b = body();
    let wrong = domain::signature::sign("not-the-secret", b.as_bytes());
    let sha1 = sign(&b).replace("sha256=", "sha1=");
    let no_prefix = sign(&b).replace("sha256=", "");
    let tampered_body = b.replace("Chào", "Chao");
    for (sig, body) in [
        (Some(wrong), b.clone()),
        (None, b.clone()),
        (Some(sha1), b.clone()),
        (Some(no_prefix), b.clone()),
        (Some("sha256=".to_string()), b.clone()),
        (Some(sign(&b)), tampered_body),
    ] {
        let q = queue();
        let (s, resp) = post(app(q.clone()), sig.clone(), &body).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "signature {sig:?}");
        assert!(resp.contains("invalid_signature"), "{resp}");
        assert!(!resp.contains(APP_SECRET));
        assert!(queued(&q).await.is_empty(), "nothing queued for {sig:?}");
        assert_eq!(q.send_calls(), 0);
    }
}

#[tokio::test]
async fn vietnamese_escaped_as_unicode_escapes_verifies_over_the_raw_bytes() {
    // Meta escapes non-ASCII text; the signature is over these exact bytes.
    let raw = r#"{"object":"page","entry":[{"id":"P1","time":1,"messaging":[{"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":5,"message":{"mid":"m-vi","text":"Ch\u00e0o shop, \u00e1o n\u00e0y c\u00f2n size M kh\u00f4ng?"}}]}]}"#;
    let q = queue();
    let (s, _) = post(app(q.clone()), Some(sign(raw)), raw).await;
    assert_eq!(s, StatusCode::OK);
    let batches = queued(&q).await;
    let msg = batches[0].events[0].to_message().expect("message");
    assert_eq!(msg.text.as_deref(), Some("Chào shop, áo này còn size M không?"));
    // Re-serialised (unescaped) JSON would not match the signature of the escaped bytes.
    let reserialised =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(raw).expect("json")).expect("json");
    assert_ne!(reserialised, raw);
    let (s, _) = post(app(queue()), Some(sign(raw)), &reserialised).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_sample_event_is_validly_signed() {
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../events/webhook-post-signed.json")).expect("sample event");
    let body = event["body"].as_str().expect("body");
    let sig = event["headers"]["x-hub-signature-256"].as_str().expect("signature header");
    let q = queue();
    let (s, _) = post(app(q.clone()), Some(sig.to_string()), body).await;
    assert_eq!(s, StatusCode::OK);
    let batches = queued(&q).await;
    assert!(batches.iter().flat_map(|b| &b.events).any(|e| e.event_id() == "m_walking_skeleton_1"));
    let forged: serde_json::Value =
        serde_json::from_str(include_str!("../../events/webhook-post-forged.json")).expect("forged event");
    let (s, _) = post(
        app(queue()),
        forged["headers"]["x-hub-signature-256"].as_str().map(String::from),
        forged["body"].as_str().expect("body"),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let big = notification("P1", vec![text_item("P1", "U1", 1, "m1", &"x".repeat(70 * 1024))]);
    let q = queue();
    let (s, _) = post(app(q.clone()), Some(sign(&big)), &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(queued(&q).await.is_empty());
}

#[tokio::test]
async fn unknown_events_are_acknowledged_and_known_ones_still_queued() {
    let b = serde_json::json!({"object":"page","entry":[{"id":"P1","time":1,
        "messaging":[
            {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":1,"optin":{"ref":"x"}},
            {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":2,"message":{"mid":"known","text":"hi"}}
        ],
        "changes":[{"field":"ratings","value":{"x":1}}]}]})
    .to_string();
    let q = queue();
    let (s, _) = post(app(q.clone()), Some(sign(&b)), &b).await;
    assert_eq!(s, StatusCode::OK);
    let batches = queued(&q).await;
    let ids: Vec<_> = batches.iter().flat_map(|b| &b.events).map(|e| e.event_id()).collect();
    assert_eq!(ids, ["known"]);
    // An object type we do not handle, and a signed body that is not a notification at all.
    for b in [r#"{"object":"instagram","entry":[]}"#, "not json"] {
        let q = queue();
        let (s, _) = post(app(q.clone()), Some(sign(b)), b).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(queued(&q).await.is_empty());
    }
}

#[tokio::test]
async fn a_queue_failure_answers_5xx_so_meta_retries_and_the_retry_lands() {
    let q = queue();
    q.fail_next_sends(1);
    let b = body();
    let (s, resp) = post(app(q.clone()), Some(sign(&b)), &b).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.contains("queue_unavailable"), "{resp}");
    assert!(queued(&q).await.is_empty());
    let (s, _) = post(app(q.clone()), Some(sign(&b)), &b).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(queued(&q).await.len(), 1);
}

#[tokio::test]
async fn meta_batches_cost_at_most_a_tenth_of_a_send_call_per_event() {
    // 100 entries x 5 messages for 25 customers: 500 events, 25 conversations.
    let entries: Vec<_> = (0..100)
        .map(|e| {
            let items: Vec<_> = (0..5)
                .map(|i| {
                    text_item(
                        "P1",
                        &format!("U{}", (e * 5 + i) % 25),
                        e * 10 + i,
                        &format!("m{e}-{i}"),
                        "xin chào",
                    )
                })
                .collect();
            serde_json::json!({"id":"P1","time":1,"messaging":items})
        })
        .collect();
    let b = serde_json::json!({"object":"page","entry":entries}).to_string();
    let q = queue();
    let w = webhook::Webhook {
        config: webhook::WebhookConfig {
            app_secrets: AppSecrets::from_list(&SecretString::from(APP_SECRET.to_string())),
            verify_token: SecretString::from(VERIFY_TOKEN.to_string()),
            max_body_bytes: 1 << 20,
        },
        queue: q.clone(),
    };
    let report = w.ingest(Some(sign(&b).as_bytes()), b.as_bytes()).await.expect("ingest");
    assert_eq!(report.events, 500);
    assert_eq!(report.queue_messages, 25);
    assert_eq!(report.send_calls, 3);
    assert_eq!(q.send_calls(), 3);
    assert!((report.send_calls as f64) / (report.events as f64) <= 0.1);
}
