//! Leases: "one node at a time" work, taken by name in the `leases` table with one atomic
//! statement that works on SQLite and PostgreSQL alike —
//! `INSERT … ON CONFLICT (name) DO UPDATE … WHERE leases.expires_at <= now` — which inserts a
//! free name, steals an expired one, and leaves a live one alone (no row changed: refused).
//! A taken lease lasts [`TTL`] and is renewed every [`RENEW_EVERY`] while its work runs, so a
//! node that dies (`kill -9`) loses it at most [`TTL`] after its last renewal and another
//! node takes the work over. Expiry is read on the nodes' clocks, which must agree to well
//! under [`TTL`] (NTP).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::NodeId;
use crate::db::entity::lease;

/// How long a lease lasts without renewal: the longest a dead node's work waits for another
/// node.
pub const TTL: chrono::Duration = chrono::Duration::seconds(25);
/// How often a held lease is renewed.
pub const RENEW_EVERY: Duration = Duration::from_secs(8);

/// The work's lease was lost (not renewed in time, and taken by another node): the work was
/// stopped.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the lease was lost to another node")]
pub struct Lost;

/// This node's leases: takes them in its name.
pub struct Leases {
    node: NodeId,
    taken: AtomicU64,
}

impl Leases {
    pub fn new(node: NodeId) -> Self {
        Leases {
            node,
            taken: AtomicU64::new(0),
        }
    }

    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// Takes `name` now, if nobody holds it (or its holder let it expire); None when another
    /// holder (another node, or other work on this node) has it.
    pub async fn try_take(
        &self,
        db: &DatabaseConnection,
        name: &str,
    ) -> Result<Option<Lease>, DbErr> {
        self.try_take_at(db, name, Utc::now()).await
    }

    /// [`Leases::try_take`] as if the time were `now` (tests move the clock past an expiry).
    pub async fn try_take_at(
        &self,
        db: &DatabaseConnection,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, DbErr> {
        // Each take has its own holder, so two tasks of one node exclude each other too.
        let holder = format!(
            "{}/{}",
            self.node,
            self.taken.fetch_add(1, Ordering::Relaxed)
        );
        if !take(db, name, &holder, now).await? {
            return Ok(None);
        }
        Ok(Some(Lease::start(db.clone(), name.to_owned(), holder)))
    }
}

/// The holder of `name` at `now`, if it is held.
pub async fn holder(
    db: &impl ConnectionTrait,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbErr> {
    Ok(lease::Entity::find_by_id(name.to_owned())
        .filter(lease::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
        .map(|l| l.holder))
}

/// The one statement that takes a lease: insert, or steal if expired; true when this holder
/// has it now.
async fn take(
    db: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let statement = Query::insert()
        .into_table(lease::Entity)
        .columns([
            lease::Column::Name,
            lease::Column::Holder,
            lease::Column::ExpiresAt,
        ])
        .values([name.into(), holder.into(), (now + TTL).into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::column(lease::Column::Name)
                .update_columns([lease::Column::Holder, lease::Column::ExpiresAt])
                .action_and_where(Expr::col((lease::Entity, lease::Column::ExpiresAt)).lte(now))
                .to_owned(),
        )
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Moves the lease's expiry to `until` if `holder` still has it; false when it was lost.
async fn renew(
    db: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    Ok(lease::Entity::update_many()
        .col_expr(lease::Column::ExpiresAt, Expr::val(until))
        .filter(lease::Column::Name.eq(name))
        .filter(lease::Column::Holder.eq(holder))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

async fn delete(db: &impl ConnectionTrait, name: &str, holder: &str) -> Result<(), DbErr> {
    lease::Entity::delete_many()
        .filter(lease::Column::Name.eq(name))
        .filter(lease::Column::Holder.eq(holder))
        .exec(db)
        .await?;
    Ok(())
}

/// A held lease. It is renewed in the background until it is released, kept to expire, or
/// dropped (which releases it); [`Lease::hold`] runs work only while it is held.
pub struct Lease {
    db: DatabaseConnection,
    name: String,
    holder: String,
    lost: watch::Receiver<bool>,
    renewer: JoinHandle<()>,
    done: bool,
}

impl Lease {
    fn start(db: DatabaseConnection, name: String, holder: String) -> Self {
        let (tell, lost) = watch::channel(false);
        let renewer = tokio::spawn(renew_while_held(
            db.clone(),
            name.clone(),
            holder.clone(),
            tell,
        ));
        Lease {
            db,
            name,
            holder,
            lost,
            renewer,
            done: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who holds it: this node's id, then `/` and the number of the take.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// True once a renewal found the lease gone (taken over by another node).
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Runs `work` while the lease is held; stops it (drops the future) if the lease is lost
    /// first. Work run this way must be safe to stop at any await (a poll that stops before
    /// acknowledging fetches the mail again; the duplicate is recognized).
    pub async fn hold<F: Future>(&self, work: F) -> Result<F::Output, Lost> {
        let mut lost = self.lost.clone();
        // False when the renewer ended without losing it (only after release): the work
        // finishes then.
        let gone = async move { lost.wait_for(|lost| *lost).await.is_ok() };
        tokio::select! {
            output = work => Ok(output),
            true = gone => Err(Lost),
        }
    }

    /// Gives the lease up now, so another node may take the work at once.
    pub async fn release(mut self) {
        self.done = true;
        self.renewer.abort();
        if let Err(error) = delete(&self.db, &self.name, &self.holder).await {
            tracing::warn!(%error, lease = %self.name, "lease not released; it expires");
        }
    }

    /// Stops renewing and leaves the lease to expire [`TTL`] from now: for work done once per
    /// scheduled time, so that a node whose clock fires a moment later does not do it again.
    pub async fn keep_until_expiry(mut self) {
        self.done = true;
        self.renewer.abort();
        if let Err(error) = renew(&self.db, &self.name, &self.holder, Utc::now() + TTL).await {
            tracing::warn!(%error, lease = %self.name, "lease not renewed at the end");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
        if self.done {
            return;
        }
        // Work stopped without releasing (its task was cancelled): release in the background.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (db, name, holder) = (self.db.clone(), self.name.clone(), self.holder.clone());
            runtime.spawn(async move {
                let _ = delete(&db, &name, &holder).await;
            });
        }
    }
}

/// The renewer: every [`RENEW_EVERY`], move the expiry [`TTL`] ahead; when the lease is gone
/// (or could not be renewed before it expired) say so and stop.
async fn renew_while_held(
    db: DatabaseConnection,
    name: String,
    holder: String,
    lost: watch::Sender<bool>,
) {
    let mut held_until = Utc::now() + TTL;
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let now = Utc::now();
        match renew(&db, &name, &holder, now + TTL).await {
            Ok(true) => held_until = now + TTL,
            Ok(false) => break,
            Err(error) => {
                tracing::warn!(%error, lease = %name, "lease not renewed");
                if Utc::now() >= held_until {
                    break;
                }
            }
        }
    }
    tracing::warn!(lease = %name, "lease lost; its work stops here");
    let _ = lost.send(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_nodes_work_is_taken_over_within_half_a_minute() {
        // The lease runs out, then the next try (an IMAP channel's, every 5 s) takes it.
        assert!(TTL + chrono::Duration::seconds(5) <= chrono::Duration::seconds(30));
        assert!(chrono::Duration::from_std(RENEW_EVERY).unwrap() * 2 < TTL);
    }
}
