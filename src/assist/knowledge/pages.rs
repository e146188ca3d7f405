//! `/knowledge`: the agents' pages of the knowledge base — the list by category (with a search
//! box and a language filter), an article's page, and the forms creating, editing and deleting
//! articles. Agents read and write; deleting is for admins and owners. Every change is
//! audit-logged. Another organization's article ids answer 404.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::markdown;
use super::model::{self, Article, ArticleInput, Lang, Slug};
use crate::db::entity::knowledge_category as category;
use crate::orgs::TenantScope;
use crate::search::ArticleFilter;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page, render};

/// The most characters of a title and of a body.
const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 100_000;

/// A language's own name.
pub fn native_name(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "English",
        Lang::De => "Deutsch",
        Lang::Fr => "Français",
        Lang::Es => "Español",
        Lang::It => "Italiano",
        Lang::Nl => "Nederlands",
    }
}

/// The language the signed-in agent reads in, among the article languages.
fn reader_lang(scope: &TenantScope) -> Lang {
    Lang::from_code(scope.session.lang.code()).unwrap_or(Lang::En)
}

/// One line of the list.
pub struct ArticleRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub languages: String,
    pub public: bool,
    pub published: bool,
}

impl ArticleRow {
    fn of(article: &Article, lang: Option<Lang>, fallback: Lang) -> Self {
        Self {
            id: article.row.id,
            slug: article.row.slug.clone(),
            title: article
                .variant(lang, fallback)
                .map(|v| v.title.clone())
                .unwrap_or_default(),
            languages: article
                .languages()
                .iter()
                .map(|l| l.code())
                .collect::<Vec<_>>()
                .join(", "),
            public: article.row.public,
            published: article.row.published,
        }
    }
}

/// A category and its articles (`name` empty: the articles without a category).
pub struct CategoryGroup {
    pub name: String,
    pub rows: Vec<ArticleRow>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    lang: String,
}

#[derive(Template)]
#[template(path = "assist/knowledge/list.html")]
struct ListPage {
    page: Page,
    q: String,
    lang: String,
    languages: Vec<(&'static str, &'static str)>,
    groups: Vec<CategoryGroup>,
    hits: Option<Vec<ArticleRow>>,
}

pub fn language_choices() -> Vec<(&'static str, &'static str)> {
    Lang::ALL
        .into_iter()
        .map(|l| (l.code(), native_name(l)))
        .collect()
}

pub async fn list(
    state: web::Data<AppState>,
    scope: TenantScope,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let lang = model::parse_lang(&query.lang);
    let fallback = reader_lang(&scope);
    let org = scope.org();
    let articles = model::articles(&state.db, org).await?;
    let hits = if query.q.trim().is_empty() {
        None
    } else {
        let found = super::find::search(
            &state,
            org,
            &query.q,
            ArticleFilter {
                lang,
                public_only: false,
            },
        )
        .await?;
        let mut rows: Vec<ArticleRow> = Vec::new();
        for hit in found {
            if rows.iter().any(|r| r.id == hit.article_id) {
                continue;
            }
            if let Some(a) = articles.iter().find(|a| a.row.id == hit.article_id) {
                rows.push(ArticleRow::of(a, Some(hit.lang), fallback));
            }
        }
        Some(rows)
    };
    let categories = model::categories(&state.db, org).await?;
    let shown = |a: &&Article| lang.is_none_or(|l| a.languages().contains(&l));
    let mut groups: Vec<CategoryGroup> = categories
        .iter()
        .map(|c| CategoryGroup {
            name: c.name.clone(),
            rows: articles
                .iter()
                .filter(|a| a.row.category_id == Some(c.id))
                .filter(shown)
                .map(|a| ArticleRow::of(a, lang, fallback))
                .collect(),
        })
        .collect();
    let loose: Vec<ArticleRow> = articles
        .iter()
        .filter(|a| {
            a.row
                .category_id
                .is_none_or(|id| !categories.iter().any(|c| c.id == id))
        })
        .filter(shown)
        .map(|a| ArticleRow::of(a, lang, fallback))
        .collect();
    if !loose.is_empty() {
        groups.push(CategoryGroup {
            name: String::new(),
            rows: loose,
        });
    }
    render(&ListPage {
        page: Page::new(&state, &scope.session, "knowledge").await?,
        q: query.q,
        lang: lang.map(|l| l.code().to_owned()).unwrap_or_default(),
        languages: language_choices(),
        groups,
        hits,
    })
}

/// The article form as posted.
#[derive(Deserialize, Default)]
pub struct ArticleForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    category: String,
    public: Option<String>,
    published: Option<String>,
    #[serde(default)]
    language: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

impl TryFrom<&ArticleForm> for ArticleInput {
    type Error = Vec<&'static str>;

    fn try_from(form: &ArticleForm) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let slug = Slug::parse(&form.slug);
        if slug.is_none() {
            errors.push("knowledge.error.slug_invalid");
        }
        let category_id = match form.category.trim() {
            "" => Ok(None),
            id => id.parse::<i64>().map(Some),
        };
        if category_id.is_err() {
            errors.push("knowledge.error.category_unknown");
        }
        let lang = model::parse_lang(&form.language);
        if lang.is_none() {
            errors.push("knowledge.error.language_unknown");
        }
        let title = form.title.trim();
        if title.is_empty() {
            errors.push("knowledge.error.title_required");
        } else if title.chars().count() > MAX_TITLE || title.chars().any(char::is_control) {
            errors.push("knowledge.error.title_invalid");
        }
        let body = form.body.trim();
        if body.chars().count() > MAX_BODY {
            errors.push("knowledge.error.body_too_long");
        }
        match (slug, category_id, lang) {
            (Some(slug), Ok(category_id), Some(lang)) if errors.is_empty() => Ok(ArticleInput {
                slug,
                category_id,
                public: form.public.is_some(),
                published: form.published.is_some(),
                lang,
                title: title.to_owned(),
                body: body.to_owned(),
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Template)]
#[template(path = "assist/knowledge/form.html")]
struct FormPage {
    page: Page,
    /// None: a new article.
    id: Option<i64>,
    form: ArticleForm,
    categories: Vec<category::Model>,
    languages: Vec<(&'static str, &'static str)>,
    errors: Vec<&'static str>,
}

impl FormPage {
    fn action(&self) -> String {
        match self.id {
            Some(id) => paths::KNOWLEDGE_ARTICLE_EDIT.at(id),
            None => paths::KNOWLEDGE_NEW.path().to_owned(),
        }
    }

    fn category_selected(&self, id: &i64) -> bool {
        self.form.category == id.to_string()
    }
}

async fn form_page(
    state: &AppState,
    scope: &TenantScope,
    id: Option<i64>,
    form: ArticleForm,
    errors: Vec<&'static str>,
) -> Result<HttpResponse, AppError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with_status(
        &FormPage {
            page: Page::new(state, &scope.session, "knowledge").await?,
            id,
            form,
            categories: model::categories(&state.db, scope.org()).await?,
            languages: language_choices(),
            errors,
        },
        status,
    )
}

pub async fn new_form(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    let form = ArticleForm {
        language: reader_lang(&scope).code().to_owned(),
        ..Default::default()
    };
    form_page(&state, &scope, None, form, vec![]).await
}

/// Checks the form against the database too: the category is the organization's, the slug is
/// free.
async fn checked(
    state: &AppState,
    scope: &TenantScope,
    form: &ArticleForm,
    except: Option<i64>,
) -> Result<Result<ArticleInput, Vec<&'static str>>, AppError> {
    let mut errors = Vec::new();
    let input = match ArticleInput::try_from(form) {
        Ok(input) => Some(input),
        Err(found) => {
            errors = found;
            None
        }
    };
    if let Some(input) = &input {
        if model::slug_taken(&state.db, scope.org(), &input.slug, except).await? {
            errors.push("knowledge.error.slug_taken");
        }
        if let Some(id) = input.category_id
            && model::find_category(&state.db, scope.org(), id)
                .await?
                .is_none()
        {
            errors.push("knowledge.error.category_unknown");
        }
    }
    Ok(match input {
        Some(input) if errors.is_empty() => Ok(input),
        _ => Err(errors),
    })
}

pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<ArticleForm>,
) -> Result<HttpResponse, AppError> {
    let input = match checked(&state, &scope, &form, None).await? {
        Ok(input) => input,
        Err(errors) => return form_page(&state, &scope, None, form, errors).await,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let id = model::create(&txn, scope.org(), &input, Utc::now()).await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "knowledge.article_created",
            format!("article:{id}"),
            serde_json::json!({"slug": input.slug.as_str(), "language": input.lang.code(),
                "public": input.public, "published": input.published}),
        )
        .await?;
    Ok(see_other_with_flash(
        &format!(
            "{}?lang={}",
            paths::KNOWLEDGE_ARTICLE.at(id),
            input.lang.code()
        ),
        "flash.knowledge_saved",
    ))
}

#[derive(Deserialize)]
pub struct LangQuery {
    #[serde(default)]
    lang: String,
}

#[derive(Template)]
#[template(path = "assist/knowledge/article.html")]
struct ArticlePage {
    page: Page,
    article: Article,
    lang: Lang,
    title: String,
    html: String,
    category: Option<String>,
    languages: Vec<(&'static str, &'static str)>,
    help_url: Option<String>,
}

impl ArticlePage {
    fn has_language(&self, code: &&str) -> bool {
        self.article.variants.iter().any(|v| v.language == *code)
    }
}

async fn find(state: &AppState, scope: &TenantScope, id: i64) -> Result<Article, AppError> {
    model::find(&state.db, scope.org(), id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    query: web::Query<LangQuery>,
) -> Result<HttpResponse, AppError> {
    let article = find(&state, &scope, path.into_inner()).await?;
    let (lang, title, html) =
        match article.variant(model::parse_lang(&query.lang), reader_lang(&scope)) {
            Some(v) => (
                model::parse_lang(&v.language).unwrap_or(Lang::En),
                v.title.clone(),
                markdown::to_html(&v.body),
            ),
            None => (Lang::En, String::new(), String::new()),
        };
    let category = match article.row.category_id {
        Some(id) => model::find_category(&state.db, scope.org(), id)
            .await?
            .map(|c| c.name),
        None => None,
    };
    let settings = model::settings(&state.db, scope.org()).await?;
    let help_url = match (&settings.help_slug, article.is_shown_publicly()) {
        (Some(slug), true) => Some(super::help::article_url(
            &state,
            slug,
            &article.row.slug,
            lang,
        )),
        _ => None,
    };
    render(&ArticlePage {
        page: Page::new(&state, &scope.session, "knowledge").await?,
        article,
        lang,
        title,
        html,
        category,
        languages: language_choices(),
        help_url,
    })
}

pub async fn edit_form(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    query: web::Query<LangQuery>,
) -> Result<HttpResponse, AppError> {
    let article = find(&state, &scope, path.into_inner()).await?;
    let lang = model::parse_lang(&query.lang).unwrap_or_else(|| reader_lang(&scope));
    let variant = article.variants.iter().find(|v| v.language == lang.code());
    let form = ArticleForm {
        slug: article.row.slug.clone(),
        category: article
            .row
            .category_id
            .map(|c| c.to_string())
            .unwrap_or_default(),
        public: article.row.public.then(String::new),
        published: article.row.published.then(String::new),
        language: lang.code().to_owned(),
        title: variant.map(|v| v.title.clone()).unwrap_or_default(),
        body: variant.map(|v| v.body.clone()).unwrap_or_default(),
    };
    form_page(&state, &scope, Some(article.row.id), form, vec![]).await
}

pub async fn update(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<ArticleForm>,
) -> Result<HttpResponse, AppError> {
    let article = find(&state, &scope, path.into_inner()).await?;
    let id = article.row.id;
    let input = match checked(&state, &scope, &form, Some(id)).await? {
        Ok(input) => input,
        Err(errors) => return form_page(&state, &scope, Some(id), form, errors).await,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    model::update(&txn, scope.org(), id, &input, Utc::now()).await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "knowledge.article_updated",
            format!("article:{id}"),
            serde_json::json!({"slug": input.slug.as_str(), "language": input.lang.code(),
                "public": input.public, "published": input.published}),
        )
        .await?;
    Ok(see_other_with_flash(
        &format!(
            "{}?lang={}",
            paths::KNOWLEDGE_ARTICLE.at(id),
            input.lang.code()
        ),
        "flash.knowledge_saved",
    ))
}

#[derive(Template)]
#[template(path = "assist/knowledge/delete.html")]
struct DeletePage {
    page: Page,
    id: i64,
    title: String,
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let article = find(&state, &scope, path.into_inner()).await?;
    scope.require_admin()?;
    render(&DeletePage {
        page: Page::new(&state, &scope.session, "knowledge").await?,
        id: article.row.id,
        title: article
            .variant(None, reader_lang(&scope))
            .map(|v| v.title.clone())
            .unwrap_or_else(|| article.row.slug.clone()),
    })
}

pub async fn delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let article = find(&state, &scope, path.into_inner()).await?;
    scope.require_admin()?;
    let id = article.row.id;
    let txn = crate::db::begin_write(&state.db).await?;
    model::delete(&txn, scope.org(), id).await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "knowledge.article_deleted",
            format!("article:{id}"),
            serde_json::json!({"slug": article.row.slug}),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::KNOWLEDGE.path(),
        "flash.knowledge_deleted",
    ))
}
