//! The search change log: the `search_queue` table, filled by database triggers in the same
//! transaction as every change (see the migration `m20261122_000005_search`), read by every
//! node's indexer from a [`LogPosition`] of its own (migration
//! `m20261208_000041_search_log_positions`).
//!
//! Rows are read in `(tx, id)` order, and only rows of transactions older than every
//! transaction still running ([`stable_bound`]: PostgreSQL's snapshot `xmin`), so that no row
//! can still appear behind a position once a reader has passed it — ids are handed out when
//! rows are written, not when they commit, and a transaction that took id 10 may commit after
//! one that took id 11. On SQLite `tx` is 0 and the bound is unlimited: its one writer commits
//! rows in id order. A node records its position in `search_nodes`; rows every live node has
//! passed are pruned, and how far is kept in `search_log_pruned`: a node whose position is
//! behind it (new, or gone for longer than [`STALE`]) rebuilds its index.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, Order, Query as Sql};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::cluster::NodeId;

const TABLE: &str = "search_queue";
const NODES: &str = "search_nodes";
const PRUNED: &str = "search_log_pruned";

/// A node not seen for this long no longer holds the pruning of the log back; when it comes
/// back behind the pruned rows, it rebuilds its index.
pub(crate) const STALE: chrono::Duration = chrono::Duration::minutes(10);

/// A place in the log: every row at or before it (in `(tx, id)` order) has been applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogPosition {
    pub tx: i64,
    pub id: i64,
}

impl LogPosition {
    /// Before every row.
    pub const START: LogPosition = LogPosition { tx: 0, id: 0 };

    /// As the index's commit records it.
    pub(crate) fn to_payload(self) -> String {
        format!("search-log {} {}", self.tx, self.id)
    }

    pub(crate) fn from_payload(payload: &str) -> Option<Self> {
        let mut parts = payload.strip_prefix("search-log ")?.split(' ');
        let tx = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        Some(LogPosition { tx, id })
    }
}

/// What a log row asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Bring one message's document in line with the database.
    Message(i64),
    /// Bring every message document of one conversation in line with the database.
    Conversation(i64),
}

/// One row of the log.
#[derive(Clone, Debug)]
pub(crate) struct QueueRow {
    pub position: LogPosition,
    pub target: Target,
    /// True when text was changed or removed, so old text must be purged from the index files.
    pub removes_text: bool,
}

fn col(name: &str) -> Alias {
    Alias::new(name)
}

/// Rows after `position` in `(tx, id)` order.
fn after(position: LogPosition) -> sea_orm::sea_query::Expr {
    Expr::col(col("tx")).gt(position.tx).or(Expr::col(col("tx"))
        .eq(position.tx)
        .and(Expr::col(col("id")).gt(position.id)))
}

/// Rows at or before `position`.
fn up_to(position: LogPosition) -> sea_orm::sea_query::Expr {
    Expr::col(col("tx")).lt(position.tx).or(Expr::col(col("tx"))
        .eq(position.tx)
        .and(Expr::col(col("id")).lte(position.id)))
}

/// The transaction number below which every transaction that can write this database has
/// ended: rows with a smaller `tx` are all committed (or never will be) and visible to the
/// next statement. On PostgreSQL: the oldest transaction of the snapshot still running in this
/// database (other databases of the cluster do not hold it back), else the snapshot's `xmax`.
/// A transaction running at the snapshot still runs when `pg_stat_activity` is read after it,
/// or has ended; one that starts later gets an id at or above `xmax`.
pub(crate) async fn stable_bound(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let select = Statement::from_string(
                DbBackend::Postgres,
                "WITH s AS (SELECT pg_current_snapshot() AS snap), \
                 here AS (SELECT backend_xid::text::bigint AS xid FROM pg_stat_activity \
                          WHERE datname = current_database() AND backend_xid IS NOT NULL) \
                 SELECT COALESCE( \
                   (SELECT MIN(x::text::bigint) FROM s, pg_snapshot_xip(s.snap) AS x \
                    WHERE x::text::bigint % 4294967296 IN (SELECT xid FROM here)), \
                   (SELECT pg_snapshot_xmax(snap)::text::bigint FROM s)) AS bound",
            );
            match db.query_one_raw(select).await? {
                Some(row) => row.try_get("", "bound"),
                None => Err(DbErr::Custom("no snapshot".into())),
            }
        }
        _ => Ok(i64::MAX),
    }
}

/// The oldest `limit` rows after `position` whose transaction is below `bound`, in order.
pub(crate) async fn next_batch(
    db: &impl ConnectionTrait,
    position: LogPosition,
    bound: i64,
    limit: u64,
) -> Result<Vec<QueueRow>, DbErr> {
    let select = Sql::select()
        .columns([
            col("id"),
            col("tx"),
            col("message_id"),
            col("conversation_id"),
            col("op"),
        ])
        .from(col(TABLE))
        .and_where(after(position))
        .and_where(Expr::col(col("tx")).lt(bound))
        .order_by(col("tx"), Order::Asc)
        .order_by(col("id"), Order::Asc)
        .limit(limit)
        .to_owned();
    let rows = db.query_all(&select).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let position = LogPosition {
            tx: row.try_get("", "tx")?,
            id: row.try_get("", "id")?,
        };
        let message_id: Option<i64> = row.try_get("", "message_id")?;
        let conversation_id: Option<i64> = row.try_get("", "conversation_id")?;
        let op: String = row.try_get("", "op")?;
        let target = match (op.starts_with("message."), message_id, conversation_id) {
            (true, Some(m), _) => Target::Message(m),
            (_, _, Some(c)) => Target::Conversation(c),
            (_, Some(m), None) => Target::Message(m),
            // Nothing to do; the position moves past it.
            (_, None, None) => Target::Message(0),
        };
        let removes_text = matches!(
            op.as_str(),
            "message.update" | "message.delete" | "conversation.text" | "conversation.delete"
        );
        out.push(QueueRow {
            position,
            target,
            removes_text,
        });
    }
    Ok(out)
}

/// The last row below `bound`: a rebuild that reads the database after this has seen every
/// change up to it.
pub(crate) async fn last_below(
    db: &impl ConnectionTrait,
    bound: i64,
) -> Result<Option<LogPosition>, DbErr> {
    let select = Sql::select()
        .columns([col("tx"), col("id")])
        .from(col(TABLE))
        .and_where(Expr::col(col("tx")).lt(bound))
        .order_by(col("tx"), Order::Desc)
        .order_by(col("id"), Order::Desc)
        .limit(1)
        .to_owned();
    Ok(match db.query_one(&select).await? {
        Some(row) => Some(LogPosition {
            tx: row.try_get("", "tx")?,
            id: row.try_get("", "id")?,
        }),
        None => None,
    })
}

/// How far the log has been pruned: rows at or before it are gone.
pub(crate) async fn pruned_through(db: &impl ConnectionTrait) -> Result<LogPosition, DbErr> {
    let select = Sql::select()
        .columns([col("tx"), col("log_id")])
        .from(col(PRUNED))
        .and_where(Expr::col(col("id")).eq(1))
        .to_owned();
    Ok(match db.query_one(&select).await? {
        Some(row) => LogPosition {
            tx: row.try_get("", "tx")?,
            id: row.try_get("", "log_id")?,
        },
        None => LogPosition::START,
    })
}

/// Records where `node` is in the log, and that it is alive.
pub(crate) async fn record(
    db: &impl ConnectionTrait,
    node: &NodeId,
    position: LogPosition,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let insert = Sql::insert()
        .into_table(col(NODES))
        .columns([
            col("node"),
            col("position_tx"),
            col("position_id"),
            col("seen_at"),
        ])
        .values([
            node.as_str().into(),
            position.tx.into(),
            position.id.into(),
            now.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::column(col("node"))
                .update_columns([col("position_tx"), col("position_id"), col("seen_at")])
                .to_owned(),
        )
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// Removes the rows every live node has passed (and the nodes not seen for [`STALE`]), and
/// moves the pruned mark; one prune at a time.
pub(crate) async fn prune(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    // The mark's row lock makes concurrent prunes wait for each other.
    let lock = Sql::update()
        .table(col(PRUNED))
        .value(col("tx"), Expr::col(col("tx")))
        .and_where(Expr::col(col("id")).eq(1))
        .to_owned();
    txn.execute(&lock).await?;
    let mark = pruned_through(&txn).await?;
    let forget = Sql::delete()
        .from_table(col(NODES))
        .and_where(Expr::col(col("seen_at")).lt(now - STALE))
        .to_owned();
    txn.execute(&forget).await?;
    let slowest = Sql::select()
        .columns([col("position_tx"), col("position_id")])
        .from(col(NODES))
        .order_by(col("position_tx"), Order::Asc)
        .order_by(col("position_id"), Order::Asc)
        .limit(1)
        .to_owned();
    let Some(row) = txn.query_one(&slowest).await? else {
        txn.commit().await?;
        return Ok(0);
    };
    let slowest = LogPosition {
        tx: row.try_get("", "position_tx")?,
        id: row.try_get("", "position_id")?,
    };
    let mut removed = 0;
    if slowest > mark {
        let delete = Sql::delete()
            .from_table(col(TABLE))
            .and_where(up_to(slowest))
            .to_owned();
        removed = txn.execute(&delete).await?.rows_affected();
        let mark = Sql::update()
            .table(col(PRUNED))
            .value(col("tx"), slowest.tx)
            .value(col("log_id"), slowest.id)
            .and_where(Expr::col(col("id")).eq(1))
            .to_owned();
        txn.execute(&mark).await?;
    }
    txn.commit().await?;
    Ok(removed)
}

/// Number of rows after `position` (waiting for this node's indexer).
pub(crate) async fn len_after(
    db: &impl ConnectionTrait,
    position: LogPosition,
) -> Result<u64, DbErr> {
    let select = Sql::select()
        .expr_as(Func::count(Expr::col(col("id"))), col("n"))
        .from(col(TABLE))
        .and_where(after(position))
        .to_owned();
    Ok(match db.query_one(&select).await? {
        Some(row) => u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0),
        None => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::LogPosition;

    #[test]
    fn a_position_survives_the_index_commit_and_orders_by_transaction_then_id() {
        let p = LogPosition { tx: 812, id: 77 };
        assert_eq!(LogPosition::from_payload(&p.to_payload()), Some(p));
        assert_eq!(LogPosition::from_payload("something else"), None);
        assert!(LogPosition { tx: 1, id: 900 } < LogPosition { tx: 2, id: 3 });
        assert!(LogPosition::START < p);
    }
}
