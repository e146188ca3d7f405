//! `/settings/backups`: on an install with one organization, its owners see the backups
//! (taken, size, expiry), set when they are taken (daily or weekly at an hour, UTC, or off)
//! unless the operator fixed it with `LETHE_BACKUP_SCHEDULE`, and can take one now. On an
//! install with several organizations backups are the operator's alone: the page says so.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde::Deserialize;

use super::files::{self, Listed};
use super::schedule::{self, Schedule};
use crate::db::entity::organization;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, render};

/// One backup as the page lists it.
pub struct BackupRow {
    pub name: String,
    pub taken_at: String,
    pub expires_at: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "backup/settings.html")]
struct BackupsPage {
    page: Page,
    /// False: LETHE_BACKUP_DIR is not set, backups are off.
    enabled: bool,
    /// The operator's cron, when it decides.
    operator_schedule: Option<String>,
    schedule: Schedule,
    keep_days: i64,
    rows: Vec<BackupRow>,
    errors: Vec<&'static str>,
}

impl BackupsPage {
    fn checked(&self, frequency: &str) -> &'static str {
        if self.schedule.frequency() == frequency {
            " checked"
        } else {
            ""
        }
    }

    fn hour_selected(&self, hour: &u32) -> &'static str {
        if self.schedule.hour() == *hour {
            " selected"
        } else {
            ""
        }
    }

    fn weekday_selected(&self, day: &u32) -> &'static str {
        if self.schedule.weekday() == *day {
            " selected"
        } else {
            ""
        }
    }

    fn hours(&self) -> Vec<u32> {
        (0..24).collect()
    }

    /// (0 = Monday, name) in the page's language.
    fn weekdays(&self) -> Vec<(u32, &'static str)> {
        [
            "backup.day.mon",
            "backup.day.tue",
            "backup.day.wed",
            "backup.day.thu",
            "backup.day.fri",
            "backup.day.sat",
            "backup.day.sun",
        ]
        .into_iter()
        .enumerate()
        .map(|(n, key)| (n as u32, self.page.t(key)))
        .collect()
    }
}

/// Owners of a single-organization install only.
async fn require_single_org_owner(state: &AppState, scope: &TenantScope) -> Result<(), AppError> {
    scope.require_owner()?;
    if organization::Entity::find().count(&state.db).await? > 1 {
        return Err(AppError::BadRequest("backup.error.several_organizations"));
    }
    Ok(())
}

async fn backups_page(
    state: &AppState,
    scope: &TenantScope,
    schedule: Schedule,
    errors: Vec<&'static str>,
) -> Result<BackupsPage, AppError> {
    let page = Page::new(state, &scope.session, "organization").await?;
    let config = &state.config.backup;
    let listed: Vec<Listed> = match &config.dir {
        Some(dir) => {
            let (dir, keep) = (dir.clone(), config.keep_days);
            tokio::task::spawn_blocking(move || files::list(&dir, keep))
                .await
                .map_err(AppError::internal)?
                .map_err(AppError::internal)?
        }
        None => Vec::new(),
    };
    let rows = listed
        .iter()
        .rev()
        .map(|b| BackupRow {
            name: b.name.clone(),
            taken_at: b.taken_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            expires_at: b.expires_at.format("%Y-%m-%d").to_string(),
            size: format!("{:.1} MB", b.bytes as f64 / (1024.0 * 1024.0)),
        })
        .collect();
    let operator_schedule = config.operator_schedule.then(|| {
        state
            .config
            .jobs
            .schedules
            .iter()
            .find(|(job, _)| *job == crate::jobs::Scheduled::Backup)
            .map(|(_, s)| s.as_str().to_owned())
            .unwrap_or_default()
    });
    Ok(BackupsPage {
        page,
        enabled: config.dir.is_some(),
        operator_schedule,
        schedule,
        keep_days: config.keep_days,
        rows,
        errors,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    require_single_org_owner(&state, &scope).await?;
    let current = schedule::load(&state.db).await?;
    render(&backups_page(&state, &scope, current, vec![]).await?)
}

#[derive(Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    frequency: String,
    #[serde(default)]
    hour: String,
    #[serde(default)]
    weekday: String,
}

pub async fn set_schedule(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<ScheduleForm>,
) -> Result<HttpResponse, AppError> {
    require_single_org_owner(&state, &scope).await?;
    let current = schedule::load(&state.db).await?;
    if state.config.backup.operator_schedule {
        let page = backups_page(&state, &scope, current, vec!["backup.error.operator"]).await?;
        return render_with_status(&page, StatusCode::CONFLICT);
    }
    let chosen = match Schedule::parse(&form.frequency, &form.hour, &form.weekday) {
        Ok(chosen) => chosen,
        Err(key) => {
            let page = backups_page(&state, &scope, current, vec![key]).await?;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    schedule::save(&state.db, chosen).await?;
    scope
        .audit(
            &state,
            "backup.schedule_changed",
            "backups".to_owned(),
            serde_json::json!({
                "frequency": chosen.frequency(),
                "hour_utc": chosen.hour(),
                "weekday": chosen.weekday(),
            }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::BACKUPS.path(),
        "flash.backup_schedule_saved",
    ))
}

/// A backup taken from the page is under way (one at a time).
static TAKING: AtomicBool = AtomicBool::new(false);

pub async fn take_now(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    require_single_org_owner(&state, &scope).await?;
    if state.config.backup.dir.is_none() {
        let current = schedule::load(&state.db).await?;
        let page = backups_page(&state, &scope, current, vec!["backup.error.off"]).await?;
        return render_with_status(&page, StatusCode::CONFLICT);
    }
    if TAKING.swap(true, Ordering::AcqRel) {
        return Ok(see_other_with_flash(
            paths::BACKUPS.path(),
            "flash.backup_running",
        ));
    }
    scope
        .audit(
            &state,
            "backup.requested",
            "backups".to_owned(),
            serde_json::json!({}),
        )
        .await?;
    let state = state.into_inner();
    tokio::spawn(async move {
        match super::create::run_once(&state).await {
            Ok(outcome) => tracing::info!(backup = %outcome.backup, "backup taken from the page"),
            Err(error) => tracing::error!(%error, "backup from the page failed"),
        }
        TAKING.store(false, Ordering::Release);
    });
    Ok(see_other_with_flash(
        paths::BACKUPS.path(),
        "flash.backup_started",
    ))
}
