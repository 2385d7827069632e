//! History sync: the conversations a Page had before it was connected, read through the
//! Conversations API one result page per queue message (resumable), at most two Graph calls per
//! second per Page, stored like webhook events so nothing is stored twice (a message's id is
//! Meta's `mid` in both).

use std::time::{Duration, Instant};

use domain::event::SyncJob;
use domain::graph::{GraphConversation, GraphMessage};
use domain::model::{Direction, LastMessage, Message, MessageKind, PageStatus, conversation_id};
use domain::ports::ConversationTouch;
use tracing::{info, warn};

use crate::{RecordError, RecordOutcome, Target, Worker};

/// Meta allows about two Conversations API calls per second per Page.
pub const MIN_CALL_INTERVAL: Duration = Duration::from_millis(500);

impl Worker {
    /// Runs one step of a sync; a retryable failure is returned so the queue redelivers the
    /// step, anything final (Page gone, token dead) ends the sync with a log line.
    pub async fn sync_step(&self, job: &SyncJob, out: &mut RecordOutcome) -> Result<(), RecordError> {
        let Some(sync) = &self.sync else {
            warn!(page_id = %job.page_id, "history sync step received but this worker has no Graph access; dropped");
            return Ok(());
        };
        let fb = &sync.facebook;
        let Some((route, version, token)) = self.sync_token(job).await? else { return Ok(()) };
        if job.comments.is_some() {
            return self.comment_sync_step(job, &route, &version, &token, out).await;
        }
        let started = Instant::now();
        let page = match fb.graph.conversations(&job.page_id, &token, job.after.as_deref()).await {
            Ok(p) => p,
            Err(e) => return self.sync_stopped(job, &version, "conversations", e).await,
        };
        for c in &page.conversations {
            self.store_thread(&route, c, out).await?;
        }
        if let Some(after) = page.next_after {
            let next = SyncJob { after: Some(after), step: job.step + 1, ..job.clone() };
            self.queue_next_step("history sync", next.to_queue_message()).await?;
        } else {
            // The Messenger threads are done: the comments of the Page's recent posts follow.
            info!(page_id = %job.page_id, steps = job.step + 1, "Messenger history synced; comments next");
            let next = SyncJob {
                after: None,
                step: job.step + 1,
                comments: Some(domain::event::CommentSync::default()),
                ..job.clone()
            };
            self.queue_next_step("history sync", next.to_queue_message()).await?;
        }
        // Pace the Page's calls: the next step starts no sooner than the interval.
        if let Some(rest) = MIN_CALL_INTERVAL.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        Ok(())
    }

    /// The holder's route, connection version and Page token, when the job's shop still holds
    /// the Page, connected, with a readable token; None (logged) ends the sync.
    async fn sync_token(
        &self,
        job: &SyncJob,
    ) -> Result<Option<(domain::model::PageRoute, String, secrecy::SecretString)>, RecordError> {
        let Some(sync) = &self.sync else { return Ok(None) };
        // Only the shop holding the Page syncs it, with the holder's current token.
        let holder = self.stores.pages.holder(&job.page_id).await?;
        let (route, version, sealed) = match holder {
            Some(h) if h.route.tenant_id == job.tenant_id && h.route.status == PageStatus::Connected => {
                match h.token_enc {
                    Some(t) => (h.route, h.version, t),
                    None => {
                        warn!(page_id = %job.page_id, "no current Page token; history sync stops");
                        return Ok(None);
                    }
                }
            }
            _ => {
                info!(page_id = %job.page_id, "Page no longer connected to the shop; history sync stops");
                return Ok(None);
            }
        };
        let Ok(token) = sync.facebook.cipher.decrypt(&job.tenant_id, &job.page_id, &sealed) else {
            warn!(page_id = %job.page_id, "stored Page token unreadable; history sync stops");
            return Ok(None);
        };
        Ok(Some((route, version, token)))
    }

    /// Synced threads are old conversations ([`domain::assignment::synced_conversation`]).
    pub(crate) async fn history_target(
        &self,
        route: &domain::model::PageRoute,
        last_customer_ms: Option<i64>,
    ) -> Result<Target, RecordError> {
        let rule = self.route_rule(route).await?;
        Ok(domain::assignment::synced_conversation(
            route,
            rule.as_ref(),
            last_customer_ms,
            domain::timefmt::now_ms(),
        ))
    }

    async fn store_thread(
        &self,
        route: &domain::model::PageRoute,
        c: &GraphConversation,
        out: &mut RecordOutcome,
    ) -> Result<(), RecordError> {
        let page_id = route.page_id.as_str();
        let Some(customer) = c.participant_ids.iter().find(|p| p.as_str() != page_id) else { return Ok(()) };
        let conv_id = conversation_id(page_id, customer);
        let newest = c.messages.iter().map(|m| m.created_ms).max().unwrap_or(c.updated_ms);
        let newest_in = c.messages.iter().filter(|m| m.from_id != page_id).map(|m| m.created_ms).max();
        let messages: Vec<Message> =
            c.messages.iter().map(|m| history_message(page_id, &conv_id, m)).collect();
        let touch = ConversationTouch {
            tenant_id: route.tenant_id.clone(),
            conversation_id: conv_id.clone(),
            page_id: page_id.to_string(),
            customer_id: customer.clone(),
            activity_ms: newest,
            customer_ms: newest_in,
            // The thread's newest message, if the 20 read include it (they are the newest).
            last_message: messages.iter().max_by_key(|m| m.sent_ms).map(LastMessage::of),
            customer_name: c.participant_names.get(customer).cloned(),
            post_id: None,
            phones: Vec::new(),
        };
        let conv = self.stores.conversations.touch_conversation(&touch).await?;
        // A thread the customer never wrote in (a private reply to a comment that is not
        // answered yet, whose hand-off may still be in flight) waits for their first message,
        // which assigns it as a webhook does.
        if conv.assignment_pending && newest_in.is_some() {
            // A thread a private reply started goes to the replier, as from a webhook; any
            // other by the old-conversation policy.
            let assigned = match self.hand_off(&route.tenant_id, &conv_id).await? {
                Some(assigned) => assigned,
                None => {
                    let target = self.history_target(route, newest_in).await?;
                    self.assign_pending(&route.tenant_id, &conv_id, &target).await?
                }
            };
            out.assigned += usize::from(assigned);
        }
        for message in &messages {
            if self.stores.conversations.put_message(&route.tenant_id, message).await? {
                out.stored += 1;
            } else {
                out.duplicates += 1;
            }
        }
        Ok(())
    }
}

/// A message of the Conversations API as stored (`detail.source` says where it came from).
fn history_message(page_id: &str, conv_id: &str, m: &GraphMessage) -> Message {
    Message {
        id: m.id.clone(),
        conversation_id: conv_id.to_string(),
        direction: if m.from_id == page_id { Direction::Out } else { Direction::In },
        kind: if m.text.as_deref().is_some_and(|t| !t.is_empty()) {
            MessageKind::Text
        } else {
            MessageKind::Attachment
        },
        text: m.text.clone().filter(|t| !t.is_empty()),
        sent_ms: m.created_ms,
        detail: Some(serde_json::json!({"source": "history"})),
        reply: None,
        comment: None,
    }
}
