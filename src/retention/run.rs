//! The retention runner: applies an organization's saved rules now. It works in batches of
//! [`BATCH`] items, each in its own transaction, so agents keep working during a large run; it
//! selects what is still due every batch, so it is idempotent and a run cut short by a crash
//! simply continues at the next one. A lock row per organization keeps two runs apart.
//!
//! Delete removes the rows (attachments, tags and outbox rows go with their messages) and the
//! attachment files no row refers to any more, then checkpoints SQLite's WAL. Anonymize
//! rewrites subjects, bodies, names and addresses with the PII detector, removes attachments
//! and moves the conversation to a new pseudonymous customer ("Customer 7F3A") with no mapping
//! back; timestamps, status, tags, channel and counts stay. Items on legal hold are skipped
//! and counted. The search queue triggers re-index every change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{Action, Category, RetentionRule, saved_rules};
use crate::app::AppState;
use crate::audit::{Actor, Entry};
use crate::db::entity::{
    attachment, audit_event, conversation, customer, customer_email, message, retention_run,
    retention_setting,
};
use crate::orgs::OrgId;
use crate::privacy::pii::{Detector, KnownValue, PiiKind};

/// Conversations (or attachments, notes, customers) per transaction.
pub const BATCH: u64 = 200;
/// A lock older than this belongs to a run that died; runs refresh it every batch.
const STALE_LOCK_MINUTES: i64 = 30;

static DETECTOR: LazyLock<Detector> = LazyLock::new(Detector::new);

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
    /// `manual`, `schedule` or `cli`.
    pub trigger: &'static str,
    pub actor: Actor,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("a retention run of this organization is in progress")]
    AlreadyRunning,
    #[error("retention run failed: {0}")]
    Database(#[from] sea_orm::DbErr),
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

/// Applies the saved rules, recorded in the run history and the audit log.
pub async fn run_with(
    state: &AppState,
    org: OrgId,
    options: RunOptions,
) -> Result<RunReport, RunError> {
    let rules = saved_rules(&state.db, org).await?;
    let started_at = Utc::now();
    if !options.dry_run {
        acquire_lock(&state.db, org, started_at).await?;
    }
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
    .await;
    let run_id = match run_id {
        Ok(inserted) => inserted.last_insert_id,
        Err(error) => {
            release_lock(&state.db, org).await;
            return Err(error.into());
        }
    };
    let mut report = RunReport {
        run_id: Some(run_id),
        organization_id: org.get(),
        dry_run: options.dry_run,
        categories: BTreeMap::new(),
    };
    let outcome = execute(state, org, &rules, options.dry_run, started_at, &mut report).await;
    if !options.dry_run {
        if let Err(error) = crate::db::checkpoint(&state.db).await {
            tracing::error!(%error, "WAL checkpoint after retention failed");
        }
        release_lock(&state.db, org).await;
    }
    let error = outcome.as_ref().err().map(ToString::to_string);
    let counts = serde_json::to_string(&report.categories).unwrap_or_else(|_| "{}".into());
    retention_run::Entity::update_many()
        .col_expr(retention_run::Column::FinishedAt, Expr::val(Utc::now()))
        .col_expr(retention_run::Column::Counts, Expr::val(counts))
        .col_expr(retention_run::Column::Error, Expr::val(error.clone()))
        .filter(retention_run::Column::Id.eq(run_id))
        .exec(&state.db)
        .await?;
    state
        .audit
        .record(
            &state.db,
            Entry {
                org: Some(org),
                actor: options.actor,
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
                    "error": error,
                }),
            },
        )
        .await?;
    outcome.map(|()| report)
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
        categories: BTreeMap::new(),
    };
    execute(state, org, rules, true, Utc::now(), &mut report).await?;
    Ok(report)
}

async fn acquire_lock(
    db: &impl ConnectionTrait,
    org: OrgId,
    now: DateTime<Utc>,
) -> Result<(), RunError> {
    super::ensure_settings(db, org).await?;
    let taken = retention_setting::Entity::update_many()
        .col_expr(retention_setting::Column::RunningSince, Expr::val(now))
        .filter(retention_setting::Column::OrganizationId.eq(org.get()))
        .filter(
            Condition::any()
                .add(retention_setting::Column::RunningSince.is_null())
                .add(
                    retention_setting::Column::RunningSince
                        .lt(now - Duration::minutes(STALE_LOCK_MINUTES)),
                ),
        )
        .exec(db)
        .await?
        .rows_affected;
    if taken == 0 {
        Err(RunError::AlreadyRunning)
    } else {
        Ok(())
    }
}

async fn heartbeat(db: &impl ConnectionTrait, org: OrgId) -> Result<(), sea_orm::DbErr> {
    retention_setting::Entity::update_many()
        .col_expr(
            retention_setting::Column::RunningSince,
            Expr::val(Utc::now()),
        )
        .filter(retention_setting::Column::OrganizationId.eq(org.get()))
        .exec(db)
        .await?;
    Ok(())
}

async fn release_lock(db: &impl ConnectionTrait, org: OrgId) {
    let released = retention_setting::Entity::update_many()
        .col_expr(
            retention_setting::Column::RunningSince,
            Expr::val(Option::<DateTime<Utc>>::None),
        )
        .filter(retention_setting::Column::OrganizationId.eq(org.get()))
        .exec(db)
        .await;
    if let Err(error) = released {
        tracing::error!(%error, org = org.get(), "cannot release the retention lock");
    }
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
        let result = match rule.category() {
            Category::ClosedConversations | Category::AnyConversation => {
                conversations(&ctx, rule, &mut counts).await
            }
            Category::Attachments => attachments(&ctx, rule, &mut counts).await,
            Category::InternalNotes => notes(&ctx, rule, &mut counts).await,
            Category::CustomersWithoutConversations => customers(&ctx, rule, &mut counts).await,
            Category::AuditLog => audit_log(&ctx, rule, &mut counts).await,
        };
        report.categories.insert(rule.category().as_str(), counts);
        result?;
    }
    Ok(())
}

// ---- selections -------------------------------------------------------------------------

/// Conversations on legal hold, or whose customer is on hold or restricted (a restriction
/// of processing keeps the data like a hold, src/privacy/restrict.rs).
fn held_conversation(org: OrgId) -> SimpleExpr {
    Expr::cust(format!(
        "(conversations.legal_hold_reason IS NOT NULL OR conversations.customer_id IN \
         (SELECT id FROM customers WHERE organization_id = {} AND (legal_hold_reason IS NOT NULL \
         OR restricted_at IS NOT NULL)))",
        org.get()
    ))
}

fn free_conversation(org: OrgId) -> SimpleExpr {
    Expr::cust(format!(
        "(conversations.legal_hold_reason IS NULL AND conversations.customer_id NOT IN \
         (SELECT id FROM customers WHERE organization_id = {} AND (legal_hold_reason IS NOT NULL \
         OR restricted_at IS NOT NULL)))",
        org.get()
    ))
}

fn held_conversation_ids(org: OrgId) -> sea_orm::sea_query::SelectStatement {
    conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::OrganizationId.eq(org.get()))
        .filter(held_conversation(org))
        .into_query()
}

/// The conversations a conversation rule finds due, held or not.
fn due_conversations(ctx: &Ctx<'_>, rule: &RetentionRule) -> Select<conversation::Entity> {
    let cutoff = rule.cutoff(ctx.now);
    let mut query =
        conversation::Entity::find().filter(conversation::Column::OrganizationId.eq(ctx.org.get()));
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
    let due = due_conversations(ctx, rule);
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
    loop {
        let batch = free
            .clone()
            .order_by_asc(conversation::Column::Id)
            .limit(BATCH)
            .all(db)
            .await?;
        if batch.is_empty() {
            break;
        }
        let txn = db.begin().await?;
        let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
        let in_batch =
            conversation::Entity::find().filter(conversation::Column::Id.is_in(ids.clone()));
        let blob_ids: Vec<String> = attachment::Entity::find()
            .select_only()
            .column(attachment::Column::BlobId)
            .filter(attachment::Column::MessageId.in_subquery(messages_of(in_batch.clone())))
            .into_tuple()
            .all(&txn)
            .await?;
        counts.attachments += blob_ids.len() as u64;
        counts.conversations += ids.len() as u64;
        match rule.action() {
            Action::Delete => {
                counts.messages += message::Entity::find()
                    .filter(message::Column::ConversationId.is_in(ids.clone()))
                    .count(&txn)
                    .await?;
                customers_seen.extend(batch.iter().map(|c| c.customer_id));
                conversation::Entity::delete_many()
                    .filter(conversation::Column::OrganizationId.eq(ctx.org.get()))
                    .filter(conversation::Column::Id.is_in(ids))
                    .exec(&txn)
                    .await?;
            }
            Action::Anonymize => {
                let mut by_customer: HashMap<i64, Vec<conversation::Model>> = HashMap::new();
                for conversation in batch {
                    by_customer
                        .entry(conversation.customer_id)
                        .or_default()
                        .push(conversation);
                }
                for (customer_id, conversations) in by_customer {
                    customers_seen.insert(customer_id);
                    counts.messages +=
                        anonymize_customer_conversations(ctx, &txn, customer_id, &conversations)
                            .await?;
                }
            }
        }
        txn.commit().await?;
        delete_unreferenced_blobs(ctx.state, blob_ids).await;
        heartbeat(db, ctx.org).await?;
    }
    counts.customers = customers_seen.len() as u64;
    Ok(())
}

/// The customer record's values, to be found wherever they appear.
async fn known_values(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<(Option<customer::Model>, Vec<KnownValue>), sea_orm::DbErr> {
    let record = customer::Entity::find_by_id(customer_id).one(db).await?;
    let emails = customer_email::Entity::find()
        .filter(customer_email::Column::CustomerId.eq(customer_id))
        .all(db)
        .await?;
    let mut known = Vec::new();
    if let Some(record) = &record {
        known.extend(crate::privacy::pii::record_values(
            record.phone.as_deref(),
            record.postal_address.as_deref(),
        ));
        let name = record.display_name.trim();
        if !name.is_empty() {
            known.push(KnownValue::new(PiiKind::Name, name));
            for part in name.split_whitespace() {
                if part.chars().count() >= 2 {
                    known.push(KnownValue::new(PiiKind::Name, part));
                }
            }
        }
    }
    for email in emails {
        if let Some((local, _)) = email.email.split_once('@')
            && local.chars().count() >= 3
        {
            known.push(KnownValue::new(PiiKind::Email, local));
        }
        known.push(KnownValue::new(PiiKind::Email, email.email));
    }
    Ok((record, known))
}

/// "Customer 7F3A": random, so nothing leads back.
fn pseudonym() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    format!("Customer {}", hex::encode_upper(&bytes[..2]))
}

/// Anonymizes conversations of one customer inside the batch transaction; returns the number
/// of messages rewritten. The customer record goes when no conversation of theirs remains.
async fn anonymize_customer_conversations(
    ctx: &Ctx<'_>,
    txn: &impl ConnectionTrait,
    customer_id: i64,
    conversations: &[conversation::Model],
) -> Result<u64, sea_orm::DbErr> {
    let (record, known) = known_values(txn, customer_id).await?;
    let name = pseudonym();
    let created_at = record.as_ref().map(|r| r.created_at).unwrap_or(ctx.now);
    let anonymous = customer::Entity::insert(customer::ActiveModel {
        organization_id: Set(ctx.org.get()),
        display_name: Set(name.clone()),
        created_at: Set(created_at),
        ..Default::default()
    })
    .exec(txn)
    .await?
    .last_insert_id;
    txn.execute(
        &Query::update()
            .table(customer::Entity)
            .value(Alias::new("anonymized_at"), ctx.now)
            .and_where(customer::Column::Id.eq(anonymous))
            .to_owned(),
    )
    .await?;
    let mut rewritten = 0;
    for conversation in conversations {
        rewritten +=
            anonymize_conversation(ctx, txn, conversation, &known, anonymous, &name).await?;
    }
    let remaining = conversation::Entity::find()
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .count(txn)
        .await?;
    if remaining == 0 {
        customer::Entity::delete_many()
            .filter(customer::Column::OrganizationId.eq(ctx.org.get()))
            .filter(customer::Column::Id.eq(customer_id))
            .exec(txn)
            .await?;
    }
    Ok(rewritten)
}

fn redact(text: &str, known: &[KnownValue]) -> String {
    DETECTOR.redact(text, known)
}

async fn anonymize_conversation(
    ctx: &Ctx<'_>,
    txn: &impl ConnectionTrait,
    conversation: &conversation::Model,
    known: &[KnownValue],
    anonymous_customer: i64,
    pseudonym: &str,
) -> Result<u64, sea_orm::DbErr> {
    let messages = message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation.id))
        .all(txn)
        .await?;
    let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    attachment::Entity::delete_many()
        .filter(attachment::Column::MessageId.is_in(ids))
        .exec(txn)
        .await?;
    for m in &messages {
        let from_customer = m.direction == "inbound";
        let (from_name, from_address) = if from_customer {
            (pseudonym.to_owned(), String::new())
        } else {
            (redact(&m.from_name, known), redact(&m.from_address, known))
        };
        let statement = Query::update()
            .table(message::Entity)
            .values([
                (message::Column::Subject, redact(&m.subject, known).into()),
                (
                    message::Column::TextBody,
                    redact(&m.text_body, known).into(),
                ),
                (
                    message::Column::HtmlBody,
                    m.html_body.as_deref().map(|h| redact(h, known)).into(),
                ),
                (message::Column::FromName, from_name.into()),
                (message::Column::FromAddress, from_address.into()),
                (
                    message::Column::ToAddresses,
                    redact(&m.to_addresses, known).into(),
                ),
                (
                    message::Column::CcAddresses,
                    redact(&m.cc_addresses, known).into(),
                ),
                // Message-IDs often carry the sender's domain or name: replaced, still unique.
                (
                    message::Column::MessageIdHeader,
                    format!(
                        "anon.{}@lethe.invalid",
                        &crate::crypto::random_token()[..24]
                    )
                    .into(),
                ),
                (message::Column::InReplyTo, String::new().into()),
                (message::Column::ReferencesHeader, String::new().into()),
                (message::Column::ParseNotes, "[]".to_owned().into()),
                (
                    message::Column::DeliveryError,
                    m.delivery_error.as_deref().map(|e| redact(e, known)).into(),
                ),
            ])
            .value(Alias::new("anonymized_at"), ctx.now)
            .and_where(message::Column::Id.eq(m.id))
            .to_owned();
        txn.execute(&statement).await?;
    }
    txn.execute(
        &Query::update()
            .table(conversation::Entity)
            .value(
                conversation::Column::Subject,
                redact(&conversation.subject, known),
            )
            .value(conversation::Column::CustomerId, anonymous_customer)
            .value(Alias::new("anonymized_at"), ctx.now)
            .and_where(conversation::Column::Id.eq(conversation.id))
            .and_where(conversation::Column::OrganizationId.eq(ctx.org.get()))
            .to_owned(),
    )
    .await?;
    Ok(messages.len() as u64)
}

// ---- attachments ------------------------------------------------------------------------

async fn attachments(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RunError> {
    let db = &ctx.state.db;
    let old_messages = |held: bool| {
        let mut query = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::OrganizationId.eq(ctx.org.get()))
            .filter(message::Column::CreatedAt.lt(rule.cutoff(ctx.now)));
        query = if held {
            query
                .filter(message::Column::ConversationId.in_subquery(held_conversation_ids(ctx.org)))
        } else {
            query.filter(
                message::Column::ConversationId.not_in_subquery(held_conversation_ids(ctx.org)),
            )
        };
        query.into_query()
    };
    let scoped =
        attachment::Entity::find().filter(attachment::Column::OrganizationId.eq(ctx.org.get()));
    counts.skipped_legal_hold = scoped
        .clone()
        .filter(attachment::Column::MessageId.in_subquery(old_messages(true)))
        .count(db)
        .await?;
    let free = scoped.filter(attachment::Column::MessageId.in_subquery(old_messages(false)));
    if ctx.dry_run {
        counts.attachments = free.count(db).await?;
        return Ok(());
    }
    loop {
        let batch: Vec<(i64, String)> = free
            .clone()
            .select_only()
            .column(attachment::Column::Id)
            .column(attachment::Column::BlobId)
            .order_by_asc(attachment::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if batch.is_empty() {
            break;
        }
        let (ids, blob_ids): (Vec<i64>, Vec<String>) = batch.into_iter().unzip();
        counts.attachments += ids.len() as u64;
        attachment::Entity::delete_many()
            .filter(attachment::Column::OrganizationId.eq(ctx.org.get()))
            .filter(attachment::Column::Id.is_in(ids))
            .exec(db)
            .await?;
        delete_unreferenced_blobs(ctx.state, blob_ids).await;
        heartbeat(db, ctx.org).await?;
    }
    Ok(())
}

/// Removes the sealed files that no attachment row (of any organization: files are shared
/// by content) refers to any more. A failure is logged and the run goes on.
async fn delete_unreferenced_blobs(state: &AppState, blob_ids: Vec<String>) {
    let unique: BTreeSet<String> = blob_ids.into_iter().collect();
    for blob_id in unique {
        let still_used = attachment::Entity::find()
            .filter(attachment::Column::BlobId.eq(blob_id.as_str()))
            .count(&state.db)
            .await;
        match still_used {
            Ok(0) => {
                if let Err(error) = state.blobs.delete(&blob_id) {
                    tracing::error!(%error, "cannot remove an attachment file");
                }
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "cannot check an attachment file's use"),
        }
    }
}

// ---- internal notes ---------------------------------------------------------------------

async fn notes(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RunError> {
    let db = &ctx.state.db;
    let mut due = message::Entity::find()
        .filter(message::Column::OrganizationId.eq(ctx.org.get()))
        .filter(message::Column::Direction.eq("note"))
        .filter(message::Column::CreatedAt.lt(rule.cutoff(ctx.now)));
    if rule.action() == Action::Anonymize {
        due = due.filter(Expr::cust("messages.anonymized_at IS NULL"));
    }
    counts.skipped_legal_hold = due
        .clone()
        .filter(message::Column::ConversationId.in_subquery(held_conversation_ids(ctx.org)))
        .count(db)
        .await?;
    let free =
        due.filter(message::Column::ConversationId.not_in_subquery(held_conversation_ids(ctx.org)));
    if ctx.dry_run {
        counts.notes = free.count(db).await?;
        return Ok(());
    }
    loop {
        let batch = free
            .clone()
            .order_by_asc(message::Column::Id)
            .limit(BATCH)
            .all(db)
            .await?;
        if batch.is_empty() {
            break;
        }
        counts.notes += batch.len() as u64;
        let txn = db.begin().await?;
        match rule.action() {
            Action::Delete => {
                message::Entity::delete_many()
                    .filter(message::Column::OrganizationId.eq(ctx.org.get()))
                    .filter(message::Column::Id.is_in(batch.iter().map(|m| m.id)))
                    .exec(&txn)
                    .await?;
            }
            Action::Anonymize => {
                let mut known_by_conversation: HashMap<i64, Vec<KnownValue>> = HashMap::new();
                for note in &batch {
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        known_by_conversation.entry(note.conversation_id)
                    {
                        let customer_id: Option<i64> =
                            conversation::Entity::find_by_id(note.conversation_id)
                                .select_only()
                                .column(conversation::Column::CustomerId)
                                .into_tuple()
                                .one(&txn)
                                .await?;
                        let known = match customer_id {
                            Some(id) => known_values(&txn, id).await?.1,
                            None => Vec::new(),
                        };
                        e.insert(known);
                    }
                    let known = known_by_conversation
                        .get(&note.conversation_id)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    txn.execute(
                        &Query::update()
                            .table(message::Entity)
                            .value(message::Column::TextBody, redact(&note.text_body, known))
                            .value(Alias::new("anonymized_at"), ctx.now)
                            .and_where(message::Column::Id.eq(note.id))
                            .to_owned(),
                    )
                    .await?;
                }
            }
        }
        txn.commit().await?;
        heartbeat(db, ctx.org).await?;
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
    let mut due = customer::Entity::find()
        .filter(customer::Column::OrganizationId.eq(ctx.org.get()))
        .filter(customer::Column::CreatedAt.lt(rule.cutoff(ctx.now)))
        .filter(Expr::cust(
            "NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = customers.id)",
        ));
    if rule.action() == Action::Anonymize {
        due = due.filter(Expr::cust("customers.anonymized_at IS NULL"));
    }
    counts.skipped_legal_hold = due
        .clone()
        .filter(Expr::cust(
            "(customers.legal_hold_reason IS NOT NULL OR customers.restricted_at IS NOT NULL)",
        ))
        .count(db)
        .await?;
    let free = due.filter(Expr::cust(
        "customers.legal_hold_reason IS NULL AND customers.restricted_at IS NULL",
    ));
    if ctx.dry_run {
        counts.customers = free.count(db).await?;
        return Ok(());
    }
    loop {
        let ids: Vec<i64> = free
            .clone()
            .select_only()
            .column(customer::Column::Id)
            .order_by_asc(customer::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            break;
        }
        counts.customers += ids.len() as u64;
        let txn = db.begin().await?;
        customer_email::Entity::delete_many()
            .filter(customer_email::Column::CustomerId.is_in(ids.clone()))
            .exec(&txn)
            .await?;
        match rule.action() {
            Action::Delete => {
                customer::Entity::delete_many()
                    .filter(customer::Column::OrganizationId.eq(ctx.org.get()))
                    .filter(customer::Column::Id.is_in(ids))
                    .exec(&txn)
                    .await?;
            }
            Action::Anonymize => {
                for id in ids {
                    txn.execute(
                        &Query::update()
                            .table(customer::Entity)
                            .value(customer::Column::DisplayName, pseudonym())
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
        heartbeat(db, ctx.org).await?;
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

/// One scheduler tick: every organization whose schedule had a time since the last check
/// (including times missed while the server was down) and that has saved rules runs now.
pub async fn scheduled_tick(state: &AppState) -> Result<u32, sea_orm::DbErr> {
    let now = Utc::now();
    let settings = retention_setting::Entity::find().all(&state.db).await?;
    let mut started = 0;
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
        if !schedule.due_between(since, now) {
            continue;
        }
        retention_setting::Entity::update_many()
            .col_expr(retention_setting::Column::ScheduleCheckedAt, Expr::val(now))
            .filter(retention_setting::Column::OrganizationId.eq(org.get()))
            .exec(&state.db)
            .await?;
        if saved_rules(&state.db, org).await?.is_empty() {
            continue;
        }
        let options = RunOptions {
            dry_run: false,
            trigger: "schedule",
            actor: Actor::System("retention"),
        };
        match run_with(state, org, options).await {
            Ok(_) => started += 1,
            Err(RunError::AlreadyRunning) => {
                tracing::info!(
                    org = org.get(),
                    "retention run in progress; scheduled run skipped"
                );
            }
            Err(error) => {
                tracing::error!(%error, org = org.get(), "scheduled retention run failed")
            }
        }
    }
    Ok(started)
}
