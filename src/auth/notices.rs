//! Notice mails: the user hears of a changed password, a second factor added or removed and a
//! new API key, so a change they did not make does not go unnoticed. Sent through
//! `LETHE_SMTP_URL` when it is set, after the answer (off the request path); they name what
//! happened and when, never a secret.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::EntityTrait;

use crate::db::entity::user;
use crate::mail::EmailAddress;
use crate::state::AppState;
use crate::web::i18n::{Lang, Tr};

/// What happened to the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    PasswordChanged,
    FactorAdded,
    FactorRemoved,
    PasskeyAdded,
    PasskeyRemoved,
    ApiKeyCreated,
}

impl Notice {
    fn key(self) -> &'static str {
        match self {
            Notice::PasswordChanged => "password_changed",
            Notice::FactorAdded => "factor_added",
            Notice::FactorRemoved => "factor_removed",
            Notice::PasskeyAdded => "passkey_added",
            Notice::PasskeyRemoved => "passkey_removed",
            Notice::ApiKeyCreated => "api_key_created",
        }
    }

    /// The catalog keys of the mail's subject and of its sentence saying what happened.
    fn texts(self) -> (&'static str, &'static str) {
        match self {
            Notice::PasswordChanged => (
                "mail.notice.password_changed_subject",
                "mail.notice.password_changed",
            ),
            Notice::FactorAdded => (
                "mail.notice.factor_added_subject",
                "mail.notice.factor_added",
            ),
            Notice::FactorRemoved => (
                "mail.notice.factor_removed_subject",
                "mail.notice.factor_removed",
            ),
            Notice::PasskeyAdded => (
                "mail.notice.passkey_added_subject",
                "mail.notice.passkey_added",
            ),
            Notice::PasskeyRemoved => (
                "mail.notice.passkey_removed_subject",
                "mail.notice.passkey_removed",
            ),
            Notice::ApiKeyCreated => (
                "mail.notice.api_key_created_subject",
                "mail.notice.api_key_created",
            ),
        }
    }
}

/// Queues the notice for `user_id` after the answer; nothing when system mail is off.
pub fn send(state: Arc<AppState>, user_id: i64, notice: Notice) {
    if !state.mailer.is_configured() {
        return;
    }
    tokio::spawn(async move {
        if let Err(reason) = send_now(&state, user_id, notice).await {
            tracing::error!(reason, notice = notice.key(), "notice mail not sent");
        }
    });
}

/// Sends the notice now. On failure, what failed (never the error's text: it may quote the
/// address).
pub async fn send_now(state: &AppState, user_id: i64, notice: Notice) -> Result<(), &'static str> {
    if !state.mailer.is_configured() {
        return Ok(());
    }
    let Some(user) = user::Entity::find_by_id(user_id)
        .one(&state.db)
        .await
        .map_err(|_| "database")?
    else {
        return Ok(());
    };
    let email = EmailAddress::parse(&user.email).map_err(|_| "address")?;
    let tr = Tr::new(super::users::mail_language(&user, Lang::En));
    let when = Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let account = state
        .config
        .base_url
        .join(crate::web::paths::ACCOUNT_SECURITY.path());
    let (subject, what) = notice.texts();
    let what = tr.t(what);
    let body = tr.tf(
        "mail.notice.body",
        &[("what", what), ("when", &when), ("link", &account)],
    );
    state
        .mailer
        .send(&email, tr.t(subject), body)
        .await
        .map_err(|error| error.kind())
}
