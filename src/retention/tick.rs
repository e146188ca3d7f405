//! The scheduled tick: every minute (and once at start) it starts the runs of the
//! organizations whose schedule came due, and resumes runs that died before they finished.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::RetentionError;
use super::run::{RunOptions, run_with};
use super::saved_rules;
use crate::audit::Actor;
use crate::db::InOrg;
use crate::db::entity::{retention_run, retention_setting};
use crate::orgs::OrgId;
use crate::state::AppState;

/// Why a tick starts an organization's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Due {
    /// A scheduled time passed since the last handled one (or was missed while down).
    Schedule,
    /// A run of the organization died before it finished (its history row is unfinished).
    Resume,
}

async fn has_interrupted_run(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<bool, sea_orm::DbErr> {
    Ok(retention_run::Entity::find_in(org)
        .filter(retention_run::Column::FinishedAt.is_null())
        .filter(retention_run::Column::DryRun.eq(false))
        .count(db)
        .await?
        > 0)
}

/// One scheduler tick (every minute, and once at start): every organization whose schedule
/// had a time since the last handled one — including times missed while the server was down —
/// and every organization with an interrupted run, runs now. A scheduled time counts as
/// handled only once its run finished (or failed with a recorded error): a run the process
/// did not live to finish is resumed at the next tick, and a time that found another run in
/// progress is taken up at the next tick after that run ends. Returns the runs finished.
pub async fn scheduled_tick(state: &AppState) -> Result<u32, sea_orm::DbErr> {
    let now = Utc::now();
    let settings = retention_setting::Entity::find().all(&state.db).await?;
    let mut finished = 0;
    for setting in settings {
        let org = setting.organization_id;
        let Ok(schedule) = super::schedule::Schedule::parse(&setting.schedule) else {
            tracing::warn!(
                org = org.get(),
                "invalid retention schedule stored; skipped"
            );
            continue;
        };
        let since = setting.schedule_checked_at.unwrap_or(setting.created_at);
        let due = if schedule.due_between(since, now) {
            Due::Schedule
        } else if has_interrupted_run(&state.db, org).await? {
            Due::Resume
        } else {
            continue;
        };
        let handled = if saved_rules(&state.db, org).await?.is_empty() {
            true
        } else {
            let options = RunOptions {
                dry_run: false,
                trigger: match due {
                    Due::Schedule => "schedule",
                    Due::Resume => "resume",
                },
                actor: Actor::System("retention"),
            };
            match run_with(state, org, options).await {
                Ok(_) => {
                    finished += 1;
                    true
                }
                Err(RetentionError::AlreadyRunning) => {
                    tracing::info!(
                        org = org.get(),
                        "retention run in progress; the scheduled run waits for it"
                    );
                    false
                }
                Err(error) => {
                    // Recorded in the history with its error; the next time is the next try.
                    tracing::error!(%error, org = org.get(), "scheduled retention run failed");
                    true
                }
            }
        };
        if handled && due == Due::Schedule {
            retention_setting::Entity::update_in(org)
                .col_expr(retention_setting::Column::ScheduleCheckedAt, Expr::val(now))
                .exec(&state.db)
                .await?;
        }
    }
    Ok(finished)
}
