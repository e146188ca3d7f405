//! The organization's help-centre articles in the chat widget, when the channel offers them
//! (`ChatSettings::help_articles`, off by default): a search box above the chat finds the
//! public, published articles matching a word and opens one inside the widget; the chat stays
//! below it.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /chat/{token}/articles?q=…` | the matching articles `{"articles": [{slug, title, lang}]}` |
//! | `GET /chat/{token}/articles/{slug}` | one article `{slug, title, lang, text}` (plain text) |
//! | `GET /chat/{token}/help?q=…&lang=…` | the same search as a page that needs no JavaScript |
//! | `GET /chat/{token}/help/{slug}?lang=…` | an article as such a page |
//!
//! Each article is in the visitor's language where it has a variant (`?lang=` on the pages,
//! then `Accept-Language`, then the organization's default language). Internal, draft and
//! unknown articles, another organization's, and every route of a channel that does not offer
//! the articles answer 404. The JSON answers only the channel's allowed origins (as the other
//! widget endpoints); the pages are public like the help centre. No session, no cookie,
//! nothing from another host (the pages' stylesheet is Lethe's own); searches are counted
//! against the client address's chat budget and never stored or logged.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ChatError;
use super::channel::{self, ChatChannel};
use super::routes::{admit, allowed, failure, respond_error};
use crate::assist::knowledge::help::{
    ArticleLink, negotiate, public_article, public_search, variant_for,
};
use crate::assist::knowledge::model::{self, Lang};
use crate::assist::knowledge::{categories::default_language, markdown};
use crate::state::AppState;
use crate::web::AppError;
use crate::web::assets::asset_url;
use crate::web::client::ClientInfo;
use crate::web::i18n::{Lang as UiLang, Tr};
use crate::web::paths;

/// The longest query looked up, in characters (a longer one is cut).
const MAX_QUERY: usize = 200;

/// The widget's words for the articles in each interface language.
pub fn widget_texts() -> serde_json::Value {
    UiLang::ALL
        .iter()
        .map(|lang| {
            let tr = Tr::new(*lang);
            (
                lang.code().to_owned(),
                serde_json::json!({
                    "title": tr.t("chat.help.title"),
                    "search": tr.t("chat.help.search"),
                    "button": tr.t("chat.help.button"),
                    "none": tr.t("chat.help.none"),
                    "back": tr.t("chat.help.back"),
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[derive(Deserialize)]
pub struct HelpQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    lang: String,
}

impl HelpQuery {
    fn text(&self) -> String {
        self.q.trim().chars().take(MAX_QUERY).collect()
    }
}

/// The visitor's languages best first, the organization's default language last.
async fn wanted(
    state: &AppState,
    channel: &ChatChannel,
    req: &HttpRequest,
    query_lang: &str,
) -> Result<Vec<Lang>, sea_orm::DbErr> {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let mut wanted = negotiate(query_lang, accept);
    let settings = model::settings(&state.db, channel.org).await?;
    wanted.push(default_language(&settings.default_language));
    Ok(wanted)
}

fn limited(state: &AppState, req: &HttpRequest) -> Result<(), ChatError> {
    state
        .rate_limits
        .help_search(&ClientInfo::of(req))
        .map_err(|error| match error {
            AppError::TooManyRequests { retry_after_secs } => {
                ChatError::TooManyRequests { retry_after_secs }
            }
            _ => ChatError::Refused,
        })
}

fn internal(error: AppError) -> ChatError {
    match error {
        AppError::Database(error) => ChatError::Database(error),
        other => ChatError::Store(other),
    }
}

/// One article in the visitor's language: its link and Markdown body, or None when it is not
/// public and published (the help centre's own lookup).
async fn one_article(
    state: &AppState,
    channel: &ChatChannel,
    slug: &str,
    wanted: &[Lang],
) -> Result<Option<(ArticleLink, String)>, ChatError> {
    let Some(article) = public_article(&state.db, channel.org, slug).await? else {
        return Ok(None);
    };
    Ok(ArticleLink::of(&article, wanted)
        .zip(variant_for(&article, wanted))
        .map(|(link, variant)| (link, variant.body.clone())))
}

fn not_offered(origin: &str) -> HttpResponse {
    allowed(origin, StatusCode::NOT_FOUND)
        .content_type("application/json")
        .body(r#"{"error":"not_found"}"#)
}

/// `GET /chat/{token}/articles?q=…`: the matching public articles (for the widget's script).
pub async fn articles(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HelpQuery>,
) -> HttpResponse {
    let (channel, origin) = match admit(&state, &req, &path.into_inner()).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    if !channel.settings.help_articles {
        return not_offered(&origin);
    }
    let answer = async {
        limited(&state, &req)?;
        let wanted = wanted(&state, &channel, &req, &query.lang).await?;
        public_search(&state, channel.org, &query.text(), &wanted)
            .await
            .map_err(internal)
    }
    .await;
    match answer {
        Ok(found) => allowed(&origin, StatusCode::OK).json(serde_json::json!({
            "articles": found.iter().map(|a| serde_json::json!({
                "slug": a.slug,
                "title": a.title,
                "lang": a.lang,
            })).collect::<Vec<_>>(),
        })),
        Err(error) => respond_error(&origin, &error),
    }
}

/// `GET /chat/{token}/articles/{slug}`: one public article as plain text (for the script).
pub async fn article(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<HelpQuery>,
) -> HttpResponse {
    let (token, slug) = path.into_inner();
    let (channel, origin) = match admit(&state, &req, &token).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    if !channel.settings.help_articles {
        return not_offered(&origin);
    }
    let answer = async {
        limited(&state, &req)?;
        let wanted = wanted(&state, &channel, &req, &query.lang).await?;
        one_article(&state, &channel, &slug, &wanted).await
    }
    .await;
    match answer {
        Ok(Some((link, body))) => allowed(&origin, StatusCode::OK).json(serde_json::json!({
            "slug": link.slug,
            "title": link.title,
            "lang": link.lang,
            "text": markdown::to_plain_text(&body),
        })),
        Ok(None) => not_offered(&origin),
        Err(error) => respond_error(&origin, &error),
    }
}

/// An article shown on the page without JavaScript.
pub struct ShownArticle {
    pub title: String,
    pub lang: &'static str,
    pub body_html: String,
}

#[derive(Template)]
#[template(path = "chat/help.html")]
struct HelpPage {
    tr: Tr,
    lang: &'static str,
    stylesheet: String,
    token: String,
    q: String,
    /// The search's results (None: nothing searched yet).
    results: Option<Vec<ArticleLink>>,
    article: Option<ShownArticle>,
}

impl HelpPage {
    fn t(&self, key: &str) -> &'static str {
        self.tr.t(key)
    }

    fn search_action(&self) -> String {
        paths::CHAT_HELP.at(&self.token)
    }

    fn article_href(&self, slug: &str, lang: &str) -> String {
        format!(
            "{}?lang={lang}",
            paths::CHAT_HELP_ARTICLE.at(&self.token, slug)
        )
    }

    fn back(&self) -> String {
        format!("{}?lang={}", paths::CHAT_HELP.at(&self.token), self.lang)
    }
}

/// The channel of a page's token, when it offers the articles.
async fn offering(state: &AppState, token: &str) -> Result<ChatChannel, HttpResponse> {
    match channel::by_token(&state.db, token).await {
        Ok(Some(channel)) if channel.settings.help_articles => Ok(channel),
        Ok(_) => Err(HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Not found")),
        Err(error) => Err(failure(&ChatError::from(error))),
    }
}

/// The page, a 404 (None), or the error's answer.
fn page_answer(page: Result<Option<HelpPage>, ChatError>) -> HttpResponse {
    let rendered = page.and_then(|p| {
        p.map(|p| p.render())
            .transpose()
            .map_err(|e| internal(AppError::from(e)))
    });
    match rendered {
        Ok(Some(body)) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(body),
        Ok(None) => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Not found"),
        Err(error @ ChatError::TooManyRequests { .. }) => HttpResponse::TooManyRequests()
            .content_type("text/plain; charset=utf-8")
            .body(error.to_string()),
        Err(error) => failure(&error),
    }
}

fn page_of(token: String, wanted: &[Lang], shown: &'static str) -> HelpPage {
    let ui = UiLang::from_code(shown)
        .or_else(|| wanted.iter().find_map(|l| UiLang::from_code(l.code())))
        .unwrap_or(UiLang::En);
    HelpPage {
        tr: Tr::new(ui),
        lang: shown,
        stylesheet: asset_url("css/help.css"),
        token,
        q: String::new(),
        results: None,
        article: None,
    }
}

/// `GET /chat/{token}/help?q=…`: the search box and, after a search, its results.
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HelpQuery>,
) -> HttpResponse {
    let channel = match offering(&state, &path.into_inner()).await {
        Ok(channel) => channel,
        Err(refused) => return refused,
    };
    let answer = async {
        let wanted = wanted(&state, &channel, &req, &query.lang).await?;
        let mut page = page_of(channel.token.clone(), &wanted, wanted[0].code());
        let q = query.text();
        if !q.is_empty() {
            limited(&state, &req)?;
            page.results = Some(
                public_search(&state, channel.org, &q, &wanted)
                    .await
                    .map_err(internal)?,
            );
        }
        page.q = q;
        Ok(Some(page))
    }
    .await;
    page_answer(answer)
}

/// `GET /chat/{token}/help/{slug}`: a public article.
pub async fn article_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<HelpQuery>,
) -> HttpResponse {
    let (token, slug) = path.into_inner();
    let channel = match offering(&state, &token).await {
        Ok(channel) => channel,
        Err(refused) => return refused,
    };
    let answer = async {
        let wanted = wanted(&state, &channel, &req, &query.lang).await?;
        let Some((link, body)) = one_article(&state, &channel, &slug, &wanted).await? else {
            return Ok(None);
        };
        let mut page = page_of(channel.token.clone(), &wanted, link.lang);
        page.article = Some(ShownArticle {
            title: link.title,
            lang: link.lang,
            body_html: markdown::to_html(&body),
        });
        Ok(Some(page))
    }
    .await;
    page_answer(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_query_is_cut() {
        let query = HelpQuery {
            q: format!("  {}  ", "a".repeat(500)),
            lang: String::new(),
        };
        assert_eq!(query.text().chars().count(), MAX_QUERY);
    }
}
