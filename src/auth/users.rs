//! User records: creation with a checked email and password, lookup, password and language
//! changes.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::crypto::hash_password;
use crate::db::entity::user;
use crate::inbox::notifications::mail::Preferences;
use crate::mail::EmailAddress;
use crate::web::AppError;
use crate::web::i18n::Lang;

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Characters the guessability estimate reads (a longer password is not weaker for its tail,
/// and the estimate's work grows with the length).
const ESTIMATED_CHARS: usize = 64;

/// A password that meets the policy: 12 to 1024 characters, and not common or easily guessed:
/// an offline estimate (zxcvbn, no network) must score it 3 of 4 or better — beyond 10^8
/// guesses — counting the person's own address, name and organization (`personal`) as known
/// to the guesser.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(value: &str, personal: &[&str]) -> Result<Self, &'static str> {
        let length = value.chars().count();
        if length < MIN_PASSWORD_CHARS {
            return Err("form.password_too_short");
        }
        if length > 1024 {
            return Err("form.password_too_long");
        }
        let estimated: String = value.chars().take(ESTIMATED_CHARS).collect();
        // Each input, and each of its parts (`anna.schmidt@kunde.test` gives `anna`, `schmidt`,
        // `kunde`, `annaschmidt`...), is a word the guesser knows.
        let mut known: Vec<String> = Vec::new();
        for input in personal.iter().map(|i| i.to_lowercase()) {
            let parts: Vec<&str> = input
                .split(|c: char| !c.is_alphanumeric())
                .filter(|p| p.chars().count() >= 3)
                .collect();
            known.push(parts.concat());
            if let Some((local, _)) = input.split_once('@') {
                known.push(local.replace(|c: char| !c.is_alphanumeric(), ""));
            }
            known.extend(parts.iter().map(|p| (*p).to_owned()));
            known.push(input.clone());
        }
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        if zxcvbn::zxcvbn(&estimated, &known).score() < zxcvbn::Score::Three {
            return Err("form.password_guessable");
        }
        Ok(Self(value.to_owned()))
    }

    /// The new password of a form that asks for it twice; its mistakes (the policy's, then a
    /// confirmation that differs) go to `errors`.
    pub fn confirmed(
        value: &str,
        confirmation_matches: bool,
        personal: &[&str],
        errors: &mut Vec<&'static str>,
    ) -> Option<Self> {
        let password = Self::parse(value, personal)
            .map_err(|e| errors.push(e))
            .ok();
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

/// Whether `password` is the current password of `user_id` (argon2 off the runtime threads).
pub async fn password_matches(
    db: &impl ConnectionTrait,
    user_id: i64,
    password: &str,
) -> Result<bool, AppError> {
    let stored = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?
        .password_hash;
    let password = password.to_owned();
    crate::crypto::check_password(password, stored)
        .await
        .map_err(AppError::internal)
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
        // Which notifications also come by mail, until the user chooses at `/account`.
        notify_mail_assigned: Set(Preferences::DEFAULT.assigned),
        notify_mail_answered: Set(Preferences::DEFAULT.answered),
        notify_mail_mentioned: Set(Preferences::DEFAULT.mentioned),
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
    // A new password voids the reset links still out.
    super::password_reset::void_links(db, user_id).await?;
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

/// The language the user reads mail in: their setting, else `fallback`.
pub fn mail_language(user: &user::Model, fallback: Lang) -> Lang {
    user.language
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or(fallback)
}

/// The users `ids` as mail recipients: each address with its reader's language (English
/// unless set). A stored address that no longer parses is left out.
pub async fn mail_recipients(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<Vec<(EmailAddress, Lang)>, sea_orm::DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|u| {
            let lang = mail_language(&u, Lang::En);
            EmailAddress::parse(&u.email).ok().map(|a| (a, lang))
        })
        .collect())
}

#[cfg(test)]
mod password_policy_tests {
    use super::NewPassword;

    #[test]
    fn short_common_and_personal_passwords_are_refused() {
        assert_eq!(
            NewPassword::parse("eleven char", &[]).err(),
            Some("form.password_too_short")
        );
        for guessable in [
            "password1234",
            "qwertyuiop123",
            "123456789012",
            "aaaaaaaaaaaaaaa",
        ] {
            assert_eq!(
                NewPassword::parse(guessable, &[]).err(),
                Some("form.password_guessable"),
                "{guessable}"
            );
        }
        // Someone's own address is known to whoever guesses.
        let personal = ["annaschmidt@kunde.test", "Anna Schmidt"];
        assert_eq!(
            NewPassword::parse("annaschmidt2026", &personal).err(),
            Some("form.password_guessable")
        );
        for strong in [
            "correct horse battery",
            "plum tractor lantern",
            "fresh secret 123",
        ] {
            assert!(NewPassword::parse(strong, &personal).is_ok(), "{strong}");
        }
    }
}
