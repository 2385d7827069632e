use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = adapters::wiring::Lambda::start().await;
    let config = webhook::WebhookConfig::from_env()?;
    let app = webhook::router(Arc::new(webhook::Webhook { config, queue: env.queue()? }));
    lambda_http::run(app).await
}
