use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    adapters::telemetry::init();
    let table = adapters::config::required("TABLE_NAME")?;
    let aws = adapters::config::aws_sdk_config().await;
    let store = adapters::dynamo::DynamoStore::new(adapters::config::dynamodb_client(&aws), table);
    let graph = Arc::new(adapters::graph::HttpGraph::from_env()?);
    let facebook = Arc::new(adapters::facebook::Facebook::from_env(graph)?);
    let queue_url = adapters::config::required("QUEUE_URL")?;
    let queue = Arc::new(adapters::sqs::SqsQueue::new(adapters::config::sqs_client(&aws), queue_url, None));
    let api = Arc::new(admin_api::AdminApi {
        stores: adapters::Stores::from_one(Arc::new(store)),
        facebook,
        queue,
    });
    let app =
        admin_api::router(api).layer(axum::middleware::from_fn(admin_api::identity::from_lambda_context));
    lambda_http::run(app).await
}
