//! The Graph HTTP client (`adapters::graph::HttpGraph`) against the fake Graph API: the OAuth
//! chain, Page subscriptions, `debug_token`, conversations, error classification, retries,
//! timeouts, and that no token or app secret is ever printed.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters::graph::{HttpGraph, RetryPolicy};
use domain::graph::{Graph, GraphError, GraphErrorKind, REQUIRED_PERMISSIONS, SUBSCRIBED_FIELDS};
use integration_tests::fake_graph::{FAKE_APP_ID, FAKE_APP_SECRET, FakeFailure, FakeGraph};
use secrecy::{ExposeSecret, SecretString};

const REDIRECT: &str = "https://inbox.example/oauth/callback";
const CONVERSATION_FIELDS: &str =
    "participants,updated_time,messages.limit(20){id,created_time,from,to,message}";

use integration_tests::{fast_graph_client as client, fast_graph_policy as policy};

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A fake with one Page `page_id` whose token is `token`.
async fn fake_with_page(page_id: &str, token: &str) -> FakeGraph {
    let fake = FakeGraph::start().await;
    fake.add_page(page_id, "Shop Page", token, &["MANAGE", "MESSAGING"]);
    fake
}

#[tokio::test]
async fn oauth_chain_from_code_to_every_page() {
    let fake = FakeGraph::start().await;
    fake.expect_redirect_uri(REDIRECT);
    fake.add_code("code-1", "short-1");
    for i in 0..7 {
        let tasks: &[&str] = if i % 2 == 0 { &["ANALYZE", "MANAGE", "MESSAGING"] } else { &["MODERATE"] };
        fake.add_page(&format!("10{i}"), &format!("Page {i}"), &format!("page-token-{i}"), tasks);
    }
    fake.set_accounts_page_size(3);
    let g = client(&fake);

    let short = g.exchange_code("code-1", REDIRECT).await.expect("code exchange");
    assert_eq!(short.expose_secret(), "short-1");
    let long = g.long_lived_token(&short).await.expect("long-lived exchange");
    assert_eq!(long.expose_secret(), "long-short-1");
    let perms = g.permissions(&long).await.expect("permissions");
    let expected: Vec<(String, String)> =
        REQUIRED_PERMISSIONS.iter().map(|p| (p.to_string(), "granted".to_string())).collect();
    assert_eq!(perms, expected);

    let pages = g.accounts(&long).await.expect("accounts");
    assert_eq!(fake.request_count("accounts"), 3, "7 Pages, 3 per answer");
    let ids: Vec<&str> = pages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["100", "101", "102", "103", "104", "105", "106"]);
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p.name, format!("Page {i}"));
        assert_eq!(p.access_token.expose_secret(), format!("page-token-{i}"));
        assert_eq!(p.is_admin(), i % 2 == 0, "{}", p.id);
    }
    assert_eq!(pages[0].tasks, strings(&["ANALYZE", "MANAGE", "MESSAGING"]));
    assert_eq!(pages[1].tasks, strings(&["MODERATE"]));

    // What went over the wire.
    let ex = &fake.requests_to("exchange")[0];
    assert_eq!((ex.method.as_str(), ex.path.as_str()), ("GET", "/v25.0/oauth/access_token"));
    assert_eq!(ex.param("client_id"), Some(FAKE_APP_ID));
    assert_eq!(ex.param("client_secret"), Some(FAKE_APP_SECRET));
    assert_eq!(ex.param("redirect_uri"), Some(REDIRECT));
    assert_eq!(ex.param("code"), Some("code-1"));
    let ll = &fake.requests_to("long_lived")[0];
    assert_eq!(ll.param("grant_type"), Some("fb_exchange_token"));
    assert_eq!(ll.param("fb_exchange_token"), Some("short-1"));
    assert_eq!(ll.param("client_secret"), Some(FAKE_APP_SECRET));
    assert_eq!(fake.requests_to("permissions")[0].param("access_token"), Some("long-short-1"));
    let acc = fake.requests_to("accounts");
    assert_eq!(acc[0].path, "/v25.0/me/accounts");
    assert_eq!(acc[0].param("fields"), Some("id,name,access_token,tasks"));
    assert_eq!(acc[0].param("limit"), Some("100"));
    assert_eq!(acc[0].param("after"), None);
    for r in &acc {
        assert_eq!(r.param("access_token"), Some("long-short-1"));
    }
    assert!(acc[1].param("after").is_some() && acc[2].param("after").is_some());
    assert_ne!(acc[1].param("after"), acc[2].param("after"));

    // A code works once; a short-lived token is not accepted as a user token by the fake.
    let e = g.exchange_code("code-1", REDIRECT).await.expect_err("a used code");
    assert_eq!((e.kind, e.code, e.subcode), (GraphErrorKind::Other, Some(100), Some(36007)));
    let e = g.permissions(&short).await.expect_err("short-lived token");
    assert_eq!(e.kind, GraphErrorKind::TokenInvalid);
}

#[tokio::test]
async fn a_redirect_uri_other_than_the_dialogs_is_refused() {
    let fake = FakeGraph::start().await;
    fake.expect_redirect_uri(REDIRECT);
    fake.add_code("code-2", "short-2");
    let e =
        client(&fake).exchange_code("code-2", "https://elsewhere.example/cb").await.expect_err("mismatch");
    assert_eq!((e.code, e.subcode, e.kind), (Some(100), Some(36008), GraphErrorKind::Other));
    assert_eq!(fake.request_count("exchange"), 1);
}

#[tokio::test]
async fn declined_permissions_are_reported_as_given() {
    let fake = FakeGraph::start().await;
    fake.add_code("c", "s");
    fake.set_permissions([("pages_messaging", "granted"), ("pages_manage_metadata", "declined")]);
    let g = client(&fake);
    let long = g.long_lived_token(&g.exchange_code("c", REDIRECT).await.expect("code")).await.expect("long");
    let perms = g.permissions(&long).await.expect("permissions");
    assert_eq!(
        perms,
        vec![
            ("pages_messaging".to_string(), "granted".to_string()),
            ("pages_manage_metadata".to_string(), "declined".to_string())
        ]
    );
}

#[tokio::test]
async fn accounts_without_pages_is_empty() {
    let fake = FakeGraph::start().await;
    fake.add_code("c", "s");
    let g = client(&fake);
    let long = g.long_lived_token(&g.exchange_code("c", REDIRECT).await.expect("code")).await.expect("long");
    assert!(g.accounts(&long).await.expect("accounts").is_empty());
    assert_eq!(fake.request_count("accounts"), 1);
}

#[tokio::test]
async fn subscribe_records_fields_and_page_token_and_reads_them_back() {
    let fake = fake_with_page("201", "page-token-201").await;
    fake.add_foreign_subscription("201", "another-app", &["feed"]);
    let g = client(&fake);
    let token = secret("page-token-201");

    assert_eq!(g.subscribed_fields("201", &token).await.expect("before"), Vec::<String>::new());
    g.subscribe_page("201", &token, SUBSCRIBED_FIELDS).await.expect("subscribe");
    assert_eq!(fake.subscribed("201"), Some(strings(SUBSCRIBED_FIELDS)));
    let req = &fake.requests_to("subscribe")[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v25.0/201/subscribed_apps"));
    assert_eq!(req.param("access_token"), Some("page-token-201"));
    assert_eq!(req.param("subscribed_fields"), Some(SUBSCRIBED_FIELDS.join(",").as_str()));

    // Only this app's entry counts, not another app's on the same Page.
    assert_eq!(g.subscribed_fields("201", &token).await.expect("after"), strings(SUBSCRIBED_FIELDS));
    assert_eq!(fake.requests_to("subscribed_apps")[1].param("access_token"), Some("page-token-201"));

    // Another token than the Page's is refused as Meta does: 190, not retried.
    let e =
        g.subscribe_page("201", &secret("some-user-token"), &["messages"]).await.expect_err("wrong token");
    assert_eq!(e.kind, GraphErrorKind::TokenInvalid);
    assert_eq!(fake.request_count("subscribe"), 2);
    assert_eq!(fake.subscribed("201"), Some(strings(SUBSCRIBED_FIELDS)));
}

#[tokio::test]
async fn unsubscribe_removes_this_apps_subscription() {
    let fake = fake_with_page("202", "page-token-202").await;
    fake.add_foreign_subscription("202", "another-app", &["feed"]);
    let g = client(&fake);
    let token = secret("page-token-202");
    g.subscribe_page("202", &token, &["messages", "feed"]).await.expect("subscribe");
    g.unsubscribe_page("202", &token).await.expect("unsubscribe");
    let req = &fake.requests_to("unsubscribe")[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("DELETE", "/v25.0/202/subscribed_apps"));
    assert_eq!(req.param("access_token"), Some("page-token-202"));
    assert_eq!(fake.subscribed("202"), None);
    assert!(g.subscribed_fields("202", &token).await.expect("after").is_empty());
    let e = g.unsubscribe_page("999", &token).await.expect_err("unknown Page");
    assert_eq!((e.kind, e.code), (GraphErrorKind::Other, Some(100)));
}

#[tokio::test]
async fn debug_token_reads_validity_expiry_and_scopes() {
    let fake = FakeGraph::start().await;
    fake.set_token_info("long-user-token", true, 1_790_000_000, &["pages_messaging", "pages_show_list"]);
    fake.set_token_info("page-token-x", true, 0, &["pages_messaging"]);
    fake.set_token_info("revoked-token", false, 1_700_000_000, &[]);
    let g = client(&fake);

    let info = g.debug_token(&secret("long-user-token")).await.expect("debug");
    assert!(info.is_valid);
    assert_eq!(info.expires_at, 1_790_000_000);
    assert_eq!(info.scopes, strings(&["pages_messaging", "pages_show_list"]));
    assert_eq!(g.debug_token(&secret("page-token-x")).await.expect("page").expires_at, 0);
    assert!(!g.debug_token(&secret("revoked-token")).await.expect("revoked").is_valid);
    let unknown = g.debug_token(&secret("never-issued")).await.expect("unknown");
    assert_eq!((unknown.is_valid, unknown.expires_at, unknown.scopes.len()), (false, 0, 0));

    let req = &fake.requests_to("debug_token")[0];
    assert_eq!(req.path, "/v25.0/debug_token");
    assert_eq!(req.param("input_token"), Some("long-user-token"));
    assert_eq!(req.param("access_token"), Some(format!("{FAKE_APP_ID}|{FAKE_APP_SECRET}").as_str()));

    // A wrong app secret makes the app token invalid.
    let wrong =
        HttpGraph::new(fake.base_url(), fake.app_id(), secret("wrong-app-secret"), policy()).expect("client");
    let e = wrong.debug_token(&secret("long-user-token")).await.expect_err("bad app token");
    assert_eq!(e.kind, GraphErrorKind::TokenInvalid);
}

const T0: i64 = 1_795_000_000_000; // whole seconds: Graph times have no milliseconds

#[tokio::test]
async fn conversations_are_paged_with_messages_mapped_and_times_parsed() {
    let fake = fake_with_page("301", "page-token-301").await;
    fake.set_conversations_page_size(2);
    for i in 0..5i64 {
        let customer = format!("psid-{i}");
        let base = T0 + i * 3_600_000;
        let mids = [format!("m_{i}_a"), format!("m_{i}_b"), format!("m_{i}_c")];
        fake.add_conversation(
            "301",
            &format!("t_{i}"),
            base + 120_000,
            &customer,
            vec![
                (mids[0].as_str(), base, customer.as_str(), "hello"),
                (mids[1].as_str(), base + 60_000, "301", "hi, how can we help?"),
                (mids[2].as_str(), base + 120_000, customer.as_str(), ""),
            ],
        );
    }
    let g = client(&fake);
    let token = secret("page-token-301");

    let mut all = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = g.conversations("301", &token, after.as_deref()).await.expect("conversations");
        pages += 1;
        all.extend(page.conversations);
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["t_4", "t_3", "t_2", "t_1", "t_0"], "newest first");

    let c = &all[4];
    assert_eq!(c.updated_ms, T0 + 120_000);
    assert_eq!(c.participant_ids, strings(&["psid-0", "301"]));
    assert_eq!(c.participant_names.get("psid-0").map(String::as_str), Some("Customer psid-0"));
    let mids: Vec<&str> = c.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(mids, ["m_0_c", "m_0_b", "m_0_a"], "newest first, as Graph gives them");
    assert_eq!(c.messages[2].created_ms, T0);
    assert_eq!(c.messages[2].from_id, "psid-0");
    assert_eq!(c.messages[2].text.as_deref(), Some("hello"));
    assert_eq!(c.messages[1].from_id, "301");
    assert_eq!(c.messages[1].created_ms, T0 + 60_000);
    assert_eq!(c.messages[0].text, None, "an attachment-only message has no text");

    let reqs = fake.requests_to("conversations");
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].path, "/v25.0/301/conversations");
    assert_eq!(reqs[0].param("platform"), Some("messenger"));
    assert_eq!(reqs[0].param("fields"), Some(CONVERSATION_FIELDS));
    assert_eq!(reqs[0].param("after"), None);
    for r in &reqs {
        assert_eq!(r.param("access_token"), Some("page-token-301"));
    }
    assert!(reqs[1].param("after").is_some() && reqs[2].param("after").is_some());
}

#[tokio::test]
async fn an_invalid_token_is_classified_and_not_retried() {
    let fake = FakeGraph::start().await;
    fake.fail_next(
        "permissions",
        FakeFailure::error(
            400,
            190,
            Some(460),
            "Error validating access token: The session has been invalidated because the user changed their password.",
        ),
    );
    let e = client(&fake).permissions(&secret("long-x")).await.expect_err("190");
    assert_eq!(e.kind, GraphErrorKind::TokenInvalid);
    assert_eq!((e.status, e.code, e.subcode), (400, Some(190), Some(460)));
    assert!(e.fbtrace_id.is_some());
    assert!(e.message.contains("changed their password"), "{}", e.message);
    assert!(e.lost_reason().is_some_and(|r| r.contains("password")));
    assert_eq!(fake.request_count("permissions"), 1);
}

#[tokio::test]
async fn a_rate_limit_is_retried_until_it_passes() {
    let fake = fake_with_page("401", "page-token-401").await;
    for _ in 0..2 {
        fake.fail_next(
            "subscribe",
            FakeFailure::error(400, 4, None, "(#4) Application request limit reached"),
        );
    }
    client(&fake).subscribe_page("401", &secret("page-token-401"), &["messages"]).await.expect("third try");
    assert_eq!(fake.request_count("subscribe"), 3);
    assert_eq!(fake.subscribed("401"), Some(strings(&["messages"])));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_transient() {
    let fake = FakeGraph::start().await;
    for _ in 0..3 {
        fake.fail_next("debug_token", FakeFailure::error(500, 2, None, "An unexpected error has occurred."));
    }
    let g = client(&fake);
    let e = g.debug_token(&secret("t")).await.expect_err("three 500s");
    assert_eq!((e.kind, e.status, e.code), (GraphErrorKind::Transient, 500, Some(2)));
    assert_eq!(fake.request_count("debug_token"), 3);
    // The queue is spent: the next call goes through.
    assert!(!g.debug_token(&secret("t")).await.expect("fourth").is_valid);
    assert_eq!(fake.request_count("debug_token"), 4);
}

/// The worker's profile lookup: the name with the Page token; one attempt, never retried; a
/// PSID that is not digits refused before any request.
#[tokio::test]
async fn a_profile_name_is_one_attempt_with_the_page_token() {
    let fake = FakeGraph::start().await;
    fake.add_page("301", "Shop", "page-token-301", &["MANAGE"]);
    fake.add_profile("301", "7001", "Trần Minh");
    let g = client(&fake);
    let token = secret("page-token-301");
    assert_eq!(g.profile_name("7001", &token).await.expect("name").as_deref(), Some("Trần Minh"));
    let r = &fake.requests_to("profile")[0];
    assert_eq!((r.path.as_str(), r.param("fields")), ("/v25.0/7001", Some("name")));
    assert_eq!(r.param("access_token"), Some("page-token-301"));
    fake.fail_next("profile", FakeFailure::error(500, 2, None, "An unexpected error has occurred."));
    let e = g.profile_name("7001", &token).await.expect_err("500");
    assert_eq!((e.kind, fake.request_count("profile")), (GraphErrorKind::Transient, 2), "not retried");
    assert!(g.profile_name("7002", &token).await.is_err(), "no such profile");
    assert!(g.profile_name("../me", &token).await.is_err());
    assert_eq!(fake.request_count("profile"), 3, "a PSID that is not digits is never sent");
}

#[tokio::test]
async fn non_json_error_bodies_are_classified_by_status() {
    let fake = FakeGraph::start().await;
    let g = client(&fake);
    for _ in 0..3 {
        fake.fail_next(
            "debug_token",
            FakeFailure::Raw { status: 502, body: "<html>Bad Gateway</html>".into() },
        );
    }
    let e = g.debug_token(&secret("t")).await.expect_err("502");
    assert_eq!(
        (e.kind, e.status, e.code, e.message.as_str()),
        (GraphErrorKind::Transient, 502, None, "HTTP 502")
    );
    assert_eq!(fake.request_count("debug_token"), 3);

    fake.fail_next("debug_token", FakeFailure::Raw { status: 404, body: "Not Found".into() });
    let e = g.debug_token(&secret("t")).await.expect_err("404");
    assert_eq!((e.kind, e.status, e.message.as_str()), (GraphErrorKind::Other, 404, "HTTP 404"));
    assert_eq!(fake.request_count("debug_token"), 4, "not retried");
}

#[tokio::test]
async fn a_2xx_body_that_does_not_parse_is_other_and_not_retried() {
    let fake = FakeGraph::start().await;
    let g = client(&fake);
    fake.fail_next("exchange", FakeFailure::Raw { status: 200, body: "surprise".into() });
    let e = g.exchange_code("c", REDIRECT).await.expect_err("not JSON");
    assert_eq!((e.kind, e.status), (GraphErrorKind::Other, 200));
    fake.fail_next("exchange", FakeFailure::Raw { status: 200, body: r#"{"token_type":"bearer"}"#.into() });
    let e = g.exchange_code("c", REDIRECT).await.expect_err("no token");
    assert_eq!((e.kind, e.status), (GraphErrorKind::Other, 200));
    assert!(e.message.contains("access_token"), "names the missing field: {}", e.message);
    assert_eq!(fake.request_count("exchange"), 2);
}

#[tokio::test]
async fn a_delay_beyond_the_timeout_is_transient() {
    let fake = FakeGraph::start().await;
    for _ in 0..3 {
        fake.fail_next("permissions", FakeFailure::Delay(Duration::from_secs(2)));
    }
    let started = Instant::now();
    let e = client(&fake).permissions(&secret("t")).await.expect_err("timeouts");
    assert_eq!((e.kind, e.status), (GraphErrorKind::Transient, 0));
    assert!(e.message.contains("timed out"), "{}", e.message);
    assert_eq!(fake.request_count("permissions"), 3);
    assert!(started.elapsed() < Duration::from_millis(1900), "each attempt stops at the timeout");
}

#[tokio::test]
async fn one_slow_answer_is_retried() {
    let fake = FakeGraph::start().await;
    fake.set_token_info("t", true, 0, &[]);
    fake.fail_next("debug_token", FakeFailure::Delay(Duration::from_secs(1)));
    assert!(client(&fake).debug_token(&secret("t")).await.expect("second try").is_valid);
    assert_eq!(fake.request_count("debug_token"), 2);
}

#[tokio::test]
async fn no_server_is_transient() {
    let fake = FakeGraph::start().await;
    let g = client(&fake);
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let e = g.permissions(&secret("t")).await.expect_err("nobody listens");
    assert_eq!((e.kind, e.status), (GraphErrorKind::Transient, 0));
}

#[tokio::test]
async fn from_env_uses_the_first_app_secret() {
    let fake = FakeGraph::start().await;
    fake.set_token_info("t", true, 0, &[]);
    // SAFETY: the only test of this binary that touches these variables.
    unsafe {
        std::env::set_var("FB_GRAPH_URL", fake.base_url());
        std::env::set_var("FB_APP_ID", FAKE_APP_ID);
        std::env::set_var("FB_APP_SECRET", format!(" {FAKE_APP_SECRET} , previous-secret"));
    }
    let g = HttpGraph::from_env().expect("from env");
    assert_eq!(g.app_id(), FAKE_APP_ID);
    assert_eq!(g.policy(), RetryPolicy::default());
    assert!(g.debug_token(&secret("t")).await.expect("debug").is_valid);
}

// ---- secrets never printed ----

/// Every span field and event field, as text (a tiny `tracing` subscriber).
struct Capture {
    out: Arc<Mutex<String>>,
    next_id: AtomicU64,
}

struct Visitor<'a>(&'a mut String);

impl tracing::field::Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Capture {
    fn push(&self, f: impl FnOnce(&mut String)) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut out);
        out.push('\n');
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        self.push(|o| {
            let _ = write!(o, "span {} ", span.metadata().name());
            span.record(&mut Visitor(o));
        });
        tracing::span::Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        self.push(|o| values.record(&mut Visitor(o)));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        self.push(|o| {
            let _ = write!(o, "event {} ", event.metadata().level());
            event.record(&mut Visitor(o));
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn no_error_log_or_debug_output_holds_a_token_or_the_app_secret() {
    let logs = Arc::new(Mutex::new(String::new()));
    let _guard = tracing::subscriber::set_default(Capture { out: logs.clone(), next_id: AtomicU64::new(0) });

    let secrets =
        ["code-S1", "short-S1", "long-short-S1", "page-S1-token", FAKE_APP_SECRET, "wrong-app-secret"];
    let fake = fake_with_page("501", "page-S1-token").await;
    fake.add_code("code-S1", "short-S1");
    let g = client(&fake);
    let page_token = secret("page-S1-token");
    let mut errors: Vec<GraphError> = Vec::new();

    // The happy path logs too.
    let short = g.exchange_code("code-S1", REDIRECT).await.expect("code");
    let long = g.long_lived_token(&short).await.expect("long");
    let pages = g.accounts(&long).await.expect("accounts");
    g.subscribe_page("501", &page_token, SUBSCRIBED_FIELDS).await.expect("subscribe");

    // A used code, a token refused, an error message that quotes the token.
    errors.push(g.exchange_code("code-S1", REDIRECT).await.expect_err("used code"));
    errors.push(g.permissions(&short).await.expect_err("short token"));
    fake.fail_next(
        "permissions",
        FakeFailure::error(400, 190, Some(467), "Malformed access token long-short-S1"),
    );
    errors.push(g.permissions(&long).await.expect_err("echoed token"));
    assert!(errors[2].message.contains("[redacted]"), "{}", errors[2].message);
    fake.fail_next(
        "long_lived",
        FakeFailure::error(400, 100, None, "bad client_secret test-app-secret, token short-S1"),
    );
    errors.push(g.long_lived_token(&short).await.expect_err("echoed secret"));
    errors.push(g.subscribe_page("501", &long, &["messages"]).await.expect_err("user token on a Page"));
    // Timeouts and 5xx, retried to the end.
    for _ in 0..3 {
        fake.fail_next("accounts", FakeFailure::Delay(Duration::from_secs(1)));
        fake.fail_next("conversations", FakeFailure::Raw { status: 503, body: "down".into() });
    }
    errors.push(g.accounts(&long).await.expect_err("timeouts"));
    errors.push(g.conversations("501", &page_token, Some("cursor")).await.expect_err("503s"));
    // A 2xx body whose unexpected value is a token.
    fake.fail_next(
        "permissions",
        FakeFailure::Raw { status: 200, body: r#"{"data":"long-short-S1"}"#.into() },
    );
    errors.push(g.permissions(&long).await.expect_err("garbage 2xx"));
    fake.fail_next(
        "exchange",
        FakeFailure::Raw { status: 200, body: r#"{"access_token":["code-S1"]}"#.into() },
    );
    errors.push(g.exchange_code("code-S1", REDIRECT).await.expect_err("garbage token"));
    // A wrong app secret.
    let wrong =
        HttpGraph::new(fake.base_url(), fake.app_id(), secret("wrong-app-secret"), policy()).expect("client");
    errors.push(wrong.debug_token(&long).await.expect_err("bad app token"));
    errors.push(wrong.exchange_code("code-S1", REDIRECT).await.expect_err("bad client secret"));
    // Nobody listening.
    let base = fake.base_url();
    drop(fake);
    let dead = HttpGraph::new(base, FAKE_APP_ID.into(), secret(FAKE_APP_SECRET), policy()).expect("client");
    errors.push(dead.long_lived_token(&short).await.expect_err("connection refused"));
    errors.push(dead.debug_token(&long).await.expect_err("connection refused"));
    errors.push(dead.subscribed_fields("501", &page_token).await.expect_err("connection refused"));

    let mut printed = String::new();
    for e in &errors {
        let _ = writeln!(printed, "{e}\n{e:?}\n{:?}", e.lost_reason());
    }
    let _ = writeln!(printed, "{g:?}\n{wrong:?}\n{dead:?}\n{pages:?}\n{short:?}\n{long:?}");
    let logged = logs.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for s in secrets {
        assert!(!printed.contains(s), "{s} printed in:\n{printed}");
        assert!(!logged.contains(s), "{s} logged in:\n{logged}");
    }
    // The capture saw the calls (so the check above means something).
    assert!(logged.contains("graph.accounts") && logged.contains("Graph call failed"), "{logged}");
    assert!(logged.contains("page_id=501"), "{logged}");
}
