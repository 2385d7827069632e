//! The scheduled health check in batches (issue 13, "Limits"; `docs/operations.md`), on both
//! backends against the fake Graph API: a sweep over many Pages spread across runs by a small
//! batch and time budget and continued from the saved cursor, the skip rule, the re-check of
//! Pages in lost connection (back, or not), missing permissions, expiring tokens, and the run
//! stopping early when Meta's usage is high.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use adapters::Stores;
use adapters::facebook::Facebook;
use adapters::graph::{HttpGraph, UsageLimits};
use domain::graph::{REQUIRED_PERMISSIONS, SUBSCRIBED_FIELDS};
use domain::model::PageStatus;
use domain::ports::ImportedPage;
use integration_tests::fake_graph::{FAKE_APP_ID, FakeFailure, FakeGraph};
use integration_tests::*;
use page_health::{HealthCheck, HealthReport, Stop, SweepSettings};
use secrecy::SecretString;

const SHOP: &str = "shop-a";

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{}", 4000 + i)).collect()
}

fn token(page: &str) -> String {
    format!("page-token-{page}")
}

/// A Facebook whose Graph client is a fresh one of the fake (its own usage book).
fn facebook(fake: &FakeGraph) -> Arc<Facebook> {
    let graph: HttpGraph = fast_graph_client(fake).with_usage_limits(UsageLimits {
        max_slowdown: Duration::from_millis(50),
        ..UsageLimits::BACKGROUND
    });
    Arc::new(facebook_with(Arc::new(graph)))
}

/// `n` Pages connected to the shop with working tokens, subscribed at the fake.
async fn setup(backend: Backend, n: usize) -> (Stores, FakeGraph, Vec<String>) {
    let (stores, _, _) = backends(backend, 30, 5).await;
    let fake = FakeGraph::start().await;
    let fb = facebook(&fake);
    let pages = ids(n);
    for id in &pages {
        fake.add_page(id, &format!("Page {id}"), &token(id), &["MANAGE"]);
        fake.set_token_info(&token(id), true, 0, REQUIRED_PERMISSIONS);
        fake.state()
            .subscriptions
            .entry(id.clone())
            .or_default()
            .insert(FAKE_APP_ID.to_string(), SUBSCRIBED_FIELDS.iter().map(|f| f.to_string()).collect());
        let sealed = fb.cipher.encrypt(SHOP, id, &SecretString::from(token(id)));
        let p = ImportedPage {
            page_id: id.clone(),
            name: format!("Page {id}"),
            token_enc: sealed,
            imported_by: "owner@shop-a.vn".into(),
        };
        stores.pages.import_page(SHOP, &p).await.expect("import");
        connect_only_me(&stores, SHOP, id, "owner@shop-a.vn", PageStatus::Connected).await;
    }
    (stores, fake, pages)
}

fn check(stores: &Stores, fb: Arc<Facebook>, sweep: SweepSettings) -> HealthCheck {
    HealthCheck { pages: stores.pages.clone(), facebook: fb, silence: Duration::from_secs(86_400), sweep }
}

/// Back-to-back sweeps (no interval), a batch of 4.
fn eager() -> SweepSettings {
    SweepSettings { batch: 4, interval: Duration::ZERO, ..SweepSettings::default() }
}

/// The input tokens `debug_token` was asked about, in order.
fn debugged(fake: &FakeGraph) -> Vec<String> {
    fake.requests_to("debug_token")
        .iter()
        .filter_map(|r| r.param("input_token").map(str::to_string))
        .collect()
}

async fn status(stores: &Stores, page: &str) -> (PageStatus, PageStatus, Option<String>) {
    let p = stores.pages.page(SHOP, page).await.expect("page").expect("exists");
    let r = stores.pages.page_route(page).await.expect("route").expect("exists");
    (p.record.status, r.status, p.record.lost_reason)
}

async fn a_sweep_is_spread_over_runs_by_its_budget_and_continued(backend: Backend) {
    let (stores, fake, pages) = setup(backend, 25).await;
    // Each token check takes 100 ms: a 250 ms budget covers two or three batches of 4.
    for _ in 0..25 {
        fake.fail_next("debug_token", FakeFailure::Delay(Duration::from_millis(100)));
    }
    let settings = SweepSettings {
        batch: 4,
        budget: Duration::from_millis(250),
        interval: Duration::from_secs(1800),
        ..SweepSettings::default()
    };
    let hc = check(&stores, facebook(&fake), settings);
    let mut reports: Vec<HealthReport> = Vec::new();
    while reports.last().is_none_or(|r| !r.finished_sweep) {
        assert!(reports.len() < 25, "the sweep never ends: {reports:?}");
        reports.push(hc.run().await.expect("run"));
    }
    // The figure docs/operations.md quotes.
    println!(
        "sweep of 25 Pages, batch 4, budget 250 ms: {} runs, checked per run {:?}",
        reports.len(),
        reports.iter().map(|r| r.checked).collect::<Vec<_>>()
    );
    let first = &reports[0];
    assert_eq!(first.stop, Stop::Budget, "{first:?}");
    assert!(first.checked < 25, "{first:?}");
    assert!(reports.len() >= 2);
    assert!(reports[1..].iter().all(|r| r.continued_from.is_some()), "{reports:?}");
    assert_eq!(reports.iter().map(|r| r.checked).sum::<usize>(), 25, "{reports:?}");
    assert_eq!(reports.iter().map(|r| r.healthy).sum::<usize>(), 25);
    // Every Page's token asked about exactly once over the whole sweep.
    let asked = debugged(&fake);
    assert_eq!(asked.len(), 25, "{asked:?}");
    assert_eq!(asked.iter().cloned().collect::<BTreeSet<_>>(), pages.iter().map(|p| token(p)).collect());
    // The next scheduled run, within the interval, does nothing.
    let idle = hc.run().await.expect("run");
    assert_eq!((idle.stop, idle.checked), (Stop::NotDue, 0), "{idle:?}");
    assert_eq!(debugged(&fake).len(), 25);
}

async fn pages_delivering_and_checked_recently_are_skipped(backend: Backend) {
    let (stores, fake, pages) = setup(backend, 6).await;
    let hc = check(&stores, facebook(&fake), eager());
    let first = hc.run().await.expect("run");
    assert_eq!((first.checked, first.skipped, first.healthy), (6, 0, 6), "{first:?}");
    let now = domain::timefmt::now_ms();
    for p in &pages[..3] {
        stores.pages.touch_delivery(p, now).await.expect("delivery");
    }
    let second = hc.run().await.expect("run");
    assert!(second.finished_sweep);
    assert_eq!((second.checked, second.skipped), (3, 3), "{second:?}");
    assert_eq!(debugged(&fake).len(), 9, "three Pages cost no Graph call");
    // A delivery without a recent check is not enough.
    let (stores2, fake2, pages2) = setup(backend, 2).await;
    stores2.pages.touch_delivery(&pages2[0], now).await.expect("delivery");
    let r = check(&stores2, facebook(&fake2), eager()).run().await.expect("run");
    assert_eq!((r.checked, r.skipped), (2, 0), "{r:?}");
}

async fn lost_pages_come_back_when_their_token_works_again(backend: Backend) {
    let (stores, fake, pages) = setup(backend, 3).await;
    for p in &pages {
        fake.set_token_info(&token(p), false, 0, &[]);
    }
    let hc = check(&stores, facebook(&fake), eager());
    let first = hc.run().await.expect("run");
    assert_eq!(first.marked_lost, pages, "{first:?}");
    // 4000: the token works again with every permission. 4001: still dead. 4002: valid, but a
    // permission is still missing.
    fake.set_token_info(&token(&pages[0]), true, 0, REQUIRED_PERMISSIONS);
    let partial: Vec<&str> =
        REQUIRED_PERMISSIONS.iter().copied().filter(|p| *p != "pages_messaging").collect();
    fake.set_token_info(&token(&pages[2]), true, 0, &partial);
    let second = hc.run().await.expect("run");
    assert_eq!(second.recovered, [pages[0].clone()], "{second:?}");
    assert_eq!((second.still_lost, second.checked), (2, 3), "{second:?}");
    assert_eq!(status(&stores, &pages[0]).await, (PageStatus::Connected, PageStatus::Connected, None));
    for p in &pages[1..] {
        let (page, route, reason) = status(&stores, p).await;
        assert_eq!((page, route), (PageStatus::LostConnection, PageStatus::LostConnection), "{p}");
        assert!(reason.is_some(), "{p}");
    }
}

async fn a_token_missing_a_permission_puts_the_page_in_lost_connection(backend: Backend) {
    let (stores, fake, pages) = setup(backend, 2).await;
    let partial: Vec<&str> =
        REQUIRED_PERMISSIONS.iter().copied().filter(|p| *p != "pages_manage_metadata").collect();
    fake.set_token_info(&token(&pages[1]), true, 0, &partial);
    let r = check(&stores, facebook(&fake), eager()).run().await.expect("run");
    assert_eq!(r.marked_lost, [pages[1].clone()], "{r:?}");
    assert_eq!(r.healthy, 1);
    let (page, route, reason) = status(&stores, &pages[1]).await;
    assert_eq!((page, route), (PageStatus::LostConnection, PageStatus::LostConnection));
    let reason = reason.expect("reason");
    assert!(
        reason.contains("pages_manage_metadata") && reason.contains("connect the Page again"),
        "{reason}"
    );
}

async fn tokens_expiring_soon_are_flagged(backend: Backend) {
    let (stores, fake, pages) = setup(backend, 3).await;
    let now_s = domain::timefmt::now_ms() / 1000;
    fake.set_token_info(&token(&pages[0]), true, now_s + 2 * 86_400, REQUIRED_PERMISSIONS);
    fake.set_token_info(&token(&pages[1]), true, now_s + 60 * 86_400, REQUIRED_PERMISSIONS);
    let r = check(&stores, facebook(&fake), eager()).run().await.expect("run");
    assert_eq!(r.expiring, [pages[0].clone()], "{r:?}");
    assert_eq!(r.healthy, 3, "an expiring token still works");
}

async fn the_run_stops_early_when_meta_usage_is_high(backend: Backend) {
    let (stores, fake, pages) = setup(backend, 12).await;
    // Every answer says the app has used 96 % of its calls.
    fake.set_usage_headers(Some(r#"{"call_count":96,"total_cputime":10,"total_time":10}"#), None);
    let first = check(&stores, facebook(&fake), eager()).run().await.expect("run");
    assert_eq!(first.stop, Stop::RateLimited, "{first:?}");
    assert!(!first.finished_sweep);
    assert!(first.checked >= 1 && first.checked <= 4, "only the first batch went out: {first:?}");
    let spent = debugged(&fake).len();
    assert!(spent <= 4, "{spent} debug_token calls at 96 %");
    assert!(first.marked_lost.is_empty(), "a deferral is not a verdict: {first:?}");

    // Usage falls; a later run (a new Lambda, a new client) continues where this one stopped.
    fake.set_usage_headers(None, None);
    let hc = check(&stores, facebook(&fake), eager());
    let mut runs = vec![hc.run().await.expect("run")];
    // It starts after the last Page checked in order: when the first Page of the batch was
    // refused (the calls answer in any order), that is the beginning.
    while !runs.last().is_some_and(|r| r.finished_sweep) {
        assert!(runs.len() < 10, "{runs:?}");
        runs.push(hc.run().await.expect("run"));
    }
    println!(
        "12 Pages at 96 % app usage: run 1 checked {} and stopped; then {} runs, checked {:?}; debug_token calls {}",
        first.checked,
        runs.len(),
        runs.iter().map(|r| r.checked).collect::<Vec<_>>(),
        debugged(&fake).len()
    );
    // Only Pages checked out of order in the stopped batch are asked about twice.
    assert!(debugged(&fake).len() <= 12 + first.checked, "{}", debugged(&fake).len());
    let asked: BTreeSet<String> = debugged(&fake).into_iter().collect();
    assert_eq!(asked, pages.iter().map(|p| token(p)).collect(), "every Page checked once usage fell");
}

/// Key rotation (docs/operations.md, "Secrets and key rotation"): with `k2` made current, one
/// sweep moves every Page's token to it, the Pages the skip rule spares a Graph call included;
/// after it the old key can leave the ring and every token still opens.
async fn a_key_rotation_reaches_every_page_skipped_or_checked(backend: Backend) {
    let (stores, fake, pages) = setup(backend, 6).await;
    let old = facebook(&fake);
    let first = check(&stores, old.clone(), eager()).run().await.expect("run");
    assert_eq!(first.healthy, 6, "{first:?}");
    let now = domain::timefmt::now_ms();
    for p in &pages[..3] {
        stores.pages.touch_delivery(p, now).await.expect("delivery");
    }
    let cfg = stack_config(Backend::Memory, Duration::from_secs(1), 1);
    let k1 = secrecy::ExposeSecret::expose_secret(&cfg.token_key).to_string();
    let k2 = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
    let ring = |keys: serde_json::Value| {
        adapters::crypto::TokenCipher::from_ring_secret(&SecretString::from(
            serde_json::json!({"current": "k2", "keys": keys}).to_string(),
        ))
        .expect("ring")
    };
    let mut rotated = facebook_with(Arc::new(fast_graph_client(&fake)));
    rotated.cipher = ring(serde_json::json!({"k1": k1, "k2": k2}));
    let second = check(&stores, Arc::new(rotated), eager()).run().await.expect("run");
    assert!(second.finished_sweep, "{second:?}");
    assert_eq!((second.checked, second.skipped), (3, 3), "{second:?}");
    let only_k2 = ring(serde_json::json!({"k2": k2}));
    for p in &pages {
        let sealed =
            stores.pages.page(SHOP, p).await.expect("page").expect("exists").token_enc.expect("token");
        assert!(sealed.starts_with("v2:k2:"), "Page {p} still under its old key: {}", &sealed[..6]);
        let opened = only_k2.decrypt(SHOP, p, &sealed).expect("opens without k1");
        assert_eq!(secrecy::ExposeSecret::expose_secret(&opened), token(p).as_str());
    }
}

on_both_backends!(
    a_key_rotation_reaches_every_page_skipped_or_checked,
    a_sweep_is_spread_over_runs_by_its_budget_and_continued,
    pages_delivering_and_checked_recently_are_skipped,
    lost_pages_come_back_when_their_token_works_again,
    a_token_missing_a_permission_puts_the_page_in_lost_connection,
    tokens_expiring_soon_are_flagged,
    the_run_stops_early_when_meta_usage_is_high,
);
