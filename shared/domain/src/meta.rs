//! Meta's webhook payloads (`docs/meta-platform.md`, Payloads) turned into domain events.
//!
//! Parsing is lenient per item: one item that does not match what we know is reported as
//! unknown (acknowledged, logged and counted by the caller) and never fails the whole POST,
//! since Meta has no replay and a refused POST is retried until the subscription is dropped.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::event::{Attachment, EventBody, InboundEvent};
use crate::model::Direction;

/// Why a signed body could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("webhook body is not a Meta notification: {0}")]
pub struct EnvelopeError(#[from] serde_path_to_error::Error<serde_json::Error>);

/// Something in the POST we acknowledge without storing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEvent {
    pub page_id: Option<String>,
    /// What it looked like: the object type, the change field, or the item's keys.
    pub kind: String,
    /// Why it was not understood (the path of the failing field, for malformed items).
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct ParsedNotification {
    pub events: Vec<InboundEvent>,
    pub unknown: Vec<UnknownEvent>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    object: String,
    #[serde(default, borrow)]
    entry: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default, borrow)]
    messaging: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    standby: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    changes: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Party {
    #[serde(deserialize_with = "id_string")]
    id: String,
}

#[derive(Deserialize)]
struct Item {
    sender: Option<Party>,
    recipient: Option<Party>,
    #[serde(default)]
    timestamp: i64,
    message: Option<MetaMessage>,
    postback: Option<MetaPostback>,
    reaction: Option<MetaReaction>,
    read: Option<Watermark>,
    delivery: Option<MetaDelivery>,
}

#[derive(Deserialize)]
struct MetaMessage {
    mid: String,
    text: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
    quick_reply: Option<QuickReply>,
    reply_to: Option<ReplyTo>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default, deserialize_with = "opt_id_string")]
    app_id: Option<String>,
    metadata: Option<String>,
}

#[derive(Deserialize)]
struct QuickReply {
    payload: Option<String>,
}

#[derive(Deserialize)]
struct ReplyTo {
    mid: Option<String>,
}

#[derive(Deserialize)]
struct MetaPostback {
    mid: Option<String>,
    title: Option<String>,
    payload: Option<String>,
}

#[derive(Deserialize)]
struct MetaReaction {
    mid: String,
    action: String,
    reaction: Option<String>,
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct Watermark {
    watermark: i64,
}

#[derive(Deserialize)]
struct MetaDelivery {
    watermark: i64,
    #[serde(default)]
    mids: Vec<String>,
}

#[derive(Deserialize)]
struct Change<'a> {
    field: String,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct FeedValue {
    item: String,
    verb: String,
    comment_id: Option<String>,
    post_id: Option<String>,
    parent_id: Option<String>,
    from: Option<FeedFrom>,
    message: Option<String>,
    created_time: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct FeedFrom {
    #[serde(deserialize_with = "id_string")]
    id: String,
    name: Option<String>,
}

fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(u64),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    })
}

fn opt_id_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "id_string")] String);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
}

fn typed<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(&mut de).map_err(|e| e.to_string())
}

/// The top-level keys of a JSON object, for describing what we did not understand.
fn keys_of(raw: &RawValue) -> String {
    match serde_json::from_str::<std::collections::BTreeMap<String, &RawValue>>(raw.get()) {
        Ok(m) => m.keys().cloned().collect::<Vec<_>>().join(","),
        Err(_) => "non-object".to_string(),
    }
}

/// Parses a verified webhook body into domain events and the items we do not know.
pub fn parse_notification(body: &[u8]) -> Result<ParsedNotification, EnvelopeError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let env: Envelope = serde_path_to_error::deserialize(&mut de)?;
    let mut out = ParsedNotification::default();
    if env.object != "page" {
        out.unknown.push(UnknownEvent {
            page_id: None,
            kind: format!("object:{}", env.object),
            reason: "only Page notifications are handled".into(),
        });
        return Ok(out);
    }
    for raw_entry in env.entry {
        let entry: Entry = match typed(raw_entry) {
            Ok(e) => e,
            Err(reason) => {
                out.unknown.push(UnknownEvent { page_id: None, kind: "entry".into(), reason });
                continue;
            }
        };
        for raw in &entry.messaging {
            push_item(&mut out, &entry.id, raw, false);
        }
        for raw in &entry.standby {
            push_item(&mut out, &entry.id, raw, true);
        }
        for raw in &entry.changes {
            push_change(&mut out, &entry.id, raw);
        }
    }
    Ok(out)
}

fn push_item(out: &mut ParsedNotification, page_id: &str, raw: &RawValue, standby: bool) {
    let unknown = |reason: String| UnknownEvent {
        page_id: Some(page_id.to_string()),
        kind: format!("messaging:{}", keys_of(raw)),
        reason,
    };
    let item: Item = match typed(raw) {
        Ok(i) => i,
        Err(reason) => return out.unknown.push(unknown(reason)),
    };
    let (Some(sender), Some(recipient)) = (item.sender, item.recipient) else {
        return out.unknown.push(unknown("sender or recipient missing".into()));
    };
    // The customer is whichever party is not the Page (echo payloads have been documented both
    // ways round).
    let from_page = sender.id == page_id;
    let customer_id = if from_page { recipient.id } else { sender.id };
    let ts = item.timestamp;
    let body = if let Some(m) = item.message {
        let direction = if m.is_echo || from_page { Direction::Out } else { Direction::In };
        EventBody::Message {
            mid: m.mid,
            direction,
            text: m.text,
            attachments: m.attachments,
            quick_reply_payload: m.quick_reply.and_then(|q| q.payload),
            reply_to_mid: m.reply_to.and_then(|r| r.mid),
            app_id: m.app_id,
            metadata: m.metadata,
        }
    } else if let Some(p) = item.postback {
        EventBody::Postback { mid: p.mid, title: p.title, payload: p.payload }
    } else if let Some(r) = item.reaction {
        EventBody::Reaction { mid: r.mid, action: r.action, reaction: r.reaction, emoji: r.emoji }
    } else if let Some(r) = item.read {
        EventBody::Read { watermark: r.watermark }
    } else if let Some(d) = item.delivery {
        EventBody::Delivery { watermark: d.watermark, mids: d.mids }
    } else {
        return out.unknown.push(unknown("no event kind this product handles".into()));
    };
    out.events.push(InboundEvent {
        page_id: page_id.to_string(),
        customer_id,
        timestamp_ms: ts,
        standby,
        body,
    });
}

fn push_change(out: &mut ParsedNotification, page_id: &str, raw: &RawValue) {
    let unknown =
        |kind: String, reason: String| UnknownEvent { page_id: Some(page_id.to_string()), kind, reason };
    let change: Change = match typed(raw) {
        Ok(c) => c,
        Err(reason) => return out.unknown.push(unknown("change".into(), reason)),
    };
    let Some(value) = change.value.filter(|_| change.field == "feed") else {
        return out.unknown.push(unknown(format!("change:{}", change.field), "not a feed change".into()));
    };
    let v: FeedValue = match typed(value) {
        Ok(v) => v,
        Err(reason) => return out.unknown.push(unknown("change:feed".into(), reason)),
    };
    if v.item != "comment" {
        return out
            .unknown
            .push(unknown(format!("change:feed:{}", v.item), "only comments are handled".into()));
    }
    let (Some(comment_id), Some(from)) = (v.comment_id, v.from) else {
        return out.unknown.push(unknown("change:feed:comment".into(), "comment_id or from missing".into()));
    };
    let ts = v.created_time.as_ref().and_then(crate::timefmt::parse_meta_time).unwrap_or(0);
    let direction = if from.id == page_id { Direction::Out } else { Direction::In };
    out.events.push(InboundEvent {
        page_id: page_id.to_string(),
        customer_id: from.id,
        timestamp_ms: ts,
        standby: false,
        body: EventBody::Comment {
            comment_id,
            verb: v.verb,
            direction,
            post_id: v.post_id,
            parent_id: v.parent_id,
            text: v.message,
            from_name: from.name,
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> ParsedNotification {
        parse_notification(v.to_string().as_bytes()).expect("envelope")
    }

    #[test]
    fn every_messaging_kind() {
        let p = parse(serde_json::json!({
            "object": "page",
            "entry": [{
                "id": "P1", "time": 1,
                "messaging": [
                    {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":10,
                     "message":{"mid":"m1","text":"Xin chào","quick_reply":{"payload":"QR"},"reply_to":{"mid":"m0"}}},
                    {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":11,
                     "message":{"mid":"m2","attachments":[{"type":"image","payload":{"url":"https://x/y.jpg"}}]}},
                    {"sender":{"id":"P1"},"recipient":{"id":"U1"},"timestamp":12,
                     "message":{"mid":"m3","text":"Dạ","is_echo":true,"app_id":123,"metadata":"sop"}},
                    {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":13,
                     "postback":{"mid":"m4","title":"Mua","payload":"BUY"}},
                    {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":14,
                     "reaction":{"mid":"m3","action":"react","reaction":"love","emoji":"❤"}},
                    {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":15,"read":{"watermark":12}},
                    {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":16,"delivery":{"watermark":12,"mids":["m3"]}}
                ],
                "standby": [
                    {"sender":{"id":"U2"},"recipient":{"id":"P1"},"timestamp":17,"message":{"mid":"m5","text":"hi"}}
                ],
                "changes": [
                    {"field":"feed","value":{"item":"comment","verb":"add","comment_id":"c1","post_id":"P1_9",
                     "from":{"id":"U3","name":"Lan"},"message":"Giá?","created_time":1764000000}}
                ]
            }]
        }));
        assert!(p.unknown.is_empty(), "{:?}", p.unknown);
        let kinds: Vec<_> = p.events.iter().map(|e| e.kind()).collect();
        assert_eq!(
            kinds,
            ["message", "message", "echo", "postback", "reaction", "read", "delivery", "message", "comment"]
        );
        assert!(p.events.iter().take(7).all(|e| e.customer_id == "U1"));
        assert!(p.events[7].standby);
        assert_eq!(p.events[8].customer_id, "U3");
        assert_eq!(p.events[8].timestamp_ms, 1_764_000_000_000);
        let m = p.events[0].to_message().expect("message");
        assert_eq!(m.text.as_deref(), Some("Xin chào"));
        assert_eq!(m.detail.as_ref().and_then(|d| d["reply_to_mid"].as_str()), Some("m0"));
        let a = p.events[1].to_message().expect("attachment");
        assert_eq!(a.kind, "attachment");
        assert_eq!(
            a.detail.as_ref().map(|d| d["attachments"][0]["payload"]["url"].clone()),
            Some(serde_json::json!("https://x/y.jpg"))
        );
        assert_eq!(p.events[2].to_message().map(|m| m.direction), Some(Direction::Out));
        assert!(p.events[5].to_message().is_none());
    }

    #[test]
    fn echo_with_reversed_parties_still_keys_the_customer() {
        let p = parse(serde_json::json!({"object":"page","entry":[{"id":"P1","messaging":[
            {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":1,"message":{"mid":"m","is_echo":true}}]}]}));
        assert_eq!(p.events[0].customer_id, "U1");
        assert_eq!(p.events[0].kind(), "echo");
    }

    #[test]
    fn unknown_kinds_are_reported_not_fatal() {
        let p = parse(serde_json::json!({"object":"page","entry":[
            {"id":"P1","messaging":[
                {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":1,"optin":{"ref":"x"}},
                {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":"oops","message":{"mid":"m"}},
                {"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":2,"message":{"mid":"ok"}}
            ],
             "changes":[{"field":"feed","value":{"item":"like","verb":"add"}},{"field":"ratings","value":{}}]}]}));
        assert_eq!(p.events.len(), 1);
        assert_eq!(p.unknown.len(), 4, "{:?}", p.unknown);
        assert!(p.unknown[0].kind.contains("optin"));
        assert!(p.unknown[1].reason.contains("timestamp"), "{}", p.unknown[1].reason);
    }

    #[test]
    fn other_objects_are_unknown() {
        let p = parse(serde_json::json!({"object":"instagram","entry":[]}));
        assert_eq!(p.unknown.len(), 1);
        assert!(p.events.is_empty());
    }

    #[test]
    fn escaped_unicode_is_decoded() {
        let body = br#"{"object":"page","entry":[{"id":"P1","messaging":[{"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":1,"message":{"mid":"m","text":"Gi\u00e1 bao nhi\u00eau?"}}]}]}"#;
        let p = parse_notification(body).expect("parse");
        assert_eq!(p.events[0].to_message().and_then(|m| m.text).as_deref(), Some("Giá bao nhiêu?"));
    }

    #[test]
    fn not_json_is_an_envelope_error() {
        assert!(parse_notification(b"not json").is_err());
        assert!(parse_notification(br#"{"entry":[]}"#).is_err());
    }
}
