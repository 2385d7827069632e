//! Re-reading the key ring in a warm function: when a stored token names a key id the ring
//! does not hold (a key added after this instance started), the ring is read again, at most
//! once per interval, so a flood of unreadable tokens costs one Secrets Manager call a minute.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;

use super::KeyRing;

/// At most one re-read of the ring per minute.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// Where the ring's secret text comes from again (Secrets Manager in a Lambda).
#[async_trait]
pub trait RingSource: Send + Sync {
    /// The ring secret's text; the error says what failed, never a value.
    async fn load(&self) -> Result<SecretString, String>;
}

pub(super) struct Reload {
    source: Arc<dyn RingSource>,
    min_interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl Reload {
    pub(super) fn new(source: Arc<dyn RingSource>, min_interval: Duration) -> Reload {
        Reload { source, min_interval, last: Mutex::new(None) }
    }

    /// A freshly read ring, unless one was read less than the interval ago (or it failed).
    /// The time is taken before reading, so concurrent callers do not all go.
    pub(super) async fn fetch(&self) -> Option<KeyRing> {
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < self.min_interval) {
                return None;
            }
            *last = Some(Instant::now());
        }
        let text = match self.source.load().await {
            Ok(t) => t,
            Err(why) => {
                tracing::warn!(%why, "re-reading the token key ring failed; keeping the one loaded at start");
                return None;
            }
        };
        match KeyRing::parse(&text) {
            Ok(ring) => {
                tracing::info!(current = ring.current_id(), "token key ring re-read");
                Some(ring)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the re-read token key ring is invalid; keeping the one loaded at start");
                None
            }
        }
    }
}
