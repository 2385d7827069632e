#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    adapters::telemetry::init();
    let config = console_function::config_from_env()?;
    lambda_http::run(console_function::app(config)).await
}
