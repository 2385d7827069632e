use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = adapters::wiring::Lambda::start().await;
    let cb = Arc::new(oauth_callback::Callback::new(&env.stores()?, env.facebook_interactive()?));
    lambda_http::run(oauth_callback::router(cb)).await
}
