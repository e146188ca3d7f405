//! Replies: the reply box queues a reply through the outbox (message and outbox row in one
//! transaction, see `mail::outbound`), optionally setting the status; "retry now" puts a
//! failed reply back into the outbox.
//!
//! The reply form may carry files (multipart); one over a limit brings the form back with the
//! typed text and a message naming it, nothing stored.
//!
//! The "Preview" button posts the same form: the reply comes back rendered (Markdown, with
//! the signatures) above the form as typed, nothing stored or sent.
//!
//! Forms of the conversation page: `POST /conversations/{id}/reply` and
//! `POST /conversations/{id}/messages/{message_id}/retry`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use sea_orm::{ColumnTrait, QueryFilter};
use serde::Deserialize;

use super::attach;
use super::conversation::{self, Drafts, ViewQuery};
use super::queries;
use super::triage::{self, Status};
use crate::db::InOrg;
use crate::db::entity::message;
use crate::mail::compose::{self, Recipients};
use crate::mail::outbound::{self, Refusal, ReplyExtras};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::i18n::Tr;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::upload::Upload;
use crate::web::{AppError, CsrfForm, CsrfUpload};

#[derive(Deserialize)]
pub struct ReplyForm {
    text: String,
    /// Empty, `pending` or `closed`: the status to set once the reply is queued.
    #[serde(default)]
    then: String,
    /// The To field; a form without it (an older page, a script) sends to the last person
    /// who wrote.
    to: Option<String>,
    #[serde(default)]
    cc: String,
    #[serde(default)]
    bcc: String,
    /// The newest message the agent saw (src/inbox/collision.rs); absent: no check.
    #[serde(default)]
    seen: String,
    /// "Send anyway": the agent saw the newer message and sends all the same.
    #[serde(default)]
    send_anyway: String,
    /// Set by the "Preview" button: show the reply as it would be sent, store nothing.
    #[serde(default)]
    preview: String,
}

/// The fields' addresses, or one sentence per entry that is not an address (naming it and
/// its field) and one if To is empty.
pub(super) fn recipients(tr: &Tr, to: &str, cc: &str, bcc: &str) -> Result<Recipients, String> {
    let mut problems = Vec::new();
    let mut parse = |field: &str, label: &str| {
        compose::parse_list(field).unwrap_or_else(|bad| {
            for entry in bad {
                problems.push(tr.tf(
                    "recipients.invalid",
                    &[("address", &entry), ("field", label)],
                ));
            }
            Vec::new()
        })
    };
    let chosen = Recipients {
        to: parse(to, tr.t("recipients.to")),
        cc: parse(cc, tr.t("recipients.cc")),
        bcc: parse(bcc, tr.t("recipients.bcc_short")),
    };
    if !problems.is_empty() {
        return Err(problems.join(" "));
    }
    if chosen.to.is_empty() {
        return Err(tr.t("recipients.to_missing").to_owned());
    }
    Ok(chosen)
}

pub async fn reply(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfUpload(upload): CsrfUpload<ReplyForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let found = queries::changeable_conversation(&state.db, scope.org(), id).await?;
    // A chat answered with no address typed goes to the visitor's widget (and by mail when
    // they left an address): the empty To is not an error there (src/chat/).
    let chat = crate::chat::channel::of_conversation(&state.db, scope.org(), found.channel_id)
        .await?
        .is_some();
    let blank = |value: &str| value.trim().is_empty();
    let Upload {
        form,
        files,
        rejected,
    } = upload;
    let unaddressed = blank(&form.cc) && blank(&form.bcc);
    let then = match form.then.trim() {
        "" => None,
        value => Some(Status::parse(value).ok_or(AppError::BadRequest("status.invalid"))?),
    };
    let tr = scope.session.tr();
    let chosen = form
        .to
        .as_deref()
        .filter(|to| !(chat && unaddressed && to.trim().is_empty()))
        .map(|to| recipients(&tr, to, &form.cc, &form.bcc))
        .transpose();
    let problem = attach::problem(&tr, &rejected).or_else(|| chosen.as_ref().err().cloned());
    // The form as typed, for showing it again.
    let again = |text: String, problem: Option<String>, error: Option<&'static str>| Drafts {
        reply_text: Some(text),
        reply_problem: problem,
        reply_error: error,
        reply_to: form.to.clone(),
        reply_cc: Some(form.cc.clone()),
        reply_bcc: Some(form.bcc.clone()),
        ..Drafts::default()
    };
    if !form.preview.is_empty() {
        // The preview, rendered here (no JavaScript): the form comes back as typed.
        let html = outbound::preview_reply(&state.db, scope.org(), id, scope.user_id(), &form.text)
            .await?;
        let drafts = Drafts {
            reply_preview: Some(html),
            ..again(form.text.clone(), problem, None)
        };
        let page = conversation::load(&state, &scope, id, &ViewQuery::default(), drafts).await?;
        return render_with_status(&page, StatusCode::OK);
    }
    if let Some(problem) = problem {
        // Nothing is stored; the typed text and addresses come back.
        let drafts = again(form.text.clone(), Some(problem), None);
        let page = conversation::load(&state, &scope, id, &ViewQuery::default(), drafts).await?;
        return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if form.send_anyway.is_empty()
        && let Some(seen) = super::collision::parse_seen(&form.seen)
        && super::collision::newer_inbound(&state.db, scope.org(), id, seen).await?
    {
        // Not sent: the page again with the new message, the text and a "send anyway".
        let drafts = Drafts {
            newer_message: true,
            ..again(form.text.clone(), None, None)
        };
        let page = conversation::load(&state, &scope, id, &ViewQuery::default(), drafts).await?;
        return render_with_status(&page, StatusCode::CONFLICT);
    }
    let extras = ReplyExtras {
        attachments: attach::new_attachments(files),
        recipients: chosen.ok().flatten(),
    };
    let refusal =
        outbound::queue_reply_with(&state, scope.org(), id, scope.user_id(), &form.text, extras)
            .await?
            .err();
    let (error, status) = match refusal {
        None => {
            super::drafts::discard(&state.db, scope.org(), id, scope.user_id()).await?;
            crate::assist::suggest::store::decide(
                &state.db,
                scope.org(),
                id,
                &form.text,
                Utc::now(),
            )
            .await?;
            state.presence.stopped(
                super::presence::Room {
                    org: scope.org(),
                    conversation_id: id,
                },
                scope.user_id(),
            );
            if let Some(status) = then {
                triage::set_status(&state.db, scope.org(), id, status, Utc::now()).await?;
                queries::publish(&state, scope.org(), id);
            }
            return Ok(see_other_with_flash(
                &paths::CONVERSATION.at(id),
                "flash.reply_queued",
            ));
        }
        Some(Refusal::Empty) => ("reply.empty", StatusCode::UNPROCESSABLE_ENTITY),
        Some(Refusal::NoSmtpChannel) => ("reply.no_smtp", StatusCode::CONFLICT),
        Some(Refusal::NoRecipient) => ("reply.no_recipient", StatusCode::CONFLICT),
        Some(Refusal::Restricted) => ("privacy.restrict.refused", StatusCode::CONFLICT),
        Some(Refusal::OwnAddress(address)) => {
            let problem = tr.tf("recipients.own", &[("address", &address)]);
            let drafts = again(form.text.clone(), Some(problem), None);
            let page =
                conversation::load(&state, &scope, id, &ViewQuery::default(), drafts).await?;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let drafts = again(form.text.clone(), None, Some(error));
    let page = conversation::load(&state, &scope, id, &ViewQuery::default(), drafts).await?;
    render_with_status(&page, status)
}

pub async fn retry(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<(i64, i64)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (id, message_id) = path.into_inner();
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    message::Entity::find_by_id_in(scope.org(), message_id)
        .filter(message::Column::ConversationId.eq(id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let flash = if outbound::retry(&state, scope.org(), message_id).await? {
        queries::publish(&state, scope.org(), id);
        "flash.retry_queued"
    } else {
        "flash.retry_not_possible"
    };
    Ok(see_other_with_flash(&paths::CONVERSATION.at(id), flash))
}
