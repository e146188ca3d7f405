//! Saved views: an inbox filter (status, assignee, channel, tag, SLA state, text query) with a
//! name, its creator's own or shared with the team. Shared views are for every agent of the
//! organization to use; only their creator or an admin changes or deletes them. Each view is
//! a folder of the inbox's sidebar with a count, kept live like the others (`GET
//! /inbox/counts` gives `view-<id>`).
//!
//! - `POST /inbox/views` — "Save this view" under the list: the current filters;
//! - `GET /inbox/views/{id}`, `POST /inbox/views/{id}` — rename, share or unshare;
//! - `POST /inbox/views/{id}/delete`.
//!
//! Counts: a view without a text query is one `COUNT(*)` over the same conditions as the list
//! (at most [`MAX_VIEWS`] views a person sees), reused by everyone who sees the view until
//! something changes in the organization (or for two seconds, as the other folders' counts);
//! a view with one counts its matches in the
//! search index, of which the newest [`crate::api::v1::conversations::MAX_TEXT_MATCHES`]
//! (1000) are considered, so its count is at most that.
//!
//! A text query is written by an agent and may name a customer (`from:anna@…`): erasing a
//! customer, or retention deleting them, deletes the views whose query holds one of their
//! addresses ([`forget_customers`], called by `crate::records`); a member who leaves takes
//! their private views along ([`forget_user`]).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Deserialize;

use super::folders::{Folder, ViewKey};
use super::list::{Assignee, Filter, ListQuery};
use crate::db::InOrg;
use crate::db::entity::{customer_email, saved_view};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{Page, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, render};

/// The most views one person sees (their own and the shared ones), and may create.
pub const MAX_VIEWS: u64 = 30;
/// The longest name.
const MAX_NAME_CHARS: usize = 80;

/// A view's name: trimmed, 1 to 80 characters.
fn parse_name(value: &str) -> Result<String, &'static str> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err("views.error.name");
    }
    Ok(name.to_owned())
}

/// The filter a stored query string stands for (unknown parts are dropped).
pub fn filter_of(query: &str) -> Filter {
    let parsed: ListQuery = serde_urlencoded::from_str(query).unwrap_or_default();
    Filter::from(&parsed)
}

/// The views `user_id` sees in `org`: their own and the shared ones, by name.
pub async fn visible(
    db: &impl ConnectionTrait,
    org: OrgId,
    user_id: i64,
) -> Result<Vec<saved_view::Model>, DbErr> {
    saved_view::Entity::find_in(org)
        .filter(
            Condition::any()
                .add(saved_view::Column::UserId.eq(user_id))
                .add(saved_view::Column::Shared.eq(true)),
        )
        .order_by_asc(saved_view::Column::Name)
        .order_by_asc(saved_view::Column::Id)
        .paginate(db, MAX_VIEWS)
        .fetch_page(0)
        .await
}

/// The count of each view `scope`'s member sees, by folder key (`view-<id>`).
pub async fn counts(
    state: &AppState,
    scope: &TenantScope,
    hidden_customers: &[i64],
) -> Result<BTreeMap<String, i64>, AppError> {
    let views = visible(&state.db, scope.org(), scope.user_id()).await?;
    let mut out = BTreeMap::new();
    for view in &views {
        out.insert(
            format!("view-{}", view.id),
            count(state, scope, hidden_customers, view).await?,
        );
    }
    Ok(out)
}

/// How many conversations `view` holds for `scope`'s member, reused from the organization's
/// [`CountCache`](super::folders::CountCache) while nothing changed (a team loading the inbox
/// all day does not count each view on each page).
async fn count(
    state: &AppState,
    scope: &TenantScope,
    hidden_customers: &[i64],
    view: &saved_view::Model,
) -> Result<i64, AppError> {
    let org = scope.org();
    let mut filter = filter_of(&view.query);
    let key = ViewKey {
        org,
        view_id: view.id,
        query: view.query.clone(),
        hidden: hidden_customers.to_vec(),
        reader: if filter.assignee == Assignee::Mine {
            scope.user_id()
        } else {
            0
        },
    };
    let cache = &state.events.folder_counts;
    if let Some(n) = cache.view_count(&key) {
        return Ok(n);
    }
    filter.hidden_customers = hidden_customers.to_vec();
    if let Some(q) = &filter.q {
        // A query the index refuses counts nothing rather than failing the page.
        filter.only = Some(
            crate::api::v1::conversations::matching(state, org, q)
                .await
                .unwrap_or_default(),
        );
    }
    let n = super::list::filtered(org, scope.user_id(), &filter, Utc::now())
        .count(&state.db)
        .await?;
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    cache.put_view_count(key, n);
    Ok(n)
}

/// The sidebar's folders for the views, `current` marked.
pub async fn folders(
    state: &AppState,
    scope: &TenantScope,
    hidden_customers: &[i64],
    current: Option<i64>,
) -> Result<Vec<Folder>, AppError> {
    let views = visible(&state.db, scope.org(), scope.user_id()).await?;
    let mut out = Vec::with_capacity(views.len());
    for view in views {
        let count = count(state, scope, hidden_customers, &view).await?;
        out.push(Folder {
            count: Some(count),
            key: format!("view-{}", view.id),
            label_key: None,
            href: format!("{}?{}&view={}", paths::INBOX, view.query, view.id),
            current: current == Some(view.id),
            edit_href: Some(paths::SAVED_VIEW.at(view.id)),
            name: view.name,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    shared: Option<String>,
    /// The list's filters as its query string.
    #[serde(default)]
    query: String,
}

pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<HttpResponse, AppError> {
    let org = scope.org();
    let name = parse_name(&form.name).map_err(AppError::BadRequest)?;
    let filter = filter_of(&form.query);
    if filter.q.as_ref().is_some_and(|q| q.chars().count() > 500) {
        return Err(AppError::BadRequest("api.error.query_too_long"));
    }
    let own = saved_view::Entity::find_in(org)
        .filter(saved_view::Column::UserId.eq(scope.user_id()))
        .count(&state.db)
        .await?;
    if own >= MAX_VIEWS {
        return Err(AppError::BadRequest("views.error.too_many"));
    }
    let view = saved_view::ActiveModel {
        organization_id: Set(org),
        user_id: Set(scope.user_id()),
        name: Set(name),
        shared: Set(form.shared.is_some()),
        // Canonical: the list's own serialization, without a cursor.
        query: Set(filter.query_string(None)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    Ok(see_other_with_flash(
        &format!("{}?{}&view={}", paths::INBOX, view.query, view.id),
        "flash.view_saved",
    ))
}

/// A view `scope`'s member may change: their own, or a shared one for admins. Another's
/// private view is "not found"; another's shared view, for an agent, forbidden.
async fn editable(
    state: &AppState,
    scope: &TenantScope,
    id: i64,
) -> Result<saved_view::Model, AppError> {
    let view = saved_view::Entity::find_by_id_in(scope.org(), id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    if view.user_id == scope.user_id() {
        return Ok(view);
    }
    if !view.shared {
        return Err(AppError::NotFound);
    }
    if scope.role().is_admin() {
        Ok(view)
    } else {
        Err(AppError::Forbidden)
    }
}

#[derive(Template)]
#[template(path = "inbox/view_edit.html")]
struct EditPage {
    page: Page,
    view: saved_view::Model,
}

pub async fn edit(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let view = editable(&state, &scope, path.into_inner()).await?;
    render(&EditPage {
        page: Page::new(&state, &scope.session, "inbox").await?,
        view,
    })
}

#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    shared: Option<String>,
}

pub async fn update(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<UpdateForm>,
) -> Result<HttpResponse, AppError> {
    let view = editable(&state, &scope, path.into_inner()).await?;
    let name = parse_name(&form.name).map_err(AppError::BadRequest)?;
    let id = view.id;
    let mut active: saved_view::ActiveModel = view.into();
    active.name = Set(name);
    active.shared = Set(form.shared.is_some());
    active.update(&state.db).await?;
    Ok(see_other_with_flash(
        &paths::SAVED_VIEW.at(id),
        "flash.view_updated",
    ))
}

pub async fn delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let view = editable(&state, &scope, path.into_inner()).await?;
    saved_view::Entity::delete_in(scope.org())
        .filter(saved_view::Column::Id.eq(view.id))
        .exec(&state.db)
        .await?;
    Ok(see_other_with_flash(
        paths::INBOX.path(),
        "flash.view_deleted",
    ))
}

/// Deleting customers (erasure, retention, replay: `crate::records`): deletes the views of
/// `org` whose text query holds an address of one of `customers` (compared without case); the
/// number deleted. Called before the addresses go.
pub async fn forget_customers(
    db: &impl ConnectionTrait,
    org: OrgId,
    customers: &[i64],
) -> Result<u64, DbErr> {
    let addresses: Vec<String> = customer_email::Entity::lookup_in(org)
        .select_only()
        .column(customer_email::Column::Email)
        .filter(customer_email::Column::CustomerId.is_in(customers.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    if addresses.is_empty() {
        return Ok(0);
    }
    let mut gone = Vec::new();
    for view in saved_view::Entity::find_in(org).all(db).await? {
        let Some(q) = filter_of(&view.query).q else {
            continue;
        };
        let q = q.to_lowercase();
        if addresses
            .iter()
            .any(|a| !a.is_empty() && q.contains(&a.to_lowercase()))
        {
            gone.push(view.id);
        }
    }
    if gone.is_empty() {
        return Ok(0);
    }
    crate::records::delete_rows_in::<saved_view::Entity>(db, org, saved_view::Column::Id, &gone)
        .await
}

/// A member leaves: their private views go with them (shared ones stay the team's).
pub async fn forget_user(
    db: &impl ConnectionTrait,
    org: OrgId,
    user_id: i64,
) -> Result<u64, DbErr> {
    Ok(saved_view::Entity::delete_in(org)
        .filter(saved_view::Column::UserId.eq(user_id))
        .filter(saved_view::Column::Shared.eq(false))
        .exec(db)
        .await?
        .rows_affected)
}
