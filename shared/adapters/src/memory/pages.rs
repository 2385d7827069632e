//! The shop's Pages and the route from a Page to its one connected shop (PageStore).

use async_trait::async_trait;
use domain::model::{PageRecord, PageRoute, PageStatus};
use domain::ports::*;

use super::{MemoryStore, StoreState, key, of_shop};

#[async_trait]
impl PageStore for MemoryStore {
    async fn page_route(&self, page_id: &str) -> Result<Option<PageRoute>, StoreError> {
        Ok(self.lock().routes.get(page_id).cloned())
    }

    async fn connect_page(&self, page: &PageRecord, route: &PageRoute) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.route_free(&page.page_id, &route.tenant_id)?;
        s.routes.insert(page.page_id.clone(), route.clone());
        let now = domain::timefmt::now_ms();
        let d = s.deliveries.entry(page.page_id.clone()).or_insert((None, now));
        d.1 = now;
        // The record is replaced; the stored token, kept apart, stays.
        s.pages.insert(key(&route.tenant_id, &page.page_id), page.clone());
        Ok(())
    }

    async fn list_pages(&self, tenant_id: &str) -> Result<Vec<PageRecord>, StoreError> {
        Ok(of_shop(&self.lock().pages, tenant_id))
    }

    async fn import_page(&self, tenant_id: &str, page: &ImportedPage) -> Result<PageRecord, StoreError> {
        let mut s = self.lock();
        let key = key(tenant_id, &page.page_id);
        let record = s.pages.entry(key.clone()).or_insert_with(|| PageRecord {
            page_id: page.page_id.clone(),
            name: page.name.clone(),
            status: PageStatus::NotConnected,
            chat_mode: None,
            rule_id: None,
            connected_by: None,
            last_connected_at: None,
            lost_reason: None,
        });
        record.name = page.name.clone();
        let record = record.clone();
        s.page_tokens.insert(key, page.token_enc.clone());
        Ok(record)
    }

    async fn page(&self, tenant_id: &str, page_id: &str) -> Result<Option<StoredPage>, StoreError> {
        let s = self.lock();
        let key = key(tenant_id, page_id);
        Ok(s.pages
            .get(&key)
            .map(|p| StoredPage { record: p.clone(), token_enc: s.page_tokens.get(&key).cloned() }))
    }

    async fn disconnect_page(&self, tenant_id: &str, page_id: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.routes.get(page_id).is_some_and(|r| r.tenant_id == tenant_id) {
            s.routes.remove(page_id);
        }
        if let Some(p) = s.pages.get_mut(&key(tenant_id, page_id)) {
            p.status = PageStatus::NotConnected;
            p.lost_reason = None;
        }
        Ok(())
    }

    async fn list_routes(&self) -> Result<Vec<RouteHealth>, StoreError> {
        let s = self.lock();
        let mut out: Vec<RouteHealth> = s
            .routes
            .values()
            .map(|r| {
                let d = s.deliveries.get(&r.page_id);
                RouteHealth {
                    route: r.clone(),
                    last_event_ms: d.and_then(|d| d.0),
                    connected_ms: d.map(|d| d.1),
                }
            })
            .collect();
        out.sort_by(|a, b| a.route.page_id.cmp(&b.route.page_id));
        Ok(out)
    }

    async fn touch_delivery(&self, page_id: &str, now_ms: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        if !s.routes.contains_key(page_id) {
            return Ok(());
        }
        let d = s.deliveries.entry(page_id.to_string()).or_insert((None, now_ms));
        if d.0.is_none_or(|last| last < now_ms - DELIVERY_TOUCH_INTERVAL_MS) {
            d.0 = Some(now_ms);
        }
        Ok(())
    }

    async fn mark_lost(&self, tenant_id: &str, page_id: &str, reason: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        let Some(p) = s.pages.get_mut(&key(tenant_id, page_id)) else { return Ok(()) };
        if p.status == PageStatus::NotConnected {
            return Ok(());
        }
        p.status = PageStatus::LostConnection;
        p.lost_reason = Some(reason.to_string());
        if let Some(r) = s.routes.get_mut(page_id).filter(|r| r.tenant_id == tenant_id) {
            r.status = PageStatus::LostConnection;
        }
        Ok(())
    }

    async fn revoke_page(&self, tenant_id: &str, page_id: &str, reason: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = key(tenant_id, page_id);
        let Some(p) = s.pages.get_mut(&key) else { return Ok(()) };
        if p.status != PageStatus::NotConnected {
            p.status = PageStatus::LostConnection;
            p.lost_reason = Some(reason.to_string());
        }
        s.page_tokens.remove(&key);
        if let Some(r) = s.routes.get_mut(page_id).filter(|r| r.tenant_id == tenant_id) {
            r.status = PageStatus::LostConnection;
        }
        Ok(())
    }
}

impl StoreState {
    /// Refuses to connect a Page to a shop while another shop holds its route.
    pub(super) fn route_free(&self, page_id: &str, tenant_id: &str) -> Result<(), StoreError> {
        match self.routes.get(page_id) {
            Some(r) if r.tenant_id != tenant_id => {
                Err(StoreError::Conflict(format!("page {page_id} is connected to another shop")))
            }
            _ => Ok(()),
        }
    }
}
