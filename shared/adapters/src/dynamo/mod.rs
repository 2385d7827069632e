//! The DynamoDB store: one table, keys and indexes as in docs/table-design.md. Every write that
//! must happen once is conditional; nothing here reads and then writes on the strength of what
//! it read.
//!
//! One file per port (`pages`, `members`, `nonces`, `rules` with the turn counter in `turns`,
//! `conversations` with the inbox listing in `inbox` and replies in `replies`), over shared parts: `keys` spells every
//! key, `codec` turns items into records and back, `errors` maps SDK errors, `query` reads pages
//! of items, `schema` creates the table.

mod codec;
mod comments;
mod conversations;
mod erasure;
mod errors;
mod facebook_users;
mod health;
mod inbox;
mod keys;
mod members;
mod nonces;
mod pages;
mod query;
mod replies;
mod rules;
mod schema;
mod turns;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, DeleteBuilder, PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};
use domain::ports::StoreError;

use codec::FromItem;
use errors::{backend, conditional, transaction_condition_failed};
use keys::Key;

type Item = HashMap<String, AttributeValue>;

/// How a GetItem reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Eventually consistent: may miss a write of the last second.
    Eventual,
    /// Strongly consistent: sees every write acknowledged before it.
    Latest,
}

/// The DynamoDB-backed store.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One item by key (GetItem), None when there is none.
    async fn read(&self, key: Key, read: Read) -> Result<Option<Item>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .set_consistent_read((read == Read::Latest).then_some(true))
            .send()
            .await
            .map_err(backend("GetItem"))?;
        Ok(r.item)
    }

    /// One record by key, None when there is no item.
    async fn record<T: FromItem>(&self, key: Key, read: Read) -> Result<Option<T>, StoreError> {
        self.read(key, read).await?.as_ref().map(T::from_item).transpose()
    }

    /// A PutItem of a whole item, key included.
    fn put(&self, item: Item) -> PutItemFluentBuilder {
        self.client.put_item().table_name(&self.table).set_item(Some(item))
    }

    /// An UpdateItem of one item.
    fn update(&self, key: Key) -> UpdateItemFluentBuilder {
        self.client.update_item().table_name(&self.table).set_key(Some(key.item()))
    }

    /// A DeleteItem of one item.
    fn delete(&self, key: Key) -> DeleteItemFluentBuilder {
        self.client.delete_item().table_name(&self.table).set_key(Some(key.item()))
    }

    /// A Query of the table (or, with `index_name`, of one of its indexes).
    fn query(&self) -> QueryFluentBuilder {
        self.client.query().table_name(&self.table)
    }

    /// A transaction's Put of a whole item, key included.
    fn tx_put(&self, item: Item) -> PutBuilder {
        Put::builder().table_name(&self.table).set_item(Some(item))
    }

    /// A transaction's Update of one item.
    fn tx_update(&self, key: Key) -> UpdateBuilder {
        Update::builder().table_name(&self.table).set_key(Some(key.item()))
    }

    /// A transaction's Delete of one item.
    fn tx_delete(&self, key: Key) -> DeleteBuilder {
        Delete::builder().table_name(&self.table).set_key(Some(key.item()))
    }

    /// A transaction's ConditionCheck of one item.
    fn tx_check(&self, key: Key) -> ConditionCheckBuilder {
        ConditionCheck::builder().table_name(&self.table).set_key(Some(key.item()))
    }

    /// A transaction's Update sent alone: an UpdateItem with its key, expressions and condition.
    fn update_alone(&self, u: &Update) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(u.table_name())
            .set_key(Some(u.key().clone()))
            .update_expression(u.update_expression())
            .set_condition_expression(u.condition_expression().map(str::to_string))
            .set_expression_attribute_names(u.expression_attribute_names().cloned())
            .set_expression_attribute_values(u.expression_attribute_values().cloned())
    }

    /// A transaction's Update applied alone, conditionally: whether its condition held.
    async fn update_if(&self, u: UpdateBuilder) -> Result<bool, StoreError> {
        let u = u.build().map_err(backend("UpdateItem"))?;
        conditional(self.update_alone(&u).send().await, "UpdateItem")
    }

    /// Writes `items` in one transaction, all or nothing; when one of their conditions does not
    /// hold, nothing is written and the answer is [`StoreError::Conflict`] saying `why`.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        why: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) if transaction_condition_failed(&e) => Err(StoreError::Conflict(why())),
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }
}

/// A transaction item, built from its Put, Update, Delete or ConditionCheck builder.
trait TxItem {
    fn tx(self) -> Result<TransactWriteItem, StoreError>;
}

/// `TxItem` for a builder whose item goes into a `TransactWriteItem` through `$setter`.
macro_rules! tx_item {
    ($($builder:ty => $setter:ident),* $(,)?) => {$(
        impl TxItem for $builder {
            fn tx(self) -> Result<TransactWriteItem, StoreError> {
                let built = self.build().map_err(backend("TransactWriteItems"))?;
                Ok(TransactWriteItem::builder().$setter(built).build())
            }
        }
    )*};
}

tx_item!(
    PutBuilder => put,
    UpdateBuilder => update,
    DeleteBuilder => delete,
    ConditionCheckBuilder => condition_check,
);
