//! Sharing rules and the Pages they hold (RuleStore); the round-robin turn counter is in
//! `turns`.

use async_trait::async_trait;
use domain::model::{ChatMode, PageRecord, PageRoute, Rule};
use domain::ports::*;

use super::{MemoryStore, StoreState, key, of_shop};

#[async_trait]
impl RuleStore for MemoryStore {
    async fn create_rule(
        &self,
        tenant_id: &str,
        rule: &Rule,
        connected: &[String],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.agents_are_members(tenant_id, rule.agent_emails.iter())?;
        s.pages_free(tenant_id, &rule.page_ids)?;
        for p in connected {
            if s.routes.get(p).is_none_or(|r| r.tenant_id != tenant_id) {
                return Err(StoreError::Conflict(format!("page {p} is no longer connected to the shop")));
            }
        }
        s.name_free(tenant_id, &rule.name, None)?;
        if s.rules.contains_key(&key(tenant_id, &rule.id)) {
            return Err(StoreError::Conflict(format!("rule {} exists", rule.id)));
        }
        s.count_grants(tenant_id, &rule.agent_emails);
        s.rules.insert(key(tenant_id, &rule.id), rule.clone());
        for p in &rule.page_ids {
            s.link_page(tenant_id, p, Some(&rule.id), connected.contains(p));
        }
        for p in connected {
            s.link_route(tenant_id, p, Some(&rule.id));
        }
        Ok(())
    }

    async fn rule(&self, tenant_id: &str, rule_id: &str) -> Result<Option<Rule>, StoreError> {
        Ok(self.lock().rules.get(&key(tenant_id, rule_id)).cloned())
    }

    async fn list_rules(&self, tenant_id: &str) -> Result<Vec<Rule>, StoreError> {
        Ok(of_shop(&self.lock().rules, tenant_id))
    }

    async fn connect_shared(
        &self,
        page: &PageRecord,
        route: &PageRoute,
        link: &RuleLink,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let tenant = route.tenant_id.as_str();
        let rule_id = match link {
            RuleLink::Existing { rule_id, .. } => rule_id,
            RuleLink::New(r) => &r.id,
        };
        s.route_free(&page.page_id, tenant)?;
        let current = s.pages.get(&key(tenant, &page.page_id)).and_then(|p| p.rule_id.as_ref());
        if current.is_some_and(|r| r != rule_id) {
            return Err(StoreError::Conflict(format!("page {} is in another rule", page.page_id)));
        }
        match link {
            RuleLink::Existing { rule_id, add_page } => {
                let rule = s.existing_rule(tenant, rule_id)?;
                if *add_page {
                    if rule.page_ids.contains(&page.page_id) {
                        return Err(StoreError::Conflict("the rule changed meanwhile".into()));
                    }
                    rule.page_ids.push(page.page_id.clone());
                }
            }
            RuleLink::New(rule) => {
                s.agents_are_members(tenant, rule.agent_emails.iter())?;
                s.name_free(tenant, &rule.name, None)?;
                s.count_grants(tenant, &rule.agent_emails);
                s.rules.insert(key(tenant, &rule.id), rule.clone());
            }
        }
        s.write_connection(page, route, &domain::custody::new_id());
        Ok(())
    }

    async fn update_rule(
        &self,
        tenant_id: &str,
        old: &Rule,
        new: &Rule,
        connected: &[String],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.rules.get(&key(tenant_id, &old.id)) != Some(old) {
            return Err(StoreError::Conflict("the rule changed meanwhile".into()));
        }
        s.name_free(tenant_id, &new.name, Some(&old.id))?;
        let gained: Vec<&String> =
            new.agent_emails.iter().filter(|a| !old.agent_emails.contains(a)).collect();
        s.agents_are_members(tenant_id, gained.iter().copied())?;
        let added: Vec<&String> = new.page_ids.iter().filter(|p| !old.page_ids.contains(p)).collect();
        let removed = old.page_ids.iter().filter(|p| !new.page_ids.contains(p));
        s.pages_free(tenant_id, added.iter().copied())?;
        s.count_grants(tenant_id, gained);
        let links = added.into_iter().map(|p| (p, Some(new.id.as_str()))).chain(removed.map(|p| (p, None)));
        for (p, rule_id) in links {
            let is_connected = connected.contains(p);
            s.link_page(tenant_id, p, rule_id, is_connected);
            if is_connected {
                s.link_route(tenant_id, p, rule_id);
            }
        }
        s.rules.insert(key(tenant_id, &old.id), new.clone());
        Ok(())
    }

    async fn delete_rule(&self, tenant_id: &str, rule: &Rule) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = key(tenant_id, &rule.id);
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
        match s.rules.get_mut(&key(tenant_id, rule_id)) {
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

impl StoreState {
    /// The shop's rule; a missing one (never created, or deleted meanwhile) is a conflict.
    pub(super) fn existing_rule(&mut self, tenant_id: &str, rule_id: &str) -> Result<&mut Rule, StoreError> {
        self.rules
            .get_mut(&key(tenant_id, rule_id))
            .ok_or_else(|| StoreError::Conflict(format!("rule {rule_id} does not exist")))
    }

    /// Refuses a rule name another rule of the shop (other than `except`) has, compared
    /// lower-cased.
    fn name_free(&self, tenant_id: &str, name: &str, except: Option<&str>) -> Result<(), StoreError> {
        let lower = name.to_lowercase();
        let taken = self.rules.iter().any(|((t, id), r)| {
            t == tenant_id && except != Some(id.as_str()) && r.name.to_lowercase() == lower
        });
        if taken { Err(StoreError::Conflict(format!("a rule named {name:?} exists"))) } else { Ok(()) }
    }

    /// Refuses agents who are not (or no longer) members of the shop: a member's removal and a
    /// rule edit adding them cannot both succeed.
    fn agents_are_members<'a>(
        &self,
        tenant_id: &str,
        agents: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), StoreError> {
        for a in agents {
            if !self.members.contains_key(&key(tenant_id, a)) {
                return Err(StoreError::Conflict(format!("{a} is no longer a member of the shop")));
            }
        }
        Ok(())
    }

    /// Counts a rule's gaining each agent on the member (what `leave_shop` checks), with the
    /// rule's write.
    fn count_grants<'a>(&mut self, tenant_id: &str, agents: impl IntoIterator<Item = &'a String>) {
        for a in agents {
            self.member_extras.entry(key(tenant_id, a)).or_default().agent_grants += 1;
        }
    }

    /// Refuses Pages that are not the shop's or are in a rule already.
    fn pages_free<'a>(
        &self,
        tenant_id: &str,
        pages: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), StoreError> {
        for p in pages {
            match self.pages.get(&key(tenant_id, p)) {
                Some(page) if page.rule_id.is_none() => {}
                _ => return Err(StoreError::Conflict(format!("page {p} is unknown or in another rule"))),
            }
        }
        Ok(())
    }

    /// Links the shop's Page to a rule (None: out of its rule); a connected one switches to
    /// shared mode (back to only-me).
    fn link_page(&mut self, tenant_id: &str, page_id: &str, rule_id: Option<&str>, connected: bool) {
        if let Some(page) = self.pages.get_mut(&key(tenant_id, page_id)) {
            page.rule_id = rule_id.map(str::to_string);
            if connected {
                page.chat_mode = Some(mode_under(rule_id));
            }
        }
    }

    /// The same for the Page's route, while the shop holds it.
    fn link_route(&mut self, tenant_id: &str, page_id: &str, rule_id: Option<&str>) {
        if let Some(r) = self.routes.get_mut(page_id).filter(|r| r.tenant_id == tenant_id) {
            r.chat_mode = mode_under(rule_id);
            r.rule_id = rule_id.map(str::to_string);
        }
    }
}

/// A connected Page's mode: shared under a rule, only-me outside one.
fn mode_under(rule_id: Option<&str>) -> ChatMode {
    if rule_id.is_some() { ChatMode::Shared } else { ChatMode::OnlyMe }
}
