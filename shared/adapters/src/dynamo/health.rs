//! The health run's storage (`PageStore::list_routes_page`, `claim_health_sweep`,
//! `save_health_sweep`, `record_health_check`, `mark_recovered`, `replace_token`,
//! `expire_tokens`): routes a batch at a time through `gsi1` (a Query, never a Scan), the one
//! item that records where the sweep stands and which run may advance it, the healthy check's
//! stamp, the way back from lost connection, the key rotation's re-wrapped tokens, and the
//! expired tokens of Pages not connected.

use aws_sdk_dynamodb::types::ReturnValue;
use domain::model::Paged;
use domain::ports::{HealthSweep, ROUTES_PAGE_MAX, RouteHealth, StoreError};

use domain::timefmt::now_ms;

use super::codec::{Row, ToAttr, decode_all};
use super::errors::{backend, is_conditional_failure};
use super::keys::Key;
use super::pages::{CONNECTED, LOST, NOT_CONNECTED, at_version};
use super::{DynamoStore, TxItem, keys};
use crate::cursor;

impl DynamoStore {
    /// The health run's token sweep ([`PageStore::expire_tokens`]): the tokens of Pages not
    /// connected whose expiry passed, found through the sparse `gsi1` entry (never a scan).
    pub(super) async fn remove_expired_tokens(&self, now_ms: i64) -> Result<usize, StoreError> {
        let q = self
            .query()
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :p AND gsi1sk < :s")
            .expression_attribute_values(":p", keys::TOKEN_EXPIRY.attr())
            .expression_attribute_values(":s", keys::token_expiry(now_ms).attr());
        let mut removed = 0;
        for item in self.query_all(q, usize::MAX).await? {
            let Some(key) = Key::of_item(&item) else { continue };
            let u = self
                .tx_update(key)
                .update_expression("REMOVE token_enc, token_expires_ms, gsi1pk, gsi1sk")
                .condition_expression("token_expires_ms < :now AND #status = :nc")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":now", now_ms.attr())
                .expression_attribute_values(":nc", NOT_CONNECTED.attr());
            if self.update_if(u).await? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The health sweep's key-rotation step ([`PageStore::replace_token`]): the Page's sealed
    /// token replaced only while it is still `old_enc`.
    pub(super) async fn swap_token(
        &self,
        tenant_id: &str,
        page_id: &str,
        old_enc: &str,
        new_enc: &str,
    ) -> Result<bool, StoreError> {
        // The condition is the whole guarantee: no read first, so a token a Login wrote since
        // the caller read `old_enc` is never replaced by the re-wrapped old one.
        let u = self
            .tx_update(keys::page(tenant_id, page_id))
            .update_expression("SET token_enc = :new")
            .condition_expression("token_enc = :old")
            .expression_attribute_values(":old", old_enc.attr())
            .expression_attribute_values(":new", new_enc.attr());
        self.update_if(u).await
    }

    /// Routes in Page-id order (the index's sort key), after the Page the cursor names. The
    /// start key is rebuilt from that Page id, so it need not be an item that still exists.
    pub(super) async fn routes_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Paged<RouteHealth>, StoreError> {
        let limit = limit.clamp(1, ROUTES_PAGE_MAX);
        let mut start = match after {
            None => None,
            Some(c) => {
                let page = cursor::decode_route_cursor(c)?;
                let mut k = keys::route(&page).item();
                k.insert("gsi1pk".into(), keys::ROUTES.attr());
                k.insert("gsi1sk".into(), page.attr());
                Some(k)
            }
        };
        let mut items = Vec::new();
        // A page of the index may come back short (1 MB); read on until `limit` or the end, and
        // one more item to learn whether anything follows.
        let more = loop {
            let out = self
                .query()
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", keys::ROUTES.attr())
                .scan_index_forward(true)
                .limit(i32::try_from(limit + 1 - items.len()).unwrap_or(1))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend("Query"))?;
            items.extend(out.items.unwrap_or_default());
            if items.len() > limit {
                items.truncate(limit);
                break true;
            }
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break false,
            }
        };
        let items: Vec<RouteHealth> = decode_all(&items)?;
        let next_cursor =
            if more { items.last().map(|r| cursor::route_cursor(&r.route.page_id)) } else { None };
        Ok(Paged { items, next_cursor })
    }

    /// Takes the sweep's claim unless another run's lasts; answers where the sweep stands.
    pub(super) async fn claim_sweep(
        &self,
        run_id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<HealthSweep>, StoreError> {
        let r = self
            .update(keys::health_sweep())
            .update_expression("SET claim_run = :r, claim_until = :u")
            .condition_expression(
                "attribute_not_exists(claim_until) OR claim_until <= :now OR claim_run = :r",
            )
            .expression_attribute_values(":r", run_id.attr())
            .expression_attribute_values(":u", until_ms.attr())
            .expression_attribute_values(":now", now_ms.attr())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match r {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let row = Row(&item);
                Ok(Some(HealthSweep {
                    cursor: row.s("sweep_cursor"),
                    last_finished_ms: row.n("last_finished_ms"),
                }))
            }
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(backend("UpdateItem")(e)),
        }
    }

    /// Saves the cursor (or the sweep's end) while `run_id` still holds the claim.
    pub(super) async fn save_sweep(
        &self,
        run_id: &str,
        cursor: Option<&str>,
        now_ms: i64,
        release: bool,
    ) -> Result<bool, StoreError> {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut u = self
            .tx_update(keys::health_sweep())
            .condition_expression("claim_run = :r")
            .expression_attribute_values(":r", run_id.attr());
        match cursor {
            Some(c) => {
                set.push("sweep_cursor = :c");
                u = u.expression_attribute_values(":c", c.attr());
            }
            None => {
                set.push("last_finished_ms = :now");
                remove.push("sweep_cursor");
                u = u.expression_attribute_values(":now", now_ms.attr());
            }
        }
        if release {
            remove.extend(["claim_run", "claim_until"]);
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        self.update_if(u.update_expression(expr)).await
    }

    /// `PageStore::record_health_check`: the route's `checked_ms`, at `version` only.
    pub(super) async fn stamp_health_check(
        &self,
        page_id: &str,
        version: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut u = self
            .tx_update(keys::route(page_id))
            .update_expression("SET checked_ms = :now")
            .condition_expression(format!("attribute_exists(pk) AND {}", at_version(version)))
            .expression_attribute_values(":now", now_ms.attr());
        if !version.is_empty() {
            u = u.expression_attribute_values(":v", version.attr());
        }
        self.update_if(u).await
    }

    /// `PageStore::mark_recovered`.
    pub(super) async fn recover(
        &self,
        tenant_id: &str,
        page_id: &str,
        version: &str,
    ) -> Result<bool, StoreError> {
        // The mirror of `mark_lost`: both items, at the version checked, still lost; the route
        // also free of any change's lease (a takeover or reconnect in progress wins).
        let mut page = self
            .tx_update(keys::page(tenant_id, page_id))
            .update_expression("SET #status = :connected REMOVE lost_reason")
            .condition_expression(format!("{} AND #status = :lost", at_version(version)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":lost", LOST.attr())
            .expression_attribute_values(":connected", CONNECTED.attr());
        let mut route = self
            .tx_update(keys::route(page_id))
            .update_expression("SET #status = :connected")
            .condition_expression(format!(
                "tenant_id = :t AND {} AND #status = :lost \
                 AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                at_version(version)
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":lost", LOST.attr())
            .expression_attribute_values(":connected", CONNECTED.attr())
            .expression_attribute_values(":t", tenant_id.attr())
            .expression_attribute_values(":now", now_ms().attr());
        if !version.is_empty() {
            page = page.expression_attribute_values(":v", version.attr());
            route = route.expression_attribute_values(":v", version.attr());
        }
        match self.transact(vec![page.tx()?, route.tx()?], String::new).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
