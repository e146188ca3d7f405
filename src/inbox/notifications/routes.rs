//! The pages of notifications: `GET /notifications` (the list: what happened, in which
//! conversation, by whom, when), `POST /notifications/{id}/read`, `POST /notifications/read`
//! (all), `GET /notifications/count` (JSON, for the bell after a missed live event) and the
//! mail preferences of `/account` (`POST /account/notifications`). Plain forms: all of it
//! works without JavaScript.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};

use super::mail::{Preferences, PreferencesForm};
use super::{Kind, store};
use crate::db::InOrg;
use crate::db::entity::{conversation, membership};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{Page, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, Authenticated, CsrfForm, render};

/// The list shows the newest this many.
const SHOWN: u64 = 100;

/// One line of the list.
pub struct NotificationView {
    pub id: i64,
    /// The translated sentence ("Bea assigned a conversation to you").
    pub line: String,
    pub conversation_id: i64,
    /// Joined now, never stored with the notification.
    pub subject: String,
    pub at: String,
    pub at_iso: String,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "inbox/notifications.html")]
struct NotificationsPage {
    page: Page,
    items: Vec<NotificationView>,
}

pub async fn list(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    let org = scope.org();
    let rows = store::newest(&state.db, org, scope.user_id(), SHOWN).await?;
    let conversation_ids: Vec<i64> = rows.iter().map(|n| n.conversation_id).collect();
    // A restricted customer's conversations are hidden from agents, as in the inbox.
    let hidden = if scope.role().is_admin() {
        Vec::new()
    } else {
        crate::privacy::restrict::restricted_customer_ids(&state.db, org).await?
    };
    let subjects: HashMap<i64, String> = if conversation_ids.is_empty() {
        HashMap::new()
    } else {
        conversation::Entity::lookup_in(org)
            .select_only()
            .column(conversation::Column::Id)
            .column(conversation::Column::Subject)
            .column(conversation::Column::CustomerId)
            .filter(conversation::Column::Id.is_in(conversation_ids))
            .into_tuple::<(i64, String, i64)>()
            .all(&state.db)
            .await?
            .into_iter()
            .filter(|(_, _, customer)| !hidden.contains(customer))
            .map(|(id, subject, _)| (id, subject))
            .collect()
    };
    let hidden_conversation = |id: i64| !hidden.is_empty() && !subjects.contains_key(&id);
    // Actors by name only while they are members: someone who left is "a former member".
    let mut actor_ids: Vec<i64> = rows.iter().filter_map(|n| n.actor_id).collect();
    actor_ids.sort_unstable();
    actor_ids.dedup();
    let members: Vec<i64> = if actor_ids.is_empty() {
        Vec::new()
    } else {
        membership::Entity::find_in(org)
            .select_only()
            .column(membership::Column::UserId)
            .filter(membership::Column::UserId.is_in(actor_ids))
            .into_tuple()
            .all(&state.db)
            .await?
    };
    let names = crate::inbox::queries::user_names(&state.db, members).await?;
    let page = Page::new(&state, &scope.session, "notifications").await?;
    let items = rows
        .into_iter()
        .filter(|n| !hidden_conversation(n.conversation_id))
        .filter_map(|n| {
            let kind = Kind::parse(&n.kind)?;
            let actor = match n.actor_id {
                None => page.t("notifications.customer").to_owned(),
                Some(id) => names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| page.t("notifications.former_member").to_owned()),
            };
            let subject = subjects
                .get(&n.conversation_id)
                .filter(|s| !s.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| page.t("search.no_subject").to_owned());
            Some(NotificationView {
                id: n.id,
                line: page.tf(kind.line_key(), &[("actor", actor.as_str())]),
                conversation_id: n.conversation_id,
                subject,
                at: crate::inbox::queries::short_time(&n.created_at),
                at_iso: n.created_at.to_rfc3339(),
                unread: n.read_at.is_none(),
            })
        })
        .collect();
    render(&NotificationsPage { page, items })
}

pub async fn mark_one_read(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let org = scope.org();
    let found = crate::db::entity::notification::Entity::find_by_id_in(org, id)
        .filter(crate::db::entity::notification::Column::UserId.eq(scope.user_id()))
        .one(&state.db)
        .await?;
    if found.is_none() {
        return Err(AppError::NotFound);
    }
    store::mark_read(&state.db, org, scope.user_id(), Some(id), Utc::now()).await?;
    super::publish_count(&state, org, scope.user_id()).await;
    Ok(see_other_with_flash(
        paths::NOTIFICATIONS.path(),
        "flash.notification_read",
    ))
}

pub async fn mark_all_read(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let org = scope.org();
    store::mark_read(&state.db, org, scope.user_id(), None, Utc::now()).await?;
    super::publish_count(&state, org, scope.user_id()).await;
    Ok(see_other_with_flash(
        paths::NOTIFICATIONS.path(),
        "flash.notifications_read",
    ))
}

/// `{"unread": N}` for the bell.
pub async fn count(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    let unread = store::unread_count(&state.db, scope.org(), scope.user_id()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "unread": unread })))
}

/// `POST /account/notifications`: which kinds also come by mail.
pub async fn save_preferences(
    state: web::Data<AppState>,
    auth: Authenticated,
    CsrfForm(form): CsrfForm<PreferencesForm>,
) -> Result<HttpResponse, AppError> {
    super::mail::save(&state.db, auth.user.id, Preferences::from(form)).await?;
    Ok(see_other_with_flash(paths::ACCOUNT.path(), "flash.saved"))
}
