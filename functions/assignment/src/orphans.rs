//! Conversations left without a carer when a member is removed (from the shop, or from one
//! rule): each goes where its rule's old-conversation policy says
//! ([`domain::assignment::old_conversation`]). Conversations of Pages without a rule become
//! unassigned.

use std::collections::HashMap;

use domain::assignment as policy;
use domain::event::OrphanJob;
use domain::model::Rule;
use domain::ports::ConversationFilter;
use tracing::info;

use crate::{RecordError, RecordOutcome, Target, Worker};

/// Conversations moved per step (one queue message).
pub const STEP_SIZE: usize = 25;
/// A guard against a listing that keeps showing moved conversations (index lag): give up after
/// this many steps and log it.
const MAX_STEPS: u32 = 2000;

impl Worker {
    pub async fn orphan_step(&self, job: &OrphanJob, out: &mut RecordOutcome) -> Result<(), RecordError> {
        let tenant = job.tenant_id.as_str();
        let held = ConversationFilter::AssignedTo { email: job.email.clone(), page_id: None };
        let conversations = &self.stores.conversations;
        let page =
            match conversations.list_conversations(tenant, &held, job.cursor.as_deref(), STEP_SIZE).await {
                // A step that waited longer than an inbox walk may last starts a new walk: the
                // conversations moved so far have left the member's inbox, and those left in place
                // are skipped again.
                Err(domain::ports::StoreError::CursorExpired) => {
                    conversations.list_conversations(tenant, &held, None, STEP_SIZE).await?
                }
                r => r?,
            };
        let now = domain::timefmt::now_ms();
        let mut rules: HashMap<String, Option<Rule>> = HashMap::new();
        let mut moved = 0;
        for c in &page.items {
            let rule = match self.stores.pages.page_route(&c.page_id).await? {
                Some(r) if r.tenant_id == tenant => match r.rule_id {
                    Some(id) => {
                        if !rules.contains_key(&id) {
                            let loaded = self.stores.rules.rule(tenant, &id).await?;
                            rules.insert(id.clone(), loaded);
                        }
                        rules.get(&id).cloned().flatten()
                    }
                    None => None,
                },
                _ => None,
            };
            if job.rule_id.is_some() && rule.as_ref().map(|r| &r.id) != job.rule_id.as_ref() {
                continue; // another rule's conversation: the member still carries it
            }
            let moved_now = match policy::old_conversation(rule.as_ref(), c.last_customer_message_ms, now) {
                // The turn and the move in one transaction: a duplicated step cannot spend
                // turns without moving conversations.
                Target::NextInTurn(r) => {
                    self.stores.rules.rehome_by_turn(tenant, &r.id, &c.id, &job.email).await?.is_some()
                }
                Target::To(a) => self.stores.conversations.reassign(tenant, &c.id, &job.email, &a).await?,
            };
            if moved_now {
                moved += 1;
                out.assigned += 1;
            }
        }
        info!(tenant_id = %tenant, moved, step = job.step, "orphaned conversations re-homed");
        // A whole-shop job starts again from the top (moved conversations left the inbox); a
        // rule-scoped one follows the cursor past those it leaves in place.
        let more =
            if job.rule_id.is_some() { page.next_cursor.is_some() } else { page.items.len() == STEP_SIZE };
        if more && job.step < MAX_STEPS {
            let cursor = if job.rule_id.is_some() { page.next_cursor.clone() } else { None };
            let next = OrphanJob { step: job.step + 1, cursor, ..job.clone() };
            self.queue_next_step("orphan re-homing", next.to_queue_message()).await?;
        } else if job.step >= MAX_STEPS {
            tracing::error!(tenant_id = %tenant, "orphan re-homing stopped after too many steps");
        }
        Ok(())
    }
}
