//! Sharing rules (*quy tắc chia hội thoại*): list, read, create, replace, delete; and the
//! shared mode of connect.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::access::{Member as Caller, normalize_email};
use domain::model::{Method, OldConversations, Rule};
use domain::ports::{StoreError, StoredPage};
use serde::Deserialize;

use crate::error::cause_chain;
use crate::extract::{ApiJson, Body, Manager, area, one_of};
use crate::views::{ItemsView, RuleView};
use crate::{AdminApi, ApiError, ErrorCode};

/// The most Pages a rule takes: one transaction links them all.
const MAX_PAGES: usize = 45;

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

/// `GET /api/rules`, by name.
pub async fn list(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Rules>,
) -> Result<Json<ItemsView<RuleView>>, ApiError> {
    let mut rules = api.stores.rules.list_rules(&me.tenant_id).await?;
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(ItemsView::of(&rules)))
}

/// `GET /api/rules/{rule_id}`.
pub async fn get_one(
    State(api): State<Arc<AdminApi>>,
    Path(rule_id): Path<String>,
    me: Manager<area::Rules>,
) -> Result<Json<RuleView>, ApiError> {
    let rule = existing(&api, &me.tenant_id, &rule_id).await?;
    Ok(Json(RuleView::from(&rule)))
}

async fn existing(api: &AdminApi, tenant: &str, rule_id: &str) -> Result<Rule, ApiError> {
    api.stores.rules.rule(tenant, rule_id).await?.ok_or(ApiError::NotFound("rule not found"))
}

/// `POST /api/rules`: the shop's connected Pages among the rule's switch to shared mode under it.
pub async fn create(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Rules>,
    ApiJson(body): ApiJson<NewRule>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let rule = validate(&api, &me, body, None).await?;
    let connected = connected_of(&api, &me.tenant_id, rule.page_ids.iter()).await?;
    let holders = only_me_holders(&api, &me.tenant_id, &connected).await?;
    api.stores.rules.create_rule(&me.tenant_id, &rule, &connected).await.map_err(ApiError::try_again)?;
    hand_over(&api, &me.tenant_id, &rule.id, &holders).await;
    tracing::info!(tenant_id = %me.tenant_id, rule_id = %rule.id, "rule created");
    Ok((StatusCode::CREATED, Json(RuleView::from(&rule))))
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
    let old = existing(&api, &me.tenant_id, &rule_id).await?;
    let new = validate_rule(&api, &me, body, None, Some(&old)).await?;
    let touched = new.page_ids.iter().chain(old.page_ids.iter());
    let connected = connected_of(&api, &me.tenant_id, touched).await?;
    let joining: Vec<String> =
        connected.iter().filter(|p| new.page_ids.contains(p) && !old.page_ids.contains(p)).cloned().collect();
    let holders = only_me_holders(&api, &me.tenant_id, &joining).await?;
    api.stores.rules.update_rule(&me.tenant_id, &old, &new, &connected).await.map_err(ApiError::try_again)?;
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
    let rule = existing(&api, &me.tenant_id, &rule_id).await?;
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
    let name = rule_name(&body.name)?;
    let page_ids = page_list(&body.page_ids, joining_page)?;
    let agents = agent_list(&body.agent_emails);
    if page_ids.is_empty() {
        return Err(ApiError::Unprocessable(ErrorCode::NoPages, "a rule needs at least one Page".into()));
    }
    if agents.is_empty() {
        return Err(ApiError::Unprocessable(ErrorCode::NoAgents, "a rule needs at least one agent".into()));
    }
    if page_ids.len() > MAX_PAGES {
        return Err(ApiError::Unprocessable(
            ErrorCode::TooManyPages,
            format!("a rule takes at most {MAX_PAGES} Pages (one transaction links them all)"),
        ));
    }
    pages_of_the_shop(api, &me.tenant_id, &page_ids, joining_page, own).await?;
    members_of_the_shop(api, &me.tenant_id, &agents).await?;
    name_free(api, &me.tenant_id, &name, own).await?;
    let old_conversations = body.old_conversations;
    if old_conversations != OldConversations::None {
        tracing::info!(tenant_id = %me.tenant_id, policy = old_conversations.as_str(), chosen_by = %me.email,
            "old conversations will be shared with the rule's agents (history and customer data included)");
    }
    // The policy's chooser changes only when the policy does.
    let (policy_chosen_by, policy_chosen_at) = match editing {
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
        method: body.method,
        old_conversations,
        policy_chosen_by,
        policy_chosen_at,
    })
}

/// The name trimmed, 1 to 100 characters.
fn rule_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        let refusal = "the rule needs a name of 1 to 100 characters".into();
        return Err(ApiError::Unprocessable(ErrorCode::InvalidName, refusal));
    }
    Ok(name)
}

/// The Pages trimmed, without blanks or repeats, and the Page being connected into the rule
/// (which is then the rule's only Page).
fn page_list(raw: &[String], joining_page: Option<&str>) -> Result<Vec<String>, ApiError> {
    if let Some(joining) = joining_page
        && raw.iter().any(|p| p.trim() != joining)
    {
        return Err(ApiError::Unprocessable(
            ErrorCode::InvalidPages,
            "a rule created while connecting a Page holds that Page only; add others with PUT /api/rules/{id}".into(),
        ));
    }
    let mut page_ids: Vec<String> = Vec::new();
    for p in raw.iter().map(|p| p.trim().to_string()).chain(joining_page.map(String::from)) {
        if !p.is_empty() && !page_ids.contains(&p) {
            page_ids.push(p);
        }
    }
    Ok(page_ids)
}

/// The agents' emails normalised, without repeats.
fn agent_list(raw: &[String]) -> Vec<String> {
    let mut agents: Vec<String> = Vec::new();
    for e in raw.iter().map(|e| normalize_email(e)) {
        if !agents.contains(&e) {
            agents.push(e);
        }
    }
    agents
}

/// Every Page is the shop's and in no other rule (`own`, the rule edited; the joining Page's
/// current rule is the connect's business).
async fn pages_of_the_shop(
    api: &AdminApi,
    tenant: &str,
    page_ids: &[String],
    joining_page: Option<&str>,
    own: Option<&str>,
) -> Result<(), ApiError> {
    let mut unknown_pages = Vec::new();
    for p in page_ids {
        let Some(StoredPage { record: page, .. }) = api.stores.pages.page(tenant, p).await? else {
            unknown_pages.push(p.clone());
            continue;
        };
        if let Some(other) =
            page.rule_id.filter(|r| Some(p.as_str()) != joining_page && Some(r.as_str()) != own)
        {
            let other_name = api.stores.rules.rule(tenant, &other).await?.map(|r| r.name).unwrap_or(other);
            return Err(ApiError::Conflict(
                ErrorCode::PageInOtherRule,
                format!("Page {p} already belongs to the rule {other_name:?}; move it from there first"),
            ));
        }
    }
    if !unknown_pages.is_empty() {
        return Err(ApiError::Unprocessable(
            ErrorCode::UnknownPages,
            format!("not Pages of this shop: {}", unknown_pages.join(", ")),
        ));
    }
    Ok(())
}

/// Every agent has an account in the shop.
async fn members_of_the_shop(api: &AdminApi, tenant: &str, agents: &[String]) -> Result<(), ApiError> {
    let mut unknown = Vec::new();
    for e in agents {
        if api.stores.members.member(tenant, e).await?.is_none() {
            unknown.push(e.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::Unprocessable(
            ErrorCode::UnknownEmails,
            format!("these people have no account in the shop: {}", unknown.join(", ")),
        ));
    }
    Ok(())
}

/// No other rule of the shop (`own` is the rule edited) has the name, in any case.
async fn name_free(api: &AdminApi, tenant: &str, name: &str, own: Option<&str>) -> Result<(), ApiError> {
    let lower = name.to_lowercase();
    let rules = api.stores.rules.list_rules(tenant).await?;
    if rules.iter().any(|r| Some(r.id.as_str()) != own && r.name.to_lowercase() == lower) {
        return Err(ApiError::Conflict(
            ErrorCode::RuleNameTaken,
            format!("the shop already has a rule named {name:?}"),
        ));
    }
    Ok(())
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
    let job = domain::event::OrphanJob::first(tenant, email, rule_id);
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
