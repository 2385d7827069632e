//! Logging and metrics. On Lambda (or with `LOG_FORMAT=json`) logs are JSON lines; metrics are
//! CloudWatch Embedded Metric Format lines on stdout, which Lambda turns into metrics without
//! an API call.

use std::io::Write;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok()
        || std::env::var("LOG_FORMAT").map(|v| v == "json").unwrap_or(false);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ =
        if json { builder.json().flatten_event(true).without_time().try_init() } else { builder.try_init() };
}

/// Emits one count metric in Embedded Metric Format under the `FacebookInbox` namespace.
/// Off Lambda (local stack, tests) the count goes to the debug log instead, unless
/// `METRICS=emf` asks for the EMF lines.
pub fn count(metric: &str, value: u64, dimension: (&str, &str)) {
    if value == 0 {
        return;
    }
    if !emf_enabled() {
        tracing::debug!(metric, value, "metric");
        return;
    }
    let ts = domain::timefmt::now_ms();
    let line = serde_json::json!({
        "_aws": {
            "Timestamp": ts,
            "CloudWatchMetrics": [{
                "Namespace": "FacebookInbox",
                "Dimensions": [[dimension.0]],
                "Metrics": [{"Name": metric, "Unit": "Count"}]
            }]
        },
        dimension.0: dimension.1,
        metric: value,
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

fn emf_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok()
            || std::env::var("METRICS").map(|v| v == "emf").unwrap_or(false)
    })
}

/// An error and every cause under it, outermost first, joined by `": "`: what an edge logs
/// when it gives up on a request or a record, so the root cause (an SDK error, a refused
/// condition, a Graph error code) is in the one line the engineer on call reads. Errors in this
/// code base never carry a secret in their text (tokens are scrubbed before a `GraphError` is
/// built), so the chain is safe to log.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        // Wrappers that repeat their cause's text (`#[error(transparent)]`) add nothing.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer step failed")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("storage call PutItem failed")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause_down_to_the_root() {
        let e = Outer(Middle(std::io::Error::other("connection reset")));
        assert_eq!(error_chain(&e), "outer step failed: storage call PutItem failed: connection reset");
    }
}
