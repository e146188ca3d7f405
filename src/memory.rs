//! Giving freed heap memory back to the operating system after a large job. glibc's allocator
//! keeps what a retention run or a long index drain freed in its per-thread arenas, so a server
//! that idles at 30 MB held over 400 MB after a 1M-message run until it was restarted.
//! [`release_free_memory`] asks it to return the free pages; elsewhere it does nothing.
//! [`configure_allocator`] keeps the arenas few and large blocks mapped on their own to begin
//! with.

/// At the end of a large job (a retention run, an index drain or purge, an export): drops
/// what the job left cached that a server at rest does not need, then hands the free heap back
/// ([`release_free_memory`]). A heap profile 60 s after an anonymizing retention run (issue 21)
/// found, besides free pages, about 10 MB of prepared statements in the pool's SQLite
/// connections: each keeps up to 100, and a job's batches bind lists of many lengths, each a
/// statement of its own. The idle connections' statement caches are cleared and their page
/// caches shrunk. (The same profile's other holder, the PII detector's compiled patterns and
/// lazy DFA caches, is dropped by the jobs that use it: [`crate::privacy::pii::release_shared`].)
pub async fn after_job(db: &sea_orm::DatabaseConnection) {
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        shrink_sqlite_connections(db.get_sqlite_connection_pool()).await;
    }
    release_free_memory();
}

/// Clears the statement cache and shrinks the page cache of every idle connection of the pool
/// (those in use keep theirs). Taking them all at once makes each a different one; none is
/// waited for. A failure only leaves that connection's memory where it was.
async fn shrink_sqlite_connections(pool: &sea_orm::sqlx::SqlitePool) {
    use sea_orm::sqlx::{Connection, Executor};
    let mut idle = Vec::new();
    while let Some(connection) = pool.try_acquire() {
        idle.push(connection);
    }
    for connection in &mut idle {
        if let Err(error) = connection.clear_cached_statements().await {
            tracing::debug!(%error, "statement cache not cleared");
        }
        if let Err(error) = connection.execute("PRAGMA shrink_memory").await {
            tracing::debug!(%error, "SQLite page cache not shrunk");
        }
    }
}

/// Returns the allocator's free memory to the system (glibc `malloc_trim`). Cheap enough for
/// the end of a job; not for every request.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and shrinks the allocator's own free lists, under the
    // allocator's locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// At most this many glibc malloc arenas (its default is eight per core). Each thread that
/// allocates may get an arena of its own, and memory freed in one is not reused by another:
/// with the blocking threads that sealing, files and search use, 100 chat visitors and 10
/// agents (`benches/chat.sh`) left the server at 357 MB; with two arenas, 130 MB.
const ARENAS: i32 = 2;

/// Blocks this large or larger are mapped on their own and given back when freed. glibc's
/// default threshold moves up to the largest block freed so far (up to 32 MB): after the first
/// sign-in freed argon2's 19 MB work area, every later one took its 19 MB from the heap and
/// kept it — ten agents signing in raised the chat benchmark's server from 39 to 232 MB. With
/// the threshold fixed, the same run peaks at 71 MB.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Sets glibc's allocator up for a long-running server: at most [`ARENAS`] arenas and a fixed
/// [`MMAP_THRESHOLD`]. Called once at start, before the runtime's threads exist.
/// `MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_` in the environment, when set, win (glibc
/// reads them at the first allocation; this keeps them).
pub fn configure_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: mallopt only sets one of the allocator's tuning parameters; M_ARENA_MAX
            // takes effect for arenas created afterwards.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, ARENAS);
            }
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            // SAFETY: as above; M_MMAP_THRESHOLD applies to allocations made afterwards and
            // turns off the threshold's dynamic adjustment.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::Connection as _;
    use sea_orm::{ConnectOptions, ConnectionTrait, Database};

    #[tokio::test]
    async fn after_a_job_the_idle_connections_forget_their_statements() {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).min_connections(1);
        let db = Database::connect(options).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        for n in 1..=5 {
            // Lists of different lengths: a statement each, as a job's batches prepare.
            let marks = vec!["?"; n].join(",");
            db.query_all_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Sqlite,
                format!("SELECT id FROM t WHERE id IN ({marks})"),
                (0..n as i64).map(sea_orm::Value::from),
            ))
            .await
            .unwrap();
        }
        let pool = db.get_sqlite_connection_pool();
        {
            let connection = pool.acquire().await.unwrap();
            assert!(connection.cached_statements_size() >= 5);
        }
        // A connection goes back to the pool in a task of its own.
        for _ in 0..10_000 {
            if pool.num_idle() > 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        super::after_job(&db).await;
        let connection = pool.acquire().await.unwrap();
        assert_eq!(connection.cached_statements_size(), 0);
    }
}
