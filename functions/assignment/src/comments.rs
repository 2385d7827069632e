//! Page comments in the worker (`docs/comments.md`): a customer's comment joins (or starts) the
//! conversation of their comments on that post, routed like a Messenger conversation; an edit,
//! removal or hide updates the stored comment in place; the Page's own comment (a reply from
//! this product or from Facebook) joins the conversation of the comment it answers, as the same
//! message when this product posted it; auto-hide hides a comment at Meta before it is first
//! stored (from a webhook or history sync), so the stored comment says hidden with no extra
//! write.
//!
//! Writes per comment in an existing conversation stay within the message budget: the header's
//! move (its update and the inbox move log, phones in the same update) and the comment's put,
//! or, for an edit, at most the header's phones and the comment's update.

use domain::comments::CommentChange;
use domain::event::{EventBody, InboundEvent};
use domain::model::{Direction, LastMessage, Message, PageRoute, PageStatus};
use domain::ports::ConversationTouch;
use secrecy::SecretString;
use tracing::{info, warn};

use crate::{RecordError, RecordOutcome, Worker};

/// How many times, and how far apart, the comment a Page's comment answers is looked for.
const PARENT_LOOKUPS: u32 = 3;
const PARENT_LOOKUP_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// Where a comment comes from: a webhook (routed as a new conversation), or history sync (routed
/// by the old-conversation policy, its hidden state as Graph reported it). Auto-hide applies to
/// both, when they store the comment first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Webhook,
    History { hidden: bool },
}

impl Worker {
    /// Applies one comment event of a routed Page.
    pub(crate) async fn apply_comment(
        &self,
        ev: &InboundEvent,
        route: &PageRoute,
        out: &mut RecordOutcome,
        source: Source,
    ) -> Result<(), RecordError> {
        let EventBody::Comment { comment_id, direction, parent_id, post_id, from_name, .. } = &ev.body else {
            return Ok(());
        };
        let Some(mut message) = ev.to_message() else { return Ok(()) };
        let tenant = route.tenant_id.as_str();
        // The conversation: the author's comments on the post, or, for the Page's own comment,
        // the conversation of the comment it answers.
        let (conversation_id, customer_id) = match direction {
            Direction::In => (ev.conversation_id(), ev.customer_id.clone()),
            Direction::Out => {
                let parent = parent_id.as_deref().filter(|p| Some(*p) != post_id.as_deref());
                let found = match parent {
                    Some(p) => self.answered_comment(tenant, p).await?,
                    None => None,
                };
                let conv = match found {
                    Some(m) => self.stores.conversations.conversation(tenant, &m.conversation_id).await?,
                    None => None,
                };
                let Some(conv) = conv else {
                    info!(page_id = %ev.page_id, comment_id = %comment_id,
                        "the Page's own comment answers no stored comment; acknowledged, not stored");
                    out.dropped_unrouted += 1;
                    return Ok(());
                };
                (conv.id, conv.customer_id)
            }
        };
        message.conversation_id = conversation_id.clone();
        let phones = match direction {
            Direction::In => message.text.as_deref().map(domain::phones::find_phones).unwrap_or_default(),
            Direction::Out => Vec::new(),
        };

        if let Some(change) = ev.comment_change() {
            let changed =
                self.stores.comments.change_comment(tenant, &conversation_id, comment_id, &change).await?;
            if changed.is_some() {
                if matches!(change, CommentChange::Edited { .. }) && !phones.is_empty() {
                    // Only the numbers the edit brings: a touch that never moves the conversation.
                    let touch = ConversationTouch {
                        tenant_id: tenant.to_string(),
                        conversation_id: conversation_id.clone(),
                        page_id: ev.page_id.clone(),
                        customer_id: customer_id.clone(),
                        activity_ms: 0,
                        phones,
                        ..ConversationTouch::default()
                    };
                    self.stores.conversations.touch_conversation(&touch).await?;
                }
                out.stored += 1;
                return Ok(());
            }
            // A change of a comment never stored (it came before the Page was connected, or its
            // add was lost): stored as it now stands, below, so nothing is dropped.
            if let (CommentChange::Edited { at_ms, .. }, Some(state)) = (&change, message.comment.as_mut()) {
                state.edited_ms = Some(*at_ms);
            }
        } else {
            let already_hidden = matches!(source, Source::History { hidden: true });
            // Whichever of the webhook and history sync stores a comment first applies the
            // Page's auto-hide: a comment arriving while the Page's history is read is never
            // stored visible by the sync and then skipped by the webhook as already stored.
            let hide = !already_hidden
                && *direction == Direction::In
                && self.auto_hides(route, &message).await?
                && self.hide_at_meta(route, &message).await;
            if let Some(state) = message.comment.as_mut() {
                state.hidden = already_hidden || hide;
            }
        }

        let from_customer = *direction == Direction::In;
        let touch = ConversationTouch {
            tenant_id: tenant.to_string(),
            conversation_id: conversation_id.clone(),
            page_id: ev.page_id.clone(),
            customer_id,
            activity_ms: ev.timestamp_ms,
            customer_ms: from_customer.then_some(ev.timestamp_ms),
            last_message: Some(LastMessage::of(&message)),
            customer_name: from_name.clone().filter(|_| from_customer),
            post_id: post_id.clone(),
            phones,
        };
        let conv = self.stores.conversations.touch_conversation(&touch).await?;
        if conv.assignment_pending {
            let target = match source {
                Source::Webhook => self.assignment_for(route).await?,
                Source::History { .. } => self.history_target(route, conv.last_customer_message_ms).await?,
            };
            if self.assign_pending(tenant, &conversation_id, &target).await? {
                info!(conversation_id = %conversation_id, target = ?target, "new comment conversation assigned");
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

    /// The stored comment a Page's comment answers. The customer's comment travels in another
    /// queue group than the Page's answer (the author is only known once it is stored), so it
    /// may be stored a moment later, by a record running beside this one, and the index that
    /// finds it by id is eventually consistent: a miss is looked up again briefly before the
    /// answer is taken for one to a comment never stored.
    async fn answered_comment(&self, tenant: &str, parent_id: &str) -> Result<Option<Message>, RecordError> {
        for attempt in 0..PARENT_LOOKUPS {
            if attempt > 0 {
                tokio::time::sleep(PARENT_LOOKUP_PAUSE).await;
            }
            if let Some(m) = self.stores.comments.comment(tenant, parent_id).await? {
                return Ok(Some(m));
            }
        }
        Ok(None)
    }

    /// Whether the Page's auto-hide takes this new customer comment, and it is not stored yet
    /// (a redelivery never hides again what the shop may have unhidden since).
    async fn auto_hides(&self, route: &PageRoute, m: &Message) -> Result<bool, RecordError> {
        let tenant = route.tenant_id.as_str();
        let setting = self.stores.comments.auto_hide(tenant, &route.page_id).await?;
        if !setting.hides(m.text.as_deref()) {
            return Ok(false);
        }
        let comment_id = m.comment.as_ref().map(|c| c.comment_id.as_str()).unwrap_or(&m.id);
        Ok(self.stores.comments.comment_in(tenant, &m.conversation_id, comment_id).await?.is_none())
    }

    /// Hides the comment at Meta with the holder's token; whether it did. A failure (after the
    /// Graph client's own retries) leaves it visible and is logged: the comment is stored either
    /// way, never held back for a hide, and the shop can still hide it from the inbox.
    async fn hide_at_meta(&self, route: &PageRoute, m: &Message) -> bool {
        let comment_id = m.comment.as_ref().map(|c| c.comment_id.as_str()).unwrap_or(&m.id);
        let Some((token, version)) = self.held_token(route).await else {
            warn!(page_id = %route.page_id, comment_id, "auto-hide skipped: no usable Page token");
            adapters::telemetry::count("AutoHideFailed", 1, ("Function", "assignment"));
            return false;
        };
        let Some(sync) = &self.sync else { return false };
        match sync.facebook.graph.set_comment_hidden(&token, comment_id, true).await {
            Ok(()) => {
                info!(page_id = %route.page_id, comment_id, "comment auto-hidden");
                true
            }
            Err(e) => {
                warn!(page_id = %route.page_id, comment_id, code = ?e.code, status = e.status,
                    "auto-hide failed; the comment stays visible");
                adapters::telemetry::count("AutoHideFailed", 1, ("Function", "assignment"));
                if let Some(reason) = e.lost_reason()
                    && let Err(se) =
                        self.stores.pages.mark_lost(&route.tenant_id, &route.page_id, &version, &reason).await
                {
                    warn!(error = %adapters::telemetry::error_chain(&se), "could not record the lost connection");
                }
                false
            }
        }
    }

    /// The holder's Page token and connection version, when this worker has Graph access and
    /// the route's shop holds the Page, connected, with a readable token.
    pub(crate) async fn held_token(&self, route: &PageRoute) -> Option<(SecretString, String)> {
        let sync = self.sync.as_ref()?;
        let holder = match self.stores.pages.holder(&route.page_id).await {
            Ok(h) => h?,
            Err(e) => {
                warn!(page_id = %route.page_id, error = %adapters::telemetry::error_chain(&e), "the Page's holder could not be read");
                return None;
            }
        };
        let held = holder.route.tenant_id == route.tenant_id
            && holder.route.status == PageStatus::Connected
            && !holder.draft;
        let sealed = holder.token_enc.filter(|_| held)?;
        match sync.facebook.cipher.decrypt(&route.tenant_id, &route.page_id, &sealed) {
            Ok(token) => Some((token, holder.version)),
            Err(_) => {
                warn!(page_id = %route.page_id, "stored Page token unreadable");
                None
            }
        }
    }
}
