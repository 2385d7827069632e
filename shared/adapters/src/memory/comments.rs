//! [`CommentStore`] in memory: the twin of `dynamo/comments.rs`. A stored comment is the
//! message under its comment id carrying [`CommentState`]; each change is applied under the
//! store's lock with the conditions the DynamoDB updates carry.

use async_trait::async_trait;
use domain::comments::{AutoHide, CommentChange, CommentState, HANDOFF_TTL_MS, Handoff, PrivateReplyMark};
use domain::model::Message;
use domain::ports::{Assignment, CommentStore, StoreError};

use super::conversations::assign;
use super::{MemoryStore, StoreState, key};

impl StoreState {
    /// The stored comment in a conversation, to change in place.
    fn comment_mut(
        &mut self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
    ) -> Option<&mut Message> {
        self.messages
            .get_mut(&key(tenant_id, conversation_id))
            .and_then(|msgs| msgs.get_mut(comment_id))
            .filter(|m| m.comment.is_some())
    }
}

/// The comment state of a message known to be a comment.
fn state(m: &mut Message) -> &mut CommentState {
    m.comment.get_or_insert_with(CommentState::default)
}

#[async_trait]
impl CommentStore for MemoryStore {
    async fn comment(&self, tenant_id: &str, comment_id: &str) -> Result<Option<Message>, StoreError> {
        let s = self.lock();
        Ok(s.messages
            .iter()
            .filter(|((t, _), _)| t == tenant_id)
            .filter_map(|(_, msgs)| msgs.get(comment_id))
            .find(|m| m.comment.as_ref().is_some_and(|c| c.comment_id == comment_id))
            .cloned())
    }

    async fn comment_in(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        Ok(self.lock().comment_mut(tenant_id, conversation_id, comment_id).cloned())
    }

    async fn change_comment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
        change: &CommentChange,
    ) -> Result<Option<Message>, StoreError> {
        let mut s = self.lock();
        let Some(m) = s.comment_mut(tenant_id, conversation_id, comment_id) else { return Ok(None) };
        match change {
            CommentChange::Edited { text, at_ms } => {
                if state(m).edited_ms.is_none_or(|latest| latest < *at_ms) {
                    let before = std::mem::replace(&mut m.text, text.clone());
                    let c = state(m);
                    c.previous_text = before;
                    c.edited_ms = Some(*at_ms);
                }
            }
            CommentChange::Removed => state(m).removed = true,
            CommentChange::Hidden(hidden) => state(m).hidden = *hidden,
        }
        Ok(Some(m.clone()))
    }

    async fn mark_private_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
        mark: &PrivateReplyMark,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let Some(m) = s.comment_mut(tenant_id, conversation_id, comment_id) else { return Ok(false) };
        let c = state(m);
        if c.private_reply.is_some() {
            return Ok(false);
        }
        c.private_reply = Some(mark.clone());
        Ok(true)
    }

    async fn release_private_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
        reply_id: &str,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some(m) = s.comment_mut(tenant_id, conversation_id, comment_id) {
            let c = state(m);
            if c.private_reply.as_ref().is_some_and(|p| p.reply_id == reply_id) {
                c.private_reply = None;
            }
        }
        Ok(())
    }

    async fn adopt_comment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        adopted: &CommentState,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let Some(m) = s
            .messages
            .get_mut(&key(tenant_id, conversation_id))
            .and_then(|msgs| msgs.get_mut(&adopted.comment_id))
        else {
            return Ok(());
        };
        // As in DynamoDB: identity from `adopted`, the rest only where the message has none yet.
        let was = m.comment.take();
        m.comment = Some(match was {
            None => adopted.clone(),
            Some(was) => CommentState {
                comment_id: adopted.comment_id.clone(),
                post_id: was.post_id.or_else(|| adopted.post_id.clone()),
                parent_id: was.parent_id.or_else(|| adopted.parent_id.clone()),
                hidden: was.hidden,
                removed: was.removed,
                previous_text: was.previous_text.or_else(|| adopted.previous_text.clone()),
                edited_ms: was.edited_ms.or(adopted.edited_ms),
                private_reply: was.private_reply.or_else(|| adopted.private_reply.clone()),
            },
        });
        Ok(())
    }

    async fn auto_hide(&self, tenant_id: &str, page_id: &str) -> Result<AutoHide, StoreError> {
        Ok(self.lock().auto_hide.get(&key(tenant_id, page_id)).copied().unwrap_or_default())
    }

    async fn set_auto_hide(
        &self,
        tenant_id: &str,
        page_id: &str,
        setting: AutoHide,
    ) -> Result<(), StoreError> {
        self.lock().auto_hide.insert(key(tenant_id, page_id), setting);
        Ok(())
    }

    async fn put_handoff(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        handoff: &Handoff,
    ) -> Result<(), StoreError> {
        self.lock().handoffs.insert(key(tenant_id, conversation_id), handoff.clone());
        Ok(())
    }

    async fn handoff(&self, tenant_id: &str, conversation_id: &str) -> Result<Option<Handoff>, StoreError> {
        let now = domain::timefmt::now_ms();
        Ok(self
            .lock()
            .handoffs
            .get(&key(tenant_id, conversation_id))
            .filter(|h| h.at_ms.saturating_add(HANDOFF_TTL_MS) > now)
            .cloned())
    }

    async fn complete_handoff(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        handoff: &Handoff,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let Some(c) = s.conversation_mut(tenant_id, conversation_id).filter(|c| c.assignment_pending) else {
            return Ok(false);
        };
        c.assignment_pending = false;
        assign(c, &Assignment::Agent(handoff.by.clone()));
        c.handoff = Some(handoff.clone());
        Ok(true)
    }
}
