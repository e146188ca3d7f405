//! The suggestions on the conversation page ([`view`]) and *Insert*:
//! `POST /conversations/{id}/assist/suggestions/{suggestion}/insert` appends the text to the
//! agent's draft and goes back to the reply box (no JavaScript needed).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};

use super::compute::{self, Fill};
use super::settings::{self, Mode};
use super::store;
use crate::db::InOrg;
use crate::db::entity::{assist_suggestion, conversation, message};
use crate::inbox::drafts;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// What the page shows: the suggestions for the newest customer message, when shown.
pub struct SuggestionsView {
    pub items: Vec<assist_suggestion::Model>,
}

/// The suggestions for the conversation's newest customer message — computed and kept once,
/// the first time the page opens after it arrived (an empty result too) — or None when the
/// organization keeps them off or in shadow mode, or the customer's data may not be processed.
///
/// `withheld` is [`crate::privacy::objection::assist_withheld`] of the conversation's
/// customer, which the caller has read.
pub async fn view(
    state: &AppState,
    scope: &TenantScope,
    conversation: &conversation::Model,
    customer_name: &str,
    withheld: bool,
) -> Result<Option<SuggestionsView>, AppError> {
    let db = &state.db;
    let org = scope.org();
    if withheld {
        return Ok(None);
    }
    let mode = settings::mode(db, org).await?;
    if mode == Mode::Off {
        return Ok(None);
    }
    let Some(newest) = message::Entity::lookup_in(org)
        .filter(message::Column::ConversationId.eq(conversation.id))
        .filter(message::Column::Direction.eq("inbound"))
        .filter(message::Column::Kind.is_not_in(["auto_reply", "bounce"]))
        .order_by_desc(message::Column::CreatedAt)
        .order_by_desc(message::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let mut items = store::of_message(db, org, conversation.id, newest.id).await?;
    // Computed once per message: a kept set, or the remembered fact that none was found.
    if items.is_empty() && !store::computed(db, org, conversation.id, newest.id).await? {
        let agent = scope
            .session
            .user
            .as_ref()
            .map(|u| u.display_name.clone())
            .unwrap_or_default();
        let order = compute::order_number(&format!("{}\n{}", newest.subject, newest.text_body));
        let fill = Fill {
            customer_name,
            agent_name: &agent,
            ticket: &conversation.token,
            order_number: order.as_deref(),
        };
        let candidates = compute::candidates(state, org, conversation, &newest, &fill).await?;
        store::keep(
            db,
            org,
            conversation.id,
            newest.id,
            &candidates,
            mode == Mode::Shown,
            Utc::now(),
        )
        .await?;
        items = store::of_message(db, org, conversation.id, newest.id).await?;
    }
    if mode == Mode::Shown && items.iter().any(|s| !s.shown) {
        // Kept in shadow mode, shown now that the organization shows them.
        store::mark_shown(db, org, conversation.id, newest.id).await?;
        items = store::of_message(db, org, conversation.id, newest.id).await?;
    }
    Ok((mode == Mode::Shown && !items.is_empty()).then_some(SuggestionsView { items }))
}

/// `POST /conversations/{id}/assist/suggestions/{suggestion}/insert`.
pub async fn insert(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<(i64, i64)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (id, suggestion_id) = path.into_inner();
    let org = scope.org();
    let conversation = crate::inbox::queries::changeable_conversation(&state.db, org, id).await?;
    if crate::privacy::objection::assist_withheld(&state.db, org, conversation.customer_id).await? {
        return Err(AppError::NotFound);
    }
    let suggestion = assist_suggestion::Entity::find_by_id_in(org, suggestion_id)
        .one(&state.db)
        .await?
        .filter(|s| s.conversation_id == id && s.shown)
        .ok_or(AppError::NotFound)?;
    drafts::append(
        &state.db,
        org,
        id,
        scope.user_id(),
        &suggestion.text,
        Utc::now(),
    )
    .await?;
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(id),
        "flash.assist_suggestion_inserted",
    ))
}
