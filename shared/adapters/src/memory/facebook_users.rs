//! Who imported which Page into which shop, by Facebook user, and the data-deletion requests
//! (FacebookUserStore).

use async_trait::async_trait;
use domain::ports::*;

use super::{MemoryStore, key};

/// The in-memory state of this port.
#[derive(Default)]
pub(super) struct FacebookUsers {
    /// (user, tenant, page)
    links: std::collections::BTreeSet<(String, String, String)>,
    /// (tenant, page) → user
    importers: std::collections::HashMap<(String, String), String>,
    deletions: std::collections::HashMap<String, DeletionRequest>,
}

#[async_trait]
impl FacebookUserStore for MemoryStore {
    async fn link_pages(
        &self,
        user_id: &str,
        tenant_id: &str,
        page_ids: &[String],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        for p in page_ids {
            s.facebook.links.insert((user_id.to_string(), tenant_id.to_string(), p.clone()));
            s.facebook.importers.insert(key(tenant_id, p), user_id.to_string());
        }
        Ok(())
    }

    async fn links(&self, user_id: &str) -> Result<Vec<FacebookLink>, StoreError> {
        let s = self.lock();
        Ok(s.facebook
            .links
            .iter()
            .filter(|(u, _, _)| u == user_id)
            .map(|(u, t, p)| FacebookLink { user_id: u.clone(), tenant_id: t.clone(), page_id: p.clone() })
            .collect())
    }

    async fn importer(&self, tenant_id: &str, page_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().facebook.importers.get(&key(tenant_id, page_id)).cloned())
    }

    async fn unlink(&self, user_id: &str, tenant_id: &str, page_id: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        let k = key(tenant_id, page_id);
        if s.facebook.importers.get(&k).is_some_and(|u| u == user_id) {
            s.facebook.importers.remove(&k);
        }
        s.facebook.links.remove(&(user_id.to_string(), tenant_id.to_string(), page_id.to_string()));
        Ok(())
    }

    async fn create_deletion(&self, request: &DeletionRequest) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.facebook.deletions.contains_key(&request.code) {
            return Err(StoreError::Conflict("a deletion request with this code exists".into()));
        }
        s.facebook.deletions.insert(request.code.clone(), request.clone());
        Ok(())
    }

    async fn finish_deletion(
        &self,
        code: &str,
        deleted: &DeletionCounts,
        completed_ms: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let Some(d) = s.facebook.deletions.get_mut(code) else {
            return Err(StoreError::Conflict(format!("no deletion request {code}")));
        };
        d.status = DeletionStatus::Done;
        d.completed_ms = Some(completed_ms);
        d.deleted = *deleted;
        Ok(())
    }

    async fn deletion(&self, code: &str) -> Result<Option<DeletionRequest>, StoreError> {
        Ok(self.lock().facebook.deletions.get(code).cloned())
    }
}

impl super::StoreState {
    /// Forgets who imported a Page into a shop (its data was deleted).
    pub(super) fn forget_importer(&mut self, tenant_id: &str, page_id: &str) {
        self.facebook.importers.remove(&key(tenant_id, page_id));
    }
}
