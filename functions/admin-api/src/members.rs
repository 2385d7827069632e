//! Members of the shop: list, add, and remove (out of the shop and every rule in one
//! transaction, then the re-homing of the conversations they held, queued).

use std::sync::Arc;

use adapters::retry::RetryPolicy;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::access::{Member as Caller, normalize_email};
use domain::ids::Email;
use domain::model::{Member, Role, Rule};
use domain::ports::AgentsChange;
use serde::Deserialize;

use crate::extract::{ApiJson, Body, Manager, Me, area, one_of};
use crate::views::{ItemsView, JobState, MeView, MemberView, RemovedView};
use crate::{AdminApi, ApiError, ErrorCode, rules};

/// `GET /api/members`, by email.
pub async fn list(State(api): State<Arc<AdminApi>>, me: Me) -> Result<Json<ItemsView<MemberView>>, ApiError> {
    let mut members = api.stores.members.list_members(&me.tenant_id).await?;
    members.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(Json(ItemsView::of(&members)))
}

/// `GET /api/me`: the caller as a member of their shop (its role from the member list, not
/// the token); a non-member hears 403 like on every route.
pub async fn me(me: Me) -> Json<MeView> {
    Json(MeView::from(&me.0))
}

#[derive(Deserialize)]
pub struct NewMember {
    email: String,
    #[serde(deserialize_with = "one_of")]
    role: Role,
}

impl Body for NewMember {
    fn unknown_value(path: &[&str]) -> Option<ApiError> {
        (path == ["role"]).then(|| {
            ApiError::Unprocessable(ErrorCode::InvalidRole, "role must be owner, admin or agent".into())
        })
    }
}

/// `POST /api/members`: owners and admins add people; only owners add owners.
pub async fn add(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Members>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let email = email_address(&body.email)?;
    if body.role == Role::Owner && me.role != Role::Owner {
        return Err(ApiError::Forbidden(ErrorCode::Forbidden, "only owners add owners"));
    }
    let member = Member { email, role: body.role };
    if !api.stores.members.add_member(&me.tenant_id, &member).await? {
        let message = format!("{} is already a member", member.email);
        return Err(ApiError::Conflict(ErrorCode::MemberExists, message));
    }
    tracing::info!(tenant_id = %me.tenant_id, role = member.role.as_str(), "member added");
    Ok((StatusCode::CREATED, Json(MemberView::from(&member))))
}

/// The email normalised, if it looks like an address at all ([`Email::parse`]).
fn email_address(raw: &str) -> Result<String, ApiError> {
    Email::parse(raw)
        .map(String::from)
        .map_err(|e| ApiError::Unprocessable(ErrorCode::InvalidEmail, e.to_string()))
}

/// `DELETE /api/members/{email}`: the member leaves every rule and the shop in one write; the
/// conversations they held are re-homed by each rule's old-conversation policy, through queued
/// steps.
pub async fn remove(
    State(api): State<Arc<AdminApi>>,
    Path(email): Path<String>,
    me: Manager<area::Members>,
) -> Result<Json<RemovedView>, ApiError> {
    let email = normalize_email(&email);
    let Some(target) = api.stores.members.member(&me.tenant_id, &email).await? else {
        return Err(ApiError::NotFound("member not found"));
    };
    if target.role == Role::Owner && me.role != Role::Owner {
        return Err(ApiError::Forbidden(ErrorCode::Forbidden, "admins cannot remove owners"));
    }
    leave_shop_and_rules(&api, &me, &email, target.role == Role::Owner).await?;
    let queued = rules::queue_rehoming(&api, &me.tenant_id, &email, None).await;
    tracing::info!(tenant_id = %me.tenant_id, "member removed");
    Ok(Json(RemovedView { reassignment: JobState::queued_if(queued), removed: email }))
}

/// The owner who must stay while the owner `leaving` goes: the caller when they are another
/// owner, else any other owner; 409 `last_owner` when there is none. The removal's
/// transaction checks that this owner is still one, so two owners removing each other (or
/// themselves) at the same moment never leave the shop without an owner.
async fn keeper(api: &AdminApi, me: &Caller, leaving: &str) -> Result<String, ApiError> {
    if me.email != leaving {
        return Ok(me.email.clone());
    }
    let members = api.stores.members.list_members(&me.tenant_id).await?;
    members
        .into_iter()
        .find(|m| m.role == Role::Owner && m.email != leaving)
        .map(|m| m.email)
        .ok_or_else(|| ApiError::Conflict(ErrorCode::LastOwner, "a shop keeps at least one owner".into()))
}

/// Removes `email` from the shop and from every rule naming them, in one transaction
/// ([`domain::ports::MemberStore::leave_shop`]): the member and the rules are read (strongly
/// consistent), and the write holds only if none of them changed, so a rule edit adding them
/// at the same time either lands first (and is undone here) or fails. A change meanwhile reads
/// again, with the shared optimistic budget and backoff; after that, 409 `rules_changing` and
/// nothing removed. Refused (409 `last_agent_of_rule`) while they are some rule's only agent.
async fn leave_shop_and_rules(api: &AdminApi, me: &Caller, email: &str, owner: bool) -> Result<(), ApiError> {
    let tenant: &str = &me.tenant_id;
    let policy = RetryPolicy::OPTIMISTIC;
    for n in policy.attempts() {
        let keeper = if owner { Some(keeper(api, me, email).await?) } else { None };
        let Some(m) = api.stores.members.membership(tenant, email).await? else {
            return Err(ApiError::NotFound("member not found"));
        };
        let rules = api.stores.rules.list_rules(tenant).await?;
        let holding: Vec<Rule> =
            rules.into_iter().filter(|r| r.agent_emails.iter().any(|a| a == email)).collect();
        if let Some(r) = holding.iter().find(|r| r.agent_emails.len() == 1) {
            return Err(ApiError::Conflict(
                ErrorCode::LastAgentOfRule,
                format!("{email} is the only agent of the rule {:?}; add another agent first", r.name),
            ));
        }
        let changes: Vec<AgentsChange> = holding
            .iter()
            .map(|r| AgentsChange {
                rule_id: r.id.clone(),
                expected: r.agent_emails.clone(),
                agents: r.agent_emails.iter().filter(|a| *a != email).cloned().collect(),
            })
            .collect();
        let left = api.stores.members.leave_shop(tenant, email, m.agent_grants, &changes, keeper.as_deref());
        if left.await? {
            return Ok(());
        }
        if policy.allows(n + 1) {
            policy.pause(n).await;
        }
    }
    tracing::warn!(tenant_id = tenant, "rules kept changing while a member left them");
    Err(ApiError::Conflict(
        ErrorCode::RulesChanging,
        format!("the rules naming {email} kept changing; nothing was removed, try again"),
    ))
}
