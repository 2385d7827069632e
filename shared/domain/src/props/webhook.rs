//! The webhook's parse and split (`meta::parse_notification`, `event::plan_queue_messages`):
//! any bytes are answered without a panic; a generated notification parses to exactly the
//! events it holds, in Meta's order, with their ids; the queue plan carries each event once, in
//! its conversation's group, ordered by time, within the body limit.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::customer_text;
use crate::event::{MAX_QUEUE_BODY_BYTES, QueuedBatch, plan_queue_messages};
use crate::meta::parse_notification;
use crate::queue_ids::{body_dedup_id, fifo_id};

/// Whole notifications are parsed and planned per case: fewer cases than the cheap properties.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(200)
}

/// One item of a generated notification.
#[derive(Debug, Clone)]
enum Item {
    /// A customer's message (or the Page's echo), in `messaging[]` or `standby[]`.
    Message {
        customer: usize,
        mid: String,
        text: Option<String>,
        ts: i64,
        echo: bool,
        standby: bool,
    },
    Postback {
        customer: usize,
        mid: String,
        title: Option<String>,
        ts: i64,
    },
    /// A feed comment; `by_page` when the Page itself wrote it.
    Comment {
        customer: usize,
        by_page: bool,
        n: u32,
        post: u32,
        verb: &'static str,
        text: Option<String>,
        secs: i64,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    page: String,
    /// PSIDs (and comment authors) of this Page: few, so conversations get several events.
    customers: Vec<String>,
    items: Vec<Item>,
}

/// What the parser must produce for one item.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    page: String,
    customer: String,
    kind: &'static str,
    event_id: String,
    text: Option<String>,
    ts: i64,
    standby: bool,
}

fn item() -> impl Strategy<Value = Item> {
    let ts = 1_700_000_000_000i64..1_700_000_000_004; // few values: equal timestamps happen
    let mid = "m_[A-Za-z0-9_-]{1,24}";
    prop_oneof![
        4 => (0usize..3, mid, prop::option::of(customer_text()), ts.clone(), any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(customer, mid, text, ts, echo, standby)| Item::Message { customer, mid, text, ts, echo, standby }),
        1 => (0usize..3, mid, prop::option::of(customer_text()), ts)
            .prop_map(|(customer, mid, title, ts)| Item::Postback { customer, mid, title, ts }),
        2 => (0usize..3, prop::bool::weighted(0.2), 1u32..1_000_000, 1u32..4,
              prop::sample::select(vec!["add", "edited", "remove", "hide", "unhide"]),
              prop::option::of(customer_text()), 1_700_000_000i64..1_700_000_003)
            .prop_map(|(customer, by_page, n, post, verb, text, secs)| Item::Comment { customer, by_page, n, post, verb, text, secs }),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    ("10[0-9]{6,14}", prop::collection::vec("6[0-9]{6,15}", 3), prop::collection::vec(item(), 0..8))
        .prop_map(|(page, customers, items)| Entry { page, customers, items })
}

/// Every mid and comment id made unique (Meta's ids are; duplicates are their own property).
fn notification() -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::vec(entry(), 1..4).prop_map(|mut entries| {
        let mut i = 0u32;
        for e in &mut entries {
            for it in &mut e.items {
                i += 1;
                match it {
                    Item::Message { mid, .. } | Item::Postback { mid, .. } => mid.push_str(&format!(".{i}")),
                    Item::Comment { n, .. } => *n = *n * 100 + i,
                }
            }
        }
        entries
    })
}

/// The JSON item of `it` in Meta's shapes, and the event the parser must make of it.
fn render(e: &Entry, it: &Item) -> (Value, Expected) {
    let page = e.page.clone();
    match it {
        Item::Message { customer, mid, text, ts, echo, standby } => {
            let c = &e.customers[*customer];
            let (sender, recipient) = if *echo { (&page, c) } else { (c, &page) };
            let mut m = json!({"mid": mid});
            if let Some(t) = text {
                m["text"] = json!(t);
            }
            if *echo {
                m["is_echo"] = json!(true);
                m["app_id"] = json!(1_234_567_890u64);
            }
            let v = json!({"sender":{"id":sender},"recipient":{"id":recipient},"timestamp":ts,"message":m});
            let kind = if *echo { "echo" } else { "message" };
            let x = Expected {
                page,
                customer: c.clone(),
                kind,
                event_id: mid.clone(),
                text: text.clone(),
                ts: *ts,
                standby: *standby,
            };
            (v, x)
        }
        Item::Postback { customer, mid, title, ts } => {
            let c = &e.customers[*customer];
            let mut p = json!({"mid": mid, "payload": "BUY"});
            if let Some(t) = title {
                p["title"] = json!(t);
            }
            let v = json!({"sender":{"id":c},"recipient":{"id":page},"timestamp":ts,"postback":p});
            let x = Expected {
                page,
                customer: c.clone(),
                kind: "postback",
                event_id: mid.clone(),
                text: title.clone(),
                ts: *ts,
                standby: false,
            };
            (v, x)
        }
        Item::Comment { customer, by_page, n, post, verb, text, secs } => {
            let author = if *by_page { page.clone() } else { e.customers[*customer].clone() };
            let comment_id = format!("{post}_{n}");
            let mut value = json!({
                "item": "comment", "verb": verb, "comment_id": comment_id, "post_id": format!("{page}_{post}"),
                "from": {"id": author, "name": "Lan Anh"}, "created_time": secs,
            });
            if let Some(t) = text {
                value["message"] = json!(t);
            }
            let ts = secs * 1000;
            let event_id = if *verb == "add" { comment_id } else { format!("{comment_id}:{verb}:{ts}") };
            let x = Expected {
                page,
                customer: author,
                kind: "comment",
                event_id,
                text: text.clone(),
                ts,
                standby: false,
            };
            (json!({"field": "feed", "value": value}), x)
        }
    }
}

/// The notification's JSON and the events it holds, in the order the parser reads them
/// (per entry: `messaging[]`, then `standby[]`, then `changes[]`).
fn build(entries: &[Entry]) -> (Value, Vec<Expected>) {
    let mut expected = Vec::new();
    let mut json_entries = Vec::new();
    for e in entries {
        let (mut messaging, mut standby, mut changes) = (Vec::new(), Vec::new(), Vec::new());
        let (mut xm, mut xs, mut xc) = (Vec::new(), Vec::new(), Vec::new());
        for it in &e.items {
            let (v, x) = render(e, it);
            match it {
                Item::Message { standby: true, .. } => (standby.push(v), xs.push(x)),
                Item::Comment { .. } => (changes.push(v), xc.push(x)),
                _ => (messaging.push(v), xm.push(x)),
            };
        }
        expected.extend(xm.into_iter().chain(xs).chain(xc));
        json_entries.push(
            json!({"id": e.page, "time": 1, "messaging": messaging, "standby": standby, "changes": changes}),
        );
    }
    (json!({"object": "page", "entry": json_entries}), expected)
}

/// The body as Meta writes it: non-ASCII as `\uXXXX` (surrogate pairs beyond the BMP) and
/// `/` as `\/`. Outside strings a JSON document has neither, so escaping the whole text is safe.
fn meta_escaped(v: &Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out
}

fn parsed(body: &[u8]) -> Vec<Expected> {
    let p = parse_notification(body).expect("a generated notification is a notification");
    assert!(p.unknown.is_empty(), "{:?}", p.unknown);
    p.events
        .iter()
        .map(|ev| Expected {
            page: ev.page_id.clone(),
            customer: ev.customer_id.clone(),
            kind: ev.kind(),
            event_id: ev.event_id(),
            text: ev.to_message().and_then(|m| m.text),
            ts: ev.timestamp_ms,
            standby: ev.standby,
        })
        .collect()
}

/// Arbitrary JSON whose keys are the ones the parser looks for, so generated values reach deep
/// into the envelope, the entries and the items rather than failing at the first key.
fn json_like() -> impl Strategy<Value = Value> {
    const KEYS: &[&str] = &[
        "object",
        "entry",
        "id",
        "time",
        "messaging",
        "standby",
        "changes",
        "sender",
        "recipient",
        "timestamp",
        "message",
        "mid",
        "text",
        "attachments",
        "type",
        "payload",
        "is_echo",
        "app_id",
        "postback",
        "title",
        "reaction",
        "action",
        "read",
        "delivery",
        "watermark",
        "mids",
        "field",
        "value",
        "item",
        "verb",
        "comment_id",
        "post_id",
        "from",
        "name",
        "created_time",
        "quick_reply",
        "reply_to",
        "metadata",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "page",
            "comment",
            "feed",
            "add",
            "1",
            "12345",
            "2026-05-01T10:00:00+0000"
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_are_answered_without_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_notification(&body);
    }

    /// Structured garbage: whatever parses is planned without a panic, and every event the
    /// parser admits can be queued.
    #[test]
    fn any_json_shaped_like_a_notification_parses_and_plans(
        entries in prop::collection::vec(json_like(), 0..3),
        object in prop::sample::select(vec!["page", "user"]),
    ) {
        let body = json!({"object": object, "entry": entries}).to_string();
        if let Ok(p) = parse_notification(body.as_bytes()) {
            let n = p.events.len();
            let plan = plan_queue_messages(p.events, MAX_QUEUE_BODY_BYTES).expect("small events fit");
            prop_assert_eq!(plan.iter().map(|m| m.event_count).sum::<usize>(), n);
        }
    }

    /// Exactly the events the notification holds, in Meta's order, with their ids, whether
    /// Meta escapes the text or not.
    #[test]
    fn a_notification_parses_to_exactly_its_events(entries in notification()) {
        let (v, expected) = build(&entries);
        prop_assert_eq!(&parsed(v.to_string().as_bytes()), &expected);
        prop_assert_eq!(&parsed(meta_escaped(&v).as_bytes()), &expected);
    }

    /// The queue plan: every event once, in the group of its conversation, oldest first with
    /// Meta's order kept between equal timestamps, every body within the limit and
    /// deduplicated by its own hash; the same POST again plans the very same messages, so the
    /// queue's deduplication drops a redelivery.
    #[test]
    fn the_queue_plan_carries_each_event_once_in_order(
        entries in notification(),
        max_body in prop::sample::select(vec![1_500usize, 4_096, MAX_QUEUE_BODY_BYTES]),
    ) {
        let (v, _) = build(&entries);
        let body = v.to_string();
        let events = parse_notification(body.as_bytes()).expect("parse").events;
        let input: Vec<(String, String, i64)> =
            events.iter().map(|e| (e.conversation_id(), e.event_id(), e.timestamp_ms)).collect();
        let plan = plan_queue_messages(events, max_body).expect("plan");
        let mut out: Vec<(String, String, i64)> = Vec::new();
        for m in &plan {
            prop_assert!(m.body.len() <= max_body, "a body of {} bytes over {}", m.body.len(), max_body);
            prop_assert_eq!(&m.dedup_id, &body_dedup_id(&m.body));
            let batch: QueuedBatch = serde_json::from_str(&m.body).expect("the worker reads it");
            prop_assert_eq!(batch.events.len(), m.event_count);
            for ev in batch.events {
                prop_assert_eq!(&m.group_id, &fifo_id(&ev.conversation_id()));
                out.push((ev.conversation_id(), ev.event_id(), ev.timestamp_ms));
            }
        }
        // Per conversation: the input's events stably sorted by time, nothing more or less.
        let mut convs: Vec<&String> = input.iter().map(|e| &e.0).collect();
        convs.dedup();
        for conv in convs {
            let mut want: Vec<_> = input.iter().filter(|e| &e.0 == conv).cloned().collect();
            want.sort_by_key(|e| e.2);
            let got: Vec<_> = out.iter().filter(|e| &e.0 == conv).cloned().collect();
            prop_assert_eq!(got, want);
        }
        prop_assert_eq!(out.len(), input.len());
        let again = plan_queue_messages(parse_notification(body.as_bytes()).expect("parse").events, max_body)
            .expect("plan");
        prop_assert_eq!(again, plan);
    }

    /// Documented (`docs/meta-platform.md`, "At least once"): the same item twice in one POST
    /// is not dropped by the webhook; both copies reach the same conversation's group with the
    /// same event id, which is what the store deduplicates on.
    #[test]
    fn a_duplicate_within_a_post_reaches_the_store_under_one_id(entries in notification(), pick in any::<prop::sample::Index>()) {
        let (mut v, expected) = build(&entries);
        prop_assume!(!expected.is_empty());
        let want = &expected[pick.index(expected.len())];
        // Copy the item: find it by its event id among the first entry holding its Page.
        let e = entries.iter().position(|e| e.page == want.page).expect("its entry");
        let lists = ["messaging", "standby", "changes"];
        let mut copied = false;
        for list in lists {
            let items = v["entry"][e][list].as_array().cloned().unwrap_or_default();
            if let Some(it) = items.iter().find(|it| {
                let p = parse_notification(json!({"object":"page","entry":[{"id": want.page, (list): [it]}]}).to_string().as_bytes());
                p.is_ok_and(|p| p.events.first().is_some_and(|ev| ev.event_id() == want.event_id))
            }) {
                v["entry"][e][list].as_array_mut().expect("list").push(it.clone());
                copied = true;
                break;
            }
        }
        prop_assert!(copied);
        let events = parse_notification(v.to_string().as_bytes()).expect("parse").events;
        let copies: Vec<_> = events.iter().filter(|ev| ev.event_id() == want.event_id).collect();
        prop_assert_eq!(copies.len(), 2);
        prop_assert_eq!(copies[0].to_message().map(|m| m.id), copies[1].to_message().map(|m| m.id));
        let group = fifo_id(&copies[0].conversation_id());
        let plan = plan_queue_messages(events.clone(), MAX_QUEUE_BODY_BYTES).expect("plan");
        let queued = plan
            .iter()
            .filter(|m| m.group_id == group)
            .flat_map(|m| serde_json::from_str::<QueuedBatch>(&m.body).expect("body").events)
            .filter(|ev| ev.event_id() == want.event_id)
            .count();
        prop_assert_eq!(queued, 2);
    }

    /// A comment's `created_time` is whatever the signed body says: any number or text is
    /// read without a panic (seconds become milliseconds; what cannot be a time reads as 0).
    #[test]
    fn any_comment_time_is_read_without_panic(t in prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,30}".prop_map(Value::from),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}".prop_map(Value::from),
    ]) {
        let body = json!({"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{
            "item":"comment","verb":"add","comment_id":"1_2","post_id":"1_1","from":{"id":"2"},"created_time":t}}]}]});
        let p = parse_notification(body.to_string().as_bytes()).expect("parse");
        prop_assert_eq!(p.events.len(), 1);
        if let Some(s) = t.as_i64().filter(|s| (0..100_000_000_000).contains(s)) {
            prop_assert_eq!(p.events[0].timestamp_ms, s * 1000);
        }
    }
}
