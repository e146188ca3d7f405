//! The scheduled tick: every minute (and once at start) it starts the runs of the
//! organizations whose schedule came due, and resumes runs that died before they finished.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::RetentionError;
use super::lock::{LockError, RunLock};
use super::run::{RunOptions, run_holding};
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

async fn mark_checked(
    state: &AppState,
    org: OrgId,
    now: chrono::DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    retention_setting::Entity::update_in(org)
        .col_expr(retention_setting::Column::ScheduleCheckedAt, Expr::val(now))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Whether a run found due is still due once the organization's lock is taken.
enum StillDue {
    Yes(Box<RunLock>),
    /// Another run (on this node or another) holds the lock.
    Held,
    /// Another node did it between the check and the lock.
    No,
}

/// Takes the organization's lock and checks again under it, on what is stored now, that the
/// run is due: several nodes tick at the same moment, and the one that comes second must not
/// run again what the first has just finished.
async fn still_due(state: &AppState, org: OrgId, due: Due) -> Result<StillDue, sea_orm::DbErr> {
    let lock = match RunLock::acquire(state, org).await {
        Ok(lock) => lock,
        Err(LockError::Held) => return Ok(StillDue::Held),
        Err(LockError::Database(error)) => return Err(error),
    };
    let still = match due {
        Due::Resume => lock.interrupted() > 0,
        Due::Schedule => {
            let now = Utc::now();
            match retention_setting::Entity::find_in(org)
                .one(&state.db)
                .await?
            {
                Some(setting) => {
                    super::schedule::Schedule::parse(&setting.schedule).is_ok_and(|schedule| {
                        schedule.due_between(
                            setting.schedule_checked_at.unwrap_or(setting.created_at),
                            now,
                        )
                    })
                }
                None => false,
            }
        }
    };
    if still {
        Ok(StillDue::Yes(Box::new(lock)))
    } else {
        lock.release(state).await;
        Ok(StillDue::No)
    }
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
            match still_due(state, org, due).await? {
                // Another node took this time up (or resumed the run) a moment ago.
                StillDue::No => continue,
                StillDue::Held => {
                    tracing::info!(
                        org = org.get(),
                        "retention run in progress; the scheduled run waits for it"
                    );
                    continue;
                }
                StillDue::Yes(lock) => {
                    let handled = match run_holding(state, org, options, &lock).await {
                        Ok(_) => {
                            finished += 1;
                            true
                        }
                        Err(RetentionError::AlreadyRunning) => false,
                        Err(error) => {
                            // Recorded in the history with its error; the next time is the
                            // next try.
                            tracing::error!(%error, org = org.get(), "scheduled retention run failed");
                            true
                        }
                    };
                    // Marked while the lock is held, so a node that takes it next sees the
                    // time handled.
                    if handled && due == Due::Schedule {
                        mark_checked(state, org, now).await?;
                    }
                    lock.release(state).await;
                    continue;
                }
            }
        };
        if handled && due == Due::Schedule {
            mark_checked(state, org, now).await?;
        }
    }
    Ok(finished)
}
