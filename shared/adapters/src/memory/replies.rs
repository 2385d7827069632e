//! Replies sent once, in memory: the twin of `dynamo/replies.rs`. A reply's record stays under
//! its own id; while not sent it is listed in the thread, and once sent the message under
//! Meta's id takes its place (written over an echo stored first).

use domain::model::{Message, ReplyState, ReplyStatus};
use domain::ports::StoreError;
use domain::reply::ReplyOutcome;

use super::{MemoryStore, StoreState, key};

/// A reply's record and, once sent, Meta's id.
#[derive(Debug, Clone)]
pub(super) struct ReplyRow {
    message: Message,
    sent_mid: Option<String>,
}

impl ReplyRow {
    fn status(&self) -> ReplyStatus {
        self.message.reply.as_ref().map_or(ReplyStatus::Pending, |r| r.status)
    }

    /// The reply as the thread shows it: under Meta's id once sent, else under its own.
    fn view(&self) -> Message {
        let mut m = self.message.clone();
        if let (ReplyStatus::Sent, Some(mid)) = (self.status(), &self.sent_mid) {
            m.id = mid.clone();
        }
        m
    }
}

impl StoreState {
    /// The replies of a conversation still listed in its thread (not sent).
    pub(super) fn unsent_replies(&self, tenant_id: &str, conversation_id: &str) -> Vec<Message> {
        self.replies
            .get(&key(tenant_id, conversation_id))
            .map(|rows| {
                rows.values().filter(|r| r.status() != ReplyStatus::Sent).map(|r| r.message.clone()).collect()
            })
            .unwrap_or_default()
    }
}

impl MemoryStore {
    pub(super) fn begin_reply_row(
        &self,
        tenant_id: &str,
        m: &Message,
    ) -> Result<Option<Message>, StoreError> {
        let mut s = self.lock();
        let rows = s.replies.entry(key(tenant_id, &m.conversation_id)).or_default();
        if let Some(existing) = rows.get(&m.id) {
            return Ok(Some(existing.view()));
        }
        rows.insert(m.id.clone(), ReplyRow { message: m.clone(), sent_mid: None });
        Ok(None)
    }

    pub(super) fn settle_reply_row(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        reply_id: &str,
        outcome: &ReplyOutcome,
    ) -> Result<Option<Message>, StoreError> {
        let mut s = self.lock();
        let conv = key(tenant_id, conversation_id);
        let Some(row) = s.replies.get_mut(&conv).and_then(|rows| rows.get_mut(reply_id)) else {
            return Ok(None);
        };
        let Some(state) = row.message.reply.clone() else {
            return Err(StoreError::Corrupt(format!("reply {reply_id} has no status")));
        };
        match outcome {
            _ if state.status == ReplyStatus::Sent => Ok(Some(row.view())),
            ReplyOutcome::Sent { mid } => {
                row.message.reply = Some(ReplyState { status: ReplyStatus::Sent, error: None, ..state });
                row.sent_mid = Some(mid.clone());
                let sent = row.view();
                s.messages.entry(conv).or_default().insert(mid.clone(), sent.clone());
                Ok(Some(sent))
            }
            ReplyOutcome::Failed { error } | ReplyOutcome::Unknown { error } => {
                if state.status == ReplyStatus::Pending {
                    let status = outcome.status();
                    row.message.reply = Some(ReplyState { status, error: Some(error.clone()), ..state });
                }
                Ok(Some(row.view()))
            }
        }
    }
}
