//! The figures read from the database at each scrape: the outbox, the search queue, IMAP
//! polls per channel, retention runs, backups (when `LETHE_BACKUP_DIR` is set) and the
//! connection pool. Each is one cheap
//! query; ids label the series, never names or addresses.

use chrono::Utc;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::exposition::Writer;
use crate::db::entity::{channel, outbox, retention_run};
use crate::state::AppState;

pub(super) async fn write(state: &AppState, out: &mut Writer) -> Result<(), sea_orm::DbErr> {
    let db = &state.db;
    let now = Utc::now();

    let depth = outbox::Entity::find().count(db).await?;
    out.gauge(
        "lethe_outbox_depth",
        "Replies waiting in the outbox to be sent.",
        &[],
        depth as f64,
    );
    let retrying = outbox::Entity::find()
        .filter(outbox::Column::Attempts.gt(0))
        .count(db)
        .await?;
    out.gauge(
        "lethe_outbox_retrying",
        "Replies in the outbox that failed at least once.",
        &[],
        retrying as f64,
    );
    let oldest = outbox::Entity::find()
        .order_by_asc(outbox::Column::CreatedAt)
        .one(db)
        .await?
        .map_or(0.0, |o| {
            (now - o.created_at).num_milliseconds() as f64 / 1000.0
        });
    out.gauge(
        "lethe_outbox_oldest_age_seconds",
        "Age of the oldest reply in the outbox (0 when empty).",
        &[],
        oldest.max(0.0),
    );

    let queued = crate::search::queue_depth(db, &state.search).await?;
    out.gauge(
        "lethe_search_queue_depth",
        "Changes in the search change log waiting for this node's indexer.",
        &[],
        queued as f64,
    );

    let answers = state.search.answer_counts();
    for (source, value) in [("cache", answers.cached), ("index", answers.grouped)] {
        out.counter(
            "lethe_search_answers_total",
            "Searches answered from the ranked conversations of an earlier search on the same index (cache) or by grouping the matches (index).",
            &[("source", source)],
            value as f64,
        );
    }

    out.gauge(
        "lethe_imap_idle_connections",
        "IMAP connections waiting in IDLE (mail arrives at once on those channels).",
        &[],
        state.idle.idling() as f64,
    );
    let polled = channel::Entity::find()
        .filter(channel::Column::ImapHost.is_not_null())
        .order_by_asc(channel::Column::Id)
        .all(db)
        .await?;
    for channel in polled {
        let id = channel.id.to_string();
        let org = channel.organization_id.get().to_string();
        let labels = [("channel", id.as_str()), ("organization", org.as_str())];
        if let Some(at) = channel.last_poll_at {
            out.gauge(
                "lethe_imap_last_poll_age_seconds",
                "Seconds since the channel's mailbox was last polled.",
                &labels,
                (now - at).num_seconds().max(0) as f64,
            );
        }
        out.gauge(
            "lethe_imap_failing",
            "1 when the channel's last IMAP poll failed (its error is on the channel page).",
            &labels,
            if channel.last_error.is_some() {
                1.0
            } else {
                0.0
            },
        );
    }

    let finished = || {
        retention_run::Entity::find()
            .filter(retention_run::Column::DryRun.eq(false))
            .filter(retention_run::Column::FinishedAt.is_not_null())
    };
    let failed = finished()
        .filter(retention_run::Column::Error.is_not_null())
        .count(db)
        .await?;
    let all = finished().count(db).await?;
    for (result, count) in [("ok", all.saturating_sub(failed)), ("failed", failed)] {
        out.counter(
            "lethe_retention_runs_total",
            "Retention runs finished (dry runs not counted), by result.",
            &[("result", result)],
            count as f64,
        );
    }
    if let Some(last) = finished()
        .order_by_desc(retention_run::Column::FinishedAt)
        .one(db)
        .await?
        && let Some(end) = last.finished_at
    {
        out.gauge(
            "lethe_retention_last_run_duration_seconds",
            "How long the newest finished retention run took.",
            &[],
            (end - last.started_at).num_milliseconds().max(0) as f64 / 1000.0,
        );
        out.gauge(
            "lethe_retention_last_run_timestamp_seconds",
            "When the newest retention run finished (Unix time).",
            &[],
            end.timestamp() as f64,
        );
    }

    if let Some(dir) = &state.config.backup.dir {
        let dir = dir.clone();
        let keep_days = state.config.backup.keep_days;
        let listed =
            tokio::task::spawn_blocking(move || crate::backup::files::list(&dir, keep_days))
                .await
                .ok()
                .and_then(Result::ok);
        if let Some(backups) = listed {
            out.gauge(
                "lethe_backups",
                "Backups in LETHE_BACKUP_DIR.",
                &[],
                backups.len() as f64,
            );
            if let Some(newest) = backups.last() {
                out.gauge(
                    "lethe_backup_age_seconds",
                    "Age of the newest backup in LETHE_BACKUP_DIR.",
                    &[],
                    (now - newest.taken_at).num_seconds().max(0) as f64,
                );
            }
        }
    }

    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    };
    let in_use = (size as usize).saturating_sub(idle) as f64;
    out.gauge(
        "lethe_db_pool_connections",
        "Database connections of the pool, by state.",
        &[("state", "in_use")],
        in_use,
    );
    out.gauge(
        "lethe_db_pool_connections",
        "Database connections of the pool, by state.",
        &[("state", "idle")],
        idle as f64,
    );
    out.gauge(
        "lethe_db_pool_max_connections",
        "The most connections the pool opens.",
        &[],
        f64::from(max),
    );
    Ok(())
}
