//! The customer page (`/customers/{id}`): the customer's addresses and conversations.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::conversation::OtherConversation;
use super::queries;
use super::triage::Status;
use crate::app::AppState;
use crate::db::entity::{conversation, customer, customer_email};
use crate::orgs::TenantScope;
use crate::web::{AppError, Page, render};

#[derive(Template)]
#[template(path = "inbox/customer.html")]
struct CustomerPage {
    page: Page,
    id: i64,
    name: String,
    emails: Vec<String>,
    conversations: Vec<OtherConversation>,
    /// retention (src/retention/hold.rs): templates/retention/legal_hold.html
    legal_hold: crate::retention::hold::LegalHoldView,
}

pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let org = scope.org();
    let found = customer::Entity::find_by_id(path.into_inner())
        .filter(customer::Column::OrganizationId.eq(org.get()))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let emails = customer_email::Entity::find()
        .select_only()
        .column(customer_email::Column::Email)
        .filter(customer_email::Column::OrganizationId.eq(org.get()))
        .filter(customer_email::Column::CustomerId.eq(found.id))
        .order_by_asc(customer_email::Column::Id)
        .into_tuple::<String>()
        .all(&state.db)
        .await?;
    let conversations = conversation::Entity::find()
        .filter(conversation::Column::OrganizationId.eq(org.get()))
        .filter(conversation::Column::CustomerId.eq(found.id))
        .order_by_desc(conversation::Column::LastActivityAt)
        .order_by_desc(conversation::Column::Id)
        .limit(200)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| OtherConversation {
            id: c.id,
            status_key: Status::key_of(&c.status),
            last_activity: queries::short_time(&c.last_activity_at),
            subject: c.subject,
        })
        .collect();
    render(&CustomerPage {
        legal_hold: crate::retention::hold::customer_view(&state.db, org, found.id).await?,
        page: Page::new(&state, &scope.session, &req, "inbox").await?,
        id: found.id,
        name: found.display_name,
        emails,
        conversations,
    })
}
