//! Conversations, their assignment and their messages (ConversationStore); the inbox listing
//! itself is in `inbox`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use domain::model::{Conversation, Message, Paged};
use domain::ports::*;

use super::{MemoryStore, StoreState, key};
use crate::{cursor, walk};

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
        let key = key(&t.tenant_id, &t.conversation_id);
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
            customer_name: None,
            last_message: None,
            post_id: None,
            phones: Vec::new(),
            handoff: None,
        });
        if c.last_activity_ms == i64::MIN {
            // Created by this touch: a comment conversation's post goes with its creation.
            c.post_id = t.post_id.clone();
        }
        // The header's set of phone numbers only grows, whatever the event's time.
        c.phones.extend(t.phones.iter().cloned());
        c.phones.sort();
        c.phones.dedup();
        let before = (c.last_activity_ms > i64::MIN && t.activity_ms > c.last_activity_ms)
            .then(|| walk::place(c.last_activity_ms, &c.id));
        // Created or moved forward: the event's message and name go with the move, as in
        // DynamoDB; an event no newer leaves them, but a name still missing is filled in.
        let newer = t.activity_ms > c.last_activity_ms;
        if newer {
            if t.last_message.is_some() {
                c.last_message = t.last_message.clone();
            }
            if t.customer_name.is_some() {
                c.customer_name = t.customer_name.clone();
            }
        } else if c.customer_name.is_none() {
            c.customer_name = t.customer_name.clone();
        }
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
            s.log_move(&t.tenant_id, &t.conversation_id, before);
        }
        Ok(out)
    }

    async fn set_customer_name(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        if let Some(c) = self.lock().conversation_mut(tenant_id, conversation_id) {
            c.customer_name = Some(name.to_string());
        }
        Ok(())
    }

    async fn complete_assignment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        assignment: &Assignment,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let Some(c) = s.conversation_mut(tenant_id, conversation_id).filter(|c| c.assignment_pending) else {
            return Ok(false);
        };
        c.assignment_pending = false;
        assign(c, assignment);
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
        let Some(c) = s.conversation_mut(tenant_id, conversation_id) else {
            return Ok(ClaimOutcome::NotInPool);
        };
        if let Some(holder) = &c.assignee {
            return Ok(ClaimOutcome::AlreadyClaimed(Some(holder.clone())));
        }
        if c.pool_rule_id.as_deref() != Some(rule_id) {
            return Ok(ClaimOutcome::NotInPool);
        }
        assign(c, &Assignment::Agent(email.to_string()));
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
        let Some(c) =
            s.conversation_mut(tenant_id, conversation_id).filter(|c| c.assignee.as_deref() == Some(from))
        else {
            return Ok(false);
        };
        assign(c, to);
        Ok(true)
    }

    async fn put_message(&self, tenant_id: &str, m: &Message) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let msgs = s.messages.entry(key(tenant_id, &m.conversation_id)).or_default();
        if msgs.contains_key(&m.id) {
            return Ok(false);
        }
        msgs.insert(m.id.clone(), m.clone());
        Ok(true)
    }

    async fn begin_reply(&self, tenant_id: &str, m: &Message) -> Result<Option<Message>, StoreError> {
        self.begin_reply_row(tenant_id, m)
    }

    async fn settle_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        reply_id: &str,
        outcome: &domain::reply::ReplyOutcome,
    ) -> Result<Option<Message>, StoreError> {
        self.settle_reply_row(tenant_id, conversation_id, reply_id, outcome)
    }

    async fn advance_watermark(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        kind: WatermarkKind,
        watermark_ms: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some(c) = s.conversation_mut(tenant_id, conversation_id) {
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
        Ok(self.lock().conversations.get(&key(tenant_id, conversation_id)).cloned())
    }

    async fn list_conversations(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Conversation>, StoreError> {
        self.lock().inbox_page(tenant_id, filter, cursor, limit)
    }

    async fn list_messages(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Message>, StoreError> {
        let s = self.lock();
        let mut items: Vec<_> = s
            .messages
            .get(&key(tenant_id, conversation_id))
            .map(|m| m.values().map(|m| (m.sent_ms, m.id.clone(), m.clone())).collect())
            .unwrap_or_default();
        items.extend(
            s.unsent_replies(tenant_id, conversation_id).into_iter().map(|m| (m.sent_ms, m.id.clone(), m)),
        );
        page_after(items, "messages", cursor, limit)
    }

    async fn delete_conversation(&self, tenant_id: &str, conversation_id: &str) -> Result<usize, StoreError> {
        let mut s = self.lock();
        let key = key(tenant_id, conversation_id);
        // Messages and reply records (an unsent reply's text too), then the header.
        let deleted =
            s.messages.remove(&key).map_or(0, |m| m.len()) + s.replies.remove(&key).map_or(0, |r| r.len());
        s.conversations.remove(&key);
        // The hand-off item lives in the conversation's partition in DynamoDB: it goes too.
        s.handoffs.remove(&key);
        Ok(deleted)
    }
}

impl StoreState {
    pub(super) fn conversation_mut(
        &mut self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Option<&mut Conversation> {
        self.conversations.get_mut(&key(tenant_id, conversation_id))
    }
}

/// Puts a conversation in `to`'s inbox: an agent's (out of any pool), a pool's (held by nobody)
/// or nobody's, as the DynamoDB store's assignment update does.
pub(super) fn assign(c: &mut Conversation, to: &Assignment) {
    (c.assignee, c.pool_rule_id) = match to {
        Assignment::Agent(e) => (Some(e.clone()), None),
        Assignment::Pool(r) => (None, Some(r.clone())),
        Assignment::Unassigned => (None, None),
    };
}
