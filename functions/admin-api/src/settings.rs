//! The shop's reply setting: whether replies may use Meta's Human Agent tag (up to 7 days).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::extract::{ApiJson, Body, Manager, Me, area};
use crate::{AdminApi, ApiError};

/// `{"human_agent_tag": bool}`, read and written alike.
#[derive(Debug, Deserialize, Serialize)]
pub struct Settings {
    human_agent_tag: bool,
}

impl Body for Settings {}

/// `GET /api/settings`.
pub async fn get(State(api): State<Arc<AdminApi>>, me: Me) -> Result<Json<Settings>, ApiError> {
    let human_agent_tag = api.stores.members.human_agent_enabled(&me.tenant_id).await?;
    Ok(Json(Settings { human_agent_tag }))
}

/// `PUT /api/settings`: owners and admins.
pub async fn put(
    State(api): State<Arc<AdminApi>>,
    me: Manager<area::Settings>,
    ApiJson(body): ApiJson<Settings>,
) -> Result<Json<Settings>, ApiError> {
    api.stores.members.set_human_agent_enabled(&me.tenant_id, body.human_agent_tag).await?;
    Ok(Json(body))
}
