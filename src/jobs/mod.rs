//! The scheduler (tokio-cron-scheduler) and the list of scheduled jobs. Each job is a
//! `run_once(&AppState)` that tests call directly, plus its schedule here.

pub mod cleanup;
pub mod org_purge;
pub mod privacy_reminders;

use std::sync::Arc;

use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::app::AppState;

/// Starts every scheduled job. A failing run is logged and the next run happens on schedule.
pub async fn start(state: Arc<AppState>) -> Result<JobScheduler, JobSchedulerError> {
    let scheduler = JobScheduler::new().await?;
    let cleanup_state = state.clone();
    scheduler
        .add(Job::new_async("0 */15 * * * *", move |_, _| {
            let state = cleanup_state.clone();
            Box::pin(async move {
                match cleanup::run_once(&state).await {
                    Ok(outcome) => tracing::debug!(?outcome, "cleanup finished"),
                    Err(error) => tracing::error!(%error, "cleanup failed"),
                }
            })
        })?)
        .await?;
    // retention (src/retention/): a tick every minute runs the organizations whose schedule
    // came due, and one tick at start catches up runs missed while the server was down.
    let retention_state = state.clone();
    scheduler
        .add(Job::new_async("0 * * * * *", move |_, _| {
            let state = retention_state.clone();
            Box::pin(async move {
                if let Err(error) = crate::retention::run::scheduled_tick(&state).await {
                    tracing::error!(%error, "retention schedule check failed");
                }
            })
        })?)
        .await?;
    // organization purge (src/orgs/purge.rs) and privacy request reminders, hourly.
    let purge_state = state.clone();
    scheduler
        .add(Job::new_async("0 20 * * * *", move |_, _| {
            let state = purge_state.clone();
            Box::pin(async move {
                match org_purge::run_once(&state).await {
                    Ok(outcome) => tracing::debug!(?outcome, "organization purge check finished"),
                    Err(error) => tracing::error!(%error, "organization purge check failed"),
                }
            })
        })?)
        .await?;
    let reminder_state = state.clone();
    scheduler
        .add(Job::new_async("0 5 * * * *", move |_, _| {
            let state = reminder_state.clone();
            Box::pin(async move {
                match privacy_reminders::run_once(&state).await {
                    Ok(outcome) => tracing::debug!(?outcome, "privacy reminders finished"),
                    Err(error) => tracing::error!(%error, "privacy reminders failed"),
                }
            })
        })?)
        .await?;
    // retention (src/retention/sweep.rs): hourly, attachment files no row refers to any more.
    let sweep_state = state.clone();
    scheduler
        .add(Job::new_async("0 41 * * * *", move |_, _| {
            let state = sweep_state.clone();
            Box::pin(async move {
                if let Err(error) = crate::retention::sweep::run_once(&state).await {
                    tracing::error!(%error, "attachment sweep failed");
                }
            })
        })?)
        .await?;
    let startup_state = state.clone();
    tokio::spawn(async move {
        if let Err(error) = crate::retention::run::scheduled_tick(&startup_state).await {
            tracing::error!(%error, "retention catch-up at start failed");
        }
    });
    scheduler.start().await?;
    Ok(scheduler)
}
