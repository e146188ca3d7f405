//! Undo send: a reply waits in the outbox for `LETHE_UNDO_SEND_SECONDS` (default 10, 0 switches
//! it off) before the sender may take it (its first attempt is due then, see
//! `mail::outbound::queue_reply_with`). Until then its author sees an *Undo* button on the
//! message (a form, no JavaScript needed); undoing deletes the message with its outbox row and
//! files (through `crate::records`), so nothing is sent, and puts its text, To, Cc and Bcc
//! back into the reply box as the agent's draft; `message.created` webhook deliveries about it
//! that are still pending are dropped (one already delivered cannot be called back). A reply whose time is up (or that a sender
//! already took) is not undone: the row is only removed while its first attempt is still in
//! the future, in the same transaction that checks it.
//!
//! Form: `POST /conversations/{id}/messages/{message_id}/undo`.

use std::collections::HashSet;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QuerySelect};

use super::drafts::{self, DraftFields};
use super::queries;
use crate::config::Config;
use crate::db::InOrg;
use crate::db::entity::{message, outbox};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// How long a new reply waits before it may be sent.
pub fn delay(config: &Config) -> chrono::Duration {
    chrono::Duration::seconds(config.undo_send_seconds)
}

/// Of these messages, the replies still waiting for their first attempt at `now`.
pub async fn undoable(
    db: &impl ConnectionTrait,
    org: OrgId,
    message_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<HashSet<i64>, DbErr> {
    let mut out = HashSet::new();
    for chunk in message_ids.chunks(500) {
        let ids: Vec<i64> = outbox::Entity::lookup_in(org)
            .select_only()
            .column(outbox::Column::MessageId)
            .filter(outbox::Column::MessageId.is_in(chunk.iter().copied()))
            .filter(outbox::Column::Attempts.eq(0))
            .filter(outbox::Column::NextAttemptAt.gt(now))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(ids);
    }
    Ok(out)
}

pub async fn undo(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<(i64, i64)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (id, message_id) = path.into_inner();
    let org = scope.org();
    queries::changeable_conversation(&state.db, org, id).await?;
    let now = Utc::now();
    let txn = crate::db::begin_write(&state.db).await?;
    let reply = message::Entity::find_by_id_in(org, message_id)
        .filter(message::Column::ConversationId.eq(id))
        .filter(message::Column::Direction.eq("outbound"))
        .filter(message::Column::Kind.eq("normal"))
        .filter(message::Column::AuthorId.eq(scope.user_id()))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if undoable(&txn, org, &[reply.id], now).await?.is_empty() {
        return Ok(see_other_with_flash(
            &paths::CONVERSATION.at(id),
            "flash.undo_too_late",
        ));
    }
    let fields = DraftFields {
        to: reply.to_addresses.clone(),
        cc: reply.cc_addresses.clone(),
        bcc: reply.bcc_addresses.clone(),
        // Without the signature: sending again adds it again.
        text: crate::mail::format::typed_text(&reply.text_body).to_owned(),
    };
    drafts::save(&txn, org, id, scope.user_id(), &fields, now).await?;
    let (_, files) =
        crate::records::delete_messages(&txn, org, &[reply.id], &state.journal).await?;
    // A webhook not yet told about the reply is not told now.
    crate::webhooks::forget_pending_message(&txn, org, id, reply.id).await?;
    // Nor does it count as the first response any more.
    crate::sla::reply_withdrawn(&txn, org, id).await?;
    txn.commit().await?;
    crate::records::remove_unreferenced_files(&state.db, &state.blobs, files).await?;
    queries::publish(&state, org, id);
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(id),
        "flash.reply_undone",
    ))
}
