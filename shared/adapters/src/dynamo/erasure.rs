//! [`ErasureStore`] and the deletion of a conversation: what a shop deleting a Page's data
//! removes (docs/data-retention.md; docs/table-design.md, "Shop's view of a Page").

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use domain::model::PageStatus;
use domain::ports::{ErasureStore, PageErasure, StoreError};
use tracing::instrument;

use super::codec::ToAttr;
use super::errors::{backend, transaction_condition_failed};
use super::keys::Key;
use super::{DynamoStore, Item, Read, TxItem, keys};
use crate::retry::RetryPolicy;

/// BatchWriteItem takes at most 25 requests.
const BATCH_WRITE_MAX: usize = 25;

impl DynamoStore {
    /// Deletes a conversation's messages (BatchWriteItem, 25 at a time, by a Query of its
    /// partition), then its header. Every delete is idempotent, so a redelivered step redoes
    /// only what is left.
    pub(super) async fn erase_conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<usize, StoreError> {
        // Every item of the conversation's partition but its header: messages and reply
        // records (a reply not yet sent is customer-facing text too), and a pending hand-off
        // (it names the comment the conversation grew from). The header goes last, so a step
        // cut short finds the conversation again.
        let header = keys::header(tenant_id, conversation_id);
        let handoff = keys::handoff(tenant_id, conversation_id);
        let q = self
            .query()
            .key_condition_expression("pk = :pk")
            .projection_expression("pk, sk")
            .expression_attribute_values(":pk", keys::conversation(tenant_id, conversation_id).attr());
        let mut found = self.query_all(q, usize::MAX).await?;
        found.retain(|item| Key::of_item(item).as_ref() != Some(&header));
        // What the caller counts is messages: the hand-off is not one.
        let n = found.iter().filter(|item| Key::of_item(item).as_ref() != Some(&handoff)).count();
        for chunk in found.chunks(BATCH_WRITE_MAX) {
            self.batch_delete(chunk).await?;
        }
        self.delete(header).send().await.map_err(backend("DeleteItem"))?;
        Ok(n)
    }

    /// Deletes up to 25 items by key; unprocessed ones (throttling) are sent again, a few
    /// times, with a pause.
    async fn batch_delete(&self, items: &[Item]) -> Result<(), StoreError> {
        let mut requests = items
            .iter()
            .map(|item| {
                let key = item
                    .iter()
                    .filter(|(k, _)| *k == "pk" || *k == "sk")
                    .map(|(k, v)| (k.clone(), v.clone()));
                let delete = DeleteRequest::builder()
                    .set_key(Some(key.collect()))
                    .build()
                    .map_err(backend("BatchWriteItem"))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let policy = RetryPolicy::THROTTLED_READ;
        for n in policy.attempts() {
            if requests.is_empty() {
                return Ok(());
            }
            if n > 0 {
                policy.pause(n - 1).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, std::mem::take(&mut requests))
                .send()
                .await
                .map_err(backend("BatchWriteItem"))?;
            requests = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
        }
        if requests.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Backend {
                op: "BatchWriteItem",
                source: "items left unprocessed after retries".into(),
            })
        }
    }
}

#[async_trait]
impl ErasureStore for DynamoStore {
    #[instrument(skip(self), err)]
    async fn delete_page(&self, tenant_id: &str, page_id: &str) -> Result<PageErasure, StoreError> {
        let page = self
            .tx_delete(keys::page(tenant_id, page_id))
            .condition_expression("attribute_exists(pk) AND #status <> :connected")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":connected", PageStatus::Connected.as_str().attr())
            .tx()?;
        let route = self
            .tx_check(keys::route(page_id))
            .condition_expression("attribute_not_exists(pk) OR tenant_id <> :t")
            .expression_attribute_values(":t", tenant_id.attr())
            .tx()?;
        // Who imported it goes with the token it named.
        let importer = self.tx_delete(keys::page_importer(tenant_id, page_id)).tx()?;
        let r = self
            .client
            .transact_write_items()
            .transact_items(page)
            .transact_items(route)
            .transact_items(importer)
            .send()
            .await;
        match r {
            Ok(_) => Ok(PageErasure::Deleted),
            Err(e) if transaction_condition_failed(&e) => {
                // Which condition failed: no item at all, or a Page the shop still holds.
                match self.read(keys::page(tenant_id, page_id), Read::Latest).await? {
                    None => Ok(PageErasure::Absent),
                    Some(_) => Ok(PageErasure::Held),
                }
            }
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }
}
