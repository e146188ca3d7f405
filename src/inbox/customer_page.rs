//! The customer page (`/customers/{id}`): the customer record (name, email addresses, phone,
//! postal address), their conversations and objections, the banners for a restriction of
//! processing and a legal hold, and for admins the data subject rights: export, erase,
//! rectify, restrict, record an objection, merge a duplicate record, legal hold
//! (handlers in `src/privacy/` and `src/retention/hold.rs`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};

use super::conversation::OtherConversation;
use super::customers::{self, PostalAddress};
use crate::db::InOrg;
use crate::db::entity::{conversation, customer_email};
use crate::orgs::TenantScope;
use crate::privacy::objection::{self, InForce, ObjectionView};
use crate::privacy::restrict::Restriction;
use crate::state::AppState;
use crate::web::page::render_with_status;
use crate::web::{AppError, Page};

#[derive(Template)]
#[template(path = "inbox/customer.html")]
struct CustomerPage {
    page: Page,
    id: i64,
    name: String,
    emails: Vec<customer_email::Model>,
    phone: String,
    postal_address: String,
    restriction: Option<Restriction>,
    /// retention (src/retention/hold.rs): templates/retention/legal_hold.html
    legal_hold: crate::retention::hold::LegalHoldView,
    /// False for agents while the customer is restricted: the banner instead of the list.
    show_conversations: bool,
    conversations: Vec<OtherConversation>,
    objections: Vec<ObjectionView>,
    /// The objection in force (src/privacy/objection.rs), if any.
    objection_in_force: Option<InForce>,
    /// An open access request whose requester is not verified: the export form asks for an
    /// override reason (src/privacy/verify.rs).
    access_unverified: bool,
    /// Who accessed this record (admins; src/audit/access.rs), newest first.
    entries: Vec<crate::audit::access::EntryView>,
    /// Choices of the objection form.
    objection_effects: [objection::Effect; 3],
    /// A mistake in the rectification form (translation key).
    error: Option<&'static str>,
    today: String,
}

impl CustomerPage {
    fn postal_lines(&self) -> Vec<&str> {
        PostalAddress::lines(&self.postal_address).collect()
    }
}

async fn load(
    state: &AppState,
    scope: &TenantScope,
    customer_id: i64,
    error: Option<&'static str>,
) -> Result<CustomerPage, AppError> {
    let org = scope.org();
    let found = customers::find(&state.db, org, customer_id).await?;
    let emails = customers::emails(&state.db, org, found.id).await?;
    let restriction = Restriction::of(&found);
    let objection_in_force = InForce::of(&found);
    let show_conversations = restriction.is_none() || scope.role().is_admin();
    let conversations = if show_conversations {
        conversation::Entity::lookup_in(org)
            .filter(conversation::Column::CustomerId.eq(found.id))
            .order_by_desc(conversation::Column::LastActivityAt)
            .order_by_desc(conversation::Column::Id)
            .limit(200)
            .all(&state.db)
            .await?
            .into_iter()
            .map(OtherConversation::from)
            .collect()
    } else {
        Vec::new()
    };
    Ok(CustomerPage {
        page: Page::new(state, &scope.session, "inbox").await?,
        id: found.id,
        name: found.display_name,
        emails,
        phone: found.phone.unwrap_or_default(),
        postal_address: found.postal_address.unwrap_or_default(),
        restriction,
        legal_hold: crate::retention::hold::customer_view(&state.db, org, found.id).await?,
        show_conversations,
        conversations,
        objections: objection::of_customer(&state.db, org, found.id).await?,
        objection_in_force,
        access_unverified: crate::privacy::verify::needs_override(
            &state.db,
            org,
            found.id,
            crate::privacy::requests::Kind::Access,
        )
        .await?,
        objection_effects: objection::Effect::ALL,
        entries: if scope.role().is_admin() {
            crate::audit::access::of_customer(&state.db, org, found.id, 100).await?
        } else {
            Vec::new()
        },
        error,
        today: chrono::Utc::now().format("%Y-%m-%d").to_string(),
    })
}

pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let page = load(&state, &scope, path.into_inner(), None).await?;
    state.access.opened(
        &scope,
        crate::audit::access::Kind::Customer,
        Some(page.id),
        None,
    );
    render_with_status(&page, StatusCode::OK)
}

/// The page again with a mistake of the rectification form (nothing was changed).
pub async fn render_with_error(
    state: &AppState,
    scope: &TenantScope,
    customer_id: i64,
    error: &'static str,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = load(state, scope, customer_id, Some(error)).await?;
    render_with_status(&page, status)
}
