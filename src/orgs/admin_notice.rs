//! Notice mails to an organization's admins and owners (a webhook endpoint switched off, a
//! mailbox whose sign-in was revoked), each in the language the admin reads. Sent only when
//! the system mailer is set up; the settings pages show the same state in any case.

use sea_orm::EntityTrait;

use crate::db::entity::organization;
use crate::orgs::OrgId;
use crate::state::AppState;

/// Mails every admin of `org`; `args` fill the catalog texts, which may also use
/// `{organization}` (the organization's name). `what` names the notice in logs.
pub async fn mail_admins(
    state: &AppState,
    org: OrgId,
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
    let recipients = match crate::jobs::privacy_reminders::recipients(state, org).await {
        Ok(recipients) => recipients,
        Err(error) => {
            tracing::error!(%error, notice = what, "notice: recipients not read");
            return;
        }
    };
    let mut all_args = vec![("organization", organization.as_str())];
    all_args.extend_from_slice(args);
    for (address, lang) in recipients {
        let tr = crate::web::i18n::Tr::new(lang);
        let subject = tr.tf(subject_key, &all_args);
        let text = tr.tf(body_key, &all_args);
        if let Err(error) = state.mailer.send(&address, &subject, text).await {
            tracing::warn!(error = error.kind(), notice = what, "notice mail not sent");
        }
    }
}
