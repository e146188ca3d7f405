//! The panel's buttons that put an order into the reply: its tracking links, or its summary.
//! Without JavaScript the button posts here, the text is appended to the agent's saved draft
//! (src/inbox/drafts.rs) and the page comes back with it in the reply box;
//! `assets/js/orders.js` inserts the same text (the button's `data-text`) at the cursor
//! instead. This is the one way order data reaches the database: as text an agent chose to
//! put into a reply.
//!
//! Form: `POST /conversations/{id}/orders/insert` (`connector`, `order`, `what`).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::model::Order;
use super::{panel, store};
use crate::inbox::drafts;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// What a button inserts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    Tracking,
    Summary,
}

impl What {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "tracking" => Some(What::Tracking),
            "summary" => Some(What::Summary),
            _ => None,
        }
    }

    /// The text inserted for `order` (empty: nothing to insert).
    pub fn text_of(self, order: &Order) -> String {
        match self {
            What::Tracking => order.tracking_text(),
            What::Summary => order.summary(),
        }
    }
}

#[derive(Deserialize)]
pub struct InsertForm {
    connector: i64,
    order: String,
    what: String,
}

/// Appends `text` to the agent's draft (or starts one addressed as a reply would be).
async fn append_to_draft(
    state: &AppState,
    scope: &TenantScope,
    conversation_id: i64,
    text: &str,
) -> Result<(), AppError> {
    drafts::append(
        &state.db,
        scope.org(),
        conversation_id,
        scope.user_id(),
        text,
        Utc::now(),
    )
    .await
}

/// `POST /conversations/{id}/orders/insert`.
pub async fn insert(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<InsertForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let org = scope.org();
    let conversation = crate::inbox::queries::conversation(&state.db, org, id).await?;
    crate::privacy::restrict::refuse_if_restricted(&state.db, org, id).await?;
    // An objection to processing stops it as a restriction does.
    if crate::privacy::objection::content_withheld(&state.db, org, conversation.customer_id).await?
    {
        return Err(AppError::BadRequest("privacy.restrict.refused"));
    }
    let what = What::parse(&form.what).ok_or(AppError::BadRequest("orders.insert_invalid"))?;
    let connectors = store::list(&state.db, org).await?;
    let fetched =
        panel::customer_orders(&state, org, conversation.customer_id, &connectors).await?;
    let text = fetched
        .iter()
        .filter(|f| f.connector_id == form.connector)
        .filter_map(|f| f.result.as_ref().ok())
        .flatten()
        .find(|o| o.number == form.order.trim())
        .map(|o| what.text_of(o))
        .ok_or(AppError::NotFound)?;
    if text.trim().is_empty() {
        return Err(AppError::BadRequest("orders.nothing_to_insert"));
    }
    append_to_draft(&state, &scope, id, &text).await?;
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(id),
        "flash.order_inserted",
    ))
}
