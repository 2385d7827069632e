//! The health sweep's storage (issue 13, "Limits"), the same contract on both store
//! implementations: routes a batch at a time behind a cursor (a Query on gsi1), the healthy
//! check's stamp, the way back from lost connection (never over a takeover), and the sweep's
//! claim and progress.

use adapters::Stores;
use domain::model::PageStatus;
use domain::ports::{ImportedPage, ROUTE_LEASE_MS, RouteChange, StoreError, Takeover};
use domain::timefmt::now_ms;
use integration_tests::{connect_only_me, store_contract};

async fn connected_pages(s: &Stores, tenant: &str, ids: &[String]) {
    for id in ids {
        let p = ImportedPage {
            page_id: id.clone(),
            name: format!("Page {id}"),
            token_enc: "v1:sealed".into(),
            imported_by: format!("o@{tenant}.vn"),
        };
        s.pages.import_page(tenant, &p).await.expect("import");
        connect_only_me(s, tenant, id, &format!("o@{tenant}.vn"), PageStatus::Connected).await;
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{}", 3000 + i)).collect()
}

async fn version(s: &Stores, page: &str) -> String {
    let all = s.pages.list_routes().await.expect("routes");
    all.into_iter().find(|r| r.route.page_id == page).expect("route").version
}

async fn routes_come_a_batch_at_a_time_in_page_order(s: Stores) {
    let pages = ids(25);
    connected_pages(&s, "shop-a", &pages).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut calls = 0;
    loop {
        let page = s.pages.list_routes_page(cursor.as_deref(), 4).await.expect("page");
        calls += 1;
        assert!(page.items.len() <= 4, "{}", page.items.len());
        seen.extend(page.items.iter().map(|r| r.route.page_id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, pages, "every route once, in Page-id order");
    assert_eq!(calls, 7, "25 routes, 4 a batch");

    // A cursor names a Page id: it still works once that route is gone.
    let first = s.pages.list_routes_page(None, 3).await.expect("page");
    let after = first.next_cursor.expect("more");
    s.pages.disconnect_page("shop-a", "3002").await.expect("disconnect");
    let next = s.pages.list_routes_page(Some(&after), 2).await.expect("page after a deleted route");
    let next_ids: Vec<&str> = next.items.iter().map(|r| r.route.page_id.as_str()).collect();
    assert_eq!(next_ids, ["3003", "3004"]);

    for bad in ["not-a-cursor", "eyJfbCI6ImNvbnYifQ"] {
        assert!(
            matches!(s.pages.list_routes_page(Some(bad), 2).await, Err(StoreError::InvalidCursor)),
            "{bad}"
        );
    }
}

async fn a_healthy_check_is_stamped_at_its_version_only(s: Stores) {
    connected_pages(&s, "shop-a", &ids(1)).await;
    let v = version(&s, "3000").await;
    assert!(!s.pages.record_health_check("3000", "another-version", 5).await.expect("stamp"));
    assert!(s.pages.record_health_check("3000", &v, 1_700_000_000_000).await.expect("stamp"));
    let page = s.pages.list_routes_page(None, 10).await.expect("page");
    assert_eq!(page.items[0].checked_ms, Some(1_700_000_000_000));
    assert!(!s.pages.record_health_check("9999", &v, 5).await.expect("no route"));
}

async fn a_lost_page_comes_back_only_at_its_version_and_never_over_a_takeover(s: Stores) {
    connected_pages(&s, "shop-a", &ids(2)).await;
    let v = version(&s, "3000").await;
    // Connected, not lost: nothing to recover.
    assert!(!s.pages.mark_recovered("shop-a", "3000", &v).await.expect("recover"));
    assert!(s.pages.mark_lost("shop-a", "3000", &v, "token invalid").await.expect("lost"));
    assert!(!s.pages.mark_recovered("shop-a", "3000", "old-version").await.expect("recover"));
    assert!(!s.pages.mark_recovered("shop-b", "3000", &v).await.expect("recover"));
    assert!(s.pages.mark_recovered("shop-a", "3000", &v).await.expect("recover"));
    let p = s.pages.page("shop-a", "3000").await.expect("page").expect("exists");
    assert_eq!(p.record.status, PageStatus::Connected);
    assert_eq!(p.record.lost_reason, None);
    assert_eq!(
        s.pages.page_route("3000").await.expect("route").expect("exists").status,
        PageStatus::Connected
    );

    // Shop B takes 3001 over while it is lost: the health check must not bring it back to A.
    let v1 = version(&s, "3001").await;
    assert!(s.pages.mark_lost("shop-a", "3001", &v1, "admin removed").await.expect("lost"));
    let take = RouteChange {
        tenant_id: "shop-b".into(),
        page_id: "3001".into(),
        op: "op-b".into(),
        until_ms: now_ms() + ROUTE_LEASE_MS,
        draft: None,
        take_over: Some(Takeover { tenant_id: "shop-a".into(), version: v1.clone(), reason: "taken".into() }),
    };
    s.pages.begin_change(&take).await.expect("takeover lease");
    assert!(!s.pages.mark_recovered("shop-a", "3001", &v1).await.expect("recover"));
    let r = s.pages.page_route("3001").await.expect("route").expect("exists");
    assert_ne!(r.status, PageStatus::Connected);
}

async fn one_run_at_a_time_advances_the_sweep(s: Stores) {
    let now = now_ms();
    let first = s.pages.claim_health_sweep("run-a", now, now + 60_000).await.expect("claim");
    assert_eq!(first.expect("free"), Default::default());
    assert!(s.pages.claim_health_sweep("run-b", now, now + 60_000).await.expect("claim").is_none());
    assert!(!s.pages.save_health_sweep("run-b", Some("c-b"), now, false).await.expect("save"));
    assert!(s.pages.save_health_sweep("run-a", Some("c-a"), now, false).await.expect("save"));
    // run-a dies without releasing: its claim lapses, run-b continues from its cursor.
    let later = now + 60_001;
    let b = s.pages.claim_health_sweep("run-b", later, later + 60_000).await.expect("claim");
    assert_eq!(b.expect("lapsed").cursor.as_deref(), Some("c-a"));
    assert!(!s.pages.save_health_sweep("run-a", None, later, true).await.expect("late save refused"));
    assert!(s.pages.save_health_sweep("run-b", None, later, true).await.expect("finish"));
    let c = s.pages.claim_health_sweep("run-c", later, later + 1).await.expect("claim").expect("released");
    assert_eq!(c.cursor, None);
    assert_eq!(c.last_finished_ms, Some(later));
}

store_contract!(
    routes_come_a_batch_at_a_time_in_page_order,
    a_healthy_check_is_stamped_at_its_version_only,
    a_lost_page_comes_back_only_at_its_version_and_never_over_a_takeover,
    one_run_at_a_time_advances_the_sweep,
);
