//! The retention runner: applies an organization's saved rules now. It works in batches of
//! [`BATCH`] items, each in its own transaction, so agents keep working during a large run; it
//! takes the ids that are due once and re-checks each batch (still due, not put on hold since),
//! so it is idempotent and a run cut short by a crash simply continues at the next one (the scheduler resumes it at the next start, see
//! [`scheduled_tick`]). The run lock ([`super::lock`]) keeps two runs apart.
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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, Set,
};
use serde::{Deserialize, Serialize};

use super::lock::{LockError, RunLock};
use super::{Action, Category, RetentionRule, saved_rules};
use crate::audit::{Actor, Entry};
use crate::db::entity::{
    attachment, audit_event, conversation, customer, customer_email, message, retention_run,
    retention_setting,
};
use crate::orgs::OrgId;
use crate::records;
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

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("a retention run of this organization is in progress")]
    AlreadyRunning,
    #[error("retention run failed: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("retention run: the run lock failed: {0}")]
    Lock(std::io::Error),
    #[error("retention run: the search index was not purged: {0}")]
    Index(String),
}

impl RunError {
    /// The stable code kept in the run history and the audit log (the details, which may
    /// quote database values, only go to the server log).
    pub fn code(&self) -> &'static str {
        match self {
            RunError::AlreadyRunning => "already_running",
            RunError::Database(_) => "database",
            RunError::Lock(_) => "lock",
            RunError::Index(_) => "search_index",
        }
    }
}

impl From<LockError> for RunError {
    fn from(error: LockError) -> Self {
        match error {
            LockError::Held => RunError::AlreadyRunning,
            LockError::Io(error) => RunError::Lock(error),
            LockError::Database(error) => RunError::Database(error),
        }
    }
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
pub async fn run_once(state: &AppState, org: OrgId, dry_run: bool) -> Result<RunReport, RunError> {
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
) -> Result<RunReport, RunError> {
    let lock = RunLock::acquire(state, org).await?;
    let result = locked_run(state, org, &options).await;
    lock.release(state).await;
    result
}

async fn locked_run(
    state: &AppState,
    org: OrgId,
    options: &RunOptions,
) -> Result<RunReport, RunError> {
    let rules = saved_rules(&state.db, org).await?;
    let started_at = Utc::now();
    let run_id = retention_run::Entity::insert(retention_run::ActiveModel {
        organization_id: Set(org.get()),
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
        crate::memory::release_free_memory();
    }
    if let Err(error) = &outcome {
        tracing::error!(%error, org = org.get(), "retention run stopped");
    }
    let error = outcome.as_ref().err().map(RunError::code);
    let counts = serde_json::to_string(&report.categories).unwrap_or_else(|_| "{}".into());
    retention_run::Entity::update_many()
        .col_expr(retention_run::Column::FinishedAt, Expr::val(Utc::now()))
        .col_expr(retention_run::Column::Counts, Expr::val(counts))
        .col_expr(retention_run::Column::Error, Expr::val(error))
        .filter(retention_run::Column::Id.eq(run_id))
        .exec(&state.db)
        .await?;
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
async fn finish_index(state: &AppState) -> Result<(), RunError> {
    match crate::search::indexer::settle(state).await {
        Ok(Settled::Done) => Ok(()),
        Ok(Settled::HeldElsewhere) => {
            tracing::info!("retention: the server's indexer purges the search index");
            Ok(())
        }
        Err(error) => Err(RunError::Index(error.to_string())),
    }
}

/// For the crash tests: with `LETHE_TEST_RETENTION_CRASH_AFTER_BATCHES=N` the process aborts
/// right after its N-th committed batch, before that batch's attachment files are removed —
/// what a power cut at the worst moment leaves behind. Unset (always, outside tests), it does
/// nothing.
fn crash_point() {
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

/// What the given rules would do now: a dry run that is not recorded (the settings preview).
pub async fn preview(
    state: &AppState,
    org: OrgId,
    rules: &[RetentionRule],
) -> Result<RunReport, RunError> {
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
struct Ctx<'a> {
    state: &'a AppState,
    org: OrgId,
    now: DateTime<Utc>,
    dry_run: bool,
}

async fn execute(
    state: &AppState,
    org: OrgId,
    rules: &[RetentionRule],
    dry_run: bool,
    now: DateTime<Utc>,
    report: &mut RunReport,
) -> Result<(), RunError> {
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
            Category::ClosedConversations | Category::AnyConversation => {
                conversations(&ctx, rule, &mut counts).await
            }
            Category::Attachments => attachments(&ctx, rule, &mut counts).await,
            Category::InternalNotes => notes(&ctx, rule, &mut counts).await,
            Category::CustomersWithoutConversations => customers(&ctx, rule, &mut counts).await,
            Category::AuditLog => audit_log(&ctx, rule, &mut counts).await,
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

// ---- selections -------------------------------------------------------------------------

/// The organization's customers on hold or restricted (a restriction of processing keeps the
/// data like a hold, src/privacy/restrict.rs), as SQL. A union rather than an `OR`, so that
/// each half is answered from its (partial) index instead of a walk over every customer —
/// this runs once per batch.
fn held_customers_sql(org: OrgId) -> String {
    let org = org.get();
    format!(
        "SELECT id FROM customers WHERE organization_id = {org} AND legal_hold_reason IS NOT NULL \
         UNION SELECT id FROM customers WHERE organization_id = {org} AND restricted_at IS NOT NULL"
    )
}

/// The organization's conversations on legal hold, or whose customer is, as SQL.
fn held_conversations_sql(org: OrgId) -> String {
    format!(
        "SELECT id FROM conversations WHERE organization_id = {} AND legal_hold_reason IS NOT NULL \
         UNION SELECT id FROM conversations WHERE customer_id IN ({})",
        org.get(),
        held_customers_sql(org)
    )
}

/// Conversations on legal hold, or whose customer is on hold or restricted.
fn held_conversation(org: OrgId) -> SimpleExpr {
    Expr::cust(format!(
        "(conversations.legal_hold_reason IS NOT NULL OR conversations.customer_id IN ({}))",
        held_customers_sql(org)
    ))
}

fn free_conversation(org: OrgId) -> SimpleExpr {
    Expr::cust(format!(
        "(conversations.legal_hold_reason IS NULL AND conversations.customer_id NOT IN ({}))",
        held_customers_sql(org)
    ))
}

/// Messages (`messages.conversation_id`) in a held conversation, or (`held` false) not.
fn in_held_conversation(org: OrgId, held: bool) -> SimpleExpr {
    let not = if held { "" } else { "NOT " };
    Expr::cust(format!(
        "messages.conversation_id {not}IN ({})",
        held_conversations_sql(org)
    ))
}

/// The ids a selection finds due now, in id order: taken once per category, then each chunk
/// of [`BATCH`] is re-checked by id ([`Lookup::Ids`]) in its own transaction.
async fn due_ids<E: EntityTrait>(
    db: &impl ConnectionTrait,
    due: Select<E>,
    id: E::Column,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    due.select_only()
        .column(id)
        .order_by_asc(id)
        .into_tuple()
        .all(db)
        .await
}

/// How a selection finds its rows: by walking the organization's rows, or (re-checking a chunk
/// of ids that were due) by id.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    Scan,
    Ids,
}

/// The organization term of a selection; for [`Lookup::Ids`] the one of a lookup by listed ids
/// ([`crate::db::org_check`]), so a batch is not found by walking the organization.
pub(super) fn org_term(table: &str, org: OrgId, lookup: Lookup) -> SimpleExpr {
    match lookup {
        Lookup::Ids => crate::db::org_check(table, org),
        Lookup::Scan => Expr::cust(format!("{table}.organization_id = {}", org.get())),
    }
}

/// The conversations a conversation rule finds due, held or not.
fn due_conversations(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    lookup: Lookup,
) -> Select<conversation::Entity> {
    let cutoff = rule.cutoff(ctx.now);
    let mut query = conversation::Entity::find().filter(org_term("conversations", ctx.org, lookup));
    query = match rule.category() {
        Category::ClosedConversations => query
            .filter(conversation::Column::Status.eq("closed"))
            .filter(conversation::Column::ClosedAt.lt(cutoff)),
        _ => query.filter(conversation::Column::LastActivityAt.lt(cutoff)),
    };
    if rule.action() == Action::Anonymize {
        query = query.filter(Expr::cust("conversations.anonymized_at IS NULL"));
    }
    query
}

fn messages_of(conversations: Select<conversation::Entity>) -> sea_orm::sea_query::SelectStatement {
    message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(
            message::Column::ConversationId.in_subquery(
                conversations
                    .select_only()
                    .column(conversation::Column::Id)
                    .into_query(),
            ),
        )
        .into_query()
}

async fn count_distinct_customers(
    db: &impl ConnectionTrait,
    query: Select<conversation::Entity>,
) -> Result<u64, sea_orm::DbErr> {
    let n: Option<i64> = query
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT conversations.customer_id)"), "n")
        .into_tuple()
        .one(db)
        .await?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

// ---- conversations ----------------------------------------------------------------------

async fn conversations(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RunError> {
    let db = &ctx.state.db;
    let due = due_conversations(ctx, rule, Lookup::Scan);
    counts.skipped_legal_hold = due
        .clone()
        .filter(held_conversation(ctx.org))
        .count(db)
        .await?;
    let free = due.filter(free_conversation(ctx.org));
    if ctx.dry_run {
        counts.conversations = free.clone().count(db).await?;
        counts.customers = count_distinct_customers(db, free.clone()).await?;
        let messages = messages_of(free);
        counts.messages = message::Entity::find()
            .filter(message::Column::Id.in_subquery(messages.clone()))
            .count(db)
            .await?;
        counts.attachments = attachment::Entity::find()
            .filter(attachment::Column::MessageId.in_subquery(messages))
            .count(db)
            .await?;
        return Ok(());
    }
    let mut customers_seen = BTreeSet::new();
    let due = due_ids(db, free.clone(), conversation::Column::Id).await?;
    for chunk in due.chunks(BATCH) {
        // Still due (and not put on hold since)?
        let batch = due_conversations(ctx, rule, Lookup::Ids)
            .filter(free_conversation(ctx.org))
            .filter(conversation::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(conversation::Column::Id)
            .all(db)
            .await?;
        if batch.is_empty() {
            continue;
        }
        let txn = crate::db::begin_write(db).await?;
        let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
        counts.conversations += ids.len() as u64;
        customers_seen.extend(batch.iter().map(|c| c.customer_id));
        let files = match rule.action() {
            Action::Delete => {
                let (removed, files) = records::delete_conversations(&txn, ctx.org, &ids).await?;
                counts.messages += removed.messages;
                counts.attachments += removed.attachments;
                files
            }
            Action::Anonymize => {
                let (rewritten, removed, files) =
                    super::anonymize::conversations(&txn, ctx.org, ctx.now, &batch).await?;
                counts.messages += rewritten;
                counts.attachments += removed.attachments;
                files
            }
        };
        txn.commit().await?;
        crash_point();
        remove_files(ctx.state, files).await;
    }
    counts.customers = customers_seen.len() as u64;
    Ok(())
}

// ---- attachments ------------------------------------------------------------------------

async fn attachments(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RunError> {
    let db = &ctx.state.db;
    let old_messages = |held: bool, among: Option<&[i64]>| {
        let lookup = if among.is_some() {
            Lookup::Ids
        } else {
            Lookup::Scan
        };
        let mut query = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(org_term("messages", ctx.org, lookup))
            .filter(message::Column::CreatedAt.lt(rule.cutoff(ctx.now)));
        if let Some(ids) = among {
            query = query.filter(message::Column::Id.is_in(ids.iter().copied()));
        }
        query = query.filter(in_held_conversation(ctx.org, held));
        query.into_query()
    };
    let scoped =
        attachment::Entity::find().filter(attachment::Column::OrganizationId.eq(ctx.org.get()));
    counts.skipped_legal_hold = scoped
        .clone()
        .filter(attachment::Column::MessageId.in_subquery(old_messages(true, None)))
        .count(db)
        .await?;
    let free = scoped
        .clone()
        .filter(attachment::Column::MessageId.in_subquery(old_messages(false, None)));
    if ctx.dry_run {
        counts.attachments = free.count(db).await?;
        return Ok(());
    }
    let due: Vec<(i64, i64)> = free
        .select_only()
        .column(attachment::Column::Id)
        .column(attachment::Column::MessageId)
        .order_by_asc(attachment::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for chunk in due.chunks(BATCH) {
        // Still due (and not put on hold since)? The message check is limited to the chunk's
        // messages, so it does not walk the whole message table per batch.
        let (ids, message_ids): (Vec<i64>, Vec<i64>) = chunk.iter().copied().unzip();
        let batch: Vec<(i64, String)> = attachment::Entity::find()
            .filter(org_term("attachments", ctx.org, Lookup::Ids))
            .select_only()
            .column(attachment::Column::Id)
            .column(attachment::Column::BlobId)
            .filter(attachment::Column::Id.is_in(ids))
            .filter(
                attachment::Column::MessageId
                    .in_subquery(old_messages(false, Some(message_ids.as_slice()))),
            )
            .into_tuple()
            .all(db)
            .await?;
        if batch.is_empty() {
            continue;
        }
        let ids: Vec<i64> = batch.into_iter().map(|(id, _)| id).collect();
        let (removed, files) = records::delete_attachments(db, ctx.org, &ids).await?;
        counts.attachments += removed.attachments;
        crash_point();
        remove_files(ctx.state, files).await;
    }
    Ok(())
}

/// Removes the batch's files that no attachment row (of any organization: files are shared
/// by content) refers to any more. A failure is logged and the run goes on; the hourly sweep
/// removes what is left.
async fn remove_files(state: &AppState, files: records::Files) {
    if let Err(error) = records::remove_unreferenced_files(&state.db, &state.blobs, files).await {
        tracing::error!(%error, "cannot check the attachment files' use");
    }
}

// ---- internal notes ---------------------------------------------------------------------

/// What the notes rule reads of a note.
#[derive(sea_orm::FromQueryResult)]
struct Note {
    id: i64,
    conversation_id: i64,
    text_body: String,
}

async fn notes(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RunError> {
    let db = &ctx.state.db;
    let due_notes = |lookup: Lookup| {
        let mut due = message::Entity::find()
            .filter(org_term("messages", ctx.org, lookup))
            .filter(message::Column::Direction.eq("note"))
            .filter(message::Column::CreatedAt.lt(rule.cutoff(ctx.now)));
        if rule.action() == Action::Anonymize {
            due = due.filter(Expr::cust("messages.anonymized_at IS NULL"));
        }
        due
    };
    let due = due_notes(Lookup::Scan);
    counts.skipped_legal_hold = due
        .clone()
        .filter(in_held_conversation(ctx.org, true))
        .count(db)
        .await?;
    let free = due.filter(in_held_conversation(ctx.org, false));
    if ctx.dry_run {
        counts.notes = free.count(db).await?;
        return Ok(());
    }
    let due = due_ids(db, free.clone(), message::Column::Id).await?;
    for chunk in due.chunks(BATCH) {
        // Still due (and not put on hold since)?
        let batch: Vec<Note> = due_notes(Lookup::Ids)
            .filter(in_held_conversation(ctx.org, false))
            .select_only()
            .column(message::Column::Id)
            .column(message::Column::ConversationId)
            .column(message::Column::TextBody)
            .filter(message::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(message::Column::Id)
            .into_model()
            .all(db)
            .await?;
        if batch.is_empty() {
            continue;
        }
        counts.notes += batch.len() as u64;
        let mut pending_files = records::Files::default();
        let txn = crate::db::begin_write(db).await?;
        match rule.action() {
            Action::Delete => {
                let ids: Vec<i64> = batch.iter().map(|m| m.id).collect();
                // Notes carry no attachments; were one to, its file would go with it.
                let (_, files) = records::delete_messages(&txn, ctx.org, &ids).await?;
                pending_files.extend(files);
            }
            Action::Anonymize => {
                let customer_of: HashMap<i64, i64> = conversation::Entity::find()
                    .select_only()
                    .column(conversation::Column::Id)
                    .column(conversation::Column::CustomerId)
                    .filter(org_term("conversations", ctx.org, Lookup::Ids))
                    .filter(conversation::Column::Id.is_in(batch.iter().map(|n| n.conversation_id)))
                    .into_tuple::<(i64, i64)>()
                    .all(&txn)
                    .await?
                    .into_iter()
                    .collect();
                let customers: BTreeSet<i64> = customer_of.values().copied().collect();
                let known = super::anonymize::known_values(&txn, &customers).await?;
                for note in &batch {
                    let known = customer_of
                        .get(&note.conversation_id)
                        .and_then(|c| known.get(c))
                        .map_or(&[][..], |(_, k)| k.as_slice());
                    txn.execute(
                        &Query::update()
                            .table(message::Entity)
                            .value(
                                message::Column::TextBody,
                                super::anonymize::redact(&note.text_body, known),
                            )
                            .value(Alias::new("anonymized_at"), ctx.now)
                            .and_where(message::Column::Id.eq(note.id))
                            .to_owned(),
                    )
                    .await?;
                }
            }
        }
        txn.commit().await?;
        crash_point();
        remove_files(ctx.state, pending_files).await;
    }
    Ok(())
}

// ---- customers without conversations ----------------------------------------------------

async fn customers(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RunError> {
    let db = &ctx.state.db;
    let due_customers = |lookup: Lookup| {
        let mut due = customer::Entity::find()
            .filter(org_term("customers", ctx.org, lookup))
            .filter(customer::Column::CreatedAt.lt(rule.cutoff(ctx.now)))
            .filter(Expr::cust(
                "NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = customers.id)",
            ));
        if rule.action() == Action::Anonymize {
            due = due.filter(Expr::cust("customers.anonymized_at IS NULL"));
        }
        due
    };
    let due = due_customers(Lookup::Scan);
    counts.skipped_legal_hold = due
        .clone()
        .filter(Expr::cust(
            "(customers.legal_hold_reason IS NOT NULL OR customers.restricted_at IS NOT NULL)",
        ))
        .count(db)
        .await?;
    let not_held =
        || Expr::cust("customers.legal_hold_reason IS NULL AND customers.restricted_at IS NULL");
    let free = due.filter(not_held());
    if ctx.dry_run {
        counts.customers = free.count(db).await?;
        return Ok(());
    }
    let due = due_ids(db, free.clone(), customer::Column::Id).await?;
    for chunk in due.chunks(BATCH) {
        // Still due (and not put on hold since)?
        let ids: Vec<i64> = due_customers(Lookup::Ids)
            .filter(not_held())
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(customer::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            continue;
        }
        counts.customers += ids.len() as u64;
        let mut files = records::Files::default();
        let txn = crate::db::begin_write(db).await?;
        match rule.action() {
            Action::Delete => {
                // They have no conversations (the rule's condition), so no files either, but
                // whatever the deletion reports goes the usual way.
                files = records::delete_customers(&txn, ctx.org, &ids).await?.1;
            }
            Action::Anonymize => {
                customer_email::Entity::delete_many()
                    .filter(org_term("customer_emails", ctx.org, Lookup::Ids))
                    .filter(customer_email::Column::CustomerId.is_in(ids.clone()))
                    .exec(&txn)
                    .await?;
                for id in ids {
                    txn.execute(
                        &Query::update()
                            .table(customer::Entity)
                            .value(customer::Column::DisplayName, super::anonymize::pseudonym())
                            .value(customer::Column::Phone, None::<String>)
                            .value(customer::Column::PostalAddress, None::<String>)
                            .value(Alias::new("anonymized_at"), ctx.now)
                            .and_where(customer::Column::Id.eq(id))
                            .to_owned(),
                    )
                    .await?;
                }
            }
        }
        txn.commit().await?;
        crash_point();
        remove_files(ctx.state, files).await;
    }
    Ok(())
}

// ---- audit log --------------------------------------------------------------------------

/// Removes the organization's entries older than the rule, wherever they sit in the chain
/// shared by all organizations (see `crate::audit::Removal`).
async fn audit_log(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RunError> {
    let db = &ctx.state.db;
    let cutoff = rule.cutoff(ctx.now);
    let removal = crate::audit::Removal::OlderThan {
        org: ctx.org,
        cutoff,
    };
    if ctx.dry_run {
        counts.audit_events = audit_event::Entity::find()
            .filter(audit_event::Column::OrganizationId.eq(ctx.org.get()))
            .filter(audit_event::Column::OccurredAt.lt(cutoff))
            .count(db)
            .await?;
        return Ok(());
    }
    // Entries of other organizations, and entries without one (failed logins of unknown
    // addresses), stay where they are: the audit log anchors the gaps the removed entries
    // leave and records the pruning, so the chain still verifies from its oldest kept row.
    let org = ctx.org;
    counts.audit_events = ctx
        .state
        .audit
        .remove(db, removal, |removed| Entry {
            org: Some(org),
            actor: Actor::System("retention"),
            action: "audit.pruned",
            target: "audit_log".to_owned(),
            client: None,
            details: serde_json::json!({
                "removed": removed,
                "older_than": cutoff.to_rfc3339(),
            }),
        })
        .await?;
    Ok(())
}

// ---- the schedule -----------------------------------------------------------------------

/// Why a tick starts an organization's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Due {
    /// A scheduled time passed since the last handled one (or was missed while down).
    Schedule,
    /// A run of the organization died before it finished (its history row is unfinished).
    Resume,
}

async fn has_interrupted_run(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<bool, sea_orm::DbErr> {
    Ok(retention_run::Entity::find()
        .filter(retention_run::Column::OrganizationId.eq(org.get()))
        .filter(retention_run::Column::FinishedAt.is_null())
        .filter(retention_run::Column::DryRun.eq(false))
        .count(db)
        .await?
        > 0)
}

/// One scheduler tick (every minute, and once at start): every organization whose schedule
/// had a time since the last handled one — including times missed while the server was down —
/// and every organization with an interrupted run, runs now. A scheduled time counts as
/// handled only once its run finished (or failed with a recorded error): a run the process
/// did not live to finish is resumed at the next tick, and a time that found another run in
/// progress is taken up at the next tick after that run ends. Returns the runs finished.
pub async fn scheduled_tick(state: &AppState) -> Result<u32, sea_orm::DbErr> {
    let now = Utc::now();
    let settings = retention_setting::Entity::find().all(&state.db).await?;
    let mut finished = 0;
    for setting in settings {
        let org = OrgId::from_db(setting.organization_id);
        let Ok(schedule) = super::schedule::Schedule::parse(&setting.schedule) else {
            tracing::warn!(
                org = org.get(),
                "invalid retention schedule stored; skipped"
            );
            continue;
        };
        let since = setting.schedule_checked_at.unwrap_or(setting.created_at);
        let due = if schedule.due_between(since, now) {
            Due::Schedule
        } else if has_interrupted_run(&state.db, org).await? {
            Due::Resume
        } else {
            continue;
        };
        let handled = if saved_rules(&state.db, org).await?.is_empty() {
            true
        } else {
            let options = RunOptions {
                dry_run: false,
                trigger: match due {
                    Due::Schedule => "schedule",
                    Due::Resume => "resume",
                },
                actor: Actor::System("retention"),
            };
            match run_with(state, org, options).await {
                Ok(_) => {
                    finished += 1;
                    true
                }
                Err(RunError::AlreadyRunning) => {
                    tracing::info!(
                        org = org.get(),
                        "retention run in progress; the scheduled run waits for it"
                    );
                    false
                }
                Err(error) => {
                    // Recorded in the history with its error; the next time is the next try.
                    tracing::error!(%error, org = org.get(), "scheduled retention run failed");
                    true
                }
            }
        };
        if handled && due == Due::Schedule {
            retention_setting::Entity::update_many()
                .col_expr(retention_setting::Column::ScheduleCheckedAt, Expr::val(now))
                .filter(retention_setting::Column::OrganizationId.eq(org.get()))
                .exec(&state.db)
                .await?;
        }
    }
    Ok(finished)
}
