//! The shop's Pages and the route from a Page to the one shop holding it (PageStore), with the
//! connection version and the lease of a change in progress (docs/page-custody.md).

use async_trait::async_trait;
use domain::model::{PageRecord, PageRoute, PageStatus};
use domain::ports::*;
use domain::timefmt::now_ms;

use super::{MemoryStore, StoreState, key, of_shop};
use crate::cursor as health;

/// What the store keeps beside a route: its version and the lease of a change.
#[derive(Debug, Clone, Default)]
pub(super) struct RouteMeta {
    pub version: String,
    /// (op, until ms)
    pub lease: Option<(String, i64)>,
    /// When the health check last found the Page healthy at this version.
    pub checked_ms: Option<i64>,
}

/// What the store keeps beside a shop's Page: its connection version and token expiry.
#[derive(Debug, Clone, Default)]
pub(super) struct PageMeta {
    pub version: Option<String>,
    pub token_expires_ms: Option<i64>,
}

fn conflict(m: impl Into<String>) -> StoreError {
    StoreError::Conflict(m.into())
}

#[async_trait]
impl PageStore for MemoryStore {
    async fn page_route(&self, page_id: &str) -> Result<Option<PageRoute>, StoreError> {
        Ok(self.lock().routes.get(page_id).cloned())
    }

    async fn holder(&self, page_id: &str) -> Result<Option<Holder>, StoreError> {
        let s = self.lock();
        let Some(route) = s.routes.get(page_id).cloned() else { return Ok(None) };
        let meta = s.route_meta.get(page_id).cloned().unwrap_or_default();
        let k = key(&route.tenant_id, page_id);
        let at_version = s.page_meta.get(&k).and_then(|m| m.version.as_ref()) == Some(&meta.version);
        let token_enc = if at_version { s.live_token(&k, now_ms()) } else { None };
        Ok(Some(Holder {
            draft: route.status == PageStatus::NotConnected,
            route,
            version: meta.version,
            token_enc,
            lease_until_ms: meta.lease.map(|l| l.1),
        }))
    }

    async fn connect_page(&self, page: &PageRecord, route: &PageRoute) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.route_free(&page.page_id, &route.tenant_id)?;
        s.write_connection(page, route, &domain::custody::new_id());
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
        s.page_tokens.insert(key.clone(), page.token_enc.clone());
        if record.status == PageStatus::NotConnected {
            s.page_meta.entry(key).or_default().token_expires_ms = Some(now_ms() + UNCONNECTED_TOKEN_TTL_MS);
        }
        Ok(record)
    }

    async fn replace_token(
        &self,
        tenant_id: &str,
        page_id: &str,
        old_enc: &str,
        new_enc: &str,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        match s.page_tokens.get_mut(&key(tenant_id, page_id)) {
            Some(t) if t == old_enc => {
                *t = new_enc.to_string();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn page(&self, tenant_id: &str, page_id: &str) -> Result<Option<StoredPage>, StoreError> {
        let s = self.lock();
        let key = key(tenant_id, page_id);
        Ok(s.pages
            .get(&key)
            .map(|p| StoredPage { record: p.clone(), token_enc: s.live_token(&key, now_ms()) }))
    }

    async fn disconnect_page(&self, tenant_id: &str, page_id: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        let now = now_ms();
        let leased = s.route_meta.get(page_id).and_then(|m| m.lease.as_ref()).is_some_and(|l| l.1 > now);
        if s.routes.get(page_id).is_some_and(|r| r.tenant_id == tenant_id) {
            if leased {
                return Err(conflict(format!("a change of page {page_id} is in progress")));
            }
            s.routes.remove(page_id);
            s.route_meta.remove(page_id);
        }
        s.set_not_connected(tenant_id, page_id, now);
        Ok(())
    }

    async fn mark_lost(
        &self,
        tenant_id: &str,
        page_id: &str,
        version: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let k = key(tenant_id, page_id);
        let page_ok = s.page_meta.get(&k).and_then(|m| m.version.as_deref()) == Some(version)
            && s.pages.get(&k).is_some_and(|p| p.status != PageStatus::NotConnected);
        let route_ok = s.routes.get(page_id).is_some_and(|r| r.tenant_id == tenant_id)
            && s.route_meta.get(page_id).is_some_and(|m| m.version == version);
        if !(page_ok && route_ok) {
            return Ok(false);
        }
        if let Some(p) = s.pages.get_mut(&k) {
            p.status = PageStatus::LostConnection;
            p.lost_reason = Some(reason.to_string());
        }
        if let Some(r) = s.routes.get_mut(page_id) {
            r.status = PageStatus::LostConnection;
        }
        Ok(true)
    }

    async fn begin_change(&self, c: &RouteChange) -> Result<(), StoreError> {
        let mut s = self.lock();
        let now = now_ms();
        let lease = Some((c.op.clone(), c.until_ms));
        let free = |m: Option<&RouteMeta>| m.and_then(|m| m.lease.as_ref()).is_none_or(|l| l.1 <= now);
        let busy = || conflict(format!("another change of page {} is in progress", c.page_id));
        match (s.routes.get(&c.page_id), &c.take_over) {
            (Some(r), Some(t)) => {
                let seen = r.tenant_id == t.tenant_id
                    && r.status == PageStatus::LostConnection
                    && s.route_meta.get(&c.page_id).is_some_and(|m| m.version == t.version);
                if !seen {
                    return Err(conflict(format!("page {} changed hands meanwhile", c.page_id)));
                }
                if !free(s.route_meta.get(&c.page_id)) {
                    return Err(busy());
                }
            }
            (None, Some(_)) => return Err(conflict(format!("page {} changed hands meanwhile", c.page_id))),
            (Some(r), None) if r.tenant_id == c.tenant_id => {
                if !free(s.route_meta.get(&c.page_id)) {
                    return Err(busy());
                }
            }
            (Some(r), None) => {
                // Another shop's draft whose lease expired counts as no route.
                let stale = r.status == PageStatus::NotConnected && free(s.route_meta.get(&c.page_id));
                match &c.draft {
                    Some(d) if stale => {
                        s.routes.insert(c.page_id.clone(), d.clone());
                        s.route_meta.insert(
                            c.page_id.clone(),
                            RouteMeta { version: domain::custody::new_id(), lease, checked_ms: None },
                        );
                        return Ok(());
                    }
                    _ => return Err(conflict(format!("page {} is held by another shop", c.page_id))),
                }
            }
            (None, None) => match &c.draft {
                Some(d) => {
                    s.routes.insert(c.page_id.clone(), d.clone());
                    s.route_meta.insert(
                        c.page_id.clone(),
                        RouteMeta { version: domain::custody::new_id(), lease, checked_ms: None },
                    );
                    return Ok(());
                }
                None => return Err(conflict(format!("page {} has no route of the shop", c.page_id))),
            },
        }
        s.route_meta.entry(c.page_id.clone()).or_default().lease = lease;
        Ok(())
    }

    async fn abort_change(&self, page_id: &str, op: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        let mine = s.route_meta.get(page_id).and_then(|m| m.lease.as_ref()).is_some_and(|l| l.0 == op);
        if !mine {
            return Ok(());
        }
        if s.routes.get(page_id).is_some_and(|r| r.status == PageStatus::NotConnected) {
            s.routes.remove(page_id);
            s.route_meta.remove(page_id);
        } else if let Some(m) = s.route_meta.get_mut(page_id) {
            m.lease = None;
        }
        Ok(())
    }

    async fn commit_connect(&self, c: &Connection<'_>) -> Result<(), StoreError> {
        let mut s = self.lock();
        let (tenant, page_id) = (c.route.tenant_id.as_str(), c.page.page_id.as_str());
        s.holds_lease(page_id, c.op)?;
        s.check_rule_moves(tenant, page_id, c.join, c.leave)?;
        if let Some(t) = c.take_over {
            let k = key(&t.tenant_id, page_id);
            if s.page_meta.get(&k).and_then(|m| m.version.as_ref()) != Some(&t.version) {
                return Err(conflict("the previous holder's Page changed meanwhile"));
            }
        }
        // Every condition held: write.
        s.apply_rule_moves(tenant, page_id, c.join, c.leave);
        if let Some(t) = c.take_over
            && let Some(p) = s.pages.get_mut(&key(&t.tenant_id, page_id))
        {
            p.status = PageStatus::LostConnection;
            p.lost_reason = Some(t.reason.clone());
        }
        s.write_connection(c.page, c.route, c.version);
        Ok(())
    }

    async fn commit_disconnect(&self, tenant_id: &str, page_id: &str, op: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.holds_lease(page_id, op)?;
        if s.routes.get(page_id).is_none_or(|r| r.tenant_id != tenant_id) {
            return Err(conflict(format!("page {page_id} is not the shop's")));
        }
        s.routes.remove(page_id);
        s.route_meta.remove(page_id);
        s.set_not_connected(tenant_id, page_id, now_ms());
        Ok(())
    }

    async fn list_routes(&self) -> Result<Vec<RouteHealth>, StoreError> {
        let s = self.lock();
        let mut out: Vec<RouteHealth> = s.routes.values().map(|r| s.route_health(r)).collect();
        out.sort_by(|a, b| a.route.page_id.cmp(&b.route.page_id));
        Ok(out)
    }

    async fn list_routes_page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<domain::model::Paged<RouteHealth>, StoreError> {
        let after = cursor.map(health::decode_route_cursor).transpose()?;
        let s = self.lock();
        let mut all: Vec<&PageRoute> =
            s.routes.values().filter(|r| after.as_deref().is_none_or(|a| r.page_id.as_str() > a)).collect();
        all.sort_by(|a, b| a.page_id.cmp(&b.page_id));
        let limit = limit.clamp(1, ROUTES_PAGE_MAX);
        let items: Vec<RouteHealth> = all.iter().take(limit).map(|r| s.route_health(r)).collect();
        let next_cursor = (all.len() > limit)
            .then(|| items.last().map(|r| health::route_cursor(&r.route.page_id)))
            .flatten();
        Ok(domain::model::Paged { items, next_cursor })
    }

    async fn record_health_check(
        &self,
        page_id: &str,
        version: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let routed = s.routes.contains_key(page_id);
        match s.route_meta.get_mut(page_id) {
            Some(m) if routed && m.version == version => {
                m.checked_ms = Some(now_ms);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn mark_recovered(
        &self,
        tenant_id: &str,
        page_id: &str,
        version: &str,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let k = key(tenant_id, page_id);
        let now = now_ms();
        let page_ok = s.page_meta.get(&k).and_then(|m| m.version.as_deref()) == Some(version)
            && s.pages.get(&k).is_some_and(|p| p.status == PageStatus::LostConnection);
        let route_ok = s
            .routes
            .get(page_id)
            .is_some_and(|r| r.tenant_id == tenant_id && r.status == PageStatus::LostConnection)
            && s.route_meta.get(page_id).is_some_and(|m| {
                m.version == version && m.lease.as_ref().is_none_or(|(_, until)| *until <= now)
            });
        if !(page_ok && route_ok) {
            return Ok(false);
        }
        if let Some(p) = s.pages.get_mut(&k) {
            p.status = PageStatus::Connected;
            p.lost_reason = None;
        }
        if let Some(r) = s.routes.get_mut(page_id) {
            r.status = PageStatus::Connected;
        }
        Ok(true)
    }

    async fn claim_health_sweep(
        &self,
        run_id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<HealthSweep>, StoreError> {
        let mut s = self.lock();
        let sweep = &mut s.health_sweep;
        if sweep.claim.as_ref().is_some_and(|(id, until)| id != run_id && *until > now_ms) {
            return Ok(None);
        }
        sweep.claim = Some((run_id.to_string(), until_ms));
        Ok(Some(HealthSweep { cursor: sweep.cursor.clone(), last_finished_ms: sweep.last_finished_ms }))
    }

    async fn save_health_sweep(
        &self,
        run_id: &str,
        cursor: Option<&str>,
        now_ms: i64,
        release: bool,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let sweep = &mut s.health_sweep;
        if sweep.claim.as_ref().is_none_or(|(id, _)| id != run_id) {
            return Ok(false);
        }
        sweep.cursor = cursor.map(str::to_string);
        if cursor.is_none() {
            sweep.last_finished_ms = Some(now_ms);
        }
        if release {
            sweep.claim = None;
        }
        Ok(true)
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

    async fn expire_tokens(&self, now_ms: i64) -> Result<usize, StoreError> {
        let mut s = self.lock();
        let expired: Vec<(String, String)> = s
            .page_meta
            .iter()
            .filter(|(_, m)| m.token_expires_ms.is_some_and(|e| e < now_ms))
            .map(|(k, _)| k.clone())
            .filter(|k| s.pages.get(k).is_some_and(|p| p.status == PageStatus::NotConnected))
            .collect();
        for k in &expired {
            s.page_tokens.remove(k);
            if let Some(m) = s.page_meta.get_mut(k) {
                m.token_expires_ms = None;
            }
        }
        Ok(expired.len())
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
        // Without a version the shop's item no longer matches its route: no token is handed
        // out for it, and another shop's admin may take the Page over.
        if let Some(m) = s.page_meta.get_mut(&key) {
            m.version = None;
            m.token_expires_ms = None;
        }
        if let Some(r) = s.routes.get_mut(page_id).filter(|r| r.tenant_id == tenant_id) {
            r.status = PageStatus::LostConnection;
        }
        Ok(())
    }
}

/// The health sweep's item (see [`PageStore::claim_health_sweep`]).
#[derive(Debug, Clone, Default)]
pub(super) struct SweepState {
    /// (run id, until ms)
    claim: Option<(String, i64)>,
    cursor: Option<String>,
    last_finished_ms: Option<i64>,
}

impl StoreState {
    fn route_health(&self, r: &PageRoute) -> RouteHealth {
        let d = self.deliveries.get(&r.page_id);
        let meta = self.route_meta.get(&r.page_id);
        RouteHealth {
            route: r.clone(),
            last_event_ms: d.and_then(|d| d.0),
            connected_ms: d.map(|d| d.1),
            version: meta.map(|m| m.version.clone()).unwrap_or_default(),
            checked_ms: meta.and_then(|m| m.checked_ms),
        }
    }
}

impl StoreState {
    /// Refuses to connect a Page to a shop while another shop holds its route or a change
    /// holds its lease.
    pub(super) fn route_free(&self, page_id: &str, tenant_id: &str) -> Result<(), StoreError> {
        let now = now_ms();
        if self.route_meta.get(page_id).and_then(|m| m.lease.as_ref()).is_some_and(|l| l.1 > now) {
            return Err(conflict(format!("a change of page {page_id} is in progress")));
        }
        match self.routes.get(page_id) {
            Some(r) if r.tenant_id != tenant_id && r.status != PageStatus::NotConnected => {
                Err(conflict(format!("page {page_id} is connected to another shop")))
            }
            _ => Ok(()),
        }
    }

    /// Writes a connection at `version`: the route (lease gone), the shop's Page record (its
    /// token, kept apart, stays and no longer expires).
    pub(super) fn write_connection(&mut self, page: &PageRecord, route: &PageRoute, version: &str) {
        self.routes.insert(page.page_id.clone(), route.clone());
        self.route_meta.insert(
            page.page_id.clone(),
            RouteMeta { version: version.to_string(), lease: None, checked_ms: None },
        );
        let now = now_ms();
        let d = self.deliveries.entry(page.page_id.clone()).or_insert((None, now));
        *d = (None, now);
        let k = key(&route.tenant_id, &page.page_id);
        self.pages.insert(k.clone(), page.clone());
        *self.page_meta.entry(k).or_default() =
            PageMeta { version: Some(version.to_string()), token_expires_ms: None };
    }

    /// The shop's Page token unless it expired.
    fn live_token(&self, k: &(String, String), now: i64) -> Option<String> {
        let expired = self.page_meta.get(k).and_then(|m| m.token_expires_ms).is_some_and(|e| e < now);
        if expired { None } else { self.page_tokens.get(k).cloned() }
    }

    /// The shop's Page, not connected: its version gone, its token expiring.
    fn set_not_connected(&mut self, tenant_id: &str, page_id: &str, now: i64) {
        let k = key(tenant_id, page_id);
        if let Some(p) = self.pages.get_mut(&k) {
            p.status = PageStatus::NotConnected;
            p.lost_reason = None;
            *self.page_meta.entry(k).or_default() =
                PageMeta { version: None, token_expires_ms: Some(now + UNCONNECTED_TOKEN_TTL_MS) };
        }
    }

    fn holds_lease(&self, page_id: &str, op: &str) -> Result<(), StoreError> {
        match self.route_meta.get(page_id).and_then(|m| m.lease.as_ref()) {
            Some((o, _)) if o == op => Ok(()),
            _ => Err(conflict(format!("the change of page {page_id} lost its lease"))),
        }
    }

    /// The conditions of a connection's rule moves (see `commit_connect`).
    fn check_rule_moves(
        &self,
        tenant: &str,
        page_id: &str,
        join: Option<&RuleLink>,
        leave: Option<&domain::model::Rule>,
    ) -> Result<(), StoreError> {
        let current = self.pages.get(&key(tenant, page_id)).and_then(|p| p.rule_id.clone());
        let joining = join.map(|l| match l {
            RuleLink::Existing { rule_id, .. } => rule_id.clone(),
            RuleLink::New(r) => r.id.clone(),
        });
        match (leave, &current) {
            (Some(old), Some(cur)) if &old.id == cur => {
                let stored = self.rules.get(&key(tenant, &old.id));
                if stored.is_none_or(|r| !r.page_ids.iter().any(|p| p == page_id)) {
                    return Err(conflict("the rule the Page leaves changed meanwhile"));
                }
            }
            (Some(_), _) => return Err(conflict("the Page is no longer in the rule it leaves")),
            (None, Some(cur)) if joining.as_ref() != Some(cur) => {
                return Err(conflict(format!("page {page_id} is in another rule")));
            }
            (None, _) => {}
        }
        match join {
            Some(RuleLink::Existing { rule_id, add_page }) => match self.rules.get(&key(tenant, rule_id)) {
                Some(r) if r.page_ids.iter().any(|p| p == page_id) != *add_page => Ok(()),
                _ => Err(conflict("the rule changed meanwhile")),
            },
            Some(RuleLink::New(rule)) => {
                let lower = rule.name.to_lowercase();
                let taken = self
                    .rules
                    .iter()
                    .any(|((t, id), r)| t == tenant && (id == &rule.id || r.name.to_lowercase() == lower));
                if taken { Err(conflict(format!("a rule named {:?} exists", rule.name))) } else { Ok(()) }
            }
            None => Ok(()),
        }
    }

    fn apply_rule_moves(
        &mut self,
        tenant: &str,
        page_id: &str,
        join: Option<&RuleLink>,
        leave: Option<&domain::model::Rule>,
    ) {
        if let Some(old) = leave
            && let Some(r) = self.rules.get_mut(&key(tenant, &old.id))
        {
            r.page_ids.retain(|p| p != page_id);
        }
        match join {
            Some(RuleLink::Existing { rule_id, add_page: true }) => {
                if let Some(r) = self.rules.get_mut(&key(tenant, rule_id)) {
                    r.page_ids.push(page_id.to_string());
                }
            }
            Some(RuleLink::New(rule)) => {
                self.rules.insert(key(tenant, &rule.id), rule.clone());
            }
            _ => {}
        }
    }
}
