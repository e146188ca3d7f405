//! Reminds an organization's admins and owners, through the system mailer (`LETHE_SMTP_URL`),
//! when an open privacy request is due within [`REMINDER_DAYS`] days: once per request (the
//! `privacy_reminders` row claims it before sending, so two runs never both send). The email
//! carries the request's reference, kind and due date — nothing about the person who asked.
//! When no recipient could be reached the claim is dropped and the next run tries again.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, TryInsertResult};

use crate::db::entity::privacy_request;
use crate::db::entity::{organization, privacy_reminder};
use crate::privacy::requests::{Kind, Status};
use crate::state::AppState;
use crate::web::i18n::{Lang, Tr};
use crate::web::paths;

/// How many days before the due date the reminder goes out.
pub const REMINDER_DAYS: i64 = 5;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Requests reminded about.
    pub requests: u32,
    /// Emails accepted by the SMTP server.
    pub emails: u32,
    /// Emails that could not be sent.
    pub failed: u32,
    /// No system mailer is configured: nothing was sent or recorded.
    pub no_mailer: bool,
}

/// One reminder email, in the recipient's language.
pub struct Reminder {
    pub subject: String,
    pub text: String,
}

/// The email about `request` for a recipient speaking `lang`.
pub fn compose(
    lang: Lang,
    organization: &str,
    request: &privacy_request::Model,
    link: &str,
) -> Reminder {
    let tr = Tr::new(lang);
    let due = request.due_at.format("%Y-%m-%d").to_string();
    let days = (request.due_at - Utc::now()).num_days().max(0).to_string();
    let kind = tr.t(Kind::label_key_of(&request.kind));
    let args = [
        ("reference", request.reference.as_str()),
        ("kind", kind),
        ("due", due.as_str()),
        ("days", days.as_str()),
        ("organization", organization),
        ("link", link),
    ];
    Reminder {
        subject: tr.tf("jobs.reminder.subject", &args),
        text: tr.tf("jobs.reminder.body", &args),
    }
}

pub async fn run_once(state: &AppState) -> Result<Outcome, sea_orm::DbErr> {
    let mut outcome = Outcome::default();
    if !state.mailer.is_configured() {
        outcome.no_mailer = true;
        return Ok(outcome);
    }
    let horizon = Utc::now() + Duration::days(REMINDER_DAYS);
    let reminded = Query::select()
        .column(privacy_reminder::Column::RequestId)
        .from(privacy_reminder::Entity)
        .to_owned();
    let due = privacy_request::Entity::find()
        .filter(privacy_request::Column::Status.eq(Status::Open.as_str()))
        .filter(privacy_request::Column::DueAt.lte(horizon))
        .filter(privacy_request::Column::Id.not_in_subquery(reminded))
        .all(&state.db)
        .await?;
    let link = state.config.base_url.join(paths::PRIVACY_REQUESTS.path());
    for request in due {
        let claimed = privacy_reminder::Entity::insert(privacy_reminder::ActiveModel {
            request_id: Set(request.id),
            organization_id: Set(request.organization_id),
            sent_at: Set(Utc::now()),
            recipients: Set(0),
        })
        .on_conflict_do_nothing_on([privacy_reminder::Column::RequestId])
        .exec_without_returning(&state.db)
        .await?;
        if !matches!(claimed, TryInsertResult::Inserted(n) if n > 0) {
            continue;
        }
        let organization = organization::Entity::find_by_id(request.organization_id.get())
            .one(&state.db)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        let mut sent: i32 = 0;
        let recipients = crate::orgs::admin_notice::recipients(
            &state.db,
            request.organization_id,
            crate::orgs::admin_notice::Audience::Admins,
        )
        .await?;
        for (address, lang) in recipients {
            let mail = compose(lang, &organization, &request, &link);
            match state.mailer.send(&address, &mail.subject, mail.text).await {
                Ok(()) => sent += 1,
                Err(error) => {
                    outcome.failed += 1;
                    tracing::warn!(
                        error = error.kind(),
                        request = request.id,
                        "privacy reminder not sent"
                    );
                }
            }
        }
        if sent == 0 {
            privacy_reminder::Entity::delete_by_id(request.id)
                .exec(&state.db)
                .await?;
            continue;
        }
        privacy_reminder::Entity::update_many()
            .col_expr(
                privacy_reminder::Column::Recipients,
                sea_orm::sea_query::Expr::val(sent),
            )
            .filter(privacy_reminder::Column::RequestId.eq(request.id))
            .exec(&state.db)
            .await?;
        outcome.requests += 1;
        outcome.emails += u32::try_from(sent).unwrap_or(u32::MAX);
    }
    Ok(outcome)
}
