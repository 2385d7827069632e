//! In-memory twins of the store and the FIFO queue, for the local stack and fast tests.
//! They keep the semantics the DynamoDB and SQS adapters rely on (conditional writes,
//! monotonic activity, FIFO groups, visibility timeouts, dead-lettering) and pass the same
//! contract tests.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::event::OutboundQueueMessage;
use domain::model::{Conversation, Member, Message, PageRecord, PageRoute, PageStatus, Paged, Rule};
use domain::ports::*;

use crate::{cursor, walk};

#[derive(Default)]
struct StoreState {
    members: BTreeMap<(String, String), Member>,
    pages: BTreeMap<(String, String), PageRecord>,
    routes: HashMap<String, PageRoute>,
    page_tokens: HashMap<(String, String), String>,
    /// page → (last event, connected at)
    deliveries: HashMap<String, (Option<i64>, i64)>,
    nonces: HashMap<String, i64>,
    rules: BTreeMap<(String, String), Rule>,
    human_agent: HashSet<String>,
    /// (tenant, rule) → turns taken
    turns: HashMap<(String, String), u64>,
    /// (tenant, rule) → turns given back, taken again first
    returned_turns: HashMap<(String, String), std::collections::BTreeSet<u64>>,
    conversations: HashMap<(String, String), Conversation>,
    /// (tenant, conversation) → message id → message
    messages: HashMap<(String, String), HashMap<String, Message>>,
    /// The inbox move log (see `walk`): (label, tenant, conversation, place before the move),
    /// in label order.
    moves: VecDeque<(i64, String, String, String)>,
    /// The last move label handed out; labels strictly increase.
    last_label: i64,
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<StoreState>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoreState> {
        // A panic while holding the lock cannot leave a half-applied write behind (each
        // operation mutates at the end), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl PageStore for MemoryStore {
    async fn page_route(&self, page_id: &str) -> Result<Option<PageRoute>, StoreError> {
        Ok(self.lock().routes.get(page_id).cloned())
    }

    async fn connect_page(&self, page: &PageRecord, route: &PageRoute) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some(existing) = s.routes.get(&page.page_id)
            && existing.tenant_id != route.tenant_id
        {
            return Err(StoreError::Conflict(format!("page {} is connected to another shop", page.page_id)));
        }
        s.routes.insert(page.page_id.clone(), route.clone());
        let now = domain::timefmt::now_ms();
        let d = s.deliveries.entry(page.page_id.clone()).or_insert((None, now));
        d.1 = now;
        // The record is replaced; the stored token, kept apart, stays.
        s.pages.insert((route.tenant_id.clone(), page.page_id.clone()), page.clone());
        Ok(())
    }

    async fn list_pages(&self, tenant_id: &str) -> Result<Vec<PageRecord>, StoreError> {
        let s = self.lock();
        Ok(s.pages.iter().filter(|((t, _), _)| t == tenant_id).map(|(_, p)| p.clone()).collect())
    }

    async fn import_page(&self, tenant_id: &str, page: &ImportedPage) -> Result<PageRecord, StoreError> {
        let mut s = self.lock();
        let key = (tenant_id.to_string(), page.page_id.clone());
        let record = s.pages.entry(key.clone()).or_insert_with(|| PageRecord {
            page_id: page.page_id.clone(),
            name: page.name.clone(),
            status: PageStatus::NotConnected,
            chat_mode: None,
            rule_id: None,
            connected_by: None,
            last_connected_at: None,
            lost_reason: None,
        });
        record.name = page.name.clone();
        let record = record.clone();
        s.page_tokens.insert(key, page.token_enc.clone());
        Ok(record)
    }

    async fn page(
        &self,
        tenant_id: &str,
        page_id: &str,
    ) -> Result<Option<(PageRecord, Option<String>)>, StoreError> {
        let s = self.lock();
        let key = (tenant_id.to_string(), page_id.to_string());
        Ok(s.pages.get(&key).map(|p| (p.clone(), s.page_tokens.get(&key).cloned())))
    }

    async fn disconnect_page(&self, tenant_id: &str, page_id: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.routes.get(page_id).is_some_and(|r| r.tenant_id == tenant_id) {
            s.routes.remove(page_id);
        }
        if let Some(p) = s.pages.get_mut(&(tenant_id.to_string(), page_id.to_string())) {
            p.status = PageStatus::NotConnected;
            p.lost_reason = None;
        }
        Ok(())
    }

    async fn list_routes(&self) -> Result<Vec<RouteHealth>, StoreError> {
        let s = self.lock();
        let mut out: Vec<RouteHealth> = s
            .routes
            .values()
            .map(|r| {
                let d = s.deliveries.get(&r.page_id);
                RouteHealth {
                    route: r.clone(),
                    last_event_ms: d.and_then(|d| d.0),
                    connected_ms: d.map(|d| d.1),
                }
            })
            .collect();
        out.sort_by(|a, b| a.route.page_id.cmp(&b.route.page_id));
        Ok(out)
    }

    async fn touch_delivery(&self, page_id: &str, now_ms: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        if !s.routes.contains_key(page_id) {
            return Ok(());
        }
        let d = s.deliveries.entry(page_id.to_string()).or_insert((None, now_ms));
        if d.0.is_none_or(|last| last < now_ms - DELIVERY_TOUCH_INTERVAL_MS) {
            d.0 = Some(now_ms);
        }
        Ok(())
    }

    async fn mark_lost(&self, tenant_id: &str, page_id: &str, reason: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        let Some(p) = s.pages.get_mut(&(tenant_id.to_string(), page_id.to_string())) else { return Ok(()) };
        if p.status == PageStatus::NotConnected {
            return Ok(());
        }
        p.status = PageStatus::LostConnection;
        p.lost_reason = Some(reason.to_string());
        if let Some(r) = s.routes.get_mut(page_id).filter(|r| r.tenant_id == tenant_id) {
            r.status = PageStatus::LostConnection;
        }
        Ok(())
    }
}

#[async_trait]
impl NonceStore for MemoryStore {
    async fn consume_once(&self, nonce: &str, expires_ms: i64) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let now = domain::timefmt::now_ms();
        s.nonces.retain(|_, exp| *exp > now);
        if s.nonces.contains_key(nonce) {
            return Ok(false);
        }
        s.nonces.insert(nonce.to_string(), expires_ms);
        Ok(true)
    }
}

#[async_trait]
impl MemberStore for MemoryStore {
    async fn member(&self, tenant_id: &str, email: &str) -> Result<Option<Member>, StoreError> {
        Ok(self.lock().members.get(&(tenant_id.to_string(), email.to_string())).cloned())
    }

    async fn add_member(&self, tenant_id: &str, member: &Member) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let key = (tenant_id.to_string(), member.email.clone());
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
        Ok(self.lock().members.remove(&(tenant_id.to_string(), email.to_string())).is_some())
    }

    async fn list_members(&self, tenant_id: &str) -> Result<Vec<Member>, StoreError> {
        let s = self.lock();
        Ok(s.members.iter().filter(|((t, _), _)| t == tenant_id).map(|(_, m)| m.clone()).collect())
    }
}

fn page_after<T: Clone>(
    mut items: Vec<(i64, String, T)>,
    listing: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Paged<T>, StoreError> {
    // Newest first; ties broken by id, descending, like the DynamoDB sort keys.
    items.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    let start = match cursor {
        None => 0,
        Some(c) => {
            let k = cursor::decode(listing, c)?;
            let t: i64 = k.get("t").and_then(|t| t.parse().ok()).ok_or(StoreError::InvalidCursor)?;
            let id = k.get("id").ok_or(StoreError::InvalidCursor)?;
            items.iter().position(|(it, iid, _)| (*it, iid) < (t, id)).unwrap_or(items.len())
        }
    };
    let limit = limit.max(1);
    let end = (start + limit).min(items.len());
    let next_cursor = if end < items.len() {
        let (t, id, _) = &items[end - 1];
        let mut k = BTreeMap::new();
        k.insert("t".to_string(), t.to_string());
        k.insert("id".to_string(), id.clone());
        Some(cursor::encode(listing, &k))
    } else {
        None
    };
    Ok(Paged { items: items[start..end].iter().map(|(_, _, v)| v.clone()).collect(), next_cursor })
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn touch_conversation(&self, t: &ConversationTouch) -> Result<Conversation, StoreError> {
        let mut s = self.lock();
        let key = (t.tenant_id.clone(), t.conversation_id.clone());
        let c = s.conversations.entry(key).or_insert_with(|| Conversation {
            id: t.conversation_id.clone(),
            tenant_id: t.tenant_id.clone(),
            page_id: t.page_id.clone(),
            customer_id: t.customer_id.clone(),
            assignee: None,
            pool_rule_id: None,
            assignment_pending: true,
            last_customer_message_ms: None,
            last_activity_ms: i64::MIN,
            read_watermark_ms: None,
            delivery_watermark_ms: None,
        });
        let before = (c.last_activity_ms > i64::MIN && t.activity_ms > c.last_activity_ms)
            .then(|| walk::place(c.last_activity_ms, &c.id));
        if t.activity_ms >= c.last_activity_ms {
            c.last_activity_ms = t.activity_ms;
        }
        if let Some(cm) = t.customer_ms
            && c.last_customer_message_ms.is_none_or(|old| cm > old)
        {
            c.last_customer_message_ms = Some(cm);
        }
        let out = c.clone();
        // An existing conversation that moves in the inbox order is logged with the place it
        // leaves (under the same lock, so atomically with the move).
        if let Some(before) = before {
            let now = domain::timefmt::now_ms();
            let label = now.max(s.last_label + 1);
            s.last_label = label;
            s.moves.push_back((label, t.tenant_id.clone(), t.conversation_id.clone(), before));
            while s.moves.front().is_some_and(|m| m.0 < now - walk::MOVE_LOG_TTL_MS) {
                s.moves.pop_front();
            }
        }
        Ok(out)
    }

    async fn complete_assignment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        assignment: &Assignment,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let Some(c) = s.conversations.get_mut(&(tenant_id.to_string(), conversation_id.to_string())) else {
            return Ok(false);
        };
        if !c.assignment_pending {
            return Ok(false);
        }
        c.assignment_pending = false;
        match assignment {
            Assignment::Agent(e) => c.assignee = Some(e.clone()),
            Assignment::Pool(r) => c.pool_rule_id = Some(r.clone()),
            Assignment::Unassigned => {}
        }
        Ok(true)
    }

    async fn claim(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        rule_id: &str,
        email: &str,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut s = self.lock();
        let Some(c) = s.conversations.get_mut(&(tenant_id.to_string(), conversation_id.to_string())) else {
            return Ok(ClaimOutcome::NotInPool);
        };
        if let Some(holder) = &c.assignee {
            return Ok(ClaimOutcome::AlreadyClaimed(Some(holder.clone())));
        }
        if c.pool_rule_id.as_deref() != Some(rule_id) {
            return Ok(ClaimOutcome::NotInPool);
        }
        c.assignee = Some(email.to_string());
        c.pool_rule_id = None;
        Ok(ClaimOutcome::Won)
    }

    async fn reassign(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        from: &str,
        to: &Assignment,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let Some(c) = s.conversations.get_mut(&(tenant_id.to_string(), conversation_id.to_string())) else {
            return Ok(false);
        };
        if c.assignee.as_deref() != Some(from) {
            return Ok(false);
        }
        match to {
            Assignment::Agent(e) => {
                c.assignee = Some(e.clone());
                c.pool_rule_id = None;
            }
            Assignment::Pool(r) => {
                c.assignee = None;
                c.pool_rule_id = Some(r.clone());
            }
            Assignment::Unassigned => {
                c.assignee = None;
                c.pool_rule_id = None;
            }
        }
        Ok(true)
    }

    async fn put_message(&self, tenant_id: &str, m: &Message) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let msgs = s.messages.entry((tenant_id.to_string(), m.conversation_id.clone())).or_default();
        if msgs.contains_key(&m.id) {
            return Ok(false);
        }
        msgs.insert(m.id.clone(), m.clone());
        Ok(true)
    }

    async fn advance_watermark(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        kind: WatermarkKind,
        watermark_ms: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some(c) = s.conversations.get_mut(&(tenant_id.to_string(), conversation_id.to_string())) {
            let w = match kind {
                WatermarkKind::Read => &mut c.read_watermark_ms,
                WatermarkKind::Delivery => &mut c.delivery_watermark_ms,
            };
            if w.is_none_or(|old| watermark_ms > old) {
                *w = Some(watermark_ms);
            }
        }
        Ok(())
    }

    async fn conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        Ok(self.lock().conversations.get(&(tenant_id.to_string(), conversation_id.to_string())).cloned())
    }

    async fn list_conversations(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Conversation>, StoreError> {
        let s = self.lock();
        let view = walk::view_key(tenant_id, filter);
        // Writes happen under the lock, so the walk's snapshot is exactly the last label.
        // (Labels may run ahead of the clock by a few ms under a burst of moves.)
        let now = domain::timefmt::now_ms().max(s.last_label);
        let w = walk::Walk::resume(&view, cursor, now, || s.last_label)?;
        let since: Vec<_> = s
            .moves
            .iter()
            .filter(|(label, tenant, _, _)| *label > w.t0 && tenant == tenant_id)
            .map(|(_, _, id, before)| (id.as_str(), before.as_str()))
            .collect();
        if since.len() > walk::MAX_MOVES {
            return Err(StoreError::CursorExpired);
        }
        let pinned = walk::pinned_places(since);
        let mut unmoved = Vec::new();
        let mut moved = Vec::new();
        for c in s.conversations.values().filter(|c| c.tenant_id == tenant_id && filter.admits(c)) {
            match pinned.get(&c.id) {
                Some(p) if w.ahead(&c.id, p) => moved.push((p.clone(), c.clone())),
                Some(_) => {}
                None => {
                    let p = walk::place(c.last_activity_ms, &c.id);
                    if w.ahead(&c.id, &p) {
                        unmoved.push((p, c.clone()));
                    }
                }
            }
        }
        unmoved.sort_by(|a, b| b.0.cmp(&a.0));
        let (items, next) = walk::assemble(unmoved, None, moved, limit);
        Ok(Paged { items, next_cursor: next.map(|p| w.cursor_after(&view, &p)) })
    }

    async fn list_messages(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Message>, StoreError> {
        let s = self.lock();
        let items: Vec<_> = s
            .messages
            .get(&(tenant_id.to_string(), conversation_id.to_string()))
            .map(|m| m.values().map(|m| (m.sent_ms, m.id.clone(), m.clone())).collect())
            .unwrap_or_default();
        page_after(items, "messages", cursor, limit)
    }
}

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
        let mut s = self.lock();
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

    async fn next_turn(&self, tenant_id: &str, rule_id: &str) -> Result<u64, StoreError> {
        let mut s = self.lock();
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

    async fn return_turn(&self, tenant_id: &str, rule_id: &str, turn: u64) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.returned_turns.entry((tenant_id.to_string(), rule_id.to_string())).or_default().insert(turn);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

struct QueuedMessage {
    id: String,
    group_id: String,
    body: String,
    receive_count: u32,
    invisible_until: Option<Instant>,
    receipt: Option<String>,
}

#[derive(Default)]
struct QueueState {
    messages: VecDeque<QueuedMessage>,
    dedup: HashMap<(String, String), Instant>,
    dead: Vec<QueuedMessage>,
    seq: u64,
}

/// An in-memory FIFO queue with SQS's semantics: message groups delivered in order with at
/// most one batch of a group in flight, a deduplication window, a visibility timeout, and a
/// dead-letter queue after `max_receives`.
pub struct MemoryQueue {
    state: Mutex<QueueState>,
    visibility: Duration,
    max_receives: u32,
    dedup_window: Duration,
    /// Test hook: the next N send calls fail as if SQS were unreachable.
    fail_sends: AtomicUsize,
    send_calls: AtomicUsize,
}

impl MemoryQueue {
    pub fn new(visibility: Duration, max_receives: u32) -> MemoryQueue {
        MemoryQueue {
            state: Mutex::new(QueueState::default()),
            visibility,
            max_receives,
            dedup_window: Duration::from_secs(300),
            fail_sends: AtomicUsize::new(0),
            send_calls: AtomicUsize::new(0),
        }
    }

    /// Makes the next `n` send calls fail.
    pub fn fail_next_sends(&self, n: usize) {
        self.fail_sends.store(n, Ordering::SeqCst);
    }

    /// How many send calls were made (successful or not).
    pub fn send_calls(&self) -> usize {
        self.send_calls.load(Ordering::SeqCst)
    }

    /// Messages waiting or in flight (not dead-lettered).
    pub fn depth(&self) -> usize {
        self.lock().messages.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn try_receive(&self, max: usize) -> Vec<ReceivedMessage> {
        let now = Instant::now();
        let mut s = self.lock();
        s.dedup.retain(|_, t| now.duration_since(*t) < self.dedup_window);
        let mut blocked: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.messages.len() && out.len() < max {
            let m = &s.messages[i];
            if blocked.contains(&m.group_id) {
                i += 1;
                continue;
            }
            if m.invisible_until.is_some_and(|t| t > now) {
                blocked.insert(m.group_id.clone());
                i += 1;
                continue;
            }
            if m.receive_count >= self.max_receives {
                if let Some(dead) = s.messages.remove(i) {
                    s.dead.push(dead);
                }
                continue;
            }
            s.seq += 1;
            let receipt = format!("r-{}", s.seq);
            let m = &mut s.messages[i];
            m.receive_count += 1;
            m.invisible_until = Some(now + self.visibility);
            m.receipt = Some(receipt.clone());
            out.push(ReceivedMessage {
                message_id: m.id.clone(),
                receipt_handle: receipt,
                body: m.body.clone(),
                group_id: Some(m.group_id.clone()),
                receive_count: m.receive_count,
            });
            i += 1;
        }
        out
    }
}

#[async_trait]
impl EventQueue for MemoryQueue {
    async fn send_batch(&self, messages: &[OutboundQueueMessage]) -> Result<(), QueueError> {
        self.send_calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_sends.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(QueueError::Backend {
                op: "SendMessageBatch",
                source: "injected failure: queue unreachable".into(),
            });
        }
        let now = Instant::now();
        let mut s = self.lock();
        for m in messages {
            let key = (m.group_id.clone(), m.dedup_id.clone());
            if s.dedup.get(&key).is_some_and(|t| now.duration_since(*t) < self.dedup_window) {
                continue;
            }
            s.dedup.insert(key, now);
            s.seq += 1;
            let id = format!("m-{}", s.seq);
            s.messages.push_back(QueuedMessage {
                id,
                group_id: m.group_id.clone(),
                body: m.body.clone(),
                receive_count: 0,
                invisible_until: None,
                receipt: None,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl QueueConsumer for MemoryQueue {
    async fn receive(&self, max: usize, wait_seconds: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        let deadline = Instant::now() + Duration::from_secs(u64::from(wait_seconds));
        loop {
            let got = self.try_receive(max);
            if !got.is_empty() || Instant::now() >= deadline {
                return Ok(got);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut s = self.lock();
        s.messages.retain(|m| m.receipt.as_deref() != Some(receipt_handle));
        Ok(())
    }

    async fn release(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut s = self.lock();
        for m in s.messages.iter_mut() {
            if m.receipt.as_deref() == Some(receipt_handle) {
                m.invisible_until = None;
            }
        }
        Ok(())
    }

    async fn dead_letter_depth(&self) -> Result<usize, QueueError> {
        Ok(self.lock().dead.len())
    }
}
