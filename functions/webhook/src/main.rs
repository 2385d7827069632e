use std::sync::Arc;

use adapters::secrets::SecretKind::{AppSecret, VerifyToken};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = adapters::wiring::Lambda::start().await;
    let config = webhook::WebhookConfig::new(&env.secret(AppSecret)?, env.secret(VerifyToken)?)?;
    let app = webhook::router(Arc::new(webhook::Webhook { config, queue: env.queue()? }));
    lambda_http::run(app).await
}
