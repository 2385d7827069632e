//! Meta's rate-limit headers (PLATFORM.md, "Rate-limit headers"; `docs/operations.md`) read by
//! the Graph client against the fake Graph API: usage kept per Page and app-wide, calls slowed
//! from the threshold on and refused near the limit or during a throttle (with the time to come
//! back, and without reaching Meta), interactive clients never sleeping long, and malformed
//! headers ignored.

use std::time::{Duration, Instant};

use adapters::graph::{HttpGraph, RetryPolicy, UsageLimits};
use domain::graph::{Graph, GraphErrorKind, REQUIRED_PERMISSIONS, SUBSCRIBED_FIELDS};
use integration_tests::fake_graph::{FAKE_APP_ID, FAKE_APP_SECRET, FakeFailure, FakeGraph};
use integration_tests::fast_graph_client;
use secrecy::SecretString;

const PAGE: &str = "1201";
const TOKEN: &str = "page-token-1201";

async fn fake() -> FakeGraph {
    let fake = FakeGraph::start().await;
    fake.add_page(PAGE, "Shop Page", TOKEN, &["MANAGE"]);
    fake.set_token_info(TOKEN, true, 0, REQUIRED_PERMISSIONS);
    fake
}

fn token() -> SecretString {
    SecretString::from(TOKEN.to_string())
}

/// A background client slowing by at most 400 ms (the product's is 4 s).
fn background(fake: &FakeGraph) -> HttpGraph {
    fast_graph_client(fake).with_usage_limits(UsageLimits {
        max_slowdown: Duration::from_millis(400),
        ..UsageLimits::BACKGROUND
    })
}

fn buc(percent: u32, regain_minutes: u32) -> String {
    format!(
        r#"{{"{PAGE}":[{{"type":"pages","call_count":{percent},"total_cputime":5,"total_time":5,"estimated_time_to_regain_access":{regain_minutes}}}]}}"#
    )
}

#[tokio::test]
async fn usage_is_kept_per_page_and_app_wide() {
    let fake = fake().await;
    let g = background(&fake);
    assert!(g.usage(PAGE).is_none() && g.app_usage().is_none());
    fake.set_usage_headers(Some(r#"{"call_count":12,"total_cputime":40,"total_time":7}"#), Some(&buc(33, 0)));
    g.subscribed_fields(PAGE, &token()).await.expect("call");
    assert_eq!(g.usage(PAGE).map(|u| u.percent), Some(33));
    assert_eq!(g.app_usage().map(|u| u.percent), Some(40), "the highest of the three counts");
    assert!(g.usage("999").is_none());
    // A clone shares what was seen (the Lambda's one client, cloned into tasks).
    assert_eq!(g.clone().usage(PAGE).map(|u| u.percent), Some(33));
}

#[tokio::test]
async fn the_client_slows_down_from_the_threshold_on() {
    let fake = fake().await;
    let g = background(&fake);
    fake.set_usage_headers(Some(r#"{"call_count":50}"#), None);
    g.debug_token(&token()).await.expect("first call");
    let t = Instant::now();
    g.debug_token(&token()).await.expect("below the threshold");
    let unhurried = t.elapsed();
    assert!(unhurried < Duration::from_millis(250), "{unhurried:?}");

    fake.set_usage_headers(Some(r#"{"call_count":90}"#), None);
    g.debug_token(&token()).await.expect("records 90 %");
    let t = Instant::now();
    g.debug_token(&token()).await.expect("slowed, not refused");
    let slowed = t.elapsed();
    // 90 % is 16/20 of the way from 75 to 95: 320 ms of the 400.
    assert!(slowed >= Duration::from_millis(300), "{slowed:?}");
    assert_eq!(fake.request_count("debug_token"), 4, "every call reached Meta");
}

#[tokio::test]
async fn near_the_limit_calls_are_refused_without_reaching_meta() {
    let fake = fake().await;
    let g = background(&fake);
    fake.set_usage_headers(None, Some(&buc(96, 0)));
    g.subscribed_fields(PAGE, &token()).await.expect("the call that reports 96 %");
    let t = Instant::now();
    let e = g.subscribed_fields(PAGE, &token()).await.expect_err("refused");
    assert!(t.elapsed() < Duration::from_millis(100), "fails fast: {:?}", t.elapsed());
    assert_eq!(e.kind, GraphErrorKind::RateLimited);
    let wait = e.retry_after.expect("a retry-after");
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(120), "{wait:?}");
    assert_eq!(fake.request_count("subscribed_apps"), 1, "the refused call never left");
    // The Page's usage does not hold back the app's own calls.
    g.debug_token(&token()).await.expect("app-token call");
    assert!(!e.message.contains(TOKEN));
}

#[tokio::test]
async fn a_throttle_is_respected_until_access_is_regained() {
    let fake = fake().await;
    let g = background(&fake);
    fake.set_usage_headers(None, Some(&buc(100, 7)));
    fake.fail_next("subscribed_apps", FakeFailure::error(400, 80001, None, "There have been too many calls"));
    let e = g.subscribed_fields(PAGE, &token()).await.expect_err("throttled");
    assert_eq!(e.kind, GraphErrorKind::RateLimited);
    let wait = e.retry_after.expect("Meta's regain time");
    assert!(wait > Duration::from_secs(410) && wait <= Duration::from_secs(420), "{wait:?}");
    assert_eq!(fake.request_count("subscribed_apps"), 1, "not retried into the throttle");
    // Even once Meta's headers say all is well elsewhere, this Page waits out its throttle.
    let e = g.subscribe_page(PAGE, &token(), SUBSCRIBED_FIELDS).await.expect_err("still throttled");
    assert!(e.retry_after.is_some_and(|w| w > Duration::from_secs(400)), "{e:?}");
    assert_eq!(fake.request_count("subscribe"), 0);
    // The Send API too: a refusal proves nothing was sent, and it is not retried.
    let e = g
        .send_text(PAGE, &token(), "42", "hi", domain::graph::MessagingType::Response, "")
        .await
        .expect_err("send refused");
    assert_eq!(e.kind, GraphErrorKind::RateLimited);
    assert_eq!(fake.request_count("send"), 0);
}

#[tokio::test]
async fn interactive_clients_are_barely_slowed() {
    let fake = fake().await;
    let g = HttpGraph::new(
        fake.base_url(),
        FAKE_APP_ID.into(),
        SecretString::from(FAKE_APP_SECRET.to_string()),
        RetryPolicy::INTERACTIVE,
    )
    .expect("client");
    fake.set_usage_headers(Some(r#"{"call_count":94}"#), None);
    g.debug_token(&token()).await.expect("records 94 %");
    let t = Instant::now();
    g.debug_token(&token()).await.expect("slowed a little");
    assert!(t.elapsed() <= Duration::from_millis(400), "{:?}", t.elapsed());
    fake.set_usage_headers(Some(r#"{"call_count":99}"#), None);
    g.debug_token(&token()).await.expect("records 99 %");
    let t = Instant::now();
    let e = g.debug_token(&token()).await.expect_err("refused at once");
    assert!(t.elapsed() < Duration::from_millis(100));
    assert!(e.retry_after.is_some());
}

#[tokio::test]
async fn malformed_usage_headers_are_ignored() {
    let fake = fake().await;
    let g = background(&fake);
    for (app, page) in [
        ("not json", "{broken"),
        (r#"{"call_count":"lots"}"#, r#"{"1201":{"call_count":99}}"#),
        ("[]", r#"{"../1201":[{"call_count":99}]}"#),
        (r#"{"call_count":-5}"#, r#"{"1201":[{"type":"pages"}]}"#),
    ] {
        fake.set_usage_headers(Some(app), Some(page));
        let t = Instant::now();
        g.subscribed_fields(PAGE, &token()).await.expect("the answer itself is used");
        g.debug_token(&token()).await.expect("the answer itself is used");
        assert!(t.elapsed() < Duration::from_millis(200), "{app} / {page}: not slowed");
    }
    assert!(g.usage(PAGE).is_none() && g.app_usage().is_none());
    // A good header after bad ones is read.
    fake.set_usage_headers(Some(r#"{"call_count":80}"#), None);
    g.debug_token(&token()).await.expect("call");
    assert_eq!(g.app_usage().map(|u| u.percent), Some(80));
}
