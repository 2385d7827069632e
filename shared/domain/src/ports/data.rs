//! Ports of the data Meta's callbacks and a shop's deletions act on: who imported which Page
//! (`FacebookUserStore`, with the data-deletion requests) and a shop deleting a Page's data
//! (`ErasureStore`); `docs/data-retention.md`.

use async_trait::async_trait;

use super::StoreError;

/// Who brought which Page into which shop through Facebook Login (by the person's app-scoped
/// user id), and the data-deletion requests Meta forwarded (docs/data-retention.md).
#[async_trait]
pub trait FacebookUserStore: Send + Sync {
    /// Records that the person imported these Pages into the shop, and that they are the
    /// Pages' latest importer there. Idempotent.
    async fn link_pages(&self, user_id: &str, tenant_id: &str, page_ids: &[String])
    -> Result<(), StoreError>;
    /// Every (shop, Page) the person imported, by a Query on their partition.
    async fn links(&self, user_id: &str) -> Result<Vec<FacebookLink>, StoreError>;
    /// The person who last imported the Page into the shop (whose token the shop holds).
    async fn importer(&self, tenant_id: &str, page_id: &str) -> Result<Option<String>, StoreError>;
    /// Forgets one link, and the importer record if it still names this person.
    async fn unlink(&self, user_id: &str, tenant_id: &str, page_id: &str) -> Result<(), StoreError>;
    /// Records a new deletion request; refused with [`StoreError::Conflict`] if the code exists.
    async fn create_deletion(&self, request: &DeletionRequest) -> Result<(), StoreError>;
    /// Marks a deletion request done with what it deleted.
    async fn finish_deletion(
        &self,
        code: &str,
        deleted: &DeletionCounts,
        completed_ms: i64,
    ) -> Result<(), StoreError>;
    async fn deletion(&self, code: &str) -> Result<Option<DeletionRequest>, StoreError>;
}

/// One Page a person imported into one shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacebookLink {
    pub user_id: String,
    pub tenant_id: String,
    pub page_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionStatus {
    Pending,
    Done,
}

impl DeletionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionStatus::Pending => "pending",
            DeletionStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<DeletionStatus> {
        match s {
            "pending" => Some(DeletionStatus::Pending),
            "done" => Some(DeletionStatus::Done),
            _ => None,
        }
    }
}

/// What a data-deletion request deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeletionCounts {
    /// Page tokens the product held from the person (their Pages went to lost connection).
    pub page_tokens: u32,
    /// (shop, Page) links naming the person.
    pub page_links: u32,
}

/// A data-deletion request, by its confirmation code. It does not keep the person's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionRequest {
    pub code: String,
    pub status: DeletionStatus,
    pub requested_ms: i64,
    pub completed_ms: Option<i64>,
    pub deleted: DeletionCounts,
}

/// A shop deleting a Page's data (`DELETE /api/pages/{page_id}`).
#[async_trait]
pub trait ErasureStore: Send + Sync {
    /// Deletes the shop's Page item (record and token) unless the Page is connected or in lost
    /// connection for the shop: one transaction, conditional on the item's status and on the
    /// route not being the shop's.
    async fn delete_page(&self, tenant_id: &str, page_id: &str) -> Result<PageErasure, StoreError>;
}

/// The answer of [`ErasureStore::delete_page`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageErasure {
    Deleted,
    /// The shop had no item for the Page (deleted before, or never imported).
    Absent,
    /// Connected or in lost connection for the shop: disconnect first.
    Held,
}
