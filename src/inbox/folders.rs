//! The inbox's folders: Mine, Unassigned, All open, Pending, Snoozed, Closed, Spam and one per
//! channel, each a link to the list with its filters and (but Closed, which only grows) a
//! count. `GET /inbox/counts` gives the counts as JSON, which the page's script fetches when
//! the server-sent events say something changed, so the counts stay live.
//!
//! Two grouped queries answer every count, whatever the number of folders, and their rows are
//! shared by the organization's members until something changes ([`CountCache`]); saved views
//! add one each (src/inbox/views.rs), shared and reused the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder, QuerySelect};

use super::list::Assignee;
use super::triage::Status;
use crate::db::InOrg;
use crate::db::entity::{channel, conversation};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::AppError;
use crate::web::paths;

/// One folder of the sidebar.
pub struct Folder {
    /// Stable name (`mine`, `unassigned`, `open`, `pending`, `snoozed`, `closed`, `spam`,
    /// `channel-<id>`), for the page's script and tests.
    pub key: String,
    /// A catalog key; else `name` (a channel's).
    pub label_key: Option<&'static str>,
    pub name: String,
    pub href: String,
    pub count: Option<i64>,
    pub current: bool,
    /// A saved view's settings page (src/inbox/views.rs).
    pub edit_href: Option<String>,
}

/// How long counts computed for an organization are reused when nothing was published for it
/// (changes that publish, which are the agents' and the mail's, clear them at once).
const COUNTS_FRESH_FOR: Duration = Duration::from_secs(2);

/// The grouped counts of an organization, shared by its members: open, pending, snoozed and
/// spam conversations by status and assignee, open ones by channel. A team of 50 loading the
/// inbox 50 times a second then costs the two grouped scans once per change (or two seconds),
/// not once per page. Kept in [`InboxEvents`](super::events::InboxEvents), whose `publish`
/// clears an organization's entry.
///
/// One page computes them while the others that find none wait for its result (a team does
/// not run the same scans fifty times at once after each change), and a result computed
/// across a change is not kept.
#[derive(Default)]
pub struct CountCache {
    entries: Mutex<HashMap<OrgId, Grouped>>,
    /// Bumped by each change of the organization.
    generations: Mutex<HashMap<OrgId, u64>>,
    /// Held by the page computing an organization's counts.
    computing: Mutex<HashMap<OrgId, Arc<tokio::sync::Mutex<()>>>>,
    /// Saved views' counts (src/inbox/views.rs), by [`ViewKey`].
    views: Mutex<HashMap<ViewKey, (Instant, i64)>>,
}

/// What a saved view's count depends on: the view (its query as counted, so an edited view is
/// counted again), the customers hidden from the reader, and the reader when the view says
/// "Mine" (else 0: everyone who sees the view shares its count).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ViewKey {
    pub org: OrgId,
    pub view_id: i64,
    pub query: String,
    pub hidden: Vec<i64>,
    pub reader: i64,
}

#[derive(Clone)]
struct Grouped {
    at: Instant,
    by_status: Vec<(String, Option<i64>, i64)>,
    by_channel: Vec<(Option<i64>, i64)>,
}

impl CountCache {
    /// Something changed in `org`: its counts are computed again when next asked for.
    pub fn invalidate(&self, org: OrgId) {
        if let Ok(mut generations) = self.generations.lock() {
            *generations.entry(org).or_default() += 1;
        }
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&org);
        }
        if let Ok(mut views) = self.views.lock() {
            views.retain(|key, _| key.org != org);
        }
    }

    /// Forgets every organization's counts (other nodes' changes may have been missed).
    pub fn invalidate_all(&self) {
        if let Ok(mut generations) = self.generations.lock() {
            generations.values_mut().for_each(|g| *g += 1);
        }
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
        if let Ok(mut views) = self.views.lock() {
            views.clear();
        }
    }

    /// A saved view's count computed less than [`COUNTS_FRESH_FOR`] ago with nothing published
    /// since.
    pub fn view_count(&self, key: &ViewKey) -> Option<i64> {
        let views = self.views.lock().ok()?;
        views
            .get(key)
            .filter(|(at, _)| at.elapsed() < COUNTS_FRESH_FOR)
            .map(|(_, n)| *n)
    }

    pub fn put_view_count(&self, key: ViewKey, count: i64) {
        if let Ok(mut views) = self.views.lock() {
            views.retain(|_, (at, _)| at.elapsed() < COUNTS_FRESH_FOR);
            views.insert(key, (Instant::now(), count));
        }
    }

    fn generation(&self, org: OrgId) -> u64 {
        self.generations
            .lock()
            .map(|g| g.get(&org).copied().unwrap_or_default())
            .unwrap_or_default()
    }

    fn computing(&self, org: OrgId) -> Arc<tokio::sync::Mutex<()>> {
        match self.computing.lock() {
            Ok(mut computing) => computing.entry(org).or_default().clone(),
            // A poisoned map: compute without waiting for anyone.
            Err(_) => Arc::default(),
        }
    }

    fn get(&self, org: OrgId) -> Option<Grouped> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&org)
            .filter(|g| g.at.elapsed() < COUNTS_FRESH_FOR)
            .cloned()
    }

    /// Keeps `grouped` unless the organization changed since `generation` was read.
    fn put(&self, org: OrgId, grouped: Grouped, generation: u64) {
        if self.generation(org) != generation {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(org, grouped);
        }
    }

    /// The organization's counts, from the cache or computed once for everyone waiting.
    async fn grouped(&self, db: &impl ConnectionTrait, org: OrgId) -> Result<Grouped, DbErr> {
        if let Some(grouped) = self.get(org) {
            return Ok(grouped);
        }
        let computing = self.computing(org);
        let _turn = computing.lock().await;
        if let Some(grouped) = self.get(org) {
            return Ok(grouped);
        }
        let generation = self.generation(org);
        let grouped = Grouped {
            at: Instant::now(),
            by_status: by_status(db, org, None).await?,
            by_channel: by_channel(db, org, None).await?,
        };
        self.put(org, grouped.clone(), generation);
        Ok(grouped)
    }
}

/// Open, pending, snoozed and spam conversations by status and assignee: of the whole
/// organization (answered from `ix_conversations_status_assignee` alone), or of the listed
/// customers only (found by customer).
async fn by_status(
    db: &impl ConnectionTrait,
    org: OrgId,
    customers: Option<&[i64]>,
) -> Result<Vec<(String, Option<i64>, i64)>, DbErr> {
    let query = match customers {
        None => conversation::Entity::find_in(org),
        Some(ids) => conversation::Entity::lookup_in(org)
            .filter(conversation::Column::CustomerId.is_in(ids.iter().copied())),
    };
    query
        .filter(conversation::Column::Status.is_in([
            Status::Open.as_str(),
            Status::Pending.as_str(),
            Status::Snoozed.as_str(),
            Status::Spam.as_str(),
        ]))
        .select_only()
        .column(conversation::Column::Status)
        .column(conversation::Column::AssigneeId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(conversation::Column::Status)
        .group_by(conversation::Column::AssigneeId)
        .into_tuple()
        .all(db)
        .await
}

/// Open conversations by channel, like [`by_status`].
async fn by_channel(
    db: &impl ConnectionTrait,
    org: OrgId,
    customers: Option<&[i64]>,
) -> Result<Vec<(Option<i64>, i64)>, DbErr> {
    let query = match customers {
        None => conversation::Entity::find_in(org),
        Some(ids) => conversation::Entity::lookup_in(org)
            .filter(conversation::Column::CustomerId.is_in(ids.iter().copied())),
    };
    query
        .filter(conversation::Column::Status.eq(Status::Open.as_str()))
        .select_only()
        .column(conversation::Column::ChannelId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(conversation::Column::ChannelId)
        .into_tuple()
        .all(db)
        .await
}

/// The counts of every folder that has one, by key, for `user_id` (whose "Mine" it is).
pub async fn counts(
    db: &impl ConnectionTrait,
    cache: &CountCache,
    org: OrgId,
    user_id: i64,
    hidden_customers: &[i64],
) -> Result<BTreeMap<String, i64>, DbErr> {
    let mut grouped = cache.grouped(db, org).await?;
    // The customers hidden from this reader (restricted ones, for agents): their few
    // conversations are counted by customer and taken off the organization's counts.
    if !hidden_customers.is_empty() {
        for (status, assignee, n) in by_status(db, org, Some(hidden_customers)).await? {
            if let Some(row) = grouped
                .by_status
                .iter_mut()
                .find(|(s, a, _)| *s == status && *a == assignee)
            {
                row.2 -= n;
            }
        }
        for (channel, n) in by_channel(db, org, Some(hidden_customers)).await? {
            if let Some(row) = grouped.by_channel.iter_mut().find(|(c, _)| *c == channel) {
                row.1 -= n;
            }
        }
    }
    let mut out = BTreeMap::new();
    for key in ["mine", "unassigned", "open", "pending", "snoozed", "spam"] {
        out.insert(key.to_owned(), 0);
    }
    for (status, assignee, n) in grouped.by_status {
        if status == Status::Open.as_str() {
            if assignee == Some(user_id) {
                *out.entry("mine".to_owned()).or_default() += n;
            }
            if assignee.is_none() {
                *out.entry("unassigned".to_owned()).or_default() += n;
            }
        }
        *out.entry(status).or_default() += n;
    }
    for (channel_id, n) in grouped.by_channel {
        if let Some(id) = channel_id {
            out.insert(format!("channel-{id}"), n);
        }
    }
    Ok(out)
}

/// The organization's channels (id, name) by name: the list's channel filter and the
/// sidebar's channel folders.
pub async fn channels(db: &impl ConnectionTrait, org: OrgId) -> Result<Vec<(i64, String)>, DbErr> {
    channel::Entity::find_in(org)
        .select_only()
        .column(channel::Column::Id)
        .column(channel::Column::Name)
        .order_by_asc(channel::Column::Name)
        .into_tuple()
        .all(db)
        .await
}

/// The sidebar, with the folder the list shows marked current; `channels` are the
/// organization's ([`channels`]).
#[allow(clippy::too_many_arguments)]
pub async fn folders(
    state: &AppState,
    org: OrgId,
    user_id: i64,
    hidden_customers: &[i64],
    status: Status,
    assignee: Assignee,
    channel_filter: Option<i64>,
    channels: &[(i64, String)],
) -> Result<Vec<Folder>, DbErr> {
    let db = &state.db;
    let counts = counts(
        db,
        &state.events.folder_counts,
        org,
        user_id,
        hidden_customers,
    )
    .await?;
    let link = |status: Status, assignee: Assignee, channel: Option<i64>| {
        let mut query = format!(
            "{}?status={}&assignee={}",
            paths::INBOX,
            status.as_str(),
            assignee.as_str()
        );
        if let Some(channel) = channel {
            query.push_str(&format!("&channel={channel}"));
        }
        query
    };
    let plain = channel_filter.is_none();
    let mut out: Vec<Folder> = [
        ("mine", "folders.mine", Status::Open, Assignee::Mine),
        (
            "unassigned",
            "folders.unassigned",
            Status::Open,
            Assignee::Unassigned,
        ),
        ("open", "folders.open", Status::Open, Assignee::All),
        ("pending", "folders.pending", Status::Pending, Assignee::All),
        ("snoozed", "folders.snoozed", Status::Snoozed, Assignee::All),
        ("closed", "folders.closed", Status::Closed, Assignee::All),
        ("spam", "folders.spam", Status::Spam, Assignee::All),
    ]
    .into_iter()
    .map(|(key, label, folder_status, folder_assignee)| Folder {
        key: key.to_owned(),
        label_key: Some(label),
        name: String::new(),
        href: link(folder_status, folder_assignee, None),
        count: counts.get(key).copied(),
        current: plain && status == folder_status && assignee == folder_assignee,
        edit_href: None,
    })
    .collect();
    for (id, name) in channels {
        let id = *id;
        let key = format!("channel-{id}");
        out.push(Folder {
            count: Some(counts.get(&key).copied().unwrap_or(0)),
            current: channel_filter == Some(id)
                && status == Status::Open
                && assignee == Assignee::All,
            key,
            label_key: None,
            name: name.clone(),
            href: link(Status::Open, Assignee::All, Some(id)),
            edit_href: None,
        });
    }
    Ok(out)
}

/// `GET /inbox/counts`: `{"mine": 3, "open": 12, …, "channel-4": 7}`.
pub async fn counts_json(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    let org = scope.org();
    let hidden = if scope.role().is_admin() {
        Vec::new()
    } else {
        crate::privacy::restrict::restricted_customer_ids(&state.db, org).await?
    };
    let mut counts = counts(
        &state.db,
        &state.events.folder_counts,
        org,
        scope.user_id(),
        &hidden,
    )
    .await?;
    counts.extend(super::views::counts(&state, &scope, &hidden).await?);
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(counts))
}
