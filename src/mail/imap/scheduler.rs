//! The background poller: every few seconds it polls each channel whose interval has passed,
//! each in its own task with a time limit. A channel's failure is stored on that channel and
//! never stops the others, and a channel is never polled twice at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tokio::task::JoinHandle;

use super::{ImapProblem, Stage, poll_once};
use crate::db::entity::channel;
use crate::mail::channel as channels;
use crate::state::AppState;

/// How often the poller looks for due channels.
pub const TICK: Duration = Duration::from_secs(5);
/// The longest one poll may take before it is stopped (and retried at the next interval).
pub const POLL_TIMEOUT: Duration = Duration::from_secs(300);

/// Channels with IMAP settings whose last poll is `poll_seconds` ago or longer.
pub async fn due_channels(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<channel::Model>, sea_orm::DbErr> {
    let all = channel::Entity::find()
        .filter(channel::Column::ImapHost.is_not_null())
        .filter(channel::Column::ImapPasswordSealed.is_not_null())
        .all(db)
        .await?;
    Ok(all
        .into_iter()
        .filter(|c| {
            c.last_poll_at.is_none_or(|at| {
                at + chrono::Duration::seconds(i64::from(c.poll_seconds.max(1))) <= now
            })
        })
        .collect())
}

/// Removes a channel from the busy set when its poll ends, however it ends.
struct Busy {
    set: Arc<Mutex<HashSet<i64>>>,
    id: i64,
}

impl Busy {
    fn claim(set: &Arc<Mutex<HashSet<i64>>>, id: i64) -> Option<Self> {
        let mut guard = set.lock().unwrap_or_else(|p| p.into_inner());
        guard.insert(id).then(|| Busy {
            set: set.clone(),
            id,
        })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut guard = self.set.lock().unwrap_or_else(|p| p.into_inner());
        guard.remove(&self.id);
    }
}

/// Starts the poller task.
pub fn spawn_poller(state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let due = match due_channels(&state.db, Utc::now()).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::error!(%error, "could not list the channels to poll");
                    continue;
                }
            };
            for channel in due {
                let Some(claim) = Busy::claim(&busy, channel.id) else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let _claim = claim;
                    if tokio::time::timeout(POLL_TIMEOUT, poll_once(&state, &channel))
                        .await
                        .is_err()
                    {
                        let problem = ImapProblem::new(
                            Stage::Timeout,
                            format!("the poll was stopped after {} s", POLL_TIMEOUT.as_secs()),
                        );
                        tracing::warn!(channel_id = channel.id, "IMAP poll timed out");
                        let _ = channels::record_poll(
                            &state.db,
                            channel.id,
                            Utc::now(),
                            Some(problem.stored_text()),
                        )
                        .await;
                    }
                });
            }
        }
    })
}
