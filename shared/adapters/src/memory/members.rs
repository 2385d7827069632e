//! Members of a shop and its settings (MemberStore).

use async_trait::async_trait;
use domain::model::Member;
use domain::ports::*;

use super::{MemoryStore, key, of_shop};

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
        Ok(self.lock().members.remove(&key(tenant_id, email)).is_some())
    }

    async fn list_members(&self, tenant_id: &str) -> Result<Vec<Member>, StoreError> {
        Ok(of_shop(&self.lock().members, tenant_id))
    }
}
