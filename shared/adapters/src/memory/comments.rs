//! [`CommentStore`] (`docs/comments.md`, "Storage").

use async_trait::async_trait;
use domain::comments::{AutoHide, CommentChange, CommentState, Handoff, PrivateReplyMark};
use domain::model::Message;
use domain::ports::{CommentStore, StoreError};

use super::MemoryStore;

fn todo() -> StoreError {
    StoreError::Conflict("TODO comment store".into())
}

#[async_trait]
impl CommentStore for MemoryStore {
    async fn comment(&self, _tenant_id: &str, _comment_id: &str) -> Result<Option<Message>, StoreError> {
        Err(todo())
    }
    async fn comment_in(&self, _t: &str, _c: &str, _id: &str) -> Result<Option<Message>, StoreError> {
        Err(todo())
    }
    async fn change_comment(
        &self,
        _t: &str,
        _c: &str,
        _id: &str,
        _ch: &CommentChange,
    ) -> Result<Option<Message>, StoreError> {
        Err(todo())
    }
    async fn mark_private_reply(
        &self,
        _t: &str,
        _c: &str,
        _id: &str,
        _m: &PrivateReplyMark,
    ) -> Result<bool, StoreError> {
        Err(todo())
    }
    async fn release_private_reply(&self, _t: &str, _c: &str, _id: &str, _r: &str) -> Result<(), StoreError> {
        Err(todo())
    }
    async fn adopt_comment(&self, _t: &str, _c: &str, _s: &CommentState) -> Result<(), StoreError> {
        Err(todo())
    }
    async fn auto_hide(&self, _t: &str, _p: &str) -> Result<AutoHide, StoreError> {
        Err(todo())
    }
    async fn set_auto_hide(&self, _t: &str, _p: &str, _s: AutoHide) -> Result<(), StoreError> {
        Err(todo())
    }
    async fn put_handoff(&self, _t: &str, _c: &str, _h: &Handoff) -> Result<(), StoreError> {
        Err(todo())
    }
    async fn handoff(&self, _t: &str, _c: &str) -> Result<Option<Handoff>, StoreError> {
        Err(todo())
    }
    async fn complete_handoff(&self, _t: &str, _c: &str, _h: &Handoff) -> Result<bool, StoreError> {
        Err(todo())
    }
}
