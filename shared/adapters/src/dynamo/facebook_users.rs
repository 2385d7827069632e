//! [`FacebookUserStore`]: who imported which Page into which shop, by app-scoped Facebook user
//! id, and the data-deletion requests Meta forwarded (docs/table-design.md, "Facebook user
//! link", "Page importer", "Data-deletion request"; docs/data-retention.md).

use async_trait::async_trait;
use domain::ports::{
    DeletionCounts, DeletionRequest, DeletionStatus, FacebookLink, FacebookUserStore, StoreError,
};
use tracing::instrument;

use super::codec::{Row, ToAttr};
use super::errors::{backend, conditional};
use super::{DynamoStore, Item, Read, keys};

/// How long a deletion request's status stays readable at its URL.
pub const DELETION_STATUS_TTL_MS: i64 = 90 * 24 * 3600 * 1000;

fn link_from(item: &Item) -> Result<FacebookLink, StoreError> {
    let r = Row(item);
    Ok(FacebookLink {
        user_id: r.req_s("user_id")?,
        tenant_id: r.req_s("tenant_id")?,
        page_id: r.req_s("page_id")?,
    })
}

fn deletion_from(item: &Item) -> Result<DeletionRequest, StoreError> {
    let r = Row(item);
    let status = r.req_s("status")?;
    let count = |k: &str| u32::try_from(r.n(k).unwrap_or(0)).unwrap_or(0);
    Ok(DeletionRequest {
        code: r.req_s("code")?,
        status: DeletionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("deletion status {status:?}")))?,
        requested_ms: r.n("requested_ms").unwrap_or(0),
        completed_ms: r.n("completed_ms"),
        deleted: DeletionCounts { page_tokens: count("page_tokens"), page_links: count("page_links") },
    })
}

#[async_trait]
impl FacebookUserStore for DynamoStore {
    #[instrument(skip(self, user_id, page_ids), fields(pages = page_ids.len()), err)]
    async fn link_pages(
        &self,
        user_id: &str,
        tenant_id: &str,
        page_ids: &[String],
    ) -> Result<(), StoreError> {
        let now = domain::timefmt::now_ms();
        for page_id in page_ids {
            // Both writes overwrite: a repeated login changes nothing but the times.
            self.put(keys::facebook_link(user_id, tenant_id, page_id).item())
                .item("user_id", user_id.attr())
                .item("tenant_id", tenant_id.attr())
                .item("page_id", page_id.attr())
                .item("linked_ms", now.attr())
                .send()
                .await
                .map_err(backend("PutItem"))?;
            self.put(keys::page_importer(tenant_id, page_id).item())
                .item("user_id", user_id.attr())
                .item("page_id", page_id.attr())
                .item("imported_ms", now.attr())
                .send()
                .await
                .map_err(backend("PutItem"))?;
        }
        Ok(())
    }

    #[instrument(skip(self, user_id), err)]
    async fn links(&self, user_id: &str) -> Result<Vec<FacebookLink>, StoreError> {
        self.query_all_prefix(keys::links_of(user_id)).await?.iter().map(link_from).collect()
    }

    #[instrument(skip(self), err)]
    async fn importer(&self, tenant_id: &str, page_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .read(keys::page_importer(tenant_id, page_id), Read::Latest)
            .await?
            .and_then(|i| Row(&i).s("user_id")))
    }

    #[instrument(skip(self, user_id), err)]
    async fn unlink(&self, user_id: &str, tenant_id: &str, page_id: &str) -> Result<(), StoreError> {
        // The importer record first, and only while it names this person: a later importer's
        // record stays.
        let r = self
            .delete(keys::page_importer(tenant_id, page_id))
            .condition_expression("user_id = :u")
            .expression_attribute_values(":u", user_id.attr())
            .send()
            .await;
        conditional(r, "DeleteItem")?;
        self.delete(keys::facebook_link(user_id, tenant_id, page_id))
            .send()
            .await
            .map_err(backend("DeleteItem"))?;
        Ok(())
    }

    #[instrument(skip(self, request), err)]
    async fn create_deletion(&self, request: &DeletionRequest) -> Result<(), StoreError> {
        let r = self
            .put(keys::deletion(&request.code).item())
            .item("code", request.code.attr())
            .item("status", request.status.as_str().attr())
            .item("requested_ms", request.requested_ms.attr())
            .item("page_tokens", i64::from(request.deleted.page_tokens).attr())
            .item("page_links", i64::from(request.deleted.page_links).attr())
            // DynamoDB's TTL removes the status some time after 90 days.
            .item("ttl", ((request.requested_ms + DELETION_STATUS_TTL_MS) / 1000).attr())
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if conditional(r, "PutItem")? {
            Ok(())
        } else {
            Err(StoreError::Conflict("a deletion request with this code exists".into()))
        }
    }

    #[instrument(skip(self, deleted), err)]
    async fn finish_deletion(
        &self,
        code: &str,
        deleted: &DeletionCounts,
        completed_ms: i64,
    ) -> Result<(), StoreError> {
        self.update(keys::deletion(code))
            .update_expression("SET #status = :done, completed_ms = :at, page_tokens = :t, page_links = :l")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", DeletionStatus::Done.as_str().attr())
            .expression_attribute_values(":at", completed_ms.attr())
            .expression_attribute_values(":t", i64::from(deleted.page_tokens).attr())
            .expression_attribute_values(":l", i64::from(deleted.page_links).attr())
            .send()
            .await
            .map_err(backend("UpdateItem"))?;
        Ok(())
    }

    #[instrument(skip(self), err)]
    async fn deletion(&self, code: &str) -> Result<Option<DeletionRequest>, StoreError> {
        self.read(keys::deletion(code), Read::Latest).await?.as_ref().map(deletion_from).transpose()
    }
}
