//! Single-use nonces of Facebook Login (NonceStore).

use async_trait::async_trait;
use domain::ports::*;

use super::MemoryStore;

#[async_trait]
impl NonceStore for MemoryStore {
    async fn consume_once(&self, nonce: &str, expires_ms: i64) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let now = domain::timefmt::now_ms();
        s.nonces.retain(|_, exp| *exp > now);
        if s.nonces.contains_key(nonce) {
            return Ok(false);
        }
        s.nonces.insert(nonce.to_string(), expires_ms);
        Ok(true)
    }
}
