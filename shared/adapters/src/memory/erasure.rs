//! A shop deleting a Page's data (ErasureStore); conversations are deleted through
//! `ConversationStore::delete_conversation` in `conversations`.

use async_trait::async_trait;
use domain::model::PageStatus;
use domain::ports::*;

use super::{MemoryStore, key};

#[async_trait]
impl ErasureStore for MemoryStore {
    async fn delete_page(&self, tenant_id: &str, page_id: &str) -> Result<PageErasure, StoreError> {
        let mut s = self.lock();
        let k = key(tenant_id, page_id);
        let Some(p) = s.pages.get(&k) else { return Ok(PageErasure::Absent) };
        if p.status == PageStatus::Connected
            || s.routes.get(page_id).is_some_and(|r| r.tenant_id == tenant_id)
        {
            return Ok(PageErasure::Held);
        }
        s.pages.remove(&k);
        s.page_tokens.remove(&k);
        s.forget_importer(tenant_id, page_id);
        Ok(PageErasure::Deleted)
    }
}
