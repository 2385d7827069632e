//! The port of Page comments' own storage (`docs/comments.md`): a stored comment found by its
//! id, its state changed in place (edits, removal, hiding, the one private reply), each Page's
//! auto-hide setting, and the hand-off of a private reply's Messenger follow-up. Comments are
//! messages of their conversation, put by [`super::ConversationStore::put_message`] like any
//! other; a message carrying [`crate::comments::CommentState`] is also findable by its comment
//! id within its shop.

use async_trait::async_trait;

use super::StoreError;
use crate::comments::{AutoHide, CommentChange, Handoff, PrivateReplyMark};
use crate::model::Message;

#[async_trait]
pub trait CommentStore: Send + Sync {
    /// The shop's stored comment with this id, in whichever conversation holds it (an index
    /// lookup, eventually consistent: a comment stored a moment ago may not be found yet).
    async fn comment(&self, tenant_id: &str, comment_id: &str) -> Result<Option<Message>, StoreError>;
    /// The stored comment in a known conversation, read strongly.
    async fn comment_in(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
    ) -> Result<Option<Message>, StoreError>;
    /// Applies a change to a stored comment in one conditional write; returns the comment as it
    /// now stands, or None when no comment with that id is stored there. An edit no newer than
    /// the latest one applied changes nothing (and returns the comment as it is).
    async fn change_comment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
        change: &CommentChange,
    ) -> Result<Option<Message>, StoreError>;
    /// Marks the comment as privately replied to, only if it has no private reply yet: the
    /// guard of Meta's one private reply per comment. False when it already had one (or the
    /// comment is not stored).
    async fn mark_private_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
        mark: &PrivateReplyMark,
    ) -> Result<bool, StoreError>;
    /// Takes the mark back after a private reply Meta refused (nothing went out), only while it
    /// is still `reply_id`'s.
    async fn release_private_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        comment_id: &str,
        reply_id: &str,
    ) -> Result<(), StoreError>;
    /// Makes a reply the shop posted under a comment (settled under Meta's new comment id) a
    /// stored comment of the conversation, findable by its id. Nothing when it is not stored.
    async fn adopt_comment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        state: &crate::comments::CommentState,
    ) -> Result<(), StoreError>;
    /// The Page's auto-hide setting in the shop (off when never set).
    async fn auto_hide(&self, tenant_id: &str, page_id: &str) -> Result<AutoHide, StoreError>;
    async fn set_auto_hide(
        &self,
        tenant_id: &str,
        page_id: &str,
        setting: AutoHide,
    ) -> Result<(), StoreError>;
    /// Records that the customer reached by a private reply (their Messenger conversation
    /// `conversation_id`) belongs to `handoff.by` when they answer. A later private reply to
    /// the same customer replaces it. Expires after [`crate::comments::HANDOFF_TTL_MS`].
    async fn put_handoff(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        handoff: &Handoff,
    ) -> Result<(), StoreError>;
    /// The hand-off waiting for a Messenger conversation, if any (read strongly).
    async fn handoff(&self, tenant_id: &str, conversation_id: &str) -> Result<Option<Handoff>, StoreError>;
    /// Completes the assignment of a conversation still pending by giving it to the hand-off's
    /// member, recording where it came from, in one write conditional on it still pending;
    /// false (nothing changed) when it was assigned already or does not exist.
    async fn complete_handoff(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        handoff: &Handoff,
    ) -> Result<bool, StoreError>;
}
