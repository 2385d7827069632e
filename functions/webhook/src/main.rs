use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    adapters::telemetry::init();
    let config = webhook::WebhookConfig::from_env()?;
    let queue_url = adapters::config::required("QUEUE_URL")?;
    let aws = adapters::config::aws_sdk_config().await;
    let queue = adapters::sqs::SqsQueue::new(adapters::config::sqs_client(&aws), queue_url, None);
    let app = webhook::router(Arc::new(webhook::Webhook { config, queue: Arc::new(queue) }));
    lambda_http::run(app).await
}
