//! Splitting a customer's message off into a new conversation (issue 15):
//! `POST /conversations/{id}/messages/{message_id}/split`, a button on each customer message
//! of the conversation page.
//!
//! The new conversation has the same customer and channel and a fresh token; its subject is
//! the message's (without `Re:` and ticket tags). The message moves there with its
//! attachments, so mail answering it (In-Reply-To its Message-ID) threads into the new
//! conversation afterwards. Refused with a 400 that changes nothing: a message that is not
//! the customer's, the only message of its conversation, or a restricted customer's.
//! Audit-logged with ids only.

use actix_web::{HttpResponse, web};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, PaginatorTrait, QueryFilter, Set};

use super::queries;
use crate::db::InOrg;
use crate::db::entity::{conversation, message};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

pub async fn split(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<(i64, i64)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (id, message_id) = path.into_inner();
    let org = scope.org();
    let txn = crate::db::begin_write(&state.db).await?;
    let from = queries::changeable_conversation(&txn, org, id).await?;
    let moved = message::Entity::find_by_id_in(org, message_id)
        .filter(message::Column::ConversationId.eq(id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if moved.direction != "inbound" || moved.kind == crate::mail::ingest::FORWARD_ANSWER {
        return Err(AppError::BadRequest("split.not_customer_message"));
    }
    let rest = message::Entity::find_in(org)
        .filter(message::Column::ConversationId.eq(id))
        .filter(message::Column::Id.ne(message_id))
        .filter(message::Column::Direction.ne("note"))
        .count(&txn)
        .await?;
    if rest == 0 {
        return Err(AppError::BadRequest("split.only_message"));
    }
    let subject = crate::mail::parse::strip_subject_prefixes(&moved.subject).trim();
    let subject = if subject.is_empty() {
        from.subject.clone()
    } else {
        subject.to_owned()
    };
    let created = conversation::ActiveModel {
        organization_id: Set(org),
        channel_id: Set(from.channel_id),
        customer_id: Set(from.customer_id),
        token: Set(crate::mail::ingest::unused_token(&txn, org).await?),
        subject: Set(subject),
        status: Set(super::triage::Status::Open.as_str().to_owned()),
        assignee_id: Set(from.assignee_id),
        message_count: Set(1),
        created_at: Set(moved.created_at),
        last_activity_at: Set(moved.created_at),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    message::Entity::update_in(org)
        .col_expr(message::Column::ConversationId, Expr::value(created.id))
        .filter(message::Column::Id.eq(message_id))
        .exec(&txn)
        .await?;
    conversation::Entity::update_in(org)
        .col_expr(
            conversation::Column::MessageCount,
            Expr::value((from.message_count - 1).max(0)),
        )
        .filter(conversation::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    // Its own deadlines, from the split-off message's time (src/sla).
    crate::sla::compute(&txn, org, &[created.id]).await?;
    crate::webhooks::emit(
        &txn,
        org,
        crate::webhooks::Event::ConversationCreated {
            conversation_id: created.id,
        },
    )
    .await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "conversation.split",
            format!("conversation:{}", created.id),
            serde_json::json!({ "from": id, "into": created.id, "message": message_id }),
        )
        .await?;
    queries::publish(&state, org, id);
    queries::publish(&state, org, created.id);
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(created.id),
        "flash.split_done",
    ))
}
