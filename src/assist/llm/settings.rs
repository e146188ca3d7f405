//! `/settings/assist` (admins): the organization's language model — an OpenAI-compatible
//! base URL, the model's name, its key (sealed under the instance key, never shown again;
//! a blank field keeps it) — and the switch, off until an admin turns it on. *Test* asks the
//! endpoint for its models with what the form holds; nothing of a customer is sent. A form
//! with a mistake is shown again with what is wrong, and nothing changes. Every change is
//! audit-logged, never with the key.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use serde::Deserialize;

use super::client::{Endpoint, ModelUrl};
use crate::crypto::Sealer;
use crate::db::InOrg;
use crate::db::entity::assist_model;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::checkbox;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page};

/// The seal's context: a sealed key opens only as a model key.
const KEY_CONTEXT: &str = "assist_model.api_key";
/// The longest model name accepted.
const MAX_MODEL_CHARS: usize = 200;
/// The longest key accepted.
const MAX_KEY_CHARS: usize = 500;

/// The organization's saved endpoint, if any.
pub async fn of(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Option<assist_model::Model>, DbErr> {
    assist_model::Entity::find_in(org).one(db).await
}

/// The endpoint to call when the model is switched on, its key opened.
pub async fn enabled_endpoint(state: &AppState, org: OrgId) -> Result<Option<Endpoint>, AppError> {
    let Some(saved) = of(&state.db, org).await?.filter(|m| m.enabled) else {
        return Ok(None);
    };
    Ok(Some(endpoint_of(&state.sealer, &saved)?))
}

fn endpoint_of(sealer: &Sealer, saved: &assist_model::Model) -> Result<Endpoint, AppError> {
    let url = ModelUrl::parse(&saved.base_url)
        .map_err(|key| AppError::Internal(format!("stored model URL: {key}")))?;
    let key = saved
        .api_key
        .as_deref()
        .map(|sealed| sealer.open_text(sealed, KEY_CONTEXT))
        .transpose()
        .map_err(|e| AppError::Internal(format!("model key: {e}")))?;
    Ok(Endpoint {
        url,
        model: saved.model.clone(),
        key,
    })
}

#[derive(Deserialize, Default, Clone)]
pub struct ModelForm {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    api_key: String,
    #[serde(default, deserialize_with = "checkbox")]
    remove_key: bool,
    #[serde(default, deserialize_with = "checkbox")]
    enabled: bool,
}

/// What the form holds, checked.
struct Checked {
    url: ModelUrl,
    model: String,
    /// `None`: keep the saved key; `Some(None)`: remove it; `Some(Some(k))`: a new one.
    key: Option<Option<String>>,
    enabled: bool,
}

impl ModelForm {
    fn of(saved: &assist_model::Model) -> Self {
        Self {
            base_url: saved.base_url.clone(),
            model: saved.model.clone(),
            api_key: String::new(),
            remove_key: false,
            enabled: saved.enabled,
        }
    }

    fn check(&self) -> Result<Checked, &'static str> {
        let url = ModelUrl::parse(&self.base_url)?;
        let model = self.model.trim();
        if model.is_empty() {
            return Err("assist.llm.error.model_required");
        }
        if model.chars().count() > MAX_MODEL_CHARS || model.chars().any(char::is_control) {
            return Err("assist.llm.error.model_invalid");
        }
        let key = self.api_key.trim();
        if key.chars().count() > MAX_KEY_CHARS || key.chars().any(char::is_control) {
            return Err("assist.llm.error.key_invalid");
        }
        let key = match (self.remove_key, key.is_empty()) {
            (true, _) => Some(None),
            (false, true) => None,
            (false, false) => Some(Some(key.to_owned())),
        };
        Ok(Checked {
            url,
            model: model.to_owned(),
            key,
            enabled: self.enabled,
        })
    }
}

#[derive(Template)]
#[template(path = "assist/llm/settings.html")]
struct SettingsPage {
    page: Page,
    form: ModelForm,
    has_key: bool,
    error: Option<&'static str>,
    /// The test's answer: (passed, translation key).
    tested: Option<(bool, &'static str)>,
    /// Suggestions: off, shadow or shown (src/assist/suggest/settings.rs).
    suggestions: crate::assist::suggest::Mode,
}

impl SettingsPage {
    fn modes(&self) -> [crate::assist::suggest::Mode; 3] {
        crate::assist::suggest::Mode::ALL
    }
}

async fn render(
    state: &AppState,
    scope: &TenantScope,
    form: Option<ModelForm>,
    error: Option<&'static str>,
    tested: Option<(bool, &'static str)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let saved = of(&state.db, scope.org()).await?;
    let page = SettingsPage {
        page: Page::new(state, &scope.session, "organization").await?,
        has_key: saved.as_ref().is_some_and(|s| s.api_key.is_some()),
        form: form.unwrap_or_else(|| saved.as_ref().map(ModelForm::of).unwrap_or_default()),
        error,
        tested,
        suggestions: crate::assist::suggest::settings::mode(&state.db, scope.org()).await?,
    };
    render_with_status(&page, status)
}

/// `GET /settings/assist`.
pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render(&state, &scope, None, None, None, StatusCode::OK).await
}

/// `POST /settings/assist`: saves the endpoint and the switch.
pub async fn save(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<ModelForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let checked = match form.check() {
        Ok(checked) => checked,
        Err(error) => {
            return render(
                &state,
                &scope,
                Some(form),
                Some(error),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let saved = of(&state.db, scope.org()).await?;
    let api_key = match &checked.key {
        None => saved.as_ref().and_then(|s| s.api_key.clone()),
        Some(None) => None,
        Some(Some(key)) => Some(state.sealer.seal_text(key, KEY_CONTEXT)),
    };
    let row = assist_model::ActiveModel {
        organization_id: Set(scope.org()),
        base_url: Set(checked.url.as_str().to_owned()),
        model: Set(checked.model.clone()),
        api_key: Set(api_key.clone()),
        enabled: Set(checked.enabled),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    match saved {
        Some(existing) => {
            let mut row = row;
            row.id = Set(existing.id);
            assist_model::Entity::update(row).exec(&state.db).await?;
        }
        None => {
            assist_model::Entity::insert(row).exec(&state.db).await?;
        }
    }
    scope
        .audit(
            &state,
            "assist.model_saved",
            "assist:model",
            serde_json::json!({
                "base_url": checked.url.as_str(),
                "model": checked.model,
                "enabled": checked.enabled,
                "key": match checked.key {
                    None => "kept",
                    Some(None) => "removed",
                    Some(Some(_)) => "replaced",
                },
                "has_key": api_key.is_some(),
            }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::ASSIST_SETTINGS.path(),
        "flash.assist_model_saved",
    ))
}

/// `POST /settings/assist/test`: asks the endpoint the form names for its models.
pub async fn test(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<ModelForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let checked = match form.check() {
        Ok(checked) => checked,
        Err(error) => {
            return render(
                &state,
                &scope,
                Some(form),
                Some(error),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let key = match checked.key {
        Some(key) => key,
        None => match of(&state.db, scope.org()).await? {
            Some(saved) => endpoint_of(&state.sealer, &saved)?.key,
            None => None,
        },
    };
    let endpoint = Endpoint {
        url: checked.url,
        model: checked.model,
        key,
    };
    let tested = match endpoint.test(state.config.egress()).await {
        Ok(true) => (true, "assist.llm.tested.ok"),
        Ok(false) => (false, "assist.llm.tested.model_missing"),
        Err(error) => (false, error.key()),
    };
    render(
        &state,
        &scope,
        Some(form),
        None,
        Some(tested),
        StatusCode::OK,
    )
    .await
}
