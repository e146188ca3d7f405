//! Removes expired sessions, password resets, invitations and API idempotency keys
//! (`api::idempotency`, kept 24 hours), notifications read more than 30 days ago
//! (`inbox::notifications::KEEP_READ_DAYS`), and the audit entries under no
//! organization older than `LETHE_INSTANCE_AUDIT_DAYS` (the chain stays verifiable: the audit
//! log anchors the gaps and records the pruning, as retention does for an organization's).

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::audit::{Actor, Entry, Removal};
use crate::db::entity::{api_idempotency, invitation, password_reset, session};
use crate::state::AppState;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub sessions: u64,
    pub password_resets: u64,
    pub invitations: u64,
    pub instance_audit_events: u64,
    pub idempotency_keys: u64,
    pub notifications: u64,
}

pub async fn run_once(state: &AppState) -> Result<Outcome, sea_orm::DbErr> {
    let now = Utc::now();
    let idle_cutoff = now - Duration::minutes(state.config.session_idle_minutes);
    let absolute_cutoff = now - Duration::hours(state.config.session_max_hours);
    let sessions = session::Entity::delete_many()
        .filter(
            Condition::any()
                .add(session::Column::LastSeenAt.lt(idle_cutoff))
                .add(session::Column::CreatedAt.lt(absolute_cutoff)),
        )
        .exec(&state.db)
        .await?
        .rows_affected;
    let password_resets = password_reset::Entity::delete_many()
        .filter(password_reset::Column::ExpiresAt.lt(now))
        .exec(&state.db)
        .await?
        .rows_affected;
    let invitations = invitation::Entity::delete_many()
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::ExpiresAt.lt(now - Duration::days(30)))
        .exec(&state.db)
        .await?
        .rows_affected;
    let idempotency_keys = api_idempotency::Entity::delete_many()
        .filter(api_idempotency::Column::ExpiresAt.lt(now))
        .exec(&state.db)
        .await?
        .rows_affected;
    let notifications = crate::inbox::notifications::store::delete_read_before(
        &state.db,
        now - Duration::days(crate::inbox::notifications::KEEP_READ_DAYS),
    )
    .await?;
    let instance_audit_events = prune_instance_audit(state).await?;
    Ok(Outcome {
        notifications,
        sessions,
        password_resets,
        invitations,
        instance_audit_events,
        idempotency_keys,
    })
}

/// Removes the audit entries under no organization older than `LETHE_INSTANCE_AUDIT_DAYS`,
/// with an `audit.pruned` entry (itself under no organization) saying how many.
async fn prune_instance_audit(state: &AppState) -> Result<u64, sea_orm::DbErr> {
    let cutoff = Utc::now() - Duration::days(state.config.instance_audit_days);
    let audit = &state.audit;
    let guard = audit.exclusive().await;
    audit
        .remove_holding(
            &guard,
            &state.db,
            Removal::InstanceOlderThan { cutoff },
            |removed| Entry {
                org: None,
                actor: Actor::System("cleanup"),
                action: "audit.pruned",
                target: "audit_log".to_owned(),
                client: None,
                details: serde_json::json!({
                    "removed": removed,
                    "older_than": cutoff.to_rfc3339(),
                }),
            },
        )
        .await
}
