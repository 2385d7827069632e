//! Reading many items: a listing's page behind an opaque cursor, every item of a Query, and
//! items by key (BatchGetItem).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use domain::ports::StoreError;

use super::codec::{Row, ToAttr};
use super::errors::{backend, query_error};
use super::keys::{Key, Prefix};
use super::{DynamoStore, Item};
use crate::cursor;
use crate::retry::RetryPolicy;

/// The most Query pages one page of a listing reads (DynamoDB stops a Query page at 1 MB or at
/// its filter's limit): past it, the listing answers with what it has and a cursor.
pub(super) const MAX_QUERY_PAGES: usize = 20;

/// The key attributes a listing's cursor carries, and the value its partition must have.
pub(super) struct Listing<'a> {
    pub(super) name: &'static str,
    pub(super) index: &'static str,
    pub(super) pk_attr: &'static str,
    pub(super) sk_attr: &'static str,
    pub(super) pk_value: &'a str,
}

impl DynamoStore {
    /// One page of a Query, newest first, with a cursor built from the last returned item.
    pub(super) async fn query_page(
        &self,
        listing: &Listing<'_>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let key_attrs: Vec<&str> = if listing.index == "lsi1" {
            vec!["pk", "sk", "lsi1sk"]
        } else {
            vec!["pk", "sk", listing.pk_attr, listing.sk_attr]
        };
        let mut start: Option<Item> = match cursor {
            None => None,
            Some(c) => {
                let k = cursor::decode(listing.name, c)?;
                if k.len() != key_attrs.len()
                    || key_attrs.iter().any(|a| !k.contains_key(*a))
                    || k.get(listing.pk_attr).map(String::as_str) != Some(listing.pk_value)
                {
                    return Err(StoreError::InvalidCursor);
                }
                Some(k.into_iter().map(|(k, v)| (k, v.attr())).collect())
            }
        };
        let limit = limit.clamp(1, 100);
        let mut items: Vec<Item> = Vec::new();
        let mut more = false;
        for _ in 0..MAX_QUERY_PAGES {
            let q = self
                .query()
                .index_name(listing.index)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", listing.pk_attr)
                .expression_attribute_values(":pk", listing.pk_value.attr())
                .scan_index_forward(false)
                .limit((limit - items.len()) as i32)
                .set_exclusive_start_key(start.take());
            let out = q.send().await.map_err(query_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(lek) if items.len() < limit => start = Some(lek),
                Some(_) => {
                    more = true;
                    break;
                }
                None => break,
            }
        }
        let next = if more {
            items.last().map(|last| {
                let k: BTreeMap<String, String> =
                    key_attrs.iter().filter_map(|a| Row(last).s(a).map(|v| (a.to_string(), v))).collect();
                cursor::encode(listing.name, &k)
            })
        } else {
            None
        };
        Ok((items, next))
    }

    /// Every item a Query finds, page after page, until the end or until more than `cap` are
    /// read (the caller sees that from the length).
    pub(super) async fn query_all(&self, q: QueryFluentBuilder, cap: usize) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let r = q.clone().set_exclusive_start_key(start).send().await.map_err(backend("Query"))?;
            out.extend(r.items.unwrap_or_default());
            match r.last_evaluated_key {
                Some(k) if out.len() <= cap => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Every item of one kind in one partition.
    pub(super) async fn query_all_prefix(&self, prefix: Prefix) -> Result<Vec<Item>, StoreError> {
        let q = self
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", prefix.pk.attr())
            .expression_attribute_values(":p", prefix.sk.attr());
        self.query_all(q, usize::MAX).await
    }

    /// [`Self::query_all_prefix`], strongly consistent: sees every write acknowledged before it.
    pub(super) async fn query_all_prefix_latest(&self, prefix: Prefix) -> Result<Vec<Item>, StoreError> {
        let q = self
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", prefix.pk.attr())
            .expression_attribute_values(":p", prefix.sk.attr())
            .consistent_read(true);
        self.query_all(q, usize::MAX).await
    }

    /// Items by key (BatchGetItem, strongly consistent, 100 keys a call); absent ones are left
    /// out. Unprocessed keys (throttling) are asked for again, a few times, with a pause.
    pub(super) async fn batch_get(&self, keys: Vec<Key>) -> Result<Vec<Item>, StoreError> {
        let policy = RetryPolicy::THROTTLED_READ;
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let keys: Vec<Item> = chunk.iter().cloned().map(Key::item).collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(backend("BatchGetItem"))?,
            );
            for n in policy.attempts() {
                let Some(req) = request.take() else { break };
                if n > 0 {
                    policy.pause(n - 1).await;
                }
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await
                    .map_err(backend("BatchGetItem"))?;
                found.extend(out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default());
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
            }
            if request.is_some() {
                return Err(StoreError::Backend {
                    op: "BatchGetItem",
                    source: "keys left unprocessed after retries".into(),
                });
            }
        }
        Ok(found)
    }
}
