//! Canned replies: texts an admin prepares once (`/settings/canned-replies`) and agents insert
//! into the reply box, with `{customer_first_name}`, `{customer_name}`, `{agent_name}` and
//! `{ticket}` filled in.
//!
//! Pages: `/settings/canned-replies` (the list, and its form creating one),
//! `/settings/canned-replies/{id}` (edit) and `POST /settings/canned-replies/{id}/delete`.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use regex::{Captures, Regex};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, Set};
use serde::Deserialize;

use crate::db::InOrg;
use crate::db::entity::canned_reply;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page, render};

/// The organization's canned replies, by title.
pub async fn all(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<canned_reply::Model>, AppError> {
    Ok(canned_reply::Entity::find_in(org)
        .order_by_asc(canned_reply::Column::Title)
        .all(db)
        .await?)
}

/// One of the organization's canned replies; any other id is "not found".
pub async fn find(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<canned_reply::Model, AppError> {
    canned_reply::Entity::find_by_id_in(org, id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// What the placeholders stand for.
pub struct Placeholders<'a> {
    pub customer_name: &'a str,
    pub agent_name: &'a str,
    pub ticket: &'a str,
}

static PLACEHOLDER: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\{(customer_first_name|customer_name|agent_name|ticket)\}").ok());

/// Fills the placeholders in one pass, so a name containing `{…}` is not expanded again.
pub fn fill(body: &str, values: &Placeholders<'_>) -> String {
    let Some(pattern) = PLACEHOLDER.as_ref() else {
        return body.to_owned();
    };
    let first_name = values
        .customer_name
        .split_whitespace()
        .next()
        .unwrap_or_default();
    pattern
        .replace_all(body, |c: &Captures<'_>| match &c[1] {
            "customer_first_name" => first_name.to_owned(),
            "customer_name" => values.customer_name.to_owned(),
            "agent_name" => values.agent_name.to_owned(),
            _ => values.ticket.to_owned(),
        })
        .into_owned()
}

/// A checked title and body.
pub struct CannedInput {
    title: String,
    body: String,
}

#[derive(Deserialize)]
pub struct CannedForm {
    title: String,
    body: String,
}

impl TryFrom<&CannedForm> for CannedInput {
    type Error = Vec<&'static str>;

    fn try_from(form: &CannedForm) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let title = form.title.trim();
        if title.is_empty() {
            errors.push("canned.title_required");
        } else if title.chars().count() > 100 || title.chars().any(char::is_control) {
            errors.push("canned.title_invalid");
        }
        let body = form.body.trim();
        if body.is_empty() {
            errors.push("canned.body_required");
        } else if body.chars().count() > 20_000 {
            errors.push("canned.body_invalid");
        }
        if errors.is_empty() {
            Ok(Self {
                title: title.to_owned(),
                body: body.to_owned(),
            })
        } else {
            Err(errors)
        }
    }
}

#[derive(Template)]
#[template(path = "inbox/canned_replies.html")]
struct CannedListPage {
    page: Page,
    replies: Vec<canned_reply::Model>,
    title: String,
    body: String,
    errors: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "inbox/canned_reply_edit.html")]
struct CannedEditPage {
    page: Page,
    id: i64,
    title: String,
    body: String,
    errors: Vec<&'static str>,
}

async fn list_page(
    state: &AppState,
    scope: &TenantScope,
    title: String,
    body: String,
    errors: Vec<&'static str>,
) -> Result<CannedListPage, AppError> {
    Ok(CannedListPage {
        page: Page::new(state, &scope.session, "canned").await?,
        replies: all(&state.db, scope.org()).await?,
        title,
        body,
        errors,
    })
}

pub async fn list(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render(&list_page(&state, &scope, String::new(), String::new(), vec![]).await?)
}

pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<CannedForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let input = match CannedInput::try_from(&form) {
        Ok(input) => input,
        Err(errors) => {
            let page = list_page(&state, &scope, form.title, form.body, errors).await?;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    canned_reply::ActiveModel {
        organization_id: Set(scope.org()),
        title: Set(input.title),
        body: Set(input.body),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    Ok(see_other_with_flash(
        paths::CANNED_REPLIES.path(),
        "flash.canned_saved",
    ))
}

pub async fn edit(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    // Another organization's id is "not found" before anything else is said about it.
    let reply = find(&state.db, scope.org(), path.into_inner()).await?;
    scope.require_admin()?;
    render(&CannedEditPage {
        page: Page::new(&state, &scope.session, "canned").await?,
        id: reply.id,
        title: reply.title,
        body: reply.body,
        errors: vec![],
    })
}

pub async fn update(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<CannedForm>,
) -> Result<HttpResponse, AppError> {
    let reply = find(&state.db, scope.org(), path.into_inner()).await?;
    scope.require_admin()?;
    let input = match CannedInput::try_from(&form) {
        Ok(input) => input,
        Err(errors) => {
            let page = CannedEditPage {
                page: Page::new(&state, &scope.session, "canned").await?,
                id: reply.id,
                title: form.title,
                body: form.body,
                errors,
            };
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    canned_reply::Entity::update_in(scope.org())
        .col_expr(canned_reply::Column::Title, input.title.into())
        .col_expr(canned_reply::Column::Body, input.body.into())
        .filter(canned_reply::Column::Id.eq(reply.id))
        .exec(&state.db)
        .await?;
    Ok(see_other_with_flash(
        paths::CANNED_REPLIES.path(),
        "flash.canned_saved",
    ))
}

pub async fn delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let reply = find(&state.db, scope.org(), path.into_inner()).await?;
    scope.require_admin()?;
    canned_reply::Entity::delete_in(scope.org())
        .filter(canned_reply::Column::Id.eq(reply.id))
        .exec(&state.db)
        .await?;
    Ok(see_other_with_flash(
        paths::CANNED_REPLIES.path(),
        "flash.canned_deleted",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once() {
        let values = Placeholders {
            customer_name: "Anna {ticket} Berg",
            agent_name: "Max",
            ticket: "AB12CD",
        };
        assert_eq!(
            fill(
                "Hi {customer_first_name}, {customer_name} / {agent_name} [#{ticket}] {other}",
                &values
            ),
            "Hi Anna, Anna {ticket} Berg / Max [#AB12CD] {other}"
        );
    }
}
