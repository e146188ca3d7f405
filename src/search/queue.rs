//! The `search_queue` table, filled by database triggers (see the migration
//! `m20261122_000005_search`): reading a batch in order, and removing the rows that the index
//! has committed.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Order, Query as Sql};
use sea_orm::{ConnectionTrait, DbErr};

const TABLE: &str = "search_queue";

/// What a queue row asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Bring one message's document in line with the database.
    Message(i64),
    /// Bring every message document of one conversation in line with the database.
    Conversation(i64),
}

/// One row of the queue.
#[derive(Clone, Debug)]
pub(crate) struct QueueRow {
    pub id: i64,
    pub target: Target,
    /// True when text was changed or removed, so old text must be purged from the index files.
    pub removes_text: bool,
}

fn col(name: &str) -> Alias {
    Alias::new(name)
}

/// The oldest `limit` rows with ids above `after`, in id order.
pub(crate) async fn next_batch(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<QueueRow>, DbErr> {
    let select = Sql::select()
        .columns([
            col("id"),
            col("message_id"),
            col("conversation_id"),
            col("op"),
        ])
        .from(col(TABLE))
        .and_where(Expr::col(col("id")).gt(after))
        .order_by(col("id"), Order::Asc)
        .limit(limit)
        .to_owned();
    let rows = db.query_all(&select).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let message_id: Option<i64> = row.try_get("", "message_id")?;
        let conversation_id: Option<i64> = row.try_get("", "conversation_id")?;
        let op: String = row.try_get("", "op")?;
        let target = match (op.starts_with("message."), message_id, conversation_id) {
            (true, Some(m), _) => Target::Message(m),
            (_, _, Some(c)) => Target::Conversation(c),
            (_, Some(m), None) => Target::Message(m),
            (_, None, None) => {
                // Nothing to do; the row is removed with the batch.
                out.push(QueueRow {
                    id,
                    target: Target::Message(0),
                    removes_text: false,
                });
                continue;
            }
        };
        let removes_text = matches!(
            op.as_str(),
            "message.update" | "message.delete" | "conversation.text" | "conversation.delete"
        );
        out.push(QueueRow {
            id,
            target,
            removes_text,
        });
    }
    Ok(out)
}

/// Removes processed rows (by id: a row with a lower id committed later is kept).
pub(crate) async fn remove(db: &impl ConnectionTrait, ids: &[i64]) -> Result<(), DbErr> {
    for chunk in ids.chunks(500) {
        let delete = Sql::delete()
            .from_table(col(TABLE))
            .and_where(Expr::col(col("id")).is_in(chunk.iter().copied()))
            .to_owned();
        db.execute(&delete).await?;
    }
    Ok(())
}

/// Removes every row up to and including `max_id` (after a full rebuild).
pub(crate) async fn remove_up_to(db: &impl ConnectionTrait, max_id: i64) -> Result<(), DbErr> {
    let delete = Sql::delete()
        .from_table(col(TABLE))
        .and_where(Expr::col(col("id")).lte(max_id))
        .to_owned();
    db.execute(&delete).await?;
    Ok(())
}

/// The highest id in the queue (0 when empty).
pub(crate) async fn max_id(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let select = Sql::select()
        .expr_as(Func::max(Expr::col(col("id"))), col("max_id"))
        .from(col(TABLE))
        .to_owned();
    Ok(match db.query_one(&select).await? {
        Some(row) => row.try_get::<Option<i64>>("", "max_id")?.unwrap_or(0),
        None => 0,
    })
}

/// Number of rows waiting.
pub(crate) async fn len(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let select = Sql::select()
        .expr_as(Func::count(Expr::col(col("id"))), col("n"))
        .from(col(TABLE))
        .to_owned();
    Ok(match db.query_one(&select).await? {
        Some(row) => u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0),
        None => 0,
    })
}
