//! [`FlakyStore`]: a conversation store that fails chosen calls (a worker crashing mid-batch).

use std::sync::Arc;

/// A conversation store that fails chosen calls, to play a worker crashing mid-batch. It counts
/// the messages that were really inserted, per id.
pub struct FlakyStore {
    inner: adapters::Stores,
    /// put_message fails on these (1-based) call numbers.
    fail_on_calls: std::collections::HashSet<usize>,
    calls: std::sync::atomic::AtomicUsize,
    pub inserted: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

impl FlakyStore {
    pub fn new(inner: adapters::Stores, fail_on_calls: impl IntoIterator<Item = usize>) -> FlakyStore {
        FlakyStore {
            inner,
            fail_on_calls: fail_on_calls.into_iter().collect(),
            calls: Default::default(),
            inserted: Default::default(),
        }
    }

    pub fn stores(self: &Arc<Self>) -> adapters::Stores {
        adapters::Stores {
            pages: self.inner.pages.clone(),
            members: self.inner.members.clone(),
            nonces: self.inner.nonces.clone(),
            rules: self.inner.rules.clone(),
            facebook_users: self.inner.facebook_users.clone(),
            erasure: self.inner.erasure.clone(),
            comments: self.inner.comments.clone(),
            conversations: self.clone(),
        }
    }
}

#[async_trait::async_trait]
impl domain::ports::ConversationStore for FlakyStore {
    async fn touch_conversation(
        &self,
        t: &domain::ports::ConversationTouch,
    ) -> Result<domain::model::Conversation, domain::ports::StoreError> {
        self.inner.conversations.touch_conversation(t).await
    }
    async fn complete_assignment(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        a: &domain::ports::Assignment,
    ) -> Result<bool, domain::ports::StoreError> {
        self.inner.conversations.complete_assignment(tenant_id, conversation_id, a).await
    }
    async fn set_customer_name(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        name: &str,
    ) -> Result<(), domain::ports::StoreError> {
        self.inner.conversations.set_customer_name(tenant_id, conversation_id, name).await
    }
    async fn begin_reply(
        &self,
        tenant_id: &str,
        m: &domain::model::Message,
    ) -> Result<Option<domain::model::Message>, domain::ports::StoreError> {
        self.inner.conversations.begin_reply(tenant_id, m).await
    }
    async fn settle_reply(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        reply_id: &str,
        outcome: &domain::reply::ReplyOutcome,
    ) -> Result<Option<domain::model::Message>, domain::ports::StoreError> {
        self.inner.conversations.settle_reply(tenant_id, conversation_id, reply_id, outcome).await
    }
    async fn claim(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        rule_id: &str,
        email: &str,
    ) -> Result<domain::ports::ClaimOutcome, domain::ports::StoreError> {
        self.inner.conversations.claim(tenant_id, conversation_id, rule_id, email).await
    }
    async fn reassign(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        from: &str,
        to: &domain::ports::Assignment,
    ) -> Result<bool, domain::ports::StoreError> {
        self.inner.conversations.reassign(tenant_id, conversation_id, from, to).await
    }
    async fn put_message(
        &self,
        tenant_id: &str,
        m: &domain::model::Message,
    ) -> Result<bool, domain::ports::StoreError> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if self.fail_on_calls.contains(&n) {
            return Err(domain::ports::StoreError::Backend {
                op: "PutItem",
                source: "injected crash".into(),
            });
        }
        let inserted = self.inner.conversations.put_message(tenant_id, m).await?;
        if inserted {
            *self.inserted.lock().unwrap_or_else(|p| p.into_inner()).entry(m.id.clone()).or_default() += 1;
        }
        Ok(inserted)
    }
    async fn advance_watermark(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        kind: domain::ports::WatermarkKind,
        w: i64,
    ) -> Result<(), domain::ports::StoreError> {
        self.inner.conversations.advance_watermark(tenant_id, conversation_id, kind, w).await
    }
    async fn conversation(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<domain::model::Conversation>, domain::ports::StoreError> {
        self.inner.conversations.conversation(tenant_id, id).await
    }
    async fn list_conversations(
        &self,
        tenant_id: &str,
        f: &domain::ports::ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<domain::model::Paged<domain::model::Conversation>, domain::ports::StoreError> {
        self.inner.conversations.list_conversations(tenant_id, f, cursor, limit).await
    }
    async fn list_messages(
        &self,
        tenant_id: &str,
        id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<domain::model::Paged<domain::model::Message>, domain::ports::StoreError> {
        self.inner.conversations.list_messages(tenant_id, id, cursor, limit).await
    }
    async fn delete_conversation(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<usize, domain::ports::StoreError> {
        self.inner.conversations.delete_conversation(tenant_id, id).await
    }
}
