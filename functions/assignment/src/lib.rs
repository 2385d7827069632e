//! The assignment worker: takes batches of queued events, stores each event once in its
//! conversation, and assigns each new conversation exactly once.
//!
//! Idempotence comes from the store's conditional writes, not from remembering what was seen:
//! a message is keyed by Meta's `mid` and put only if absent; a conversation's activity only
//! moves forward; a new conversation is assigned by a write conditional on its assignment still
//! being pending. So the same event delivered three times by Meta, or a batch redelivered by
//! the queue after a crash, changes nothing the second time.

pub mod comment_sync;
pub mod comments;
pub mod erasure;
pub mod history;
pub mod orphans;
pub mod profile;

use std::collections::HashMap;
use std::sync::Arc;

use adapters::Stores;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use domain::assignment::{self as policy, Assignment};
use domain::event::{EventBody, InboundEvent, QUEUE_FORMAT_VERSION, QueuedBatch};
use domain::graph::GraphError;
use domain::model::{ChatMode, Direction, LastMessage, PageRoute, Rule};
use domain::ports::{ConversationTouch, QueueError, StoreError, WatermarkKind};
use tracing::{Instrument, error, info, info_span, warn};

/// A record of a queue batch, whatever delivered it (Lambda's event source or the local poller).
#[derive(Debug, Clone)]
pub struct Record {
    pub message_id: String,
    pub group_id: Option<String>,
    pub body: String,
}

/// Why a record failed. Every variant but the poison ones is passing: the queue redelivers the
/// record later. Causes are kept as sources, and the worker logs the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The body can never be processed (it goes to the dead-letter queue after the retries).
    #[error("queued body is unreadable")]
    Unreadable(#[source] serde_json::Error),
    #[error("queued body has unknown format version {0}")]
    UnknownVersion(u32),
    #[error("store failed")]
    Store(#[from] StoreError),
    /// A Graph API call failed in a way worth retrying (rate limit, timeout, 5xx).
    #[error("Graph API call {op} failed")]
    Graph {
        op: &'static str,
        #[source]
        source: GraphError,
    },
    /// The next step of a resumable job could not be encoded (a bug: never retried usefully).
    #[error("encoding the next {job} step failed")]
    Encode {
        job: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The next step of a resumable job could not be queued.
    #[error("queueing the next {job} step failed")]
    Queue {
        job: &'static str,
        #[source]
        source: QueueError,
    },
    /// This worker was built without a queue, so a multi-step job cannot go on.
    #[error("no queue to continue {0}")]
    NoQueue(&'static str),
}

/// What one record did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecordOutcome {
    pub stored: usize,
    pub duplicates: usize,
    pub watermarks: usize,
    pub dropped_unrouted: usize,
    pub assigned: usize,
}

impl RecordOutcome {
    fn add(&mut self, o: &RecordOutcome) {
        self.stored += o.stored;
        self.duplicates += o.duplicates;
        self.watermarks += o.watermarks;
        self.dropped_unrouted += o.dropped_unrouted;
        self.assigned += o.assigned;
    }
}

/// The result of a batch: the records to retry and the totals of the rest.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub failed: Vec<String>,
    pub totals: RecordOutcome,
}

pub use domain::assignment::Target;

#[derive(Clone)]
pub struct Worker {
    stores: Stores,
    sync: Option<SyncDeps>,
    /// When this instance last recorded a delivery per Page, so a warm worker writes the
    /// delivery time about once a minute per Page, not once per message.
    deliveries: Arc<std::sync::Mutex<HashMap<String, i64>>>,
}

/// What history sync needs beyond the store.
#[derive(Clone)]
pub struct SyncDeps {
    pub facebook: Arc<adapters::facebook::Facebook>,
    pub queue: Arc<dyn domain::ports::EventQueue>,
}

type RouteCache = HashMap<String, Option<PageRoute>>;

impl Worker {
    pub fn new(stores: Stores) -> Worker {
        Worker { stores, sync: None, deliveries: Default::default() }
    }

    /// A worker that also runs history sync steps.
    pub fn with_sync(stores: Stores, sync: SyncDeps) -> Worker {
        Worker { stores, sync: Some(sync), deliveries: Default::default() }
    }

    /// Processes a batch. Records of one message group run in order and, once one fails, the
    /// later ones of that group are failed unprocessed so the queue redelivers them in order;
    /// different groups run concurrently.
    pub async fn handle_batch(&self, records: Vec<Record>) -> BatchOutcome {
        let mut groups: Vec<(Option<String>, Vec<Record>)> = Vec::new();
        for r in records {
            match groups.iter_mut().find(|(g, _)| *g == r.group_id) {
                Some((_, v)) => v.push(r),
                None => groups.push((r.group_id.clone(), vec![r])),
            }
        }
        let runs = groups.into_iter().map(|(_, recs)| self.run_group(recs));
        let mut out = BatchOutcome::default();
        for (failed, totals) in futures_join_all(runs).await {
            out.failed.extend(failed);
            out.totals.add(&totals);
        }
        if !out.failed.is_empty() {
            warn!(failed = out.failed.len(), "batch has failed records; they will be redelivered");
        }
        adapters::telemetry::count("EventsStored", out.totals.stored as u64, ("Function", "assignment"));
        adapters::telemetry::count(
            "EventsDuplicate",
            out.totals.duplicates as u64,
            ("Function", "assignment"),
        );
        adapters::telemetry::count(
            "EventsUnroutedDropped",
            out.totals.dropped_unrouted as u64,
            ("Function", "assignment"),
        );
        out
    }

    async fn run_group(&self, records: Vec<Record>) -> (Vec<String>, RecordOutcome) {
        let mut failed = Vec::new();
        let mut totals = RecordOutcome::default();
        let mut routes = RouteCache::new();
        for r in records {
            if !failed.is_empty() {
                failed.push(r.message_id);
                continue;
            }
            let span = info_span!("record", message_id = %r.message_id, group_id = r.group_id.as_deref().unwrap_or("-"));
            match self.process_body(&r.body, &mut routes).instrument(span.clone()).await {
                Ok(o) => {
                    span.in_scope(|| {
                        info!(
                            stored = o.stored,
                            duplicates = o.duplicates,
                            assigned = o.assigned,
                            "record done"
                        )
                    });
                    totals.add(&o);
                }
                Err(e) => {
                    let chain = adapters::telemetry::error_chain(&e);
                    span.in_scope(|| error!(error = %chain, "record failed"));
                    failed.push(r.message_id);
                }
            }
        }
        (failed, totals)
    }

    /// Applies every event of one queued body, in order.
    pub async fn process_body(
        &self,
        body: &str,
        routes: &mut RouteCache,
    ) -> Result<RecordOutcome, RecordError> {
        let batch: QueuedBatch = serde_json::from_str(body).map_err(RecordError::Unreadable)?;
        if batch.v != QUEUE_FORMAT_VERSION {
            return Err(RecordError::UnknownVersion(batch.v));
        }
        let mut out = RecordOutcome::default();
        if let Some(job) = &batch.sync {
            self.sync_step(job, &mut out).await?;
        }
        if let Some(job) = &batch.orphans {
            self.orphan_step(job, &mut out).await?;
        }
        if let Some(job) = &batch.erase {
            self.erase_step(job).await?;
        }
        for ev in &batch.events {
            self.apply(ev, routes, &mut out).await?;
        }
        if let Some(ev) = batch.events.first()
            && routes.get(&ev.page_id).is_some_and(Option::is_some)
        {
            self.record_delivery(&ev.page_id).await?;
        }
        Ok(out)
    }

    /// Notes that the Page delivers webhooks (the health check flags Pages that stop).
    async fn record_delivery(&self, page_id: &str) -> Result<(), StoreError> {
        let now = domain::timefmt::now_ms();
        {
            let mut seen = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
            if seen.get(page_id).is_some_and(|t| now - t < domain::ports::DELIVERY_TOUCH_INTERVAL_MS) {
                return Ok(());
            }
            seen.insert(page_id.to_string(), now);
        }
        self.stores.pages.touch_delivery(page_id, now).await
    }

    async fn route(&self, page_id: &str, routes: &mut RouteCache) -> Result<Option<PageRoute>, StoreError> {
        if let Some(r) = routes.get(page_id) {
            return Ok(r.clone());
        }
        let r = self.stores.pages.page_route(page_id).await?;
        routes.insert(page_id.to_string(), r.clone());
        Ok(r)
    }

    async fn apply(
        &self,
        ev: &InboundEvent,
        routes: &mut RouteCache,
        out: &mut RecordOutcome,
    ) -> Result<(), RecordError> {
        // Every route receives: connected, in lost connection (quarantine: kept for the shop
        // that held it until another shop takes the Page over), or a draft written before a
        // connect subscribed (docs/page-custody.md).
        let route = match self.route(&ev.page_id, routes).await? {
            Some(r) => r,
            None => {
                info!(page_id = %ev.page_id, kind = ev.kind(), "event for a Page no shop has connected; dropped");
                out.dropped_unrouted += 1;
                return Ok(());
            }
        };
        let tenant = route.tenant_id.as_str();
        let conversation_id = ev.conversation_id();
        match &ev.body {
            EventBody::Read { watermark } => {
                self.stores
                    .conversations
                    .advance_watermark(tenant, &conversation_id, WatermarkKind::Read, *watermark)
                    .await?;
                out.watermarks += 1;
                return Ok(());
            }
            EventBody::Delivery { watermark, .. } => {
                self.stores
                    .conversations
                    .advance_watermark(tenant, &conversation_id, WatermarkKind::Delivery, *watermark)
                    .await?;
                out.watermarks += 1;
                return Ok(());
            }
            EventBody::Comment { .. } => {
                return self.apply_comment(ev, &route, out, comments::Source::Webhook).await;
            }
            _ => {}
        }
        let Some(message) = ev.to_message() else { return Ok(()) };
        let touch = ConversationTouch {
            tenant_id: tenant.to_string(),
            conversation_id: conversation_id.clone(),
            page_id: ev.page_id.clone(),
            customer_id: ev.customer_id.clone(),
            activity_ms: ev.timestamp_ms,
            customer_ms: ev.is_from_customer().then_some(ev.timestamp_ms),
            last_message: Some(LastMessage::of(&message)),
            customer_name: None,
            post_id: None,
            phones: match message.direction {
                Direction::In => message.text.as_deref().map(domain::phones::find_phones).unwrap_or_default(),
                Direction::Out => Vec::new(),
            },
        };
        let conv = self.stores.conversations.touch_conversation(&touch).await?;
        if conv.assignment_pending {
            self.assign_new(ev, &route, &conversation_id, out).await?;
        }
        if self.settled_reply(tenant, ev).await? {
            out.duplicates += 1;
        } else if self.stores.conversations.put_message(tenant, &message).await? {
            out.stored += 1;
        } else {
            out.duplicates += 1;
        }
        // A new conversation's customer name, once the event is stored (best effort).
        if conv.assignment_pending && conv.customer_name.is_none() {
            self.look_up_name(&route, &conv).await;
        }
        Ok(())
    }

    /// Assigns a new Messenger conversation: to the member whose private reply to a comment
    /// started it, when a hand-off waits for it (`docs/comments.md`, "Hand-off"), else by the
    /// Page's mode and rule. The echo of our own reply that creates a conversation (only a
    /// private reply does: other replies go to existing ones) leaves it pending when no hand-off
    /// is recorded yet: the API records it right after Meta's answer and applies it; the
    /// customer's answer assigns it at the latest.
    async fn assign_new(
        &self,
        ev: &InboundEvent,
        route: &PageRoute,
        conversation_id: &str,
        out: &mut RecordOutcome,
    ) -> Result<(), StoreError> {
        let tenant = route.tenant_id.as_str();
        if let Some(assigned) = self.hand_off(tenant, conversation_id).await? {
            out.assigned += usize::from(assigned);
            return Ok(());
        }
        if let EventBody::Message { direction: Direction::Out, metadata: Some(md), .. } = &ev.body
            && domain::reply::reply_id_of_metadata(md).is_some()
        {
            info!(
                conversation_id,
                "conversation started by our own reply; assignment waits for its hand-off"
            );
            return Ok(());
        }
        let target = self.assignment_for(route).await?;
        if self.assign_pending(tenant, conversation_id, &target).await? {
            info!(conversation_id, target = ?target, "new conversation assigned");
            out.assigned += 1;
        }
        Ok(())
    }

    /// Gives a pending conversation to the private replier whose hand-off waits for it: None
    /// when no hand-off waits, else whether this call assigned it.
    pub(crate) async fn hand_off(
        &self,
        tenant: &str,
        conversation_id: &str,
    ) -> Result<Option<bool>, StoreError> {
        let comments = &self.stores.comments;
        let Some(h) = comments.handoff(tenant, conversation_id).await? else { return Ok(None) };
        let assigned = comments.complete_handoff(tenant, conversation_id, &h).await?;
        if assigned {
            info!(conversation_id, comment_id = %h.comment_id, "Messenger conversation handed to the private replier");
        }
        Ok(Some(assigned))
    }

    /// The echo of a reply sent from the inbox (its `metadata` is the reply's id): settles that
    /// reply as sent under the echo's mid, so the thread holds one message, and a reply whose
    /// send timed out shows as sent after all. False for any other event (stored as usual).
    async fn settled_reply(&self, tenant: &str, ev: &InboundEvent) -> Result<bool, StoreError> {
        let EventBody::Message { mid, direction: Direction::Out, metadata: Some(md), .. } = &ev.body else {
            return Ok(false);
        };
        let Some(reply_id) = domain::reply::reply_id_of_metadata(md) else { return Ok(false) };
        let outcome = domain::reply::ReplyOutcome::Sent { mid: mid.clone() };
        let settled =
            self.stores.conversations.settle_reply(tenant, &ev.conversation_id(), reply_id, &outcome).await?;
        Ok(settled.is_some())
    }

    /// The rule of a shared Page's route, if it has one and it still exists.
    pub async fn route_rule(&self, route: &PageRoute) -> Result<Option<Rule>, StoreError> {
        let rule_id = match (route.chat_mode, &route.rule_id) {
            (ChatMode::Shared, Some(r)) => r,
            _ => return Ok(None),
        };
        let rule = self.stores.rules.rule(&route.tenant_id, rule_id).await?;
        if rule.is_none() {
            warn!(rule_id = %rule_id, "the Page's rule is gone; conversation left unassigned");
        }
        Ok(rule)
    }

    /// Where a new conversation of this Page goes ([`domain::assignment::new_conversation`]).
    pub async fn assignment_for(&self, route: &PageRoute) -> Result<Target, StoreError> {
        Ok(policy::new_conversation(route, self.route_rule(route).await?.as_ref()))
    }

    /// Assigns a conversation still pending; whether it was assigned now (false: it already
    /// was). A round-robin turn that assigned nothing is given back to the rule, so a
    /// redelivered event handled twice at once does not skew the spread.
    pub async fn assign_pending(
        &self,
        tenant: &str,
        conversation_id: &str,
        target: &Target,
    ) -> Result<bool, StoreError> {
        let conversations = &self.stores.conversations;
        match target {
            Target::To(a) => conversations.complete_assignment(tenant, conversation_id, a).await,
            Target::NextInTurn(rule) => {
                // Take a turn, then assign if the conversation is still pending. A concurrent
                // delivery of the same event that assigned it first makes this turn give back,
                // so the next conversation takes it and the spread stays even.
                let rules = &self.stores.rules;
                let turn = rules.next_turn(tenant, &rule.id).await?;
                let assignment = policy::turn_holder(rule, turn);
                let assigned =
                    conversations.complete_assignment(tenant, conversation_id, &assignment).await?;
                if !assigned || assignment == Assignment::Unassigned {
                    rules.return_turn(tenant, &rule.id, turn).await?;
                }
                Ok(assigned)
            }
        }
    }

    /// Queues the next step of a resumable job (history sync, re-homing) before this one is
    /// acknowledged, so a crash in between repeats a step rather than losing the rest.
    async fn queue_next_step(
        &self,
        job: &'static str,
        next: Result<domain::event::OutboundQueueMessage, serde_json::Error>,
    ) -> Result<(), RecordError> {
        let Some(sync) = &self.sync else { return Err(RecordError::NoQueue(job)) };
        let msg = next.map_err(|source| RecordError::Encode { job, source })?;
        sync.queue.send_batch(&[msg]).await.map_err(|source| RecordError::Queue { job, source })
    }

    /// The Lambda entry: an SQS event in, the failed records out.
    pub async fn handle_sqs(&self, event: SqsEvent) -> SqsBatchResponse {
        let records = event
            .records
            .into_iter()
            .map(|r| Record {
                group_id: r.attributes.get("MessageGroupId").cloned(),
                message_id: r.message_id.unwrap_or_default(),
                body: r.body.unwrap_or_default(),
            })
            .collect();
        let outcome = self.handle_batch(records).await;
        let mut response = SqsBatchResponse::default();
        for id in outcome.failed {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            response.batch_item_failures.push(f);
        }
        response
    }
}

async fn futures_join_all<F: std::future::Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    futures::future::join_all(futs).await
}

/// Shared handle for the Lambda closure.
pub type SharedWorker = Arc<Worker>;
