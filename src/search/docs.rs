//! Building [`MessageDoc`]s from the database: the message with its conversation (subject,
//! status, assignee, tags, channel), its customer (name, addresses) and whether it has
//! attachments. Loads run in a few set queries per batch, never one per message.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::MessageDoc;
use crate::db::entity::{
    attachment, channel, conversation, conversation_tag, customer, customer_email, message, tag,
};
use crate::orgs::OrgId;

/// Rows per `IN (…)` list.
const CHUNK: usize = 500;

#[derive(FromQueryResult)]
struct MessageRow {
    id: i64,
    organization_id: OrgId,
    conversation_id: i64,
    direction: String,
    from_name: String,
    from_address: String,
    to_addresses: String,
    subject: String,
    text_body: String,
    created_at: DateTime<Utc>,
}

fn message_query() -> sea_orm::Select<message::Entity> {
    use message::Column as M;
    message::Entity::find()
        .select_only()
        .columns([
            M::Id,
            M::OrganizationId,
            M::ConversationId,
            M::Direction,
            M::FromName,
            M::FromAddress,
            M::ToAddresses,
            M::Subject,
            M::TextBody,
            M::CreatedAt,
        ])
        .order_by_asc(M::Id)
}

/// Documents of these messages (ids the database lacks are left out).
pub(crate) async fn by_messages(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<MessageDoc>, DbErr> {
    by_column(db, message::Column::Id, ids).await
}

/// Documents of every message of these conversations.
pub(crate) async fn by_conversations(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<MessageDoc>, DbErr> {
    by_column(db, message::Column::ConversationId, ids).await
}

/// Documents of the messages whose `column` is one of `ids`, a chunk of ids per query.
async fn by_column(
    db: &impl ConnectionTrait,
    column: message::Column,
    ids: &[i64],
) -> Result<Vec<MessageDoc>, DbErr> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            message_query()
                .filter(column.is_in(chunk.iter().copied()))
                .into_model::<MessageRow>()
                .all(db)
                .await?,
        );
    }
    complete(db, rows).await
}

/// Up to `limit` documents with message ids above `after`, in id order (for rebuilds).
pub(crate) async fn page(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<MessageDoc>, DbErr> {
    let rows = message_query()
        .filter(message::Column::Id.gt(after))
        .limit(limit)
        .into_model::<MessageRow>()
        .all(db)
        .await?;
    complete(db, rows).await
}

/// Every message id of the database (optionally of one organization), ascending.
pub(crate) async fn all_message_ids(
    db: &impl ConnectionTrait,
    org: Option<OrgId>,
) -> Result<Vec<i64>, DbErr> {
    let mut query = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .order_by_asc(message::Column::Id);
    if let Some(org) = org {
        query = query.filter(message::Column::OrganizationId.eq(org));
    }
    query.into_tuple::<i64>().all(db).await
}

#[derive(FromQueryResult)]
struct ConversationRow {
    id: i64,
    channel_id: Option<i64>,
    customer_id: i64,
    subject: String,
    status: String,
    assignee_id: Option<i64>,
}

/// Adds what the message rows lack: conversation, customer, channel, tags, attachments.
async fn complete(
    db: &impl ConnectionTrait,
    rows: Vec<MessageRow>,
) -> Result<Vec<MessageDoc>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let conversation_ids: Vec<i64> = distinct(rows.iter().map(|r| r.conversation_id));
    let message_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();

    let mut conversations = HashMap::new();
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for chunk in conversation_ids.chunks(CHUNK) {
        use conversation::Column as C;
        let found = conversation::Entity::find()
            .select_only()
            .columns([
                C::Id,
                C::ChannelId,
                C::CustomerId,
                C::Subject,
                C::Status,
                C::AssigneeId,
            ])
            .filter(C::Id.is_in(chunk.iter().copied()))
            .into_model::<ConversationRow>()
            .all(db)
            .await?;
        conversations.extend(found.into_iter().map(|c| (c.id, c)));
        let tag_rows: Vec<(i64, String)> = conversation_tag::Entity::find()
            .select_only()
            .column(conversation_tag::Column::ConversationId)
            .column_as(tag::Column::Name, "name")
            .join(
                sea_orm::JoinType::InnerJoin,
                conversation_tag::Entity::belongs_to(tag::Entity)
                    .from(conversation_tag::Column::TagId)
                    .to(tag::Column::Id)
                    .into(),
            )
            .filter(conversation_tag::Column::ConversationId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (conversation_id, name) in tag_rows {
            tags.entry(conversation_id).or_default().push(name);
        }
    }

    let customer_ids = distinct(conversations.values().map(|c| c.customer_id));
    let channel_ids = distinct(conversations.values().filter_map(|c| c.channel_id));
    let mut customer_names = HashMap::new();
    let mut customer_emails: HashMap<i64, Vec<String>> = HashMap::new();
    for chunk in customer_ids.chunks(CHUNK) {
        let names: Vec<(i64, String)> = customer::Entity::find()
            .select_only()
            .columns([customer::Column::Id, customer::Column::DisplayName])
            .filter(customer::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        customer_names.extend(names);
        let emails: Vec<(i64, String)> = customer_email::Entity::find()
            .select_only()
            .columns([
                customer_email::Column::CustomerId,
                customer_email::Column::Email,
            ])
            .filter(customer_email::Column::CustomerId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (customer_id, email) in emails {
            customer_emails.entry(customer_id).or_default().push(email);
        }
    }
    let mut channel_names = HashMap::new();
    for chunk in channel_ids.chunks(CHUNK) {
        let names: Vec<(i64, String)> = channel::Entity::find()
            .select_only()
            .columns([channel::Column::Id, channel::Column::Name])
            .filter(channel::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        channel_names.extend(names);
    }
    let mut with_attachments = HashSet::new();
    for chunk in message_ids.chunks(CHUNK) {
        let found: Vec<i64> = attachment::Entity::find()
            .select_only()
            .column(attachment::Column::MessageId)
            .filter(attachment::Column::MessageId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        with_attachments.extend(found);
    }

    let mut docs = Vec::with_capacity(rows.len());
    for row in rows {
        // A message whose conversation is gone is being deleted: leave it out.
        let Some(conv) = conversations.get(&row.conversation_id) else {
            continue;
        };
        let subject = if row.subject.trim().is_empty() {
            conv.subject.clone()
        } else {
            row.subject
        };
        let from = if row.from_name.is_empty() {
            row.from_address
        } else {
            format!("{} <{}>", row.from_name, row.from_address)
        };
        docs.push(MessageDoc {
            org: row.organization_id,
            message_id: row.id,
            conversation_id: row.conversation_id,
            subject,
            body: row.text_body,
            customer_name: customer_names
                .get(&conv.customer_id)
                .cloned()
                .unwrap_or_default(),
            customer_email: customer_emails
                .get(&conv.customer_id)
                .map(|e| e.join(" "))
                .unwrap_or_default(),
            from,
            to: row
                .to_addresses
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
            tags: tags.get(&row.conversation_id).cloned().unwrap_or_default(),
            status: conv.status.clone(),
            channel: conv
                .channel_id
                .and_then(|id| channel_names.get(&id).cloned())
                .unwrap_or_else(|| super::index::EMAIL_CHANNEL.to_owned()),
            assignee: conv.assignee_id,
            direction: row.direction,
            has_attachment: with_attachments.contains(&row.id),
            date: row.created_at,
        });
    }
    Ok(docs)
}

fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut v: Vec<i64> = ids.collect();
    v.sort_unstable();
    v.dedup();
    v
}
