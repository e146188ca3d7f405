//! User records: creation with a checked email and password, lookup, password and language
//! changes.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::crypto::hash_password;
use crate::db::entity::user;
use crate::mail::EmailAddress;
use crate::web::AppError;

/// A password that meets the policy: 10 to 1024 characters.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let length = value.chars().count();
        if length < 10 {
            return Err("form.password_too_short");
        }
        if length > 1024 {
            return Err("form.password_too_long");
        }
        Ok(Self(value.to_owned()))
    }

    /// The new password of a form that asks for it twice; its mistakes (the policy's, then a
    /// confirmation that differs) go to `errors`.
    pub fn confirmed(
        value: &str,
        confirmation_matches: bool,
        errors: &mut Vec<&'static str>,
    ) -> Option<Self> {
        let password = Self::parse(value).map_err(|e| errors.push(e)).ok();
        if !confirmation_matches {
            errors.push("form.password_mismatch");
        }
        password
    }

    pub fn hash(&self) -> Result<String, AppError> {
        hash_password(&self.0)
            .map_err(|e| AppError::internal(format!("password hashing failed: {e}")))
    }
}

/// A display name: 1 to 100 characters, trimmed.
pub fn parse_display_name(value: &str) -> Result<String, &'static str> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("form.name_required");
    }
    if trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control) {
        return Err("form.name_invalid");
    }
    Ok(trimmed.to_owned())
}

pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
) -> Result<Option<user::Model>, AppError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?)
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, AppError> {
    use sea_orm::PaginatorTrait;
    Ok(user::Entity::find().count(db).await?)
}

pub async fn create(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
    password: &NewPassword,
    display_name: &str,
) -> Result<user::Model, AppError> {
    let hash = password.hash()?;
    let model = user::ActiveModel {
        email: Set(email.as_str().to_owned()),
        password_hash: Set(hash),
        display_name: Set(display_name.to_owned()),
        language: Set(None),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(model)
}

pub async fn set_password(
    db: &impl ConnectionTrait,
    user_id: i64,
    password: &NewPassword,
) -> Result<(), AppError> {
    let hash = password.hash()?;
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, hash.into())
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A display name from the address's local part, for accounts made by script.
pub fn default_display_name(email: &EmailAddress) -> String {
    let local = email.as_str().split('@').next().unwrap_or_default();
    let mut name = local.replace(['.', '_', '-'], " ");
    if let Some(first) = name.get(0..1) {
        name = first.to_uppercase() + name.get(1..).unwrap_or_default();
    }
    name
}
