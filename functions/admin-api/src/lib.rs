//! The admin API: shops and members, Pages, and the conversation inbox, for the caller's shop
//! only. Identity comes from the JWT authorizer's claims (API Gateway on AWS, the local stack's
//! HS256 check locally), placed in the request extensions by the layer in front of [`router`];
//! handlers take the caller resolved to a member ([`Me`], [`Manager`]) and their body through
//! [`ApiJson`], and answer with the structs of [`views`].

pub mod comments;
pub mod conversations;
pub mod erasure;
pub mod error;
pub mod extract;
pub mod identity;
pub mod members;
pub mod pages;
pub mod rules;
pub mod settings;
pub mod views;

use std::sync::Arc;

use adapters::Stores;
use axum::Router;
use axum::routing::{delete, get, post};
use domain::access::{Identity, Member as Caller, normalize_email};
use domain::model::{Member, Role};

pub use error::{ApiError, ErrorCode};
pub use extract::{ApiJson, ApiQuery, Manager, Me};
pub use pages::page_json;

pub struct AdminApi {
    pub stores: Stores,
    pub facebook: Arc<adapters::facebook::Facebook>,
    /// Where connecting a Page queues its history sync.
    pub queue: Arc<dyn domain::ports::EventQueue>,
}

pub fn router(api: Arc<AdminApi>) -> Router {
    Router::new()
        .route("/api/me", get(members::me))
        .route("/api/members", get(members::list).post(members::add))
        .route("/api/members/{email}", delete(members::remove))
        .route("/api/pages", get(pages::list))
        .route("/api/pages/{page_id}", delete(erasure::delete_page_data))
        .route("/api/pages/{page_id}/connect", post(pages::connect))
        .route("/api/pages/{page_id}/disconnect", post(pages::disconnect))
        .route("/api/facebook/login-url", get(pages::login_url))
        .route("/api/rules", get(rules::list).post(rules::create))
        .route("/api/rules/{rule_id}", get(rules::get_one).put(rules::replace).delete(rules::delete))
        .route("/api/conversations", get(conversations::list))
        .route("/api/conversations/{id}", get(conversations::get_one))
        .route("/api/conversations/{id}/claim", post(conversations::claim))
        .route(
            "/api/conversations/{id}/messages",
            get(conversations::list_messages).post(conversations::send),
        )
        .route("/api/comments/{comment_id}", delete(comments::delete))
        .route("/api/comments/{comment_id}/hide", post(comments::hide))
        .route("/api/comments/{comment_id}/unhide", post(comments::unhide))
        .route(
            "/api/pages/{page_id}/comment-settings",
            get(comments::get_settings).put(comments::put_settings),
        )
        .route("/api/settings", get(settings::get).put(settings::put))
        .route_layer(axum::middleware::from_fn(extract::page_ids_are_digits))
        .fallback(|| async { ApiError::NotFound("no such route") })
        .with_state(api)
}

/// Resolves the verified identity to a member of its shop (`docs/facebook-login.md`,
/// "Shops and members"). Roles come from the member list, never from the token's `role`: the
/// token's owner claim counts once, when a shop with no members yet is founded by its first
/// owner's first call. A member is the same person as at their first call (`sub`); anyone
/// else, a removed member included, gets 403.
pub async fn caller(api: &AdminApi, id: &Identity) -> Result<Caller, ApiError> {
    let email = normalize_email(&id.email);
    let members = &api.stores.members;
    let mut found = members.membership(&id.tenant_id, &email).await?;
    if found.is_none()
        && id.claimed_role == Role::Owner
        && members
            .found_shop(&id.tenant_id, &Member { email: email.clone(), role: Role::Owner }, &id.sub)
            .await?
    {
        tracing::info!(tenant_id = %id.tenant_id, "shop founded by its first owner");
        return Ok(Caller { email, tenant_id: id.tenant_id.clone(), role: Role::Owner });
    }
    if found.is_none() && id.claimed_role == Role::Owner {
        // The same owner's first calls, at once: one founded the shop, the others see it.
        found = members.membership(&id.tenant_id, &email).await?;
    }
    let Some(m) = found else {
        return Err(ApiError::Forbidden(ErrorCode::NotAMember, "your account is not a member of this shop"));
    };
    let same_person = match m.sub.as_deref() {
        Some(bound) => bound == id.sub,
        // Added by email: the first call binds who they are, once.
        None => members.bind_sub(&id.tenant_id, &email, &id.sub).await?,
    };
    if !same_person {
        tracing::warn!(tenant_id = %id.tenant_id, "a token's sub differs from the one bound to its member");
        return Err(ApiError::Forbidden(
            ErrorCode::IdentityMismatch,
            "this email belongs to another account of the shop",
        ));
    }
    Ok(Caller { email, tenant_id: id.tenant_id.clone(), role: m.member.role })
}
