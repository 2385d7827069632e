//! [`PageStore`]: the shop's view of each Page and the route from a Page to the one shop
//! holding it, with the connection version and the lease of a change in progress
//! (docs/table-design.md, "Shop's view of a Page" and "Page route"; docs/page-custody.md).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem};
use domain::model::{PageRecord, PageRoute, PageStatus};
use domain::ports::{
    Connection, DELIVERY_TOUCH_INTERVAL_MS, Holder, ImportedPage, PageStore, RouteChange, RouteHealth,
    StoreError, StoredPage, UNCONNECTED_TOKEN_TTL_MS,
};
use domain::timefmt::now_ms;
use tracing::instrument;

use super::codec::{FromItem, Row, ToAttr, ToItem, decode_all};
use super::errors::{backend, cancellation_reasons, conditional, transaction_condition_failed};
use super::{DynamoStore, Item, Read, TxItem, keys};

pub(super) const CONNECTED: &str = "connected";
pub(super) const LOST: &str = "lost_connection";
pub(super) const NOT_CONNECTED: &str = "not_connected";
/// A transaction item's cancellation reason when its condition did not hold.
const CHECK_FAILED: &str = "ConditionalCheckFailed";

/// The condition that an item is at connection `version`. A route written before connections
/// had versions has none, and neither has its Page item: the empty version stands for that.
pub(super) fn at_version(version: &str) -> &'static str {
    if version.is_empty() { "attribute_not_exists(version)" } else { "version = :v" }
}

/// What a connection's route write must find.
#[derive(Clone, Copy)]
pub(super) enum Guard<'a> {
    /// No other shop's route and no change in progress (seeding, `connect_shared`).
    Free,
    /// The change's own lease `op`; the Page leaves rule `leave` (it must still be in it).
    Lease { op: &'a str, leave: Option<&'a str> },
}

impl DynamoStore {
    /// The route Put and the shop's Page Update of a connection at `version`.
    pub(super) fn connect_items(
        &self,
        page: &PageRecord,
        route: &PageRoute,
        version: &str,
        guard: Guard<'_>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let now = now_ms();
        let mut route_item = keys::route(&route.page_id).with(route.to_item());
        // Every route in one index partition: the health check's worklist without a scan.
        route_item.insert("gsi1pk".into(), keys::ROUTES.attr());
        route_item.insert("gsi1sk".into(), route.page_id.attr());
        route_item.insert("connected_ms".into(), now.attr());
        route_item.insert("version".into(), version.attr());
        // The shop's Page item is updated, not replaced, so its stored token stays (and no
        // longer expires).
        let mut set = vec![
            "page_id = :id",
            "#name = :name",
            "#status = :status",
            "chat_mode = :mode",
            "connected_by = :by",
            "last_connected_at = :at",
            "version = :v",
        ];
        let mut remove = vec!["lost_reason", "token_expires_ms", "gsi1pk", "gsi1sk"];
        let mut values: Item = Item::new();
        values.insert(":id".into(), page.page_id.attr());
        values.insert(":name".into(), page.name.attr());
        values.insert(":status".into(), page.status.as_str().attr());
        values.insert(":mode".into(), page.chat_mode.unwrap_or(route.chat_mode).as_str().attr());
        values.insert(":by".into(), page.connected_by.as_ref().unwrap_or(&route.connected_by).attr());
        values.insert(":at".into(), page.last_connected_at.as_deref().unwrap_or_default().attr());
        values.insert(":v".into(), version.attr());
        match &page.rule_id {
            Some(r) => {
                set.push("rule_id = :rule");
                values.insert(":rule".into(), r.attr());
            }
            None => remove.push("rule_id"),
        }
        let page_condition = match (guard, &page.rule_id) {
            (Guard::Lease { leave: Some(old), .. }, _) => {
                values.insert(":old".into(), old.attr());
                Some("attribute_exists(pk) AND rule_id = :old")
            }
            (Guard::Lease { .. }, Some(_)) => {
                Some("attribute_exists(pk) AND (attribute_not_exists(rule_id) OR rule_id = :rule)")
            }
            (Guard::Lease { .. }, None) => Some("attribute_exists(pk) AND attribute_not_exists(rule_id)"),
            (Guard::Free, Some(_)) => Some("attribute_not_exists(rule_id) OR rule_id = :rule"),
            (Guard::Free, None) => None,
        };
        let page_update = self
            .tx_update(keys::page(&route.tenant_id, &page.page_id))
            .update_expression(format!("SET {} REMOVE {}", set.join(", "), remove.join(", ")))
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#status", "status")
            .set_condition_expression(page_condition.map(str::to_string))
            .set_expression_attribute_values(Some(values));
        let route_put = match guard {
            Guard::Free => self
                .tx_put(route_item)
                .condition_expression(
                    "attribute_not_exists(pk) OR (tenant_id = :t AND (attribute_not_exists(lease_until) \
                     OR lease_until < :now)) OR (#status = :nc AND lease_until < :now)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":t", route.tenant_id.attr())
                .expression_attribute_values(":nc", NOT_CONNECTED.attr())
                .expression_attribute_values(":now", now.attr()),
            Guard::Lease { op, .. } => self
                .tx_put(route_item)
                .condition_expression("lease_op = :op")
                .expression_attribute_values(":op", op.attr()),
        };
        Ok(vec![route_put.tx()?, page_update.tx()?])
    }

    /// Sets the lease of a route that exists, under `condition` (`:op`, `:until`, `:now` bound).
    async fn lease_route(
        &self,
        page_id: &str,
        change: &RouteChange,
        condition: &str,
        values: &[(&str, String)],
    ) -> Result<bool, StoreError> {
        let mut u = self
            .tx_update(keys::route(page_id))
            .update_expression("SET lease_op = :op, lease_until = :until")
            .condition_expression(condition)
            .expression_attribute_values(":op", change.op.attr())
            .expression_attribute_values(":until", change.until_ms.attr())
            .expression_attribute_values(":now", now_ms().attr());
        if condition.contains("#status") {
            u = u.expression_attribute_names("#status", "status");
        }
        for (k, v) in values {
            u = u.expression_attribute_values(*k, v.attr());
        }
        self.update_if(u).await
    }
}

#[async_trait]
impl PageStore for DynamoStore {
    #[instrument(skip(self), err)]
    async fn page_route(&self, page_id: &str) -> Result<Option<PageRoute>, StoreError> {
        self.record(keys::route(page_id), Read::Eventual).await
    }

    #[instrument(skip(self), err)]
    async fn holder(&self, page_id: &str) -> Result<Option<Holder>, StoreError> {
        let Some(item) = self.read(keys::route(page_id), Read::Latest).await? else { return Ok(None) };
        let route = PageRoute::from_item(&item)?;
        let row = Row(&item);
        let version = row.s("version");
        let page = self.read(keys::page(&route.tenant_id, page_id), Read::Latest).await?;
        // The token is the holder's only at the route's version (both absent: a connection
        // written before versions, which a Page item in the route's shop then stands for).
        let token_enc = match &page {
            Some(p) if Row(p).s("version") == version => StoredPage::from_item(p)?.token_enc,
            _ => None,
        };
        let version = version.unwrap_or_default();
        Ok(Some(Holder {
            draft: route.status == PageStatus::NotConnected,
            route,
            version,
            token_enc,
            lease_until_ms: row.n("lease_until"),
        }))
    }

    #[instrument(skip(self, page, route), fields(page_id = %page.page_id, tenant_id = %route.tenant_id), err)]
    async fn connect_page(&self, page: &PageRecord, route: &PageRoute) -> Result<(), StoreError> {
        let items = self.connect_items(page, route, &domain::custody::new_id(), Guard::Free)?;
        self.transact(items, || format!("page {} is connected to another shop or changing", page.page_id))
            .await
    }

    #[instrument(skip(self), err)]
    async fn list_pages(&self, tenant_id: &str) -> Result<Vec<PageRecord>, StoreError> {
        decode_all(&self.query_all_prefix(keys::pages_of(tenant_id)).await?)
    }

    #[instrument(skip(self, page), fields(page_id = %page.page_id), err)]
    async fn import_page(&self, tenant_id: &str, page: &ImportedPage) -> Result<PageRecord, StoreError> {
        let now = now_ms();
        let out = self
            .update(keys::page(tenant_id, &page.page_id))
            .update_expression(
                "SET page_id = :id, #name = :name, token_enc = :tok, imported_by = :by, imported_at = :at, \
                 #status = if_not_exists(#status, :nc)",
            )
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":id", page.page_id.attr())
            .expression_attribute_values(":name", page.name.attr())
            .expression_attribute_values(":tok", page.token_enc.attr())
            .expression_attribute_values(":by", page.imported_by.attr())
            .expression_attribute_values(":at", domain::timefmt::rfc3339_ms(now).attr())
            .expression_attribute_values(":nc", NOT_CONNECTED.attr())
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(backend("UpdateItem"))?;
        let record = PageRecord::from_item(&out.attributes.unwrap_or_default())?;
        if record.status == PageStatus::NotConnected {
            // The token of a Page not connected expires; a connect meanwhile wins (condition).
            let expires = now + UNCONNECTED_TOKEN_TTL_MS;
            let u = self
                .tx_update(keys::page(tenant_id, &page.page_id))
                .update_expression("SET token_expires_ms = :e, gsi1pk = :g, gsi1sk = :s")
                .condition_expression("#status = :nc")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":e", expires.attr())
                .expression_attribute_values(":g", keys::TOKEN_EXPIRY.attr())
                .expression_attribute_values(":s", keys::token_expiry(expires).attr())
                .expression_attribute_values(":nc", NOT_CONNECTED.attr());
            self.update_if(u).await?;
        }
        Ok(record)
    }

    #[instrument(skip(self), err)]
    async fn page(&self, tenant_id: &str, page_id: &str) -> Result<Option<StoredPage>, StoreError> {
        self.record(keys::page(tenant_id, page_id), Read::Latest).await
    }

    #[instrument(skip(self), err)]
    async fn disconnect_page(&self, tenant_id: &str, page_id: &str) -> Result<(), StoreError> {
        let now = now_ms();
        let page_update = self.not_connected_update(tenant_id, page_id, now)?;
        let route_delete = self
            .tx_delete(keys::route(page_id))
            .condition_expression(
                "tenant_id = :t AND (attribute_not_exists(lease_until) OR lease_until < :now)",
            )
            .expression_attribute_values(":t", tenant_id.attr())
            .expression_attribute_values(":now", now.attr())
            .tx()?;
        let items = vec![route_delete, page_update.clone()];
        match self.transact(items, String::new).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        // The route is not this shop's (or is gone, or changing): only the shop's own item
        // changes, and only while the route is not the shop's.
        let route_check = self
            .tx_check(keys::route(page_id))
            .condition_expression("attribute_not_exists(pk) OR tenant_id <> :t")
            .expression_attribute_values(":t", tenant_id.attr())
            .tx()?;
        let r = self.client.transact_write_items().transact_items(route_check).transact_items(page_update);
        match r.send().await {
            Ok(_) => Ok(()),
            // The route is the shop's (under a change's lease): nothing is written.
            Err(e) if cancellation_reasons(&e).is_some_and(|r| r.first() == Some(&Some(CHECK_FAILED))) => {
                Err(StoreError::Conflict(format!("page {page_id} is changing")))
            }
            // The shop has no such Page: a disconnect creates no item.
            Err(e) if transaction_condition_failed(&e) => Ok(()),
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }

    #[instrument(skip(self, reason), err)]
    async fn mark_lost(
        &self,
        tenant_id: &str,
        page_id: &str,
        version: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        // The shop's view and the route, in one transaction, both at the version that failed.
        let v = (!version.is_empty()).then(|| version.attr());
        let page = self
            .tx_update(keys::page(tenant_id, page_id))
            .update_expression("SET #status = :lost, lost_reason = :why")
            .condition_expression(format!("{} AND #status IN (:connected, :lost)", at_version(version)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":lost", LOST.attr())
            .expression_attribute_values(":connected", CONNECTED.attr())
            .expression_attribute_values(":why", reason.attr());
        let route = self
            .tx_update(keys::route(page_id))
            .update_expression("SET #status = :lost")
            .condition_expression(format!("tenant_id = :t AND {}", at_version(version)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":lost", LOST.attr())
            .expression_attribute_values(":t", tenant_id.attr());
        let (page, route) = match v {
            Some(v) => (
                page.expression_attribute_values(":v", v.clone()).tx()?,
                route.expression_attribute_values(":v", v).tx()?,
            ),
            None => (page.tx()?, route.tx()?),
        };
        match self.transact(vec![page, route], String::new).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    #[instrument(skip(self, c), fields(page_id = %c.page_id, tenant_id = %c.tenant_id), err)]
    async fn begin_change(&self, c: &RouteChange) -> Result<(), StoreError> {
        const FREE: &str = "(attribute_not_exists(lease_until) OR lease_until < :now)";
        if let Some(t) = &c.take_over {
            let condition =
                format!("tenant_id = :from AND {} AND #status = :lost AND {FREE}", at_version(&t.version));
            let mut values = vec![(":from", t.tenant_id.clone()), (":lost", LOST.into())];
            if !t.version.is_empty() {
                values.push((":v", t.version.clone()));
            }
            if self.lease_route(&c.page_id, c, &condition, &values).await? {
                return Ok(());
            }
            return Err(StoreError::Conflict(format!("page {} changed hands or is changing", c.page_id)));
        }
        let condition = format!("tenant_id = :me AND {FREE}");
        if self.lease_route(&c.page_id, c, &condition, &[(":me", c.tenant_id.clone())]).await? {
            return Ok(());
        }
        let Some(draft) = &c.draft else {
            return Err(StoreError::Conflict(format!("page {} is not the shop's or is changing", c.page_id)));
        };
        // No route (or only a draft whose change died): the draft, so events are kept from now.
        let mut item = keys::route(&c.page_id).with(draft.to_item());
        item.insert("gsi1pk".into(), keys::ROUTES.attr());
        item.insert("gsi1sk".into(), c.page_id.attr());
        item.insert("connected_ms".into(), now_ms().attr());
        item.insert("version".into(), domain::custody::new_id().attr());
        item.insert("lease_op".into(), c.op.attr());
        item.insert("lease_until".into(), c.until_ms.attr());
        let r = self
            .put(item)
            .condition_expression("attribute_not_exists(pk) OR (#status = :nc AND lease_until < :now)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":nc", NOT_CONNECTED.attr())
            .expression_attribute_values(":now", now_ms().attr())
            .send()
            .await;
        if conditional(r, "PutItem")? {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!("page {} is held by another shop or changing", c.page_id)))
        }
    }

    #[instrument(skip(self), err)]
    async fn abort_change(&self, page_id: &str, op: &str) -> Result<(), StoreError> {
        let r = self
            .delete(keys::route(page_id))
            .condition_expression("lease_op = :op AND #status = :nc")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":op", op.attr())
            .expression_attribute_values(":nc", NOT_CONNECTED.attr())
            .send()
            .await;
        if conditional(r, "DeleteItem")? {
            return Ok(());
        }
        let u = self
            .tx_update(keys::route(page_id))
            .update_expression("REMOVE lease_op, lease_until")
            .condition_expression("lease_op = :op")
            .expression_attribute_values(":op", op.attr());
        self.update_if(u).await.map(|_| ())
    }

    #[instrument(skip(self, c), fields(page_id = %c.page.page_id, tenant_id = %c.route.tenant_id), err)]
    async fn commit_connect(&self, c: &Connection<'_>) -> Result<(), StoreError> {
        let (tenant, page_id) = (c.route.tenant_id.as_str(), c.page.page_id.as_str());
        let guard = Guard::Lease { op: c.op, leave: c.leave.map(|r| r.id.as_str()) };
        let mut items = self.connect_items(c.page, c.route, c.version, guard)?;
        if let Some(old) = c.leave {
            items.push(self.leave_item(tenant, page_id, old)?);
        }
        if let Some(link) = c.join {
            items.extend(self.join_items(tenant, page_id, link)?);
        }
        if let Some(t) = c.take_over {
            let mut previous = self
                .tx_update(keys::page(&t.tenant_id, page_id))
                .update_expression("SET #status = :lost, lost_reason = :why")
                .condition_expression(format!("attribute_exists(pk) AND {}", at_version(&t.version)))
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":lost", LOST.attr())
                .expression_attribute_values(":why", t.reason.attr());
            if !t.version.is_empty() {
                previous = previous.expression_attribute_values(":v", t.version.attr());
            }
            items.push(previous.tx()?);
        }
        self.transact(items, || {
            format!(
                "page {page_id} could not be connected: its lease, its rule or its previous holder changed"
            )
        })
        .await
    }

    #[instrument(skip(self), err)]
    async fn commit_disconnect(&self, tenant_id: &str, page_id: &str, op: &str) -> Result<(), StoreError> {
        let route_delete = self
            .tx_delete(keys::route(page_id))
            .condition_expression("lease_op = :op AND tenant_id = :t")
            .expression_attribute_values(":op", op.attr())
            .expression_attribute_values(":t", tenant_id.attr())
            .tx()?;
        let items = vec![route_delete, self.not_connected_update(tenant_id, page_id, now_ms())?];
        self.transact(items, || format!("the disconnect of page {page_id} lost its lease")).await
    }

    #[instrument(skip(self), err)]
    async fn list_routes(&self) -> Result<Vec<RouteHealth>, StoreError> {
        let q = self
            .query()
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", keys::ROUTES.attr());
        decode_all(&self.query_all(q, usize::MAX).await?)
    }

    async fn list_routes_page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<domain::model::Paged<RouteHealth>, StoreError> {
        self.routes_page(cursor, limit).await
    }

    #[instrument(skip(self), err)]
    async fn record_health_check(
        &self,
        page_id: &str,
        version: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.stamp_health_check(page_id, version, now_ms).await
    }

    #[instrument(skip(self), err)]
    async fn mark_recovered(
        &self,
        tenant_id: &str,
        page_id: &str,
        version: &str,
    ) -> Result<bool, StoreError> {
        self.recover(tenant_id, page_id, version).await
    }

    async fn claim_health_sweep(
        &self,
        run_id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<domain::ports::HealthSweep>, StoreError> {
        self.claim_sweep(run_id, now_ms, until_ms).await
    }

    async fn save_health_sweep(
        &self,
        run_id: &str,
        cursor: Option<&str>,
        now_ms: i64,
        release: bool,
    ) -> Result<bool, StoreError> {
        self.save_sweep(run_id, cursor, now_ms, release).await
    }

    #[instrument(skip(self), err)]
    async fn touch_delivery(&self, page_id: &str, now_ms: i64) -> Result<(), StoreError> {
        let r = self
            .update(keys::route(page_id))
            .update_expression("SET last_event_ms = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(last_event_ms) OR last_event_ms < :cutoff)",
            )
            .expression_attribute_values(":now", now_ms.attr())
            .expression_attribute_values(":cutoff", (now_ms - DELIVERY_TOUCH_INTERVAL_MS).attr())
            .send()
            .await;
        conditional(r, "UpdateItem").map(|_| ())
    }

    #[instrument(skip(self, old_enc, new_enc), err)]
    async fn replace_token(
        &self,
        tenant_id: &str,
        page_id: &str,
        old_enc: &str,
        new_enc: &str,
    ) -> Result<bool, StoreError> {
        self.swap_token(tenant_id, page_id, old_enc, new_enc).await
    }

    #[instrument(skip(self), err)]
    async fn expire_tokens(&self, now_ms: i64) -> Result<usize, StoreError> {
        self.remove_expired_tokens(now_ms).await
    }

    #[instrument(skip(self, reason), err)]
    async fn revoke_page(&self, tenant_id: &str, page_id: &str, reason: &str) -> Result<(), StoreError> {
        // One transaction conditioned on what was read (the item's status, the route's holder);
        // a concurrent change cancels it and it is built again from a fresh read.
        for _ in 0..5 {
            let Some(item) = self.read(keys::page(tenant_id, page_id), Read::Latest).await? else {
                return Ok(());
            };
            let status = super::codec::Row(&item).s("status").unwrap_or_default();
            let holds_route = self
                .read(keys::route(page_id), Read::Latest)
                .await?
                .is_some_and(|r| super::codec::Row(&r).s("tenant_id").as_deref() == Some(tenant_id));
            let lost = PageStatus::LostConnection.as_str();
            let receiving = status == PageStatus::Connected.as_str() || status == lost;
            let mut page = self
                .tx_update(keys::page(tenant_id, page_id))
                .condition_expression("#status = :seen")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":seen", status.attr());
            page = if receiving {
                page.update_expression(
                    "SET #status = :lost, lost_reason = :why \
                     REMOVE token_enc, version, token_expires_ms, gsi1pk, gsi1sk",
                )
                .expression_attribute_values(":lost", lost.attr())
                .expression_attribute_values(":why", reason.attr())
            } else {
                page.update_expression("REMOVE token_enc, version, token_expires_ms, gsi1pk, gsi1sk")
            };
            let route = if holds_route {
                self.tx_update(keys::route(page_id))
                    .update_expression("SET #status = :lost")
                    .condition_expression("tenant_id = :t")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":lost", lost.attr())
                    .expression_attribute_values(":t", tenant_id.attr())
                    .tx()?
            } else {
                self.tx_check(keys::route(page_id))
                    .condition_expression("attribute_not_exists(pk) OR tenant_id <> :t")
                    .expression_attribute_values(":t", tenant_id.attr())
                    .tx()?
            };
            match self.transact(vec![page.tx()?, route], String::new).await {
                Err(StoreError::Conflict(_)) => continue,
                r => return r,
            }
        }
        Err(StoreError::Conflict(format!("page {page_id} kept changing while its token was revoked")))
    }
}

impl DynamoStore {
    /// The shop's Page, not connected: version gone, token expiring (the item must exist).
    fn not_connected_update(
        &self,
        tenant_id: &str,
        page_id: &str,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let expires = now + UNCONNECTED_TOKEN_TTL_MS;
        self.tx_update(keys::page(tenant_id, page_id))
            .update_expression(
                "SET #status = :nc, token_expires_ms = :e, gsi1pk = :g, gsi1sk = :s REMOVE lost_reason, version",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":nc", NOT_CONNECTED.attr())
            .expression_attribute_values(":e", expires.attr())
            .expression_attribute_values(":g", keys::TOKEN_EXPIRY.attr())
            .expression_attribute_values(":s", keys::token_expiry(expires).attr())
            .tx()
    }
}
