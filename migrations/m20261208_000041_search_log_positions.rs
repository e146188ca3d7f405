//! Search on every node (issue 18): the `search_queue` that the database triggers fill becomes
//! a change log that each node's indexer reads from a position of its own, instead of a queue
//! that one indexer empties.
//!
//! - `search_queue.tx`: the writing transaction (PostgreSQL's `pg_current_xact_id()`; 0 on
//!   SQLite, whose single writer commits rows in id order). A reader takes only rows of
//!   transactions older than every one still running, in `(tx, id)` order, so a row committed
//!   late is never passed over (see `src/search/queue.rs`).
//! - `search_nodes`: each node's position in the log and when it was last seen; rows that every
//!   live node has passed are pruned.
//! - `search_log_pruned`: how far the log has been pruned (one row): a node behind it rebuilds
//!   its index.
//!
//! None of them holds customer data: ids, transaction numbers and random node ids.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SearchQueue {
    Table,
    Id,
    Tx,
}

#[derive(DeriveIden)]
enum SearchNodes {
    Table,
    Node,
    PositionTx,
    PositionId,
    SeenAt,
}

#[derive(DeriveIden)]
enum SearchLogPruned {
    Table,
    Id,
    Tx,
    LogId,
}

const TX_INDEX: &str = "idx_search_queue_tx_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE search_queue ADD COLUMN tx BIGINT NOT NULL \
                     DEFAULT (pg_current_xact_id()::text::bigint)",
                )
                .await?;
            }
            _ => {
                manager
                    .alter_table(
                        Table::alter()
                            .table(SearchQueue::Table)
                            .add_column(big_integer(SearchQueue::Tx).default(0))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        manager
            .create_index(
                Index::create()
                    .name(TX_INDEX)
                    .table(SearchQueue::Table)
                    .col(SearchQueue::Tx)
                    .col(SearchQueue::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SearchNodes::Table)
                    .col(string(SearchNodes::Node).primary_key())
                    .col(big_integer(SearchNodes::PositionTx))
                    .col(big_integer(SearchNodes::PositionId))
                    .col(timestamp_with_time_zone(SearchNodes::SeenAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SearchLogPruned::Table)
                    .col(integer(SearchLogPruned::Id).primary_key())
                    .col(big_integer(SearchLogPruned::Tx))
                    .col(big_integer(SearchLogPruned::LogId))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(SearchLogPruned::Table)
                    .columns([
                        SearchLogPruned::Id,
                        SearchLogPruned::Tx,
                        SearchLogPruned::LogId,
                    ])
                    .values_panic([1.into(), 0i64.into(), 0i64.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SearchLogPruned::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SearchNodes::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(TX_INDEX)
                    .table(SearchQueue::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SearchQueue::Table)
                    .drop_column(SearchQueue::Tx)
                    .to_owned(),
            )
            .await
    }
}
