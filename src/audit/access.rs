//! The access log: who opened whose personal data (GDPR Art. 32). Opening a conversation, a
//! customer page or an attachment, exporting a customer, and a search whose results showed a
//! customer each add an **access entry** — who, when, which customer (and conversation), from
//! which address — to their own append-only table, `access_entries`; the audit chain stays
//! for privileged actions. The retention category `access_log` (suggested: 365 days) removes
//! old entries; erasure and retention remove a customer's entries with the customer, and
//! anonymization those of the rewritten conversations (they would link them back).
//!
//! **Off the request path.** A handler only puts the entry on a bounded channel
//! ([`AccessLog::record`], no database work); one task ([`spawn_writer`]) writes what arrived in
//! one multi-row insert every second, or as soon as [`BATCH`] entries are waiting. The cost:
//! entries of the last second (at most the unwritten batch) are lost if the process dies
//! (`kill -9`, power cut); a normal stop writes them ([`AccessLog::flush`] after the server
//! ends). A full channel ([`CAPACITY`] entries, i.e. the database is far behind) drops the
//! entry and counts it in the log rather than slow every page.
//!
//! **Unusual patterns.** After each write the writer counts, for every member in the batch,
//! the distinct customers they opened in the last hour (search results not counted); above
//! `LETHE_ACCESS_ALERT_CUSTOMERS_PER_HOUR` (default 50) the owners are mailed (when system
//! mail is on) and an audit entry `access.unusual_pattern` is written; an export between 22:00
//! and 06:00 UTC gives `access.export_at_night` the same way. At most one alert of a kind per
//! member an hour. Bursts of failed sign-ins are alerted on by `crate::auth::failed_sign_in`.
//!
//! Pages: the customer page lists who accessed the record (admins); `/audit/access` lists a
//! member's entries (admins).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Deserialize;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::db::InOrg;
use crate::db::entity::{access_entry, membership};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::{AppError, Page, render};

/// Entries written per insert at most (and the count that writes at once).
pub const BATCH: usize = 200;
/// Entries waiting at most; one more is dropped (and counted in the log).
pub const CAPACITY: usize = 50_000;
/// How often waiting entries are written.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// What was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Conversation,
    Customer,
    Attachment,
    Export,
    Search,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Conversation => "conversation",
            Kind::Customer => "customer",
            Kind::Attachment => "attachment",
            Kind::Export => "export",
            Kind::Search => "search",
        }
    }

    pub fn label_key_of(stored: &str) -> &'static str {
        match stored {
            "conversation" => "access.kind.conversation",
            "customer" => "access.kind.customer",
            "attachment" => "access.kind.attachment",
            "export" => "access.kind.export",
            "search" => "access.kind.search",
            _ => "access.kind.other",
        }
    }
}

/// One access, as a handler reports it.
#[derive(Clone, Debug)]
pub struct Access {
    pub org: OrgId,
    pub user_id: i64,
    pub customer_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub kind: Kind,
    pub client: Option<String>,
    pub at: DateTime<Utc>,
}

enum Message {
    Entry(Access),
    /// Write what is waiting, then answer.
    Flush(oneshot::Sender<()>),
}

/// The sending side, in the shared state; the writer task holds the receiving side.
pub struct AccessLog {
    sender: mpsc::Sender<Message>,
    receiver: Mutex<Option<mpsc::Receiver<Message>>>,
}

impl Default for AccessLog {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl AccessLog {
    /// Queues an entry (never waits). A full queue drops it, counted in the log.
    pub fn record(&self, access: Access) {
        if switched_off() {
            return;
        }
        if self.sender.try_send(Message::Entry(access)).is_err() {
            tracing::warn!("access log queue full: an access entry was dropped");
        }
    }

    /// What a scope opened: its organization, member and client, now.
    pub fn opened(
        &self,
        scope: &TenantScope,
        kind: Kind,
        customer_id: Option<i64>,
        conversation_id: Option<i64>,
    ) {
        self.record(Access {
            org: scope.org(),
            user_id: scope.user_id(),
            customer_id,
            conversation_id,
            kind,
            client: scope.client().ip.clone(),
            at: Utc::now(),
        });
    }

    /// Waits until everything queued before the call is written (a stop, and tests). Without
    /// a running writer it returns at once.
    pub async fn flush(&self) {
        if self.receiver.try_lock().is_ok_and(|r| r.is_some()) {
            // No writer was started (a command line process): nothing would answer.
            return;
        }
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
        }
    }
}

/// For the access-log benchmark (benches/access_log.sh; built only with the `test-hooks`
/// feature): `LETHE_TEST_ACCESS_LOG_OFF=1` records nothing, so pages can be timed with and
/// without the log side by side.
#[cfg(feature = "test-hooks")]
fn switched_off() -> bool {
    use std::sync::LazyLock;
    static OFF: LazyLock<bool> =
        LazyLock::new(|| std::env::var("LETHE_TEST_ACCESS_LOG_OFF").is_ok_and(|v| v.trim() == "1"));
    *OFF
}

/// Without the `test-hooks` feature (every release build) the access log cannot be switched off.
#[cfg(not(feature = "test-hooks"))]
fn switched_off() -> bool {
    false
}

/// Of the customers and conversations a batch names, those that still exist.
async fn existing(
    db: &impl sea_orm::ConnectionTrait,
    batch: &[Access],
) -> Result<(BTreeSet<i64>, BTreeSet<i64>), sea_orm::DbErr> {
    use crate::db::entity::{conversation, customer};
    let customer_ids: BTreeSet<i64> = batch.iter().filter_map(|a| a.customer_id).collect();
    let conversation_ids: BTreeSet<i64> = batch.iter().filter_map(|a| a.conversation_id).collect();
    let customers = if customer_ids.is_empty() {
        Vec::new()
    } else {
        customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::Id.is_in(customer_ids))
            .into_tuple::<i64>()
            .all(db)
            .await?
    };
    let conversations = if conversation_ids.is_empty() {
        Vec::new()
    } else {
        conversation::Entity::find()
            .select_only()
            .column(conversation::Column::Id)
            .filter(conversation::Column::Id.is_in(conversation_ids))
            .into_tuple::<i64>()
            .all(db)
            .await?
    };
    Ok((
        customers.into_iter().collect(),
        conversations.into_iter().collect(),
    ))
}

/// Starts the writer (once per process; a second call does nothing).
pub async fn spawn_writer(state: std::sync::Arc<AppState>) {
    let Some(receiver) = state.access.receiver.lock().await.take() else {
        return;
    };
    tokio::spawn(write_loop(state, receiver));
}

async fn write_loop(state: std::sync::Arc<AppState>, mut receiver: mpsc::Receiver<Message>) {
    let mut waiting: Vec<Access> = Vec::with_capacity(BATCH);
    let mut alerted: HashMap<(OrgId, i64, &'static str), Instant> = HashMap::new();
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut flushed: Option<oneshot::Sender<()>> = None;
        let mut due = false;
        tokio::select! {
            message = receiver.recv() => match message {
                Some(Message::Entry(access)) => waiting.push(access),
                Some(Message::Flush(done)) => flushed = Some(done),
                None => {
                    write(&state, &mut waiting, &mut alerted).await;
                    return;
                }
            },
            _ = tick.tick() => due = true,
        }
        if flushed.is_some() || due || waiting.len() >= BATCH {
            write(&state, &mut waiting, &mut alerted).await;
        }
        if let Some(done) = flushed {
            let _ = done.send(());
        }
    }
}

async fn write(
    state: &AppState,
    waiting: &mut Vec<Access>,
    alerted: &mut HashMap<(OrgId, i64, &'static str), Instant>,
) {
    if waiting.is_empty() {
        return;
    }
    let batch = std::mem::take(waiting);
    for chunk in batch.chunks(BATCH) {
        // An entry queued just before its customer or conversation was erased must not be
        // written after the erasure: keep only entries whose records still exist.
        let (customers, conversations) = match existing(&state.db, chunk).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(%error, entries = chunk.len(), "access entries not written");
                continue;
            }
        };
        let chunk: Vec<&Access> = chunk
            .iter()
            .filter(|a| a.customer_id.is_none_or(|id| customers.contains(&id)))
            .filter(|a| {
                a.conversation_id
                    .is_none_or(|id| conversations.contains(&id))
            })
            .collect();
        if chunk.is_empty() {
            continue;
        }
        let rows = chunk.iter().map(|a| access_entry::ActiveModel {
            organization_id: Set(a.org),
            user_id: Set(Some(a.user_id)),
            customer_id: Set(a.customer_id),
            conversation_id: Set(a.conversation_id),
            kind: Set(a.kind.as_str().to_owned()),
            client: Set(a.client.clone()),
            occurred_at: Set(a.at),
            ..Default::default()
        });
        if let Err(error) = access_entry::Entity::insert_many(rows)
            .exec_without_returning(&state.db)
            .await
        {
            tracing::error!(%error, entries = chunk.len(), "access entries not written");
        }
    }
    let mut found: BTreeMap<(OrgId, i64, &'static str), Pattern> = BTreeMap::new();
    for a in batch
        .iter()
        .filter(|a| a.kind == Kind::Export && at_night(a.at))
    {
        found.insert((a.org, a.user_id, "night"), Pattern::ExportAtNight);
    }
    let members: BTreeSet<(OrgId, i64)> = batch
        .iter()
        .filter(|a| a.customer_id.is_some() && a.kind != Kind::Search)
        .map(|a| (a.org, a.user_id))
        .collect();
    for (org, user_id) in members {
        match unusual(state, org, user_id).await {
            Ok(Some(customers)) => {
                found.insert((org, user_id, "customers"), Pattern::Customers(customers));
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "access pattern not checked"),
        }
    }
    for ((org, user_id, kind), pattern) in found {
        // At most one alert of a kind per member an hour.
        let key = (org, user_id, kind);
        if alerted
            .get(&key)
            .is_some_and(|at| at.elapsed() < Duration::from_secs(3600))
        {
            continue;
        }
        alerted.insert(key, Instant::now());
        alert(state, org, user_id, pattern).await;
    }
}

/// Between 22:00 and 06:00 UTC.
fn at_night(at: DateTime<Utc>) -> bool {
    use chrono::Timelike;
    let hour = at.hour();
    !(6..22).contains(&hour)
}

/// What the owners are told about.
#[derive(Clone, Copy, Debug)]
enum Pattern {
    /// One member opened this many customers' data within the last hour, above the limit.
    Customers(u64),
    /// A customer export between 22:00 and 06:00 UTC.
    ExportAtNight,
}

/// The number of distinct customers `user_id` opened in the last hour, when above the limit.
async fn unusual(state: &AppState, org: OrgId, user_id: i64) -> Result<Option<u64>, DbErr> {
    let since = Utc::now() - chrono::Duration::hours(1);
    let n: Option<i64> = access_entry::Entity::find_in(org)
        .select_only()
        .column_as(
            Expr::cust("COUNT(DISTINCT access_entries.customer_id)"),
            "n",
        )
        .filter(access_entry::Column::UserId.eq(user_id))
        .filter(access_entry::Column::Kind.ne(Kind::Search.as_str()))
        .filter(access_entry::Column::OccurredAt.gte(since))
        .into_tuple()
        .one(&state.db)
        .await?;
    let n = u64::try_from(n.unwrap_or(0)).unwrap_or(0);
    let limit = u64::try_from(state.config.access_alert_customers_per_hour).unwrap_or(u64::MAX);
    Ok((n > limit).then_some(n))
}

/// Tells the owners: an audit entry, and a mail each when system mail is on.
async fn alert(state: &AppState, org: OrgId, user_id: i64, pattern: Pattern) {
    let limit = state.config.access_alert_customers_per_hour;
    let (action, details, subject_key, body_key, customers) = match pattern {
        Pattern::Customers(customers) => (
            "access.unusual_pattern",
            serde_json::json!({ "customers_last_hour": customers, "limit": limit }),
            "access.mail.unusual_subject",
            "access.mail.unusual_body",
            customers,
        ),
        Pattern::ExportAtNight => (
            "access.export_at_night",
            serde_json::json!({}),
            "access.mail.night_subject",
            "access.mail.night_body",
            0,
        ),
    };
    let recorded = state
        .audit
        .record(
            &state.db,
            crate::audit::Entry {
                org: Some(org),
                actor: crate::audit::Actor::System("access-log"),
                action,
                target: format!("user:{user_id}"),
                client: None,
                details,
            },
        )
        .await;
    if let Err(error) = recorded {
        tracing::error!(%error, "unusual access pattern not audit-logged");
    }
    if !state.mailer.is_configured() {
        return;
    }
    let names = crate::inbox::queries::user_names(&state.db, vec![user_id])
        .await
        .unwrap_or_default();
    let member = names.get(&user_id).cloned().unwrap_or_default();
    let link = state.config.base_url.join(&format!(
        "{}?user={user_id}",
        crate::web::paths::AUDIT_ACCESS.path()
    ));
    let args = [
        ("member", member.as_str()),
        ("customers", &customers.to_string()),
        ("limit", &limit.to_string()),
        ("link", link.as_str()),
    ];
    crate::orgs::admin_notice::mail_owners(
        state,
        org,
        subject_key,
        body_key,
        &args,
        "access alert",
    )
    .await;
}

// ---- what deletion, anonymization and merging do to it -------------------------------------

/// Deletes the entries about these customers of `org` (erasure, retention).
pub async fn forget_customers(
    db: &impl ConnectionTrait,
    org: OrgId,
    customers: &[i64],
) -> Result<u64, DbErr> {
    crate::records::delete_rows_in::<access_entry::Entity>(
        db,
        org,
        access_entry::Column::CustomerId,
        customers,
    )
    .await
}

/// Deletes the entries about these conversations of `org` (deleted, or anonymized: an entry
/// naming the old customer would link the rewritten conversation back to them).
pub async fn forget_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversations: &[i64],
) -> Result<u64, DbErr> {
    crate::records::delete_rows_in::<access_entry::Entity>(
        db,
        org,
        access_entry::Column::ConversationId,
        conversations,
    )
    .await
}

/// A merge: the duplicate's entries follow the person to the kept record.
pub async fn move_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    from: i64,
    to: i64,
) -> Result<(), DbErr> {
    access_entry::Entity::update_in(org)
        .col_expr(access_entry::Column::CustomerId, Expr::value(to))
        .filter(access_entry::Column::CustomerId.eq(from))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the organization's entries older than `cutoff` (the `access_log` rule).
pub async fn remove_older_than(
    db: &impl ConnectionTrait,
    org: OrgId,
    cutoff: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(access_entry::Entity::delete_in(org)
        .filter(access_entry::Column::OccurredAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}

// ---- reading it ---------------------------------------------------------------------------

/// One entry as the pages show it.
pub struct EntryView {
    pub at: String,
    pub at_iso: String,
    pub member: String,
    pub user_id: Option<i64>,
    pub kind_key: &'static str,
    pub customer_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub client: String,
}

async fn views(
    db: &impl ConnectionTrait,
    rows: Vec<access_entry::Model>,
) -> Result<Vec<EntryView>, AppError> {
    let names = crate::inbox::queries::user_names(
        db,
        rows.iter()
            .filter_map(|r| r.user_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| EntryView {
            at: r.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            at_iso: r.occurred_at.to_rfc3339(),
            member: r
                .user_id
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_default(),
            user_id: r.user_id,
            kind_key: Kind::label_key_of(&r.kind),
            customer_id: r.customer_id,
            conversation_id: r.conversation_id,
            client: r.client.unwrap_or_default(),
        })
        .collect())
}

/// The latest entries about a customer (the customer page, the export).
pub async fn of_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
    limit: u64,
) -> Result<Vec<EntryView>, AppError> {
    let rows = access_entry::Entity::find_in(org)
        .filter(access_entry::Column::CustomerId.eq(customer_id))
        .order_by_desc(access_entry::Column::OccurredAt)
        .order_by_desc(access_entry::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    views(db, rows).await
}

/// Every entry about a customer, oldest first (the export: who received the data).
pub async fn all_of_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Vec<access_entry::Model>, DbErr> {
    access_entry::Entity::find_in(org)
        .filter(access_entry::Column::CustomerId.eq(customer_id))
        .order_by_asc(access_entry::Column::OccurredAt)
        .order_by_asc(access_entry::Column::Id)
        .all(db)
        .await
}

#[derive(Deserialize)]
pub struct AccessQuery {
    user: Option<String>,
}

/// A member and how many entries they made in the last 24 hours.
struct MemberRow {
    user_id: i64,
    name: String,
    last_day: i64,
}

#[derive(Template)]
#[template(path = "audit/access.html")]
struct AccessPage {
    page: Page,
    members: Vec<MemberRow>,
    selected: Option<i64>,
    selected_name: String,
    entries: Vec<EntryView>,
}

/// `GET /audit/access[?user=ID]` (admins): the members with their entries of the last day,
/// and one member's latest entries.
pub async fn page(
    state: web::Data<AppState>,
    scope: TenantScope,
    query: web::Query<AccessQuery>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let since = Utc::now() - chrono::Duration::hours(24);
    let counts: BTreeMap<i64, i64> = access_entry::Entity::find_in(org)
        .select_only()
        .column(access_entry::Column::UserId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(access_entry::Column::OccurredAt.gte(since))
        .filter(access_entry::Column::UserId.is_not_null())
        .group_by(access_entry::Column::UserId)
        .into_tuple::<(i64, i64)>()
        .all(&state.db)
        .await?
        .into_iter()
        .collect();
    let member_ids: Vec<i64> = membership::Entity::find_in(org)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let names = crate::inbox::queries::user_names(&state.db, member_ids.clone()).await?;
    let mut members: Vec<MemberRow> = member_ids
        .into_iter()
        .map(|id| MemberRow {
            user_id: id,
            name: names.get(&id).cloned().unwrap_or_default(),
            last_day: counts.get(&id).copied().unwrap_or(0),
        })
        .collect();
    members.sort_by(|a, b| b.last_day.cmp(&a.last_day).then(a.name.cmp(&b.name)));
    let selected: Option<i64> = query.user.as_deref().and_then(|v| v.trim().parse().ok());
    let entries = match selected {
        Some(user_id) => {
            let rows = access_entry::Entity::find_in(org)
                .filter(access_entry::Column::UserId.eq(user_id))
                .order_by_desc(access_entry::Column::OccurredAt)
                .order_by_desc(access_entry::Column::Id)
                .limit(500)
                .all(&state.db)
                .await?;
            views(&state.db, rows).await?
        }
        None => Vec::new(),
    };
    let selected_name = selected
        .and_then(|id| members.iter().find(|m| m.user_id == id))
        .map(|m| m.name.clone())
        .unwrap_or_default();
    render(&AccessPage {
        page: Page::new(&state, &scope.session, "audit").await?,
        members,
        selected,
        selected_name,
        entries,
    })
}
