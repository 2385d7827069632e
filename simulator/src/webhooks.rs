//! Webhooks as Meta sends them (`docs/meta-platform.md`, Webhooks and Payloads): the envelope
//! of each event the simulator plays, the body encoded the way Meta encodes it (non-ASCII
//! escaped as `\uXXXX`, so a receiver that re-serialises instead of checking the raw bytes
//! fails here as it would in production), signed with the app secret, and a small sender that
//! retries a few times like Meta does and logs what it could not deliver.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use serde_json::{Value, json};
use tracing::{info, warn};

/// `{"object":"page","entry":[{"id","time","messaging":[item]}]}`.
pub fn messaging(page_id: &str, time_ms: i64, item: Value) -> Value {
    json!({ "object": "page", "entry": [{ "id": page_id, "time": time_ms, "messaging": [item] }] })
}

/// One event from the customer to the Page: `{sender, recipient, timestamp, <field>: value}`.
fn from_customer(page_id: &str, psid: &str, ts: i64, field: &str, value: Value) -> Value {
    let mut item = json!({ "sender": { "id": psid }, "recipient": { "id": page_id }, "timestamp": ts });
    item[field] = value;
    messaging(page_id, ts, item)
}

/// A customer's text message to the Page.
pub fn message(page_id: &str, psid: &str, mid: &str, text: &str, ts: i64) -> Value {
    from_customer(page_id, psid, ts, "message", json!({ "mid": mid, "text": text }))
}

/// The echo of a message the Page sent through the Send API: sender is the Page, `is_echo`,
/// the sending app's id and the request's `metadata` (absent when the request had none).
pub fn echo(app_id: &str, page_id: &str, psid: &str, mid: &str, sent: &Value, ts: i64) -> Value {
    let mut message = json!({ "mid": mid, "is_echo": true, "app_id": app_id_value(app_id) });
    if let Some(text) = sent["message"]["text"].as_str() {
        message["text"] = json!(text);
    }
    if let Some(md) = sent["message"]["metadata"].as_str() {
        message["metadata"] = json!(md);
    }
    messaging(
        page_id,
        ts,
        json!({ "sender": { "id": page_id }, "recipient": { "id": psid }, "timestamp": ts, "message": message }),
    )
}

/// Meta's app ids are numbers in echoes; a simulator id that is not one stays a string.
fn app_id_value(app_id: &str) -> Value {
    app_id.parse::<u64>().map_or_else(|_| json!(app_id), |n| json!(n))
}

/// The customer's device got the Page's messages up to `watermark`.
pub fn delivery(page_id: &str, psid: &str, mids: &[String], watermark: i64) -> Value {
    from_customer(page_id, psid, watermark, "delivery", json!({ "mids": mids, "watermark": watermark }))
}

/// The customer read the Page's messages up to `watermark`.
pub fn read(page_id: &str, psid: &str, watermark: i64) -> Value {
    from_customer(page_id, psid, watermark, "read", json!({ "watermark": watermark }))
}

/// A new comment, as a `feed` change (`created_time` in Unix seconds).
pub struct Comment<'a> {
    pub page_id: &'a str,
    pub post_id: &'a str,
    pub comment_id: &'a str,
    /// The post for a top-level comment, else the comment answered.
    pub parent_id: &'a str,
    pub from_id: &'a str,
    pub from_name: &'a str,
    pub message: &'a str,
    pub created_ms: i64,
}

pub fn comment(c: &Comment<'_>) -> Value {
    comment_change(c, "add", c.created_ms)
}

/// A change to a comment as a `feed` change: `add`, `edited`, `remove` (a removal carries no
/// message), `hide` or `unhide` (the shop's moderation, told back to the app), at `time_ms`.
pub fn comment_change(c: &Comment<'_>, verb: &str, time_ms: i64) -> Value {
    let mut value = json!({
        "item": "comment",
        "verb": verb,
        "comment_id": c.comment_id,
        "post_id": c.post_id,
        "parent_id": c.parent_id,
        "from": { "id": c.from_id, "name": c.from_name },
        "created_time": c.created_ms / 1000,
    });
    if verb != "remove" {
        value["message"] = json!(c.message);
    }
    json!({ "object": "page", "entry": [{
        "id": c.page_id,
        "time": time_ms,
        "changes": [{ "field": "feed", "value": value }],
    }]})
}

/// The body as Meta sends it: compact JSON with every non-ASCII character escaped.
pub fn encode(payload: &Value) -> String {
    let raw = payload.to_string();
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            // Non-ASCII only occurs inside JSON strings, where \u escapes are always valid.
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// The `X-Hub-Signature-256` header for `body`.
pub fn signature(app_secret: &str, body: &str) -> String {
    domain::signature::sign(app_secret, body.as_bytes())
}

/// One webhook the simulator posted, for the customer's view and the tests (`GET /api/webhooks`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Delivery {
    /// `message`, `echo`, `delivery`, `read` or `feed`.
    pub kind: String,
    pub page_id: String,
    /// The message's mid (the first of a delivery's), or the comment id.
    pub id: Option<String>,
    /// The app answered 2xx (after at most [`WebhookSender`]'s attempts).
    pub accepted: bool,
    pub attempts: u32,
}

/// How many deliveries the log keeps (the newest).
const LOG_SIZE: usize = 200;

/// What a payload built above is, for the log.
fn describe(payload: &Value) -> (String, String, Option<String>) {
    let entry = &payload["entry"][0];
    let page = entry["id"].as_str().unwrap_or_default().to_string();
    let item = &entry["messaging"][0];
    let text = |v: &Value| v.as_str().map(str::to_string);
    let (kind, id) = if !item["message"].is_null() {
        let kind = if item["message"]["is_echo"] == true { "echo" } else { "message" };
        (kind, text(&item["message"]["mid"]))
    } else if !item["delivery"].is_null() {
        ("delivery", text(&item["delivery"]["mids"][0]))
    } else if !item["read"].is_null() {
        ("read", None)
    } else {
        ("feed", text(&entry["changes"][0]["value"]["comment_id"]))
    };
    (kind.to_string(), page, id)
}

/// Posts signed webhooks to one URL.
#[derive(Clone)]
pub struct WebhookSender {
    url: String,
    app_secret: String,
    client: reqwest::Client,
    attempts: u32,
    first_delay: Duration,
    log: Arc<Mutex<VecDeque<Delivery>>>,
}

impl WebhookSender {
    pub fn new(url: &str, app_secret: &str) -> WebhookSender {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        WebhookSender {
            url: url.to_string(),
            app_secret: app_secret.to_string(),
            client,
            attempts: 4,
            first_delay: Duration::from_millis(200),
            log: Arc::default(),
        }
    }

    /// The newest deliveries, oldest first.
    pub fn log(&self) -> Vec<Delivery> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    fn record(&self, payload: &Value, accepted: bool, attempts: u32) {
        let (kind, page_id, id) = describe(payload);
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == LOG_SIZE {
            log.pop_front();
        }
        log.push_back(Delivery { kind, page_id, id, accepted, attempts });
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Posts `payload` until a 2xx answer, at most a few attempts with doubling pauses (Meta
    /// retries failed deliveries too). Returns whether it was accepted; failures are logged
    /// with the status or error, never the body's secret.
    pub async fn deliver(&self, payload: &Value) -> bool {
        let body = encode(payload);
        let sig = signature(&self.app_secret, &body);
        let mut delay = self.first_delay;
        for attempt in 1..=self.attempts {
            let sent = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", &sig)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    self.record(payload, true, attempt);
                    return true;
                }
                Ok(r) => {
                    warn!(url = %self.url, attempt, status = r.status().as_u16(), "simulated webhook refused")
                }
                Err(e) => warn!(url = %self.url, attempt, error = %e, "simulated webhook not delivered"),
            }
            if attempt < self.attempts {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        info!(url = %self.url, "simulated webhook dropped after retries");
        self.record(payload, false, self.attempts);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::signature::AppSecrets;
    use secrecy::SecretString;

    fn secrets(list: &str) -> AppSecrets {
        AppSecrets::from_list(&SecretString::from(list.to_string()))
    }

    #[test]
    fn signed_body_passes_the_webhooks_own_check() {
        let body = encode(&message("P1", "U1", "m_1", "Chào shop, áo còn size M không?", 1));
        let header = signature("s3cret", &body);
        assert!(secrets("s3cret").verify(Some(header.as_bytes()), body.as_bytes()).is_ok());
        assert!(secrets("old,s3cret").verify(Some(header.as_bytes()), body.as_bytes()).is_ok());
    }

    #[test]
    fn another_secret_or_another_body_fails_the_check() {
        let body = encode(&read("P1", "U1", 5));
        let header = signature("s3cret", &body);
        assert!(secrets("other").verify(Some(header.as_bytes()), body.as_bytes()).is_err());
        let tampered = body.replace("\"watermark\":5", "\"watermark\":6");
        assert_ne!(tampered, body);
        assert!(secrets("s3cret").verify(Some(header.as_bytes()), tampered.as_bytes()).is_err());
    }

    #[test]
    fn non_ascii_is_escaped_like_meta_and_parses_back() {
        let v = message("P1", "U1", "m_1", "Cửa hàng 😀", 1);
        let body = encode(&v);
        assert!(body.is_ascii(), "{body}");
        assert!(body.contains("C\\u1eeda h\\u00e0ng \\ud83d\\ude00"), "{body}");
        let back: Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(back, v);
    }

    #[test]
    fn echo_carries_app_id_metadata_and_the_answered_mid() {
        let sent = json!({"recipient":{"id":"U1"},"message":{"text":"Dạ còn ạ","metadata":"reply:r1"}});
        let v = echo("1234", "P1", "U1", "m_sent_1", &sent, 9);
        let m = &v["entry"][0]["messaging"][0];
        assert_eq!(m["sender"]["id"], "P1");
        assert_eq!(m["recipient"]["id"], "U1");
        assert_eq!(m["message"]["is_echo"], true);
        assert_eq!(m["message"]["app_id"], 1234);
        assert_eq!(m["message"]["metadata"], "reply:r1");
        assert_eq!(m["message"]["mid"], "m_sent_1");
        assert_eq!(
            echo("sim-app-id", "P1", "U1", "m", &sent, 9)["entry"][0]["messaging"][0]["message"]["app_id"],
            "sim-app-id"
        );
    }

    #[test]
    fn the_log_names_each_kind_and_its_id() {
        let sent = json!({"message":{"text":"x"}});
        let cases = [
            (message("P", "U", "m1", "x", 1), "message", Some("m1")),
            (echo("1", "P", "U", "m2", &sent, 1), "echo", Some("m2")),
            (delivery("P", "U", &["m3".to_string()], 1), "delivery", Some("m3")),
            (read("P", "U", 1), "read", None),
        ];
        for (payload, kind, id) in cases {
            let (k, page, i) = describe(&payload);
            assert_eq!((k.as_str(), page.as_str(), i.as_deref()), (kind, "P", id));
        }
    }

    #[tokio::test]
    async fn an_unreachable_app_is_retried_then_logged_as_refused() {
        let mut sender = WebhookSender::new("http://127.0.0.1:9/webhooks/facebook", "s");
        sender.first_delay = Duration::from_millis(1);
        assert!(!sender.deliver(&read("P", "U", 1)).await);
        let log = sender.log();
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].accepted, log[0].attempts), (false, 4));
    }

    #[test]
    fn comment_is_a_feed_change_with_seconds() {
        let v = comment(&Comment {
            page_id: "P1",
            post_id: "P1_1",
            comment_id: "P1_1_c1",
            parent_id: "P1_1",
            from_id: "U1",
            from_name: "Mai",
            message: "Giá bao nhiêu?",
            created_ms: 1_700_000_000_123,
        });
        let change = &v["entry"][0]["changes"][0];
        assert_eq!(change["field"], "feed");
        assert_eq!(change["value"]["item"], "comment");
        assert_eq!(change["value"]["verb"], "add");
        assert_eq!(change["value"]["created_time"], 1_700_000_000);
        assert_eq!(change["value"]["from"]["name"], "Mai");
        let c = Comment {
            page_id: "P1",
            post_id: "P1_1",
            comment_id: "1_2",
            parent_id: "1_1",
            from_id: "P1",
            from_name: "Shop",
            message: "Dạ",
            created_ms: 5_000,
        };
        let hide = comment_change(&c, "hide", 9_000);
        assert_eq!(
            (&hide["entry"][0]["time"], &hide["entry"][0]["changes"][0]["value"]["verb"]),
            (&json!(9_000), &json!("hide"))
        );
        let gone = comment_change(&c, "remove", 9_000);
        assert!(gone["entry"][0]["changes"][0]["value"]["message"].is_null());
        assert_eq!(describe(&gone).2.as_deref(), Some("1_2"));
    }
}
