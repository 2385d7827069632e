//! The worker's own jobs, queued step by step like events: re-homing a removed member's
//! conversations ([`OrphanJob`]), a Page's history sync ([`SyncJob`]) and deleting a Page's
//! data ([`EraseJob`]). Each step is deduplicated by its job and step, never by its body, so a
//! job queued again is never swallowed as a duplicate (`docs/queue-design.md`, "Ids").

use serde::{Deserialize, Serialize};

use super::{OutboundQueueMessage, QueuedBatch};
use crate::queue_ids::{body_dedup_id, fifo_id, job_dedup_id, new_job_id};

/// Re-homes the conversations a removed member held, by each conversation's rule policy. Each
/// step moves up to a page of them; a moved conversation leaves the member's inbox, so the
/// next step simply starts again from the top of it (resumable, idempotent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanJob {
    /// Names this job (every step of it): its steps' deduplication ids come from it, so the
    /// same re-homing queued again later is a new job, never swallowed as a duplicate.
    #[serde(default)]
    pub job_id: String,
    pub tenant_id: String,
    pub email: String,
    /// Only the conversations of this rule's Pages (the member left one rule, not the shop).
    /// Such a job walks the member's inbox with a cursor, since it leaves others in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default)]
    pub step: u32,
}

impl OrphanJob {
    /// The first step of a new re-homing job.
    pub fn first(tenant_id: &str, email: &str, rule_id: Option<&str>) -> OrphanJob {
        OrphanJob {
            job_id: new_job_id(),
            tenant_id: tenant_id.to_string(),
            email: email.to_string(),
            rule_id: rule_id.map(str::to_string),
            cursor: None,
            step: 0,
        }
    }

    pub fn to_queue_message(&self) -> Result<OutboundQueueMessage, serde_json::Error> {
        let body =
            serde_json::to_string(&QueuedBatch { orphans: Some(self.clone()), ..QueuedBatch::empty() })?;
        let group = format!("orphans_{}_{}", self.tenant_id, self.email.replace('@', "_at_"));
        Ok(job_message(group, &self.job_id, self.step, body))
    }
}

/// One step of a Page's history sync through the Conversations API: fetch the page of threads
/// after `after`, store them, queue the next step. Each step is its own queue message, so an
/// interrupted sync resumes where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    /// Names this sync (every step of it), as [`OrphanJob::job_id`].
    #[serde(default)]
    pub job_id: String,
    pub tenant_id: String,
    pub page_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// How many result pages earlier steps fetched.
    #[serde(default)]
    pub step: u32,
    /// Set once the Messenger threads are done: where the sync stands in the comments of the
    /// Page's recent posts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<CommentSync>,
}

/// The comments part of a history sync: the recent posts listed once, then each post's
/// comments one result page per step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentSync {
    /// The recent posts whose comments are still to read (the first is being read); None
    /// until the posts are listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posts: Option<Vec<String>>,
    /// The cursor in the first post's comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl SyncJob {
    /// The first step of a new history sync of the Page.
    pub fn first(tenant_id: &str, page_id: &str) -> SyncJob {
        SyncJob {
            job_id: new_job_id(),
            tenant_id: tenant_id.to_string(),
            page_id: page_id.to_string(),
            after: None,
            step: 0,
            comments: None,
        }
    }

    /// The queue message for this step: in its own message group (one per Page), so steps run
    /// one after another and never hold back a conversation.
    pub fn to_queue_message(&self) -> Result<OutboundQueueMessage, serde_json::Error> {
        let body = serde_json::to_string(&QueuedBatch { sync: Some(self.clone()), ..QueuedBatch::empty() })?;
        Ok(job_message(format!("sync_{}", self.page_id), &self.job_id, self.step, body))
    }
}

/// One step of deleting a Page's data for a shop (`DELETE /api/pages/{page_id}`): deletes up to
/// a page of the shop's conversations of the Page (messages, then header) and queues the next
/// step while some remain. A deleted conversation leaves the Page's inbox, so each step starts
/// again from its top (resumable, idempotent under redelivery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseJob {
    pub tenant_id: String,
    pub page_id: String,
    /// Names this deletion, so the queue's deduplication never takes a repeated request for a
    /// redelivery of an earlier one.
    pub request_id: String,
    #[serde(default)]
    pub step: u32,
}

impl EraseJob {
    /// The queue message for this step, in the Page's own group for the shop.
    pub fn to_queue_message(&self) -> Result<OutboundQueueMessage, serde_json::Error> {
        let body = serde_json::to_string(&QueuedBatch { erase: Some(self.clone()), ..QueuedBatch::empty() })?;
        // Deduplicated by request and step, like every job; the group is bounded by fifo_id.
        let group = format!("erase_{}_{}", self.tenant_id, self.page_id);
        Ok(job_message(group, &self.request_id, self.step, body))
    }
}

/// A job step's message: deduplicated by job and step, not by body. A job without an id (a
/// body queued before jobs had one) falls back to the body's hash.
fn job_message(group_id: String, job_id: &str, step: u32, body: String) -> OutboundQueueMessage {
    let dedup_id = if job_id.is_empty() { body_dedup_id(&body) } else { job_dedup_id(job_id, step) };
    OutboundQueueMessage { group_id: fifo_id(&group_id), dedup_id, body, event_count: 0 }
}
