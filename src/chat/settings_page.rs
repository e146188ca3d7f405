//! The chat channels' pages under `/settings/channels` (admins and owners): a new chat
//! channel, its settings (allowed origins, colour, greeting and labels per language, privacy
//! notice and link), the snippet to embed, and deleting it. Ids are looked up in the
//! session's organization, so another organization's channel answers 404.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::channel::{self, ChatChannel};
use super::settings::{ChatSettings, TEXT_FIELDS, Texts};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, render};

/// One language's fields of the form.
pub struct LangFields {
    pub code: &'static str,
    pub name: &'static str,
    /// (field name, label key, value).
    pub fields: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "chat/channel_form.html")]
struct ChatChannelPage {
    page: Page,
    /// The channel being edited (None: a new one).
    id: Option<i64>,
    name: String,
    origins: String,
    colour: String,
    privacy_url: String,
    answer_by_mail: bool,
    help_articles: bool,
    languages: Vec<LangFields>,
    /// The `<script>` element to put on the shop's pages.
    snippet: Option<String>,
    /// The widget's help page without JavaScript, when the articles are offered.
    help_page: Option<String>,
    errors: Vec<&'static str>,
}

impl ChatChannelPage {
    fn action(&self) -> String {
        match self.id {
            Some(id) => paths::CHAT_CHANNEL.at(id),
            None => paths::CHAT_CHANNELS.path().to_owned(),
        }
    }
}

fn languages(texts: impl Fn(Lang) -> Texts) -> Vec<LangFields> {
    Lang::ALL
        .iter()
        .map(|lang| {
            let own = texts(*lang);
            LangFields {
                code: lang.code(),
                name: lang.native_name(),
                fields: TEXT_FIELDS
                    .iter()
                    .map(|field| {
                        (
                            format!("{field}_{}", lang.code()),
                            format!("chat.field.{field}"),
                            own.get(field).to_owned(),
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

async fn page_of(
    state: &AppState,
    scope: &TenantScope,
    id: Option<i64>,
    name: &str,
    settings: &ChatSettings,
    token: Option<&str>,
    errors: Vec<&'static str>,
) -> Result<ChatChannelPage, AppError> {
    Ok(ChatChannelPage {
        page: Page::new(state, &scope.session, "channels").await?,
        id,
        name: name.to_owned(),
        origins: settings
            .origins
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        colour: settings.colour.as_str().to_owned(),
        privacy_url: settings.privacy_url.clone().unwrap_or_default(),
        answer_by_mail: settings.answer_by_mail_outside_hours,
        help_articles: settings.help_articles,
        languages: languages(|lang| settings.texts(lang)),
        snippet: token.map(|token| snippet(state, token)),
        help_page: token
            .filter(|_| settings.help_articles)
            .map(|token| state.config.base_url.join(&paths::CHAT_HELP.at(token))),
        errors,
    })
}

/// The element a shop puts on its pages.
pub fn snippet(state: &AppState, token: &str) -> String {
    format!(
        r#"<script src="{}" async></script>"#,
        state.config.base_url.join(&paths::CHAT_WIDGET.at(token))
    )
}

/// The form as typed, for showing it again after an error.
fn page_as_typed(
    page: Page,
    id: Option<i64>,
    fields: &BTreeMap<String, String>,
    snippet: Option<String>,
    errors: Vec<&'static str>,
) -> ChatChannelPage {
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    ChatChannelPage {
        page,
        id,
        name: field("name"),
        origins: field("origins"),
        colour: field("colour"),
        privacy_url: field("privacy_url"),
        answer_by_mail: !field("answer_by_mail_outside_hours").is_empty(),
        help_articles: !field("help_articles").is_empty(),
        languages: languages(|lang| {
            let mut texts = Texts::default_for(lang);
            for name in TEXT_FIELDS {
                let typed = field(&format!("{name}_{}", lang.code()));
                if !typed.trim().is_empty() {
                    texts.set(name, typed);
                }
            }
            texts
        }),
        snippet,
        help_page: None,
        errors,
    }
}

/// The channel's name, 1 to 100 characters.
fn parse_name(fields: &BTreeMap<String, String>) -> Result<String, &'static str> {
    let name = fields.get("name").map(|n| n.trim()).unwrap_or_default();
    if name.is_empty() || name.chars().count() > 100 {
        Err("chat.name_invalid")
    } else {
        Ok(name.to_owned())
    }
}

fn parse(fields: &BTreeMap<String, String>) -> Result<(String, ChatSettings), Vec<&'static str>> {
    match (parse_name(fields), ChatSettings::from_form(fields)) {
        (Ok(name), Ok(settings)) => Ok((name, settings)),
        (name, settings) => {
            let mut errors = name.err().into_iter().collect::<Vec<_>>();
            errors.extend(settings.err().unwrap_or_default());
            Err(errors)
        }
    }
}

async fn find(state: &AppState, scope: &TenantScope, id: i64) -> Result<ChatChannel, AppError> {
    channel::find(&state.db, scope.org(), id)
        .await?
        .ok_or(AppError::NotFound)
}

/// `GET /settings/channels/chat/new`.
pub async fn new_form(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let page = page_of(
        &state,
        &scope,
        None,
        "",
        &ChatSettings::default(),
        None,
        vec![],
    )
    .await?;
    render(&page)
}

/// `POST /settings/channels/chat`: creates a chat channel.
pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(fields): CsrfForm<BTreeMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let (name, settings) = match parse(&fields) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let page = Page::new(&state, &scope.session, "channels").await?;
            let page = page_as_typed(page, None, &fields, None, errors);
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let created = channel::create(
        &state.db,
        &state.sealer,
        scope.org(),
        name.clone(),
        &settings,
    )
    .await?;
    scope
        .audit(
            &state,
            "channel.created",
            format!("channel:{}", created.id),
            serde_json::json!({ "name": name, "kind": channel::KIND }),
        )
        .await?;
    Ok(see_other_with_flash(
        &paths::CHAT_CHANNEL.at(created.id),
        "flash.channel_created",
    ))
}

/// `GET /settings/channels/chat/{id}`.
pub async fn edit(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let found = find(&state, &scope, path.into_inner()).await?;
    let page = page_of(
        &state,
        &scope,
        Some(found.id),
        &found.name,
        &found.settings,
        Some(&found.token),
        vec![],
    )
    .await?;
    render(&page)
}

/// `POST /settings/channels/chat/{id}`: saves the settings.
pub async fn update(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(fields): CsrfForm<BTreeMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let found = find(&state, &scope, path.into_inner()).await?;
    let (name, settings) = match parse(&fields) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let page = Page::new(&state, &scope.session, "channels").await?;
            let snippet = Some(snippet(&state, &found.token));
            let page = page_as_typed(page, Some(found.id), &fields, snippet, errors);
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    if !channel::update(&state.db, scope.org(), found.id, name.clone(), &settings).await? {
        return Err(AppError::NotFound);
    }
    scope
        .audit(
            &state,
            "channel.updated",
            format!("channel:{}", found.id),
            serde_json::json!({
                "name": name,
                "origins": settings.origins.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
            }),
        )
        .await?;
    Ok(see_other_with_flash(
        &paths::CHAT_CHANNEL.at(found.id),
        "flash.channel_saved",
    ))
}

/// `POST /settings/channels/chat/{id}/delete`: the channel goes; its conversations stay.
pub async fn delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<crate::mail::channels::routes::DeleteForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let found = find(&state, &scope, path.into_inner()).await?;
    if !form.confirm {
        let page = page_of(
            &state,
            &scope,
            Some(found.id),
            &found.name,
            &found.settings,
            Some(&found.token),
            vec!["channels.delete_unconfirmed"],
        )
        .await?;
        return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if !crate::mail::channel::delete(&state.db, scope.org(), found.id).await? {
        return Err(AppError::NotFound);
    }
    scope
        .audit(
            &state,
            "channel.deleted",
            format!("channel:{}", found.id),
            serde_json::json!({ "name": found.name }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::CHANNELS.path(),
        "flash.channel_deleted",
    ))
}
