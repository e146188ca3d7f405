//! `/orgs/new`: the form that creates another organization (its creator becomes the owner),
//! and `/orgs/switch`, which the organization switcher in every page's header posts to.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::queries::{self, OrgName};
use crate::audit::Entry;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, Authenticated, CsrfForm, render};

#[derive(Template)]
#[template(path = "orgs/new.html")]
struct NewOrgPage {
    page: Page,
    name: String,
    error: Option<&'static str>,
}

pub async fn new_org_form(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, AppError> {
    let page = Page::new(&state, &auth.session, "orgs").await?;
    render(&NewOrgPage {
        page,
        name: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct NewOrgForm {
    name: String,
}

pub async fn create_org(
    state: web::Data<AppState>,
    auth: Authenticated,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<NewOrgForm>,
) -> Result<HttpResponse, AppError> {
    let name = match OrgName::parse(&form.name) {
        Ok(name) if queries::name_taken(&state.db, &name).await? => Err("form.org_name_taken"),
        other => other,
    };
    let name = match name {
        Ok(name) => name,
        Err(error) => {
            let page = Page::new(&state, &auth.session, "orgs").await?;
            return render_with_status(
                &NewOrgPage {
                    page,
                    name: form.name,
                    error: Some(error),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let org = queries::create_organization(&txn, &name, auth.user.id).await?;
    txn.commit().await?;
    auth.session.set_organization(&state, org).await?;
    let target = format!("organization:{org}");
    let entry = Entry::by_user(
        Some(org),
        (auth.user.id, auth.user.email.clone()),
        "organization.created",
        target,
        &client,
    );
    state.audit.record(&state.db, entry).await?;
    Ok(see_other_with_flash(
        paths::INBOX.path(),
        "flash.org_created",
    ))
}

#[derive(Deserialize)]
pub struct SwitchForm {
    organization: i64,
}

pub async fn switch(
    state: web::Data<AppState>,
    auth: Authenticated,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> Result<HttpResponse, AppError> {
    // The requested id is only a wish: the membership decides.
    let Some(org) = queries::membership_org(&state.db, form.organization, auth.user.id).await?
    else {
        return Err(AppError::NotFound);
    };
    auth.session.set_organization(&state, org).await?;
    Ok(see_other_with_flash(paths::INBOX.path(), "flash.switched"))
}
