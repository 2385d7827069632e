//! [`NonceStore`]: single-use values, the OAuth state's nonce (docs/table-design.md, "Login
//! nonce").

use async_trait::async_trait;
use domain::ports::{NonceStore, StoreError};
use tracing::instrument;

use super::codec::ToAttr;
use super::errors::conditional;
use super::{DynamoStore, keys};

#[async_trait]
impl NonceStore for DynamoStore {
    #[instrument(skip(self, nonce), err)]
    async fn consume_once(&self, nonce: &str, expires_ms: i64) -> Result<bool, StoreError> {
        let r = self
            .put(keys::nonce(nonce).item())
            // DynamoDB's TTL deletes it some time after expiry; until then a replay is refused.
            .item("ttl", (expires_ms / 1000 + 1).attr())
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional(r, "PutItem")
    }
}
