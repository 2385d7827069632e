use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = adapters::wiring::Lambda::start().await;
    let silence_hours: u64 = adapters::config::parse_or("HEALTH_SILENCE_HOURS", 24)?;
    let check = Arc::new(page_health::HealthCheck {
        pages: env.stores()?.pages,
        facebook: env.facebook()?,
        silence: Duration::from_secs(silence_hours * 3600),
    });
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let check = check.clone();
        async move {
            let r = check.run().await?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({
                "checked": r.checked, "healthy": r.healthy, "marked_lost": r.marked_lost,
                "resubscribed": r.resubscribed, "silent": r.silent, "unknown": r.unknown,
            }))
        }
    }))
    .await
}
