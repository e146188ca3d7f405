//! Removes expired sessions, password resets and invitations.

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::db::entity::{invitation, password_reset, session};
use crate::state::AppState;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub sessions: u64,
    pub password_resets: u64,
    pub invitations: u64,
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
    Ok(Outcome {
        sessions,
        password_resets,
        invitations,
    })
}
