use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = adapters::wiring::Lambda::start().await;
    let api = Arc::new(admin_api::AdminApi {
        stores: env.stores()?,
        facebook: env.facebook_interactive()?,
        queue: env.queue()?,
    });
    let app =
        admin_api::router(api).layer(axum::middleware::from_fn(admin_api::identity::from_lambda_context));
    lambda_http::run(app).await
}
