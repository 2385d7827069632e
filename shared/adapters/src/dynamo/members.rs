//! [`MemberStore`]: a shop's members and its settings (docs/table-design.md, "Member" and
//! "Shop settings").

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::model::Member;
use domain::ports::{MemberStore, StoreError};
use tracing::instrument;

use super::codec::{ToAttr, ToItem, decode_all};
use super::errors::{backend, conditional};
use super::{DynamoStore, Read, keys};

#[async_trait]
impl MemberStore for DynamoStore {
    #[instrument(skip(self), err)]
    async fn member(&self, tenant_id: &str, email: &str) -> Result<Option<Member>, StoreError> {
        self.record(keys::member(tenant_id, email), Read::Eventual).await
    }

    #[instrument(skip(self, member), fields(email = %member.email), err)]
    async fn add_member(&self, tenant_id: &str, member: &Member) -> Result<bool, StoreError> {
        let r = self
            .put(keys::member(tenant_id, &member.email).with(member.to_item()))
            .item("added_at", domain::timefmt::rfc3339_ms(domain::timefmt::now_ms()).attr())
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await;
        conditional(r, "PutItem")
    }

    #[instrument(skip(self), err)]
    async fn human_agent_enabled(&self, tenant_id: &str) -> Result<bool, StoreError> {
        let item = self.read(keys::settings(tenant_id), Read::Eventual).await?;
        Ok(matches!(item.as_ref().and_then(|i| i.get("human_agent_tag")), Some(AttributeValue::Bool(true))))
    }

    #[instrument(skip(self), err)]
    async fn set_human_agent_enabled(&self, tenant_id: &str, enabled: bool) -> Result<(), StoreError> {
        self.update(keys::settings(tenant_id))
            .update_expression("SET human_agent_tag = :v")
            .expression_attribute_values(":v", enabled.attr())
            .send()
            .await
            .map_err(backend("UpdateItem"))?;
        Ok(())
    }

    #[instrument(skip(self), err)]
    async fn remove_member(&self, tenant_id: &str, email: &str) -> Result<bool, StoreError> {
        let r = self
            .delete(keys::member(tenant_id, email))
            .condition_expression("attribute_exists(sk)")
            .send()
            .await;
        conditional(r, "DeleteItem")
    }

    #[instrument(skip(self), err)]
    async fn list_members(&self, tenant_id: &str) -> Result<Vec<Member>, StoreError> {
        decode_all(&self.query_all_prefix(keys::members_of(tenant_id)).await?)
    }
}
