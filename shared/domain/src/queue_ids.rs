//! The FIFO queue's message group and deduplication ids (`docs/queue-design.md`, "Ids").
//!
//! SQS takes at most 128 characters from `!` to `~` (ASCII letters, digits and punctuation)
//! in either id; anything longer or holding other characters (a shop id with a space, a long
//! email) is replaced by a readable prefix and the SHA-256 of the whole, so distinct ids stay
//! distinct and every id is accepted.
//!
//! Deduplication drops a message whose id the queue saw within 5 minutes. For Meta's events
//! the id is the body's hash: the same events again are the same work, stored once anyway.
//! For a job (history sync, re-homing) it names the attempt, `job-{job id}-{step}`: a job
//! queued again is a new job id and runs again; a step that one worker queued twice (the
//! record retried after its next step was queued) is dropped the second time.

use sha2::{Digest, Sha256};

/// SQS's limit for `MessageGroupId` and `MessageDeduplicationId`.
pub const MAX_FIFO_ID_LEN: usize = 128;

/// Characters kept readable in front of the hash of an id that had to be hashed.
const READABLE_PREFIX: usize = 40;

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c.is_ascii_punctuation()
}

/// `raw` itself when SQS takes it, else its readable prefix, `~` and its SHA-256 (at most
/// 105 characters).
pub fn fifo_id(raw: &str) -> String {
    if !raw.is_empty() && raw.len() <= MAX_FIFO_ID_LEN && raw.chars().all(allowed) {
        return raw.to_string();
    }
    let readable: String = raw.chars().filter(|c| allowed(*c)).take(READABLE_PREFIX).collect();
    format!("{readable}~{}", hex::encode(Sha256::digest(raw.as_bytes())))
}

/// The deduplication id of a body of events: its SHA-256.
pub fn body_dedup_id(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// The deduplication id of one step of a job: the job and the step, never the body.
pub fn job_dedup_id(job_id: &str, step: u32) -> String {
    fifo_id(&format!("job-{job_id}-{step}"))
}

/// A fresh job id.
pub fn new_job_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{OrphanJob, QueuedBatch, SyncJob};

    /// Finding 8 (re-homing group id over 128 characters): ids at, over and far over the limit.
    #[test]
    fn ids_stay_within_sqs_limits() {
        let at = "a".repeat(MAX_FIFO_ID_LEN);
        assert_eq!(fifo_id(&at), at, "an id at the limit is kept as it is");
        let over = "a".repeat(MAX_FIFO_ID_LEN + 1);
        let long_email = format!("orphans_{}_{}@shop.vn", "s".repeat(128), "n".repeat(240));
        for raw in [over.as_str(), long_email.as_str(), "shop có dấu cách", ""] {
            let id = fifo_id(raw);
            assert!(id.len() <= MAX_FIFO_ID_LEN, "{} characters", id.len());
            assert!(id.chars().all(allowed), "{id}");
        }
        assert_ne!(fifo_id(&over), fifo_id(&format!("{over}b")), "hashed ids stay distinct");
        assert_ne!(fifo_id("shop a"), fifo_id("shop b"));
        assert_eq!(fifo_id("1501_61"), "1501_61");
    }

    #[test]
    fn job_dedup_ids_name_the_attempt() {
        assert_ne!(job_dedup_id("j1", 0), job_dedup_id("j2", 0));
        assert_ne!(job_dedup_id("j1", 0), job_dedup_id("j1", 1));
        assert_eq!(job_dedup_id("j1", 3), job_dedup_id("j1", 3));
        assert_ne!(new_job_id(), new_job_id());
        assert!(job_dedup_id(&"j".repeat(300), u32::MAX).len() <= MAX_FIFO_ID_LEN);
    }

    /// Finding 7 (FIFO deduplication): the same job queued twice is two jobs, and their
    /// messages do not share a deduplication id; a step queued twice by one job does.
    #[test]
    fn a_repeated_job_is_not_a_duplicate() {
        let a = SyncJob::first("shop-a", "1501");
        let b = SyncJob::first("shop-a", "1501");
        let (ma, mb) = (a.to_queue_message().expect("a"), b.to_queue_message().expect("b"));
        assert_eq!(ma.group_id, mb.group_id);
        assert_ne!(ma.dedup_id, mb.dedup_id, "a sync queued again must run again");
        let next = SyncJob { after: Some("c1".into()), step: 1, ..a.clone() };
        assert_eq!(
            next.to_queue_message().expect("n").dedup_id,
            next.clone().to_queue_message().expect("n").dedup_id
        );
        let o1 = OrphanJob::first("shop-a", "lan@shop-a.vn", None).to_queue_message().expect("o1");
        let o2 = OrphanJob::first("shop-a", "lan@shop-a.vn", None).to_queue_message().expect("o2");
        assert_ne!(o1.dedup_id, o2.dedup_id);
    }

    /// Finding 8: a re-homing job of a long shop id and a long email gets a group id SQS takes.
    #[test]
    fn long_group_ids_are_bounded() {
        let tenant = "t".repeat(crate::ids::TenantId::MAX_LEN);
        let email = format!("{}@{}.vn", "n".repeat(64), "d".repeat(180));
        let m = OrphanJob::first(&tenant, &email, Some("rule-1")).to_queue_message().expect("message");
        assert!(m.group_id.len() <= MAX_FIFO_ID_LEN, "{}", m.group_id.len());
        assert!(m.dedup_id.len() <= MAX_FIFO_ID_LEN);
        let other = OrphanJob::first(&tenant, &format!("x{email}"), None).to_queue_message().expect("m");
        assert_ne!(m.group_id, other.group_id, "two members' jobs keep their own groups");
        let body: QueuedBatch = serde_json::from_str(&m.body).expect("body");
        assert_eq!(body.orphans.map(|o| o.email), Some(email));
    }
}
