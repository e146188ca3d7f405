//! The retention runner: applies an organization's saved rules now. It works in batches of
//! [`BATCH`] items, each in its own transaction, so agents keep working during a large run; it
//! takes the ids that are due once and re-checks each batch (still due, not put on hold since),
//! so it is idempotent and a run cut short by a crash simply continues at the next one (the scheduler resumes it at the next start, see
//! [`super::tick::scheduled_tick`]). The run lock ([`super::lock`], a lease) keeps two runs apart, on any number of nodes.
//!
//! Delete removes the rows (attachments, tags and outbox rows go with their messages) and the
//! attachment files no row refers to any more. Anonymize rewrites subjects, bodies, names and
//! addresses with the PII detector, removes attachments and moves the conversation to a new
//! pseudonymous customer ("Customer 7F3A") with no mapping back; timestamps, status, tags,
//! channel and counts stay. Items on legal hold are skipped and counted. The database triggers
//! queue every change for the search index; at the end of a run the queue is drained and the
//! index purged (unless the running server holds the index: its indexer does it), orphaned
//! attachment files are swept, and SQLite's WAL is checkpointed, so what was deleted or
//! anonymized leaves the data directory without a server running.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use super::categories;
use super::error::RetentionError;
use super::lock::RunLock;
use super::{Category, RetentionRule, saved_rules};
use crate::audit::{Actor, Entry};
use crate::db::entity::retention_run;
use crate::orgs::OrgId;
use crate::search::indexer::Settled;
use crate::state::AppState;

/// Conversations (or attachments, notes, customers) per transaction.
pub const BATCH: usize = 200;
/// The error recorded for a run whose process died before it finished.
pub const INTERRUPTED: &str = "interrupted";

/// What a run did (or, dry, would do) per category.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCounts {
    pub action: String,
    pub conversations: u64,
    pub customers: u64,
    pub messages: u64,
    pub attachments: u64,
    pub notes: u64,
    pub audit_events: u64,
    /// Access entries removed (src/audit/access.rs); absent in older runs.
    #[serde(default)]
    pub access_entries: u64,
    /// Unsent reply drafts removed (src/inbox/drafts.rs); absent in older runs.
    #[serde(default)]
    pub drafts: u64,
    /// Suggestions deleted or emptied (src/assist/suggest/); absent in older runs.
    #[serde(default)]
    pub suggestions: u64,
    /// Customer records removed with their last conversation (src/retention/select.rs,
    /// `left_behind`); absent in runs recorded before it was counted.
    #[serde(default)]
    pub customer_records: u64,
    /// Items due but on legal hold (their own, or their customer's).
    pub skipped_legal_hold: u64,
}

/// The outcome of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    /// The history row; None for a preview.
    pub run_id: Option<i64>,
    pub organization_id: i64,
    pub dry_run: bool,
    pub categories: BTreeMap<&'static str, CategoryCounts>,
    /// Attachment files that no row referred to any more (left by an interrupted run).
    pub swept: super::sweep::Swept,
}

impl RunReport {
    pub fn category(&self, category: Category) -> Option<&CategoryCounts> {
        self.categories.get(category.as_str())
    }
}

/// Who started a run, for the history and the audit log.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub dry_run: bool,
    /// `manual`, `schedule`, `resume` or `cli`.
    pub trigger: &'static str,
    pub actor: Actor,
}

/// The catalog key of a stored error code (older rows may hold other text).
pub fn error_key(code: &str) -> &'static str {
    match code {
        INTERRUPTED => "retention.run_error.interrupted",
        "already_running" => "retention.run_error.already_running",
        "database" => "retention.run_error.database",
        "lock" => "retention.run_error.lock",
        "search_index" => "retention.run_error.search_index",
        _ => "retention.run_error.other",
    }
}

/// Applies the organization's saved rules now (started by the system).
pub async fn run_once(
    state: &AppState,
    org: OrgId,
    dry_run: bool,
) -> Result<RunReport, RetentionError> {
    run_with(
        state,
        org,
        RunOptions {
            dry_run,
            trigger: "manual",
            actor: Actor::System("retention"),
        },
    )
    .await
}

/// Applies the saved rules, recorded in the run history and the audit log. The run holds the
/// organization's lock throughout (a dry run too, so that its counts are not taken while
/// another run changes them).
pub async fn run_with(
    state: &AppState,
    org: OrgId,
    options: RunOptions,
) -> Result<RunReport, RetentionError> {
    let lock = RunLock::acquire(state, org).await?;
    let result = run_holding(state, org, options, &lock).await;
    lock.release(state).await;
    result
}

/// [`run_with`] for a caller that holds the organization's lock and releases it after (the
/// scheduler tick, which checks under the lock that the run is still due and marks its
/// scheduled time handled before it lets go).
pub async fn run_holding(
    state: &AppState,
    org: OrgId,
    options: RunOptions,
    lock: &RunLock,
) -> Result<RunReport, RetentionError> {
    // Queued access entries first, so that a run removing their conversations removes them.
    state.access.flush().await;
    // A run whose lease is lost (this node stalled past its expiry and another took the
    // organization over) stops where it is, as after a crash: the other node resumes it.
    match lock.lease().hold(locked_run(state, org, &options)).await {
        Ok(result) => result,
        Err(lost) => {
            tracing::error!(org = org.get(), %lost, "retention run stopped");
            Err(RetentionError::AlreadyRunning)
        }
    }
}

async fn locked_run(
    state: &AppState,
    org: OrgId,
    options: &RunOptions,
) -> Result<RunReport, RetentionError> {
    let rules = saved_rules(&state.db, org).await?;
    let started_at = Utc::now();
    let run_id = retention_run::Entity::insert(retention_run::ActiveModel {
        organization_id: Set(org),
        trigger: Set(options.trigger.to_owned()),
        dry_run: Set(options.dry_run),
        started_at: Set(started_at),
        finished_at: Set(None),
        counts: Set("{}".into()),
        error: Set(None),
        ..Default::default()
    })
    .exec(&state.db)
    .await?
    .last_insert_id;
    let mut report = RunReport {
        run_id: Some(run_id),
        organization_id: org.get(),
        dry_run: options.dry_run,
        ..Default::default()
    };
    let mut outcome = execute(state, org, &rules, options.dry_run, started_at, &mut report).await;
    if !options.dry_run {
        let index = finish_index(state).await;
        if outcome.is_ok() {
            outcome = index;
        }
        match super::sweep::run_once(state).await {
            Ok(swept) => report.swept = swept,
            Err(error) => tracing::error!(%error, "attachment sweep after retention failed"),
        }
        if let Err(error) = crate::db::checkpoint(&state.db).await {
            tracing::error!(%error, "WAL checkpoint after retention failed");
        }
        // The detector's compiled patterns and caches (about 35 MB after an anonymizing run)
        // and the statements the batches prepared go; the next user compiles it again.
        crate::privacy::pii::release_shared();
        crate::memory::after_job(&state.db).await;
    }
    if let Err(error) = &outcome {
        tracing::error!(%error, org = org.get(), "retention run stopped");
    }
    let error = outcome.as_ref().err().map(RetentionError::code);
    let counts = serde_json::to_string(&report.categories).unwrap_or_else(|_| "{}".into());
    retention_run::Entity::update_many()
        .col_expr(retention_run::Column::FinishedAt, Expr::val(Utc::now()))
        .col_expr(retention_run::Column::Counts, Expr::val(counts))
        .col_expr(retention_run::Column::Error, Expr::val(error))
        .filter(retention_run::Column::Id.eq(run_id))
        .exec(&state.db)
        .await?;
    if !options.dry_run {
        let event = crate::webhooks::Event::RetentionRunFinished {
            run_id,
            counts: serde_json::to_value(&report.categories).unwrap_or_default(),
            failed: error.is_some(),
        };
        // The run is done and must still be audited: a webhook that cannot be queued is
        // logged, not a reason to skip the audit entry.
        if let Err(error) = crate::webhooks::emit(&state.db, org, event).await {
            tracing::error!(%error, "retention.run_finished webhook not queued");
        }
    }
    state
        .audit
        .record(
            &state.db,
            Entry {
                org: Some(org),
                actor: options.actor.clone(),
                action: if options.dry_run {
                    "retention.dry_run"
                } else {
                    "retention.run"
                },
                target: format!("retention_run:{run_id}"),
                client: None,
                details: serde_json::json!({
                    "trigger": options.trigger,
                    "categories": &report.categories,
                    "swept_files": report.swept.orphan_files,
                    "error": error,
                }),
            },
        )
        .await?;
    outcome.map(|()| report)
}

/// Drains the search queue the run filled and purges the index, so deleted and rewritten text
/// leaves the index files. When another process (the running server) holds the index, its
/// indexer does this within a second; that is not an error.
async fn finish_index(state: &AppState) -> Result<(), RetentionError> {
    match crate::search::indexer::settle(state).await {
        Ok(Settled::Done) => Ok(()),
        Ok(Settled::HeldElsewhere) => {
            tracing::info!("retention: the server's indexer purges the search index");
            Ok(())
        }
        Err(error) => Err(RetentionError::Index(error)),
    }
}

/// For the crash tests (built only with the `test-hooks` feature): with `LETHE_TEST_RETENTION_CRASH_AFTER_BATCHES=N` the process aborts
/// right after its N-th committed batch, before that batch's attachment files are removed —
/// what a power cut at the worst moment leaves behind. Unset (always, outside tests), it does
/// nothing.
#[cfg(feature = "test-hooks")]
pub(super) fn crash_point() {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static AFTER: LazyLock<Option<u64>> = LazyLock::new(|| {
        std::env::var("LETHE_TEST_RETENTION_CRASH_AFTER_BATCHES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    });
    static COMMITTED: AtomicU64 = AtomicU64::new(0);
    if let Some(after) = *AFTER
        && COMMITTED.fetch_add(1, Ordering::SeqCst) + 1 >= after
    {
        std::process::abort();
    }
}

/// Without the `test-hooks` feature (every release build) there is no crash hook.
#[cfg(not(feature = "test-hooks"))]
pub(super) fn crash_point() {}

/// What the given rules would do now: a dry run that is not recorded (the settings preview).
pub async fn preview(
    state: &AppState,
    org: OrgId,
    rules: &[RetentionRule],
) -> Result<RunReport, RetentionError> {
    let mut report = RunReport {
        run_id: None,
        organization_id: org.get(),
        dry_run: true,
        ..Default::default()
    };
    execute(state, org, rules, true, Utc::now(), &mut report).await?;
    Ok(report)
}

/// The per-run context.
pub(super) struct Ctx<'a> {
    pub(super) state: &'a AppState,
    pub(super) org: OrgId,
    pub(super) now: DateTime<Utc>,
    pub(super) dry_run: bool,
}

async fn execute(
    state: &AppState,
    org: OrgId,
    rules: &[RetentionRule],
    dry_run: bool,
    now: DateTime<Utc>,
    report: &mut RunReport,
) -> Result<(), RetentionError> {
    let ctx = Ctx {
        state,
        org,
        now,
        dry_run,
    };
    for rule in rules {
        let mut counts = CategoryCounts {
            action: rule.action().as_str().to_owned(),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let result = match rule.category() {
            Category::ClosedConversations | Category::AnyConversation | Category::Spam => {
                categories::conversations(&ctx, rule, &mut counts).await
            }
            Category::Attachments => categories::attachments(&ctx, rule, &mut counts).await,
            Category::InternalNotes => categories::notes(&ctx, rule, &mut counts).await,
            Category::CustomersWithoutConversations => {
                categories::customers(&ctx, rule, &mut counts).await
            }
            Category::AuditLog => categories::audit_log(&ctx, rule, &mut counts).await,
            Category::AccessLog => categories::access_log(&ctx, rule, &mut counts).await,
            Category::UnsentDrafts => categories::unsent_drafts(&ctx, rule, &mut counts).await,
            Category::AssistSuggestions => {
                categories::assist_suggestions(&ctx, rule, &mut counts).await
            }
        };
        tracing::info!(
            org = org.get(),
            category = rule.category().as_str(),
            dry_run,
            seconds = started.elapsed().as_secs_f64(),
            "retention category done"
        );
        report.categories.insert(rule.category().as_str(), counts);
        result?;
    }
    Ok(())
}
