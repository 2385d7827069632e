//! The assignment worker: takes batches of queued events, stores each event once in its
//! conversation, and assigns each new conversation exactly once.
//!
//! Idempotence comes from the store's conditional writes, not from remembering what was seen:
//! a message is keyed by Meta's `mid` and put only if absent; a conversation's activity only
//! moves forward; a new conversation is assigned by a write conditional on its assignment still
//! being pending. So the same event delivered three times by Meta, or a batch redelivered by
//! the queue after a crash, changes nothing the second time.

pub mod history;
pub mod orphans;

use std::collections::HashMap;
use std::sync::Arc;

use adapters::Stores;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use domain::event::{EventBody, InboundEvent, QUEUE_FORMAT_VERSION, QueuedBatch};
use domain::model::{ChatMode, Method, PageRoute, PageStatus, Rule};
use domain::ports::{Assignment, ConversationTouch, StoreError, WatermarkKind};
use tracing::{Instrument, error, info, info_span, warn};

/// A record of a queue batch, whatever delivered it (Lambda's event source or the local poller).
#[derive(Debug, Clone)]
pub struct Record {
    pub message_id: String,
    pub group_id: Option<String>,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The body can never be processed (it goes to the dead-letter queue after the retries).
    #[error("queued body is unreadable: {0}")]
    Poison(String),
    #[error("store failed")]
    Store(#[from] StoreError),
    /// A passing failure outside the store (the Graph API, the queue): redeliver later.
    #[error("{0}")]
    Retry(String),
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

/// Where a pending conversation goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Straight to an agent, a pool, or nobody.
    To(Assignment),
    /// To the next agent in a round-robin rule's turn.
    NextInTurn(Rule),
}

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
                    span.in_scope(
                        || error!(error = %e, source = ?std::error::Error::source(&e), "record failed"),
                    );
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
        let batch: QueuedBatch =
            serde_json::from_str(body).map_err(|e| RecordError::Poison(e.to_string()))?;
        if batch.v != QUEUE_FORMAT_VERSION {
            return Err(RecordError::Poison(format!("unknown format version {}", batch.v)));
        }
        let mut out = RecordOutcome::default();
        if let Some(job) = &batch.sync {
            self.sync_step(job, &mut out).await?;
        }
        if let Some(job) = &batch.orphans {
            self.orphan_step(job, &mut out).await?;
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
    ) -> Result<(), StoreError> {
        let route = match self.route(&ev.page_id, routes).await? {
            Some(r) if r.status != PageStatus::NotConnected => r,
            _ => {
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
        };
        let conv = self.stores.conversations.touch_conversation(&touch).await?;
        if conv.assignment_pending {
            let target = self.assignment_for(&route).await?;
            if self.assign_pending(tenant, &conversation_id, &target).await? {
                info!(conversation_id = %conversation_id, target = ?target, "new conversation assigned");
                out.assigned += 1;
            }
        }
        if self.stores.conversations.put_message(tenant, &message).await? {
            out.stored += 1;
        } else {
            out.duplicates += 1;
        }
        Ok(())
    }

    /// Where a new conversation of this Page goes: the owner (only me), the next agent in turn
    /// (round robin), or the rule's pool (self claim).
    pub async fn assignment_for(&self, route: &PageRoute) -> Result<Target, StoreError> {
        let rule_id = match (route.chat_mode, &route.rule_id) {
            (ChatMode::Shared, Some(r)) => r,
            _ => return Ok(Target::To(decide_assignment(route))),
        };
        let Some(rule) = self.stores.rules.rule(&route.tenant_id, rule_id).await? else {
            warn!(rule_id = %rule_id, "the Page's rule is gone; conversation left unassigned");
            return Ok(Target::To(Assignment::Unassigned));
        };
        Ok(match rule.method {
            Method::SelfClaim => Target::To(Assignment::Pool(rule.id.clone())),
            Method::RoundRobin => Target::NextInTurn(rule),
        })
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
                let agent = rule.agent_for_turn(turn).map(String::from);
                let assignment = agent.map_or(Assignment::Unassigned, Assignment::Agent);
                let assigned =
                    conversations.complete_assignment(tenant, conversation_id, &assignment).await?;
                if !assigned || assignment == Assignment::Unassigned {
                    rules.return_turn(tenant, &rule.id, turn).await?;
                }
                Ok(assigned)
            }
        }
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

/// Where a new conversation goes, by the Page's chat mode.
pub fn decide_assignment(route: &PageRoute) -> Assignment {
    match route.chat_mode {
        ChatMode::OnlyMe => Assignment::Agent(route.connected_by.clone()),
        // Sharing rules (round robin, self-claim pools) assign shared Pages; until a Page has a
        // rule its conversations wait unassigned, visible to owners and admins.
        ChatMode::Shared => match &route.rule_id {
            Some(rule) => Assignment::Pool(rule.clone()),
            None => Assignment::Unassigned,
        },
    }
}

async fn futures_join_all<F: std::future::Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    futures::future::join_all(futs).await
}

/// Shared handle for the Lambda closure.
pub type SharedWorker = Arc<Worker>;
