//! Read-only lists the shop's systems need to make sense of the rest: `/api/v1/tags`,
//! `/api/v1/users` (the organization's members), `/api/v1/channels` (names and addresses,
//! never hosts, accounts, passwords, tokens or OAuth state) and `/api/v1/retention/runs`
//! (the run history of the retention settings page).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::{QueryOrder, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;

use super::{TagJson, audit};
use crate::api::auth::ApiCaller;
use crate::api::scopes::Scope;
use crate::db::InOrg;
use crate::db::entity::retention_run;
use crate::state::AppState;
use crate::web::AppError;

/// The runs listed, newest first.
const RUN_HISTORY: u64 = 100;

/// The organization's tags.
#[derive(Serialize, ToSchema)]
pub struct TagList {
    pub tags: Vec<TagJson>,
}

/// `GET /api/v1/tags` — `api.tags_listed`.
#[utoipa::path(
    get,
    path = "/api/v1/tags",
    tag = "directory",
    responses((status = 200, description = "Every tag, by name", body = TagList)),
    security(("api_key" = ["read"]))
)]
pub async fn tags(state: web::Data<AppState>, caller: ApiCaller) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    let tags = crate::inbox::tags::all(&state.db, caller.scope.org()).await?;
    audit(
        &state,
        &caller,
        "api.tags_listed",
        "tags".to_owned(),
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(TagList {
        tags: tags.into_iter().map(TagJson::from).collect(),
    }))
}

/// A member of the organization.
#[derive(Serialize, ToSchema)]
pub struct UserJson {
    pub id: i64,
    pub display_name: String,
    pub email: String,
    /// `owner`, `admin` or `agent`.
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserJson>,
}

/// `GET /api/v1/users` — `api.users_listed`.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "directory",
    responses((status = 200, description = "The organization's members", body = UserList)),
    security(("api_key" = ["read"]))
)]
pub async fn users(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    let members = crate::orgs::queries::members(&state.db, caller.scope.org()).await?;
    audit(
        &state,
        &caller,
        "api.users_listed",
        "users".to_owned(),
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(UserList {
        users: members
            .into_iter()
            .map(|m| UserJson {
                id: m.user_id,
                display_name: m.display_name,
                email: m.email,
                role: m.role.as_str().to_owned(),
            })
            .collect(),
    }))
}

/// A channel: what it is called and what it sends as. No host, account or secret.
#[derive(Serialize, ToSchema)]
pub struct ChannelJson {
    pub id: i64,
    pub name: String,
    /// `mail`, or `chat` (a chat widget's channel: no sender address, no servers).
    pub kind: String,
    pub from_name: String,
    pub from_address: String,
    /// Replies can go out through it (it has an SMTP server).
    pub sends: bool,
    /// It polls a mailbox (IMAP).
    pub polls: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelJson>,
}

/// `GET /api/v1/channels` — `api.channels_listed`.
#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "directory",
    responses((status = 200, description = "The organization's channels", body = ChannelList)),
    security(("api_key" = ["read"]))
)]
pub async fn channels(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    let channels = crate::mail::channel::list(&state.db, caller.scope.org()).await?;
    audit(
        &state,
        &caller,
        "api.channels_listed",
        "channels".to_owned(),
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ChannelList {
        channels: channels
            .into_iter()
            .map(|c| ChannelJson {
                id: c.id,
                sends: c.smtp_host.is_some(),
                polls: c.imap_host.is_some(),
                name: c.name,
                kind: c.kind,
                from_name: c.from_name,
                from_address: c.from_address,
                created_at: c.created_at,
            })
            .collect(),
    }))
}

/// A retention run.
#[derive(Serialize, ToSchema)]
pub struct RetentionRunJson {
    pub id: i64,
    /// `schedule`, `manual` or `cli`.
    pub trigger: String,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    /// Absent while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// Per category: what was (or, dry, would be) deleted or anonymized.
    #[schema(value_type = Object)]
    pub counts: serde_json::Value,
    /// Why it stopped, when it failed (`interrupted`, `already_running`, `database`,
    /// `lock`, `search_index`, …).
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RetentionRunList {
    pub runs: Vec<RetentionRunJson>,
}

/// `GET /api/v1/retention/runs` — the newest 100; `api.retention_runs_listed`.
#[utoipa::path(
    get,
    path = "/api/v1/retention/runs",
    tag = "directory",
    responses((status = 200, description = "Retention runs, newest first", body = RetentionRunList)),
    security(("api_key" = ["read"]))
)]
pub async fn retention_runs(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    let runs = retention_run::Entity::find_in(caller.scope.org())
        .order_by_desc(retention_run::Column::Id)
        .limit(RUN_HISTORY)
        .all(&state.db)
        .await?;
    audit(
        &state,
        &caller,
        "api.retention_runs_listed",
        "retention_runs".to_owned(),
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(RetentionRunList {
        runs: runs
            .into_iter()
            .map(|run| RetentionRunJson {
                counts: serde_json::from_str(&run.counts)
                    .ok()
                    .filter(serde_json::Value::is_object)
                    .unwrap_or_else(|| serde_json::json!({})),
                id: run.id,
                trigger: run.trigger,
                dry_run: run.dry_run,
                started_at: run.started_at,
                finished_at: run.finished_at,
                error: run.error,
            })
            .collect(),
    }))
}
