use std::sync::Arc;
use std::time::Duration;

use adapters::config::parse_or;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = adapters::wiring::Lambda::start().await;
    let silence_hours: u64 = parse_or("HEALTH_SILENCE_HOURS", 24)?;
    let secs = |s: u64| Duration::from_secs(s);
    let sweep = page_health::SweepSettings {
        batch: parse_or("HEALTH_BATCH", 50)?,
        budget: secs(parse_or("HEALTH_BUDGET_SECS", 180)?),
        claim: secs(parse_or("HEALTH_CLAIM_SECS", 330)?),
        interval: secs(60 * parse_or::<u64>("HEALTH_SWEEP_MINUTES", 30)?),
        fresh_delivery: secs(60 * parse_or::<u64>("HEALTH_SKIP_DELIVERY_MINUTES", 60)?),
        fresh_check: secs(3600 * parse_or::<u64>("HEALTH_SKIP_CHECK_HOURS", 24)?),
        expiry_warning: secs(86_400 * parse_or::<u64>("HEALTH_EXPIRY_WARNING_DAYS", 7)?),
    };
    let mut check =
        page_health::HealthCheck::new(env.stores()?.pages, env.facebook()?, secs(silence_hours * 3600));
    check.sweep = sweep;
    let check = Arc::new(check);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let check = check.clone();
        async move {
            let r = check.run().await?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({
                "checked": r.checked, "skipped": r.skipped, "healthy": r.healthy,
                "marked_lost": r.marked_lost, "recovered": r.recovered, "still_lost": r.still_lost,
                "resubscribed": r.resubscribed, "silent": r.silent, "expiring": r.expiring,
                "unknown": r.unknown, "tokens_expired": r.tokens_expired, "batches": r.batches,
                "continued_from": r.continued_from, "finished_sweep": r.finished_sweep,
                "stop": r.stop.as_str(),
            }))
        }
    }))
    .await
}
