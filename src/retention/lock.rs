//! The run lock: one retention run per organization at a time, across the server and the
//! command line. It is an exclusive lock on a file in the data directory
//! (`locks/retention-{org}.lock`), which the operating system releases when the holding
//! process dies, so a crashed run never blocks its own resumption. While held, the
//! organization's `running_since` says since when (for the settings page).
//!
//! One data directory belongs to one Lethe instance (the search index and the attachment store
//! live there too), so a lock in it excludes every run that can touch the organization's data.

use std::fs::{File, TryLockError};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};

use crate::db::InOrg;
use crate::db::entity::{retention_run, retention_setting};
use crate::orgs::OrgId;
use crate::state::AppState;

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("a retention run of this organization is in progress")]
    Held,
    #[error("cannot open the retention lock file: {0}")]
    Io(#[from] std::io::Error),
    #[error("retention lock: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// The held lock of one organization; released by [`RunLock::release`] or, if the run is
/// cut short, when it is dropped (or the process ends).
pub struct RunLock {
    _file: File,
    org: OrgId,
}

fn path(state: &AppState, org: OrgId) -> PathBuf {
    state
        .config
        .data_dir
        .join("locks")
        .join(format!("retention-{}.lock", org.get()))
}

fn open(state: &AppState, org: OrgId) -> Result<File, std::io::Error> {
    let path = path(state, org);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// Takes the file lock without waiting; None when another run holds it.
fn try_take(state: &AppState, org: OrgId) -> Result<Option<File>, LockError> {
    let file = open(state, org)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(error)) => Err(error.into()),
    }
}

impl RunLock {
    /// Takes the organization's lock, or fails with [`LockError::Held`]. Whatever run history
    /// row is still unfinished at that moment belongs to a run that died: it is closed with
    /// the error `interrupted`.
    pub async fn acquire(state: &AppState, org: OrgId) -> Result<RunLock, LockError> {
        let file = try_take(state, org)?.ok_or(LockError::Held)?;
        let lock = RunLock { _file: file, org };
        let now = Utc::now();
        super::ensure_settings(&state.db, org).await?;
        retention_setting::Entity::update_in(org)
            .col_expr(retention_setting::Column::RunningSince, Expr::val(now))
            .exec(&state.db)
            .await?;
        retention_run::Entity::update_in(org)
            .col_expr(retention_run::Column::FinishedAt, Expr::val(now))
            .col_expr(
                retention_run::Column::Error,
                Expr::val(super::run::INTERRUPTED),
            )
            .filter(retention_run::Column::FinishedAt.is_null())
            .exec(&state.db)
            .await?;
        Ok(lock)
    }

    /// Releases the lock and clears `running_since`.
    pub async fn release(self, state: &AppState) {
        let cleared = retention_setting::Entity::update_in(self.org)
            .col_expr(
                retention_setting::Column::RunningSince,
                Expr::val(Option::<DateTime<Utc>>::None),
            )
            .exec(&state.db)
            .await;
        if let Err(error) = cleared {
            tracing::error!(%error, org = self.org.get(), "cannot clear the retention run mark");
        }
        drop(self);
    }
}

/// True while a run of the organization holds the lock (in this process or another).
pub fn is_held(state: &AppState, org: OrgId) -> bool {
    match try_take(state, org) {
        Ok(Some(file)) => {
            drop(file);
            false
        }
        Ok(None) => true,
        Err(error) => {
            tracing::warn!(%error, "cannot check the retention lock");
            false
        }
    }
}
