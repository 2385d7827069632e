use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    adapters::telemetry::init();
    let table = adapters::config::required("TABLE_NAME")?;
    let silence_hours: u64 = adapters::config::parse_or("HEALTH_SILENCE_HOURS", 24)?;
    let graph = Arc::new(adapters::graph::HttpGraph::from_env()?);
    let facebook = Arc::new(adapters::facebook::Facebook::from_env(graph)?);
    let aws = adapters::config::aws_sdk_config().await;
    let store = adapters::dynamo::DynamoStore::new(adapters::config::dynamodb_client(&aws), table);
    let check = Arc::new(page_health::HealthCheck {
        stores: adapters::Stores::from_one(Arc::new(store)),
        facebook,
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
