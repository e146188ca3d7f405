//! Mail in at once: for every signed-in channel a watcher keeps one IMAP connection open,
//! fetches what is new, then waits in `IDLE` until the server says a message exists (or 25
//! minutes pass: servers drop an IDLE after 30), and fetches again. A server without IDLE is
//! left to the interval poller; a broken connection is reopened with backoff (5 s doubling
//! to 5 minutes), its error shown on the channel as a poll's would be. The watchers are
//! restarted when a channel's mailbox or sign-in changes, and stopped when it goes. Of several
//! nodes on one database, the one holding the channel's lease (`crate::cluster`) keeps the
//! connection; the others wait and take over within the lease's 30 s if it dies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use chrono::Utc;
use sea_orm::EntityTrait;
use tokio::task::JoinHandle;

use super::connect::{self, STEP_TIMEOUT};
use super::poll::{self, fetch_new};
use super::{ImapProblem, Stage};
use crate::db::entity::channel;
use crate::mail::channel as channels;
use crate::state::AppState;

/// An IDLE is ended and renewed after this long (RFC 2177: servers may end it after 30 min).
pub const RENEW: Duration = Duration::from_secs(25 * 60);
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often a node whose channel another node watches tries to take it over.
const LEASE_RETRY: Duration = Duration::from_secs(5);

/// What a channel's watcher is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Connecting (or reconnecting after an error).
    Starting = 0,
    /// Connected and waiting in IDLE: mail arrives at once.
    Idling = 1,
    /// The server offers no IDLE: the interval poller fetches this channel.
    Unsupported = 2,
}

impl Mode {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Mode::Idling,
            2 => Mode::Unsupported,
            _ => Mode::Starting,
        }
    }
}

struct Watch {
    fingerprint: String,
    mode: Arc<AtomicU8>,
    task: JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The running watchers, one per signed-in channel with IMAP.
#[derive(Default)]
pub struct IdleWatchers {
    watches: Mutex<HashMap<i64, Watch>>,
}

/// What decides whether a running watcher still fits its channel: the mailbox and the
/// sign-in (a new password or a new OAuth2 sign-in restarts it).
fn fingerprint(channel: &channel::Model) -> String {
    format!(
        "{:?}|{}|{}|{:?}|{}|{:?}|{}|{:?}|{:?}",
        channel.imap_host,
        channel.imap_port,
        channel.imap_tls,
        channel.imap_user,
        channel.imap_folder,
        channel.imap_move_to,
        channel.auth_method,
        channel.imap_password_sealed,
        channel.oauth_signed_in_at,
    )
}

impl IdleWatchers {
    /// Starts watchers for new or changed channels and stops those of channels gone.
    pub fn sync(&self, state: &Arc<AppState>, signed_in: &[channel::Model]) {
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        watches.retain(|id, _| signed_in.iter().any(|c| c.id == *id));
        for channel in signed_in {
            let print = fingerprint(channel);
            if watches
                .get(&channel.id)
                .is_some_and(|w| w.fingerprint == print)
            {
                continue;
            }
            let mode = Arc::new(AtomicU8::new(Mode::Starting as u8));
            let task = tokio::spawn(watch(state.clone(), channel.id, mode.clone()));
            watches.insert(
                channel.id,
                Watch {
                    fingerprint: print,
                    mode,
                    task,
                },
            );
        }
    }

    /// The watcher's mode; None when the channel has none (the poller's then).
    pub fn mode(&self, channel_id: i64) -> Option<Mode> {
        let watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        watches
            .get(&channel_id)
            .map(|w| Mode::from_u8(w.mode.load(Ordering::Relaxed)))
    }

    /// Whether the interval poller should fetch this channel: only when its server has no
    /// IDLE (or no watcher runs for it).
    pub fn left_to_poller(&self, channel_id: i64) -> bool {
        matches!(self.mode(channel_id), None | Some(Mode::Unsupported))
    }

    /// How many connections wait in IDLE now.
    pub fn idling(&self) -> usize {
        let watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        watches
            .values()
            .filter(|w| Mode::from_u8(w.mode.load(Ordering::Relaxed)) == Mode::Idling)
            .count()
    }
}

/// How a connection's life ended.
enum End {
    /// The server has no IDLE: leave the channel to the poller.
    Unsupported,
    /// The channel has no IMAP settings any more.
    Gone,
}

/// One channel's watcher: take the channel's lease (one node at a time fetches a
/// mailbox), connect, fetch, idle, until the task is stopped or the lease is lost.
async fn watch(state: Arc<AppState>, channel_id: i64, mode: Arc<AtomicU8>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        mode.store(Mode::Starting as u8, Ordering::Relaxed);
        let lease = match state
            .leases
            .try_take(&state.db, &super::scheduler::lease_name(channel_id))
            .await
        {
            Ok(Some(lease)) => lease,
            // Another node watches this mailbox: wait to take over if it goes.
            Ok(None) => {
                tokio::time::sleep(LEASE_RETRY).await;
                continue;
            }
            Err(error) => {
                tracing::error!(channel_id, %error, "IDLE: lease not taken");
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        let channel = match channel::Entity::find_by_id(channel_id).one(&state.db).await {
            Ok(Some(channel)) => channel,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(channel_id, %error, "IDLE: channel not read");
                lease.release().await;
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        let ended = lease
            .hold(connection(&state, &channel, &mode, &mut backoff))
            .await;
        lease.release().await;
        match ended {
            Err(lost) => tracing::warn!(channel_id, %lost, "IMAP IDLE connection stopped"),
            Ok(Ok(End::Unsupported)) => {
                mode.store(Mode::Unsupported as u8, Ordering::Relaxed);
                return;
            }
            Ok(Ok(End::Gone)) => return,
            Ok(Err(problem)) => {
                tracing::warn!(
                    channel_id,
                    stage = problem.stage.code(),
                    "IMAP IDLE connection failed"
                );
                let _ = channels::record_poll(
                    &state.db,
                    channel_id,
                    Utc::now(),
                    Some(problem.stored_text()),
                )
                .await;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One connection: fetch what is new, wait in IDLE, again, until something breaks.
async fn connection(
    state: &AppState,
    channel: &channel::Model,
    mode: &AtomicU8,
    backoff: &mut Duration,
) -> Result<End, ImapProblem> {
    let Some((mut session, settings)) = connect::open_for_channel(state, channel).await? else {
        return Ok(End::Gone);
    };
    let lost = |e: async_imap::error::Error| ImapProblem::new(Stage::Fetch, e.to_string());
    let offered = tokio::time::timeout(STEP_TIMEOUT, session.capabilities())
        .await
        .map_err(|_| ImapProblem::new(Stage::Timeout, "CAPABILITY"))?
        .map_err(lost)?;
    if !offered.has_str("IDLE") {
        let _ = tokio::time::timeout(STEP_TIMEOUT, session.logout()).await;
        return Ok(End::Unsupported);
    }
    loop {
        // The channel as stored now: its last UID moves with every fetch.
        let current = channel::Entity::find_by_id(channel.id)
            .one(&state.db)
            .await
            .map_err(|_| ImapProblem::new(Stage::Store, "the channel could not be read"))?
            .ok_or_else(|| ImapProblem::new(Stage::Store, "the channel was deleted"))?;
        let outcome = fetch_new(state, &current, &settings, &mut session).await?;
        let note = poll::notes(&outcome, state.config.max_message_bytes);
        let _ = channels::record_poll(&state.db, channel.id, Utc::now(), note).await;
        *backoff = FIRST_BACKOFF;

        let mut idle = session.idle();
        tokio::time::timeout(STEP_TIMEOUT, idle.init())
            .await
            .map_err(|_| ImapProblem::new(Stage::Timeout, "IDLE"))?
            .map_err(lost)?;
        mode.store(Mode::Idling as u8, Ordering::Relaxed);
        let (wait, _interrupt) = idle.wait_with_timeout(RENEW);
        let answer = wait.await.map_err(lost)?;
        session = tokio::time::timeout(STEP_TIMEOUT, idle.done())
            .await
            .map_err(|_| ImapProblem::new(Stage::Timeout, "DONE"))?
            .map_err(lost)?;
        if answer == IdleResponse::ManualInterrupt {
            // The stream ended: the server closed the connection.
            return Err(ImapProblem::new(
                Stage::Connect,
                "the server closed the connection",
            ));
        }
    }
}
