//! The run lock: one retention run per organization at a time, across the server, the
//! command line and every node on the database. It is the lease `retention:{org}`
//! (`crate::cluster::lease`), renewed while the run lasts; a process that dies mid-run loses
//! it within [`crate::cluster::lease::TTL`], and the next scheduler tick on any node resumes
//! the run. While held, the organization's `running_since` says since when (for the settings
//! page).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};

use crate::cluster::Lease;
use crate::db::InOrg;
use crate::db::entity::{retention_run, retention_setting};
use crate::orgs::OrgId;
use crate::state::AppState;

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("a retention run of this organization is in progress")]
    Held,
    #[error("retention lock: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// The held lock of one organization; released by [`RunLock::release`] or, if the run is
/// cut short, when it is dropped (or when its lease expires, if the process ends).
pub struct RunLock {
    lease: Lease,
    org: OrgId,
    interrupted: u64,
}

/// The name of the organization's lease.
pub fn lease_name(org: OrgId) -> String {
    format!("retention:{}", org.get())
}

impl RunLock {
    /// Takes the organization's lock, or fails with [`LockError::Held`]. Whatever run history
    /// row is still unfinished at that moment belongs to a run that died: it is closed with
    /// the error `interrupted`.
    pub async fn acquire(state: &AppState, org: OrgId) -> Result<RunLock, LockError> {
        let lease = state
            .leases
            .try_take(&state.db, &lease_name(org))
            .await?
            .ok_or(LockError::Held)?;
        let now = Utc::now();
        super::ensure_settings(&state.db, org).await?;
        retention_setting::Entity::update_in(org)
            .col_expr(retention_setting::Column::RunningSince, Expr::val(now))
            .exec(&state.db)
            .await?;
        let interrupted = retention_run::Entity::update_in(org)
            .col_expr(retention_run::Column::FinishedAt, Expr::val(now))
            .col_expr(
                retention_run::Column::Error,
                Expr::val(super::run::INTERRUPTED),
            )
            .filter(retention_run::Column::FinishedAt.is_null())
            .exec(&state.db)
            .await?
            .rows_affected;
        Ok(RunLock {
            lease,
            org,
            interrupted,
        })
    }

    /// How many unfinished runs (of processes that died) taking the lock closed: none when
    /// another node resumed them first.
    pub fn interrupted(&self) -> u64 {
        self.interrupted
    }

    /// The lease behind the lock (the run stops if it is lost).
    pub fn lease(&self) -> &Lease {
        &self.lease
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
        self.lease.release().await;
    }
}

/// True while a run of the organization holds the lock (on this node or another).
pub async fn is_held(state: &AppState, org: OrgId) -> bool {
    match crate::cluster::lease::holder(&state.db, &lease_name(org), Utc::now()).await {
        Ok(holder) => holder.is_some(),
        Err(error) => {
            tracing::warn!(%error, "cannot check the retention lock");
            false
        }
    }
}
