//! The append-only, hash-chained audit log: every privileged action is a row carrying the
//! SHA-256 of the previous row, so altering or removing a row breaks the chain and
//! `lethe audit verify` names the first bad row.

pub mod routes;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};

use crate::db::entity::audit_event;
use crate::orgs::OrgId;
use crate::web::client::ClientInfo;

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

/// Serializes appends within this process so the chain never forks.
#[derive(Default)]
pub struct AuditLog {
    lock: tokio::sync::Mutex<()>,
}

impl AuditLog {
    pub async fn record(
        &self,
        db: &impl ConnectionTrait,
        entry: Entry<'_>,
    ) -> Result<(), sea_orm::DbErr> {
        let _guard = self.lock.lock().await;
        let previous = audit_event::Entity::find()
            .order_by_desc(audit_event::Column::Id)
            .limit(1)
            .one(db)
            .await?;
        let prev_hash = previous
            .map(|p| p.hash)
            .unwrap_or_else(|| GENESIS.to_owned());
        let (actor_user_id, actor) = match &entry.actor {
            Actor::User { id, email } => (Some(*id), email.clone()),
            Actor::Anonymous => (None, "anonymous".to_owned()),
            Actor::System(name) => (None, format!("system:{name}")),
        };
        // Stored timestamps are compared after a round trip through both databases: keep
        // microseconds only.
        let occurred_at = Utc::now().trunc_subsecs(6);
        let mut row = audit_event::Model {
            id: 0,
            organization_id: entry.org.map(OrgId::get),
            occurred_at,
            actor_user_id,
            actor,
            action: entry.action.to_owned(),
            target: entry.target,
            ip: entry.client.and_then(|c| c.ip.clone()),
            user_agent: entry.client.and_then(|c| c.user_agent.clone()),
            details: entry.details.to_string(),
            prev_hash,
            hash: String::new(),
        };
        row.hash = row_hash(&row);
        audit_event::ActiveModel {
            organization_id: Set(row.organization_id),
            occurred_at: Set(row.occurred_at),
            actor_user_id: Set(row.actor_user_id),
            actor: Set(row.actor),
            action: Set(row.action),
            target: Set(row.target),
            ip: Set(row.ip),
            user_agent: Set(row.user_agent),
            details: Set(row.details),
            prev_hash: Set(row.prev_hash),
            hash: Set(row.hash),
            ..Default::default()
        }
        .insert(db)
        .await?;
        Ok(())
    }
}

/// The hash of a row's content and the previous row's hash.
pub fn row_hash(row: &audit_event::Model) -> String {
    let mut hasher = Sha256::new();
    let fields = [
        row.prev_hash.clone(),
        row.organization_id
            .map(|v| v.to_string())
            .unwrap_or_default(),
        timestamp(row.occurred_at),
        row.actor_user_id.map(|v| v.to_string()).unwrap_or_default(),
        row.actor.clone(),
        row.action.clone(),
        row.target.clone(),
        row.ip.clone().unwrap_or_default(),
        row.user_agent.clone().unwrap_or_default(),
        row.details.clone(),
    ];
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The outcome of walking the chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Intact { rows: u64 },
    Broken { row_id: i64, reason: &'static str },
}

/// Walks the whole chain in id order, in pages.
pub async fn verify(db: &impl ConnectionTrait) -> Result<Verification, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut expected_prev: Option<String> = None;
    let mut last_id = 0i64;
    let mut rows = 0u64;
    loop {
        let page = audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(last_id))
            .order_by_asc(audit_event::Column::Id)
            .limit(1000)
            .all(db)
            .await?;
        if page.is_empty() {
            return Ok(Verification::Intact { rows });
        }
        for row in page {
            // The oldest kept row may chain to a pruned one: the chain starts where it starts.
            if let Some(prev) = &expected_prev
                && &row.prev_hash != prev
            {
                return Ok(Verification::Broken {
                    row_id: row.id,
                    reason: "a row before it was removed or altered",
                });
            }
            if row_hash(&row) != row.hash {
                return Ok(Verification::Broken {
                    row_id: row.id,
                    reason: "its content was altered",
                });
            }
            expected_prev = Some(row.hash.clone());
            last_id = row.id;
            rows += 1;
        }
    }
}
