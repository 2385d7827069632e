//! The DynamoDB store: one table, keys and indexes as in docs/table-design.md. Every write that
//! must happen once is conditional; nothing here reads and then writes on the strength of what
//! it read.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, LocalSecondaryIndex, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType,
    TransactWriteItem, Update,
};
use domain::model::{
    ChatMode, Conversation, Direction, Member, Message, MessageKind, Method, OldConversations, PageRecord,
    PageRoute, PageStatus, Paged, Role, Rule,
};
use domain::ports::*;
use tracing::instrument;

use crate::{cursor, walk};

type Item = HashMap<String, AttributeValue>;

/// The DynamoDB-backed store.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

const META: &str = "#META";
const PENDING: &str = "pending";
const DONE: &str = "done";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn backend<E>(op: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::Backend { op, source: Box::new(e) }
}

fn get_s(item: &Item, k: &str) -> Option<String> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn get_n(item: &Item, k: &str) -> Option<i64> {
    match item.get(k) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn req_s(item: &Item, k: &str) -> Result<String, StoreError> {
    get_s(item, k).ok_or_else(|| StoreError::Corrupt(format!("attribute {k} missing")))
}

fn conv_pk(tenant: &str, conversation_id: &str) -> String {
    format!("T#{tenant}#C#{conversation_id}")
}

/// Sort key that orders conversations by activity, then id.
/// Whether an index entry is listed at its index place: not moved since the walk began (else
/// its pinned place counts), not listed by the first page, below the cursor.
fn unmoved_ahead(w: &walk::Walk, pinned: &HashMap<String, String>, c: &Conversation) -> bool {
    !pinned.contains_key(&c.id) && !w.listed.contains(&c.id)
}

/// The UpdateExpression that puts a header in `a`'s inbox (after `also`, more SET clauses), and
/// the values it uses: the assignee or pool, `gsi1pk`, and the other of the two removed.
fn assignment_update(tenant: &str, a: &Assignment, also: &str) -> (String, Item) {
    let (set, remove, v) = match a {
        Assignment::Agent(e) => ("assignee = :v, ", "pool_rule_id", Some(e)),
        Assignment::Pool(r) => ("pool_rule_id = :v, ", "assignee", Some(r)),
        Assignment::Unassigned => ("", "assignee, pool_rule_id", None),
    };
    let mut values = HashMap::from([(":g1".to_string(), s(inbox_pk(tenant, a)))]);
    values.extend(v.map(|v| (":v".to_string(), s(v))));
    (format!("SET {also}{set}gsi1pk = :g1 REMOVE {remove}"), values)
}

/// The inbox move log of a shop (see `walk`).
fn moves_pk(tenant: &str) -> String {
    format!("T#{tenant}#MOVES")
}

fn inbox_pk(tenant: &str, a: &Assignment) -> String {
    match a {
        Assignment::Agent(e) => format!("T#{tenant}#U#{e}"),
        Assignment::Pool(r) => format!("T#{tenant}#POOL#{r}"),
        Assignment::Unassigned => format!("T#{tenant}#UNASSIGNED"),
    }
}

fn conversation_from(item: &Item) -> Result<Conversation, StoreError> {
    Ok(Conversation {
        id: req_s(item, "conversation_id")?,
        tenant_id: req_s(item, "tenant_id")?,
        page_id: req_s(item, "page_id")?,
        customer_id: req_s(item, "customer_id")?,
        assignee: get_s(item, "assignee"),
        pool_rule_id: get_s(item, "pool_rule_id"),
        assignment_pending: get_s(item, "assign_state").as_deref() != Some(DONE),
        last_customer_message_ms: get_n(item, "last_customer_ms"),
        last_activity_ms: get_n(item, "last_activity_ms")
            .ok_or_else(|| StoreError::Corrupt("last_activity_ms missing".into()))?,
        read_watermark_ms: get_n(item, "read_wm"),
        delivery_watermark_ms: get_n(item, "delivery_wm"),
    })
}

fn message_from(item: &Item) -> Result<Message, StoreError> {
    let direction = match get_s(item, "direction").as_deref() {
        Some("out") => Direction::Out,
        Some("in") => Direction::In,
        other => return Err(StoreError::Corrupt(format!("direction {other:?}"))),
    };
    Ok(Message {
        id: req_s(item, "mid")?,
        conversation_id: req_s(item, "conversation_id")?,
        direction,
        kind: {
            let k = req_s(item, "kind")?;
            MessageKind::parse(&k)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown message kind {k:?}")))?
        },
        text: get_s(item, "text"),
        sent_ms: get_n(item, "sent_ms").ok_or_else(|| StoreError::Corrupt("sent_ms missing".into()))?,
        detail: get_s(item, "detail").and_then(|d| serde_json::from_str(&d).ok()),
    })
}

fn page_from(item: &Item) -> Result<PageRecord, StoreError> {
    Ok(PageRecord {
        page_id: req_s(item, "page_id")?,
        name: get_s(item, "name").unwrap_or_default(),
        status: get_s(item, "status")
            .as_deref()
            .and_then(PageStatus::parse)
            .ok_or_else(|| StoreError::Corrupt("page status".into()))?,
        chat_mode: get_s(item, "chat_mode").as_deref().and_then(ChatMode::parse),
        rule_id: get_s(item, "rule_id"),
        connected_by: get_s(item, "connected_by"),
        last_connected_at: get_s(item, "last_connected_at"),
        lost_reason: get_s(item, "lost_reason"),
    })
}

fn route_from(item: &Item) -> Result<PageRoute, StoreError> {
    Ok(PageRoute {
        page_id: req_s(item, "page_id")?,
        tenant_id: req_s(item, "tenant_id")?,
        status: get_s(item, "status")
            .as_deref()
            .and_then(PageStatus::parse)
            .ok_or_else(|| StoreError::Corrupt("route status".into()))?,
        chat_mode: get_s(item, "chat_mode")
            .as_deref()
            .and_then(ChatMode::parse)
            .ok_or_else(|| StoreError::Corrupt("route chat_mode".into()))?,
        rule_id: get_s(item, "rule_id"),
        connected_by: req_s(item, "connected_by")?,
    })
}

fn is_conditional_failure<E, R>(e: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

/// Whether a conditional write was applied (`false`: its condition did not hold).
fn conditional<T, E, R>(r: Result<T, SdkError<E, R>>, op: &'static str) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match r {
        Ok(_) => Ok(true),
        Err(e) if is_conditional_failure(&e) => Ok(false),
        Err(e) => Err(backend(op)(e)),
    }
}

fn transaction_condition_failed<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    transaction_cancelled_for(e, "ConditionalCheckFailed")
}

/// Whether a call failed for a reason a later attempt may not meet: throttling, a timeout, a
/// server or network fault.
fn transient<E: ProvideErrorMetadata>(e: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(se) if se.raw().status().is_server_error() => true,
        SdkError::ServiceError(se) => matches!(
            se.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionInProgressException"
            )
        ),
        _ => false,
    }
}

/// Whether a transaction was cancelled because another one was writing the same item.
fn transaction_conflicted<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    transaction_cancelled_for(e, "TransactionConflict")
}

fn transaction_cancelled_for<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
    reason: &str,
) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            c.cancellation_reasons().iter().any(|r| r.code() == Some(reason))
        }
        _ => false,
    }
}

/// The key attributes a listing's cursor carries, and the value its partition must have.
struct Listing<'a> {
    name: &'static str,
    index: &'static str,
    pk_attr: &'static str,
    sk_attr: &'static str,
    pk_value: &'a str,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with its indexes unless it exists (local stack and tests; on AWS the
    /// SAM template owns the table).
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let exists = self.client.describe_table().table_name(&self.table).send().await;
        if exists.is_ok() {
            return Ok(());
        }
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key =
            |name: &str, kt: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kt).build();
        let all = Projection::builder().projection_type(ProjectionType::All).build();
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash).map_err(backend("CreateTable"))?)
            .key_schema(key("sk", KeyType::Range).map_err(backend("CreateTable"))?);
        for a in ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "lsi1sk"] {
            req = req.attribute_definitions(attr(a).map_err(backend("CreateTable"))?);
        }
        for i in 1..=3 {
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(format!("gsi{i}"))
                    .key_schema(key(&format!("gsi{i}pk"), KeyType::Hash).map_err(backend("CreateTable"))?)
                    .key_schema(key(&format!("gsi{i}sk"), KeyType::Range).map_err(backend("CreateTable"))?)
                    .projection(all.clone())
                    .build()
                    .map_err(backend("CreateTable"))?,
            );
        }
        req = req.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("lsi1")
                .key_schema(key("pk", KeyType::Hash).map_err(backend("CreateTable"))?)
                .key_schema(key("lsi1sk", KeyType::Range).map_err(backend("CreateTable"))?)
                .projection(all)
                .build()
                .map_err(backend("CreateTable"))?,
        );
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().map(|se| se.is_resource_in_use_exception()) == Some(true) => {
                Ok(())
            }
            Err(e) => Err(backend("CreateTable")(e)),
        }
    }

    /// The route Put and the shop's Page Update of a connection; with a rule, the Page must not
    /// be in another rule.
    fn connect_items(
        &self,
        page: &PageRecord,
        route: &PageRoute,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut route_item: Item = HashMap::new();
        route_item.insert("pk".into(), s(format!("PAGE#{}", route.page_id)));
        route_item.insert("sk".into(), s("ROUTE"));
        route_item.insert("page_id".into(), s(&route.page_id));
        route_item.insert("tenant_id".into(), s(&route.tenant_id));
        route_item.insert("status".into(), s(route.status.as_str()));
        route_item.insert("chat_mode".into(), s(route.chat_mode.as_str()));
        route_item.insert("connected_by".into(), s(&route.connected_by));
        if let Some(r) = &route.rule_id {
            route_item.insert("rule_id".into(), s(r));
        }
        // Every route in one index partition: the health check's worklist without a scan.
        route_item.insert("gsi1pk".into(), s("ROUTES"));
        route_item.insert("gsi1sk".into(), s(&route.page_id));
        route_item.insert("connected_ms".into(), n(domain::timefmt::now_ms()));
        // The shop's Page item is updated, not replaced, so its stored token stays.
        let mut set = vec![
            "page_id = :id",
            "#name = :name",
            "#status = :status",
            "chat_mode = :mode",
            "connected_by = :by",
            "last_connected_at = :at",
        ];
        let mut remove = vec!["lost_reason"];
        let mut values: Item = HashMap::new();
        values.insert(":id".into(), s(&page.page_id));
        values.insert(":name".into(), s(&page.name));
        values.insert(":status".into(), s(page.status.as_str()));
        values.insert(":mode".into(), s(page.chat_mode.unwrap_or(route.chat_mode).as_str()));
        values
            .insert(":by".into(), s(page.connected_by.clone().unwrap_or_else(|| route.connected_by.clone())));
        values.insert(":at".into(), s(page.last_connected_at.clone().unwrap_or_default()));
        match &page.rule_id {
            Some(r) => {
                set.push("rule_id = :rule");
                values.insert(":rule".into(), s(r));
            }
            None => remove.push("rule_id"),
        }
        let mut page_update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("T#{}", route.tenant_id)))
            .key("sk", s(format!("PAGE#{}", page.page_id)))
            .update_expression(format!("SET {} REMOVE {}", set.join(", "), remove.join(", ")))
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values));
        if page.rule_id.is_some() {
            page_update =
                page_update.condition_expression("attribute_not_exists(rule_id) OR rule_id = :rule");
        }
        let page_update = page_update.build().map_err(backend("TransactWriteItems"))?;
        let route_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(route_item))
            .condition_expression("attribute_not_exists(pk) OR tenant_id = :t")
            .expression_attribute_values(":t", s(&route.tenant_id))
            .build()
            .map_err(backend("TransactWriteItems"))?;
        Ok(vec![
            TransactWriteItem::builder().put(route_put).build(),
            TransactWriteItem::builder().update(page_update).build(),
        ])
    }

    /// A new rule: its name claimed by its own item, then the rule, both only if absent.
    fn rule_items(&self, tenant_id: &str, rule: &Rule) -> Result<Vec<TransactWriteItem>, StoreError> {
        let list = |v: &[String]| AttributeValue::L(v.iter().map(s).collect());
        // The name is claimed by its own item, so two rules can never share it.
        let name_put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(format!("T#{tenant_id}")))
            .item("sk", s(format!("RULENAME#{}", rule.name.to_lowercase())))
            .item("rule_id", s(&rule.id))
            .condition_expression("attribute_not_exists(sk)")
            .build()
            .map_err(backend("TransactWriteItems"))?;
        let rule_put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(format!("T#{tenant_id}")))
            .item("sk", s(format!("RULE#{}", rule.id)))
            .item("rule_id", s(&rule.id))
            .item("name", s(&rule.name))
            .item("page_ids", list(&rule.page_ids))
            .item("agent_emails", list(&rule.agent_emails))
            .item("method", s(rule.method.as_str()))
            .item("old_conversations", s(rule.old_conversations.as_str()))
            .item("rr_turn", n(0))
            .item("policy_chosen_by", s(rule.policy_chosen_by.clone().unwrap_or_default()))
            .item("policy_chosen_at", s(rule.policy_chosen_at.clone().unwrap_or_default()))
            .condition_expression("attribute_not_exists(sk)")
            .build()
            .map_err(backend("TransactWriteItems"))?;
        Ok(vec![
            TransactWriteItem::builder().put(name_put).build(),
            TransactWriteItem::builder().put(rule_put).build(),
        ])
    }

    /// An UpdateItem of a conversation header, keys set.
    fn header_update(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conv_pk(tenant_id, conversation_id)))
            .key("sk", s(META))
    }

    async fn conversation_item(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<Item>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(conv_pk(tenant_id, conversation_id)))
            .key("sk", s(META))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend("GetItem"))?;
        Ok(r.item)
    }

    /// Creates a conversation, pending assignment; None when another writer created it first.
    async fn create_conversation(&self, t: &ConversationTouch) -> Result<Option<Conversation>, StoreError> {
        let sk_val = walk::place(t.activity_ms, &t.conversation_id);
        let mut expr = String::from(
            "SET conversation_id = :id, tenant_id = :t, page_id = :p, customer_id = :c, \
             last_activity_ms = :a, gsi1sk = :s, gsi2pk = :g2, gsi2sk = :s, gsi3pk = :g3, gsi3sk = :s, \
             created_ms = :now, assign_state = :pending, gsi1pk = :g1",
        );
        let mut req = self
            .header_update(&t.tenant_id, &t.conversation_id)
            .expression_attribute_values(":id", s(&t.conversation_id))
            .expression_attribute_values(":t", s(&t.tenant_id))
            .expression_attribute_values(":p", s(&t.page_id))
            .expression_attribute_values(":c", s(&t.customer_id))
            .expression_attribute_values(":a", n(t.activity_ms))
            .expression_attribute_values(":s", s(sk_val))
            .expression_attribute_values(":g1", s(inbox_pk(&t.tenant_id, &Assignment::Unassigned)))
            .expression_attribute_values(":g2", s(format!("T#{}", t.tenant_id)))
            .expression_attribute_values(":g3", s(format!("T#{}#P#{}", t.tenant_id, t.page_id)))
            .expression_attribute_values(":now", n(domain::timefmt::now_ms()))
            .expression_attribute_values(":pending", s(PENDING))
            .condition_expression("attribute_not_exists(pk)")
            .return_values(ReturnValue::AllNew);
        if let Some(cm) = t.customer_ms {
            expr.push_str(", last_customer_ms = :cm");
            req = req.expression_attribute_values(":cm", n(cm));
        }
        match req.update_expression(expr).send().await {
            Ok(out) => Ok(Some(conversation_from(&out.attributes.unwrap_or_default())?)),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(backend("UpdateItem")(e)),
        }
    }

    /// Moves activity forward (the conversation moves up the inbox), logging the place it
    /// leaves in the same transaction; None when the conversation changed since it was read.
    async fn move_conversation(
        &self,
        t: &ConversationTouch,
        item: &Item,
        mut conv: Conversation,
    ) -> Result<Option<Conversation>, StoreError> {
        let before = walk::place(conv.last_activity_ms, &conv.id);
        let now = domain::timefmt::now_ms();
        // Labels of one conversation's moves strictly increase, whatever the writers' clocks.
        let label = now.max(get_n(item, "moved_label").unwrap_or(0) + 1);
        let place = walk::place(t.activity_ms, &t.conversation_id);
        let mut expr = String::from(
            "SET last_activity_ms = :a, gsi1sk = :s, gsi2sk = :s, gsi3sk = :s, moved_label = :l",
        );
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(conv_pk(&t.tenant_id, &t.conversation_id)))
            .key("sk", s(META))
            .condition_expression("last_activity_ms = :old")
            .expression_attribute_values(":old", n(conv.last_activity_ms))
            .expression_attribute_values(":a", n(t.activity_ms))
            .expression_attribute_values(":s", s(place))
            .expression_attribute_values(":l", n(label));
        if let Some(cm) = t.customer_ms {
            // The customer's time never exceeds the activity time, so when activity moves
            // forward to this event, so may the customer's.
            expr.push_str(", last_customer_ms = :cm");
            update = update.expression_attribute_values(":cm", n(cm));
        }
        let update = update.update_expression(expr).build().map_err(backend("TransactWriteItems"))?;
        let log = Put::builder()
            .table_name(&self.table)
            .item("pk", s(moves_pk(&t.tenant_id)))
            .item("sk", s(format!("{label:015}#{}", t.conversation_id)))
            .item("conversation_id", s(&t.conversation_id))
            .item("before", s(before))
            .item("ttl", n((now + walk::MOVE_LOG_TTL_MS) / 1000))
            .build()
            .map_err(backend("TransactWriteItems"))?;
        let r = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(log).build())
            // Inbox walks rely on a move committing within `walk::SETTLE_MS` of its label, taken
            // just now: the whole call, the SDK's retries included, is cut off well before. A
            // cut-off call is retried by the caller's loop, which reads again and takes a fresh
            // label.
            .customize()
            .config_override(
                aws_sdk_dynamodb::config::Builder::default().timeout_config(
                    aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
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
                Ok(Some(conv))
            }
            // Changed since it was read, or another transaction on it in flight: read again.
            Err(e) if transaction_condition_failed(&e) || transaction_conflicted(&e) => Ok(None),
            // Throttled, timed out, or a server or network fault: pause, then read again (a
            // timed-out attempt that did commit shows as moved on that read).
            Err(e) if transient(&e) || transaction_cancelled_for(&e, "ThrottlingError") => {
                tokio::time::sleep(std::time::Duration::from_millis(
                    20 + u64::from(uuid::Uuid::new_v4().as_bytes()[0]),
                ))
                .await;
                Ok(None)
            }
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }

    /// An event no newer than the conversation's latest: activity stays; the customer's time
    /// may still move forward.
    async fn touch_in_place(
        &self,
        t: &ConversationTouch,
        mut conv: Conversation,
    ) -> Result<Conversation, StoreError> {
        let Some(cm) = t.customer_ms else { return Ok(conv) };
        if conv.last_customer_message_ms.is_some_and(|old| old >= cm) {
            return Ok(conv);
        }
        let r = self
            .header_update(&t.tenant_id, &t.conversation_id)
            .update_expression("SET last_customer_ms = :cm")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(last_customer_ms) OR last_customer_ms < :cm)",
            )
            .expression_attribute_values(":cm", n(cm))
            .send()
            .await;
        if conditional(r, "UpdateItem")? {
            conv.last_customer_message_ms = Some(cm);
        }
        Ok(conv)
    }

    /// A walk's first page: the top of the index as it stands. The walk itself starts
    /// slightly earlier (`SETTLE_MS`, so that moves committing just after this read are in the
    /// log); the conversations listed here that moved since then are named in the cursor so the
    /// rest of the walk skips them.
    async fn first_inbox_page(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        mut w: walk::Walk,
        view: &str,
        limit: usize,
    ) -> Result<Paged<Conversation>, StoreError> {
        let (mut entries, read_to) = self.inbox_entries(tenant_id, filter, &w, limit).await?;
        let more = read_to.is_some() || entries.len() > limit;
        entries.truncate(limit);
        let pinned = self.pinned_since(tenant_id, w.t0).await?;
        w.listed =
            entries.iter().filter(|(_, c)| pinned.contains_key(&c.id)).map(|(_, c)| c.id.clone()).collect();
        let next = if more { entries.last().map(|(p, _)| w.cursor_after(view, p)) } else { None };
        Ok(Paged { items: entries.into_iter().map(|(_, c)| c).collect(), next_cursor: next })
    }

    /// Index entries below the walk's cursor, newest first: Query pages until more than
    /// `limit` (a full page, whatever the log then says moved) or the end. Returns them and, when
    /// the index goes further down, the place of the last one read.
    async fn inbox_entries(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        w: &walk::Walk,
        limit: usize,
    ) -> Result<(Vec<(String, Conversation)>, Option<String>), StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        for _ in 0..20 {
            let (page, lek) = self.inbox_index_page(tenant_id, filter, w, start.take(), limit + 1).await?;
            entries.extend(page);
            match lek {
                Some((k, _)) if entries.len() <= limit => start = Some(k),
                Some((_, place)) => return Ok((entries, Some(place))),
                None => return Ok((entries, None)),
            }
        }
        let read_to = entries.last().map(|(p, _)| p.clone());
        Ok((entries, read_to))
    }

    /// One Query page of the index behind an inbox view, newest first, below the walk's
    /// cursor: (place, conversation) entries and the LastEvaluatedKey with its place.
    async fn inbox_index_page(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        w: &walk::Walk,
        start: Option<Item>,
        limit: usize,
    ) -> Result<(Vec<(String, Conversation)>, Option<(Item, String)>), StoreError> {
        let (index, pk_attr, sk_attr, pk_value, page_filter) = match filter {
            ConversationFilter::All { page_id: None } => {
                ("gsi2", "gsi2pk", "gsi2sk", format!("T#{tenant_id}"), None)
            }
            ConversationFilter::All { page_id: Some(p) } => {
                ("gsi3", "gsi3pk", "gsi3sk", format!("T#{tenant_id}#P#{p}"), None)
            }
            ConversationFilter::Pool { rule_id } => {
                ("gsi1", "gsi1pk", "gsi1sk", inbox_pk(tenant_id, &Assignment::Pool(rule_id.clone())), None)
            }
            ConversationFilter::AssignedTo { email, page_id } => (
                "gsi1",
                "gsi1pk",
                "gsi1sk",
                inbox_pk(tenant_id, &Assignment::Agent(email.clone())),
                page_id.as_ref(),
            ),
        };
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(pk_value))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(start);
        q = match &w.after {
            Some(after) => q
                .key_condition_expression("#pk = :pk AND #sk < :after")
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":after", s(after)),
            None => q.key_condition_expression("#pk = :pk"),
        };
        if let Some(p) = page_filter {
            q = q.filter_expression("page_id = :page").expression_attribute_values(":page", s(p));
        }
        let out = q.send().await.map_err(backend("Query"))?;
        let entries = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| Ok((req_s(item, sk_attr)?, conversation_from(item)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let lek = out.last_evaluated_key.and_then(|k| get_s(&k, sk_attr).map(|place| (k, place)));
        Ok((entries, lek))
    }

    /// The shop's move log since `t0` (strongly consistent): each moved conversation's place
    /// before its first move after `t0`.
    async fn pinned_since(&self, tenant_id: &str, t0: i64) -> Result<HashMap<String, String>, StoreError> {
        let mut log: Vec<(String, String)> = Vec::new();
        let mut start = None;
        loop {
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk > :t0")
                .expression_attribute_values(":pk", s(moves_pk(tenant_id)))
                .expression_attribute_values(":t0", s(format!("{:015}#", t0.max(0))))
                .projection_expression("conversation_id, #b")
                .expression_attribute_names("#b", "before")
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend("Query"))?;
            for item in r.items.unwrap_or_default() {
                log.push((req_s(&item, "conversation_id")?, req_s(&item, "before")?));
            }
            if log.len() > walk::MAX_MOVES {
                return Err(StoreError::CursorExpired);
            }
            match r.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(walk::pinned_places(log.iter().map(|(id, b)| (id.as_str(), b.as_str()))))
    }

    /// Conversation headers by id (BatchGetItem, strongly consistent); absent ones are left out.
    async fn conversations_by_id(
        &self,
        tenant_id: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, Conversation>, StoreError> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| {
                    HashMap::from([
                        ("pk".to_string(), s(conv_pk(tenant_id, id))),
                        ("sk".to_string(), s(META)),
                    ])
                })
                .collect();
            let mut request = Some(
                aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(backend("BatchGetItem"))?,
            );
            // Unprocessed keys (throttling) are asked for again, a few times, with a pause.
            for attempt in 0..6u64 {
                let Some(req) = request.take() else { break };
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
                }
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await
                    .map_err(backend("BatchGetItem"))?;
                for item in out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                    let c = conversation_from(&item)?;
                    found.insert(c.id.clone(), c);
                }
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
            }
            if request.is_some() {
                return Err(StoreError::Backend {
                    op: "BatchGetItem",
                    source: "keys left unprocessed after retries".into(),
                });
            }
        }
        Ok(found)
    }

    /// One page of a Query, newest first, with a cursor built from the last returned item.
    async fn query_page(
        &self,
        listing: &Listing<'_>,
        filter: Option<(&str, Item)>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let key_attrs: Vec<&str> = if listing.index == "lsi1" {
            vec!["pk", "sk", "lsi1sk"]
        } else {
            vec!["pk", "sk", listing.pk_attr, listing.sk_attr]
        };
        let mut start: Option<Item> = match cursor {
            None => None,
            Some(c) => {
                let k = cursor::decode(listing.name, c)?;
                if k.len() != key_attrs.len()
                    || key_attrs.iter().any(|a| !k.contains_key(*a))
                    || k.get(listing.pk_attr).map(String::as_str) != Some(listing.pk_value)
                {
                    return Err(StoreError::InvalidCursor);
                }
                Some(k.into_iter().map(|(k, v)| (k, s(v))).collect())
            }
        };
        let limit = limit.clamp(1, 100);
        let mut items: Vec<Item> = Vec::new();
        let mut more = false;
        for _ in 0..20 {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(listing.index)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", listing.pk_attr)
                .expression_attribute_values(":pk", s(listing.pk_value))
                .scan_index_forward(false)
                .limit((limit - items.len()) as i32)
                .set_exclusive_start_key(start.take());
            if let Some((expr, values)) = &filter {
                q = q.filter_expression(*expr);
                for (k, v) in values {
                    q = q.expression_attribute_values(k, v.clone());
                }
            }
            let out = q.send().await.map_err(|e| {
                if e.as_service_error().and_then(|se| se.message()).is_some_and(|m| m.contains("start")) {
                    StoreError::InvalidCursor
                } else {
                    backend("Query")(e)
                }
            })?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(lek) if items.len() < limit => start = Some(lek),
                Some(_) => {
                    more = true;
                    break;
                }
                None => break,
            }
        }
        let next = if more {
            items.last().map(|last| {
                let k: BTreeMap<String, String> =
                    key_attrs.iter().filter_map(|a| get_s(last, a).map(|v| (a.to_string(), v))).collect();
                cursor::encode(listing.name, &k)
            })
        } else {
            None
        };
        Ok((items, next))
    }

    async fn query_all_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":p", s(prefix))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend("Query"))?;
            out.extend(r.items.unwrap_or_default());
            match r.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }
}

#[async_trait]
impl PageStore for DynamoStore {
    #[instrument(skip(self), err)]
    async fn page_route(&self, page_id: &str) -> Result<Option<PageRoute>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("PAGE#{page_id}")))
            .key("sk", s("ROUTE"))
            .send()
            .await
            .map_err(backend("GetItem"))?;
        r.item.as_ref().map(route_from).transpose()
    }

    #[instrument(skip(self, page, route), fields(page_id = %page.page_id, tenant_id = %route.tenant_id), err)]
    async fn connect_page(&self, page: &PageRecord, route: &PageRoute) -> Result<(), StoreError> {
        let items = self.connect_items(page, route)?;
        let r = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match r {
            Ok(_) => Ok(()),
            Err(e) => {
                let cancelled_on_condition = transaction_condition_failed(&e);
                if cancelled_on_condition {
                    Err(StoreError::Conflict(format!("page {} is connected to another shop", page.page_id)))
                } else {
                    Err(backend("TransactWriteItems")(e))
                }
            }
        }
    }

    #[instrument(skip(self), err)]
    async fn list_pages(&self, tenant_id: &str) -> Result<Vec<PageRecord>, StoreError> {
        self.query_all_prefix(&format!("T#{tenant_id}"), "PAGE#").await?.iter().map(page_from).collect()
    }

    #[instrument(skip(self, page), fields(page_id = %page.page_id), err)]
    async fn import_page(&self, tenant_id: &str, page: &ImportedPage) -> Result<PageRecord, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("PAGE#{}", page.page_id)))
            .update_expression(
                "SET page_id = :id, #name = :name, token_enc = :tok, imported_by = :by, imported_at = :at, \
                 #status = if_not_exists(#status, :nc)",
            )
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":id", s(&page.page_id))
            .expression_attribute_values(":name", s(&page.name))
            .expression_attribute_values(":tok", s(&page.token_enc))
            .expression_attribute_values(":by", s(&page.imported_by))
            .expression_attribute_values(":at", s(domain::timefmt::rfc3339_ms(domain::timefmt::now_ms())))
            .expression_attribute_values(":nc", s(PageStatus::NotConnected.as_str()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(backend("UpdateItem"))?;
        page_from(&out.attributes.unwrap_or_default())
    }

    #[instrument(skip(self), err)]
    async fn page(
        &self,
        tenant_id: &str,
        page_id: &str,
    ) -> Result<Option<(PageRecord, Option<String>)>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("PAGE#{page_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend("GetItem"))?;
        match r.item {
            None => Ok(None),
            Some(item) => Ok(Some((page_from(&item)?, get_s(&item, "token_enc")))),
        }
    }

    #[instrument(skip(self), err)]
    async fn disconnect_page(&self, tenant_id: &str, page_id: &str) -> Result<(), StoreError> {
        let page_update = || {
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(format!("T#{tenant_id}")))
                .key("sk", s(format!("PAGE#{page_id}")))
                .update_expression("SET #status = :nc REMOVE lost_reason")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":nc", s(PageStatus::NotConnected.as_str()))
                .build()
                .map_err(backend("TransactWriteItems"))
        };
        let route_delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(format!("PAGE#{page_id}")))
            .key("sk", s("ROUTE"))
            .condition_expression("tenant_id = :t")
            .expression_attribute_values(":t", s(tenant_id))
            .build()
            .map_err(backend("TransactWriteItems"))?;
        let r = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(route_delete).build())
            .transact_items(TransactWriteItem::builder().update(page_update()?).build())
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if transaction_condition_failed(&e) => {
                // The route is not this shop's (or is gone): only the shop's own item changes.
                let u = page_update()?;
                let r = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(u.key().clone()))
                    .update_expression("SET #status = :nc REMOVE lost_reason")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":nc", s(PageStatus::NotConnected.as_str()))
                    .send()
                    .await;
                conditional(r, "UpdateItem").map(|_| ())
            }
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }

    #[instrument(skip(self), err)]
    async fn list_routes(&self) -> Result<Vec<RouteHealth>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", s("ROUTES"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend("Query"))?;
            for item in r.items.unwrap_or_default() {
                out.push(RouteHealth {
                    route: route_from(&item)?,
                    last_event_ms: get_n(&item, "last_event_ms"),
                    connected_ms: get_n(&item, "connected_ms"),
                });
            }
            match r.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }

    #[instrument(skip(self), err)]
    async fn touch_delivery(&self, page_id: &str, now_ms: i64) -> Result<(), StoreError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("PAGE#{page_id}")))
            .key("sk", s("ROUTE"))
            .update_expression("SET last_event_ms = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(last_event_ms) OR last_event_ms < :cutoff)",
            )
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":cutoff", n(now_ms - DELIVERY_TOUCH_INTERVAL_MS))
            .send()
            .await;
        conditional(r, "UpdateItem").map(|_| ())
    }

    #[instrument(skip(self, reason), err)]
    async fn mark_lost(&self, tenant_id: &str, page_id: &str, reason: &str) -> Result<(), StoreError> {
        // Two conditional updates, each idempotent: the shop's view first, then the route.
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("PAGE#{page_id}")))
            .update_expression("SET #status = :lost, lost_reason = :why")
            .condition_expression("#status IN (:connected, :lost)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":lost", s(PageStatus::LostConnection.as_str()))
            .expression_attribute_values(":connected", s(PageStatus::Connected.as_str()))
            .expression_attribute_values(":why", s(reason))
            .send()
            .await;
        match r {
            Ok(_) => {}
            Err(e) if is_conditional_failure(&e) => return Ok(()),
            Err(e) => return Err(backend("UpdateItem")(e)),
        }
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("PAGE#{page_id}")))
            .key("sk", s("ROUTE"))
            .update_expression("SET #status = :lost")
            .condition_expression("tenant_id = :t")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":lost", s(PageStatus::LostConnection.as_str()))
            .expression_attribute_values(":t", s(tenant_id))
            .send()
            .await;
        conditional(r, "UpdateItem").map(|_| ())
    }
}

#[async_trait]
impl MemberStore for DynamoStore {
    #[instrument(skip(self), err)]
    async fn member(&self, tenant_id: &str, email: &str) -> Result<Option<Member>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("MEMBER#{email}")))
            .send()
            .await
            .map_err(backend("GetItem"))?;
        r.item.as_ref().map(member_from).transpose()
    }

    #[instrument(skip(self, member), fields(email = %member.email), err)]
    async fn add_member(&self, tenant_id: &str, member: &Member) -> Result<bool, StoreError> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("T#{tenant_id}")))
            .item("sk", s(format!("MEMBER#{}", member.email)))
            .item("email", s(&member.email))
            .item("role", s(member.role.as_str()))
            .item("added_at", s(domain::timefmt::rfc3339_ms(domain::timefmt::now_ms())))
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await;
        conditional(r, "PutItem")
    }

    #[instrument(skip(self), err)]
    async fn human_agent_enabled(&self, tenant_id: &str) -> Result<bool, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s("SETTINGS"))
            .send()
            .await
            .map_err(backend("GetItem"))?;
        Ok(matches!(r.item.as_ref().and_then(|i| i.get("human_agent_tag")), Some(AttributeValue::Bool(true))))
    }

    #[instrument(skip(self), err)]
    async fn set_human_agent_enabled(&self, tenant_id: &str, enabled: bool) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s("SETTINGS"))
            .update_expression("SET human_agent_tag = :v")
            .expression_attribute_values(":v", AttributeValue::Bool(enabled))
            .send()
            .await
            .map_err(backend("UpdateItem"))?;
        Ok(())
    }

    #[instrument(skip(self), err)]
    async fn remove_member(&self, tenant_id: &str, email: &str) -> Result<bool, StoreError> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("MEMBER#{email}")))
            .condition_expression("attribute_exists(sk)")
            .send()
            .await;
        conditional(r, "DeleteItem")
    }

    #[instrument(skip(self), err)]
    async fn list_members(&self, tenant_id: &str) -> Result<Vec<Member>, StoreError> {
        self.query_all_prefix(&format!("T#{tenant_id}"), "MEMBER#").await?.iter().map(member_from).collect()
    }
}

fn member_from(item: &Item) -> Result<Member, StoreError> {
    Ok(Member {
        email: req_s(item, "email")?,
        role: get_s(item, "role")
            .as_deref()
            .and_then(Role::parse)
            .ok_or_else(|| StoreError::Corrupt("member role".into()))?,
    })
}

#[async_trait]
impl ConversationStore for DynamoStore {
    #[instrument(skip(self, t), fields(conversation_id = %t.conversation_id), err)]
    async fn touch_conversation(&self, t: &ConversationTouch) -> Result<Conversation, StoreError> {
        // Read, then write conditionally on what was read: a concurrent writer makes the write
        // fail its condition and this loop read again. Creating, moving (activity forward, the
        // move logged for inbox walks in the same transaction) and updating in place are three
        // different writes.
        for _ in 0..8 {
            let done = match self.conversation_item(&t.tenant_id, &t.conversation_id).await? {
                None => self.create_conversation(t).await?,
                Some(item) => {
                    let conv = conversation_from(&item)?;
                    if t.activity_ms > conv.last_activity_ms {
                        self.move_conversation(t, &item, conv).await?
                    } else {
                        Some(self.touch_in_place(t, conv).await?)
                    }
                }
            };
            if let Some(conv) = done {
                return Ok(conv);
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
        let (expr, values) = assignment_update(tenant_id, assignment, "assign_state = :done, ");
        let req = self
            .header_update(tenant_id, conversation_id)
            .update_expression(expr)
            .set_expression_attribute_values(Some(values))
            .condition_expression("assign_state = :pending")
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":done", s(DONE));
        conditional(req.send().await, "UpdateItem")
    }

    #[instrument(skip(self), err)]
    async fn claim(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        rule_id: &str,
        email: &str,
    ) -> Result<ClaimOutcome, StoreError> {
        let (expr, values) = assignment_update(tenant_id, &Assignment::Agent(email.to_string()), "");
        let r = self
            .header_update(tenant_id, conversation_id)
            .update_expression(expr)
            .set_expression_attribute_values(Some(values))
            .condition_expression("pool_rule_id = :rule AND attribute_not_exists(assignee)")
            .expression_attribute_values(":rule", s(rule_id))
            .send()
            .await;
        if conditional(r, "UpdateItem")? {
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
        let (expr, values) = assignment_update(tenant_id, to, "");
        let req = self
            .header_update(tenant_id, conversation_id)
            .update_expression(expr)
            .set_expression_attribute_values(Some(values))
            .condition_expression("assignee = :from")
            .expression_attribute_values(":from", s(from));
        conditional(req.send().await, "UpdateItem")
    }

    #[instrument(skip(self, m), fields(mid = %m.id, conversation_id = %m.conversation_id), err)]
    async fn put_message(&self, tenant_id: &str, m: &Message) -> Result<bool, StoreError> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(conv_pk(tenant_id, &m.conversation_id)))
            .item("sk", s(format!("M#{}", m.id)))
            .item("lsi1sk", s(format!("{:015}#{}", m.sent_ms.max(0), m.id)))
            .item("mid", s(&m.id))
            .item("conversation_id", s(&m.conversation_id))
            .item("direction", s(m.direction.as_str()))
            .item("kind", s(m.kind.as_str()))
            .item("sent_ms", n(m.sent_ms))
            .condition_expression("attribute_not_exists(sk)");
        if let Some(t) = &m.text {
            req = req.item("text", s(t));
        }
        if let Some(d) = &m.detail {
            req = req.item("detail", s(d.to_string()));
        }
        conditional(req.send().await, "PutItem")
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
            .header_update(tenant_id, conversation_id)
            .update_expression("SET #w = :w")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#w) OR #w < :w)")
            .expression_attribute_names("#w", attr)
            .expression_attribute_values(":w", n(watermark_ms))
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
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(conv_pk(tenant_id, conversation_id)))
            .key("sk", s(META))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend("GetItem"))?;
        r.item.as_ref().map(conversation_from).transpose()
    }

    #[instrument(skip(self, cursor), err)]
    async fn list_conversations(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Conversation>, StoreError> {
        let limit = limit.clamp(1, 100);
        let view = walk::view_key(tenant_id, filter);
        let now = domain::timefmt::now_ms();
        let w = walk::Walk::resume(&view, cursor, now, || now - walk::SETTLE_MS)?;
        if w.after.is_none() {
            return self.first_inbox_page(tenant_id, filter, w, &view, limit).await;
        }
        // The index is read before the log: an index entry that already shows a move was
        // written with its log entry, which the later (strongly consistent) log read sees.
        let (entries, read_to) = self.inbox_entries(tenant_id, filter, &w, limit).await?;
        let pinned = self.pinned_since(tenant_id, w.log_from(now)).await?;
        let unmoved: Vec<_> = entries.into_iter().filter(|(_, c)| unmoved_ahead(&w, &pinned, c)).collect();
        let floor = walk::page_floor(&unmoved, read_to.as_deref(), limit);
        let wanted: Vec<(&String, &String)> = pinned
            .iter()
            .filter(|(id, p)| w.ahead(id, p) && floor.as_deref().is_none_or(|f| p.as_str() > f))
            .collect();
        let ids: Vec<&str> = wanted.iter().map(|(id, _)| id.as_str()).collect();
        let current = self.conversations_by_id(tenant_id, &ids).await?;
        let moved = wanted
            .into_iter()
            .filter_map(|(id, p)| current.get(id).map(|c| (p.clone(), c.clone())))
            .filter(|(_, c)| filter.admits(c))
            .collect();
        let (items, next) = walk::assemble(unmoved, read_to, moved, limit);
        Ok(Paged { items, next_cursor: next.map(|p| w.cursor_after(&view, &p)) })
    }

    #[instrument(skip(self, cursor), err)]
    async fn list_messages(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Message>, StoreError> {
        let pk = conv_pk(tenant_id, conversation_id);
        let listing =
            Listing { name: "messages", index: "lsi1", pk_attr: "pk", sk_attr: "lsi1sk", pk_value: &pk };
        let (items, next_cursor) = self.query_page(&listing, None, cursor, limit).await?;
        let items = items.iter().map(message_from).collect::<Result<_, _>>()?;
        Ok(Paged { items, next_cursor })
    }
}

#[async_trait]
impl NonceStore for DynamoStore {
    #[instrument(skip(self, nonce), err)]
    async fn consume_once(&self, nonce: &str, expires_ms: i64) -> Result<bool, StoreError> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("NONCE#{nonce}")))
            .item("sk", s("NONCE"))
            // DynamoDB's TTL deletes it some time after expiry; until then a replay is refused.
            .item("ttl", n(expires_ms / 1000 + 1))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional(r, "PutItem")
    }
}

fn strings(item: &Item, k: &str) -> Vec<String> {
    match item.get(k) {
        Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    }
}

fn rule_from(item: &Item) -> Result<Rule, StoreError> {
    Ok(Rule {
        id: req_s(item, "rule_id")?,
        name: req_s(item, "name")?,
        page_ids: strings(item, "page_ids"),
        agent_emails: strings(item, "agent_emails"),
        method: get_s(item, "method")
            .as_deref()
            .and_then(Method::parse)
            .ok_or_else(|| StoreError::Corrupt("rule method".into()))?,
        old_conversations: get_s(item, "old_conversations")
            .as_deref()
            .and_then(OldConversations::parse)
            .ok_or_else(|| StoreError::Corrupt("rule old_conversations".into()))?,
        policy_chosen_by: get_s(item, "policy_chosen_by").filter(|v| !v.is_empty()),
        policy_chosen_at: get_s(item, "policy_chosen_at").filter(|v| !v.is_empty()),
    })
}

#[async_trait]
impl RuleStore for DynamoStore {
    #[instrument(skip(self, rule), fields(rule_id = %rule.id), err)]
    async fn create_rule(
        &self,
        tenant_id: &str,
        rule: &Rule,
        connected: &[String],
    ) -> Result<(), StoreError> {
        let mut items = self.rule_items(tenant_id, rule)?;
        for p in &rule.page_ids {
            let shared = connected.contains(p);
            let mut u = Update::builder()
                .table_name(&self.table)
                .key("pk", s(format!("T#{tenant_id}")))
                .key("sk", s(format!("PAGE#{p}")))
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(rule_id)")
                .expression_attribute_values(":r", s(&rule.id));
            u = if shared {
                u.update_expression("SET rule_id = :r, chat_mode = :shared")
                    .expression_attribute_values(":shared", s(ChatMode::Shared.as_str()))
            } else {
                u.update_expression("SET rule_id = :r")
            };
            items.push(
                TransactWriteItem::builder()
                    .update(u.build().map_err(backend("TransactWriteItems"))?)
                    .build(),
            );
            if shared {
                let route = Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(format!("PAGE#{p}")))
                    .key("sk", s("ROUTE"))
                    .update_expression("SET chat_mode = :shared, rule_id = :r")
                    .condition_expression("tenant_id = :t")
                    .expression_attribute_values(":shared", s(ChatMode::Shared.as_str()))
                    .expression_attribute_values(":r", s(&rule.id))
                    .expression_attribute_values(":t", s(tenant_id))
                    .build()
                    .map_err(backend("TransactWriteItems"))?;
                items.push(TransactWriteItem::builder().update(route).build());
            }
        }
        let r = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if transaction_condition_failed(&e) => Err(StoreError::Conflict(format!(
                "the rule {:?} could not be created: its name is taken, a Page is in another rule, or a connection changed",
                rule.name
            ))),
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }

    #[instrument(skip(self), err)]
    async fn rule(&self, tenant_id: &str, rule_id: &str) -> Result<Option<Rule>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("RULE#{rule_id}")))
            .send()
            .await
            .map_err(backend("GetItem"))?;
        r.item.as_ref().map(rule_from).transpose()
    }

    #[instrument(skip(self), err)]
    async fn list_rules(&self, tenant_id: &str) -> Result<Vec<Rule>, StoreError> {
        self.query_all_prefix(&format!("T#{tenant_id}"), "RULE#").await?.iter().map(rule_from).collect()
    }

    #[instrument(skip(self, page, route, link), fields(page_id = %page.page_id), err)]
    async fn connect_shared(
        &self,
        page: &PageRecord,
        route: &PageRoute,
        link: &RuleLink,
    ) -> Result<(), StoreError> {
        let tenant = &route.tenant_id;
        let mut items = self.connect_items(page, route)?;
        match link {
            RuleLink::Existing { rule_id, add_page: true } => {
                let u = Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(format!("T#{tenant}")))
                    .key("sk", s(format!("RULE#{rule_id}")))
                    .update_expression("SET page_ids = list_append(page_ids, :p)")
                    .condition_expression("attribute_exists(sk) AND NOT contains(page_ids, :pid)")
                    .expression_attribute_values(":p", AttributeValue::L(vec![s(&page.page_id)]))
                    .expression_attribute_values(":pid", s(&page.page_id))
                    .build()
                    .map_err(backend("TransactWriteItems"))?;
                items.push(TransactWriteItem::builder().update(u).build());
            }
            RuleLink::Existing { rule_id, add_page: false } => {
                let c = aws_sdk_dynamodb::types::ConditionCheck::builder()
                    .table_name(&self.table)
                    .key("pk", s(format!("T#{tenant}")))
                    .key("sk", s(format!("RULE#{rule_id}")))
                    .condition_expression("contains(page_ids, :pid)")
                    .expression_attribute_values(":pid", s(&page.page_id))
                    .build()
                    .map_err(backend("TransactWriteItems"))?;
                items.push(TransactWriteItem::builder().condition_check(c).build());
            }
            RuleLink::New(rule) => items.extend(self.rule_items(tenant, rule)?),
        }
        let r = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if transaction_condition_failed(&e) => Err(StoreError::Conflict(format!(
                "page {} could not join the rule: another shop holds it, it is in another rule, or the rule changed",
                page.page_id
            ))),
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }

    #[instrument(skip(self, old, new, connected), fields(rule_id = %old.id), err)]
    async fn update_rule(
        &self,
        tenant_id: &str,
        old: &Rule,
        new: &Rule,
        connected: &[String],
    ) -> Result<(), StoreError> {
        let list = |v: &[String]| AttributeValue::L(v.iter().map(s).collect());
        let tx = |r: Result<Update, aws_sdk_dynamodb::error::BuildError>| {
            r.map(|u| TransactWriteItem::builder().update(u).build()).map_err(backend("TransactWriteItems"))
        };
        let mut items = Vec::new();
        // The rule itself, only if nobody changed it since it was read.
        items.push(tx(Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("RULE#{}", old.id)))
            .update_expression(
                "SET #name = :name, page_ids = :pages, agent_emails = :agents, #method = :method, \
                 old_conversations = :old, policy_chosen_by = :by, policy_chosen_at = :at",
            )
            .condition_expression("#name = :oldname AND page_ids = :oldpages AND agent_emails = :oldagents")
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#method", "method")
            .expression_attribute_values(":name", s(&new.name))
            .expression_attribute_values(":pages", list(&new.page_ids))
            .expression_attribute_values(":agents", list(&new.agent_emails))
            .expression_attribute_values(":method", s(new.method.as_str()))
            .expression_attribute_values(":old", s(new.old_conversations.as_str()))
            .expression_attribute_values(":by", s(new.policy_chosen_by.clone().unwrap_or_default()))
            .expression_attribute_values(":at", s(new.policy_chosen_at.clone().unwrap_or_default()))
            .expression_attribute_values(":oldname", s(&old.name))
            .expression_attribute_values(":oldpages", list(&old.page_ids))
            .expression_attribute_values(":oldagents", list(&old.agent_emails))
            .build())?);
        if new.name.to_lowercase() != old.name.to_lowercase() {
            let del = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(format!("T#{tenant_id}")))
                .key("sk", s(format!("RULENAME#{}", old.name.to_lowercase())))
                .build()
                .map_err(backend("TransactWriteItems"))?;
            items.push(TransactWriteItem::builder().delete(del).build());
            let put = Put::builder()
                .table_name(&self.table)
                .item("pk", s(format!("T#{tenant_id}")))
                .item("sk", s(format!("RULENAME#{}", new.name.to_lowercase())))
                .item("rule_id", s(&new.id))
                .condition_expression("attribute_not_exists(sk)")
                .build()
                .map_err(backend("TransactWriteItems"))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let shared = s(ChatMode::Shared.as_str());
        let only_me = s(ChatMode::OnlyMe.as_str());
        for p in new.page_ids.iter().filter(|p| !old.page_ids.contains(p)) {
            let on = connected.contains(p);
            let u = Update::builder()
                .table_name(&self.table)
                .key("pk", s(format!("T#{tenant_id}")))
                .key("sk", s(format!("PAGE#{p}")))
                .update_expression(if on {
                    "SET rule_id = :r, chat_mode = :mode"
                } else {
                    "SET rule_id = :r"
                })
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(rule_id)")
                .expression_attribute_values(":r", s(&new.id));
            items.push(tx(
                if on { u.expression_attribute_values(":mode", shared.clone()) } else { u }.build()
            )?);
            if on {
                items.push(tx(Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(format!("PAGE#{p}")))
                    .key("sk", s("ROUTE"))
                    .update_expression("SET chat_mode = :mode, rule_id = :r")
                    .condition_expression("tenant_id = :t")
                    .expression_attribute_values(":mode", shared.clone())
                    .expression_attribute_values(":r", s(&new.id))
                    .expression_attribute_values(":t", s(tenant_id))
                    .build())?);
            }
        }
        for p in old.page_ids.iter().filter(|p| !new.page_ids.contains(p)) {
            let on = connected.contains(p);
            let u = Update::builder()
                .table_name(&self.table)
                .key("pk", s(format!("T#{tenant_id}")))
                .key("sk", s(format!("PAGE#{p}")))
                .update_expression(if on { "SET chat_mode = :mode REMOVE rule_id" } else { "REMOVE rule_id" })
                .condition_expression("rule_id = :r")
                .expression_attribute_values(":r", s(&old.id));
            items.push(tx(
                if on { u.expression_attribute_values(":mode", only_me.clone()) } else { u }.build()
            )?);
            if on {
                items.push(tx(Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(format!("PAGE#{p}")))
                    .key("sk", s("ROUTE"))
                    .update_expression("SET chat_mode = :mode REMOVE rule_id")
                    .condition_expression("tenant_id = :t")
                    .expression_attribute_values(":mode", only_me.clone())
                    .expression_attribute_values(":t", s(tenant_id))
                    .build())?);
            }
        }
        if items.len() > 100 {
            return Err(StoreError::Conflict("too many Page changes in one rule update".into()));
        }
        let r = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if transaction_condition_failed(&e) => {
                Err(StoreError::Conflict("the rule, one of its Pages or the name changed meanwhile".into()))
            }
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }

    #[instrument(skip(self, rule), fields(rule_id = %rule.id), err)]
    async fn delete_rule(&self, tenant_id: &str, rule: &Rule) -> Result<(), StoreError> {
        let rule_del = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("RULE#{}", rule.id)))
            .condition_expression("size(page_ids) = :zero")
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(backend("TransactWriteItems"))?;
        let name_del = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("RULENAME#{}", rule.name.to_lowercase())))
            .build()
            .map_err(backend("TransactWriteItems"))?;
        let r = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(rule_del).build())
            .transact_items(TransactWriteItem::builder().delete(name_del).build())
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if transaction_condition_failed(&e) => {
                Err(StoreError::Conflict("the rule still has Pages".into()))
            }
            Err(e) => Err(backend("TransactWriteItems")(e)),
        }
    }

    #[instrument(skip(self), err)]
    async fn set_rule_agents(
        &self,
        tenant_id: &str,
        rule_id: &str,
        expected: &[String],
        agents: &[String],
    ) -> Result<bool, StoreError> {
        let list = |v: &[String]| AttributeValue::L(v.iter().map(s).collect());
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("RULE#{rule_id}")))
            .update_expression("SET agent_emails = :new")
            .condition_expression("agent_emails = :old")
            .expression_attribute_values(":new", list(agents))
            .expression_attribute_values(":old", list(expected))
            .send()
            .await;
        conditional(r, "UpdateItem")
    }

    #[instrument(skip(self), err)]
    async fn rehome_by_turn(
        &self,
        tenant_id: &str,
        rule_id: &str,
        conversation_id: &str,
        from: &str,
    ) -> Result<Option<String>, StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        for attempt in 0..25u64 {
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", s(format!("T#{tenant_id}")))
                .key("sk", s(format!("RULE#{rule_id}")))
                .consistent_read(true)
                .send()
                .await
                .map_err(backend("GetItem"))?
                .item
                .ok_or_else(|| StoreError::Conflict(format!("rule {rule_id} does not exist")))?;
            let rule = rule_from(&item)?;
            let turn = get_n(&item, "rr_turn").unwrap_or(0);
            let Some(agent) = rule.agent_for_turn(u64::try_from(turn + 1).unwrap_or(1)).map(str::to_string)
            else {
                return Ok(None);
            };
            let take_turn = Update::builder()
                .table_name(&self.table)
                .key("pk", s(format!("T#{tenant_id}")))
                .key("sk", s(format!("RULE#{rule_id}")))
                .update_expression("SET rr_turn = :next")
                .condition_expression("rr_turn = :turn")
                .expression_attribute_values(":next", n(turn + 1))
                .expression_attribute_values(":turn", n(turn))
                .build()
                .map_err(backend("TransactWriteItems"))?;
            let (expr, values) = assignment_update(tenant_id, &Assignment::Agent(agent.clone()), "");
            let mv = Update::builder()
                .table_name(&self.table)
                .key("pk", s(conv_pk(tenant_id, conversation_id)))
                .key("sk", s(META))
                .update_expression(expr)
                .set_expression_attribute_values(Some(values))
                .condition_expression("assignee = :from")
                .expression_attribute_values(":from", s(from))
                .build()
                .map_err(backend("TransactWriteItems"))?;
            let r = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(take_turn).build())
                .transact_items(TransactWriteItem::builder().update(mv).build())
                .send()
                .await;
            match r {
                Ok(_) => return Ok(Some(agent)),
                Err(e) => {
                    let reasons: Vec<Option<String>> = match e.as_service_error() {
                        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                            c.cancellation_reasons().iter().map(|r| r.code().map(str::to_string)).collect()
                        }
                        _ => return Err(backend("TransactWriteItems")(e)),
                    };
                    if reasons.get(1).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed") {
                        return Ok(None); // no longer held by `from`
                    }
                    // Another writer took a turn meanwhile: read again.
                    tokio::time::sleep(std::time::Duration::from_millis(5 + attempt * 7)).await;
                }
            }
        }
        Err(StoreError::Conflict("the rule's turn counter stayed contended; try again".into()))
    }

    #[instrument(skip(self), err)]
    async fn next_turn(&self, tenant_id: &str, rule_id: &str) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("RULE#{rule_id}")))
            .update_expression("ADD rr_turn :one")
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let rule = match out {
            Ok(o) => o.attributes.unwrap_or_default(),
            Err(e) if is_conditional_failure(&e) => {
                return Err(StoreError::Conflict(format!("rule {rule_id} does not exist")));
            }
            Err(e) => return Err(backend("UpdateItem")(e)),
        };
        let new = get_n(&rule, "rr_turn")
            .and_then(|t| u64::try_from(t).ok())
            .ok_or_else(|| StoreError::Corrupt("rr_turn".into()))?;
        // Turns given back come first (rare: a concurrent delivery assigned the conversation).
        // Taking one is a conditional delete from the set, so only one caller gets it; the new
        // turn just taken is then given back in its place.
        let mut returned: Vec<u64> = match rule.get("returned_turns") {
            Some(AttributeValue::Ns(ns)) => ns.iter().filter_map(|v| v.parse().ok()).collect(),
            _ => Vec::new(),
        };
        returned.sort_unstable();
        for turn in returned.into_iter().filter(|t| *t < new) {
            let taken = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(format!("T#{tenant_id}")))
                .key("sk", s(format!("RULE#{rule_id}")))
                .update_expression("DELETE returned_turns :t")
                .condition_expression("contains(returned_turns, :n)")
                .expression_attribute_values(":t", AttributeValue::Ns(vec![turn.to_string()]))
                .expression_attribute_values(":n", AttributeValue::N(turn.to_string()))
                .send()
                .await;
            if conditional(taken, "UpdateItem")? {
                self.return_turn(tenant_id, rule_id, new).await?;
                return Ok(turn);
            }
        }
        Ok(new)
    }

    #[instrument(skip(self), err)]
    async fn return_turn(&self, tenant_id: &str, rule_id: &str, turn: u64) -> Result<(), StoreError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("T#{tenant_id}")))
            .key("sk", s(format!("RULE#{rule_id}")))
            .update_expression("ADD returned_turns :t")
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":t", AttributeValue::Ns(vec![turn.to_string()]))
            .send()
            .await;
        // A rule deleted meanwhile has no turns left to give.
        conditional(r, "UpdateItem").map(|_| ())
    }
}
