//! Sharing rules (*quy tắc chia hội thoại*): list, read, create; and the shared mode of connect.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::access::{Member as Caller, normalize_email};
use domain::model::{Method, OldConversations, Rule};
use domain::ports::StoreError;
use serde::Deserialize;

use crate::error::cause_chain;
use crate::extract::{ApiJson, Body, Manager, area, one_of};
use crate::views::{ItemsView, RuleView};
use crate::{AdminApi, ApiError, ErrorCode};

#[derive(Deserialize)]
pub struct NewRule {
    name: String,
    #[serde(default)]
    page_ids: Vec<String>,
    #[serde(default)]
    agent_emails: Vec<String>,
    #[serde(deserialize_with = "one_of")]
    method: Method,
    #[serde(default = "no_old_conversations", deserialize_with = "one_of")]
    old_conversations: OldConversations,
}

fn no_old_conversations() -> OldConversations {
    OldConversations::None
}

impl Body for NewRule {
    fn unknown_value(path: &[&str]) -> Option<ApiError> {
        let (code, message) = match path {
            ["method"] => (ErrorCode::InvalidMethod, "method must be round_robin or self_claim"),
            ["old_conversations"] => {
                (ErrorCode::InvalidOldConversations, "old_conversations must be none, available or all")
            }
            _ => return None,
        };
        Some(ApiError::Unprocessable(code, message.into()))
    }
}

/// Validates a rule against the shop: every refusal a clear 4xx. `joining_page` is a Page being
/// connected into the rule (it need not be free of rules yet: the connect decides).
pub async fn validate(
    api: &AdminApi,
    me: &Caller,
    body: NewRule,
    joining_page: Option<&str>,
) -> Result<Rule, ApiError> {
    validate_rule(api, me, body, joining_page, None).await
}

/// [`validate`], for a new rule or for a replacement of `editing`.
async fn validate_rule(
    api: &AdminApi,
    me: &Caller,
    body: NewRule,
    joining_page: Option<&str>,
    editing: Option<&Rule>,
) -> Result<Rule, ApiError> {
    let own = editing.map(|r| r.id.as_str());
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::Unprocessable(
            ErrorCode::InvalidName,
            "the rule needs a name of 1 to 100 characters".into(),
        ));
    }
    let (method, old_conversations) = (body.method, body.old_conversations);
    if let Some(joining) = joining_page
        && body.page_ids.iter().any(|p| p.trim() != joining)
    {
        return Err(ApiError::Unprocessable(
            ErrorCode::InvalidPages,
            "a rule created while connecting a Page holds that Page only; add others with PUT /api/rules/{id}".into(),
        ));
    }
    let mut page_ids: Vec<String> = Vec::new();
    for p in body.page_ids.iter().map(|p| p.trim().to_string()).chain(joining_page.map(String::from)) {
        if !p.is_empty() && !page_ids.contains(&p) {
            page_ids.push(p);
        }
    }
    let mut agents: Vec<String> = Vec::new();
    for e in body.agent_emails.iter().map(|e| normalize_email(e)) {
        if !agents.contains(&e) {
            agents.push(e);
        }
    }
    if page_ids.is_empty() {
        return Err(ApiError::Unprocessable(ErrorCode::NoPages, "a rule needs at least one Page".into()));
    }
    if agents.is_empty() {
        return Err(ApiError::Unprocessable(ErrorCode::NoAgents, "a rule needs at least one agent".into()));
    }
    if page_ids.len() > 45 {
        return Err(ApiError::Unprocessable(
            ErrorCode::TooManyPages,
            "a rule takes at most 45 Pages (one transaction links them all)".into(),
        ));
    }
    let mut unknown_pages = Vec::new();
    for p in &page_ids {
        match api.stores.pages.page(&me.tenant_id, p).await? {
            None => unknown_pages.push(p.clone()),
            Some((page, _)) => {
                if let Some(other) =
                    page.rule_id.filter(|r| Some(p.as_str()) != joining_page && Some(r.as_str()) != own)
                {
                    let other_name =
                        api.stores.rules.rule(&me.tenant_id, &other).await?.map(|r| r.name).unwrap_or(other);
                    return Err(ApiError::Conflict(
                        ErrorCode::PageInOtherRule,
                        format!(
                            "Page {p} already belongs to the rule {other_name:?}; move it from there first"
                        ),
                    ));
                }
            }
        }
    }
    if !unknown_pages.is_empty() {
        return Err(ApiError::Unprocessable(
            ErrorCode::UnknownPages,
            format!("not Pages of this shop: {}", unknown_pages.join(", ")),
        ));
    }
    let mut unknown = Vec::new();
    for e in &agents {
        if api.stores.members.member(&me.tenant_id, e).await?.is_none() {
            unknown.push(e.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::Unprocessable(
            ErrorCode::UnknownEmails,
            format!("these people have no account in the shop: {}", unknown.join(", ")),
        ));
    }
    if api
        .stores
        .rules
        .list_rules(&me.tenant_id)
        .await?
        .iter()
        .any(|r| Some(r.id.as_str()) != own && r.name.to_lowercase() == name.to_lowercase())
    {
        return Err(ApiError::Conflict(
            ErrorCode::RuleNameTaken,
            format!("the shop already has a rule named {name:?}"),
        ));
    }
    if old_conversations != OldConversations::None {
        tracing::info!(tenant_id = %me.tenant_id, policy = old_conversations.as_str(), chosen_by = %me.email,
            "old conversations will be shared with the rule's agents (history and customer data included)");
    }
    // The policy's chooser changes only when the policy does.
    let (chosen_by, chosen_at) = match editing {
        Some(r) if r.old_conversations == old_conversations => {
            (r.policy_chosen_by.clone(), r.policy_chosen_at.clone())
        }
        _ => (Some(me.email.clone()), Some(domain::timefmt::rfc3339_ms(domain::timefmt::now_ms()))),
    };
    Ok(Rule {
        id: editing.map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), |r| r.id.clone()),
        name,
        page_ids,
        agent_emails: agents,
        method,
        old_conversations,
        policy_chosen_by: chosen_by,
        policy_chosen_at: chosen_at,
    })
}

pub async fn list(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Rules>,
) -> Result<Json<ItemsView<RuleView>>, ApiError> {
    let mut rules = api.stores.rules.list_rules(&me.tenant_id).await?;
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(ItemsView::of(&rules)))
}

pub async fn get_one(
    State(api): State<Arc<AdminApi>>,
    Path(rule_id): Path<String>,
    me: Manager<area::Rules>,
) -> Result<Json<RuleView>, ApiError> {
    let rule =
        api.stores.rules.rule(&me.tenant_id, &rule_id).await?.ok_or(ApiError::NotFound("rule not found"))?;
    Ok(Json(RuleView::from(&rule)))
}

pub async fn create(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Rules>,
    ApiJson(body): ApiJson<NewRule>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let rule = validate(&api, &me, body, None).await?;
    // Connected Pages of the shop switch to shared mode under the new rule.
    let mut connected = Vec::new();
    for p in &rule.page_ids {
        if api.stores.pages.page_route(p).await?.is_some_and(|r| r.tenant_id == me.tenant_id) {
            connected.push(p.clone());
        }
    }
    let holders = only_me_holders(&api, &me.tenant_id, &connected).await?;
    match api.stores.rules.create_rule(&me.tenant_id, &rule, &connected).await {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => {
            return Err(ApiError::Conflict(ErrorCode::Conflict, format!("{m}; try again")));
        }
        Err(e) => return Err(e.into()),
    }
    hand_over(&api, &me.tenant_id, &rule.id, &holders).await;
    tracing::info!(tenant_id = %me.tenant_id, rule_id = %rule.id, "rule created");
    Ok((StatusCode::CREATED, Json(RuleView::from(&rule))))
}

/// Pages of the shop (among `pages`) connected to it now.
async fn connected_of(
    api: &AdminApi,
    tenant: &str,
    pages: impl Iterator<Item = &String>,
) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for p in pages {
        if api.stores.pages.page_route(p).await?.is_some_and(|r| r.tenant_id == tenant) {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// `PUT /api/rules/{rule_id}`: replaces the rule. Pages it gains join it (connected ones switch
/// to shared), Pages it loses leave it (connected ones go back to only-me under the member who
/// connected them), all in one transaction.
pub async fn replace(
    State(api): State<Arc<AdminApi>>,
    Path(rule_id): Path<String>,
    me: Manager<area::Rules>,
    ApiJson(body): ApiJson<NewRule>,
) -> Result<Json<RuleView>, ApiError> {
    let old =
        api.stores.rules.rule(&me.tenant_id, &rule_id).await?.ok_or(ApiError::NotFound("rule not found"))?;
    let new = validate_rule(&api, &me, body, None, Some(&old)).await?;
    let touched = new.page_ids.iter().chain(old.page_ids.iter());
    let connected = connected_of(&api, &me.tenant_id, touched).await?;
    let joining: Vec<String> =
        connected.iter().filter(|p| new.page_ids.contains(p) && !old.page_ids.contains(p)).cloned().collect();
    let holders = only_me_holders(&api, &me.tenant_id, &joining).await?;
    match api.stores.rules.update_rule(&me.tenant_id, &old, &new, &connected).await {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => {
            return Err(ApiError::Conflict(ErrorCode::Conflict, format!("{m}; try again")));
        }
        Err(e) => return Err(e.into()),
    }
    hand_over(&api, &me.tenant_id, &new.id, &holders).await;
    // Agents who left the rule leave its conversations behind: re-homed by the policy.
    for gone in old.agent_emails.iter().filter(|a| !new.agent_emails.contains(a)) {
        queue_rehoming(&api, &me.tenant_id, gone, Some(&new.id)).await;
    }
    tracing::info!(tenant_id = %me.tenant_id, rule_id = %rule_id, "rule updated");
    Ok(Json(RuleView::from(&new)))
}

/// `DELETE /api/rules/{rule_id}`: refused while the rule still has Pages.
pub async fn delete(
    State(api): State<Arc<AdminApi>>,
    Path(rule_id): Path<String>,
    me: Manager<area::Rules>,
) -> Result<StatusCode, ApiError> {
    let rule =
        api.stores.rules.rule(&me.tenant_id, &rule_id).await?.ok_or(ApiError::NotFound("rule not found"))?;
    if !rule.page_ids.is_empty() {
        return Err(ApiError::Conflict(
            ErrorCode::RuleHasPages,
            format!("move these Pages out of the rule first: {}", rule.page_ids.join(", ")),
        ));
    }
    match api.stores.rules.delete_rule(&me.tenant_id, &rule).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::Conflict(m)) => Err(ApiError::Conflict(ErrorCode::RuleHasPages, m)),
        Err(e) => Err(e.into()),
    }
}

/// Members holding only-me conversations of Pages about to join a rule (the routes'
/// `connected_by`), among `pages`.
pub async fn only_me_holders(
    api: &AdminApi,
    tenant: &str,
    pages: &[String],
) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for p in pages {
        if let Some(r) = api.stores.pages.page_route(p).await?
            && r.tenant_id == tenant
            && r.chat_mode == domain::model::ChatMode::OnlyMe
            && !out.contains(&r.connected_by)
        {
            out.push(r.connected_by);
        }
    }
    Ok(out)
}

/// Queues the re-homing of the conversations `email` holds (on `rule_id`'s Pages only, when
/// given) by the old-conversation policy; false if it could not be queued (logged).
pub async fn queue_rehoming(api: &AdminApi, tenant: &str, email: &str, rule_id: Option<&str>) -> bool {
    let job = domain::event::OrphanJob {
        tenant_id: tenant.to_string(),
        email: email.to_string(),
        rule_id: rule_id.map(String::from),
        cursor: None,
        step: 0,
    };
    let queued = match job.to_queue_message() {
        Ok(m) => api.queue.send_batch(&[m]).await.map_err(|e| cause_chain(&e)),
        Err(e) => Err(cause_chain(&e)),
    };
    if let Err(error) = &queued {
        tracing::error!(tenant_id = tenant, rule_id = ?rule_id, error = %error,
            "re-homing of conversations could not be queued");
    }
    queued.is_ok()
}

/// A Page joining a rule brings its conversations along as old conversations: the rule's
/// policy re-homes those its only-me holder had, through the same queued job as a departing
/// agent's.
pub async fn hand_over(api: &AdminApi, tenant: &str, rule_id: &str, holders: &[String]) {
    for holder in holders {
        queue_rehoming(api, tenant, holder, Some(rule_id)).await;
    }
}
