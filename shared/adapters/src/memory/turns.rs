//! The round-robin turn counter of a rule: `next_turn`, `return_turn` and `rehome_by_turn`,
//! called by the `RuleStore` implementation in `rules` under the store's lock.

use domain::ports::StoreError;

use super::StoreState;

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
        let s = self;
        let key = (tenant_id.to_string(), rule_id.to_string());
        let Some(rule) = s.rules.get(&key).cloned() else {
            return Err(StoreError::Conflict(format!("rule {rule_id} does not exist")));
        };
        let ckey = (tenant_id.to_string(), conversation_id.to_string());
        if s.conversations.get(&ckey).and_then(|c| c.assignee.as_deref()) != Some(from) {
            return Ok(None);
        }
        let turn = s.turns.get(&key).copied().unwrap_or(0) + 1;
        let Some(agent) = rule.agent_for_turn(turn).map(str::to_string) else { return Ok(None) };
        s.turns.insert(key, turn);
        if let Some(c) = s.conversations.get_mut(&ckey) {
            c.assignee = Some(agent.clone());
            c.pool_rule_id = None;
        }
        Ok(Some(agent))
    }

    /// Takes a turn: the smallest one given back, else the next new one.
    pub(super) fn next_turn(&mut self, tenant_id: &str, rule_id: &str) -> Result<u64, StoreError> {
        let s = self;
        let key = (tenant_id.to_string(), rule_id.to_string());
        if !s.rules.contains_key(&key) {
            return Err(StoreError::Conflict(format!("rule {rule_id} does not exist")));
        }
        if let Some(returned) = s.returned_turns.get_mut(&key).and_then(|r| r.pop_first()) {
            return Ok(returned);
        }
        let t = s.turns.entry(key).or_insert(0);
        *t += 1;
        Ok(*t)
    }

    /// Gives back a turn that assigned nothing; the next caller takes it first.
    pub(super) fn return_turn(&mut self, tenant_id: &str, rule_id: &str, turn: u64) {
        self.returned_turns.entry((tenant_id.to_string(), rule_id.to_string())).or_default().insert(turn);
    }
}
