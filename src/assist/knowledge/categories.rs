//! `/knowledge/categories`: the admins' page of the knowledge base — its categories (create,
//! delete; a deleted category's articles stay, without a category) and the help centre's
//! settings (slug, title, default language; `POST /knowledge/settings`). Audit-logged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::model::{self, Lang, Slug};
use super::pages::language_choices;
use crate::db::entity::knowledge_category as category;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page};

#[derive(Deserialize, Default)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    position: String,
}

#[derive(Deserialize, Default)]
pub struct SettingsForm {
    #[serde(default)]
    help_slug: String,
    #[serde(default)]
    help_title: String,
    #[serde(default)]
    default_language: String,
}

#[derive(Template)]
#[template(path = "assist/knowledge/categories.html")]
struct CategoriesPage {
    page: Page,
    categories: Vec<category::Model>,
    category: CategoryForm,
    settings: SettingsForm,
    languages: Vec<(&'static str, &'static str)>,
    help_url: Option<String>,
    errors: Vec<&'static str>,
}

async fn render_page(
    state: &AppState,
    scope: &TenantScope,
    category: CategoryForm,
    settings: Option<SettingsForm>,
    errors: Vec<&'static str>,
) -> Result<HttpResponse, AppError> {
    let saved = model::settings(&state.db, scope.org()).await?;
    let help_url = saved
        .help_slug
        .as_deref()
        .map(|slug| state.config.base_url.join(&paths::HELP_HOME.at(slug)));
    let settings = settings.unwrap_or(SettingsForm {
        help_slug: saved.help_slug.unwrap_or_default(),
        help_title: saved.help_title,
        default_language: saved.default_language,
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with_status(
        &CategoriesPage {
            page: Page::new(state, &scope.session, "knowledge").await?,
            categories: model::categories(&state.db, scope.org()).await?,
            category,
            settings,
            languages: language_choices(),
            help_url,
            errors,
        },
        status,
    )
}

pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render_page(&state, &scope, CategoryForm::default(), None, vec![]).await
}

pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<CategoryForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let name = form.name.trim().to_owned();
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push("knowledge.error.name_required");
    } else if name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push("knowledge.error.name_invalid");
    } else if model::categories(&state.db, scope.org())
        .await?
        .iter()
        .any(|c| c.name == name)
    {
        errors.push("knowledge.error.name_taken");
    }
    let position = match form.position.trim() {
        "" => Some(0),
        p => p.parse::<i32>().ok().filter(|p| (0..=10_000).contains(p)),
    };
    if position.is_none() {
        errors.push("knowledge.error.position_invalid");
    }
    let Some(position) = position.filter(|_| errors.is_empty()) else {
        return render_page(&state, &scope, form, None, errors).await;
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let created = model::create_category(&txn, scope.org(), &name, position).await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "knowledge.category_created",
            format!("knowledge_category:{}", created.id),
            serde_json::json!({"name": name}),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::KNOWLEDGE_CATEGORIES.path(),
        "flash.knowledge_saved",
    ))
}

pub async fn delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let found = model::find_category(&state.db, scope.org(), path.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    scope.require_admin()?;
    let txn = crate::db::begin_write(&state.db).await?;
    model::delete_category(&txn, scope.org(), found.id).await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "knowledge.category_deleted",
            format!("knowledge_category:{}", found.id),
            serde_json::json!({"name": found.name}),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::KNOWLEDGE_CATEGORIES.path(),
        "flash.knowledge_deleted",
    ))
}

pub async fn save_settings(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let mut errors = Vec::new();
    let slug = match form.help_slug.trim() {
        "" => Ok(None),
        s => Slug::parse(s)
            .map(Some)
            .ok_or("knowledge.error.help_slug_invalid"),
    };
    match &slug {
        Err(e) => errors.push(*e),
        Ok(Some(s)) if model::help_slug_taken(&state.db, scope.org(), s).await? => {
            errors.push("knowledge.error.help_slug_taken")
        }
        Ok(_) => {}
    }
    let title = form.help_title.trim().to_owned();
    if title.chars().count() > 100 || title.chars().any(char::is_control) {
        errors.push("knowledge.error.help_title_invalid");
    }
    let lang = model::parse_lang(&form.default_language);
    if lang.is_none() {
        errors.push("knowledge.error.language_unknown");
    }
    let (Ok(slug), Some(lang), true) = (slug, lang, errors.is_empty()) else {
        return render_page(&state, &scope, CategoryForm::default(), Some(form), errors).await;
    };
    let txn = crate::db::begin_write(&state.db).await?;
    model::save_settings(&txn, scope.org(), slug.as_ref(), &title, lang).await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "knowledge.help_centre_updated",
            format!("organization:{}", scope.org()),
            serde_json::json!({"slug": slug.as_ref().map(Slug::as_str), "default_language": lang.code()}),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::KNOWLEDGE_CATEGORIES.path(),
        "flash.knowledge_saved",
    ))
}

/// The default language of a help centre, as stored.
pub fn default_language(code: &str) -> Lang {
    model::parse_lang(code).unwrap_or(Lang::En)
}
