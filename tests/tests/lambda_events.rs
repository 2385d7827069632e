//! The functions driven through their Lambda entry points with the sample events of events/.

use std::sync::Arc;

use adapters::Stores;
use adapters::memory::MemoryStore;
use aws_lambda_events::sqs::SqsEvent;
use axum::body::Body;
use domain::model::PageStatus;
use tower::ServiceExt;

async fn shop_with_page(page: &str) -> Stores {
    shop_with_page_in(page, PageStatus::Connected).await
}

async fn shop_with_page_in(page: &str, status: PageStatus) -> Stores {
    let stores = Stores::from_one(Arc::new(MemoryStore::new()));
    integration_tests::connect_only_me(&stores, "shop-a", page, "owner@shop-a.vn", status).await;
    stores
}

async fn messages_of(stores: &Stores, conversation: &str) -> domain::model::Paged<domain::model::Message> {
    stores.conversations.list_messages("shop-a", conversation, None, 10).await.expect("messages")
}

fn sqs_sample() -> SqsEvent {
    serde_json::from_str(include_str!("../../events/assignment-sqs-batch.json")).expect("sample SQS event")
}

#[tokio::test]
async fn the_sample_sqs_batch_is_stored_once_however_often_it_comes() {
    let stores = shop_with_page("111111111111111").await;
    let worker = assignment::Worker::new(stores.clone());
    for _ in 0..3 {
        let resp = worker.handle_sqs(sqs_sample()).await;
        assert!(resp.batch_item_failures.is_empty());
    }
    let msgs = messages_of(&stores, "111111111111111_2222222222222222").await;
    assert_eq!(msgs.items.len(), 1);
    assert_eq!(msgs.items[0].text.as_deref(), Some("Chào shop, áo này còn size M không?"));
    let pb = messages_of(&stores, "111111111111111_3333333333333333").await;
    assert_eq!(pb.items.len(), 1);
    assert_eq!(pb.items[0].kind, "postback");
    let conv = stores
        .conversations
        .conversation("shop-a", "111111111111111_2222222222222222")
        .await
        .expect("get")
        .expect("conversation");
    assert_eq!(conv.assignee.as_deref(), Some("owner@shop-a.vn"));
}

#[tokio::test]
async fn a_poison_record_fails_alone_and_holds_back_only_its_own_group() {
    let stores = shop_with_page("111111111111111").await;
    let worker = assignment::Worker::new(stores.clone());
    let mut event = sqs_sample();
    let mut poison = event.records[0].clone();
    poison.message_id = Some("poison".into());
    poison.body = Some("not the queue format".into());
    let mut after_poison = event.records[0].clone();
    after_poison.message_id = Some("same-group-after".into());
    // [poison (group A), text (group A), postback (group B)]
    event.records.insert(0, poison);
    event.records[1] = after_poison;
    let resp = worker.handle_sqs(event).await;
    let failed: Vec<_> = resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, ["poison", "same-group-after"]);
    let pb = messages_of(&stores, "111111111111111_3333333333333333").await;
    assert_eq!(pb.items.len(), 1, "the other group went through");
    let held = messages_of(&stores, "111111111111111_2222222222222222").await;
    assert!(held.items.is_empty(), "the record behind the poison one waits, in order");
}

async fn admin_call(stores: Stores, event_json: &str) -> (u16, serde_json::Value) {
    let req = lambda_http::request::from_str(event_json).expect("API Gateway event");
    let req = req.map(|b| Body::from(b.to_vec()));
    let queue = Arc::new(adapters::memory::MemoryQueue::new(std::time::Duration::from_secs(30), 5));
    let api =
        Arc::new(admin_api::AdminApi { stores, facebook: integration_tests::offline_facebook(), queue });
    let app =
        admin_api::router(api).layer(axum::middleware::from_fn(admin_api::identity::from_lambda_context));
    let resp = app.oneshot(req).await.expect("response");
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn the_admin_samples_read_the_jwt_authorizer_claims() {
    let stores = shop_with_page("111111111111111").await;
    let worker = assignment::Worker::new(stores.clone());
    assert!(worker.handle_sqs(sqs_sample()).await.batch_item_failures.is_empty());

    let (s, b) = admin_call(stores.clone(), include_str!("../../events/admin-list-conversations.json")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["items"].as_array().map(Vec::len), Some(2));
    let (s, b) = admin_call(stores.clone(), include_str!("../../events/admin-list-messages.json")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["items"][0]["id"], "m_walking_skeleton_1");
    let (s, b) = admin_call(stores.clone(), include_str!("../../events/admin-list-members.json")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["items"][0]["email"], "owner@shop-a.vn");
    // Who the console signs in as: the claims' email, the role from the member list.
    let (s, b) = admin_call(stores.clone(), include_str!("../../events/admin-me.json")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!((b["email"].as_str(), b["role"].as_str()), (Some("owner@shop-a.vn"), Some("owner")));

    // The next page of a walk that began long ago: refused, the client starts again.
    let (s, b) =
        admin_call(stores.clone(), include_str!("../../events/admin-list-conversations-stale-cursor.json"))
            .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], "cursor_expired");

    // Without authorizer claims (a misconfigured route): 401, never data.
    let mut bare: serde_json::Value =
        serde_json::from_str(include_str!("../../events/admin-list-conversations.json")).expect("json");
    bare["requestContext"]["authorizer"] = serde_json::Value::Null;
    let (s, b) = admin_call(stores, &bare.to_string()).await;
    assert_eq!(s, 401, "{b}");
}

#[tokio::test]
async fn events_for_a_page_in_lost_connection_are_still_stored() {
    let stores = shop_with_page_in("111111111111111", PageStatus::LostConnection).await;
    let worker = assignment::Worker::new(stores.clone());
    assert!(worker.handle_sqs(sqs_sample()).await.batch_item_failures.is_empty());
    let msgs = messages_of(&stores, "111111111111111_2222222222222222").await;
    assert_eq!(msgs.items.len(), 1);
}
