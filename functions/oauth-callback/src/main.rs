use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    adapters::telemetry::init();
    let table = adapters::config::required("TABLE_NAME")?;
    let graph = Arc::new(adapters::graph::HttpGraph::from_env()?);
    let facebook = Arc::new(adapters::facebook::Facebook::from_env(graph)?);
    let aws = adapters::config::aws_sdk_config().await;
    let store = adapters::dynamo::DynamoStore::new(adapters::config::dynamodb_client(&aws), table);
    let cb =
        Arc::new(oauth_callback::Callback { stores: adapters::Stores::from_one(Arc::new(store)), facebook });
    lambda_http::run(oauth_callback::router(cb)).await
}
