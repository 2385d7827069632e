//! History sync of comments (`docs/comments.md`, "History sync"): after a Page's Messenger
//! threads, the comments of its recent posts, read one Graph result page per queue message
//! (resumable), paced like the Messenger part, stored exactly as webhook comments are (the
//! comment's id is the message id in both, so nothing is stored twice) and routed by the
//! old-conversation policy.

use std::time::Instant;

use domain::event::{CommentSync, EventBody, InboundEvent, SyncJob};
use domain::graph::{GraphComment, GraphError};
use domain::model::{Direction, PageRoute};
use secrecy::SecretString;
use tracing::{info, warn};

use crate::comments::Source;
use crate::history::MIN_CALL_INTERVAL;
use crate::{RecordError, RecordOutcome, Worker};

/// How far back history sync reads posts' comments: the newest result page of posts, and of
/// those only the ones published within this long.
pub const RECENT_POSTS_MS: i64 = 30 * 24 * 3_600_000;

impl Worker {
    /// One step of the comments part of a sync: list the recent posts (first step), or store one
    /// page of the first post's comments and queue the next step.
    pub(crate) async fn comment_sync_step(
        &self,
        job: &SyncJob,
        route: &PageRoute,
        version: &str,
        token: &SecretString,
        out: &mut RecordOutcome,
    ) -> Result<(), RecordError> {
        let Some(sync) = &self.sync else { return Ok(()) };
        let graph = &sync.facebook.graph;
        let state = job.comments.clone().unwrap_or_default();
        let started = Instant::now();
        let next = match &state.posts {
            None => {
                let page = match graph.posts(&job.page_id, token, None).await {
                    Ok(p) => p,
                    Err(e) => return self.sync_stopped(job, version, "posts", e).await,
                };
                let since = domain::timefmt::now_ms() - RECENT_POSTS_MS;
                let posts: Vec<String> =
                    page.posts.into_iter().filter(|p| p.created_ms >= since).map(|p| p.id).collect();
                info!(page_id = %job.page_id, posts = posts.len(), "history sync: recent posts listed");
                Some(CommentSync { posts: Some(posts), after: None })
            }
            Some(posts) => match posts.first() {
                None => None,
                Some(post) => {
                    let page = match graph.comments(post, token, state.after.as_deref()).await {
                        Ok(p) => p,
                        Err(e) => return self.sync_stopped(job, version, "comments", e).await,
                    };
                    // The customers' comments first, so the Page's replies find the comment they
                    // answer already stored.
                    let (theirs, ours): (Vec<_>, Vec<_>) =
                        page.comments.iter().partition(|c| c.from_id != job.page_id);
                    for c in theirs.into_iter().chain(ours) {
                        let ev = comment_event(&job.page_id, post, c);
                        self.apply_comment(&ev, route, out, Source::History { hidden: c.is_hidden }).await?;
                    }
                    match page.next_after {
                        Some(after) => Some(CommentSync { posts: Some(posts.clone()), after: Some(after) }),
                        None => Some(CommentSync { posts: Some(posts[1..].to_vec()), after: None }),
                    }
                }
            },
        };
        match next {
            Some(c) if c.posts.as_ref().is_none_or(|p| !p.is_empty()) => {
                let next = SyncJob { step: job.step + 1, comments: Some(c), ..job.clone() };
                self.queue_next_step("history sync", next.to_queue_message()).await?;
            }
            _ => info!(page_id = %job.page_id, steps = job.step + 1, "history sync complete"),
        }
        if let Some(rest) = MIN_CALL_INTERVAL.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        Ok(())
    }

    /// A Graph failure in a sync step: retried through the queue when it is worth it, else the
    /// sync ends (the Page marked lost when its token or permission is the cause).
    pub(crate) async fn sync_stopped(
        &self,
        job: &SyncJob,
        version: &str,
        op: &'static str,
        e: GraphError,
    ) -> Result<(), RecordError> {
        if e.is_retryable() {
            return Err(RecordError::Graph { op, source: e });
        }
        if let Some(reason) = e.lost_reason() {
            self.stores.pages.mark_lost(&job.tenant_id, &job.page_id, version, &reason).await?;
        }
        warn!(page_id = %job.page_id, op, code = ?e.code, "history sync stopped by a Graph error");
        Ok(())
    }
}

/// A comment read from Graph as the webhook event it would have been.
fn comment_event(page_id: &str, post_id: &str, c: &GraphComment) -> InboundEvent {
    let direction = if c.from_id == page_id { Direction::Out } else { Direction::In };
    InboundEvent {
        page_id: page_id.to_string(),
        customer_id: c.from_id.clone(),
        timestamp_ms: c.created_ms,
        standby: false,
        body: EventBody::Comment {
            comment_id: c.id.clone(),
            verb: "add".into(),
            direction,
            post_id: Some(post_id.to_string()),
            parent_id: Some(c.parent_id.clone().unwrap_or_else(|| post_id.to_string())),
            text: c.text.clone(),
            from_name: c.from_name.clone(),
        },
    }
}
