//! Lookups the inbox pages share. Everything about organization data takes the [`OrgId`]
//! from the session's tenant scope.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::db::InOrg;
use crate::db::entity::{conversation, customer, user};
use crate::inbox::events::InboxEvent;
use crate::orgs::OrgId;
use crate::state::AppState;
use crate::web::AppError;

/// A conversation of this organization; any other id is "not found".
pub async fn conversation(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<conversation::Model, AppError> {
    conversation::Entity::find_by_id_in(org, id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// A conversation of this organization that agents may act on: "not found" like
/// [`conversation`], and refused while its customer's processing is restricted (replies,
/// notes, resends, status, assignee and tags; [`crate::privacy::restrict`]).
pub async fn changeable_conversation(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<conversation::Model, AppError> {
    let found = conversation(db, org, id).await?;
    crate::privacy::restrict::refuse_if_restricted(db, org, id).await?;
    Ok(found)
}

/// Display names of users (assignees, note and reply authors).
pub async fn user_names(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<HashMap<i64, String>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .filter(user::Column::Id.is_in(ids))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Display names of this organization's customers.
pub async fn customer_names(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: Vec<i64>,
) -> Result<HashMap<i64, String>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(customer::Entity::lookup_in(org)
        .select_only()
        .column(customer::Column::Id)
        .column(customer::Column::DisplayName)
        .filter(customer::Column::Id.is_in(ids))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// A timestamp as the pages show it (UTC, to the minute).
pub fn short_time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

/// Tells open inbox pages of the organization that a conversation changed.
pub fn publish(state: &AppState, org: OrgId, conversation_id: i64) {
    state.events.publish(InboxEvent {
        org,
        conversation_id,
    });
}
