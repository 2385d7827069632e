use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    adapters::telemetry::init();
    let table = adapters::config::required("TABLE_NAME")?;
    let aws = adapters::config::aws_sdk_config().await;
    let store = adapters::dynamo::DynamoStore::new(adapters::config::dynamodb_client(&aws), table);
    let worker = Arc::new(assignment::Worker::new(adapters::Stores::from_one(Arc::new(store))));
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, lambda_runtime::Error>(worker.handle_sqs(ev.payload).await) }
    }))
    .await
}
