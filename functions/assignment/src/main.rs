use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    adapters::telemetry::init();
    let table = adapters::config::required("TABLE_NAME")?;
    let aws = adapters::config::aws_sdk_config().await;
    let store = adapters::dynamo::DynamoStore::new(adapters::config::dynamodb_client(&aws), table);
    let graph = Arc::new(adapters::graph::HttpGraph::from_env()?);
    let facebook = Arc::new(adapters::facebook::Facebook::from_env(graph)?);
    let queue_url = adapters::config::required("QUEUE_URL")?;
    let queue = Arc::new(adapters::sqs::SqsQueue::new(adapters::config::sqs_client(&aws), queue_url, None));
    let worker = Arc::new(assignment::Worker::with_sync(
        adapters::Stores::from_one(Arc::new(store)),
        assignment::SyncDeps { facebook, queue },
    ));
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, lambda_runtime::Error>(worker.handle_sqs(ev.payload).await) }
    }))
    .await
}
