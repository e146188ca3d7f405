//! Notifications by mail, for the kinds each user chose at `/account` (defaults: assigned
//! and mentioned on, the customer answered off), through the system mailer as the other
//! notices go (`orgs::admin_notice`): only when it is set up, in the reader's language, a
//! failed send logged by kind only.
//!
//! Privacy by construction: the mail says what happened (the kind), who did it (a team
//! member's display name), the organization's name and a link to the conversation — and
//! nothing of the customer: no subject, no message text, no customer name or address. The
//! functions here are never handed any of it, so a mail cannot carry it.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::Kind;
use crate::db::entity::{organization, user};
use crate::mail::EmailAddress;
use crate::orgs::OrgId;
use crate::state::AppState;
use crate::web::i18n::Tr;
use crate::web::paths;

/// Which kinds come by mail too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preferences {
    pub assigned: bool,
    pub answered: bool,
    pub mentioned: bool,
}

impl Preferences {
    /// A new user's: assigned and mentioned by mail, the customer's answers in the app only
    /// (the same defaults as migration m20261208_000032's columns).
    pub const DEFAULT: Preferences = Preferences {
        assigned: true,
        answered: false,
        mentioned: true,
    };

    pub fn of(user: &user::Model) -> Self {
        Self {
            assigned: user.notify_mail_assigned,
            answered: user.notify_mail_answered,
            mentioned: user.notify_mail_mentioned,
        }
    }

    pub fn wants(self, kind: Kind) -> bool {
        match kind {
            Kind::Assigned => self.assigned,
            Kind::Answered => self.answered,
            Kind::Mentioned => self.mentioned,
        }
    }
}

/// The `/account` form: a ticked box is sent, an unticked one is not.
#[derive(Deserialize)]
pub struct PreferencesForm {
    #[serde(default)]
    assigned: Option<String>,
    #[serde(default)]
    answered: Option<String>,
    #[serde(default)]
    mentioned: Option<String>,
}

impl From<PreferencesForm> for Preferences {
    fn from(form: PreferencesForm) -> Self {
        Self {
            assigned: form.assigned.is_some(),
            answered: form.answered.is_some(),
            mentioned: form.mentioned.is_some(),
        }
    }
}

pub async fn save(
    db: &impl ConnectionTrait,
    user_id: i64,
    preferences: Preferences,
) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(
            user::Column::NotifyMailAssigned,
            preferences.assigned.into(),
        )
        .col_expr(
            user::Column::NotifyMailAnswered,
            preferences.answered.into(),
        )
        .col_expr(
            user::Column::NotifyMailMentioned,
            preferences.mentioned.into(),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Mails each of `users` who wants `kind` by mail, after the answer: the sends run in a task
/// of their own, so a slow or unreachable mail server never holds up the page that caused
/// them. `actor` is a team member's display name (None: the customer); nothing of the
/// customer is taken.
pub fn send(
    state: &AppState,
    org: OrgId,
    users: &[i64],
    kind: Kind,
    conversation_id: i64,
    actor: Option<String>,
) {
    if users.is_empty() || !state.mailer.is_configured() {
        return;
    }
    let db = state.db.clone();
    let mailer = state.mailer.clone();
    let link = state
        .config
        .base_url
        .join(&paths::CONVERSATION.at(conversation_id));
    let users = users.to_vec();
    tokio::spawn(async move {
        let readers = match user::Entity::find()
            .filter(user::Column::Id.is_in(users))
            .all(&db)
            .await
        {
            Ok(readers) => readers,
            Err(error) => {
                tracing::error!(%error, kind = kind.as_str(), "notification mail: readers not read");
                return;
            }
        };
        let organization = organization::Entity::find_by_id(org.get())
            .one(&db)
            .await
            .ok()
            .flatten()
            .map(|o| o.name)
            .unwrap_or_default();
        let number = conversation_id.to_string();
        for reader in readers.iter().filter(|r| Preferences::of(r).wants(kind)) {
            let Ok(address) = EmailAddress::parse(&reader.email) else {
                continue;
            };
            let tr = Tr::new(crate::auth::users::mail_language(
                reader,
                crate::web::i18n::Lang::En,
            ));
            let someone = tr.t("notifications.someone");
            let args = [
                ("actor", actor.as_deref().unwrap_or(someone)),
                ("organization", organization.as_str()),
                ("number", number.as_str()),
                ("link", link.as_str()),
            ];
            let subject = tr.tf(kind.mail_subject_key(), &args);
            let text = tr.tf(kind.mail_body_key(), &args);
            if let Err(error) = mailer.send(&address, &subject, text).await {
                tracing::warn!(
                    error = error.kind(),
                    kind = kind.as_str(),
                    "notification mail not sent"
                );
            }
        }
    });
}
