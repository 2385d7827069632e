//! Sharing rules and the Pages they hold (RuleStore); the round-robin turn counter is in
//! `turns`.

use async_trait::async_trait;
use domain::model::{PageRecord, PageRoute, Rule};
use domain::ports::*;

use super::MemoryStore;

#[async_trait]
impl RuleStore for MemoryStore {
    async fn create_rule(
        &self,
        tenant_id: &str,
        rule: &Rule,
        connected: &[String],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        for p in &rule.page_ids {
            match s.pages.get(&(tenant_id.to_string(), p.clone())) {
                Some(page) if page.rule_id.is_none() => {}
                _ => return Err(StoreError::Conflict(format!("page {p} is unknown or in another rule"))),
            }
        }
        for p in connected {
            if s.routes.get(p).is_none_or(|r| r.tenant_id != tenant_id) {
                return Err(StoreError::Conflict(format!("page {p} is no longer connected to the shop")));
            }
        }
        let lower = rule.name.to_lowercase();
        if s.rules.iter().any(|((t, _), r)| t == tenant_id && r.name.to_lowercase() == lower) {
            return Err(StoreError::Conflict(format!("a rule named {:?} exists", rule.name)));
        }
        if s.rules.contains_key(&(tenant_id.to_string(), rule.id.clone())) {
            return Err(StoreError::Conflict(format!("rule {} exists", rule.id)));
        }
        s.rules.insert((tenant_id.to_string(), rule.id.clone()), rule.clone());
        for p in &rule.page_ids {
            if let Some(page) = s.pages.get_mut(&(tenant_id.to_string(), p.clone())) {
                page.rule_id = Some(rule.id.clone());
                if connected.contains(p) {
                    page.chat_mode = Some(domain::model::ChatMode::Shared);
                }
            }
        }
        for p in connected {
            if let Some(r) = s.routes.get_mut(p) {
                r.chat_mode = domain::model::ChatMode::Shared;
                r.rule_id = Some(rule.id.clone());
            }
        }
        Ok(())
    }

    async fn rule(&self, tenant_id: &str, rule_id: &str) -> Result<Option<Rule>, StoreError> {
        Ok(self.lock().rules.get(&(tenant_id.to_string(), rule_id.to_string())).cloned())
    }

    async fn list_rules(&self, tenant_id: &str) -> Result<Vec<Rule>, StoreError> {
        let s = self.lock();
        Ok(s.rules.iter().filter(|((t, _), _)| t == tenant_id).map(|(_, r)| r.clone()).collect())
    }

    async fn connect_shared(
        &self,
        page: &PageRecord,
        route: &PageRoute,
        link: &RuleLink,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let tenant = route.tenant_id.clone();
        let rule_id = match link {
            RuleLink::Existing { rule_id, .. } => rule_id.clone(),
            RuleLink::New(r) => r.id.clone(),
        };
        if s.routes.get(&page.page_id).is_some_and(|r| r.tenant_id != tenant) {
            return Err(StoreError::Conflict(format!("page {} is connected to another shop", page.page_id)));
        }
        let current = s.pages.get(&(tenant.clone(), page.page_id.clone())).and_then(|p| p.rule_id.clone());
        if current.as_ref().is_some_and(|r| *r != rule_id) {
            return Err(StoreError::Conflict(format!("page {} is in another rule", page.page_id)));
        }
        match link {
            RuleLink::Existing { rule_id, add_page } => {
                let Some(rule) = s.rules.get_mut(&(tenant.clone(), rule_id.clone())) else {
                    return Err(StoreError::Conflict(format!("rule {rule_id} does not exist")));
                };
                if *add_page {
                    if rule.page_ids.contains(&page.page_id) {
                        return Err(StoreError::Conflict("the rule changed meanwhile".into()));
                    }
                    rule.page_ids.push(page.page_id.clone());
                }
            }
            RuleLink::New(rule) => {
                let lower = rule.name.to_lowercase();
                if s.rules.iter().any(|((t, _), r)| *t == tenant && r.name.to_lowercase() == lower) {
                    return Err(StoreError::Conflict(format!("a rule named {:?} exists", rule.name)));
                }
                s.rules.insert((tenant.clone(), rule.id.clone()), rule.clone());
            }
        }
        s.routes.insert(page.page_id.clone(), route.clone());
        s.pages.insert((tenant, page.page_id.clone()), page.clone());
        Ok(())
    }

    async fn update_rule(
        &self,
        tenant_id: &str,
        old: &Rule,
        new: &Rule,
        connected: &[String],
    ) -> Result<(), StoreError> {
        use domain::model::ChatMode;
        let mut s = self.lock();
        let key = (tenant_id.to_string(), old.id.clone());
        if s.rules.get(&key) != Some(old) {
            return Err(StoreError::Conflict("the rule changed meanwhile".into()));
        }
        let lower = new.name.to_lowercase();
        if s.rules
            .iter()
            .any(|((t, id), r)| t == tenant_id && *id != old.id && r.name.to_lowercase() == lower)
        {
            return Err(StoreError::Conflict(format!("a rule named {:?} exists", new.name)));
        }
        let added: Vec<&String> = new.page_ids.iter().filter(|p| !old.page_ids.contains(p)).collect();
        let removed: Vec<&String> = old.page_ids.iter().filter(|p| !new.page_ids.contains(p)).collect();
        for p in &added {
            match s.pages.get(&(tenant_id.to_string(), (*p).clone())) {
                Some(page) if page.rule_id.is_none() => {}
                _ => return Err(StoreError::Conflict(format!("page {p} is unknown or in another rule"))),
            }
        }
        for p in added {
            let is_connected = connected.contains(p);
            if let Some(page) = s.pages.get_mut(&(tenant_id.to_string(), p.clone())) {
                page.rule_id = Some(new.id.clone());
                if is_connected {
                    page.chat_mode = Some(ChatMode::Shared);
                }
            }
            if let Some(r) = s.routes.get_mut(p).filter(|r| r.tenant_id == tenant_id && is_connected) {
                r.chat_mode = ChatMode::Shared;
                r.rule_id = Some(new.id.clone());
            }
        }
        for p in removed {
            let is_connected = connected.contains(p);
            if let Some(page) = s.pages.get_mut(&(tenant_id.to_string(), p.clone())) {
                page.rule_id = None;
                if is_connected {
                    page.chat_mode = Some(ChatMode::OnlyMe);
                }
            }
            if let Some(r) = s.routes.get_mut(p).filter(|r| r.tenant_id == tenant_id && is_connected) {
                r.chat_mode = ChatMode::OnlyMe;
                r.rule_id = None;
            }
        }
        s.rules.insert(key, new.clone());
        Ok(())
    }

    async fn delete_rule(&self, tenant_id: &str, rule: &Rule) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = (tenant_id.to_string(), rule.id.clone());
        match s.rules.get(&key) {
            Some(r) if r.page_ids.is_empty() => {
                s.rules.remove(&key);
                Ok(())
            }
            Some(_) => Err(StoreError::Conflict("the rule still has Pages".into())),
            None => Ok(()),
        }
    }

    async fn set_rule_agents(
        &self,
        tenant_id: &str,
        rule_id: &str,
        expected: &[String],
        agents: &[String],
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        match s.rules.get_mut(&(tenant_id.to_string(), rule_id.to_string())) {
            Some(r) if r.agent_emails == expected => {
                r.agent_emails = agents.to_vec();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn rehome_by_turn(
        &self,
        tenant_id: &str,
        rule_id: &str,
        conversation_id: &str,
        from: &str,
    ) -> Result<Option<String>, StoreError> {
        self.lock().rehome_by_turn(tenant_id, rule_id, conversation_id, from)
    }

    async fn next_turn(&self, tenant_id: &str, rule_id: &str) -> Result<u64, StoreError> {
        self.lock().next_turn(tenant_id, rule_id)
    }

    async fn return_turn(&self, tenant_id: &str, rule_id: &str, turn: u64) -> Result<(), StoreError> {
        self.lock().return_turn(tenant_id, rule_id, turn);
        Ok(())
    }
}
