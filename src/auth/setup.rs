//! First start: with no users, `lethe serve` prints a one-time link that creates the first
//! owner and organization. `/setup/{token}` is that link's page: the form, and its post.

use std::sync::Mutex;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::users;
use crate::audit::Entry;
use crate::crypto::{random_token, sha256_hex};
use crate::mail::EmailAddress;
use crate::orgs::queries as orgs;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Visitor, render};

/// The digest of the one-time setup token, while setup is open.
#[derive(Default)]
pub struct SetupToken {
    digest: Mutex<Option<String>>,
}

impl SetupToken {
    /// Opens setup and returns the token to print.
    pub fn open(&self) -> String {
        let token = random_token();
        *self.lock() = Some(sha256_hex(&token));
        token
    }

    pub fn matches(&self, token: &str) -> bool {
        self.lock().as_deref() == Some(sha256_hex(token).as_str())
    }

    pub fn close(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.digest.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    page: Page,
    token: String,
    form: SetupForm,
    errors: Vec<&'static str>,
}

#[derive(Deserialize, Default, Clone)]
pub struct SetupForm {
    organization: String,
    display_name: String,
    email: String,
    password: String,
    password_confirm: String,
}

pub async fn setup_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    if !state.setup.matches(&token) || users::count(&state.db).await? > 0 {
        return Err(AppError::NotFound);
    }
    let page = Page::new(&state, &visitor.0, "setup").await?;
    render(&SetupPage {
        page,
        token: token.into_inner(),
        form: SetupForm::default(),
        errors: vec![],
    })
}

pub async fn setup(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<SetupForm>,
) -> Result<HttpResponse, AppError> {
    if !state.setup.matches(&token) || users::count(&state.db).await? > 0 {
        return Err(AppError::NotFound);
    }
    let mut errors = Vec::new();
    let org_name = orgs::OrgName::parse(&form.organization)
        .map_err(|e| errors.push(e))
        .ok();
    let display_name = users::parse_display_name(&form.display_name)
        .map_err(|e| errors.push(e))
        .ok();
    let email = EmailAddress::parse(&form.email)
        .map_err(|_| errors.push("form.email_invalid"))
        .ok();
    let same = form.password == form.password_confirm;
    let personal = [
        form.email.as_str(),
        form.display_name.as_str(),
        form.organization.as_str(),
    ];
    let password = users::NewPassword::confirmed(&form.password, same, &personal, &mut errors);
    let (Some(org_name), Some(display_name), Some(email), Some(password), true) =
        (org_name, display_name, email, password, errors.is_empty())
    else {
        let page = Page::new(&state, &visitor.0, "setup").await?;
        let form = SetupForm {
            password: String::new(),
            password_confirm: String::new(),
            ..form
        };
        return render_with_status(
            &SetupPage {
                page,
                token: token.into_inner(),
                form,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let founds = orgs::Joining::Founds(&org_name);
    let (user, org) = orgs::create_user_in(&txn, &email, &password, &display_name, founds).await?;
    txn.commit().await?;
    state.setup.close();
    visitor
        .0
        .start_authenticated(&state, user.id, Some(org))
        .await?;
    let target = format!("organization:{org}");
    let entry = Entry::by_user(
        Some(org),
        (user.id, user.email.clone()),
        "setup.completed",
        target,
        &client,
    );
    state.audit.record(&state.db, entry).await?;
    tracing::info!(organization = %org, "first owner and organization created");
    Ok(see_other_with_flash(paths::INBOX.path(), "flash.welcome"))
}
