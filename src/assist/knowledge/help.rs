//! The public help centre of an organization at `/help/{slug}`: its categories with their
//! public, published articles, each article at `/help/{slug}/articles/{article-slug}`, and a
//! search at `/help/{slug}/search?q=`. Server-rendered, no sign-in, no session and no cookie
//! (the session middleware skips `/help/`), nothing from another host, printable (the print
//! stylesheet hides the navigation). Each page speaks the visitor's language where an article
//! variant exists — `?lang=` first, then `Accept-Language`, then the organization's default —
//! and links to the article's other languages. Internal, draft and unknown articles, and
//! unknown help centres, answer 404. Searches are rate-limited by client address.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::categories::default_language;
use super::markdown;
use super::model::{self, Article, Lang};
use super::pages::native_name;
use crate::db::entity::knowledge_variant;
use crate::orgs::OrgId;
use crate::search::ArticleFilter;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::i18n::{Lang as UiLang, Tr};
use crate::web::paths;
use crate::web::{AppError, assets::asset_url};

/// The public URL of an article's variant.
pub fn article_url(state: &AppState, help_slug: &str, article_slug: &str, lang: Lang) -> String {
    state.config.base_url.join(&format!(
        "{}?lang={}",
        paths::HELP_ARTICLE.at(help_slug, article_slug),
        lang.code()
    ))
}

/// The visitor's languages among the article languages, best first: `?lang=`, then the
/// `Accept-Language` entries by quality (their order for equal qualities).
pub(crate) fn negotiate(query_lang: &str, accept: Option<&str>) -> Vec<Lang> {
    let mut ranked: Vec<(f32, Lang)> = Vec::new();
    if let Some(lang) = model::parse_lang(query_lang) {
        ranked.push((f32::INFINITY, lang));
    }
    for part in accept.unwrap_or_default().split(',') {
        let mut pieces = part.trim().split(';');
        let tag = pieces
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let quality = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or_default();
        if let Some(lang) = Lang::from_code(primary)
            && quality > 0.0
            && !ranked.iter().any(|(_, l)| *l == lang)
        {
            ranked.push((quality, lang));
        }
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.into_iter().map(|(_, l)| l).collect()
}

/// The variant of `article` in the first of `wanted` it has, else its first.
pub(crate) fn variant_for<'a>(
    article: &'a Article,
    wanted: &[Lang],
) -> Option<&'a knowledge_variant::Model> {
    wanted
        .iter()
        .find_map(|l| article.variants.iter().find(|v| v.language == l.code()))
        .or_else(|| article.variants.first())
}

/// What every help-centre page shares.
pub struct HelpContext {
    pub tr: Tr,
    /// The language the page speaks (the visitor's first, else the default).
    pub lang: Lang,
    /// The visitor's languages best first, the help centre's default language last.
    wanted: Vec<Lang>,
    pub slug: String,
    pub title: String,
    pub stylesheet: String,
}

impl HelpContext {
    pub fn t(&self, key: &str) -> &'static str {
        self.tr.t(key)
    }

    fn home(&self) -> String {
        format!(
            "{}?lang={}",
            paths::HELP_HOME.at(&self.slug),
            self.lang.code()
        )
    }

    fn search_action(&self) -> String {
        paths::HELP_SEARCH.at(&self.slug)
    }

    fn article_href(&self, article_slug: &str, lang: &str) -> String {
        format!(
            "{}?lang={lang}",
            paths::HELP_ARTICLE.at(&self.slug, article_slug)
        )
    }
}

struct Centre {
    org: OrgId,
    ctx: HelpContext,
}

#[derive(Deserialize)]
pub struct HelpQuery {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    q: String,
}

async fn centre(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
    query_lang: &str,
) -> Result<Centre, AppError> {
    let settings = model::by_help_slug(&state.db, slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let mut wanted = negotiate(query_lang, accept);
    wanted.push(default_language(&settings.default_language));
    let lang = wanted[0];
    let ui = UiLang::from_code(lang.code()).unwrap_or_else(|| UiLang::from_accept_language(accept));
    let title = if settings.help_title.is_empty() {
        slug.to_owned()
    } else {
        settings.help_title.clone()
    };
    Ok(Centre {
        org: settings.organization_id,
        ctx: HelpContext {
            tr: Tr::new(ui),
            lang,
            wanted,
            slug: slug.to_owned(),
            title,
            stylesheet: asset_url("css/help.css"),
        },
    })
}

/// An article as a list shows it.
pub struct ArticleLink {
    pub slug: String,
    pub title: String,
    pub lang: &'static str,
}

impl ArticleLink {
    pub(crate) fn of(article: &Article, wanted: &[Lang]) -> Option<Self> {
        let variant = variant_for(article, wanted)?;
        Some(Self {
            slug: article.row.slug.clone(),
            title: variant.title.clone(),
            lang: model::parse_lang(&variant.language)?.code(),
        })
    }
}

pub struct CategoryLinks {
    pub name: String,
    pub articles: Vec<ArticleLink>,
}

#[derive(Template)]
#[template(path = "assist/help/home.html")]
struct HomePage {
    help: HelpContext,
    categories: Vec<CategoryLinks>,
    q: String,
    results: Option<Vec<ArticleLink>>,
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        // The language follows Accept-Language: a shared cache keeps one answer per language.
        .insert_header((header::VARY, "Accept-Language"))
        .body(body)
}

/// The article `slug` of `org` when it is public and published (the help centre's article
/// page and the chat widget's).
pub(crate) async fn public_article(
    db: &sea_orm::DatabaseConnection,
    org: OrgId,
    slug: &str,
) -> Result<Option<Article>, sea_orm::DbErr> {
    Ok(model::find_by_slug(db, org, slug)
        .await?
        .filter(Article::is_shown_publicly))
}

async fn public_articles(state: &AppState, org: OrgId) -> Result<Vec<Article>, AppError> {
    Ok(model::articles(&state.db, org)
        .await?
        .into_iter()
        .filter(Article::is_shown_publicly)
        .collect())
}

pub async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HelpQuery>,
) -> Result<HttpResponse, AppError> {
    let centre = centre(&state, &req, &path, &query.lang).await?;
    let articles = public_articles(&state, centre.org).await?;
    let categories = model::categories(&state.db, centre.org).await?;
    let links = |category: Option<i64>| -> Vec<ArticleLink> {
        articles
            .iter()
            .filter(|a| match category {
                Some(id) => a.row.category_id == Some(id),
                None => a
                    .row
                    .category_id
                    .is_none_or(|id| !categories.iter().any(|c| c.id == id)),
            })
            .filter_map(|a| ArticleLink::of(a, &centre.ctx.wanted))
            .collect()
    };
    let mut groups: Vec<CategoryLinks> = categories
        .iter()
        .map(|c| CategoryLinks {
            name: c.name.clone(),
            articles: links(Some(c.id)),
        })
        .filter(|g| !g.articles.is_empty())
        .collect();
    let loose = links(None);
    if !loose.is_empty() {
        groups.push(CategoryLinks {
            name: String::new(),
            articles: loose,
        });
    }
    let page = HomePage {
        help: centre.ctx,
        categories: groups,
        q: String::new(),
        results: None,
    };
    Ok(html(page.render()?))
}

pub async fn search(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HelpQuery>,
) -> Result<HttpResponse, AppError> {
    let centre = centre(&state, &req, &path, &query.lang).await?;
    state.rate_limits.help_search(&ClientInfo::of(&req))?;
    let results = public_search(&state, centre.org, &query.q, &centre.ctx.wanted).await?;
    let page = HomePage {
        help: centre.ctx,
        categories: Vec::new(),
        q: query.q.clone(),
        results: Some(results),
    };
    Ok(html(page.render()?))
}

/// The public, published articles matching `q`, each once, in the visitor's language where it
/// has one (the help centre's search and the chat widget's).
pub async fn public_search(
    state: &std::sync::Arc<AppState>,
    org: OrgId,
    q: &str,
    wanted: &[Lang],
) -> Result<Vec<ArticleLink>, AppError> {
    let hits = super::find::search(
        state,
        org,
        q,
        ArticleFilter {
            lang: None,
            public_only: true,
        },
    )
    .await?;
    let articles = public_articles(state, org).await?;
    let mut out: Vec<ArticleLink> = Vec::new();
    let mut seen: Vec<i64> = Vec::new();
    for hit in hits {
        if seen.contains(&hit.article_id) {
            continue;
        }
        seen.push(hit.article_id);
        if let Some(link) = articles
            .iter()
            .find(|a| a.row.id == hit.article_id)
            .and_then(|a| ArticleLink::of(a, wanted))
        {
            out.push(link);
        }
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "assist/help/article.html")]
struct ArticlePage {
    help: HelpContext,
    title: String,
    body_html: String,
    /// The article's languages: code, name, and whether it is the one shown.
    others: Vec<(&'static str, &'static str)>,
    shown: &'static str,
    article_slug: String,
}

pub async fn article(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<HelpQuery>,
) -> Result<HttpResponse, AppError> {
    let (slug, article_slug) = path.into_inner();
    let centre = centre(&state, &req, &slug, &query.lang).await?;
    let article = public_article(&state.db, centre.org, &article_slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let variant = variant_for(&article, &centre.ctx.wanted).ok_or(AppError::NotFound)?;
    let shown = model::parse_lang(&variant.language)
        .unwrap_or(centre.ctx.lang)
        .code();
    let page = ArticlePage {
        title: variant.title.clone(),
        body_html: markdown::to_html(&variant.body),
        others: article
            .languages()
            .into_iter()
            .map(|l| (l.code(), native_name(l)))
            .collect(),
        shown,
        article_slug: article.row.slug.clone(),
        help: HelpContext {
            // The page speaks the language of the text it shows.
            tr: Tr::new(UiLang::from_code(shown).unwrap_or(centre.ctx.tr.lang)),
            ..centre.ctx
        },
    };
    Ok(html(page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_then_the_best_accepted_language() {
        assert_eq!(negotiate("nl", Some("de")), [Lang::Nl, Lang::De]);
        assert_eq!(
            negotiate("", Some("pl, fr-CH;q=0.8, de;q=0.9")),
            [Lang::De, Lang::Fr]
        );
        assert!(negotiate("xx", Some("pl")).is_empty());
        assert!(negotiate("", None).is_empty());
    }
}
