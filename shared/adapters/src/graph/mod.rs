//! The `Graph` port over HTTPS (`docs/meta-platform.md`: Facebook Login, Page subscription, Conversations
//! API, Errors): one reqwest client, rate limits and transient failures retried with exponential backoff,
//! Graph's error bodies classified by the domain.
//!
//! Tokens travel in the `access_token` query parameter, as Graph documents, so a URL is never
//! printed: reqwest errors lose theirs (`without_url`) before they are formatted, and every
//! text that reaches a `GraphError` is scrubbed of the tokens and the app secret of its call.

use domain::graph::{GraphError, GraphErrorKind};
use domain::ids::PageId;
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
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
pub use usage::{Usage, UsageLimits};

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
    /// Only Facebook Login's code exchange, the long-lived token and `debug_token` need it;
    /// functions that make none of these calls are not given it (least privilege).
    app_secret: Option<SecretString>,
    policy: RetryPolicy,
    /// Meta's usage as last reported, shared by the client's clones (`usage.rs`).
    usage: std::sync::Arc<usage::UsageBook>,
    limits: UsageLimits,
}

impl std::fmt::Debug for HttpGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGraph")
            .field("base_url", &self.base.as_str())
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .field("policy", &self.policy)
            .field("limits", &self.limits)
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
    /// The Page whose token the call uses: its Business Use Case usage gates the call (the
    /// app-wide usage gates the others).
    page: Option<String>,
}

impl Call<'_> {
    /// The call is made with `page`'s token.
    fn on_page(mut self, page: &str) -> Self {
        self.page = Some(page.to_string());
        self
    }
}

impl HttpGraph {
    /// `base_url` is `FB_GRAPH_URL`, version included (`https://graph.facebook.com/v25.0`).
    pub fn new(
        base_url: String,
        app_id: String,
        app_secret: SecretString,
        policy: RetryPolicy,
    ) -> Result<HttpGraph, GraphSetupError> {
        HttpGraph::with_optional_secret(base_url, app_id, Some(app_secret), policy)
    }

    /// [`HttpGraph::new`] for a function that may have no app secret: the calls that need it
    /// then fail with an internal error saying so, every other call works.
    pub fn with_optional_secret(
        base_url: String,
        app_id: String,
        app_secret: Option<SecretString>,
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
        // A person waiting (the admin API, Facebook Login's return, a reply) is barely slowed.
        let limits = if policy == RetryPolicy::INTERACTIVE || policy == RetryPolicy::SEND {
            UsageLimits::INTERACTIVE
        } else {
            UsageLimits::BACKGROUND
        };
        Ok(HttpGraph { client, base, app_id, app_secret, policy, usage: Default::default(), limits })
    }

    /// The same client with other usage thresholds.
    pub fn with_usage_limits(mut self, limits: UsageLimits) -> HttpGraph {
        self.limits = limits;
        self
    }

    /// The Page's latest usage as Meta reported it (its Business Use Case), while fresh.
    pub fn usage(&self, page_id: &str) -> Option<Usage> {
        self.usage.page(page_id)
    }

    /// The app's latest usage (`X-App-Usage`), while fresh.
    pub fn app_usage(&self) -> Option<Usage> {
        self.usage.app()
    }

    /// From `FB_GRAPH_URL` (default [`DEFAULT_GRAPH_URL`]), `FB_APP_ID` and `FB_APP_SECRET`
    /// (the first of its comma-separated list: the current secret), with the default policy.
    pub fn from_env() -> Result<HttpGraph, GraphSetupError> {
        let secrets = config::required_secret("FB_APP_SECRET")?;
        HttpGraph::from_env_with(RetryPolicy::default(), Some(&secrets))
    }

    /// `FB_GRAPH_URL` and `FB_APP_ID` from the environment, the app secret list as loaded (from
    /// Secrets Manager, or `FB_APP_SECRET` locally; `None` for a function not given it), and
    /// its own retry budget (e.g. [`RetryPolicy::INTERACTIVE`] where a person waits).
    pub fn from_env_with(
        policy: RetryPolicy,
        app_secrets: Option<&SecretString>,
    ) -> Result<HttpGraph, GraphSetupError> {
        let base = config::optional("FB_GRAPH_URL").unwrap_or_else(|| DEFAULT_GRAPH_URL.to_string());
        let app_id = config::required("FB_APP_ID")?.trim().to_string();
        let current = match app_secrets {
            None => None,
            Some(list) => Some(current_app_secret(list).ok_or(ConfigError::Invalid {
                name: "FB_APP_SECRET",
                why: "the list holds no secret".into(),
            })?),
        };
        HttpGraph::with_optional_secret(base, app_id, current, policy)
    }

    /// The app secret, for the three calls that need it.
    fn app_secret(&self) -> Result<&str, GraphError> {
        self.app_secret
            .as_ref()
            .map(|s| s.expose_secret())
            .ok_or_else(|| internal("this function is not given the app secret (APP_SECRET_ARN)"))
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

    /// Sends a call Graph answers with `{"success": true}` (subscriptions, hiding, deleting),
    /// retried like [`HttpGraph::call`]; any other 2xx answer is an error.
    async fn call_success(&self, call: Call<'_>) -> Result<(), GraphError> {
        #[derive(serde::Deserialize)]
        struct Success {
            #[serde(default)]
            success: bool,
        }
        let op = call.op;
        let r: Success = self.call(call).await?;
        if r.success { Ok(()) } else { Err(unexpected(op, 200, "success is not true".into())) }
    }

    /// Sends `call`, retrying rate limits and transient failures, and parses the 2xx body.
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, GraphError> {
        let attempts = self.policy.max_attempts.max(1);
        let mut n = 0;
        loop {
            let result = self.attempt(&call).await;
            n += 1;
            let e = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            // A wait Meta (or the usage seen) asked for is minutes, not a backoff: given back.
            let retry = (e.is_retryable() && e.retry_after.is_none() && n < attempts)
                .then(|| self.policy.backoff(n - 1));
            log_failure(call.op, n, &e, retry, None);
            match retry {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(e),
            }
        }
    }

    /// Sends a call that must not reach Meta twice (the Send API): retried only when the
    /// failure proves nothing was sent (no connection; a rate limit's refusal), and only
    /// within [`RetryPolicy::SEND`]'s time budget (or this client's timeout, if smaller). A
    /// timeout or a 5xx is returned at once: the caller records the outcome as unknown.
    async fn call_unrepeatable<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, GraphError> {
        let budget = self.policy.timeout.min(RetryPolicy::SEND.timeout);
        let started = std::time::Instant::now();
        let attempts = self.policy.max_attempts.max(1);
        let mut n = 0;
        loop {
            let left = budget.saturating_sub(started.elapsed());
            let result = self.attempt_timed(&call, Some(left)).await;
            n += 1;
            let (e, unsent) = match result {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            let refused = (unsent || e.kind == GraphErrorKind::RateLimited) && e.retry_after.is_none();
            let wait = self.policy.backoff(n - 1);
            let in_budget = started.elapsed() + wait < budget;
            let retry = refused && n < attempts && in_budget;
            log_failure(call.op, n, &e, retry.then_some(wait), Some(refused));
            if !retry {
                return Err(e);
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, GraphError> {
        self.attempt_timed(call, None).await.map_err(|(e, _)| e)
    }

    /// One request, cut off after `timeout` when given. A failure says whether the request
    /// certainly did not reach Meta (the connection never opened).
    async fn attempt_timed<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        timeout: Option<std::time::Duration>,
    ) -> Result<T, (GraphError, bool)> {
        match self.usage.gate(call.op, call.page.as_deref(), &self.limits) {
            usage::Gate::Go => {}
            usage::Gate::Slow(wait) => tokio::time::sleep(wait).await,
            usage::Gate::Refuse(e) => return Err((e, true)),
        }
        let mut req = self.client.request(call.method.clone(), call.url.clone());
        if let Some(b) = &call.body {
            req = req.json(b);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = req.send().await.map_err(|e| {
            let unsent = e.is_connect() && !e.is_timeout();
            (transport_error(call, e), unsent)
        })?;
        let status = resp.status().as_u16();
        let h = resp.headers();
        self.usage.record(
            h.get("x-app-usage").map(|v| v.as_bytes()),
            h.get("x-business-use-case-usage").map(|v| v.as_bytes()),
            &self.limits,
        );
        let body = resp.bytes().await.map_err(|e| (transport_error(call, e), false))?;
        self.answer(call, status, &body).map_err(|e| (e, false))
    }

    /// A whole answer of Graph: its error object, or the 2xx body as `T`.
    fn answer<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        status: u16,
        body: &[u8],
    ) -> Result<T, GraphError> {
        tracing::debug!(op = call.op, status, bytes = body.len(), "Graph answered");
        let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        // Graph's error object, whatever the status (it has been seen on 200s too).
        if let Some(err) = json.as_ref().and_then(|v| v.get("error")).filter(|e| e.is_object()) {
            let mut e = api_error(call, status, err);
            if e.kind == GraphErrorKind::RateLimited {
                // A throttle's `estimated_time_to_regain_access`, read from this answer.
                let known = match &call.page {
                    Some(p) => self.usage.page(p),
                    None => self.usage.app(),
                };
                let now = std::time::Instant::now();
                e.retry_after = known.and_then(|u| u.regain_at).filter(|r| *r > now).map(|r| r - now);
            }
            return Err(e);
        }
        if !(200..300).contains(&status) {
            return Err(GraphError::from_parts(status, None, None, format!("HTTP {status}"), None));
        }
        let Some(json) = json else {
            return Err(unexpected(call.op, status, "the body is not JSON".into()));
        };
        T::deserialize(json).map_err(|e| unexpected(call.op, status, describe_data_error(&e)))
    }

    /// A Page id as a segment of a Graph URL: digits only ([`PageId`]), refused before any
    /// request otherwise (a `..` would drop a segment of the path).
    fn page_segment(page_id: &str) -> Result<PageId, GraphError> {
        PageId::parse(page_id).map_err(|e| internal(e.to_string()))
    }

    fn get<'a>(&self, op: &'static str, url: Url, secrets: Vec<&'a str>) -> Call<'a> {
        Call { op, method: Method::GET, url, secrets, body: None, page: None }
    }
}

/// A failure of ours (not Graph's): never retried.
/// The first secret of a comma-separated list (the current one during a rotation).
pub fn current_app_secret(list: &SecretString) -> Option<SecretString> {
    list.expose_secret()
        .split(',')
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(|s| SecretString::from(s.to_string()))
}

fn internal(message: impl Into<String>) -> GraphError {
    GraphError {
        kind: GraphErrorKind::Other,
        status: 0,
        code: None,
        subcode: None,
        message: message.into(),
        fbtrace_id: None,
        retry_after: None,
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
        retry_after: None,
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

mod comments;
mod endpoints;
mod usage;

/// One log line per failed Graph attempt: what Meta said, and the wait before the next
/// attempt when there is one (`unsent`: for a call that must not reach Meta twice, whether the
/// failure proves nothing was sent).
fn log_failure(
    op: &str,
    attempt: u32,
    e: &GraphError,
    retry_in: Option<std::time::Duration>,
    unsent: Option<bool>,
) {
    tracing::warn!(
        op,
        attempt,
        kind = ?e.kind,
        status = e.status,
        code = ?e.code,
        subcode = ?e.subcode,
        fbtrace_id = ?e.fbtrace_id,
        unsent = ?unsent,
        retry_in_ms = ?retry_in.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
        error = %e.message,
        "Graph call failed"
    );
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

    /// A function not given the app secret (the admin API, the worker) still builds its
    /// client; the three calls that need the secret fail, before any request, saying why.
    #[tokio::test]
    async fn without_the_app_secret_only_its_three_calls_fail() {
        use domain::graph::Graph;
        let g = HttpGraph::with_optional_secret(
            "http://127.0.0.1:9/v25.0".into(),
            "app".into(),
            None,
            RetryPolicy::default(),
        )
        .expect("client");
        let t = SecretString::from("EAAG-user".to_string());
        for e in [
            g.exchange_code("code", "https://x/cb").await.map(|_| ()).expect_err("exchange"),
            g.long_lived_token(&t).await.map(|_| ()).expect_err("long-lived"),
            g.debug_token(&t).await.map(|_| ()).expect_err("debug_token"),
        ] {
            assert_eq!(e.status, 0, "no request was made: {}", e.message);
            assert!(e.message.contains("APP_SECRET_ARN"), "{}", e.message);
        }
        assert!(current_app_secret(&SecretString::from(" , ".to_string())).is_none());
        let first = current_app_secret(&SecretString::from(" new , old".to_string())).expect("first");
        assert_eq!(first.expose_secret(), "new");
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
