//! The weekly checkpoint mail (`LETHE_SCHEDULE_AUDIT_CHECKPOINT`): verifies the audit chain and
//! mails its checkpoint — the newest row's position and MAC, the JSON `lethe audit checkpoint`
//! prints — somewhere the database's writers cannot reach: the addresses in
//! `LETHE_AUDIT_CHECKPOINT_TO`, or, on an instance with a single organization, its owners. A
//! chain cut back or rewritten later no longer extends a mailed checkpoint
//! (`lethe audit verify --checkpoint FILE`). When the chain is already broken, the mail says so
//! instead. It carries no personal data.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{Checkpoint, Verification, checkpoint};
use crate::db::InOrg;
use crate::db::entity::{membership, organization};
use crate::mail::EmailAddress;
use crate::orgs::{OrgId, Role};
use crate::state::AppState;
use crate::web::i18n::{Lang, Tr};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Emails accepted by the SMTP server.
    pub emails: u32,
    /// Emails that could not be sent.
    pub failed: u32,
    /// The chain did not verify: the mail reported that instead of a checkpoint.
    pub broken: bool,
    /// No system mailer, or nobody to mail: nothing was sent.
    pub skipped: bool,
}

pub async fn run_once(state: &AppState) -> Result<Outcome, sea_orm::DbErr> {
    let mut outcome = Outcome::default();
    let recipients = recipients(state).await?;
    if !state.mailer.is_configured() || recipients.is_empty() {
        outcome.skipped = true;
        return Ok(outcome);
    }
    let taken = checkpoint(&state.db, state.audit.key()).await?;
    outcome.broken = taken.is_err();
    let instance = state.config.base_url.as_str();
    for (address, lang) in recipients {
        let tr = Tr::new(lang);
        let (subject, text) = match &taken {
            Ok(point) => (
                tr.tf("jobs.checkpoint.subject", &[("instance", instance)]),
                tr.tf(
                    "jobs.checkpoint.body",
                    &[
                        ("instance", instance),
                        ("checkpoint", &checkpoint_json(point)),
                    ],
                ),
            ),
            Err(verification) => {
                let (row, reason) = match verification {
                    Verification::Broken { row_id, reason } => (row_id.to_string(), *reason),
                    Verification::Intact { .. } => (String::new(), ""),
                };
                (
                    tr.tf("jobs.checkpoint.broken_subject", &[("instance", instance)]),
                    tr.tf(
                        "jobs.checkpoint.broken_body",
                        &[("instance", instance), ("row", &row), ("reason", reason)],
                    ),
                )
            }
        };
        match state.mailer.send(&address, &subject, text).await {
            Ok(()) => outcome.emails += 1,
            Err(error) => {
                outcome.failed += 1;
                tracing::warn!(error = error.kind(), "audit checkpoint mail not sent");
            }
        }
    }
    Ok(outcome)
}

/// The checkpoint exactly as `lethe audit checkpoint` prints it, so it can be saved as a file.
fn checkpoint_json(point: &Checkpoint) -> String {
    serde_json::to_string_pretty(point).unwrap_or_default()
}

/// `LETHE_AUDIT_CHECKPOINT_TO`, or the owners of the only organization. On an instance with
/// several organizations the chain is the operator's: nobody is mailed unless the setting
/// names someone (one tenant's owners learn nothing of the others' activity).
async fn recipients(state: &AppState) -> Result<Vec<(EmailAddress, Lang)>, sea_orm::DbErr> {
    if !state.config.audit_checkpoint_to.is_empty() {
        return Ok(state
            .config
            .audit_checkpoint_to
            .iter()
            .map(|address| (address.clone(), Lang::En))
            .collect());
    }
    let only = match organization::Entity::find()
        .limit(2)
        .all(&state.db)
        .await?
        .as_slice()
    {
        [only] => OrgId::from_db(only.id),
        _ => return Ok(Vec::new()),
    };
    let owners: Vec<i64> = membership::Entity::find_in(only)
        .filter(membership::Column::Role.eq(Role::Owner.as_str()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    crate::auth::users::mail_recipients(&state.db, owners).await
}
