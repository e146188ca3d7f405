//! Database connection setup for SQLite and PostgreSQL, the migrations, and the sea-orm
//! entities (plain data; queries live in the feature modules).

pub mod entity;
mod tenant;

#[path = "../../migrations/mod.rs"]
mod migrations;

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::config::DatabaseTarget;

pub use migrations::Migrator;
pub use tenant::InOrg;

/// Opens the configured database. SQLite runs with WAL, foreign keys, a busy timeout and
/// `secure_delete`, so deleted rows are overwritten on disk (DESIGN.md invariant 3).
/// On PostgreSQL the pool opens at most `max_connections` (SQLite keeps its own 8).
pub async fn connect(
    target: &DatabaseTarget,
    max_connections: u32,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = match target {
        DatabaseTarget::Sqlite(path) => {
            let mut options = ConnectOptions::new(format!("sqlite://{}", path.display()));
            options
                .max_connections(8)
                .min_connections(1)
                // The pool pings a connection when it hands it out and again when it takes it
                // back; to SQLite each ping is a round trip to the connection's thread, and a
                // file cannot drop the connection: no ping on the way out (the way back is
                // sqlx's own and stays).
                .test_before_acquire(false)
                .map_sqlx_sqlite_opts(|opts: SqliteConnectOptions| {
                    opts.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Full)
                        .foreign_keys(true)
                        .busy_timeout(Duration::from_secs(10))
                        .pragma("secure_delete", "ON")
                });
            options
        }
        DatabaseTarget::Postgres(url) => {
            let mut options = ConnectOptions::new(url.expose().to_owned());
            options
                .max_connections(max_connections)
                .min_connections(1)
                // A ping before every query doubled the round trips of a page; a connection
                // idle for 30 s is still checked (what a restarted server or a proxy drops).
                .test_before_acquire_if_idle_for(Duration::from_secs(30));
            options
        }
    };
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The names of the migrations not yet applied, in the order they would run.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// Applies every pending migration; true when one of them was `name` (so the caller can do,
/// once, the work that needs what the database does not hold, such as the instance key).
pub async fn migrate_noting(db: &DatabaseConnection, name: &str) -> Result<bool, DbErr> {
    let pending = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .any(|m| m.name() == name);
    Migrator::up(db, None).await?;
    Ok(pending)
}

/// Moves the SQLite WAL into the main file and truncates it, so erased rows do not linger in
/// the WAL. A no-op on PostgreSQL (VACUUM there is the operator's).
pub async fn checkpoint(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    Ok(())
}

/// Begins a transaction that writes: on SQLite `BEGIN IMMEDIATE`, so the write lock is taken
/// (or waited for, within the busy timeout) before anything is read — a deferred transaction
/// that reads first fails outright when another process wrote in between. Inside a caller's
/// transaction this is a savepoint.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
