//! The handlers of `/settings/channels`: list, new, edit, delete, and the "Test IMAP" and
//! "Test SMTP" buttons. Admins and owners only; every id is looked up in the session's
//! organization, so another organization's channel answers 404.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::form::ChannelForm;
use super::smtp_check;
use crate::db::entity::channel as entity;
use crate::mail::channel::{self, AUTH_OAUTH2, INBOUND_TOKEN};
use crate::mail::imap::{self, parse_stored};
use crate::mail::oauth::{Provider, tokens as oauth_tokens};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::{NoFields, checkbox};
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, render};

/// A channel's last error, split into a translated stage and the message.
pub struct ErrorView {
    pub stage: Option<&'static str>,
    pub message: String,
}

/// One channel as the list and the edit page show its state.
pub struct ChannelRow {
    pub id: i64,
    pub name: String,
    pub from_address: String,
    pub imap: Option<String>,
    pub smtp: Option<String>,
    pub last_poll: Option<String>,
    pub error: Option<ErrorView>,
    pub inbound_url: String,
    /// Set for a channel that signs in with OAuth2.
    pub oauth: Option<OAuthView>,
    /// Other addresses the channel receives for.
    pub aliases: String,
    /// An IDLE connection is open: mail arrives at once.
    pub idle: bool,
    /// The channel's signature, and where the agent's goes (`mail::signature`).
    pub signature: String,
    pub agent_signature: String,
}

/// The OAuth2 sign-in of a channel, as its page shows it.
pub struct OAuthView {
    pub sign_in_label: String,
    pub signed_in_at: Option<String>,
    pub revoked: bool,
}

fn row(state: &AppState, page: &Page, model: &entity::Model) -> Result<ChannelRow, AppError> {
    let token = state
        .sealer
        .open_text(&model.inbound_token_sealed, INBOUND_TOKEN)
        .map_err(AppError::internal)?;
    let error = model.last_error.as_deref().map(|text| {
        let (stage, message) = parse_stored(text);
        ErrorView {
            stage: stage.map(|s| page.t(s.label_key())),
            message: message.to_owned(),
        }
    });
    Ok(ChannelRow {
        id: model.id,
        name: model.name.clone(),
        from_address: model.from_address.clone(),
        imap: model.imap_host.as_ref().map(|h| {
            format!(
                "{h}:{} ({}, {})",
                model.imap_port, model.imap_tls, model.imap_folder
            )
        }),
        smtp: model
            .smtp_host
            .as_ref()
            .map(|h| format!("{h}:{} ({})", model.smtp_port, model.smtp_tls)),
        last_poll: model
            .last_poll_at
            .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        error,
        inbound_url: state.config.base_url.join(&paths::INBOUND_EMAIL.at(token)),
        oauth: (model.auth_method == AUTH_OAUTH2).then(|| {
            let provider = model
                .oauth_provider
                .as_deref()
                .and_then(Provider::parse)
                .unwrap_or(Provider::Generic);
            OAuthView {
                sign_in_label: page.tf(
                    "channels.oauth.sign_in",
                    &[("provider", page.t(provider.label_key()))],
                ),
                signed_in_at: model
                    .oauth_refresh_token_sealed
                    .as_ref()
                    .and(model.oauth_signed_in_at)
                    .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()),
                revoked: model.oauth_problem.as_deref() == Some(oauth_tokens::REVOKED),
            }
        }),
        aliases: model.aliases.clone(),
        idle: state.idle.mode(model.id) == Some(imap::idle::Mode::Idling),
        signature: model.signature.clone(),
        agent_signature: model.agent_signature.clone(),
    })
}

#[derive(Template)]
#[template(path = "mail/channels.html")]
struct ChannelsPage {
    page: Page,
    rows: Vec<ChannelRow>,
    /// The chat channels (src/chat/): (id, name, allowed origins).
    chats: Vec<(i64, String, String)>,
}

pub async fn list(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let page = Page::new(&state, &scope.session, "channels").await?;
    let rows = channel::list(&state.db, scope.org())
        .await?
        .iter()
        .filter(|m| m.kind != crate::chat::channel::KIND)
        .map(|m| row(&state, &page, m))
        .collect::<Result<Vec<_>, _>>()?;
    let chats = crate::chat::channel::list(&state.db, scope.org())
        .await?
        .into_iter()
        .map(|c| {
            let origins = c
                .settings
                .origins
                .iter()
                .map(|o| o.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            (c.id, c.name, origins)
        })
        .collect();
    render(&ChannelsPage { page, rows, chats })
}

/// The result of a "Test" button.
pub struct TestResult {
    pub ok: bool,
    pub title: &'static str,
    pub stage: Option<&'static str>,
    pub message: String,
}

#[derive(Template)]
#[template(path = "mail/channel_form.html")]
struct ChannelFormPage {
    page: Page,
    /// None for a new channel.
    status: Option<ChannelRow>,
    form: ChannelForm,
    errors: Vec<&'static str>,
    has_imap_password: bool,
    has_smtp_password: bool,
    has_client_secret: bool,
    /// The redirect URL to register with an OAuth2 app.
    redirect_uri: String,
    test: Option<TestResult>,
}

impl ChannelFormPage {
    fn action(&self) -> String {
        match &self.status {
            Some(status) => paths::CHANNEL.at(status.id),
            None => paths::CHANNELS.path().to_owned(),
        }
    }

    /// The TLS modes as (value, label) pairs, for the select boxes.
    fn tls_modes(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("tls", self.page.t("channels.tls_tls")),
            ("starttls", self.page.t("channels.tls_starttls")),
            ("none", self.page.t("channels.tls_none")),
        ]
    }

    /// The OAuth2 providers as (value, label) pairs.
    fn providers(&self) -> Vec<(&'static str, &'static str)> {
        Provider::ALL
            .into_iter()
            .map(|p| (p.as_str(), self.page.t(p.label_key())))
            .collect()
    }

    fn selected(&self, value: &str, current: &str) -> &'static str {
        if value == current { " selected" } else { "" }
    }

    fn checked(&self, value: &str, current: &str) -> &'static str {
        if value == current { " checked" } else { "" }
    }

    /// Where the agent's signature may go, as (value, label key) pairs.
    fn placements(&self) -> Vec<(&'static str, &'static str)> {
        crate::mail::signature::AgentPlacement::ALL
            .into_iter()
            .map(|p| (p.as_str(), p.label_key()))
            .collect()
    }
}

/// The edit page of `existing`, with `errors` (for the signature form, `super::signature`).
pub(super) async fn edit_page(
    state: &AppState,
    scope: &TenantScope,
    existing: &entity::Model,
    errors: Vec<&'static str>,
) -> Result<impl Template + use<>, AppError> {
    let form = ChannelForm::from_model(existing);
    form_page(state, scope, Some(existing), form, errors).await
}

async fn form_page(
    state: &AppState,
    scope: &TenantScope,
    existing: Option<&entity::Model>,
    form: ChannelForm,
    errors: Vec<&'static str>,
) -> Result<ChannelFormPage, AppError> {
    let page = Page::new(state, &scope.session, "channels").await?;
    let status = existing.map(|m| row(state, &page, m)).transpose()?;
    Ok(ChannelFormPage {
        page,
        status,
        form: form.without_passwords(),
        errors,
        has_imap_password: existing.is_some_and(|m| m.imap_password_sealed.is_some()),
        has_smtp_password: existing.is_some_and(|m| m.smtp_password_sealed.is_some()),
        has_client_secret: existing.is_some_and(|m| m.oauth_client_secret_sealed.is_some()),
        redirect_uri: super::oauth_routes::redirect_uri(state),
        test: None,
    })
}

pub(super) async fn find(
    state: &AppState,
    scope: &TenantScope,
    id: i64,
) -> Result<entity::Model, AppError> {
    // A chat channel has its own pages (src/chat/settings_page.rs).
    channel::find(&state.db, scope.org(), id)
        .await?
        .filter(|c| c.kind != crate::chat::channel::KIND)
        .ok_or(AppError::NotFound)
}

pub async fn new_form(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let page = form_page(&state, &scope, None, ChannelForm::default(), vec![]).await?;
    render(&page)
}

pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<ChannelForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let form = form.with_preset_servers();
    let (new, _) = match form.check(None) {
        Ok(checked) => checked,
        Err(errors) => {
            let page = form_page(&state, &scope, None, form, errors).await?;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let details = serde_json::json!({
        "name": new.name,
        "imap": new.imap.as_ref().map(|i| i.host.clone()),
        "smtp": new.smtp.as_ref().map(|s| s.host.clone()),
    });
    let (created, _token) = channel::create(&state.db, &state.sealer, scope.org(), new).await?;
    scope
        .audit(
            &state,
            "channel.created",
            format!("channel:{}", created.id),
            details,
        )
        .await?;
    Ok(see_other_with_flash(
        &paths::CHANNEL.at(created.id),
        "flash.channel_created",
    ))
}

pub async fn edit(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let existing = find(&state, &scope, path.into_inner()).await?;
    let form = ChannelForm::from_model(&existing);
    render(&form_page(&state, &scope, Some(&existing), form, vec![]).await?)
}

pub async fn update(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<ChannelForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let existing = find(&state, &scope, path.into_inner()).await?;
    let form = form.with_preset_servers();
    let (new, keep) = match form.check(Some(&existing)) {
        Ok(checked) => checked,
        Err(errors) => {
            let page = form_page(&state, &scope, Some(&existing), form, errors).await?;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let details = serde_json::json!({
        "name": new.name,
        "imap": new.imap.as_ref().map(|i| i.host.clone()),
        "smtp": new.smtp.as_ref().map(|s| s.host.clone()),
        "imap_password_changed": new
            .imap
            .as_ref()
            .is_some_and(|i| matches!(i.secret, channel::Secret::Password(_)))
            && !keep.imap,
        "auth": match &new.auth {
            channel::ChannelAuth::Password => "password",
            channel::ChannelAuth::OAuth(_) => "oauth2",
        },
        "smtp_password_changed": new.smtp.as_ref().is_some_and(|s| matches!(s.secret, Some(channel::Secret::Password(_)))),
    });
    if !channel::update(
        &state.db,
        &state.sealer,
        scope.org(),
        existing.id,
        new,
        keep,
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    scope
        .audit(
            &state,
            "channel.updated",
            format!("channel:{}", existing.id),
            details,
        )
        .await?;
    Ok(see_other_with_flash(
        &paths::CHANNEL.at(existing.id),
        "flash.channel_saved",
    ))
}

/// The "delete this channel" form (mail and chat channels): the confirmation box.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default, deserialize_with = "checkbox")]
    pub(crate) confirm: bool,
}

pub async fn delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let existing = find(&state, &scope, path.into_inner()).await?;
    let refusal = if !form.confirm {
        Some((
            "channels.delete_unconfirmed",
            StatusCode::UNPROCESSABLE_ENTITY,
        ))
    } else if channel::queued_replies(&state.db, existing.id).await? > 0 {
        Some(("channels.delete_has_queued", StatusCode::CONFLICT))
    } else {
        None
    };
    if let Some((key, status)) = refusal {
        let form = ChannelForm::from_model(&existing);
        let page = form_page(&state, &scope, Some(&existing), form, vec![key]).await?;
        return render_with_status(&page, status);
    }
    if !channel::delete(&state.db, scope.org(), existing.id).await? {
        return Err(AppError::NotFound);
    }
    let details = serde_json::json!({ "name": existing.name });
    scope
        .audit(
            &state,
            "channel.deleted",
            format!("channel:{}", existing.id),
            details,
        )
        .await?;
    Ok(see_other_with_flash(
        paths::CHANNELS.path(),
        "flash.channel_deleted",
    ))
}

pub async fn test_imap(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    test_button(&state, &scope, path.into_inner(), Probe::Imap).await
}

pub async fn test_smtp_button(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    test_button(&state, &scope, path.into_inner(), Probe::Smtp).await
}

/// Which server a "Test" button tries.
enum Probe {
    Imap,
    Smtp,
}

/// The channel's edit page with the result of trying its IMAP or SMTP server.
async fn test_button(
    state: &AppState,
    scope: &TenantScope,
    id: i64,
    probe: Probe,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    state.rate_limits.test_button(scope.org())?;
    let existing = find(state, scope, id).await?;
    let form = ChannelForm::from_model(&existing);
    let mut page = form_page(state, scope, Some(&existing), form, vec![]).await?;
    let t = |key: &str| page.page.t(key);
    let (title, result) = match probe {
        Probe::Imap => (
            "channels.test_imap_title",
            match imap::test_channel(state, &existing).await {
                Ok(true) => Ok(()),
                Ok(false) => Err((None, t("channels.imap_not_configured").to_owned())),
                Err(p) => Err((Some(t(p.stage.label_key())), p.to_string())),
            },
        ),
        Probe::Smtp => (
            "channels.test_smtp_title",
            match smtp_check::test_channel(state, &existing).await {
                Ok(true) => Ok(()),
                Ok(false) => Err((None, t("channels.smtp_not_configured").to_owned())),
                Err(p) => Err((Some(t(p.stage.label_key())), p.to_string())),
            },
        ),
    };
    page.test = Some(test_result(&page.page, title, result));
    render(&page)
}

fn test_result(
    page: &Page,
    title: &str,
    result: Result<(), (Option<&'static str>, String)>,
) -> TestResult {
    match result {
        Ok(()) => TestResult {
            ok: true,
            title: page.t(title),
            stage: None,
            message: page.t("channels.test_ok").to_owned(),
        },
        Err((stage, message)) => TestResult {
            ok: false,
            title: page.t(title),
            stage,
            message,
        },
    }
}
