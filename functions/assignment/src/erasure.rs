//! Deleting a Page's conversations for a shop (`DELETE /api/pages/{page_id}`), one step per
//! queue message: list up to a page of the shop's conversations of the Page (a Query on the
//! Page's inbox index, never a scan), delete each (messages, then header), and queue the next
//! step while some remain. A deleted conversation leaves the listing, so each step starts from
//! the top again; a redelivered step deletes what is left, nothing twice.

use domain::event::EraseJob;
use domain::ports::ConversationFilter;
use tracing::{error, info};

use crate::{RecordError, Worker};

/// Conversations deleted per step (one queue message).
pub const ERASE_STEP_SIZE: usize = 25;
/// A guard against a listing that keeps showing deleted conversations (index lag): stop after
/// this many steps and log it (250,000 conversations).
const MAX_ERASE_STEPS: u32 = 10_000;

/// What one step deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    pub conversations: usize,
    pub messages: usize,
}

impl Worker {
    pub async fn erase_step(&self, job: &EraseJob) -> Result<Erased, RecordError> {
        let tenant = job.tenant_id.as_str();
        // The shop connected the Page again meanwhile: its conversations are live again.
        if let Some(route) = self.stores.pages.page_route(&job.page_id).await?
            && route.tenant_id == tenant
        {
            info!(page_id = %job.page_id, tenant_id = %tenant, "the Page is connected again; its data deletion stops");
            return Ok(Erased::default());
        }
        let of_page = ConversationFilter::All { page_id: Some(job.page_id.clone()) };
        let conversations = &self.stores.conversations;
        let page = conversations.list_conversations(tenant, &of_page, None, ERASE_STEP_SIZE).await?;
        let mut erased = Erased::default();
        for c in page.items.iter().filter(|c| c.page_id == job.page_id) {
            erased.messages += conversations.delete_conversation(tenant, &c.id).await?;
            erased.conversations += 1;
        }
        info!(
            page_id = %job.page_id,
            tenant_id = %tenant,
            step = job.step,
            conversations = erased.conversations,
            messages = erased.messages,
            "Page data deletion step"
        );
        let more = page.items.len() == ERASE_STEP_SIZE || page.next_cursor.is_some();
        if more && job.step < MAX_ERASE_STEPS {
            let next = EraseJob { step: job.step + 1, ..job.clone() };
            self.queue_next_step("Page data deletion", next.to_queue_message()).await?;
        } else if more {
            error!(page_id = %job.page_id, tenant_id = %tenant, "Page data deletion stopped after too many steps");
        }
        Ok(erased)
    }
}
