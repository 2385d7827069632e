use std::sync::Arc;

use adapters::secrets::SecretKind;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = adapters::wiring::Lambda::start().await;
    let config = meta_callbacks::CallbacksConfig::new(&env.secret(SecretKind::AppSecret)?)?;
    let app = meta_callbacks::router(Arc::new(meta_callbacks::MetaCallbacks::new(config, &env.stores()?)));
    lambda_http::run(app).await
}
