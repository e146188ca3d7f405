//! Knowledge articles in a reply, without JavaScript: the conversation page's search form
//! (`GET /conversations/{id}/knowledge?q=`) lists matching articles with an *Insert link*
//! (the help-centre URL, for a public published article when the help centre is set up) and
//! an *Insert text* button (the Markdown as plain text); each posts here, appends to the
//! agent's draft of the conversation (src/inbox/drafts.rs) and redirects back to the reply box.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::markdown;
use super::model::{self, Lang};
use super::pages::native_name;
use crate::inbox::drafts;
use crate::inbox::queries;
use crate::orgs::TenantScope;
use crate::search::ArticleFilter;
use crate::state::AppState;
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page, render, see_other};

#[derive(Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    q: String,
}

/// One result: the article's variant, and whether a public link can be inserted.
pub struct Found {
    pub article_id: i64,
    pub lang: &'static str,
    pub lang_name: &'static str,
    pub title: String,
    pub linkable: bool,
}

#[derive(Template)]
#[template(path = "assist/knowledge/insert.html")]
struct FindPage {
    page: Page,
    conversation_id: i64,
    subject: String,
    q: String,
    found: Vec<Found>,
}

pub async fn find(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    query: web::Query<FindQuery>,
) -> Result<HttpResponse, AppError> {
    let conversation =
        queries::changeable_conversation(&state.db, scope.org(), path.into_inner()).await?;
    let settings = model::settings(&state.db, scope.org()).await?;
    let hits = super::find::search(&state, scope.org(), &query.q, ArticleFilter::default()).await?;
    let mut found = Vec::new();
    for hit in hits {
        let Some(article) = model::find(&state.db, scope.org(), hit.article_id).await? else {
            continue;
        };
        let Some(variant) = article
            .variants
            .iter()
            .find(|v| v.language == hit.lang.code())
        else {
            continue;
        };
        found.push(Found {
            article_id: article.row.id,
            lang: hit.lang.code(),
            lang_name: native_name(hit.lang),
            title: variant.title.clone(),
            linkable: settings.help_slug.is_some() && article.is_shown_publicly(),
        });
    }
    render(&FindPage {
        page: Page::new(&state, &scope.session, "inbox").await?,
        conversation_id: conversation.id,
        subject: conversation.subject,
        q: query.into_inner().q,
        found,
    })
}

#[derive(Deserialize)]
pub struct InsertForm {
    article: i64,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    mode: String,
}

pub async fn insert(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<InsertForm>,
) -> Result<HttpResponse, AppError> {
    let org = scope.org();
    let conversation = queries::changeable_conversation(&state.db, org, path.into_inner()).await?;
    let article = model::find(&state.db, org, form.article)
        .await?
        .ok_or(AppError::NotFound)?;
    let lang = model::parse_lang(&form.lang).unwrap_or(Lang::En);
    let variant = article
        .variants
        .iter()
        .find(|v| v.language == lang.code())
        .ok_or(AppError::NotFound)?;
    let addition = match form.mode.as_str() {
        "link" => {
            let settings = model::settings(&state.db, org).await?;
            match (settings.help_slug, article.is_shown_publicly()) {
                (Some(slug), true) => format!(
                    "{}: {}",
                    variant.title,
                    super::help::article_url(&state, &slug, &article.row.slug, lang)
                ),
                _ => return Err(AppError::BadRequest("knowledge.error.no_public_link")),
            }
        }
        "text" => {
            let text = markdown::to_plain_text(&variant.body);
            format!("{}\n\n{}", variant.title, text)
        }
        _ => return Err(AppError::BadRequest("error.bad_form")),
    };
    drafts::append(
        &state.db,
        org,
        conversation.id,
        scope.user_id(),
        &addition,
        Utc::now(),
    )
    .await?;
    Ok(see_other(&format!(
        "{}?flash=flash.knowledge_inserted#reply",
        paths::CONVERSATION.at(conversation.id)
    )))
}
