//! [`MemberStore`]: a shop's members, its founding and its settings (docs/table-design.md,
//! "Member", "Shop founding" and "Shop settings").

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::model::{Member, Role};
use domain::ports::{AgentsChange, MAX_RULES_LEFT_AT_ONCE, MemberStore, Membership, StoreError};
use domain::timefmt::{now_ms, rfc3339_ms};
use tracing::instrument;

use super::codec::{FromItem, Row, ToAttr, ToItem, decode_all};
use super::errors::{backend, conditional, transaction_condition_failed, transaction_conflicted};
use super::{DynamoStore, Read, TxItem, keys};

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
            .item("added_at", rfc3339_ms(now_ms()).attr())
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

    #[instrument(skip(self), err)]
    async fn membership(&self, tenant_id: &str, email: &str) -> Result<Option<Membership>, StoreError> {
        let Some(item) = self.read(keys::member(tenant_id, email), Read::Latest).await? else {
            return Ok(None);
        };
        let row = Row(&item);
        let agent_grants = row.n("agent_grants").and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        Ok(Some(Membership { member: Member::from_item(&item)?, sub: row.s("sub"), agent_grants }))
    }

    #[instrument(skip(self, owner, sub), fields(email = %owner.email), err)]
    async fn found_shop(&self, tenant_id: &str, owner: &Member, sub: &str) -> Result<bool, StoreError> {
        // A shop that has members but no founding item (stored before founding was recorded)
        // is founded already. The founding item's condition is what settles two founders at once.
        let existing = self
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", keys::members_of(tenant_id).pk.attr())
            .expression_attribute_values(":p", keys::members_of(tenant_id).sk.attr())
            .consistent_read(true)
            .limit(1)
            .send()
            .await
            .map_err(backend("Query"))?;
        if existing.count() > 0 {
            return Ok(false);
        }
        let now = rfc3339_ms(now_ms());
        let items = vec![
            self.tx_put(keys::founding(tenant_id).item())
                .item("founded_by", owner.email.attr())
                .item("founded_at", now.attr())
                .condition_expression("attribute_not_exists(sk)")
                .tx()?,
            self.tx_put(keys::member(tenant_id, &owner.email).with(owner.to_item()))
                .item("added_at", now.attr())
                .item("sub", sub.attr())
                .condition_expression("attribute_not_exists(sk)")
                .tx()?,
        ];
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(true),
            // Founded meanwhile, or being founded by another request right now.
            Err(e) if transaction_condition_failed(&e) || transaction_conflicted(&e) => Ok(false),
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }

    #[instrument(skip(self, sub), err)]
    async fn bind_sub(&self, tenant_id: &str, email: &str, sub: &str) -> Result<bool, StoreError> {
        let r = self
            .update(keys::member(tenant_id, email))
            .update_expression("SET #sub = :sub")
            .condition_expression("attribute_exists(sk) AND (attribute_not_exists(#sub) OR #sub = :sub)")
            .expression_attribute_names("#sub", "sub")
            .expression_attribute_values(":sub", sub.attr())
            .send()
            .await;
        conditional(r, "UpdateItem")
    }

    #[instrument(skip(self, rules), fields(rules = rules.len()), err)]
    async fn leave_shop(
        &self,
        tenant_id: &str,
        email: &str,
        agent_grants: u64,
        rules: &[AgentsChange],
        keeper: Option<&str>,
    ) -> Result<bool, StoreError> {
        if rules.len() > MAX_RULES_LEFT_AT_ONCE {
            return Err(StoreError::Conflict(format!(
                "a member in more than {MAX_RULES_LEFT_AT_ONCE} rules cannot leave them in one step"
            )));
        }
        let grants = i64::try_from(agent_grants).unwrap_or(i64::MAX);
        let mut items = vec![
            self.tx_delete(keys::member(tenant_id, email))
                .condition_expression(
                    "attribute_exists(sk) AND (attribute_not_exists(agent_grants) OR agent_grants = :g)",
                )
                .expression_attribute_values(":g", grants.attr())
                .tx()?,
        ];
        if let Some(keeper) = keeper {
            items.push(
                self.tx_check(keys::member(tenant_id, keeper))
                    .condition_expression("attribute_exists(sk) AND #role = :owner")
                    .expression_attribute_names("#role", "role")
                    .expression_attribute_values(":owner", Role::Owner.as_str().attr())
                    .tx()?,
            );
        }
        for r in rules {
            items.push(
                self.tx_update(keys::rule(tenant_id, &r.rule_id))
                    .update_expression("SET agent_emails = :new")
                    .condition_expression("agent_emails = :old")
                    .expression_attribute_values(":new", r.agents.attr())
                    .expression_attribute_values(":old", r.expected.attr())
                    .tx()?,
            );
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(true),
            // Something read before the write changed, or is being written right now.
            Err(e) if transaction_condition_failed(&e) || transaction_conflicted(&e) => Ok(false),
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }
}
