//! Meta's Graph API as the domain needs it (`docs/meta-platform.md`: Facebook Login, Page subscription,
//! Conversations API, Errors): the port, its records, and how an error is classified.

use async_trait::async_trait;
use secrecy::SecretString;

/// The webhook fields every connected Page is subscribed to.
pub const SUBSCRIBED_FIELDS: &[&str] = &[
    "messages",
    "messaging_postbacks",
    "message_echoes",
    "message_reads",
    "message_deliveries",
    "message_reactions",
    "standby",
    "feed",
];

/// The permissions the product needs (asked for in the login dialog: `docs/facebook-login.md`).
pub const REQUIRED_PERMISSIONS: &[&str] = &[
    "pages_messaging",
    "pages_manage_posts",
    "pages_manage_engagement",
    "pages_read_engagement",
    "pages_manage_metadata",
    "pages_read_user_content",
    "pages_show_list",
];

/// What a Graph failure means for the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphErrorKind {
    /// 190: the token no longer works; the Page is in lost connection until reconnected.
    TokenInvalid,
    /// 10 or 200-299 (but not the messaging-window subcodes): a permission is missing.
    PermissionMissing,
    /// 10 with subcode 2018278 / 2534022: outside the messaging window (per conversation).
    OutsideWindow,
    /// 551 / 1545041: this customer cannot be reached (per conversation).
    RecipientUnavailable,
    /// 4, 17, 32, 613, 80001, 80006: back off and retry; nothing is wrong with the Page.
    RateLimited,
    /// 1, 2, HTTP 5xx, timeouts, connection failures: retry with backoff.
    Transient,
    /// Anything else (a bad request of ours, an unknown code).
    Other,
}

/// A failed Graph call. Its text never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Graph API error {code:?}/{subcode:?} (HTTP {status}): {message}")]
pub struct GraphError {
    pub kind: GraphErrorKind,
    /// HTTP status, or 0 when no answer came (timeout, connection refused).
    pub status: u16,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub message: String,
    pub fbtrace_id: Option<String>,
    /// How long to wait before calling again, when known: Meta's
    /// `estimated_time_to_regain_access` after a throttle, or the client's own estimate when
    /// it refused to call at high usage (`docs/operations.md`, "Meta's rate limits").
    pub retry_after: Option<std::time::Duration>,
}

impl GraphError {
    /// An error from Graph's `{"error":{...}}` body (or from the status alone).
    pub fn from_parts(
        status: u16,
        code: Option<i64>,
        subcode: Option<i64>,
        message: String,
        fbtrace_id: Option<String>,
    ) -> GraphError {
        GraphError {
            kind: classify(status, code, subcode),
            status,
            code,
            subcode,
            message,
            fbtrace_id,
            retry_after: None,
        }
    }

    /// The client refused to call: the usage Meta reported is too high (or a throttle is still
    /// running). Nothing was sent; retry after `retry_after`.
    pub fn usage_limited(message: impl Into<String>, retry_after: std::time::Duration) -> GraphError {
        GraphError {
            kind: GraphErrorKind::RateLimited,
            status: 429,
            code: None,
            subcode: None,
            message: message.into(),
            fbtrace_id: None,
            retry_after: Some(retry_after),
        }
    }

    /// No answer at all (timeout, connection failure).
    pub fn unreachable(message: impl Into<String>) -> GraphError {
        GraphError {
            kind: GraphErrorKind::Transient,
            status: 0,
            code: None,
            subcode: None,
            message: message.into(),
            fbtrace_id: None,
            retry_after: None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, GraphErrorKind::RateLimited | GraphErrorKind::Transient)
    }

    /// Whether the Page's connection is lost (token or permission), and why, in words an
    /// owner can act on.
    pub fn lost_reason(&self) -> Option<String> {
        match self.kind {
            GraphErrorKind::TokenInvalid => Some(
                match self.subcode {
                    Some(458) => "the app was removed from the Facebook account",
                    Some(459) => "the Facebook account is checkpointed; log in to Facebook to resolve it",
                    Some(460) => "the Facebook password was changed",
                    Some(463) => "the access token expired",
                    Some(464) => "the Facebook account is not confirmed",
                    Some(492) => "the person who connected the Page is no longer its admin",
                    _ => "the access token is no longer valid",
                }
                .to_string()
                    + "; connect the Page again",
            ),
            GraphErrorKind::PermissionMissing => Some(format!(
                "a permission was revoked or is missing ({}); connect the Page again",
                self.message
            )),
            _ => None,
        }
    }
}

/// Classifies a Graph error by Meta's error codes (`docs/meta-platform.md`, Errors).
pub fn classify(status: u16, code: Option<i64>, subcode: Option<i64>) -> GraphErrorKind {
    match (code, subcode) {
        (Some(190), _) => GraphErrorKind::TokenInvalid,
        (Some(10), Some(2018278 | 2534022)) => GraphErrorKind::OutsideWindow,
        (Some(551), _) | (_, Some(1545041)) => GraphErrorKind::RecipientUnavailable,
        (Some(10), _) | (Some(200..=299), _) => GraphErrorKind::PermissionMissing,
        (Some(4 | 17 | 32 | 613 | 80001 | 80006), _) => GraphErrorKind::RateLimited,
        (Some(1 | 2), _) => GraphErrorKind::Transient,
        _ if status >= 500 || status == 0 => GraphErrorKind::Transient,
        _ if status == 429 => GraphErrorKind::RateLimited,
        _ => GraphErrorKind::Other,
    }
}

/// A Page from `/me/accounts`.
#[derive(Debug, Clone)]
pub struct GraphPage {
    pub id: String,
    pub name: String,
    pub access_token: SecretString,
    pub tasks: Vec<String>,
}

impl GraphPage {
    /// Only Page admins (task MANAGE) can connect a Page.
    pub fn is_admin(&self) -> bool {
        self.tasks.iter().any(|t| t == "MANAGE")
    }
}

/// `/debug_token` data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub is_valid: bool,
    /// 0 = never.
    pub expires_at: i64,
    pub scopes: Vec<String>,
}

/// One message of the Conversations API (the 20 newest of a thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphMessage {
    pub id: String,
    pub created_ms: i64,
    pub from_id: String,
    pub text: Option<String>,
}

/// One thread of `/{page}/conversations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConversation {
    pub id: String,
    pub updated_ms: i64,
    pub participant_ids: Vec<String>,
    /// Participant id → the name Graph gave (those without a name are left out).
    pub participant_names: std::collections::BTreeMap<String, String>,
    pub messages: Vec<GraphMessage>,
}

/// One page of `/{page}/conversations`, and the cursor of the next (None at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationsPage {
    pub conversations: Vec<GraphConversation>,
    pub next_after: Option<String>,
}

/// A private reply Meta accepted: the customer's PSID (their Messenger conversation with the
/// Page from now on) and the message id (the echo's mid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateReplySent {
    pub recipient_id: String,
    pub message_id: String,
}

/// One post of `/{page}/posts` (history sync of comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphPost {
    pub id: String,
    pub created_ms: i64,
}

/// One page of `/{page}/posts`, and the cursor of the next (None at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostsPage {
    pub posts: Vec<GraphPost>,
    pub next_after: Option<String>,
}

/// One comment of `/{post}/comments?filter=stream` (replies included, oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphComment {
    pub id: String,
    /// The comment it answers; None for a top-level comment.
    pub parent_id: Option<String>,
    pub from_id: String,
    pub from_name: Option<String>,
    /// Absent without access to the author's content.
    pub text: Option<String>,
    pub created_ms: i64,
    pub is_hidden: bool,
}

/// One page of a post's comments, and the cursor of the next (None at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentsPage {
    pub comments: Vec<GraphComment>,
    pub next_after: Option<String>,
}

/// How a reply goes out (`docs/meta-platform.md`, Send API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingType {
    /// Within 24 hours of the customer's last message.
    Response,
    /// `MESSAGE_TAG` + `HUMAN_AGENT`: a human reply up to 7 days after it.
    HumanAgent,
}

/// Why a reply cannot go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowRefusal {
    /// Between 24 hours and 7 days, and the shop has not enabled the Human Agent tag.
    NeedsHumanAgentTag,
    /// Past 7 days (or the customer never wrote).
    Closed,
}

pub use crate::assignment::{HUMAN_AGENT_WINDOW_MS, STANDARD_WINDOW_MS};

/// Which messaging type a reply needs now, from the customer's last message.
pub fn reply_window(
    now_ms: i64,
    last_customer_ms: Option<i64>,
    human_agent_enabled: bool,
) -> Result<MessagingType, WindowRefusal> {
    let Some(last) = last_customer_ms else { return Err(WindowRefusal::Closed) };
    let age = now_ms - last;
    if age < STANDARD_WINDOW_MS {
        Ok(MessagingType::Response)
    } else if age < HUMAN_AGENT_WINDOW_MS {
        if human_agent_enabled {
            Ok(MessagingType::HumanAgent)
        } else {
            Err(WindowRefusal::NeedsHumanAgentTag)
        }
    } else {
        Err(WindowRefusal::Closed)
    }
}

/// The Graph API calls the product makes. Implementations retry rate limits and transient
/// failures with backoff before giving up (the Send API excepted: see `send_text`); a returned
/// error is final for that call. Every call taking a Page id refuses one that is not a
/// [`crate::ids::PageId`] before any request.
#[async_trait]
pub trait Graph: Send + Sync {
    /// Dialog code → short-lived user token (`redirect_uri` must equal the dialog's).
    async fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<SecretString, GraphError>;
    /// Short-lived → long-lived (~60 days) user token.
    async fn long_lived_token(&self, short_lived: &SecretString) -> Result<SecretString, GraphError>;
    /// `(permission, status)` pairs of `/me/permissions`.
    async fn permissions(&self, user_token: &SecretString) -> Result<Vec<(String, String)>, GraphError>;
    /// Every Page of `/me/accounts`, following `paging.next` to the end.
    async fn accounts(&self, user_token: &SecretString) -> Result<Vec<GraphPage>, GraphError>;
    async fn subscribe_page(
        &self,
        page_id: &str,
        page_token: &SecretString,
        fields: &[&str],
    ) -> Result<(), GraphError>;
    async fn unsubscribe_page(&self, page_id: &str, page_token: &SecretString) -> Result<(), GraphError>;
    /// Sends a text reply through the Send API; returns Meta's `message_id` (the echo's mid).
    /// `metadata` (the reply's id; empty for none) comes back on the echo. Unlike the other
    /// calls, a send is never retried after a timeout or 5xx (it may have gone out): only
    /// after a failure that proves nothing was sent (`docs/rules.md`, "Replies").
    async fn send_text(
        &self,
        page_id: &str,
        page_token: &SecretString,
        recipient_id: &str,
        text: &str,
        messaging: MessagingType,
        metadata: &str,
    ) -> Result<String, GraphError>;
    /// The fields the app is subscribed to on the Page (empty when not subscribed).
    async fn subscribed_fields(
        &self,
        page_id: &str,
        page_token: &SecretString,
    ) -> Result<Vec<String>, GraphError>;
    async fn debug_token(&self, token: &SecretString) -> Result<TokenInfo, GraphError>;
    /// One page of the Page's Messenger conversations, each with its 20 newest messages.
    async fn conversations(
        &self,
        page_id: &str,
        page_token: &SecretString,
        after: Option<&str>,
    ) -> Result<ConversationsPage, GraphError>;
    /// The app-scoped id of the person a user token belongs to (`GET /me?fields=id`): what
    /// Meta's deauthorize and data-deletion callbacks name them by.
    async fn user_id(&self, user_token: &SecretString) -> Result<String, GraphError>;
    /// A customer's name (`GET /{psid}?fields=name` with the Page's token), None when Graph
    /// gives none. Refuses a `psid` that is not digits before any request.
    async fn profile_name(&self, psid: &str, page_token: &SecretString)
    -> Result<Option<String>, GraphError>;
    /// Replies publicly under a comment (`POST /{comment_id}/comments {message}`); returns the
    /// new comment's id. Never repeated after a timeout or 5xx, like `send_text`. Every comment
    /// call refuses an id that is not [`crate::comments::is_comment_id`] before any request.
    async fn reply_comment(
        &self,
        page_token: &SecretString,
        comment_id: &str,
        text: &str,
    ) -> Result<String, GraphError>;
    /// The one private reply to a comment: the Send API with `recipient.comment_id` (and the
    /// reply's id as `metadata`, handed back on the echo). Never repeated after a timeout or 5xx.
    async fn private_reply(
        &self,
        page_id: &str,
        page_token: &SecretString,
        comment_id: &str,
        text: &str,
        metadata: &str,
    ) -> Result<PrivateReplySent, GraphError>;
    /// Hides or unhides a comment (`POST /{comment_id}?is_hidden=`); idempotent, so retried.
    async fn set_comment_hidden(
        &self,
        page_token: &SecretString,
        comment_id: &str,
        hidden: bool,
    ) -> Result<(), GraphError>;
    /// Deletes a comment (`DELETE /{comment_id}`). A comment already gone (Graph code 100,
    /// subcode 33) counts as deleted.
    async fn delete_comment(&self, page_token: &SecretString, comment_id: &str) -> Result<(), GraphError>;
    /// One page of the Page's recent posts, newest first (`/{page}/posts?fields=id,created_time`).
    async fn posts(
        &self,
        page_id: &str,
        page_token: &SecretString,
        after: Option<&str>,
    ) -> Result<PostsPage, GraphError>;
    /// One page of a post's comments, replies included, oldest first
    /// (`/{post}/comments?filter=stream&fields=id,from,message,created_time,parent{id},is_hidden`).
    async fn comments(
        &self,
        post_id: &str,
        page_token: &SecretString,
        after: Option<&str>,
    ) -> Result<CommentsPage, GraphError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_platform_table() {
        use GraphErrorKind::*;
        assert_eq!(classify(400, Some(190), Some(460)), TokenInvalid);
        assert_eq!(classify(400, Some(10), Some(2018278)), OutsideWindow);
        assert_eq!(classify(400, Some(10), Some(2534022)), OutsideWindow);
        assert_eq!(classify(400, Some(10), None), PermissionMissing);
        assert_eq!(classify(403, Some(200), None), PermissionMissing);
        assert_eq!(classify(403, Some(299), Some(1)), PermissionMissing);
        assert_eq!(classify(400, Some(551), Some(1545041)), RecipientUnavailable);
        for c in [4, 17, 32, 613, 80001, 80006] {
            assert_eq!(classify(400, Some(c), None), RateLimited, "{c}");
        }
        assert_eq!(classify(500, Some(2), None), Transient);
        assert_eq!(classify(503, None, None), Transient);
        assert_eq!(classify(0, None, None), Transient);
        assert_eq!(classify(400, Some(100), None), Other);
    }

    #[test]
    fn reply_windows() {
        let h = 3600 * 1000;
        assert_eq!(reply_window(100 * h, Some(100 * h - 23 * h), false), Ok(MessagingType::Response));
        assert_eq!(reply_window(100 * h, Some(100 * h - 72 * h), true), Ok(MessagingType::HumanAgent));
        assert_eq!(
            reply_window(100 * h, Some(100 * h - 72 * h), false),
            Err(WindowRefusal::NeedsHumanAgentTag)
        );
        assert_eq!(reply_window(1000 * h, Some(1000 * h - 8 * 24 * h), true), Err(WindowRefusal::Closed));
        assert_eq!(reply_window(100 * h, None, true), Err(WindowRefusal::Closed));
    }

    #[test]
    fn lost_reasons_name_the_cause() {
        let e = GraphError::from_parts(400, Some(190), Some(460), "x".into(), None);
        assert!(e.lost_reason().is_some_and(|r| r.contains("password")));
        let e = GraphError::from_parts(400, Some(4), None, "x".into(), None);
        assert_eq!(e.lost_reason(), None);
        assert!(e.is_retryable());
    }
}
