//! The Graph endpoints the product calls (`impl Graph for HttpGraph`), and the JSON shapes of
//! their answers, only the fields read. The client that sends them, retries and scrubs is the
//! parent module.

use async_trait::async_trait;
use domain::graph::{
    CommentsPage, ConversationsPage, Graph, GraphConversation, GraphError, GraphMessage, GraphPage,
    MessagingType, PostsPage, PrivateReplySent, TokenInfo,
};
use domain::timefmt::parse_meta_time;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::*;

/// How long the worker's best-effort profile lookup may take (one attempt, no retry).
const PROFILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

// ---- Graph's JSON, only the fields read (the token-holding ones have no Debug) ----

#[derive(Deserialize)]
struct TokenJson {
    access_token: String,
}

#[derive(Deserialize)]
struct DataList<T> {
    data: Vec<T>,
    #[serde(default)]
    paging: Option<PagingJson>,
}

#[derive(Deserialize)]
struct PagingJson {
    #[serde(default)]
    cursors: Option<CursorsJson>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct CursorsJson {
    #[serde(default)]
    after: Option<String>,
}

#[derive(Deserialize)]
struct PermissionJson {
    permission: String,
    status: String,
}

#[derive(Deserialize)]
struct AccountJson {
    id: String,
    #[serde(default)]
    name: String,
    access_token: String,
    #[serde(default)]
    tasks: Vec<String>,
}

#[derive(Deserialize)]
struct SubscribedAppJson {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    subscribed_fields: Vec<String>,
}

#[derive(Deserialize)]
struct DebugTokenJson {
    data: DebugTokenData,
}

#[derive(Deserialize)]
struct DebugTokenData {
    #[serde(default)]
    is_valid: bool,
    #[serde(default)]
    expires_at: i64,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct IdJson {
    id: String,
}

/// A participant of a thread, or a person's profile: `{"id", "name"}`.
#[derive(Deserialize)]
struct NamedJson {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ConversationJson {
    id: String,
    #[serde(default)]
    updated_time: serde_json::Value,
    #[serde(default)]
    participants: Option<DataList<NamedJson>>,
    #[serde(default)]
    messages: Option<DataList<MessageJson>>,
}

#[derive(Deserialize)]
struct MessageJson {
    id: String,
    #[serde(default)]
    created_time: serde_json::Value,
    #[serde(default)]
    from: Option<IdJson>,
    #[serde(default)]
    message: Option<String>,
}

fn to_conversation(c: ConversationJson) -> GraphConversation {
    let mut messages = Vec::new();
    for m in c.messages.map(|l| l.data).unwrap_or_default() {
        let (Some(created_ms), Some(from)) = (parse_meta_time(&m.created_time), m.from) else {
            tracing::warn!(conversation_id = %c.id, mid = %m.id, "message without created_time or from; skipped");
            continue;
        };
        // Attachment-only messages come with an empty text.
        let text = m.message.filter(|t| !t.is_empty());
        messages.push(GraphMessage { id: m.id, created_ms, from_id: from.id, text });
    }
    let updated_ms = parse_meta_time(&c.updated_time).unwrap_or_else(|| {
        tracing::warn!(conversation_id = %c.id, "conversation without a readable updated_time");
        messages.iter().map(|m| m.created_ms).max().unwrap_or(0)
    });
    let participants = c.participants.map(|l| l.data).unwrap_or_default();
    let participant_names = participants
        .iter()
        .filter_map(|p| Some((p.id.clone(), p.name.clone().filter(|n| !n.trim().is_empty())?)))
        .collect();
    let participant_ids = participants.into_iter().map(|p| p.id).collect();
    GraphConversation { id: c.id, updated_ms, participant_ids, participant_names, messages }
}

#[async_trait]
impl Graph for HttpGraph {
    #[tracing::instrument(name = "graph.exchange_code", skip_all)]
    async fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<SecretString, GraphError> {
        let secret = self.app_secret()?;
        let url = self.url(
            &["oauth", "access_token"],
            &[
                ("client_id", &self.app_id),
                ("redirect_uri", redirect_uri),
                ("client_secret", secret),
                ("code", code),
            ],
        )?;
        let t: TokenJson = self.call(self.get("exchange_code", url, vec![secret, code])).await?;
        Ok(SecretString::from(t.access_token))
    }

    #[tracing::instrument(name = "graph.long_lived_token", skip_all)]
    async fn long_lived_token(&self, short_lived: &SecretString) -> Result<SecretString, GraphError> {
        let secret = self.app_secret()?;
        let short = short_lived.expose_secret();
        let url = self.url(
            &["oauth", "access_token"],
            &[
                ("grant_type", "fb_exchange_token"),
                ("client_id", &self.app_id),
                ("client_secret", secret),
                ("fb_exchange_token", short),
            ],
        )?;
        let t: TokenJson = self.call(self.get("long_lived_token", url, vec![secret, short])).await?;
        Ok(SecretString::from(t.access_token))
    }

    #[tracing::instrument(name = "graph.permissions", skip_all)]
    async fn permissions(&self, user_token: &SecretString) -> Result<Vec<(String, String)>, GraphError> {
        let token = user_token.expose_secret();
        let url = self.url(&["me", "permissions"], &[("access_token", token)])?;
        let list: DataList<PermissionJson> = self.call(self.get("permissions", url, vec![token])).await?;
        Ok(list.data.into_iter().map(|p| (p.permission, p.status)).collect())
    }

    #[tracing::instrument(name = "graph.accounts", skip_all, fields(pages = tracing::field::Empty))]
    async fn accounts(&self, user_token: &SecretString) -> Result<Vec<GraphPage>, GraphError> {
        let token = user_token.expose_secret();
        let mut url = self.url(
            &["me", "accounts"],
            &[("fields", ACCOUNT_FIELDS), ("limit", "100"), ("access_token", token)],
        )?;
        let mut pages = Vec::new();
        for _ in 0..MAX_ACCOUNT_PAGES {
            let list: DataList<AccountJson> = self.call(self.get("accounts", url, vec![token])).await?;
            pages.extend(list.data.into_iter().map(|a| GraphPage {
                id: a.id,
                name: a.name,
                access_token: SecretString::from(a.access_token),
                tasks: a.tasks,
            }));
            match list.paging.and_then(|p| p.next) {
                Some(next) => url = self.next_url("accounts", &next, token)?,
                None => {
                    tracing::Span::current().record("pages", pages.len());
                    return Ok(pages);
                }
            }
        }
        Err(internal(format!("accounts: more than {MAX_ACCOUNT_PAGES} result pages; paging stopped")))
    }

    #[tracing::instrument(name = "graph.subscribe_page", skip_all, fields(page_id = %page_id))]
    async fn subscribe_page(
        &self,
        page_id: &str,
        page_token: &SecretString,
        fields: &[&str],
    ) -> Result<(), GraphError> {
        let page = Self::page_segment(page_id)?;
        let token = page_token.expose_secret();
        let joined = fields.join(",");
        let url = self
            .url(&[&page, "subscribed_apps"], &[("subscribed_fields", &joined), ("access_token", token)])?;
        let call = Call {
            op: "subscribe_page",
            method: Method::POST,
            url,
            secrets: vec![token],
            body: None,
            page: Some(page_id.to_string()),
        };
        self.call_success(call).await
    }

    #[tracing::instrument(name = "graph.send_text", skip_all, fields(page_id = %page_id))]
    async fn send_text(
        &self,
        page_id: &str,
        page_token: &SecretString,
        recipient_id: &str,
        text: &str,
        messaging: MessagingType,
        metadata: &str,
    ) -> Result<String, GraphError> {
        #[derive(serde::Deserialize)]
        struct Sent {
            message_id: String,
        }
        let page = Self::page_segment(page_id)?;
        let token = page_token.expose_secret();
        let url = self.url(&[&page, "messages"], &[("access_token", token)])?;
        let mut message = serde_json::json!({"text": text});
        if !metadata.is_empty() {
            // Meta hands it back on the echo: how the echo finds the reply it is the echo of.
            message["metadata"] = metadata.into();
        }
        let mut body = serde_json::json!({
            "recipient": {"id": recipient_id},
            "message": message,
        });
        match messaging {
            MessagingType::Response => body["messaging_type"] = "RESPONSE".into(),
            MessagingType::HumanAgent => {
                body["messaging_type"] = "MESSAGE_TAG".into();
                body["tag"] = "HUMAN_AGENT".into();
            }
        }
        let call = Call {
            op: "send_text",
            method: Method::POST,
            url,
            secrets: vec![token],
            body: Some(body),
            page: Some(page_id.to_string()),
        };
        // Never repeated after a timeout or a 5xx: the first may have gone out.
        let sent: Sent = self.call_unrepeatable(call).await?;
        Ok(sent.message_id)
    }

    #[tracing::instrument(name = "graph.unsubscribe_page", skip_all, fields(page_id = %page_id))]
    async fn unsubscribe_page(&self, page_id: &str, page_token: &SecretString) -> Result<(), GraphError> {
        let page = Self::page_segment(page_id)?;
        let token = page_token.expose_secret();
        let url = self.url(&[&page, "subscribed_apps"], &[("access_token", token)])?;
        let call = Call {
            op: "unsubscribe_page",
            method: Method::DELETE,
            url,
            secrets: vec![token],
            body: None,
            page: Some(page_id.to_string()),
        };
        self.call_success(call).await
    }

    #[tracing::instrument(name = "graph.subscribed_fields", skip_all, fields(page_id = %page_id))]
    async fn subscribed_fields(
        &self,
        page_id: &str,
        page_token: &SecretString,
    ) -> Result<Vec<String>, GraphError> {
        let page = Self::page_segment(page_id)?;
        let token = page_token.expose_secret();
        let url = self.url(&[&page, "subscribed_apps"], &[("access_token", token)])?;
        let list: DataList<SubscribedAppJson> =
            self.call(self.get("subscribed_fields", url, vec![token]).on_page(page_id)).await?;
        Ok(list
            .data
            .into_iter()
            .find(|a| a.id.as_deref() == Some(self.app_id.as_str()))
            .map(|a| a.subscribed_fields)
            .unwrap_or_default())
    }

    #[tracing::instrument(name = "graph.debug_token", skip_all)]
    async fn debug_token(&self, token: &SecretString) -> Result<TokenInfo, GraphError> {
        let input = token.expose_secret();
        let secret = self.app_secret()?;
        let app_token = format!("{}|{secret}", self.app_id);
        let url = self.url(&["debug_token"], &[("input_token", input), ("access_token", &app_token)])?;
        let r: DebugTokenJson = self.call(self.get("debug_token", url, vec![input, secret])).await?;
        Ok(TokenInfo { is_valid: r.data.is_valid, expires_at: r.data.expires_at, scopes: r.data.scopes })
    }

    #[tracing::instrument(name = "graph.conversations", skip_all, fields(page_id = %page_id, conversations = tracing::field::Empty))]
    async fn conversations(
        &self,
        page_id: &str,
        page_token: &SecretString,
        after: Option<&str>,
    ) -> Result<ConversationsPage, GraphError> {
        let page = Self::page_segment(page_id)?;
        let token = page_token.expose_secret();
        let mut query =
            vec![("platform", "messenger"), ("fields", CONVERSATION_FIELDS), ("access_token", token)];
        if let Some(a) = after {
            query.push(("after", a));
        }
        let url = self.url(&[&page, "conversations"], &query)?;
        let list: DataList<ConversationJson> =
            self.call(self.get("conversations", url, vec![token]).on_page(page_id)).await?;
        let next_after = list
            .paging
            .filter(|p| p.next.is_some())
            .and_then(|p| p.cursors)
            .and_then(|c| c.after)
            .filter(|a| !a.is_empty());
        let conversations: Vec<GraphConversation> = list.data.into_iter().map(to_conversation).collect();
        tracing::Span::current().record("conversations", conversations.len());
        Ok(ConversationsPage { conversations, next_after })
    }

    #[tracing::instrument(name = "graph.user_id", skip_all)]
    async fn user_id(&self, user_token: &SecretString) -> Result<String, GraphError> {
        let token = user_token.expose_secret();
        let url = self.url(&["me"], &[("fields", "id"), ("access_token", token)])?;
        let me: IdJson = self.call(self.get("user_id", url, vec![token])).await?;
        Ok(me.id)
    }

    #[tracing::instrument(name = "graph.profile_name", skip_all)]
    async fn profile_name(
        &self,
        psid: &str,
        page_token: &SecretString,
    ) -> Result<Option<String>, GraphError> {
        // A PSID is digits, like a Page id: checked the same way before it becomes a path.
        let person = Self::page_segment(psid)?;
        let token = page_token.expose_secret();
        let url = self.url(&[&person], &[("fields", "name"), ("access_token", token)])?;
        // One attempt, briefly: a name is a nicety the worker must not wait or retry for.
        let call = self.get("profile_name", url, vec![token]);
        let timeout = PROFILE_TIMEOUT.min(self.policy.timeout);
        let p: NamedJson = self.attempt_timed(&call, Some(timeout)).await.map_err(|(e, _)| {
            log_failure(call.op, 1, &e, None, None);
            e
        })?;
        Ok(p.name.filter(|n| !n.trim().is_empty()))
    }

    // The comment calls live in `graph/comments.rs`.
    async fn reply_comment(
        &self,
        page_token: &SecretString,
        comment_id: &str,
        text: &str,
    ) -> Result<String, GraphError> {
        self.reply_comment_call(page_token, comment_id, text).await
    }

    async fn private_reply(
        &self,
        page_id: &str,
        page_token: &SecretString,
        comment_id: &str,
        text: &str,
        metadata: &str,
    ) -> Result<PrivateReplySent, GraphError> {
        self.private_reply_call(page_id, page_token, comment_id, text, metadata).await
    }

    async fn set_comment_hidden(
        &self,
        page_token: &SecretString,
        comment_id: &str,
        hidden: bool,
    ) -> Result<(), GraphError> {
        self.set_comment_hidden_call(page_token, comment_id, hidden).await
    }

    async fn delete_comment(&self, page_token: &SecretString, comment_id: &str) -> Result<(), GraphError> {
        self.delete_comment_call(page_token, comment_id).await
    }

    async fn posts(
        &self,
        page_id: &str,
        page_token: &SecretString,
        after: Option<&str>,
    ) -> Result<PostsPage, GraphError> {
        self.posts_call(page_id, page_token, after).await
    }

    async fn comments(
        &self,
        post_id: &str,
        page_token: &SecretString,
        after: Option<&str>,
    ) -> Result<CommentsPage, GraphError> {
        self.comments_call(post_id, page_token, after).await
    }
}
