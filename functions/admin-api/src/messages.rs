//! Replies through the Send API, within Meta's messaging window, and the shop's reply setting.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::graph::{GraphErrorKind, WindowRefusal, reply_window};
use domain::model::{Direction, Message};
use domain::ports::ConversationTouch;
use domain::timefmt::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};

use crate::extract::{ApiJson, Body, Manager, Me, area};
use crate::views::MessageView;
use crate::{AdminApi, ApiError, ErrorCode};

#[derive(Deserialize)]
pub struct Reply {
    text: String,
}

impl Body for Reply {}

/// `POST /api/conversations/{id}/messages`.
pub async fn send(
    State(api): State<Arc<AdminApi>>,
    Path(conversation_id): Path<String>,
    me: Me,
    ApiJson(body): ApiJson<Reply>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let text = body.text;
    let chars = text.chars().count();
    if chars == 0 || chars > 2000 || text.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            ErrorCode::InvalidText,
            "text must be 1 to 2000 characters".into(),
        ));
    }
    let Some(c) = api.stores.conversations.conversation(&me.tenant_id, &conversation_id).await? else {
        return Err(ApiError::NotFound("conversation not found"));
    };
    // The holder replies; owners and admins may reply to any conversation of their shop.
    let holder = c.assignee.as_deref() == Some(me.email.as_str());
    if !holder && !me.role.is_manager() {
        return Err(if me.can_read(&c) || c.pool_rule_id.is_some() {
            ApiError::Forbidden(
                ErrorCode::NotYourConversation,
                "only the agent who holds this conversation replies",
            )
        } else {
            ApiError::NotFound("conversation not found")
        });
    }
    let human_agent = api.stores.members.human_agent_enabled(&me.tenant_id).await?;
    let messaging = reply_window(now_ms(), c.last_customer_message_ms, human_agent).map_err(|w| match w {
        WindowRefusal::NeedsHumanAgentTag => ApiError::Unprocessable(
            ErrorCode::OutsideWindow,
            "the customer last wrote more than 24 hours ago; replies up to 7 days need the Human Agent tag, not enabled for this shop".into(),
        ),
        WindowRefusal::Closed => ApiError::Unprocessable(
            ErrorCode::OutsideWindow,
            "the customer last wrote more than 7 days ago (or never): Meta allows no reply until they write again".into(),
        ),
    })?;
    let Some((_, Some(sealed))) = api.stores.pages.page(&me.tenant_id, &c.page_id).await? else {
        return Err(ApiError::Conflict(
            ErrorCode::ReconnectRequired,
            "the Page has no token; connect it again".into(),
        ));
    };
    let token = api.facebook.cipher.decrypt(&me.tenant_id, &c.page_id, &sealed).map_err(|_| {
        ApiError::Conflict(
            ErrorCode::ReconnectRequired,
            "the stored Page token cannot be used; connect the Page again".into(),
        )
    })?;
    let sent_ms = now_ms();
    let mid = match api.facebook.graph.send_text(&c.page_id, &token, &c.customer_id, &text, messaging).await {
        Ok(mid) => mid,
        Err(e) => {
            return Err(match e.kind {
                GraphErrorKind::OutsideWindow => ApiError::Unprocessable(
                    ErrorCode::OutsideWindow,
                    format!("Meta refused the reply: {}", e.message),
                ),
                GraphErrorKind::RecipientUnavailable => ApiError::Unprocessable(
                    ErrorCode::RecipientUnavailable,
                    "this customer cannot be reached on Messenger right now".into(),
                ),
                GraphErrorKind::RateLimited => {
                    warn!(page_id = %c.page_id, code = ?e.code, "Send API rate limited after retries");
                    ApiError::TooManyRequests(
                        ErrorCode::RateLimited,
                        "Facebook is rate limiting this Page; retry shortly".into(),
                    )
                }
                GraphErrorKind::TokenInvalid | GraphErrorKind::PermissionMissing => {
                    crate::pages::graph_failure(&api, &me.tenant_id, &c.page_id, &e).await
                }
                GraphErrorKind::Transient | GraphErrorKind::Other => {
                    warn!(page_id = %c.page_id, code = ?e.code, status = e.status, "Send API failed");
                    ApiError::BadGateway(
                        ErrorCode::GraphError,
                        format!("Facebook did not accept the reply: {}", e.message),
                    )
                }
            });
        }
    };
    // Sent: stored under Meta's id, so the echo that follows is the same message.
    let message = Message {
        id: mid,
        conversation_id: c.id.clone(),
        direction: Direction::Out,
        kind: "text".into(),
        text: Some(text),
        sent_ms,
        detail: Some(json!({"sent_by": me.email, "messaging_type": format!("{messaging:?}")})),
    };
    api.stores
        .conversations
        .touch_conversation(&ConversationTouch {
            tenant_id: me.tenant_id.clone(),
            conversation_id: c.id.clone(),
            page_id: c.page_id.clone(),
            customer_id: c.customer_id.clone(),
            activity_ms: sent_ms,
            customer_ms: None,
        })
        .await?;
    api.stores.conversations.put_message(&me.tenant_id, &message).await?;
    info!(conversation_id = %c.id, "reply sent");
    Ok((StatusCode::CREATED, Json(MessageView::from(&message))))
}

/// `{"human_agent_tag": bool}`, read and written alike.
#[derive(Deserialize, Serialize)]
pub struct Settings {
    human_agent_tag: bool,
}

impl Body for Settings {}

/// `GET /api/settings`.
pub async fn get_settings(State(api): State<Arc<AdminApi>>, me: Me) -> Result<Json<Settings>, ApiError> {
    let human_agent_tag = api.stores.members.human_agent_enabled(&me.tenant_id).await?;
    Ok(Json(Settings { human_agent_tag }))
}

/// `PUT /api/settings`: owners and admins.
pub async fn put_settings(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Settings>,
    ApiJson(body): ApiJson<Settings>,
) -> Result<Json<Settings>, ApiError> {
    api.stores.members.set_human_agent_enabled(&me.tenant_id, body.human_agent_tag).await?;
    Ok(Json(body))
}
