//! Notice mails to an organization's admins or owners (a webhook endpoint switched off, a
//! mailbox whose sign-in was revoked: admins; an unusual access pattern, a burst of failed
//! sign-ins, the deletion confirmation: owners), each in the language the reader reads. Sent
//! only when the system mailer is set up; the settings pages and the audit log show the same
//! state in any case. A failed send is logged by kind only (no address).

use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

use crate::db::InOrg;
use crate::db::entity::{membership, organization};
use crate::mail::EmailAddress;
use crate::orgs::{OrgId, Role};
use crate::state::AppState;
use crate::web::i18n::{Lang, Tr};

/// Who of the organization's members a notice goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Admins and owners.
    Admins,
    /// Owners only.
    Owners,
}

/// The members of `org` in `audience`, with the language each reads.
pub async fn recipients(
    db: &impl ConnectionTrait,
    org: OrgId,
    audience: Audience,
) -> Result<Vec<(EmailAddress, Lang)>, sea_orm::DbErr> {
    let members: Vec<(i64, String)> = membership::Entity::find_in(org)
        .select_only()
        .columns([membership::Column::UserId, membership::Column::Role])
        .into_tuple()
        .all(db)
        .await?;
    let ids: Vec<i64> = members
        .into_iter()
        .filter(|(_, role)| {
            Role::parse(role).is_some_and(|role| match audience {
                Audience::Admins => role.is_admin(),
                Audience::Owners => role == Role::Owner,
            })
        })
        .map(|(id, _)| id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::auth::users::mail_recipients(db, ids).await
}

/// Mails every admin (and owner) of `org`; `args` fill the catalog texts, which may also use
/// `{organization}` (the organization's name). `what` names the notice in logs.
pub async fn mail_admins(
    state: &AppState,
    org: OrgId,
    subject_key: &str,
    body_key: &str,
    args: &[(&str, &str)],
    what: &'static str,
) {
    mail_members(
        state,
        org,
        Audience::Admins,
        subject_key,
        body_key,
        args,
        what,
    )
    .await;
}

/// [`mail_admins`] for the owners only.
pub async fn mail_owners(
    state: &AppState,
    org: OrgId,
    subject_key: &str,
    body_key: &str,
    args: &[(&str, &str)],
    what: &'static str,
) {
    mail_members(
        state,
        org,
        Audience::Owners,
        subject_key,
        body_key,
        args,
        what,
    )
    .await;
}

async fn mail_members(
    state: &AppState,
    org: OrgId,
    audience: Audience,
    subject_key: &str,
    body_key: &str,
    args: &[(&str, &str)],
    what: &'static str,
) {
    if !state.mailer.is_configured() {
        return;
    }
    let organization = organization::Entity::find_by_id(org.get())
        .one(&state.db)
        .await
        .ok()
        .flatten()
        .map(|o| o.name)
        .unwrap_or_default();
    let recipients = match recipients(&state.db, org, audience).await {
        Ok(recipients) => recipients,
        Err(error) => {
            tracing::error!(%error, notice = what, "notice: recipients not read");
            return;
        }
    };
    let mut all_args = vec![("organization", organization.as_str())];
    all_args.extend_from_slice(args);
    mail_each(state, &recipients, subject_key, body_key, &all_args, what).await;
}

/// Mails `recipients` (read earlier: the deletion confirmation goes out after the memberships
/// are gone), each in their language; `args` fill the catalog texts.
pub async fn mail_each(
    state: &AppState,
    recipients: &[(EmailAddress, Lang)],
    subject_key: &str,
    body_key: &str,
    args: &[(&str, &str)],
    what: &'static str,
) {
    if !state.mailer.is_configured() {
        return;
    }
    for (address, lang) in recipients {
        let tr = Tr::new(*lang);
        let subject = tr.tf(subject_key, args);
        let text = tr.tf(body_key, args);
        if let Err(error) = state.mailer.send(address, &subject, text).await {
            tracing::warn!(error = error.kind(), notice = what, "notice mail not sent");
        }
    }
}
