//! The webhook's CPU cost per POST (verify, parse, split, build the queue batch) against the
//! floor of any handler: HMAC-SHA256 of the body plus a serde_json parse of the same bytes.
//! Method and results: docs/benchmarks.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use sha2::Sha256;

const SECRET: &str = "bench-app-secret";

fn item(page: &str, customer: usize, ts: usize) -> serde_json::Value {
    serde_json::json!({
        "sender": {"id": format!("{}", 7_000_000_000_000_000u64 + customer as u64)},
        "recipient": {"id": page},
        "timestamp": 1_764_000_000_000u64 + ts as u64,
        "message": {
            "mid": format!("m_{customer}_{ts}_AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz"),
            "text": "Ch\u{e0}o shop, \u{e1}o n\u{e0}y c\u{f2}n size M kh\u{f4}ng? Giao h\u{e0}ng v\u{1ec1} H\u{e0} N\u{1ed9}i bao l\u{e2}u?"
        }
    })
}

/// Meta's wire form: non-ASCII escaped as \uXXXX.
fn escape_non_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{:04x}", u));
            }
        }
    }
    out
}

fn payload(entries: usize, items_per_entry: usize, customers: usize) -> String {
    let page = "111111111111111";
    let entry: Vec<_> = (0..entries)
        .map(|e| {
            let items: Vec<_> = (0..items_per_entry)
                .map(|i| item(page, (e * items_per_entry + i) % customers, e * items_per_entry + i))
                .collect();
            serde_json::json!({"id": page, "time": 1_764_000_000_000u64, "messaging": items})
        })
        .collect();
    escape_non_ascii(&serde_json::json!({"object": "page", "entry": entry}).to_string())
}

fn sign(body: &[u8]) -> String {
    domain::signature::sign(SECRET, body)
}

fn bench(c: &mut Criterion) {
    let config = webhook::WebhookConfig {
        app_secrets: domain::signature::AppSecrets::from_list(&SecretString::from(SECRET.to_string())),
        verify_token: SecretString::from("t".to_string()),
        max_body_bytes: 5 << 20,
    };
    let mut group = c.benchmark_group("webhook");
    for (name, entries, per, customers) in
        [("1 message", 1, 1, 1), ("200 messages, 20 customers", 20, 10, 20)]
    {
        let body = payload(entries, per, customers);
        let sig = sign(body.as_bytes());
        let events = (entries * per) as u64;
        group.throughput(Throughput::Elements(events));
        group.bench_with_input(
            BenchmarkId::new("baseline hmac+serde_json::Value", name),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
                    mac.update(body.as_bytes());
                    let tag = mac.finalize().into_bytes();
                    let v: serde_json::Value = serde_json::from_slice(body.as_bytes()).expect("json");
                    (tag, v)
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("prepare (verify+parse+split+batch)", name),
            &body,
            |b, body| {
                b.iter(|| {
                    let (msgs, report) =
                        webhook::prepare(&config, Some(sig.as_bytes()), body.as_bytes()).expect("prepare");
                    assert_eq!(report.events as u64, events);
                    msgs
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
