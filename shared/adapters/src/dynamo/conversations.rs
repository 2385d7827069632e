//! [`ConversationStore`]: conversation headers (created, moved up the inbox, assigned, claimed,
//! reassigned, their watermarks advanced) and messages (docs/table-design.md, "Conversation
//! header" and "Message"). The inbox listing is in `inbox`.

use async_trait::async_trait;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::types::ReturnValue;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use domain::model::{Conversation, Message, Paged};
use domain::ports::{
    Assignment, ClaimOutcome, ConversationFilter, ConversationStore, ConversationTouch, StoreError,
    WatermarkKind,
};
use tracing::instrument;

use super::codec::{DONE, FromItem, PENDING, Row, ToAttr, ToItem, decode_all, string_set};
use super::errors::{
    backend, conditional, is_conditional_failure, transaction_cancelled_for, transaction_condition_failed,
    transaction_conflicted, transient,
};
use super::query::Listing;
use super::{DynamoStore, Item, Read, TxItem, keys};
use crate::retry::RetryPolicy;
use crate::walk;

/// What one attempt of a touch came to.
enum Touched {
    /// Written (or nothing to write): the header as it now stands.
    Done(Box<Conversation>),
    /// Another writer changed the header since it was read: read again at once.
    Changed,
    /// Throttled, timed out, or a server or network fault: pause, then read again (a timed-out
    /// attempt that did commit shows as moved on that read).
    Throttled,
}

impl DynamoStore {
    /// The Update that puts a conversation header in `a`'s inbox (after `also`, more SET
    /// clauses): the assignee or pool, `gsi1pk`, and the other of the two removed. The caller
    /// adds its condition, then applies it alone or in a transaction.
    pub(super) fn assignment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        a: &Assignment,
        also: &str,
    ) -> UpdateBuilder {
        let (set, remove, v) = match a {
            Assignment::Agent(e) => ("assignee = :v, ", "pool_rule_id", Some(e)),
            Assignment::Pool(r) => ("pool_rule_id = :v, ", "assignee", Some(r)),
            Assignment::Unassigned => ("", "assignee, pool_rule_id", None),
        };
        let mut values = Item::from([(":g1".to_string(), keys::inbox(tenant_id, a).attr())]);
        values.extend(v.map(|v| (":v".to_string(), v.attr())));
        self.tx_update(keys::header(tenant_id, conversation_id))
            .update_expression(format!("SET {also}{set}gsi1pk = :g1 REMOVE {remove}"))
            .set_expression_attribute_values(Some(values))
    }

    /// Creates a conversation, pending assignment; `Changed` when another writer created it
    /// first.
    async fn create_conversation(&self, t: &ConversationTouch) -> Result<Touched, StoreError> {
        let sk_val = walk::place(t.activity_ms, &t.conversation_id);
        let mut expr = String::from(
            "SET conversation_id = :id, tenant_id = :t, page_id = :p, customer_id = :c, \
             last_activity_ms = :a, gsi1sk = :s, gsi2pk = :g2, gsi2sk = :s, gsi3pk = :g3, gsi3sk = :s, \
             created_ms = :now, assign_state = :pending, gsi1pk = :g1",
        );
        let mut req = self
            .update(keys::header(&t.tenant_id, &t.conversation_id))
            .expression_attribute_values(":id", t.conversation_id.attr())
            .expression_attribute_values(":t", t.tenant_id.attr())
            .expression_attribute_values(":p", t.page_id.attr())
            .expression_attribute_values(":c", t.customer_id.attr())
            .expression_attribute_values(":a", t.activity_ms.attr())
            .expression_attribute_values(":s", sk_val.attr())
            .expression_attribute_values(":g1", keys::inbox(&t.tenant_id, &Assignment::Unassigned).attr())
            .expression_attribute_values(":g2", keys::shop(&t.tenant_id).attr())
            .expression_attribute_values(":g3", keys::page_inbox(&t.tenant_id, &t.page_id).attr())
            .expression_attribute_values(":now", domain::timefmt::now_ms().attr())
            .expression_attribute_values(":pending", PENDING.attr())
            .condition_expression("attribute_not_exists(pk)")
            .return_values(ReturnValue::AllNew);
        if let Some(cm) = t.customer_ms {
            expr.push_str(", last_customer_ms = :cm");
            req = req.expression_attribute_values(":cm", cm.attr());
        }
        for (name, value) in summary(t) {
            expr.push_str(&format!(", {name} = :{name}"));
            req = req.expression_attribute_values(format!(":{name}"), value);
        }
        // A comment conversation's post is known from its first event on.
        if let Some(post) = &t.post_id {
            expr.push_str(", post_id = :post");
            req = req.expression_attribute_values(":post", post.attr());
        }
        if let Some(set) = phones_set(t) {
            expr.push_str(" ADD #ph :ph");
            req = req.expression_attribute_names("#ph", "phones").expression_attribute_values(":ph", set);
        }
        match req.update_expression(expr).send().await {
            Ok(out) => {
                Ok(Touched::Done(Box::new(Conversation::from_item(&out.attributes.unwrap_or_default())?)))
            }
            Err(e) if is_conditional_failure(&e) => Ok(Touched::Changed),
            Err(e) => Err(backend("UpdateItem")(e)),
        }
    }

    /// Moves activity forward (the conversation moves up the inbox), logging the place it
    /// leaves in the same transaction; `Changed` when the conversation changed since it was
    /// read.
    async fn move_conversation(
        &self,
        t: &ConversationTouch,
        item: &Item,
        mut conv: Conversation,
    ) -> Result<Touched, StoreError> {
        let before = walk::place(conv.last_activity_ms, &conv.id);
        let now = domain::timefmt::now_ms();
        // Labels of one conversation's moves strictly increase, whatever the writers' clocks.
        let label = now.max(Row(item).n("moved_label").unwrap_or(0) + 1);
        let place = walk::place(t.activity_ms, &t.conversation_id);
        let mut expr = String::from(
            "SET last_activity_ms = :a, gsi1sk = :s, gsi2sk = :s, gsi3sk = :s, moved_label = :l",
        );
        let mut update = self
            .tx_update(keys::header(&t.tenant_id, &t.conversation_id))
            .condition_expression("last_activity_ms = :old")
            .expression_attribute_values(":old", conv.last_activity_ms.attr())
            .expression_attribute_values(":a", t.activity_ms.attr())
            .expression_attribute_values(":s", place.attr())
            .expression_attribute_values(":l", label.attr());
        if let Some(cm) = t.customer_ms {
            // The customer's time never exceeds the activity time, so when activity moves
            // forward to this event, so may the customer's.
            expr.push_str(", last_customer_ms = :cm");
            update = update.expression_attribute_values(":cm", cm.attr());
        }
        // The event is the newest: its message becomes the last one in this same write (the
        // condition on the activity read keeps a late older event from replacing it).
        for (name, value) in summary(t) {
            expr.push_str(&format!(", {name} = :{name}"));
            update = update.expression_attribute_values(format!(":{name}"), value);
        }
        // The event's phone numbers join the header's set in the same write (a set only grows,
        // so a number already there changes nothing).
        if let Some(set) = phones_set(t) {
            expr.push_str(" ADD #ph :ph");
            update =
                update.expression_attribute_names("#ph", "phones").expression_attribute_values(":ph", set);
        }
        let update = update.update_expression(expr).tx()?;
        let log = self
            .tx_put(keys::move_entry(&t.tenant_id, label, &t.conversation_id).item())
            .item("conversation_id", t.conversation_id.attr())
            .item("before", before.attr())
            .item("ttl", ((now + walk::MOVE_LOG_TTL_MS) / 1000).attr())
            .tx()?;
        let r = self
            .client
            .transact_write_items()
            .transact_items(update)
            .transact_items(log)
            // Inbox walks rely on a move committing within `walk::SETTLE_MS` of its label, taken
            // just now: the whole call, the SDK's retries included, is cut off well before. A
            // cut-off call is retried by the caller's loop, which reads again and takes a fresh
            // label.
            .customize()
            .config_override(
                aws_sdk_dynamodb::config::Builder::default().timeout_config(
                    TimeoutConfig::builder()
                        .operation_timeout(std::time::Duration::from_millis(walk::MOVE_DEADLINE_MS))
                        .build(),
                ),
            )
            .send()
            .await;
        match r {
            Ok(_) => {
                conv.last_activity_ms = t.activity_ms;
                if t.customer_ms.is_some() {
                    conv.last_customer_message_ms = t.customer_ms;
                }
                if t.last_message.is_some() {
                    conv.last_message = t.last_message.clone();
                }
                if t.customer_name.is_some() {
                    conv.customer_name = t.customer_name.clone();
                }
                merge_phones(&mut conv.phones, &t.phones);
                Ok(Touched::Done(Box::new(conv)))
            }
            // Changed since it was read, or another transaction on it in flight: read again.
            Err(e) if transaction_condition_failed(&e) || transaction_conflicted(&e) => Ok(Touched::Changed),
            Err(e) if transient(&e) || transaction_cancelled_for(&e, "ThrottlingError") => {
                Ok(Touched::Throttled)
            }
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }

    /// An event no newer than the conversation's latest: activity and the last message stay;
    /// the customer's time may still move forward, and a name still missing is filled in.
    async fn touch_in_place(
        &self,
        t: &ConversationTouch,
        mut conv: Conversation,
    ) -> Result<Conversation, StoreError> {
        let cm = t.customer_ms.filter(|cm| conv.last_customer_message_ms.is_none_or(|old| old < *cm));
        let name = t.customer_name.as_ref().filter(|_| conv.customer_name.is_none());
        if let Some(cm) = cm {
            let r = self
                .update(keys::header(&t.tenant_id, &t.conversation_id))
                .update_expression("SET last_customer_ms = :cm")
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(last_customer_ms) OR last_customer_ms < :cm)",
                )
                .expression_attribute_values(":cm", cm.attr())
                .send()
                .await;
            if conditional(r, "UpdateItem")? {
                conv.last_customer_message_ms = Some(cm);
            }
        }
        if let Some(name) = name {
            self.name_if_missing(t, name).await?;
            conv.customer_name = Some(name.clone());
        }
        // A late event may still bring a number the header lacks: one write then, none when
        // every number is there already (the usual redelivery).
        if t.phones.iter().any(|p| !conv.phones.contains(p))
            && let Some(set) = phones_set(t)
        {
            let r = self
                .update(keys::header(&t.tenant_id, &t.conversation_id))
                .update_expression("ADD #ph :ph")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#ph", "phones")
                .expression_attribute_values(":ph", set)
                .send()
                .await;
            if conditional(r, "UpdateItem")? {
                merge_phones(&mut conv.phones, &t.phones);
            }
        }
        Ok(conv)
    }

    /// Writes the customer's name unless the header has one (history sync reaching a
    /// conversation a webhook created, whose profile lookup failed).
    async fn name_if_missing(&self, t: &ConversationTouch, name: &str) -> Result<(), StoreError> {
        self.write_name(&t.tenant_id, &t.conversation_id, name, true).await
    }

    /// `SET customer_name` on an existing header; with `only_if_missing`, never over a name.
    async fn write_name(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        name: &str,
        only_if_missing: bool,
    ) -> Result<(), StoreError> {
        let condition = if only_if_missing {
            "attribute_exists(pk) AND attribute_not_exists(customer_name)"
        } else {
            "attribute_exists(pk)"
        };
        let r = self
            .update(keys::header(tenant_id, conversation_id))
            .update_expression("SET customer_name = :n")
            .condition_expression(condition)
            .expression_attribute_values(":n", name.attr())
            .send()
            .await;
        conditional(r, "UpdateItem").map(|_| ())
    }
}

/// What a creation or a move also writes when the event carries it: `last_msg` (the event's
/// message) and `customer_name`.
fn summary(t: &ConversationTouch) -> Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)> {
    let mut out = Vec::new();
    if let Some(m) = &t.last_message {
        out.push(("last_msg", m.attr()));
    }
    if let Some(n) = &t.customer_name {
        out.push(("customer_name", n.attr()));
    }
    out
}

/// The event's phone numbers as a string set, None when it has none (DynamoDB refuses an
/// empty set).
fn phones_set(t: &ConversationTouch) -> Option<aws_sdk_dynamodb::types::AttributeValue> {
    let mut phones = t.phones.clone();
    phones.sort();
    phones.dedup();
    (!phones.is_empty()).then(|| string_set(&phones))
}

/// `phones` with `new` added: sorted, each once, as the header reads back.
fn merge_phones(phones: &mut Vec<String>, new: &[String]) {
    phones.extend(new.iter().cloned());
    phones.sort();
    phones.dedup();
}

#[async_trait]
impl ConversationStore for DynamoStore {
    #[instrument(skip(self, t), fields(conversation_id = %t.conversation_id), err)]
    async fn touch_conversation(&self, t: &ConversationTouch) -> Result<Conversation, StoreError> {
        // Read, then write conditionally on what was read: a concurrent writer makes the write
        // fail its condition and this loop read again. Creating, moving (activity forward, the
        // move logged for inbox walks in the same transaction) and updating in place are three
        // different writes.
        let policy = RetryPolicy::HEADER_TOUCH;
        for n in policy.attempts() {
            let header = self.read(keys::header(&t.tenant_id, &t.conversation_id), Read::Latest).await?;
            let touched = match header {
                None => self.create_conversation(t).await?,
                Some(item) => {
                    let conv = Conversation::from_item(&item)?;
                    if t.activity_ms > conv.last_activity_ms {
                        self.move_conversation(t, &item, conv).await?
                    } else {
                        Touched::Done(Box::new(self.touch_in_place(t, conv).await?))
                    }
                }
            };
            match touched {
                Touched::Done(conv) => return Ok(*conv),
                Touched::Changed => {}
                Touched::Throttled => policy.pause(n).await,
            }
        }
        Err(StoreError::Conflict("the conversation kept changing during the update; retry".into()))
    }

    #[instrument(skip(self), err)]
    async fn complete_assignment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        assignment: &Assignment,
    ) -> Result<bool, StoreError> {
        // This write's own id: when its answer is lost, the SDK sends it again and the condition
        // fails on the assignment this very call made. That is not another delivery's
        // assignment: answering false would make the worker give back the round-robin turn it
        // used, and the next conversation would take it again (tests/tests/fault_injection.rs).
        let write_id = uuid::Uuid::new_v4().simple().to_string();
        let u = self
            .assignment(tenant_id, conversation_id, assignment, "assign_state = :done, assign_write = :w, ")
            .condition_expression("assign_state = :pending")
            .expression_attribute_values(":pending", PENDING.attr())
            .expression_attribute_values(":done", DONE.attr())
            .expression_attribute_values(":w", write_id.attr());
        if self.update_if(u).await? {
            return Ok(true);
        }
        let header = self.read(keys::header(tenant_id, conversation_id), Read::Latest).await?;
        Ok(header.as_ref().and_then(|h| Row(h).s("assign_write")).as_deref() == Some(write_id.as_str()))
    }

    #[instrument(skip(self), err)]
    async fn claim(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        rule_id: &str,
        email: &str,
    ) -> Result<ClaimOutcome, StoreError> {
        let u = self
            .assignment(tenant_id, conversation_id, &Assignment::Agent(email.to_string()), "")
            .condition_expression("pool_rule_id = :rule AND attribute_not_exists(assignee)")
            .expression_attribute_values(":rule", rule_id.attr());
        if self.update_if(u).await? {
            return Ok(ClaimOutcome::Won);
        }
        Ok(match self.conversation(tenant_id, conversation_id).await? {
            Some(c) if c.assignee.is_some() => ClaimOutcome::AlreadyClaimed(c.assignee),
            _ => ClaimOutcome::NotInPool,
        })
    }

    #[instrument(skip(self), err)]
    async fn reassign(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        from: &str,
        to: &Assignment,
    ) -> Result<bool, StoreError> {
        let u = self.assignment(tenant_id, conversation_id, to, "");
        self.update_if(
            u.condition_expression("assignee = :from").expression_attribute_values(":from", from.attr()),
        )
        .await
    }

    #[instrument(skip(self, m), fields(mid = %m.id, conversation_id = %m.conversation_id), err)]
    async fn put_message(&self, tenant_id: &str, m: &Message) -> Result<bool, StoreError> {
        let mut put = self
            .put(keys::message(tenant_id, &m.conversation_id, &m.id).with(m.to_item()))
            .item("lsi1sk", keys::message_order(m.sent_ms, &m.id).attr())
            .condition_expression("attribute_not_exists(sk)");
        // A comment is also findable by its id within the shop (the sparse `gsi1` entry).
        if let Some(c) = &m.comment {
            put = put
                .item("gsi1pk", keys::comment_lookup(tenant_id, &c.comment_id).attr())
                .item("gsi1sk", m.conversation_id.attr());
        }
        conditional(put.send().await, "PutItem")
    }

    #[instrument(skip(self, m), fields(reply_id = %m.id, conversation_id = %m.conversation_id), err)]
    async fn begin_reply(&self, tenant_id: &str, m: &Message) -> Result<Option<Message>, StoreError> {
        self.begin_reply_item(tenant_id, m).await
    }

    #[instrument(skip(self, outcome), fields(status = outcome.status().as_str()), err)]
    async fn settle_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        reply_id: &str,
        outcome: &domain::reply::ReplyOutcome,
    ) -> Result<Option<Message>, StoreError> {
        self.settle_reply_item(tenant_id, conversation_id, reply_id, outcome).await
    }

    #[instrument(skip(self, name), err)]
    async fn set_customer_name(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        self.write_name(tenant_id, conversation_id, name, false).await
    }

    #[instrument(skip(self), err)]
    async fn advance_watermark(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        kind: WatermarkKind,
        watermark_ms: i64,
    ) -> Result<(), StoreError> {
        let attr = match kind {
            WatermarkKind::Read => "read_wm",
            WatermarkKind::Delivery => "delivery_wm",
        };
        let r = self
            .update(keys::header(tenant_id, conversation_id))
            .update_expression("SET #w = :w")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#w) OR #w < :w)")
            .expression_attribute_names("#w", attr)
            .expression_attribute_values(":w", watermark_ms.attr())
            .send()
            .await;
        conditional(r, "UpdateItem").map(|_| ())
    }

    #[instrument(skip(self), err)]
    async fn conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        self.record(keys::header(tenant_id, conversation_id), Read::Latest).await
    }

    #[instrument(skip(self, cursor), err)]
    async fn list_conversations(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Conversation>, StoreError> {
        self.inbox_page(tenant_id, filter, cursor, limit).await
    }

    #[instrument(skip(self, cursor), err)]
    async fn list_messages(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Message>, StoreError> {
        let pk = keys::conversation(tenant_id, conversation_id);
        let listing =
            Listing { name: "messages", index: "lsi1", pk_attr: "pk", sk_attr: "lsi1sk", pk_value: &pk };
        let (items, next_cursor) = self.query_page(&listing, cursor, limit).await?;
        Ok(Paged { items: decode_all(&items)?, next_cursor })
    }

    #[instrument(skip(self), err)]
    async fn delete_conversation(&self, tenant_id: &str, conversation_id: &str) -> Result<usize, StoreError> {
        // In `erasure`, with the rest of what deleting a Page's data does.
        self.erase_conversation(tenant_id, conversation_id).await
    }
}
