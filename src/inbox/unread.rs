//! Unread, per agent: a conversation with a customer message the agent has not seen since it
//! arrived is bold in the inbox. Opening the conversation page marks it read;
//! `POST /conversations/{id}/unread` marks it unread again (back to the inbox).
//!
//! Also what each inbox row shows of the thread: a one-line preview of the last message and,
//! when the customer wrote last, since when they are waiting.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::queries;
use crate::db::InOrg;
use crate::db::entity::{conversation_read, message};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// Characters of the preview line.
const PREVIEW_CHARS: usize = 120;

/// Records that `user_id` has seen the conversation as of `at` (None: marks it unread).
pub async fn set_read(
    db: &impl ConnectionTrait,
    org: OrgId,
    user_id: i64,
    conversation_id: i64,
    at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    conversation_read::Entity::insert(conversation_read::ActiveModel {
        organization_id: Set(org),
        user_id: Set(user_id),
        conversation_id: Set(conversation_id),
        read_at: Set(at),
    })
    .on_conflict(
        OnConflict::columns([
            conversation_read::Column::UserId,
            conversation_read::Column::ConversationId,
        ])
        .update_column(conversation_read::Column::ReadAt)
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Marks the conversation read for `user_id` when it opens, writing only when the agent's mark
/// is older than the customer's newest message (or missing): opening a conversation again and
/// again costs two indexed reads, not a write that queues behind every other writer.
pub async fn mark_opened(
    db: &impl ConnectionTrait,
    org: OrgId,
    user_id: i64,
    conversation_id: i64,
) -> Result<(), DbErr> {
    let customer_wrote_at: Option<DateTime<Utc>> = message::Entity::lookup_in(org)
        .select_only()
        .column(message::Column::CreatedAt)
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Direction.eq("inbound"))
        .order_by_desc(message::Column::Id)
        .into_tuple()
        .one(db)
        .await?;
    let Some(wrote) = customer_wrote_at else {
        return Ok(()); // nothing from the customer: never unread
    };
    let read_at: Option<Option<DateTime<Utc>>> = conversation_read::Entity::lookup_in(org)
        .select_only()
        .column(conversation_read::Column::ReadAt)
        .filter(conversation_read::Column::UserId.eq(user_id))
        .filter(conversation_read::Column::ConversationId.eq(conversation_id))
        .into_tuple()
        .one(db)
        .await?;
    match read_at {
        Some(Some(read)) if read >= wrote => Ok(()),
        _ => set_read(db, org, user_id, conversation_id, Some(Utc::now())).await,
    }
}

pub async fn mark_unread(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    queries::conversation(&state.db, scope.org(), id).await?;
    set_read(&state.db, scope.org(), scope.user_id(), id, None).await?;
    Ok(see_other_with_flash(
        paths::INBOX.path(),
        "flash.marked_unread",
    ))
}

/// What a list row shows of its thread.
#[derive(Clone, Debug, Default)]
pub struct RowState {
    pub unread: bool,
    /// The first line of the last message (not a note), shortened.
    pub preview: String,
    /// When the customer wrote last (and nobody answered since): since when.
    pub waiting_since: Option<DateTime<Utc>>,
}

/// [`RowState`] of each of these conversations of `org`, for `user_id`: four queries for
/// the page, whatever its length.
pub async fn row_states(
    db: &impl ConnectionTrait,
    org: OrgId,
    user_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, RowState>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let reads: HashMap<i64, Option<DateTime<Utc>>> = conversation_read::Entity::lookup_in(org)
        .select_only()
        .column(conversation_read::Column::ConversationId)
        .column(conversation_read::Column::ReadAt)
        .filter(conversation_read::Column::UserId.eq(user_id))
        .filter(conversation_read::Column::ConversationId.is_in(ids.iter().copied()))
        .into_tuple::<(i64, Option<DateTime<Utc>>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    // The newest message of each (notes aside), and the newest customer message of each: one
    // grouped pass over the conversations' messages.
    use sea_orm::sea_query::ExprTrait as _;
    let newest: Vec<(i64, i64, Option<i64>)> = message::Entity::lookup_in(org)
        .select_only()
        .column(message::Column::ConversationId)
        .column_as(message::Column::Id.max(), "newest")
        .column_as(
            Into::<Expr>::into(Expr::case(
                Expr::col(message::Column::Direction).eq("inbound"),
                Expr::col(message::Column::Id),
            ))
            .max(),
            "inbound",
        )
        .filter(message::Column::ConversationId.is_in(ids.iter().copied()))
        .filter(message::Column::Direction.ne("note"))
        .group_by(message::Column::ConversationId)
        .into_tuple()
        .all(db)
        .await?;
    let last: HashMap<i64, i64> = newest.iter().map(|(c, m, _)| (*c, *m)).collect();
    let inbound_of: HashMap<i64, i64> = newest
        .iter()
        .filter_map(|(c, _, inbound)| inbound.map(|m| (*c, m)))
        .collect();
    let wanted: Vec<i64> = last.values().chain(inbound_of.values()).copied().collect();
    let messages: HashMap<i64, (String, String, DateTime<Utc>)> = message::Entity::lookup_in(org)
        .select_only()
        .column(message::Column::Id)
        .column(message::Column::Direction)
        .column(message::Column::TextBody)
        .column(message::Column::CreatedAt)
        .filter(message::Column::Id.is_in(wanted))
        .into_tuple::<(i64, String, String, DateTime<Utc>)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, direction, text, at)| (id, (direction, text, at)))
        .collect();
    let mut out = HashMap::new();
    for id in ids {
        let mut state = RowState::default();
        if let Some((direction, text, at)) = last.get(id).and_then(|m| messages.get(m)) {
            state.preview = preview_line(text);
            if direction == "inbound" {
                state.waiting_since = Some(*at);
            }
        }
        let customer_wrote_at = inbound_of
            .get(id)
            .and_then(|m| messages.get(m))
            .map(|(_, _, at)| *at);
        state.unread = match (customer_wrote_at, reads.get(id)) {
            (None, _) => false,
            (Some(_), None | Some(None)) => true,
            (Some(wrote), Some(Some(read))) => *read < wrote,
        };
        out.insert(*id, state);
    }
    Ok(out)
}

/// The first non-empty line that is not quoted text, shortened to [`PREVIEW_CHARS`].
fn preview_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('>'))
        .unwrap_or_default();
    if line.chars().count() > PREVIEW_CHARS {
        let cut: String = line.chars().take(PREVIEW_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        line.to_owned()
    }
}

/// "3 h", "2 d", "12 min": how long since `since`.
pub fn waited(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    match minutes {
        0..60 => format!("{minutes} min"),
        60..1440 => format!("{} h", minutes / 60),
        _ => format!("{} d", minutes / 1440),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_skips_blank_and_quoted_lines_and_is_shortened() {
        assert_eq!(
            preview_line("\n\n> old\n  Hello there  \nmore"),
            "Hello there"
        );
        let long = "x".repeat(300);
        let shown = preview_line(&long);
        assert_eq!(shown.chars().count(), PREVIEW_CHARS);
        assert!(shown.ends_with('…'));
        assert_eq!(preview_line(""), "");
    }

    #[test]
    fn waiting_times_read_in_minutes_hours_and_days() {
        let now = Utc::now();
        assert_eq!(waited(now - chrono::Duration::minutes(5), now), "5 min");
        assert_eq!(waited(now - chrono::Duration::hours(3), now), "3 h");
        assert_eq!(waited(now - chrono::Duration::days(2), now), "2 d");
    }
}
