//! Members of a shop, its founding and its settings (MemberStore).

use async_trait::async_trait;
use domain::model::{Member, Role};
use domain::ports::*;

use super::{MemberExtras, MemoryStore, key, of_shop};

#[async_trait]
impl MemberStore for MemoryStore {
    async fn member(&self, tenant_id: &str, email: &str) -> Result<Option<Member>, StoreError> {
        Ok(self.lock().members.get(&key(tenant_id, email)).cloned())
    }

    async fn add_member(&self, tenant_id: &str, member: &Member) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let key = key(tenant_id, &member.email);
        if s.members.contains_key(&key) {
            return Ok(false);
        }
        s.members.insert(key, member.clone());
        Ok(true)
    }

    async fn human_agent_enabled(&self, tenant_id: &str) -> Result<bool, StoreError> {
        Ok(self.lock().human_agent.contains(tenant_id))
    }

    async fn set_human_agent_enabled(&self, tenant_id: &str, enabled: bool) -> Result<(), StoreError> {
        let mut s = self.lock();
        if enabled {
            s.human_agent.insert(tenant_id.to_string());
        } else {
            s.human_agent.remove(tenant_id);
        }
        Ok(())
    }

    async fn remove_member(&self, tenant_id: &str, email: &str) -> Result<bool, StoreError> {
        let mut s = self.lock();
        s.member_extras.remove(&key(tenant_id, email));
        Ok(s.members.remove(&key(tenant_id, email)).is_some())
    }

    async fn list_members(&self, tenant_id: &str) -> Result<Vec<Member>, StoreError> {
        Ok(of_shop(&self.lock().members, tenant_id))
    }

    async fn membership(&self, tenant_id: &str, email: &str) -> Result<Option<Membership>, StoreError> {
        let s = self.lock();
        let k = key(tenant_id, email);
        let extras = s.member_extras.get(&k).cloned().unwrap_or_default();
        Ok(s.members.get(&k).map(|m| Membership {
            member: m.clone(),
            sub: extras.sub,
            agent_grants: extras.agent_grants,
        }))
    }

    async fn found_shop(&self, tenant_id: &str, owner: &Member, sub: &str) -> Result<bool, StoreError> {
        let mut s = self.lock();
        if s.founded.contains(tenant_id) || !of_shop(&s.members, tenant_id).is_empty() {
            return Ok(false);
        }
        s.founded.insert(tenant_id.to_string());
        s.members.insert(key(tenant_id, &owner.email), owner.clone());
        s.member_extras.insert(
            key(tenant_id, &owner.email),
            MemberExtras { sub: Some(sub.to_string()), agent_grants: 0 },
        );
        Ok(true)
    }

    async fn bind_sub(&self, tenant_id: &str, email: &str, sub: &str) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let k = key(tenant_id, email);
        if !s.members.contains_key(&k) {
            return Ok(false);
        }
        let extras = s.member_extras.entry(k).or_default();
        match &extras.sub {
            Some(bound) => Ok(bound == sub),
            None => {
                extras.sub = Some(sub.to_string());
                Ok(true)
            }
        }
    }

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
        let mut s = self.lock();
        let k = key(tenant_id, email);
        let grants = s.member_extras.get(&k).map_or(0, |e| e.agent_grants);
        let kept =
            keeper.is_none_or(|o| s.members.get(&key(tenant_id, o)).is_some_and(|m| m.role == Role::Owner));
        let unchanged = s.members.contains_key(&k)
            && kept
            && grants == agent_grants
            && rules.iter().all(|r| {
                s.rules.get(&key(tenant_id, &r.rule_id)).is_some_and(|rule| rule.agent_emails == r.expected)
            });
        if !unchanged {
            return Ok(false);
        }
        for r in rules {
            if let Some(rule) = s.rules.get_mut(&key(tenant_id, &r.rule_id)) {
                rule.agent_emails = r.agents.clone();
            }
        }
        s.members.remove(&k);
        s.member_extras.remove(&k);
        Ok(true)
    }
}
