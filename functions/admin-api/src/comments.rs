//! Page comments at the API edge (`docs/comments.md`): a public reply under a comment and the
//! one private reply to it (both through `POST /api/conversations/{id}/messages` with
//! `reply_to`), hide, unhide and delete (`/api/comments/{comment_id}`), and each Page's
//! auto-hide setting (`/api/pages/{page_id}/comment-settings`).
//!
//! Who may act is [`domain::comments::comment_right`] (the holder, or an owner or admin); a
//! refusal happens before anything reaches Meta. A reply is recorded before the Graph call and
//! settled by Meta's answer exactly like a Messenger reply (`domain::reply`), so a repeated
//! request with the same `Idempotency-Key` sends nothing twice, and a timeout is never retried.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::access::Member as Caller;
use domain::comments::{
    AutoHide, CommentChange, CommentRight, CommentState, Handoff, PrivateReplyMark, PrivateReplyRefusal,
    comment_right, is_comment_id, private_reply_allowed,
};
use domain::graph::{GraphError, GraphErrorKind};
use domain::model::{
    Conversation, Direction, Message, MessageKind, ReplyState, ReplyStatus, conversation_id,
};
use domain::reply::{ReplyOutcome, failure_outcome};
use domain::timefmt::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};

use crate::conversations::{HeldToken, moved_up, page_token, send_failure, visible};
use crate::error::cause_chain;
use crate::extract::{ApiJson, Body, Manager, Me, area};
use crate::views::MessageView;
use crate::{AdminApi, ApiError, ErrorCode};

/// Graph's code for a second private reply to one comment ("Activity already replied to").
const ALREADY_REPLIED_CODE: i64 = 10900;

/// A reply to a comment, as `send` hands it over.
pub(crate) struct CommentReply {
    pub text: String,
    pub reply_id: String,
    pub reply_to: String,
    pub private: bool,
}

/// `POST /api/conversations/{id}/messages` with `reply_to` (and `private`): the public reply
/// under that comment, or its one private reply through Messenger. 201 with the reply as
/// stored, 200 with the first one for a repeated `Idempotency-Key`; a Graph failure answers its
/// error with the reply as stored (`failed`, or `unknown` when Meta's answer did not say).
pub(crate) async fn reply(
    api: &AdminApi,
    me: &Caller,
    conversation_id: &str,
    r: CommentReply,
) -> Result<Response, ApiError> {
    if !is_comment_id(&r.reply_to) {
        return Err(invalid_reply_to("reply_to must be the id of a comment in this conversation"));
    }
    let c = actionable(api, me, conversation_id).await?;
    let Some(comment) = api.stores.comments.comment_in(&me.tenant_id, &c.id, &r.reply_to).await? else {
        return Err(invalid_reply_to("reply_to must be the id of a comment in this conversation"));
    };
    let state = comment.comment.clone().unwrap_or_default();
    if state.removed {
        return Err(invalid_reply_to("this comment was removed at Facebook"));
    }
    if r.private {
        // Read first, so a plain second request says why without a failed reply in the thread;
        // the mark below is the guard that holds under concurrency.
        match private_reply_allowed(now_ms(), comment.sent_ms, comment.direction == Direction::In, &state) {
            Ok(()) => {}
            Err(PrivateReplyRefusal::AlreadySent) => return Err(already_private_replied()),
            Err(PrivateReplyRefusal::OutsideWindow) => {
                let refusal = "Meta allows a private reply only within 7 days of the comment".into();
                return Err(ApiError::Unprocessable(ErrorCode::OutsideWindow, refusal));
            }
            Err(PrivateReplyRefusal::OwnComment) => {
                return Err(invalid_reply_to("the Page's own comment cannot get a private reply"));
            }
        }
    }
    let held = page_token(api, &me.tenant_id, &c.page_id).await?;
    let pending = Message {
        id: r.reply_id.clone(),
        conversation_id: c.id.clone(),
        direction: Direction::Out,
        kind: if r.private { MessageKind::Text } else { MessageKind::Comment },
        text: Some(r.text.clone()),
        sent_ms: now_ms(),
        detail: Some(json!({"sent_by": me.email, "reply_to": r.reply_to, "private": r.private})),
        reply: Some(ReplyState { reply_id: r.reply_id.clone(), status: ReplyStatus::Pending, error: None }),
        comment: None,
    };
    let conversations = &api.stores.conversations;
    if let Some(first) = conversations.begin_reply(&me.tenant_id, &pending).await? {
        info!(conversation_id = %c.id, reply_id = %r.reply_id, "repeated comment reply request; nothing sent");
        return Ok((StatusCode::OK, Json(MessageView::from(&first))).into_response());
    }
    if r.private {
        private(api, me, &c, &comment, &held, pending, &r).await
    } else {
        public(api, me, &c, &state, &held, pending, &r).await
    }
}

async fn public(
    api: &AdminApi,
    me: &Caller,
    c: &Conversation,
    parent: &CommentState,
    held: &HeldToken,
    pending: Message,
    r: &CommentReply,
) -> Result<Response, ApiError> {
    match api.facebook.graph.reply_comment(&held.token, &r.reply_to, &r.text).await {
        Ok(new_id) => {
            let state = CommentState {
                comment_id: new_id.clone(),
                post_id: parent.post_id.clone(),
                parent_id: Some(r.reply_to.clone()),
                ..CommentState::default()
            };
            let mut message = settled(api, me, c, pending, &new_id).await;
            // The reply is a comment of the Page from now on: findable by its id (to hide or
            // delete it), and the same message as the `feed` webhook Meta sends about it.
            if let Err(e) = api.stores.comments.adopt_comment(&me.tenant_id, &c.id, &state).await {
                warn!(conversation_id = %c.id, error = %cause_chain(&e), "public reply not recorded as a comment");
            }
            message.comment = Some(state);
            moved_up(api, me, c, &message).await;
            info!(conversation_id = %c.id, reply_id = %r.reply_id, "public comment reply sent");
            Ok((StatusCode::CREATED, Json(MessageView::from(&message))).into_response())
        }
        Err(e) => failed(api, me, c, held, &r.reply_id, e, None).await,
    }
}

async fn private(
    api: &AdminApi,
    me: &Caller,
    c: &Conversation,
    comment: &Message,
    held: &HeldToken,
    pending: Message,
    r: &CommentReply,
) -> Result<Response, ApiError> {
    let comments = &api.stores.comments;
    let mark = PrivateReplyMark { by: me.email.clone(), reply_id: r.reply_id.clone(), at_ms: now_ms() };
    if !comments.mark_private_reply(&me.tenant_id, &c.id, &comment.id, &mark).await? {
        // Another private reply to this comment won the race: nothing went out for this one.
        let outcome = ReplyOutcome::Failed { error: "this comment already has its private reply".into() };
        api.stores.conversations.settle_reply(&me.tenant_id, &c.id, &r.reply_id, &outcome).await?;
        return Err(already_private_replied());
    }
    let sent =
        api.facebook.graph.private_reply(&c.page_id, &held.token, &comment.id, &r.text, &r.reply_id).await;
    match sent {
        Ok(sent) => {
            let message = settled(api, me, c, pending, &sent.message_id).await;
            // The customer's answer in Messenger belongs to the replier (`docs/comments.md`,
            // "Hand-off"): recorded on their Messenger conversation, and applied at once if the
            // echo of this reply already created it.
            let handoff = Handoff {
                by: me.email.clone(),
                from_conversation_id: c.id.clone(),
                comment_id: comment.id.clone(),
                at_ms: now_ms(),
            };
            let messenger = conversation_id(&c.page_id, &sent.recipient_id);
            match comments.put_handoff(&me.tenant_id, &messenger, &handoff).await {
                Ok(()) => {
                    if let Err(e) = comments.complete_handoff(&me.tenant_id, &messenger, &handoff).await {
                        warn!(conversation_id = %messenger, error = %cause_chain(&e), "hand-off not applied yet");
                    }
                }
                Err(e) => {
                    warn!(conversation_id = %messenger, error = %cause_chain(&e), "hand-off not recorded")
                }
            }
            moved_up(api, me, c, &message).await;
            info!(conversation_id = %c.id, reply_id = %r.reply_id, "private reply sent");
            Ok((StatusCode::CREATED, Json(MessageView::from(&message))).into_response())
        }
        Err(e) => failed(api, me, c, held, &r.reply_id, e, Some(&comment.id)).await,
    }
}

/// A reply Meta accepted under `mid`, settled (or, if the record cannot be settled now, shown
/// as sent: the echo settles it later).
async fn settled(api: &AdminApi, me: &Caller, c: &Conversation, pending: Message, mid: &str) -> Message {
    let outcome = ReplyOutcome::Sent { mid: mid.to_string() };
    let reply_id = pending.id.clone();
    match api.stores.conversations.settle_reply(&me.tenant_id, &c.id, &reply_id, &outcome).await {
        Ok(Some(m)) => m,
        other => {
            let error = other.err().map(|e| cause_chain(&e)).unwrap_or_default();
            warn!(conversation_id = %c.id, reply_id = %reply_id, error = %error, "sent reply could not be settled");
            let reply = pending.reply.clone().map(|r| ReplyState { status: ReplyStatus::Sent, ..r });
            Message { id: mid.to_string(), reply, ..pending }
        }
    }
}

/// A reply Meta did not accept: settled failed or unknown, its mark taken back when nothing
/// went out (a private reply), and the error answered with the reply as stored.
async fn failed(
    api: &AdminApi,
    me: &Caller,
    c: &Conversation,
    held: &HeldToken,
    reply_id: &str,
    e: GraphError,
    private_to: Option<&str>,
) -> Result<Response, ApiError> {
    let already = e.code == Some(ALREADY_REPLIED_CODE);
    let outcome = failure_outcome(&e);
    let stored = api.stores.conversations.settle_reply(&me.tenant_id, &c.id, reply_id, &outcome).await?;
    if let (Some(comment_id), ReplyOutcome::Failed { .. }, false) = (private_to, &outcome, already) {
        api.stores.comments.release_private_reply(&me.tenant_id, &c.id, comment_id, reply_id).await?;
    }
    warn!(conversation_id = %c.id, reply_id, status = outcome.status().as_str(), "comment reply not sent");
    let error = if already {
        already_private_replied()
    } else {
        send_failure(api, &me.tenant_id, &c.page_id, &held.version, e).await
    };
    let reply = stored.map(|m| serde_json::to_value(MessageView::from(&m)).unwrap_or_default());
    Ok(error.into_response_with("reply", reply.unwrap_or_default()))
}

/// `POST /api/comments/{comment_id}/hide`.
pub async fn hide(
    State(api): State<Arc<AdminApi>>,
    Path(comment_id): Path<String>,
    me: Me,
) -> Result<Json<MessageView>, ApiError> {
    moderate(&api, &me, &comment_id, Moderation::Hide(true)).await
}

/// `POST /api/comments/{comment_id}/unhide`.
pub async fn unhide(
    State(api): State<Arc<AdminApi>>,
    Path(comment_id): Path<String>,
    me: Me,
) -> Result<Json<MessageView>, ApiError> {
    moderate(&api, &me, &comment_id, Moderation::Hide(false)).await
}

/// `DELETE /api/comments/{comment_id}`: deleted at Facebook, kept in the thread as removed.
pub async fn delete(
    State(api): State<Arc<AdminApi>>,
    Path(comment_id): Path<String>,
    me: Me,
) -> Result<Json<MessageView>, ApiError> {
    moderate(&api, &me, &comment_id, Moderation::Delete).await
}

enum Moderation {
    Hide(bool),
    Delete,
}

/// Hides, unhides or deletes a comment at Meta, then records it: Meta first, so the thread
/// never shows a state Facebook does not have. Each is idempotent at Meta, so a retried
/// request after a failure in between is harmless.
async fn moderate(
    api: &AdminApi,
    me: &Caller,
    comment_id: &str,
    m: Moderation,
) -> Result<Json<MessageView>, ApiError> {
    let not_found = || ApiError::NotFound("comment not found");
    if !is_comment_id(comment_id) {
        return Err(not_found());
    }
    let Some(found) = api.stores.comments.comment(&me.tenant_id, comment_id).await? else {
        return Err(not_found());
    };
    let c = actionable(api, me, &found.conversation_id).await?;
    let held = page_token(api, &me.tenant_id, &c.page_id).await?;
    let graph = &api.facebook.graph;
    let (done, change) = match m {
        Moderation::Hide(h) => {
            (graph.set_comment_hidden(&held.token, comment_id, h).await, CommentChange::Hidden(h))
        }
        Moderation::Delete => (graph.delete_comment(&held.token, comment_id).await, CommentChange::Removed),
    };
    if let Err(e) = done {
        return Err(match e.kind {
            GraphErrorKind::Other | GraphErrorKind::Transient => {
                warn!(page_id = %c.page_id, code = ?e.code, status = e.status, "comment moderation failed");
                ApiError::BadGateway(ErrorCode::GraphError, format!("Facebook refused: {}", e.message))
            }
            _ => send_failure(api, &me.tenant_id, &c.page_id, &held.version, e).await,
        });
    }
    let changed = api.stores.comments.change_comment(&me.tenant_id, &c.id, comment_id, &change).await?;
    info!(conversation_id = %c.id, comment_id, change = ?change, "comment moderated");
    Ok(Json(MessageView::from(&changed.ok_or_else(not_found)?)))
}

/// The comment conversation if the caller may act on its comments ([`comment_right`]): 403
/// for someone who sees it, 404 for anyone else.
async fn actionable(api: &AdminApi, me: &Caller, conversation_id: &str) -> Result<Conversation, ApiError> {
    let Some(c) = api.stores.conversations.conversation(&me.tenant_id, conversation_id).await? else {
        return Err(ApiError::NotFound("conversation not found"));
    };
    let sees = visible(api, me, &c).await?;
    match comment_right(me, &c, sees) {
        CommentRight::Allowed => Ok(c),
        CommentRight::NotYours => Err(ApiError::Forbidden(
            ErrorCode::NotYourConversation,
            "only the member who holds this conversation, or an owner or admin, acts on its comments",
        )),
        CommentRight::Hidden => Err(ApiError::NotFound("conversation not found")),
    }
}

fn invalid_reply_to(message: &str) -> ApiError {
    ApiError::Unprocessable(ErrorCode::InvalidReplyTo, message.into())
}

fn already_private_replied() -> ApiError {
    let refusal = "this comment already has its private reply (Meta allows one per comment)".into();
    ApiError::Conflict(ErrorCode::AlreadyPrivateReplied, refusal)
}

/// `{"auto_hide": "off" | "phone" | "all"}`.
#[derive(Debug, Deserialize, Serialize)]
pub struct CommentSettings {
    #[serde(deserialize_with = "crate::extract::one_of")]
    auto_hide: AutoHide,
}

impl Body for CommentSettings {
    fn unknown_value(path: &[&str]) -> Option<ApiError> {
        (path == ["auto_hide"]).then(|| {
            ApiError::Unprocessable(ErrorCode::InvalidAutoHide, "auto_hide must be off, phone or all".into())
        })
    }
}

/// `GET /api/pages/{page_id}/comment-settings`: any member of the shop reads it.
pub async fn get_settings(
    State(api): State<Arc<AdminApi>>,
    Path(page_id): Path<String>,
    me: Me,
) -> Result<Json<CommentSettings>, ApiError> {
    shop_page(&api, &me, &page_id).await?;
    let auto_hide = api.stores.comments.auto_hide(&me.tenant_id, &page_id).await?;
    Ok(Json(CommentSettings { auto_hide }))
}

/// `PUT /api/pages/{page_id}/comment-settings`: owners and admins. The worker reads it for
/// every new comment, so it applies to the next comment that arrives.
pub async fn put_settings(
    State(api): State<Arc<AdminApi>>,
    Path(page_id): Path<String>,
    me: Manager<area::Pages>,
    ApiJson(body): ApiJson<CommentSettings>,
) -> Result<Json<CommentSettings>, ApiError> {
    shop_page(&api, &me, &page_id).await?;
    api.stores.comments.set_auto_hide(&me.tenant_id, &page_id, body.auto_hide).await?;
    info!(page_id, auto_hide = body.auto_hide.as_str(), "comment auto-hide set");
    Ok(Json(body))
}

async fn shop_page(api: &AdminApi, me: &Caller, page_id: &str) -> Result<(), ApiError> {
    match api.stores.pages.page(&me.tenant_id, page_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("page not found")),
    }
}
