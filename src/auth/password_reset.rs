//! Password reset links: a random token mailed to the user, stored as a digest, valid for one
//! hour and once.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::crypto::{random_token, sha256_hex};
use crate::db::entity::password_reset;
use crate::web::AppError;

pub const VALID_FOR_MINUTES: i64 = 60;

/// Creates a reset for `user_id` and returns the token for the link.
pub async fn create(db: &impl ConnectionTrait, user_id: i64) -> Result<String, AppError> {
    let token = random_token();
    let now = Utc::now();
    password_reset::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(sha256_hex(&token)),
        created_at: Set(now),
        expires_at: Set(now + Duration::minutes(VALID_FOR_MINUTES)),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The reset behind `token` if it is unused and unexpired.
pub async fn find_valid(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<password_reset::Model>, AppError> {
    if token.len() > 100 {
        return Ok(None);
    }
    let found = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(sha256_hex(token)))
        .one(db)
        .await?;
    Ok(found.filter(|r| r.used_at.is_none() && r.expires_at > Utc::now()))
}

pub async fn mark_used(db: &impl ConnectionTrait, reset_id: i64) -> Result<(), AppError> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Utc::now().into())
        .filter(password_reset::Column::Id.eq(reset_id))
        .exec(db)
        .await?;
    Ok(())
}
