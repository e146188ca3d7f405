//! `/settings/privacy`: admins set the purposes of processing and their legal bases
//! (src/privacy/purposes.rs) that every customer export gives. One form lists the purposes
//! with a text field and a checkbox per legal basis, plus empty rows to add more; a row left
//! empty is dropped. A form with a mistake changes nothing and is shown again as typed, each
//! mistake named with its row. Saving and going back to the defaults are audit-logged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::purposes::{self, LegalBasis, MAX_PURPOSES, Purpose, PurposeText, Purposes};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::i18n::Tr;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, render};

/// Empty rows offered below the saved purposes.
const SPARE_ROWS: usize = 2;

/// One row of the form, as shown (saved, or as typed).
pub struct Row {
    pub text: String,
    pub bases: Vec<String>,
}

impl Row {
    fn blank() -> Self {
        Row {
            text: String::new(),
            bases: Vec::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "privacy/settings.html")]
struct PrivacySettingsPage {
    page: Page,
    rows: Vec<Row>,
    defaults: bool,
    /// Translated, each naming its row.
    errors: Vec<String>,
}

/// A legal basis as a row shows it.
pub struct Choice {
    pub name: &'static str,
    pub label_key: &'static str,
    pub checked: bool,
}

impl Row {
    /// Every legal basis, ticked where the row names it.
    fn choices(&self) -> Vec<Choice> {
        LegalBasis::ALL
            .into_iter()
            .map(|basis| Choice {
                name: basis.name(),
                label_key: basis.label_key(),
                checked: self.bases.iter().any(|b| b == basis.name()),
            })
            .collect()
    }
}

fn rows_of(purposes: &Purposes, tr: Tr) -> Vec<Row> {
    let mut rows: Vec<Row> = purposes
        .iter()
        .map(|p| Row {
            text: p.text().in_language(tr),
            bases: p.bases().iter().map(|b| b.name().to_owned()).collect(),
        })
        .collect();
    let spare = SPARE_ROWS.min(MAX_PURPOSES.saturating_sub(rows.len()));
    rows.extend((0..spare).map(|_| Row::blank()));
    rows
}

async fn settings_page(
    state: &AppState,
    scope: &TenantScope,
    shown: Option<Vec<Row>>,
    errors: Vec<String>,
) -> Result<PrivacySettingsPage, AppError> {
    let page = Page::new(state, &scope.session, "privacy").await?;
    let (saved, defaults) = purposes::load(&state.db, scope.org()).await?;
    let rows = shown.unwrap_or_else(|| rows_of(&saved, Tr::new(scope.session.lang)));
    Ok(PrivacySettingsPage {
        page,
        rows,
        defaults,
        errors,
    })
}

/// `GET /settings/privacy` (admins).
pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render(&settings_page(&state, &scope, None, Vec::new()).await?)
}

/// The form's rows (`purpose_N`, and `basis_N` once per ticked basis), in order.
fn typed_rows(fields: &[(String, String)]) -> Result<Vec<Row>, AppError> {
    let mut rows: Vec<Row> = Vec::new();
    for (name, value) in fields {
        let (is_text, index) = match (name.strip_prefix("purpose_"), name.strip_prefix("basis_")) {
            (Some(n), _) => (true, n),
            (_, Some(n)) => (false, n),
            _ => continue,
        };
        let index: usize = index
            .parse()
            .ok()
            .filter(|i| *i < MAX_PURPOSES + SPARE_ROWS)
            .ok_or(AppError::BadRequest("error.bad_form"))?;
        if rows.len() <= index {
            rows.resize_with(index + 1, Row::blank);
        }
        if is_text {
            rows[index].text = value.clone();
        } else {
            rows[index].bases.push(value.clone());
        }
    }
    Ok(rows)
}

/// The list the rows make, or every mistake, each naming its row.
fn parse_rows(rows: &[Row], tr: Tr) -> Result<Purposes, Vec<String>> {
    let mut purposes = Vec::new();
    let mut errors = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let n = (index + 1).to_string();
        let named = |key: &str| tr.tf(key, &[("row", n.as_str())]);
        let bases: Option<Vec<LegalBasis>> =
            row.bases.iter().map(|b| LegalBasis::parse(b)).collect();
        let Some(bases) = bases else {
            errors.push(named("privacy.purposes.error.unknown_basis"));
            continue;
        };
        match PurposeText::parse(&row.text) {
            Err(key) => errors.push(named(key)),
            Ok(None) if !bases.is_empty() => {
                errors.push(named("privacy.purposes.error.basis_without_purpose"))
            }
            Ok(None) => {}
            Ok(Some(text)) => match Purpose::new(text, bases) {
                Ok(purpose) => purposes.push(purpose),
                Err(key) => errors.push(named(key)),
            },
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Purposes::new(purposes).map_err(|key| vec![tr.t(key).to_owned()])
}

/// `POST /settings/privacy/purposes` (admins): saves the list.
pub async fn save(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let rows = typed_rows(&fields)?;
    let chosen = match parse_rows(&rows, Tr::new(scope.session.lang)) {
        Ok(chosen) => chosen,
        Err(errors) => {
            let page = settings_page(&state, &scope, Some(rows), errors).await?;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    purposes::save(&state.db, scope.org(), &chosen).await?;
    let bases: Vec<&str> = chosen.bases().iter().map(|b| b.name()).collect();
    scope
        .audit(
            &state,
            "privacy.purposes_changed",
            "privacy_settings".to_owned(),
            serde_json::json!({ "purposes": chosen.len(), "legal_bases": bases }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::PRIVACY_SETTINGS.path(),
        "flash.purposes_saved",
    ))
}

/// `POST /settings/privacy/purposes/defaults` (admins): back to Lethe's defaults.
pub async fn restore_defaults(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    purposes::reset(&state.db, scope.org()).await?;
    scope
        .audit(
            &state,
            "privacy.purposes_reset",
            "privacy_settings".to_owned(),
            serde_json::json!({}),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::PRIVACY_SETTINGS.path(),
        "flash.purposes_reset",
    ))
}
