use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = adapters::wiring::Lambda::start().await;
    let sync = assignment::SyncDeps { facebook: env.facebook()?, queue: env.queue()? };
    let worker = Arc::new(assignment::Worker::with_sync(env.stores()?, sync));
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, lambda_runtime::Error>(worker.handle_sqs(ev.payload).await) }
    }))
    .await
}
