//! `/settings/retention` (admins and owners): the rules per category, with defaults shown
//! until saved; a preview of what rules would do now (a dry run); "run now"; the schedule and
//! the next run; the history of runs. Every change and every run is audit-logged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Local, Utc};
use sea_orm::{QueryOrder, QuerySelect};
use serde::Deserialize;

use super::RetentionError;
use super::run::{CategoryCounts, RunOptions, RunReport};
use super::schedule::Schedule;
use super::{Action, Category, RetentionRule, saved_rules};
use crate::db::InOrg;
use crate::db::entity::retention_run;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::i18n::Tr;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page, forms::NoFields};

const HISTORY: u64 = 20;

/// One category on the page: the saved rule, or the default (marked as not saved).
pub struct RuleRow {
    pub category: &'static str,
    pub label_key: &'static str,
    pub hint_key: &'static str,
    pub after_days: i32,
    pub action: &'static str,
    pub saved: bool,
    /// Shown because it was just previewed (not saved).
    pub proposed: bool,
    pub allows_anonymize: bool,
    pub min_days: i32,
}

pub struct RunRow {
    pub id: i64,
    pub trigger_key: &'static str,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub summary: String,
    /// The catalog key of the error, if the run failed.
    pub error_key: Option<&'static str>,
}

/// The catalog key naming who or what started a run.
fn trigger_key(trigger: &str) -> &'static str {
    match trigger {
        "schedule" => "retention.started_by.schedule",
        "resume" => "retention.started_by.resume",
        "cli" => "retention.started_by.cli",
        _ => "retention.started_by.manual",
    }
}

#[derive(Template)]
#[template(path = "retention/settings.html")]
struct SettingsPage {
    page: Page,
    rows: Vec<RuleRow>,
    /// What the saved rules would do now.
    saved_preview: Option<String>,
    /// What a proposed (not yet saved) rule would do now.
    proposal: Option<String>,
    error: Option<&'static str>,
    schedule: String,
    /// In server time, the schedule's time zone.
    next_run: Option<DateTime<Local>>,
    running: bool,
    runs: Vec<RunRow>,
}

/// "1,204" / "1.204" / "1 204".
pub fn count(n: u64, tr: Tr) -> String {
    let separator = match tr.code() {
        "de" => '.',
        "fr" => '\u{202f}',
        _ => ',',
    };
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

fn phrases(category: &str, c: &CategoryCounts, tr: Tr) -> Vec<String> {
    let n = |v: u64| count(v, tr);
    let mut out = Vec::new();
    let anonymize = c.action == "anonymize";
    match Category::parse(category) {
        Some(Category::ClosedConversations | Category::AnyConversation | Category::Spam)
            if c.conversations > 0 =>
        {
            let key = if anonymize {
                "retention.summary.conversations_anonymize"
            } else {
                "retention.summary.conversations_delete"
            };
            out.push(tr.tf(
                key,
                &[
                    ("n", &n(c.conversations)),
                    ("customers", &n(c.customers)),
                    ("attachments", &n(c.attachments)),
                ],
            ));
            if c.customer_records > 0 {
                out.push(tr.tn(
                    "retention.summary.customer_records",
                    "n",
                    n(c.customer_records),
                ));
            }
        }
        Some(Category::Attachments) if c.attachments > 0 => {
            out.push(tr.tn("retention.summary.attachments", "n", n(c.attachments)));
        }
        Some(Category::InternalNotes) if c.notes > 0 => {
            let key = if anonymize {
                "retention.summary.notes_anonymize"
            } else {
                "retention.summary.notes_delete"
            };
            out.push(tr.tn(key, "n", n(c.notes)));
        }
        Some(Category::CustomersWithoutConversations) if c.customers > 0 => {
            let key = if anonymize {
                "retention.summary.customers_anonymize"
            } else {
                "retention.summary.customers_delete"
            };
            out.push(tr.tn(key, "n", n(c.customers)));
        }
        Some(Category::AuditLog) if c.audit_events > 0 => {
            out.push(tr.tn("retention.summary.audit_events", "n", n(c.audit_events)));
        }
        Some(Category::AccessLog) if c.access_entries > 0 => {
            out.push(tr.tn("retention.summary.access_entries", "n", n(c.access_entries)));
        }
        Some(Category::UnsentDrafts) if c.drafts > 0 => {
            out.push(tr.tn("retention.summary.drafts", "n", n(c.drafts)));
        }
        Some(Category::AssistSuggestions) if c.suggestions > 0 => {
            let key = if c.action == "anonymize" {
                "retention.summary.suggestions_anonymize"
            } else {
                "retention.summary.suggestions_delete"
            };
            out.push(tr.tn(key, "n", n(c.suggestions)));
        }
        _ => {}
    }
    if c.skipped_legal_hold > 0 {
        out.push(tr.tn("retention.summary.skipped", "n", n(c.skipped_legal_hold)));
    }
    out
}

/// One sentence for a report: "would anonymize 1,204 conversations of 212 customers, …".
pub fn summary<'a>(
    categories: impl IntoIterator<Item = (&'a str, &'a CategoryCounts)>,
    tr: Tr,
) -> String {
    let parts: Vec<String> = categories
        .into_iter()
        .flat_map(|(category, counts)| phrases(category, counts, tr))
        .collect();
    if parts.is_empty() {
        tr.t("retention.summary.nothing").to_owned()
    } else {
        parts.join(", ")
    }
}

fn report_summary(report: &RunReport, tr: Tr) -> String {
    summary(report.categories.iter().map(|(k, v)| (*k, v)), tr)
}

async fn render_page(
    state: &AppState,
    scope: &TenantScope,
    proposal: Option<&RetentionRule>,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let page = Page::new(state, &scope.session, "retention").await?;
    let tr = page.tr;
    let saved = saved_rules(&state.db, org).await?;
    let rows = Category::ALL
        .into_iter()
        .map(|category| {
            let found = saved.iter().find(|r| r.category() == category);
            // A previewed rule stays in its form, ready to be saved.
            let proposed = proposal.filter(|r| r.category() == category);
            let shown = proposed
                .or(found)
                .copied()
                .unwrap_or_else(|| category.default_rule());
            RuleRow {
                proposed: proposed.is_some(),
                category: category.as_str(),
                label_key: category.label_key(),
                hint_key: category.hint_key(),
                after_days: shown.after_days(),
                action: shown.action().as_str(),
                saved: found.is_some(),
                allows_anonymize: category.allows_anonymize(),
                min_days: if category == Category::AuditLog {
                    super::AUDIT_LOG_MIN_DAYS
                } else {
                    1
                },
            }
        })
        .collect();
    let saved_preview = if saved.is_empty() {
        None
    } else {
        let report = super::run::preview(state, org, &saved).await?;
        Some(report_summary(&report, tr))
    };
    let proposal = match proposal {
        Some(rule) => {
            let report = super::run::preview(state, org, std::slice::from_ref(rule)).await?;
            Some(report_summary(&report, tr))
        }
        None => None,
    };
    let settings = super::ensure_settings(&state.db, org).await?;
    let next_run = Schedule::parse(&settings.schedule)
        .ok()
        .and_then(|s| s.next_after(Utc::now()))
        .map(|next| next.with_timezone(&Local));
    let runs = retention_run::Entity::find_in(org)
        .order_by_desc(retention_run::Column::Id)
        .limit(HISTORY)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|run| {
            let counts: std::collections::BTreeMap<String, CategoryCounts> =
                serde_json::from_str(&run.counts).unwrap_or_default();
            RunRow {
                id: run.id,
                trigger_key: trigger_key(&run.trigger),
                dry_run: run.dry_run,
                started_at: run.started_at,
                finished_at: run.finished_at,
                summary: summary(counts.iter().map(|(k, v)| (k.as_str(), v)), tr),
                error_key: run.error.as_deref().map(super::run::error_key),
            }
        })
        .collect();
    render_with_status(
        &SettingsPage {
            page,
            rows,
            saved_preview,
            proposal,
            error,
            schedule: settings.schedule,
            next_run,
            running: super::lock::is_held(state, org).await,
            runs,
        },
        status,
    )
}

/// `GET /settings/retention`
pub async fn settings(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    render_page(&state, &scope, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct RuleForm {
    category: String,
    after_days: String,
    action: String,
}

impl TryFrom<&RuleForm> for RetentionRule {
    type Error = super::RuleError;

    fn try_from(form: &RuleForm) -> Result<Self, Self::Error> {
        RetentionRule::parse(&form.category, &form.after_days, &form.action)
    }
}

/// `POST /settings/retention/rules`: saves one category's rule.
pub async fn save_rule(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<RuleForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let rule = match RetentionRule::try_from(&form) {
        Ok(rule) => rule,
        Err(error) => {
            return render_page(
                &state,
                &scope,
                None,
                Some(error.message_key()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let previous = saved_rules(&state.db, scope.org())
        .await?
        .into_iter()
        .find(|r| r.category() == rule.category());
    super::save_rule(&state.db, scope.org(), rule).await?;
    scope
        .audit(
            &state,
            "retention.rule_changed",
            format!("retention_rule:{}", rule.category().as_str()),
            serde_json::json!({
                "after_days": rule.after_days(),
                "action": rule.action().as_str(),
                "previous": previous.map(|p| serde_json::json!({
                    "after_days": p.after_days(),
                    "action": p.action().as_str(),
                })),
            }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::RETENTION.path(),
        "flash.retention_rule_saved",
    ))
}

#[derive(Deserialize)]
pub struct CategoryForm {
    category: String,
}

/// `POST /settings/retention/rules/remove`: the category's data is then kept.
pub async fn remove_rule(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<CategoryForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let category =
        Category::parse(&form.category).ok_or(AppError::BadRequest("retention.error.category"))?;
    if super::remove_rule(&state.db, scope.org(), category).await? > 0 {
        scope
            .audit(
                &state,
                "retention.rule_removed",
                format!("retention_rule:{}", category.as_str()),
                serde_json::json!({}),
            )
            .await?;
    }
    Ok(see_other_with_flash(
        paths::RETENTION.path(),
        "flash.retention_rule_removed",
    ))
}

/// `POST /settings/retention/preview`: what the proposed rule would do now (nothing saved).
pub async fn preview(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<RuleForm>,
) -> Result<HttpResponse, AppError> {
    match RetentionRule::try_from(&form) {
        Ok(rule) => render_page(&state, &scope, Some(&rule), None, StatusCode::OK).await,
        Err(error) => {
            render_page(
                &state,
                &scope,
                None,
                Some(error.message_key()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /settings/retention/run`: starts a run of the saved rules in the background.
pub async fn run_now(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    if super::lock::is_held(&state, scope.org()).await {
        return Ok(see_other_with_flash(
            paths::RETENTION.path(),
            "flash.retention_run_busy",
        ));
    }
    // The run itself is logged when it ends (`retention.run`); the request carries who asked,
    // from where.
    scope
        .audit(
            &state,
            "retention.run_requested",
            "retention".to_owned(),
            serde_json::json!({ "trigger": "manual" }),
        )
        .await?;
    let state = state.into_inner();
    let org = scope.org();
    let options = RunOptions {
        dry_run: false,
        trigger: "manual",
        actor: scope.actor(),
    };
    tokio::spawn(async move {
        match super::run::run_with(&state, org, options).await {
            Ok(_) => {}
            Err(RetentionError::AlreadyRunning) => {
                tracing::info!(
                    org = org.get(),
                    "retention run in progress; run now skipped"
                )
            }
            // Recorded in the run history with its error.
            Err(error) => tracing::error!(%error, org = org.get(), "retention run failed"),
        }
    });
    Ok(see_other_with_flash(
        paths::RETENTION.path(),
        "flash.retention_run_started",
    ))
}

#[derive(Deserialize)]
pub struct ScheduleForm {
    schedule: String,
}

/// `POST /settings/retention/schedule`
pub async fn set_schedule(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<ScheduleForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let Ok(schedule) = Schedule::parse(&form.schedule) else {
        return render_page(
            &state,
            &scope,
            None,
            Some("retention.error.schedule"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    super::set_schedule(&state.db, scope.org(), &schedule).await?;
    scope
        .audit(
            &state,
            "retention.schedule_changed",
            format!("organization:{}", scope.org()),
            serde_json::json!({ "schedule": schedule.as_str() }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::RETENTION.path(),
        "flash.retention_schedule_saved",
    ))
}

/// Action labels for the template.
pub fn action_key(action: &str) -> &'static str {
    Action::parse(action)
        .map(Action::label_key)
        .unwrap_or("retention.action.delete")
}
