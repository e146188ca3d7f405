//! The append-only, hash-chained audit log: every privileged action is a row carrying the
//! MAC of the previous row (HMAC-SHA-256 under a key derived from the instance key, which is
//! not in the database: [`mac`]), so altering or removing a row breaks the chain and
//! `lethe audit verify` names the first bad row — even when whoever changed it recomputed
//! every hash.
//!
//! Both ends are anchored: the `audit_head` row names the newest entry and is updated in the
//! same transaction as every append (so removing the newest rows is detected), and every gap
//! that a legitimate removal leaves — retention pruning the oldest entries of an organization,
//! or an organization's purge — is recorded in `audit_anchors` in the same transaction as the
//! removal, together with an entry saying what was removed (so removing rows any other way is
//! detected, the oldest ones included). Appends lock the head row inside their transaction,
//! which serializes them across processes (the server and a CLI command) on SQLite and
//! PostgreSQL alike; an in-process mutex keeps the connection pool from queueing on that lock.
//!
//! Anchors and the head carry MACs of their own. A checkpoint (`lethe audit checkpoint`: the
//! head's position and MAC, kept outside the database) lets `lethe audit verify --checkpoint`
//! detect a chain cut back to an older state, which no MAC can.
//!
//! - [`chain`]: appending, and removing with anchors;
//! - [`mac`]: the chain key;
//! - [`rekey`]: keying a chain written before the key (once, on open);
//! - [`verify`](fn@verify): walking the chain, and checkpoints;
//! - [`routes`]: the `/audit` page and its CSV and JSON exports;
//! - [`tally`]: refusals counted in memory and written as one row per source and minute.

pub mod access;
mod chain;
pub mod checkpoint_mail;
mod mac;
mod rekey;
pub mod routes;
pub mod tally;
mod verify;

use sea_orm::{ConnectionTrait, TransactionSession, TransactionTrait};

use crate::orgs::OrgId;
use crate::web::client::ClientInfo;

pub use chain::{Removal, actor_ref, forget_actor};
pub use mac::ChainKey;
pub use rekey::{Rekeyed, rekey};
pub use tally::Refusal;
pub use verify::{Checkpoint, Verification, checkpoint, verify, verify_checkpoint};

/// The migration that adds the chain's MAC columns: the process that applies it keys the
/// chain ([`rekey`]), once.
pub const KEYING_MIGRATION: &str = "m20261205_000011_keyed_audit_chain";

/// The hash the first row chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Clone, Debug)]
pub enum Actor {
    User {
        id: i64,
        email: String,
    },
    /// Someone not signed in (a failed login names no user).
    Anonymous,
    /// The command line or a scheduled job.
    System(&'static str),
}

/// One thing to record.
pub struct Entry<'a> {
    pub org: Option<OrgId>,
    pub actor: Actor,
    pub action: &'static str,
    pub target: String,
    pub client: Option<&'a ClientInfo>,
    pub details: serde_json::Value,
}

impl<'a> Entry<'a> {
    /// What a user did through a page: [`Actor::User`], the request's client, no details.
    pub fn by_user(
        org: Option<OrgId>,
        (id, email): (i64, String),
        action: &'static str,
        target: String,
        client: &'a ClientInfo,
    ) -> Self {
        Self {
            org,
            actor: Actor::User { id, email },
            action,
            target,
            client: Some(client),
            details: serde_json::json!({}),
        }
    }
}

/// The audit log. Appends are serialized within this process by a mutex and across processes
/// by the lock on the head row.
pub struct AuditLog {
    lock: tokio::sync::Mutex<()>,
    key: ChainKey,
    tally: tally::Tally,
}

impl AuditLog {
    pub fn new(key: ChainKey) -> Self {
        Self {
            lock: tokio::sync::Mutex::new(()),
            key,
            tally: tally::Tally::default(),
        }
    }

    /// Counts a refusal in memory; [`AuditLog::flush_tally`] writes the counts, one row per
    /// source.
    pub fn count_refusal(&self, refusal: Refusal<'_>) {
        self.tally.count(refusal);
    }

    /// Writes the counted refusals, one aggregated row per (organization, action, target,
    /// source), in one transaction; on failure the counts stay for the next flush. Returns
    /// how many rows were written.
    pub async fn flush_tally<C>(&self, db: &C) -> Result<usize, sea_orm::DbErr>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let counted = self.tally.take();
        if counted.is_empty() {
            return Ok(0);
        }
        let written = async {
            let _guard = self.lock.lock().await;
            let txn = crate::db::begin_write(db).await?;
            let mut head = chain::lock_head(&txn).await?;
            for one in &counted {
                let client = one.client();
                chain::append(&txn, &self.key, &mut head, one.entry(&client)).await?;
            }
            txn.commit().await
        }
        .await;
        match written {
            Ok(()) => Ok(counted.len()),
            Err(error) => {
                self.tally.restore(counted);
                Err(error)
            }
        }
    }

    /// The key the chain is authenticated with (for `verify`).
    pub fn key(&self) -> &ChainKey {
        &self.key
    }

    /// Appends one entry (in its own transaction, or a savepoint of the caller's).
    pub async fn record<C>(&self, db: &C, entry: Entry<'_>) -> Result<(), sea_orm::DbErr>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let _guard = self.lock.lock().await;
        let txn = crate::db::begin_write(db).await?;
        let mut head = chain::lock_head(&txn).await?;
        chain::append(&txn, &self.key, &mut head, entry).await?;
        txn.commit().await
    }

    /// [`AuditLog::record`] for a caller that holds [`AuditLog::exclusive`] and passes its own
    /// write transaction: the entry commits with the action it records, or neither does.
    pub async fn record_holding<C>(
        &self,
        _guard: &AuditGuard<'_>,
        db: &C,
        entry: Entry<'_>,
    ) -> Result<(), sea_orm::DbErr>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let txn = crate::db::begin_write(db).await?;
        let mut head = chain::lock_head(&txn).await?;
        chain::append(&txn, &self.key, &mut head, entry).await?;
        txn.commit().await
    }

    /// Holds the in-process append lock. A caller that removes entries inside its own write
    /// transaction takes this first, before the transaction, so that locks are always taken in
    /// the same order (this lock, then the database's) and no append waits on a lock the
    /// caller holds.
    pub async fn exclusive(&self) -> AuditGuard<'_> {
        AuditGuard(self.lock.lock().await)
    }

    /// Removes the entries `removal` selects, anchoring the gaps, and appends the entry
    /// `summary(removed)` — all in one transaction (a savepoint of the caller's, if `db` is
    /// one), by a caller that holds [`AuditLog::exclusive`]. Nothing is written when nothing
    /// matches. Returns how many entries were removed.
    pub async fn remove_holding<'a, C>(
        &self,
        _guard: &AuditGuard<'_>,
        db: &C,
        removal: Removal,
        summary: impl FnOnce(u64) -> Entry<'a>,
    ) -> Result<u64, sea_orm::DbErr>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let txn = crate::db::begin_write(db).await?;
        let mut head = chain::lock_head(&txn).await?;
        let due = chain::count(&txn, &removal).await?;
        if due == 0 {
            return txn.commit().await.map(|()| 0);
        }
        // The summary first: the newest row is then one that stays, so every gap has a kept
        // row after it to anchor.
        chain::append(&txn, &self.key, &mut head, summary(due)).await?;
        let removed = chain::remove_anchored(&txn, &self.key, &removal).await?;
        txn.commit().await?;
        Ok(removed)
    }
}

/// Proof of holding the audit log's in-process lock ([`AuditLog::exclusive`]).
pub struct AuditGuard<'a>(#[allow(dead_code)] tokio::sync::MutexGuard<'a, ()>);
