//! The `notifications` table: ids and times only. The list joins what it shows (the
//! conversation's subject, the actor's name) when it is read, so an erased or anonymized
//! conversation shows what is left of it and nothing was copied.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::Kind;
use crate::db::InOrg;
use crate::db::entity::notification;
use crate::orgs::OrgId;

/// Stores one notification for each of `users`.
pub async fn insert(
    db: &impl ConnectionTrait,
    org: OrgId,
    users: &[i64],
    kind: Kind,
    conversation_id: i64,
    actor: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if users.is_empty() {
        return Ok(());
    }
    notification::Entity::insert_many(users.iter().map(|user| notification::ActiveModel {
        organization_id: Set(org),
        user_id: Set(*user),
        kind: Set(kind.as_str().to_owned()),
        conversation_id: Set(conversation_id),
        actor_id: Set(actor),
        created_at: Set(now),
        read_at: Set(None),
        ..Default::default()
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// How many notifications of `user` in `org` are unread.
pub async fn unread_count(db: &impl ConnectionTrait, org: OrgId, user: i64) -> Result<u64, DbErr> {
    notification::Entity::lookup_in(org)
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null())
        .count(db)
        .await
}

/// The newest `limit` notifications of `user` in `org`, newest first.
pub async fn newest(
    db: &impl ConnectionTrait,
    org: OrgId,
    user: i64,
    limit: u64,
) -> Result<Vec<notification::Model>, DbErr> {
    notification::Entity::lookup_in(org)
        .filter(notification::Column::UserId.eq(user))
        .order_by_desc(notification::Column::CreatedAt)
        .order_by_desc(notification::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Marks notifications of `user` in `org` read: one (`Some(id)`) or all; how many changed.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    org: OrgId,
    user: i64,
    id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut update = notification::Entity::update_in(org)
        .col_expr(notification::Column::ReadAt, Expr::value(Some(now)))
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null());
    if let Some(id) = id {
        update = update.filter(notification::Column::Id.eq(id));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Marks the notifications of `user` about one conversation read (the agent opened it).
pub async fn mark_conversation_read(
    db: &impl ConnectionTrait,
    org: OrgId,
    user: i64,
    conversation_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    // A read first: opening a conversation with nothing unread (the usual case) writes nothing.
    let unread: Option<i64> = notification::Entity::find_in(org)
        .select_only()
        .column(notification::Column::Id)
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ConversationId.eq(conversation_id))
        .filter(notification::Column::ReadAt.is_null())
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if unread.is_none() {
        return Ok(0);
    }
    Ok(notification::Entity::update_in(org)
        .col_expr(notification::Column::ReadAt, Expr::value(Some(now)))
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ConversationId.eq(conversation_id))
        .filter(notification::Column::ReadAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// Notifications about these conversations of `org` (they are being deleted: src/records).
pub async fn forget_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
) -> Result<u64, DbErr> {
    crate::records::delete_rows_in::<notification::Entity>(
        db,
        org,
        notification::Column::ConversationId,
        ids,
    )
    .await
}

/// The notifications of a member who leaves `org` (src/orgs/leaving.rs).
pub async fn forget_user(db: &impl ConnectionTrait, org: OrgId, user: i64) -> Result<u64, DbErr> {
    Ok(notification::Entity::delete_in(org)
        .filter(notification::Column::UserId.eq(user))
        .exec(db)
        .await?
        .rows_affected)
}

/// Read notifications older than `cutoff`, of every organization (the cleanup job).
pub async fn delete_read_before(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(notification::Entity::delete_many()
        .filter(notification::Column::ReadAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}
