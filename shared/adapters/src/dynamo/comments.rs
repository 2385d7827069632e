//! [`CommentStore`] (docs/table-design.md, "Message" and "Hand-off"): a stored comment is the
//! message item `M#{comment_id}` of its comment conversation, with flat `c_*` attributes, so
//! each change (an edit, a removal, hiding, the one private reply) is its own conditional
//! UpdateItem on one item. Its `gsi1` entry (`CMT#{tenant}#{comment_id}`) finds it by id. A
//! Page's auto-hide setting is a small item in the shop's partition; a pending hand-off is an
//! item in the Messenger conversation's partition, so deleting the conversation deletes it.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use domain::comments::{AutoHide, CommentChange, CommentState, HANDOFF_TTL_MS, Handoff, PrivateReplyMark};
use domain::model::Message;
use domain::ports::{Assignment, CommentStore, StoreError};
use tracing::instrument;

use super::codec::{DONE, FromItem, PENDING, Row, ToAttr, ToItem};
use super::errors::{backend, conditional, is_conditional_failure};
use super::{DynamoStore, Read, keys};

/// The condition of every change to a stored comment: the message item is a comment.
const IS_COMMENT: &str = "attribute_exists(c_id)";

impl DynamoStore {
    /// The stored comment in a conversation (a strong read), None when there is none there.
    async fn read_comment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        let m: Option<Message> =
            self.record(keys::comment(tenant_id, conversation_id, comment_id), Read::Latest).await?;
        Ok(m.filter(|m| m.comment.is_some()))
    }
}

/// The message a conditional update returned (`ALL_NEW`), or None when its condition failed.
fn updated(
    r: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
            aws_sdk_dynamodb::config::http::HttpResponse,
        >,
    >,
) -> Result<Option<Message>, StoreError> {
    match r {
        Ok(out) => Message::from_item(&out.attributes.unwrap_or_default()).map(Some),
        Err(e) if is_conditional_failure(&e) => Ok(None),
        Err(e) => Err(backend("UpdateItem")(e)),
    }
}

#[async_trait]
impl CommentStore for DynamoStore {
    #[instrument(skip(self), err)]
    async fn comment(&self, tenant_id: &str, comment_id: &str) -> Result<Option<Message>, StoreError> {
        let out = self
            .query()
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :k")
            .expression_attribute_values(":k", keys::comment_lookup(tenant_id, comment_id).attr())
            .limit(1)
            .send()
            .await
            .map_err(backend("Query"))?;
        let m = out.items.unwrap_or_default().first().map(Message::from_item).transpose()?;
        Ok(m.filter(|m| m.comment.is_some()))
    }

    #[instrument(skip(self), err)]
    async fn comment_in(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        self.read_comment(tenant_id, conversation_id, comment_id).await
    }

    #[instrument(skip(self, change), err)]
    async fn change_comment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
        change: &CommentChange,
    ) -> Result<Option<Message>, StoreError> {
        let req = self
            .update(keys::comment(tenant_id, conversation_id, comment_id))
            .return_values(ReturnValue::AllNew);
        let req = match change {
            CommentChange::Edited { text, at_ms } => {
                // The text before becomes `c_prev` (NULL when there was none), in the same write
                // that applies the edit, only if no newer or equal edit was applied.
                // An edit to no text leaves NULL (read back as none), never a path both set and
                // removed in one expression.
                let new = text.as_deref().map_or(AttributeValue::Null(true), ToAttr::attr);
                req.update_expression(
                    "SET c_prev = if_not_exists(#text, :null), #text = :new, c_edit_ms = :at",
                )
                .expression_attribute_values(":new", new)
                .condition_expression(format!(
                    "{IS_COMMENT} AND (attribute_not_exists(c_edit_ms) OR c_edit_ms < :at)"
                ))
                .expression_attribute_names("#text", "text")
                .expression_attribute_values(":null", AttributeValue::Null(true))
                .expression_attribute_values(":at", at_ms.attr())
            }
            CommentChange::Removed => req
                .update_expression("SET c_removed = :t")
                .condition_expression(IS_COMMENT)
                .expression_attribute_values(":t", true.attr()),
            CommentChange::Hidden(hidden) => req
                .update_expression("SET c_hidden = :h")
                .condition_expression(IS_COMMENT)
                .expression_attribute_values(":h", hidden.attr()),
        };
        match updated(req.send().await)? {
            Some(m) => Ok(Some(m)),
            // Not stored, or an edit no newer than the latest applied: the comment as it is.
            None => self.read_comment(tenant_id, conversation_id, comment_id).await,
        }
    }

    #[instrument(skip(self, mark), err)]
    async fn mark_private_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
        mark: &PrivateReplyMark,
    ) -> Result<bool, StoreError> {
        let r = self
            .update(keys::comment(tenant_id, conversation_id, comment_id))
            .update_expression("SET c_pr = :m")
            .condition_expression(format!("{IS_COMMENT} AND attribute_not_exists(c_pr)"))
            .expression_attribute_values(":m", mark.attr())
            .send()
            .await;
        conditional(r, "UpdateItem")
    }

    #[instrument(skip(self), err)]
    async fn release_private_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
        reply_id: &str,
    ) -> Result<(), StoreError> {
        let r = self
            .update(keys::comment(tenant_id, conversation_id, comment_id))
            .update_expression("REMOVE c_pr")
            .condition_expression("c_pr.reply_id = :r")
            .expression_attribute_values(":r", reply_id.attr())
            .send()
            .await;
        conditional(r, "UpdateItem").map(|_| ())
    }

    #[instrument(skip(self, state), fields(comment_id = %state.comment_id), err)]
    async fn adopt_comment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        state: &CommentState,
    ) -> Result<(), StoreError> {
        // Identity and index entry from `state`; hidden, removed and the rest only where the item
        // has none yet (a change that reached the comment first is kept).
        let mut expr = String::from(
            "SET c_id = :id, gsi1pk = :g1, gsi1sk = :g1s, \
             c_hidden = if_not_exists(c_hidden, :h), c_removed = if_not_exists(c_removed, :rm)",
        );
        let mut req = self
            .update(keys::comment(tenant_id, conversation_id, &state.comment_id))
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":id", state.comment_id.attr())
            .expression_attribute_values(":g1", keys::comment_lookup(tenant_id, &state.comment_id).attr())
            .expression_attribute_values(":g1s", conversation_id.attr())
            .expression_attribute_values(":h", state.hidden.attr())
            .expression_attribute_values(":rm", state.removed.attr());
        let optional = [
            ("c_post", state.post_id.as_deref().map(ToAttr::attr)),
            ("c_parent", state.parent_id.as_deref().map(ToAttr::attr)),
            ("c_prev", state.previous_text.as_deref().map(ToAttr::attr)),
            ("c_edit_ms", state.edited_ms.as_ref().map(ToAttr::attr)),
            ("c_pr", state.private_reply.as_ref().map(ToAttr::attr)),
        ];
        for (name, value) in optional.into_iter().filter_map(|(n, v)| v.map(|v| (n, v))) {
            expr.push_str(&format!(", {name} = if_not_exists({name}, :{name})"));
            req = req.expression_attribute_values(format!(":{name}"), value);
        }
        conditional(req.update_expression(expr).send().await, "UpdateItem").map(|_| ())
    }

    #[instrument(skip(self), err)]
    async fn auto_hide(&self, tenant_id: &str, page_id: &str) -> Result<AutoHide, StoreError> {
        let item = self.read(keys::auto_hide(tenant_id, page_id), Read::Latest).await?;
        Ok(item.and_then(|i| Row(&i).s("auto_hide")).as_deref().and_then(AutoHide::parse).unwrap_or_default())
    }

    #[instrument(skip(self), err)]
    async fn set_auto_hide(
        &self,
        tenant_id: &str,
        page_id: &str,
        setting: AutoHide,
    ) -> Result<(), StoreError> {
        self.put(keys::auto_hide(tenant_id, page_id).item())
            .item("page_id", page_id.attr())
            .item("auto_hide", setting.as_str().attr())
            .send()
            .await
            .map_err(backend("PutItem"))?;
        Ok(())
    }

    #[instrument(skip(self, handoff), err)]
    async fn put_handoff(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        handoff: &Handoff,
    ) -> Result<(), StoreError> {
        // Overwrites: a later private reply to the same customer replaces the hand-off.
        let expires_ms = handoff.at_ms.saturating_add(HANDOFF_TTL_MS);
        self.put(keys::handoff(tenant_id, conversation_id).with(handoff.to_item()))
            .item("expires_ms", expires_ms.attr())
            .item("ttl", (expires_ms / 1000 + 1).attr())
            .send()
            .await
            .map_err(backend("PutItem"))?;
        Ok(())
    }

    #[instrument(skip(self), err)]
    async fn handoff(&self, tenant_id: &str, conversation_id: &str) -> Result<Option<Handoff>, StoreError> {
        let Some(item) = self.read(keys::handoff(tenant_id, conversation_id), Read::Latest).await? else {
            return Ok(None);
        };
        // DynamoDB deletes expired items days late: an expired one is absent here at once.
        if Row(&item).n("expires_ms").is_some_and(|e| e <= domain::timefmt::now_ms()) {
            return Ok(None);
        }
        Handoff::from_item(&item).map(Some)
    }

    #[instrument(skip(self, handoff), err)]
    async fn complete_handoff(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        handoff: &Handoff,
    ) -> Result<bool, StoreError> {
        // `complete_assignment` to the hand-off's member, recording where it came from.
        let to = Assignment::Agent(handoff.by.clone());
        let u = self
            .assignment(tenant_id, conversation_id, &to, "assign_state = :done, #ho = :ho, ")
            .condition_expression("assign_state = :pending")
            .expression_attribute_names("#ho", "handoff")
            .expression_attribute_values(":ho", AttributeValue::M(handoff.to_item()))
            .expression_attribute_values(":pending", PENDING.attr())
            .expression_attribute_values(":done", DONE.attr());
        self.update_if(u).await
    }
}
