//! Replies sent once (the reply half of [`domain::ports::ConversationStore`];
//! docs/table-design.md, "Reply"): a reply's own item `R#{reply_id}` in its conversation's
//! partition, written before the Send API call and listed in the thread (it has an `lsi1sk`)
//! while pending, failed or unknown. Once sent, one transaction moves it: the reply item keeps
//! Meta's id (`sent_mid`) and leaves the listing, and the message item `M#{mid}` is written
//! with the reply's text and author, so the echo that follows (or came first) is one message.

use aws_sdk_dynamodb::types::ReturnValue;
use domain::model::{Message, ReplyStatus};
use domain::reply::ReplyOutcome;

use super::codec::{FromItem, Row, ToAttr, ToItem};
use super::errors::{backend, conditional, transaction_condition_failed, transaction_conflicted, transient};
use super::{DynamoStore, Item, Read, TxItem, keys};
use crate::retry::RetryPolicy;
use domain::ports::StoreError;

/// The reply as the thread shows it: under Meta's id once sent, else under its own.
fn reply_view(item: &Item) -> Result<Message, StoreError> {
    let mut m = Message::from_item(item)?;
    if let (Some(mid), Some(ReplyStatus::Sent)) =
        (Row(item).s("sent_mid"), m.reply.as_ref().map(|r| r.status))
    {
        m.id = mid;
    }
    Ok(m)
}

impl DynamoStore {
    pub(super) async fn begin_reply_item(
        &self,
        tenant_id: &str,
        m: &Message,
    ) -> Result<Option<Message>, StoreError> {
        // This write's own id: when its answer is lost, the SDK sends the same request again
        // and the condition fails on the item this very call wrote. That is not a repeated
        // reply request, and the reply must still go out (tests/tests/fault_injection.rs).
        let write_id = uuid::Uuid::new_v4().simple().to_string();
        let r = self
            .put(keys::reply(tenant_id, &m.conversation_id, &m.id).with(m.to_item()))
            .item("lsi1sk", keys::message_order(m.sent_ms, &m.id).attr())
            .item("write_id", write_id.attr())
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await;
        if conditional(r, "PutItem")? {
            return Ok(None);
        }
        let Some(item) = self.read(keys::reply(tenant_id, &m.conversation_id, &m.id), Read::Latest).await?
        else {
            return Ok(None);
        };
        if Row(&item).s("write_id").as_deref() == Some(write_id.as_str()) {
            return Ok(None);
        }
        reply_view(&item).map(Some)
    }

    pub(super) async fn settle_reply_item(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        reply_id: &str,
        outcome: &ReplyOutcome,
    ) -> Result<Option<Message>, StoreError> {
        let mid = match outcome {
            ReplyOutcome::Sent { mid } => mid,
            ReplyOutcome::Failed { error } | ReplyOutcome::Unknown { error } => {
                return self
                    .settle_unsent(tenant_id, conversation_id, reply_id, outcome.status(), error)
                    .await;
            }
        };
        let key = || keys::reply(tenant_id, conversation_id, reply_id);
        let policy = RetryPolicy::CONTENDED_WRITE;
        for n in policy.attempts() {
            let Some(item) = self.read(key(), Read::Latest).await? else { return Ok(None) };
            let seen = Message::from_item(&item)?;
            let Some(state) = seen.reply.clone() else {
                return Err(StoreError::Corrupt(format!("reply {reply_id} has no status")));
            };
            if state.status == ReplyStatus::Sent {
                return reply_view(&item).map(Some);
            }
            let mut sent = seen.clone();
            sent.id = mid.clone();
            sent.reply =
                Some(domain::model::ReplyState { status: ReplyStatus::Sent, error: None, ..state.clone() });
            // The reply item, conditioned on the status read: exactly one settlement wins.
            let reply = self
                .tx_update(key())
                .update_expression("SET #st = :sent, sent_mid = :mid REMOVE lsi1sk, #err")
                .condition_expression("#st = :seen")
                .expression_attribute_names("#st", "status")
                .expression_attribute_names("#err", "error")
                .expression_attribute_values(":sent", ReplyStatus::Sent.as_str().attr())
                .expression_attribute_values(":seen", state.status.as_str().attr())
                .expression_attribute_values(":mid", mid.attr())
                .tx()?;
            // The message under Meta's id: written whole, over an echo stored first (the same
            // message, without the reply's author); a later echo finds it and is a duplicate.
            let message = self
                .tx_put(keys::message(tenant_id, conversation_id, mid).with(sent.to_item()))
                .item("lsi1sk", keys::message_order(sent.sent_ms, mid).attr())
                .tx()?;
            let r =
                self.client.transact_write_items().transact_items(reply).transact_items(message).send().await;
            match r {
                Ok(_) => return Ok(Some(sent)),
                Err(e) if transaction_condition_failed(&e) || transaction_conflicted(&e) => {}
                Err(e) if transient(&e) => policy.pause(n).await,
                Err(e) => return Err(backend("TransactWriteItems")(e)),
            }
        }
        Err(StoreError::Conflict(format!("reply {reply_id} kept changing while it was settled")))
    }

    /// Failed or unknown: only a pending reply takes it.
    async fn settle_unsent(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        reply_id: &str,
        status: ReplyStatus,
        error: &str,
    ) -> Result<Option<Message>, StoreError> {
        let key = || keys::reply(tenant_id, conversation_id, reply_id);
        let r = self
            .update(key())
            .update_expression("SET #st = :new, #err = :e")
            .condition_expression("#st = :pending")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#err", "error")
            .expression_attribute_values(":new", status.as_str().attr())
            .expression_attribute_values(":e", error.attr())
            .expression_attribute_values(":pending", ReplyStatus::Pending.as_str().attr())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match r {
            Ok(out) => reply_view(&out.attributes.unwrap_or_default()).map(Some),
            Err(e) if super::errors::is_conditional_failure(&e) => {
                self.read(key(), Read::Latest).await?.as_ref().map(reply_view).transpose()
            }
            Err(e) => Err(backend("UpdateItem")(e)),
        }
    }
}
