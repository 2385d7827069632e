//! The webhook handler alone on 127.0.0.1, on a single-threaded runtime (one core), with a
//! queue that accepts and discards: the server the load test (scripts/load/webhook.sh) drives.
//! Prints `ready` once listening; on SIGTERM/Ctrl-C prints its peak RSS.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use domain::event::OutboundQueueMessage;
use domain::ports::{EventQueue, QueueError};
use secrecy::SecretString;

struct DiscardQueue(AtomicU64);

#[async_trait]
impl EventQueue for DiscardQueue {
    async fn send_batch(&self, messages: &[OutboundQueueMessage]) -> Result<(), QueueError> {
        self.0.fetch_add(messages.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3100);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let queue = Arc::new(DiscardQueue(AtomicU64::new(0)));
        let config = webhook::WebhookConfig {
            app_secrets: domain::signature::AppSecrets::from_list(&SecretString::from("bench-app-secret".to_string())),
            verify_token: SecretString::from("bench-verify-token".to_string()),
            max_body_bytes: 5 << 20,
        };
        let app = webhook::router(Arc::new(webhook::Webhook { config, queue: queue.clone() }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("ready");
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = async { if let Some(t) = term.as_mut() { t.recv().await; } else { std::future::pending::<()>().await } } => {},
            }
        });
        server.await?;
        println!("queued_messages={} peak_rss_kib={}", queue.0.load(Ordering::Relaxed), peak_rss_kib().unwrap_or(0));
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
