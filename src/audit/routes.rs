//! `/audit`: the organization's audit log for admins and owners, filtered by actor, action and
//! date, newest first with keyset pagination, and exported as CSV or JSON (an export is itself
//! audit-logged).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, TimeZone, Utc};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use crate::db::InOrg;
use crate::db::entity::{audit_actor, audit_event};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::paths;
use crate::web::{AppError, Page, render};

const PAGE_SIZE: u64 = 100;
const EXPORT_LIMIT: u64 = 100_000;

#[derive(Deserialize, Default, Clone)]
pub struct AuditFilter {
    #[serde(default, deserialize_with = "crate::web::forms::one_line")]
    actor: Option<String>,
    #[serde(default, deserialize_with = "crate::web::forms::one_line")]
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// Show entries with ids below this one (the next page).
    before: Option<i64>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "audit/log.html")]
struct AuditPage {
    page: Page,
    filter: AuditFilter,
    entries: Vec<audit_event::Model>,
    next: Option<String>,
    export_query: String,
}

fn parse_date(value: &Option<String>) -> Result<Option<NaiveDate>, AppError> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::BadRequest("audit.bad_date")),
    }
}

fn query_string(filter: &AuditFilter) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("from", &filter.from),
        ("to", &filter.to),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            out.append_pair(key, v);
        }
    }
    out.finish()
}

async fn load(
    state: &AppState,
    scope: &TenantScope,
    filter: &AuditFilter,
    limit: u64,
) -> Result<Vec<audit_event::Model>, AppError> {
    let mut query = audit_event::Entity::find_in(scope.org());
    if let Some(actor) = filter
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        // Rows name members as `user:<id>`; their addresses are in `audit_actors`.
        let members = sea_orm::sea_query::Query::select()
            .column(audit_actor::Column::UserId)
            .from(audit_actor::Entity)
            .and_where(audit_actor::Column::Email.contains(actor))
            .to_owned();
        query = query.filter(
            sea_orm::Condition::any()
                .add(audit_event::Column::Actor.contains(actor))
                .add(audit_event::Column::ActorUserId.in_subquery(members)),
        );
    }
    if let Some(action) = filter
        .action
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        query = query.filter(audit_event::Column::Action.starts_with(action));
    }
    if let Some(from) = parse_date(&filter.from)? {
        let start = Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0).unwrap_or_default());
        query = query.filter(audit_event::Column::OccurredAt.gte(start));
    }
    if let Some(to) = parse_date(&filter.to)? {
        let end = Utc.from_utc_datetime(&to.and_hms_opt(0, 0, 0).unwrap_or_default())
            + chrono::Duration::days(1);
        query = query.filter(audit_event::Column::OccurredAt.lt(end));
    }
    if let Some(before) = filter.before {
        query = query.filter(audit_event::Column::Id.lt(before));
    }
    let mut rows = query
        .order_by_desc(audit_event::Column::Id)
        .limit(limit)
        .all(&state.db)
        .await?;
    show_actors(&state.db, &mut rows).await?;
    Ok(rows)
}

/// Puts each member's address (or, once they left, a pseudonym) in place of `user:<id>`, for
/// the page and the downloads.
async fn show_actors(
    db: &impl sea_orm::ConnectionTrait,
    rows: &mut [audit_event::Model],
) -> Result<(), sea_orm::DbErr> {
    let ids: std::collections::BTreeSet<i64> = rows
        .iter()
        .filter(|r| r.actor.starts_with("user:"))
        .filter_map(|r| r.actor_user_id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let known: std::collections::HashMap<i64, String> =
        <audit_actor::Entity as sea_orm::EntityTrait>::find()
            .filter(audit_actor::Column::UserId.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|a| (a.user_id, a.email))
            .collect();
    for row in rows.iter_mut() {
        let Some(id) = row.actor_user_id else {
            continue;
        };
        let reference = super::chain::actor_ref(id);
        let qualifier = match row.actor.strip_prefix(&reference) {
            Some(rest) if rest.is_empty() || rest.starts_with(" (") => rest.to_owned(),
            _ => continue,
        };
        let name = known
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("former member #{id}"));
        row.actor = format!("{name}{qualifier}");
    }
    Ok(())
}

pub async fn log(
    state: web::Data<AppState>,
    scope: TenantScope,
    filter: web::Query<AuditFilter>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let filter = filter.into_inner();
    if let Some(format @ ("csv" | "json")) = filter.format.as_deref() {
        let response = if format == "csv" {
            export_csv(&state, &scope, &filter).await?
        } else {
            export_json(&state, &scope, &filter).await?
        };
        record_export(&state, &scope, format, &filter).await?;
        return Ok(response);
    }
    let mut entries = load(&state, &scope, &filter, PAGE_SIZE + 1).await?;
    let next = if entries.len() as u64 > PAGE_SIZE {
        entries.truncate(PAGE_SIZE as usize);
        entries.last().map(|last| {
            let base = query_string(&filter);
            let separator = if base.is_empty() { "" } else { "&" };
            format!("{}?{base}{separator}before={}", paths::AUDIT, last.id)
        })
    } else {
        None
    };
    let page = Page::new(&state, &scope.session, "audit").await?;
    let export_query = query_string(&filter);
    render(&AuditPage {
        page,
        filter,
        entries,
        next,
        export_query,
    })
}

/// Every export of the log is itself an entry.
async fn record_export(
    state: &AppState,
    scope: &TenantScope,
    format: &str,
    filter: &AuditFilter,
) -> Result<(), AppError> {
    scope
        .audit(
            state,
            "audit.exported",
            "audit_log".to_owned(),
            serde_json::json!({ "format": format, "filter": query_string(filter) }),
        )
        .await?;
    Ok(())
}

fn csv_field(value: &str) -> String {
    // Quote every field; neutralise spreadsheet formulas.
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

async fn export_csv(
    state: &AppState,
    scope: &TenantScope,
    filter: &AuditFilter,
) -> Result<HttpResponse, AppError> {
    let entries = load(state, scope, filter, EXPORT_LIMIT).await?;
    let mut out =
        String::from("id,occurred_at,actor,action,target,ip,user_agent,details,prev_hash,hash\n");
    for e in &entries {
        let row = [
            e.id.to_string(),
            e.occurred_at.to_rfc3339(),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            e.ip.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
            e.details.clone(),
            e.prev_hash.clone(),
            e.hash.clone(),
        ];
        out.push_str(
            &row.iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"audit-log.csv\"",
        ))
        .body(out))
}

async fn export_json(
    state: &AppState,
    scope: &TenantScope,
    filter: &AuditFilter,
) -> Result<HttpResponse, AppError> {
    let entries = load(state, scope, filter, EXPORT_LIMIT).await?;
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id, "occurred_at": e.occurred_at.to_rfc3339(), "actor": e.actor, "actor_user_id": e.actor_user_id,
                "action": e.action, "target": e.target, "ip": e.ip, "user_agent": e.user_agent,
                "details": serde_json::from_str::<serde_json::Value>(&e.details).unwrap_or(serde_json::Value::Null),
                "prev_hash": e.prev_hash, "hash": e.hash,
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"audit-log.json\"",
        ))
        .json(rows))
}
