//! The round-robin turn counter of a rule: `next_turn`, `return_turn` and `rehome_by_turn`,
//! called by the `RuleStore` implementation in `rules` under the store's lock.

use domain::ports::{Assignment, StoreError};

use super::conversations::assign;
use super::{StoreState, key};

impl StoreState {
    /// Re-homes a conversation held by `from` to the rule's next agent in turn, taking the turn
    /// only with the move.
    pub(super) fn rehome_by_turn(
        &mut self,
        tenant_id: &str,
        rule_id: &str,
        conversation_id: &str,
        from: &str,
    ) -> Result<Option<String>, StoreError> {
        let rule = self.existing_rule(tenant_id, rule_id)?.clone();
        let Some(c) = self.conversation_mut(tenant_id, conversation_id) else { return Ok(None) };
        if c.assignee.as_deref() != Some(from) {
            return Ok(None);
        }
        let turn = self.turns.get(&key(tenant_id, rule_id)).copied().unwrap_or(0) + 1;
        let Some(agent) = rule.agent_for_turn(turn).map(str::to_string) else { return Ok(None) };
        self.turns.insert(key(tenant_id, rule_id), turn);
        if let Some(c) = self.conversation_mut(tenant_id, conversation_id) {
            assign(c, &Assignment::Agent(agent.clone()));
        }
        Ok(Some(agent))
    }

    /// Takes a turn: the smallest one given back, else the next new one.
    pub(super) fn next_turn(&mut self, tenant_id: &str, rule_id: &str) -> Result<u64, StoreError> {
        self.existing_rule(tenant_id, rule_id)?;
        let key = key(tenant_id, rule_id);
        if let Some(returned) = self.returned_turns.get_mut(&key).and_then(|r| r.pop_first()) {
            return Ok(returned);
        }
        let t = self.turns.entry(key).or_insert(0);
        *t += 1;
        Ok(*t)
    }

    /// Gives back a turn that assigned nothing; the next caller takes it first.
    pub(super) fn return_turn(&mut self, tenant_id: &str, rule_id: &str, turn: u64) {
        self.returned_turns.entry(key(tenant_id, rule_id)).or_default().insert(turn);
    }
}
