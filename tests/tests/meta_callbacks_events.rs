//! Finding 6: the sample events of Meta's data callbacks, the Page data deletion and its worker
//! step (events/), driven through the functions' entry points.

use std::sync::Arc;

use adapters::Stores;
use adapters::memory::MemoryStore;
use aws_lambda_events::sqs::SqsEvent;
use axum::body::Body;
use domain::model::PageStatus;
use domain::ports::{DeletionCounts, DeletionRequest, DeletionStatus, ImportedPage, StoredPage};
use secrecy::SecretString;
use tower::ServiceExt;

const PAGE: &str = "111111111111111";
const USER: &str = "10000000001";

/// Shop A with the Page connected, its token imported by the person of the samples.
async fn shop() -> Stores {
    let stores = Stores::from_one(Arc::new(MemoryStore::new()));
    let imported = ImportedPage {
        page_id: PAGE.into(),
        name: "Áo Đẹp".into(),
        token_enc: "v1:sealed".into(),
        imported_by: "owner@shop-a.vn".into(),
    };
    stores.pages.import_page("shop-a", &imported).await.expect("import");
    integration_tests::connect_only_me(&stores, "shop-a", PAGE, "owner@shop-a.vn", PageStatus::Connected)
        .await;
    stores.facebook_users.link_pages(USER, "shop-a", &[PAGE.to_string()]).await.expect("link");
    stores
}

async fn call(app: axum::Router, event_json: &str) -> (u16, serde_json::Value) {
    let req = lambda_http::request::from_str(event_json).expect("API Gateway event");
    let resp = app.oneshot(req.map(|b| Body::from(b.to_vec()))).await.expect("response");
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

fn callbacks(stores: &Stores) -> axum::Router {
    let secrets = SecretString::from(integration_tests::APP_SECRET.to_string());
    let config = meta_callbacks::CallbacksConfig {
        app_secrets: domain::signature::AppSecrets::from_list(&secrets),
        base_url: None,
    };
    meta_callbacks::router(Arc::new(meta_callbacks::MetaCallbacks::new(config, stores)))
}

async fn page(stores: &Stores) -> StoredPage {
    stores.pages.page("shop-a", PAGE).await.expect("page").expect("exists")
}

#[tokio::test]
async fn the_deauthorize_sample_revokes_the_persons_page() {
    let stores = shop().await;
    let (s, b) = call(callbacks(&stores), include_str!("../../events/meta-deauthorize.json")).await;
    assert_eq!((s, b["pages_revoked"].as_u64()), (200, Some(1)), "{b}");
    let p = page(&stores).await;
    assert_eq!((p.record.status, p.token_enc), (PageStatus::LostConnection, None));
    assert_eq!(p.record.lost_reason.as_deref(), Some(meta_callbacks::DEAUTHORIZED_REASON));
}

#[tokio::test]
async fn the_data_deletion_samples_answer_a_status_url_on_the_api_host() {
    let stores = shop().await;
    let (s, b) = call(callbacks(&stores), include_str!("../../events/meta-data-deletion-forged.json")).await;
    assert_eq!(s, 401, "{b}");
    assert!(page(&stores).await.token_enc.is_some(), "a forged request changes nothing");

    let (s, b) = call(callbacks(&stores), include_str!("../../events/meta-data-deletion.json")).await;
    assert_eq!(s, 200, "{b}");
    let code = b["confirmation_code"].as_str().expect("code");
    assert_eq!(
        b["url"].as_str(),
        Some(
            format!("https://abcdef1234.execute-api.us-east-1.amazonaws.com/facebook/data-deletion/{code}")
                .as_str()
        )
    );
    assert!(stores.facebook_users.links(USER).await.expect("links").is_empty());
    assert!(page(&stores).await.token_enc.is_none());

    // The status sample's code: unknown until a request has it.
    let status = include_str!("../../events/meta-data-deletion-status.json");
    assert_eq!(call(callbacks(&stores), status).await.0, 404);
    let req = DeletionRequest {
        code: "0123456789abcdef0123456789abcdef".into(),
        status: DeletionStatus::Pending,
        requested_ms: 1_764_000_000_000,
        completed_ms: None,
        deleted: DeletionCounts::default(),
    };
    stores.facebook_users.create_deletion(&req).await.expect("create");
    let (s, b) = call(callbacks(&stores), status).await;
    assert_eq!((s, b["status"].as_str(), b["completed_at"].is_null()), (200, Some("pending"), true), "{b}");
}

#[tokio::test]
async fn the_page_data_deletion_samples_refuse_a_connected_page_then_erase() {
    let stores = shop().await;
    let worker = assignment::Worker::new(stores.clone());
    let batch: SqsEvent = serde_json::from_str(include_str!("../../events/assignment-sqs-batch.json"))
        .expect("sample SQS event");
    assert!(worker.handle_sqs(batch).await.batch_item_failures.is_empty());

    let queue = Arc::new(adapters::memory::MemoryQueue::new(std::time::Duration::from_secs(30), 5));
    let api = Arc::new(admin_api::AdminApi {
        stores: stores.clone(),
        facebook: integration_tests::offline_facebook(),
        queue: queue.clone(),
    });
    let app = || {
        admin_api::router(api.clone())
            .layer(axum::middleware::from_fn(admin_api::identity::from_lambda_context))
    };
    let (s, b) = call(app(), include_str!("../../events/admin-delete-page-data.json")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("page_connected")), "{b}");
    stores.pages.disconnect_page("shop-a", PAGE).await.expect("disconnect");
    let (s, b) = call(app(), include_str!("../../events/admin-delete-page-data.json")).await;
    assert_eq!((s, b["page"].as_str()), (202, Some("deleted")), "{b}");

    // The worker's step (the sample, as the queue would deliver it): both conversations go.
    let step: SqsEvent = serde_json::from_str(include_str!("../../events/assignment-erase-step.json"))
        .expect("sample erase step");
    for _ in 0..2 {
        assert!(worker.handle_sqs(step.clone()).await.batch_item_failures.is_empty(), "idempotent");
    }
    for customer in ["2222222222222222", "3333333333333333"] {
        let id = format!("{PAGE}_{customer}");
        assert!(stores.conversations.conversation("shop-a", &id).await.expect("read").is_none(), "{id}");
        assert!(
            stores.conversations.list_messages("shop-a", &id, None, 10).await.expect("list").items.is_empty()
        );
    }
    assert!(stores.pages.page("shop-a", PAGE).await.expect("page").is_none());
}
