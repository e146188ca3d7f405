//! A conversation an agent starts (`/conversations/new`): channel, recipients, subject, text
//! and files. The customer, the conversation, the first message and its outbox row are
//! written in one transaction (`mail::outbound::start_conversation`); the mail threads like
//! any reply, so the customer's answer lands in the conversation. `?to=` fills the To field
//! (a link from a customer's page).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{attach, reply};
use crate::mail::outbound::{self, NewConversation, Refusal};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::upload::Upload;
use crate::web::{AppError, CsrfUpload, Page, render};

/// The longest subject accepted, in characters.
pub const MAX_SUBJECT_CHARS: usize = 500;

/// A channel that can send, as the form lists it.
pub struct ChannelChoice {
    pub id: i64,
    pub label: String,
}

#[derive(Template)]
#[template(path = "inbox/new_conversation.html")]
pub struct NewConversationPage {
    pub page: Page,
    pub channels: Vec<ChannelChoice>,
    pub channel_id: i64,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub text: String,
    /// What was wrong with the form, in words (already translated).
    pub problem: Option<String>,
    pub max_attachment_mb: usize,
}

impl NewConversationPage {
    fn copies_open(&self) -> bool {
        !self.cc.trim().is_empty() || !self.bcc.trim().is_empty()
    }
}

#[derive(Deserialize)]
pub struct Prefill {
    to: Option<String>,
}

#[derive(Deserialize)]
pub struct NewConversationForm {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cc: String,
    #[serde(default)]
    bcc: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    text: String,
}

async fn page(
    state: &AppState,
    scope: &TenantScope,
    form: NewConversationForm,
    problem: Option<String>,
) -> Result<NewConversationPage, AppError> {
    let channels: Vec<ChannelChoice> = crate::mail::channel::list(&state.db, scope.org())
        .await?
        .into_iter()
        .filter(|c| c.smtp_host.is_some())
        .map(|c| ChannelChoice {
            id: c.id,
            label: format!("{} <{}>", c.name, c.from_address),
        })
        .collect();
    let channel_id = form
        .channel
        .parse()
        .ok()
        .or_else(|| channels.first().map(|c| c.id))
        .unwrap_or_default();
    Ok(NewConversationPage {
        page: Page::new(state, &scope.session, "inbox").await?,
        channels,
        channel_id,
        to: form.to,
        cc: form.cc,
        bcc: form.bcc,
        subject: form.subject,
        text: form.text,
        problem,
        max_attachment_mb: state.config.max_attachment_bytes / (1024 * 1024),
    })
}

pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
    query: web::Query<Prefill>,
) -> Result<HttpResponse, AppError> {
    let form = NewConversationForm {
        channel: String::new(),
        to: query.into_inner().to.unwrap_or_default(),
        cc: String::new(),
        bcc: String::new(),
        subject: String::new(),
        text: String::new(),
    };
    render(&page(&state, &scope, form, None).await?)
}

pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfUpload(upload): CsrfUpload<NewConversationForm>,
) -> Result<HttpResponse, AppError> {
    let Upload {
        form,
        files,
        rejected,
    } = upload;
    let tr = scope.session.tr();
    let mut problems = Vec::new();
    let chosen = reply::recipients(&tr, &form.to, &form.cc, &form.bcc)
        .map_err(|problem| problems.push(problem))
        .ok();
    if form.subject.trim().is_empty() {
        problems.push(tr.t("compose.subject_missing").to_owned());
    } else if form.subject.chars().count() > MAX_SUBJECT_CHARS {
        problems.push(tr.t("compose.subject_too_long").to_owned());
    }
    if form.text.trim().is_empty() {
        problems.push(tr.t("reply.empty").to_owned());
    }
    let channel_id: Option<i64> = form.channel.trim().parse().ok();
    if channel_id.is_none() {
        problems.push(tr.t("reply.no_smtp").to_owned());
    }
    problems.extend(attach::problem(&tr, &rejected));
    let (Some(recipients), Some(channel_id), true) = (chosen, channel_id, problems.is_empty())
    else {
        let page = page(&state, &scope, form, Some(problems.join(" "))).await?;
        return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let new = NewConversation {
        channel_id,
        recipients,
        subject: form.subject.clone(),
        text: form.text.clone(),
        attachments: attach::new_attachments(files),
    };
    let refusal =
        match outbound::start_conversation(&state, scope.org(), scope.user_id(), new).await? {
            Ok(id) => {
                return Ok(see_other_with_flash(
                    &paths::CONVERSATION.at(id),
                    "flash.conversation_started",
                ));
            }
            Err(refusal) => refusal,
        };
    let problem = match refusal {
        Refusal::Empty => tr.t("reply.empty").to_owned(),
        Refusal::NoSmtpChannel => tr.t("reply.no_smtp").to_owned(),
        Refusal::NoRecipient => tr.t("recipients.to_missing").to_owned(),
        Refusal::OwnAddress(address) => tr.tf("recipients.own", &[("address", &address)]),
        Refusal::Restricted => tr.t("privacy.restrict.refused").to_owned(),
    };
    let page = page(&state, &scope, form, Some(problem)).await?;
    render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
}
