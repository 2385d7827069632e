//! The `Graph` port over HTTPS (`docs/meta-platform.md`: Facebook Login, Page subscription, Conversations
//! API, Errors): one reqwest client, rate limits and transient failures retried with exponential backoff,
//! Graph's error bodies classified by the domain.
//!
//! Tokens travel in the `access_token` query parameter, as Graph documents, so a URL is never
//! printed: reqwest errors lose theirs (`without_url`) before they are formatted, and every
//! text that reaches a `GraphError` is scrubbed of the tokens and the app secret of its call.

use async_trait::async_trait;
use domain::graph::{
    ConversationsPage, Graph, GraphConversation, GraphError, GraphErrorKind, GraphMessage, GraphPage,
    MessagingType, TokenInfo,
};
use domain::timefmt::parse_meta_time;
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::{self, ConfigError};

/// Graph's address when `FB_GRAPH_URL` is not set.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com/v25.0";

/// `/me/accounts` pages followed at most (100 Pages each) before giving up on a looping cursor.
const MAX_ACCOUNT_PAGES: usize = 200;

const ACCOUNT_FIELDS: &str = "id,name,access_token,tasks";
const CONVERSATION_FIELDS: &str =
    "participants,updated_time,messages.limit(20){id,created_time,from,to,message}";

pub use crate::retry::RetryPolicy;

/// Why an `HttpGraph` could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GraphSetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the Graph API base URL is invalid: {0}")]
    BaseUrl(String),
    #[error("building the HTTP client failed")]
    Client(#[source] reqwest::Error),
}

/// The Graph API client. Its `Debug` shows the address and app id, never the secret.
#[derive(Clone)]
pub struct HttpGraph {
    client: reqwest::Client,
    base: Url,
    app_id: String,
    app_secret: SecretString,
    policy: RetryPolicy,
}

impl std::fmt::Debug for HttpGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGraph")
            .field("base_url", &self.base.as_str())
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .field("policy", &self.policy)
            .finish()
    }
}

/// One Graph request: its URL carries tokens, so this type has no `Debug`.
struct Call<'a> {
    op: &'static str,
    method: Method,
    url: Url,
    /// Texts to scrub from anything that becomes an error message.
    secrets: Vec<&'a str>,
    /// A JSON body (the Send API).
    body: Option<serde_json::Value>,
}

impl HttpGraph {
    /// `base_url` is `FB_GRAPH_URL`, version included (`https://graph.facebook.com/v25.0`).
    pub fn new(
        base_url: String,
        app_id: String,
        app_secret: SecretString,
        policy: RetryPolicy,
    ) -> Result<HttpGraph, GraphSetupError> {
        let base = Url::parse(base_url.trim().trim_end_matches('/'))
            .map_err(|e| GraphSetupError::BaseUrl(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(GraphSetupError::BaseUrl("not an http(s) URL".into()));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(GraphSetupError::BaseUrl("it must not carry a query or fragment".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            // A redirect would carry the tokens of the query string to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fb-inbox-adapters/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphSetupError::Client(e.without_url()))?;
        Ok(HttpGraph { client, base, app_id, app_secret, policy })
    }

    /// From `FB_GRAPH_URL` (default [`DEFAULT_GRAPH_URL`]), `FB_APP_ID` and `FB_APP_SECRET`
    /// (the first of its comma-separated list: the current secret), with the default policy.
    pub fn from_env() -> Result<HttpGraph, GraphSetupError> {
        let base = config::optional("FB_GRAPH_URL").unwrap_or_else(|| DEFAULT_GRAPH_URL.to_string());
        let app_id = config::required("FB_APP_ID")?.trim().to_string();
        let secrets = config::required_secret("FB_APP_SECRET")?;
        let current =
            secrets.expose_secret().split(',').map(str::trim).find(|s| !s.is_empty()).ok_or(
                ConfigError::Invalid { name: "FB_APP_SECRET", why: "the list holds no secret".into() },
            )?;
        HttpGraph::new(base, app_id, SecretString::from(current.to_string()), RetryPolicy::default())
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// `base + /segments...?query`; each segment is percent-encoded (a Page id cannot add a path).
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, GraphError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| internal("the Graph base URL cannot take a path"))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// `paging.next` as given by Graph, provided it points at the same Graph host (the user
    /// token rides along); `access_token` is added when Graph left it out.
    fn next_url(&self, op: &'static str, next: &str, token: &str) -> Result<Url, GraphError> {
        let url = Url::parse(next).map_err(|_| internal(format!("{op}: paging.next is not a URL")))?;
        if url.origin() != self.base.origin() {
            return Err(internal(format!("{op}: paging.next points outside the Graph API; not followed")));
        }
        if url.query_pairs().any(|(k, _)| k == "access_token") {
            Ok(url)
        } else {
            let mut url = url;
            url.query_pairs_mut().append_pair("access_token", token);
            Ok(url)
        }
    }

    /// Sends `call`, retrying rate limits and transient failures, and parses the 2xx body.
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, GraphError> {
        let attempts = self.policy.max_attempts.max(1);
        let mut n = 0;
        loop {
            let result = self.attempt(&call).await;
            n += 1;
            match result {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && n < attempts => {
                    let wait = self.policy.backoff(n - 1);
                    tracing::warn!(
                        op = call.op,
                        attempt = n,
                        kind = ?e.kind,
                        status = e.status,
                        code = ?e.code,
                        subcode = ?e.subcode,
                        fbtrace_id = ?e.fbtrace_id,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "Graph call failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    tracing::warn!(
                        op = call.op,
                        attempt = n,
                        kind = ?e.kind,
                        status = e.status,
                        code = ?e.code,
                        subcode = ?e.subcode,
                        fbtrace_id = ?e.fbtrace_id,
                        error = %e.message,
                        "Graph call failed"
                    );
                    return Err(e);
                }
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, GraphError> {
        let mut req = self.client.request(call.method.clone(), call.url.clone());
        if let Some(b) = &call.body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| transport_error(call, e))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| transport_error(call, e))?;
        tracing::debug!(op = call.op, status, bytes = body.len(), "Graph answered");
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        // Graph's error object, whatever the status (it has been seen on 200s too).
        if let Some(err) = json.as_ref().and_then(|v| v.get("error")).filter(|e| e.is_object()) {
            return Err(api_error(call, status, err));
        }
        if !(200..300).contains(&status) {
            return Err(GraphError::from_parts(status, None, None, format!("HTTP {status}"), None));
        }
        let Some(json) = json else {
            return Err(unexpected(call.op, status, "the body is not JSON".into()));
        };
        T::deserialize(json).map_err(|e| unexpected(call.op, status, describe_data_error(&e)))
    }

    fn get<'a>(&self, op: &'static str, url: Url, secrets: Vec<&'a str>) -> Call<'a> {
        Call { op, method: Method::GET, url, secrets, body: None }
    }
}

/// A failure of ours (not Graph's): never retried.
fn internal(message: impl Into<String>) -> GraphError {
    GraphError {
        kind: GraphErrorKind::Other,
        status: 0,
        code: None,
        subcode: None,
        message: message.into(),
        fbtrace_id: None,
    }
}

/// A 2xx body that is not what Graph documents: kind Other, status kept.
fn unexpected(op: &str, status: u16, why: String) -> GraphError {
    GraphError {
        kind: GraphErrorKind::Other,
        status,
        code: None,
        subcode: None,
        message: format!("{op}: unexpected response body: {why}"),
        fbtrace_id: None,
    }
}

/// serde's data errors can quote the offending value (a token, say): only "missing field"
/// texts, which name a field, are kept.
fn describe_data_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.starts_with("missing field") { text } else { "a field has an unexpected type or value".into() }
}

/// Texts shorter than this are not scrubbed: no Graph token or app secret is that short, and
/// replacing, say, every "t" would garble the message.
const MIN_SCRUBBED_LEN: usize = 6;

/// Removes every secret of the call from a text.
fn scrub(mut text: String, secrets: &[&str]) -> String {
    for s in secrets.iter().filter(|s| s.len() >= MIN_SCRUBBED_LEN) {
        if text.contains(s) {
            text = text.replace(s, "[redacted]");
        }
    }
    text
}

/// Timeouts and connection failures: the request is formatted without its URL.
fn transport_error(call: &Call<'_>, e: reqwest::Error) -> GraphError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut text = format!("{}: {what}: {e}", call.op);
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    GraphError::unreachable(scrub(text, &call.secrets))
}

/// Graph's `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`.
fn api_error(call: &Call<'_>, status: u16, err: &serde_json::Value) -> GraphError {
    let code = err.get("code").and_then(serde_json::Value::as_i64);
    let subcode = err.get("error_subcode").and_then(serde_json::Value::as_i64);
    // Graph's own words, unprefixed: `lost_reason` shows them to the owner (the op is logged).
    let message = match err.get("message").and_then(serde_json::Value::as_str) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => format!("HTTP {status}"),
    };
    let fbtrace_id = err.get("fbtrace_id").and_then(serde_json::Value::as_str).map(str::to_string);
    GraphError::from_parts(status, code, subcode, scrub(message, &call.secrets), fbtrace_id)
}

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
struct SuccessJson {
    #[serde(default)]
    success: bool,
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

#[derive(Deserialize)]
struct ConversationJson {
    id: String,
    #[serde(default)]
    updated_time: serde_json::Value,
    #[serde(default)]
    participants: Option<DataList<IdJson>>,
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
    let participant_ids =
        c.participants.map(|l| l.data.into_iter().map(|p| p.id).collect()).unwrap_or_default();
    GraphConversation { id: c.id, updated_ms, participant_ids, messages }
}

#[async_trait]
impl Graph for HttpGraph {
    #[tracing::instrument(name = "graph.exchange_code", skip_all)]
    async fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<SecretString, GraphError> {
        let secret = self.app_secret.expose_secret();
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
        let secret = self.app_secret.expose_secret();
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
        let token = page_token.expose_secret();
        let joined = fields.join(",");
        let url = self
            .url(&[page_id, "subscribed_apps"], &[("subscribed_fields", &joined), ("access_token", token)])?;
        let call = Call { op: "subscribe_page", method: Method::POST, url, secrets: vec![token], body: None };
        let r: SuccessJson = self.call(call).await?;
        if r.success { Ok(()) } else { Err(unexpected("subscribe_page", 200, "success is not true".into())) }
    }

    #[tracing::instrument(name = "graph.send_text", skip_all, fields(page_id = %page_id))]
    async fn send_text(
        &self,
        page_id: &str,
        page_token: &SecretString,
        recipient_id: &str,
        text: &str,
        messaging: MessagingType,
    ) -> Result<String, GraphError> {
        #[derive(serde::Deserialize)]
        struct Sent {
            message_id: String,
        }
        let token = page_token.expose_secret();
        let url = self.url(&[page_id, "messages"], &[("access_token", token)])?;
        let mut body = serde_json::json!({
            "recipient": {"id": recipient_id},
            "message": {"text": text},
        });
        match messaging {
            MessagingType::Response => body["messaging_type"] = "RESPONSE".into(),
            MessagingType::HumanAgent => {
                body["messaging_type"] = "MESSAGE_TAG".into();
                body["tag"] = "HUMAN_AGENT".into();
            }
        }
        let call =
            Call { op: "send_text", method: Method::POST, url, secrets: vec![token], body: Some(body) };
        let sent: Sent = self.call(call).await?;
        Ok(sent.message_id)
    }

    #[tracing::instrument(name = "graph.unsubscribe_page", skip_all, fields(page_id = %page_id))]
    async fn unsubscribe_page(&self, page_id: &str, page_token: &SecretString) -> Result<(), GraphError> {
        let token = page_token.expose_secret();
        let url = self.url(&[page_id, "subscribed_apps"], &[("access_token", token)])?;
        let call =
            Call { op: "unsubscribe_page", method: Method::DELETE, url, secrets: vec![token], body: None };
        let r: SuccessJson = self.call(call).await?;
        if r.success {
            Ok(())
        } else {
            Err(unexpected("unsubscribe_page", 200, "success is not true".into()))
        }
    }

    #[tracing::instrument(name = "graph.subscribed_fields", skip_all, fields(page_id = %page_id))]
    async fn subscribed_fields(
        &self,
        page_id: &str,
        page_token: &SecretString,
    ) -> Result<Vec<String>, GraphError> {
        let token = page_token.expose_secret();
        let url = self.url(&[page_id, "subscribed_apps"], &[("access_token", token)])?;
        let list: DataList<SubscribedAppJson> =
            self.call(self.get("subscribed_fields", url, vec![token])).await?;
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
        let secret = self.app_secret.expose_secret();
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
        let token = page_token.expose_secret();
        let mut query =
            vec![("platform", "messenger"), ("fields", CONVERSATION_FIELDS), ("access_token", token)];
        if let Some(a) = after {
            query.push(("after", a));
        }
        let url = self.url(&[page_id, "conversations"], &query)?;
        let list: DataList<ConversationJson> = self.call(self.get("conversations", url, vec![token])).await?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> HttpGraph {
        HttpGraph::new(
            "https://graph.example/v25.0/".into(),
            "app".into(),
            SecretString::from("shh-secret".to_string()),
            RetryPolicy::default(),
        )
        .expect("client")
    }

    #[test]
    fn urls_encode_segments_and_query() {
        let g = graph();
        let u = g.url(&["12/../x", "subscribed_apps"], &[("subscribed_fields", "a,b")]).expect("url");
        assert_eq!(u.path(), "/v25.0/12%2F..%2Fx/subscribed_apps");
        assert_eq!(u.query(), Some("subscribed_fields=a%2Cb"));
    }

    #[test]
    fn next_urls_stay_on_the_graph_host() {
        let g = graph();
        let ok = g
            .next_url("accounts", "https://graph.example/v25.0/1/accounts?after=x", "tok")
            .expect("same host");
        assert!(ok.query_pairs().any(|(k, v)| k == "access_token" && v == "tok"));
        let e = g
            .next_url("accounts", "https://evil.example/v25.0/1/accounts?after=x", "tok")
            .expect_err("other host");
        assert_eq!(e.kind, GraphErrorKind::Other);
        assert!(!e.message.contains("evil"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let text = format!("{:?}", graph());
        assert!(!text.contains("shh-secret"), "{text}");
    }

    #[test]
    fn scrub_removes_secrets() {
        assert_eq!(scrub("bad token abc123 here".into(), &["abc123", "", "t"]), "bad token [redacted] here");
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for bad in ["not a url", "ftp://x/v1", "https://x/v1?a=b"] {
            let r = HttpGraph::new(
                bad.into(),
                "a".into(),
                SecretString::from("s".to_string()),
                RetryPolicy::default(),
            );
            assert!(matches!(r, Err(GraphSetupError::BaseUrl(_))), "{bad}");
        }
    }
}
