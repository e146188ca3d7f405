//! Forwarding a message of the thread to an outside address (a supplier, the courier):
//! `POST /conversations/{id}/messages/{message_id}/forward` with `to` and an optional `note`.
//! The forward is recorded on the conversation as an outbound message of kind `forward`
//! (`mail::outbound::queue_forward`), with the message's files. The whole conversation, with
//! all its files, goes the same way through `POST /conversations/{id}/forward`
//! (`mail::outbound::queue_forward_conversation`).
//!
//! The outside party's answer threads back as a note the team sees (`mail::ingest`, kind
//! `forward_answer`), never as the customer's mail.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::conversation::{self, Drafts, ViewQuery};
use super::queries;
use crate::mail::compose;
use crate::mail::outbound::{self, Refusal};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

#[derive(Deserialize)]
pub struct ForwardForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    note: String,
}

/// The problem shown for a forward of the whole conversation sits where a message id would.
pub const WHOLE_CONVERSATION: i64 = 0;

pub async fn forward(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<ForwardForm>,
) -> Result<HttpResponse, AppError> {
    let (id, message_id) = path.into_inner();
    send(&state, &scope, id, Some(message_id), form).await
}

pub async fn forward_conversation(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<ForwardForm>,
) -> Result<HttpResponse, AppError> {
    send(&state, &scope, path.into_inner(), None, form).await
}

/// Forwards one message (`Some`) or the whole conversation (`None`).
async fn send(
    state: &AppState,
    scope: &TenantScope,
    id: i64,
    message_id: Option<i64>,
    form: ForwardForm,
) -> Result<HttpResponse, AppError> {
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    let tr = scope.session.tr();
    let problem = match compose::parse_list(&form.to) {
        Err(bad) => bad
            .iter()
            .map(|entry| {
                tr.tf(
                    "recipients.invalid",
                    &[("address", entry), ("field", tr.t("recipients.to"))],
                )
            })
            .collect::<Vec<_>>()
            .join(" "),
        Ok(to) => {
            let queued = match message_id {
                Some(message_id) => {
                    outbound::queue_forward(
                        state,
                        scope.org(),
                        id,
                        message_id,
                        scope.user_id(),
                        to,
                        &form.note,
                    )
                    .await?
                }
                None => {
                    outbound::queue_forward_conversation(
                        state,
                        scope.org(),
                        id,
                        scope.user_id(),
                        to,
                        &form.note,
                    )
                    .await?
                }
            };
            match queued {
                Ok(_) => {
                    return Ok(see_other_with_flash(
                        &paths::CONVERSATION.at(id),
                        "flash.forward_queued",
                    ));
                }
                Err(Refusal::OwnAddress(address)) => {
                    tr.tf("recipients.own", &[("address", &address)])
                }
                Err(Refusal::NoSmtpChannel) => tr.t("reply.no_smtp").to_owned(),
                Err(Refusal::Restricted) => tr.t("privacy.restrict.refused").to_owned(),
                Err(Refusal::NoRecipient | Refusal::Empty) => {
                    tr.t("recipients.to_missing").to_owned()
                }
            }
        }
    };
    let drafts = Drafts {
        forward_problem: Some((message_id.unwrap_or(WHOLE_CONVERSATION), problem)),
        forward_to: form.to,
        forward_note: form.note,
        ..Drafts::default()
    };
    let page = conversation::load(state, scope, id, &ViewQuery::default(), drafts).await?;
    render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
}
