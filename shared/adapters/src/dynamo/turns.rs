//! The round-robin turn counter of a rule (`rr_turn` and `returned_turns` on the rule item;
//! docs/rules.md, "Round robin"): taking a turn, giving one back, and re-homing a conversation
//! by turn. The [`RuleStore`] methods in `rules` call these.

use aws_sdk_dynamodb::types::ReturnValue;
use domain::model::Rule;
use domain::ports::{Assignment, RuleStore, StoreError};

use super::codec::{FromItem, ToAttr, Turns, number_set};
use super::errors::{backend, cancellation_reasons, conditional, is_conditional_failure};
use super::{DynamoStore, Read, TxItem, keys};
use crate::retry::RetryPolicy;

impl DynamoStore {
    /// Re-homes a conversation held by `from` to the rule's next agent in turn: the turn taken
    /// and the conversation moved in one transaction (see `RuleStore::rehome_by_turn`).
    pub(super) async fn rehome_in_turn(
        &self,
        tenant_id: &str,
        rule_id: &str,
        conversation_id: &str,
        from: &str,
    ) -> Result<Option<String>, StoreError> {
        let policy = RetryPolicy::CONTENDED_WRITE;
        for n in policy.attempts() {
            let item = self
                .read(keys::rule(tenant_id, rule_id), Read::Latest)
                .await?
                .ok_or_else(|| StoreError::Conflict(format!("rule {rule_id} does not exist")))?;
            let rule = Rule::from_item(&item)?;
            let turn = Turns::from_item(&item)?.taken.unwrap_or(0);
            let Some(agent) = rule.agent_for_turn(u64::try_from(turn + 1).unwrap_or(1)).map(str::to_string)
            else {
                return Ok(None);
            };
            let take_turn = self
                .tx_update(keys::rule(tenant_id, rule_id))
                .update_expression("SET rr_turn = :next")
                .condition_expression("rr_turn = :turn")
                .expression_attribute_values(":next", (turn + 1).attr())
                .expression_attribute_values(":turn", turn.attr())
                .tx()?;
            let mv = self
                .assignment(tenant_id, conversation_id, &Assignment::Agent(agent.clone()), "")
                .condition_expression("assignee = :from")
                .expression_attribute_values(":from", from.attr())
                .tx()?;
            let r =
                self.client.transact_write_items().transact_items(take_turn).transact_items(mv).send().await;
            let Err(e) = r else { return Ok(Some(agent)) };
            // The second item's reason says whether `from` still held the conversation.
            let moved_away = cancellation_reasons(&e)
                .map(|reasons| reasons.get(1).copied().flatten() == Some("ConditionalCheckFailed"));
            match moved_away {
                None => return Err(backend("TransactWriteItems")(e)),
                Some(true) => return Ok(None), // no longer held by `from`
                // Another writer took a turn meanwhile: read again.
                Some(false) => policy.pause(n).await,
            }
        }
        Err(StoreError::Conflict("the rule's turn counter stayed contended; try again".into()))
    }

    /// Takes a round-robin turn: the smallest one given back, if any, else the next new one.
    pub(super) async fn take_turn(&self, tenant_id: &str, rule_id: &str) -> Result<u64, StoreError> {
        let out = self
            .update(keys::rule(tenant_id, rule_id))
            .update_expression("ADD rr_turn :one")
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":one", 1_i64.attr())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let rule = match out {
            Ok(o) => o.attributes.unwrap_or_default(),
            Err(e) if is_conditional_failure(&e) => {
                return Err(StoreError::Conflict(format!("rule {rule_id} does not exist")));
            }
            Err(e) => return Err(backend("UpdateItem")(e)),
        };
        let Turns { taken, mut returned } = Turns::from_item(&rule)?;
        let new =
            taken.and_then(|t| u64::try_from(t).ok()).ok_or_else(|| StoreError::Corrupt("rr_turn".into()))?;
        // Turns given back come first (rare: a concurrent delivery assigned the conversation).
        // Taking one is a conditional delete from the set, so only one caller gets it; the new
        // turn just taken is then given back in its place.
        returned.sort_unstable();
        for turn in returned.into_iter().filter(|t| *t < new) {
            let taken = self
                .update(keys::rule(tenant_id, rule_id))
                .update_expression("DELETE returned_turns :t")
                .condition_expression("contains(returned_turns, :n)")
                .expression_attribute_values(":t", number_set(turn))
                .expression_attribute_values(":n", turn.attr())
                .send()
                .await;
            if conditional(taken, "UpdateItem")? {
                self.return_turn(tenant_id, rule_id, new).await?;
                return Ok(turn);
            }
        }
        Ok(new)
    }

    /// Gives back a turn that assigned nothing; the next new conversation takes it.
    pub(super) async fn give_back_turn(
        &self,
        tenant_id: &str,
        rule_id: &str,
        turn: u64,
    ) -> Result<(), StoreError> {
        let r = self
            .update(keys::rule(tenant_id, rule_id))
            .update_expression("ADD returned_turns :t")
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":t", number_set(turn))
            .send()
            .await;
        // A rule deleted meanwhile has no turns left to give.
        conditional(r, "UpdateItem").map(|_| ())
    }
}
