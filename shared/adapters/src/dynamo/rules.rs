//! [`RuleStore`]: sharing rules, the Pages they hold and the name each claims
//! (docs/table-design.md, "Rule" and "Rule name"; docs/rules.md, "How a Page joins and leaves a
//! rule"). The round-robin turn counter is in `turns`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use domain::model::{ChatMode, PageRecord, PageRoute, Rule};
use domain::ports::{RuleLink, RuleStore, StoreError};
use tracing::instrument;

use super::codec::{ToAttr, ToItem, decode_all};
use super::errors::conditional;
use super::pages::Guard;
use super::{DynamoStore, Read, TxItem, keys};

/// A Page of the shop joining a rule, or leaving it.
#[derive(Clone, Copy)]
enum Membership<'a> {
    Join(&'a str),
    Leave(&'a str),
}

impl DynamoStore {
    /// The rule side of a Page joining a rule with its connection: the existing rule gains the
    /// Page (or must already list it), or a new rule is created.
    pub(super) fn join_items(
        &self,
        tenant: &str,
        page_id: &str,
        link: &RuleLink,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(match link {
            RuleLink::Existing { rule_id, add_page: true } => vec![
                self.tx_update(keys::rule(tenant, rule_id))
                    .update_expression("SET page_ids = list_append(page_ids, :p)")
                    .condition_expression("attribute_exists(sk) AND NOT contains(page_ids, :pid)")
                    .expression_attribute_values(":p", [page_id.to_string()].attr())
                    .expression_attribute_values(":pid", page_id.attr())
                    .tx()?,
            ],
            RuleLink::Existing { rule_id, add_page: false } => vec![
                self.tx_check(keys::rule(tenant, rule_id))
                    .condition_expression("contains(page_ids, :pid)")
                    .expression_attribute_values(":pid", page_id.attr())
                    .tx()?,
            ],
            RuleLink::New(rule) => self.rule_items(tenant, rule)?,
        })
    }

    /// The rule side of a Page leaving the rule `old` (as read) with its connection: its entry
    /// removed by position, only if the Page is still there.
    pub(super) fn leave_item(
        &self,
        tenant: &str,
        page_id: &str,
        old: &Rule,
    ) -> Result<TransactWriteItem, StoreError> {
        let Some(i) = old.page_ids.iter().position(|p| p == page_id) else {
            return Err(StoreError::Conflict(format!("page {page_id} is not in the rule it leaves")));
        };
        self.tx_update(keys::rule(tenant, &old.id))
            .update_expression(format!("REMOVE page_ids[{i}]"))
            .condition_expression(format!("page_ids[{i}] = :pid"))
            .expression_attribute_values(":pid", page_id.attr())
            .tx()
    }

    /// A new rule: its name claimed by its own item, then the rule, both only if absent.
    fn rule_items(&self, tenant_id: &str, rule: &Rule) -> Result<Vec<TransactWriteItem>, StoreError> {
        let rule_put = self
            .tx_put(keys::rule(tenant_id, &rule.id).with(rule.to_item()))
            .item("rr_turn", 0_i64.attr())
            .condition_expression("attribute_not_exists(sk)");
        let mut items = vec![self.name_claim(tenant_id, &rule.name, &rule.id)?, rule_put.tx()?];
        items.extend(self.agents_are_members(tenant_id, rule.agent_emails.iter())?);
        Ok(items)
    }

    /// Each agent a rule gains is still a member when the rule is written, and the grant is
    /// counted on the member (`agent_grants`): a member's removal (`MemberStore::leave_shop`,
    /// conditional on that count) and a rule edit adding them cannot both succeed.
    fn agents_are_members<'a>(
        &self,
        tenant_id: &str,
        agents: impl Iterator<Item = &'a String>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        agents
            .map(|a| {
                self.tx_update(keys::member(tenant_id, a))
                    .update_expression("ADD agent_grants :one")
                    .condition_expression("attribute_exists(sk)")
                    .expression_attribute_values(":one", 1_i64.attr())
                    .tx()
            })
            .collect()
    }

    /// The name is claimed by its own item (case-insensitive), so two rules can never share it.
    fn name_claim(
        &self,
        tenant_id: &str,
        name: &str,
        rule_id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.tx_put(keys::rule_name(tenant_id, name).item())
            .item("rule_id", rule_id.attr())
            .condition_expression("attribute_not_exists(sk)")
            .tx()
    }

    /// A Page joining a rule (it must be the shop's and in no rule) or leaving it (it must be in
    /// that rule). A Page connected to this shop (listed in `connected`) switches mode with it,
    /// shared in a rule and only-me out of one, and so does its route.
    fn page_membership(
        &self,
        tenant_id: &str,
        page_id: &str,
        change: Membership<'_>,
        connected: &[String],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let connected = connected.iter().any(|c| c == page_id);
        let (rule_id, mode, page_set, page_condition, route_set) = match change {
            Membership::Join(r) => (
                r,
                ChatMode::Shared,
                if connected { "SET rule_id = :r, chat_mode = :mode" } else { "SET rule_id = :r" },
                "attribute_exists(pk) AND attribute_not_exists(rule_id)",
                "SET chat_mode = :mode, rule_id = :r",
            ),
            Membership::Leave(r) => (
                r,
                ChatMode::OnlyMe,
                if connected { "SET chat_mode = :mode REMOVE rule_id" } else { "REMOVE rule_id" },
                "rule_id = :r",
                "SET chat_mode = :mode REMOVE rule_id",
            ),
        };
        let mut page = self
            .tx_update(keys::page(tenant_id, page_id))
            .update_expression(page_set)
            .condition_expression(page_condition)
            .expression_attribute_values(":r", rule_id.attr());
        if !connected {
            return Ok(vec![page.tx()?]);
        }
        page = page.expression_attribute_values(":mode", mode.as_str().attr());
        let mut route = self
            .tx_update(keys::route(page_id))
            .update_expression(route_set)
            .condition_expression("tenant_id = :t")
            .expression_attribute_values(":mode", mode.as_str().attr())
            .expression_attribute_values(":t", tenant_id.attr());
        if let Membership::Join(r) = change {
            route = route.expression_attribute_values(":r", r.attr());
        }
        Ok(vec![page.tx()?, route.tx()?])
    }
}

#[async_trait]
impl RuleStore for DynamoStore {
    #[instrument(skip(self, rule), fields(rule_id = %rule.id), err)]
    async fn create_rule(
        &self,
        tenant_id: &str,
        rule: &Rule,
        connected: &[String],
    ) -> Result<(), StoreError> {
        let mut items = self.rule_items(tenant_id, rule)?;
        for p in &rule.page_ids {
            items.extend(self.page_membership(tenant_id, p, Membership::Join(&rule.id), connected)?);
        }
        if items.len() > 100 {
            return Err(StoreError::Conflict("too many Pages and agents in one rule".into()));
        }
        self.transact(items, || {
            format!(
                "the rule {:?} could not be created: its name is taken, a Page is in another rule, an agent left the shop, or a connection changed",
                rule.name
            )
        })
        .await
    }

    #[instrument(skip(self), err)]
    async fn rule(&self, tenant_id: &str, rule_id: &str) -> Result<Option<Rule>, StoreError> {
        self.record(keys::rule(tenant_id, rule_id), Read::Eventual).await
    }

    #[instrument(skip(self), err)]
    async fn list_rules(&self, tenant_id: &str) -> Result<Vec<Rule>, StoreError> {
        // Strongly consistent: a member's removal must see every rule that gained them.
        decode_all(&self.query_all_prefix_latest(keys::rules_of(tenant_id)).await?)
    }

    #[instrument(skip(self, page, route, link), fields(page_id = %page.page_id), err)]
    async fn connect_shared(
        &self,
        page: &PageRecord,
        route: &PageRoute,
        link: &RuleLink,
    ) -> Result<(), StoreError> {
        let mut items = self.connect_items(page, route, &domain::custody::new_id(), Guard::Free)?;
        items.extend(self.join_items(&route.tenant_id, &page.page_id, link)?);
        self.transact(items, || {
            format!(
                "page {} could not join the rule: another shop holds it, it is in another rule, or the rule changed",
                page.page_id
            )
        })
        .await
    }

    #[instrument(skip(self, old, new, connected), fields(rule_id = %old.id), err)]
    async fn update_rule(
        &self,
        tenant_id: &str,
        old: &Rule,
        new: &Rule,
        connected: &[String],
    ) -> Result<(), StoreError> {
        // The rule itself, only if nobody changed it since it was read.
        let mut items = vec![
            self.tx_update(keys::rule(tenant_id, &old.id))
                .update_expression(
                    "SET #name = :name, page_ids = :pages, agent_emails = :agents, #method = :method, \
                     old_conversations = :old, policy_chosen_by = :by, policy_chosen_at = :at",
                )
                .condition_expression(
                    "#name = :oldname AND page_ids = :oldpages AND agent_emails = :oldagents",
                )
                .expression_attribute_names("#name", "name")
                .expression_attribute_names("#method", "method")
                .expression_attribute_values(":name", new.name.attr())
                .expression_attribute_values(":pages", new.page_ids.attr())
                .expression_attribute_values(":agents", new.agent_emails.attr())
                .expression_attribute_values(":method", new.method.as_str().attr())
                .expression_attribute_values(":old", new.old_conversations.as_str().attr())
                .expression_attribute_values(
                    ":by",
                    new.policy_chosen_by.as_deref().unwrap_or_default().attr(),
                )
                .expression_attribute_values(
                    ":at",
                    new.policy_chosen_at.as_deref().unwrap_or_default().attr(),
                )
                .expression_attribute_values(":oldname", old.name.attr())
                .expression_attribute_values(":oldpages", old.page_ids.attr())
                .expression_attribute_values(":oldagents", old.agent_emails.attr())
                .tx()?,
        ];
        if new.name.to_lowercase() != old.name.to_lowercase() {
            items.push(self.tx_delete(keys::rule_name(tenant_id, &old.name)).tx()?);
            items.push(self.name_claim(tenant_id, &new.name, &new.id)?);
        }
        let joins =
            new.page_ids.iter().filter(|p| !old.page_ids.contains(p)).map(|p| (p, Membership::Join(&new.id)));
        let leaves = old
            .page_ids
            .iter()
            .filter(|p| !new.page_ids.contains(p))
            .map(|p| (p, Membership::Leave(&old.id)));
        for (p, change) in joins.chain(leaves) {
            items.extend(self.page_membership(tenant_id, p, change, connected)?);
        }
        let gained = new.agent_emails.iter().filter(|a| !old.agent_emails.contains(a));
        items.extend(self.agents_are_members(tenant_id, gained)?);
        if items.len() > 100 {
            return Err(StoreError::Conflict("too many Page changes in one rule update".into()));
        }
        self.transact(items, || {
            "the rule, one of its Pages, its name or an agent's membership changed meanwhile".into()
        })
        .await
    }

    #[instrument(skip(self, rule), fields(rule_id = %rule.id), err)]
    async fn delete_rule(&self, tenant_id: &str, rule: &Rule) -> Result<(), StoreError> {
        let items = vec![
            self.tx_delete(keys::rule(tenant_id, &rule.id))
                .condition_expression("size(page_ids) = :zero")
                .expression_attribute_values(":zero", 0_i64.attr())
                .tx()?,
            self.tx_delete(keys::rule_name(tenant_id, &rule.name)).tx()?,
        ];
        self.transact(items, || "the rule still has Pages".into()).await
    }

    #[instrument(skip(self), err)]
    async fn set_rule_agents(
        &self,
        tenant_id: &str,
        rule_id: &str,
        expected: &[String],
        agents: &[String],
    ) -> Result<bool, StoreError> {
        let r = self
            .update(keys::rule(tenant_id, rule_id))
            .update_expression("SET agent_emails = :new")
            .condition_expression("agent_emails = :old")
            .expression_attribute_values(":new", agents.attr())
            .expression_attribute_values(":old", expected.attr())
            .send()
            .await;
        conditional(r, "UpdateItem")
    }

    #[instrument(skip(self), err)]
    async fn rehome_by_turn(
        &self,
        tenant_id: &str,
        rule_id: &str,
        conversation_id: &str,
        from: &str,
    ) -> Result<Option<String>, StoreError> {
        self.rehome_in_turn(tenant_id, rule_id, conversation_id, from).await
    }

    #[instrument(skip(self), err)]
    async fn next_turn(&self, tenant_id: &str, rule_id: &str) -> Result<u64, StoreError> {
        self.take_turn(tenant_id, rule_id).await
    }

    #[instrument(skip(self), err)]
    async fn return_turn(&self, tenant_id: &str, rule_id: &str, turn: u64) -> Result<(), StoreError> {
        self.give_back_turn(tenant_id, rule_id, turn).await
    }
}
