//! [`PageStore`]: the shop's view of each Page and the route from a Page to the one shop
//! receiving it (docs/table-design.md, "Shop's view of a Page" and "Page route").

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem};
use domain::model::{PageRecord, PageRoute, PageStatus};
use domain::ports::{
    DELIVERY_TOUCH_INTERVAL_MS, ImportedPage, PageStore, RouteHealth, StoreError, StoredPage,
};
use tracing::instrument;

use super::codec::{FromItem, ToAttr, ToItem, decode_all};
use super::errors::{backend, conditional, transaction_condition_failed};
use super::{DynamoStore, Item, Read, TxItem, keys};

impl DynamoStore {
    /// The route Put and the shop's Page Update of a connection; with a rule, the Page must not
    /// be in another rule.
    pub(super) fn connect_items(
        &self,
        page: &PageRecord,
        route: &PageRoute,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut route_item = keys::route(&route.page_id).with(route.to_item());
        // Every route in one index partition: the health check's worklist without a scan.
        route_item.insert("gsi1pk".into(), keys::ROUTES.attr());
        route_item.insert("gsi1sk".into(), route.page_id.attr());
        route_item.insert("connected_ms".into(), domain::timefmt::now_ms().attr());
        // The shop's Page item is updated, not replaced, so its stored token stays.
        let mut set = vec![
            "page_id = :id",
            "#name = :name",
            "#status = :status",
            "chat_mode = :mode",
            "connected_by = :by",
            "last_connected_at = :at",
        ];
        let mut remove = vec!["lost_reason"];
        let mut values: Item = Item::new();
        values.insert(":id".into(), page.page_id.attr());
        values.insert(":name".into(), page.name.attr());
        values.insert(":status".into(), page.status.as_str().attr());
        values.insert(":mode".into(), page.chat_mode.unwrap_or(route.chat_mode).as_str().attr());
        values.insert(":by".into(), page.connected_by.as_ref().unwrap_or(&route.connected_by).attr());
        values.insert(":at".into(), page.last_connected_at.as_deref().unwrap_or_default().attr());
        match &page.rule_id {
            Some(r) => {
                set.push("rule_id = :rule");
                values.insert(":rule".into(), r.attr());
            }
            None => remove.push("rule_id"),
        }
        let mut page_update = self
            .tx_update(keys::page(&route.tenant_id, &page.page_id))
            .update_expression(format!("SET {} REMOVE {}", set.join(", "), remove.join(", ")))
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values));
        if page.rule_id.is_some() {
            page_update =
                page_update.condition_expression("attribute_not_exists(rule_id) OR rule_id = :rule");
        }
        let route_put = self
            .tx_put(route_item)
            .condition_expression("attribute_not_exists(pk) OR tenant_id = :t")
            .expression_attribute_values(":t", route.tenant_id.attr());
        Ok(vec![route_put.tx()?, page_update.tx()?])
    }
}

#[async_trait]
impl PageStore for DynamoStore {
    #[instrument(skip(self), err)]
    async fn page_route(&self, page_id: &str) -> Result<Option<PageRoute>, StoreError> {
        self.record(keys::route(page_id), Read::Eventual).await
    }

    #[instrument(skip(self, page, route), fields(page_id = %page.page_id, tenant_id = %route.tenant_id), err)]
    async fn connect_page(&self, page: &PageRecord, route: &PageRoute) -> Result<(), StoreError> {
        let items = self.connect_items(page, route)?;
        self.transact(items, || format!("page {} is connected to another shop", page.page_id)).await
    }

    #[instrument(skip(self), err)]
    async fn list_pages(&self, tenant_id: &str) -> Result<Vec<PageRecord>, StoreError> {
        decode_all(&self.query_all_prefix(keys::pages_of(tenant_id)).await?)
    }

    #[instrument(skip(self, page), fields(page_id = %page.page_id), err)]
    async fn import_page(&self, tenant_id: &str, page: &ImportedPage) -> Result<PageRecord, StoreError> {
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
            .expression_attribute_values(":at", domain::timefmt::rfc3339_ms(domain::timefmt::now_ms()).attr())
            .expression_attribute_values(":nc", PageStatus::NotConnected.as_str().attr())
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(backend("UpdateItem"))?;
        PageRecord::from_item(&out.attributes.unwrap_or_default())
    }

    #[instrument(skip(self), err)]
    async fn page(&self, tenant_id: &str, page_id: &str) -> Result<Option<StoredPage>, StoreError> {
        self.record(keys::page(tenant_id, page_id), Read::Latest).await
    }

    #[instrument(skip(self), err)]
    async fn disconnect_page(&self, tenant_id: &str, page_id: &str) -> Result<(), StoreError> {
        // The shop's Page item: not connected any more (a disconnect creates no item).
        let page_update = self
            .tx_update(keys::page(tenant_id, page_id))
            .update_expression("SET #status = :nc REMOVE lost_reason")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":nc", PageStatus::NotConnected.as_str().attr())
            .build()
            .map_err(backend("TransactWriteItems"))?;
        let route_delete = self
            .tx_delete(keys::route(page_id))
            .condition_expression("tenant_id = :t")
            .expression_attribute_values(":t", tenant_id.attr())
            .tx()?;
        let r = self
            .client
            .transact_write_items()
            .transact_items(route_delete)
            .transact_items(TransactWriteItem::builder().update(page_update.clone()).build())
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if transaction_condition_failed(&e) => {
                // The route is not this shop's (or is gone): only the shop's own item changes.
                conditional(self.update_alone(&page_update).send().await, "UpdateItem").map(|_| ())
            }
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
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

    #[instrument(skip(self, reason), err)]
    async fn mark_lost(&self, tenant_id: &str, page_id: &str, reason: &str) -> Result<(), StoreError> {
        // Two conditional updates, each idempotent: the shop's view first, then the route.
        let r = self
            .update(keys::page(tenant_id, page_id))
            .update_expression("SET #status = :lost, lost_reason = :why")
            .condition_expression("#status IN (:connected, :lost)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":lost", PageStatus::LostConnection.as_str().attr())
            .expression_attribute_values(":connected", PageStatus::Connected.as_str().attr())
            .expression_attribute_values(":why", reason.attr())
            .send()
            .await;
        if !conditional(r, "UpdateItem")? {
            return Ok(());
        }
        let r = self
            .update(keys::route(page_id))
            .update_expression("SET #status = :lost")
            .condition_expression("tenant_id = :t")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":lost", PageStatus::LostConnection.as_str().attr())
            .expression_attribute_values(":t", tenant_id.attr())
            .send()
            .await;
        conditional(r, "UpdateItem").map(|_| ())
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
                page.update_expression("SET #status = :lost, lost_reason = :why REMOVE token_enc")
                    .expression_attribute_values(":lost", lost.attr())
                    .expression_attribute_values(":why", reason.attr())
            } else {
                page.update_expression("REMOVE token_enc")
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
