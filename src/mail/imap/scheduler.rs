//! The background poller: every few seconds it starts or stops the IDLE watchers
//! ([`super::idle`]) of the signed-in channels, and polls each channel whose server has no
//! IDLE when its interval has passed, each in its own task with a time limit. A channel's failure is stored on that channel and
//! never stops the others, and a channel is never polled twice at once — on this node (a
//! busy set) nor on several nodes sharing the database (the channel's lease).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use tokio::task::JoinHandle;

use super::{ImapProblem, Stage, poll_once};
use crate::db::entity::channel;
use crate::mail::channel as channels;
use crate::state::AppState;

/// How often the poller looks for due channels.
pub const TICK: Duration = Duration::from_secs(5);
/// The longest one poll may take before it is stopped (and retried at the next interval).
pub const POLL_TIMEOUT: Duration = Duration::from_secs(300);

/// The lease a node holds while it polls a channel or keeps its IDLE connection
/// (`crate::cluster`): one node at a time fetches a mailbox.
pub fn lease_name(channel_id: i64) -> String {
    format!("imap:{channel_id}")
}

/// Channels with IMAP settings whose last poll is `poll_seconds` ago or longer.
pub async fn due_channels(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<channel::Model>, sea_orm::DbErr> {
    Ok(due(signed_in_channels(db).await?, now))
}

/// Of these channels, those whose last poll is `poll_seconds` ago or longer.
fn due(all: Vec<channel::Model>, now: DateTime<Utc>) -> Vec<channel::Model> {
    all.into_iter()
        .filter(|c| {
            c.last_poll_at.is_none_or(|at| {
                at + chrono::Duration::seconds(i64::from(c.poll_seconds.max(1))) <= now
            })
        })
        .collect()
}

/// Channels with IMAP settings and a way to sign in.
pub async fn signed_in_channels(
    db: &impl ConnectionTrait,
) -> Result<Vec<channel::Model>, sea_orm::DbErr> {
    channel::Entity::find()
        .filter(channel::Column::ImapHost.is_not_null())
        // Signed in: a password, or an OAuth2 refresh token (a revoked one was dropped, so
        // such a channel waits for the admin to sign in again).
        .filter(
            Condition::any()
                .add(channel::Column::ImapPasswordSealed.is_not_null())
                .add(channel::Column::OauthRefreshTokenSealed.is_not_null()),
        )
        .all(db)
        .await
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
            let signed_in = match signed_in_channels(&state.db).await {
                Ok(signed_in) => signed_in,
                Err(error) => {
                    tracing::error!(%error, "could not list the channels to poll");
                    continue;
                }
            };
            state.idle.sync(&state, &signed_in);
            for channel in due(signed_in, Utc::now()) {
                if !state.idle.left_to_poller(channel.id) {
                    continue;
                }
                let Some(claim) = Busy::claim(&busy, channel.id) else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let _claim = claim;
                    // One node at a time polls a channel (several nodes on one database).
                    let lease = match state
                        .leases
                        .try_take(&state.db, &lease_name(channel.id))
                        .await
                    {
                        Ok(Some(lease)) => lease,
                        Ok(None) => return,
                        Err(error) => {
                            tracing::error!(channel_id = channel.id, %error, "IMAP lease not taken");
                            return;
                        }
                    };
                    let polled = lease
                        .hold(tokio::time::timeout(
                            POLL_TIMEOUT,
                            poll_once(&state, &channel),
                        ))
                        .await;
                    lease.release().await;
                    let Ok(polled) = polled else {
                        tracing::warn!(channel_id = channel.id, "IMAP poll stopped: lease lost");
                        return;
                    };
                    if polled.is_err() {
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
