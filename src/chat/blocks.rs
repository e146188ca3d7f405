//! Blocked chat visitors: marking a chat as spam may block its visitor id (the conversation
//! page's spam form, `block=visitor`); the widget's further messages from that browser are
//! refused (403) and nothing is stored. An entry holds only the id's SHA-256: once the
//! visitor's conversations are gone it names nobody, so it outlives erasure and retention,
//! as a block of the spam it was made for should.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set};

use super::visitor::VisitorKey;
use crate::db::InOrg;
use crate::db::entity::{chat_blocked_visitor, conversation};
use crate::orgs::OrgId;

/// Blocks the visitor of the chat conversation `conversation_id` of `org`; false when it is
/// not a chat conversation.
pub async fn block_visitor_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let key: Option<Option<String>> = conversation::Entity::find_by_id_in(org, conversation_id)
        .select_only()
        .column(conversation::Column::ChatVisitorKey)
        .into_tuple()
        .one(db)
        .await?;
    let Some(Some(key)) = key else {
        return Ok(false);
    };
    chat_blocked_visitor::Entity::insert(chat_blocked_visitor::ActiveModel {
        organization_id: Set(org),
        visitor_key: Set(key),
        created_at: Set(at),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([
        chat_blocked_visitor::Column::OrganizationId,
        chat_blocked_visitor::Column::VisitorKey,
    ])
    .exec_without_returning(db)
    .await?;
    Ok(true)
}

/// Whether the visitor is blocked in `org`.
pub async fn is_blocked(
    db: &impl ConnectionTrait,
    org: OrgId,
    visitor: &VisitorKey,
) -> Result<bool, DbErr> {
    Ok(chat_blocked_visitor::Entity::find_in(org)
        .select_only()
        .column(chat_blocked_visitor::Column::Id)
        .filter(chat_blocked_visitor::Column::VisitorKey.eq(visitor.as_str()))
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some())
}
