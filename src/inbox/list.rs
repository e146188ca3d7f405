//! The inbox list (`/inbox`): the organization's conversations filtered by status, assignee,
//! channel and tag, newest activity first, paged by a keyset cursor on
//! `(last_activity_at, id)` (`?before=<nanoseconds>_<id>`), never by OFFSET, so page 500
//! costs what page 1 costs (index `ix_conversations_list`).
//!
//! `?sla=on_track|due_soon|overdue` keeps the conversations whose next SLA deadline is in
//! that state; `?sort=sla` lists the conversations with an open deadline, soonest (or most
//! overdue) first, paged by a cursor on `(sla_next_due_at, id)` (index
//! `ix_conversations_sla_next_due`); conversations without an SLA, and closed or spam ones
//! (their deadlines are over), are in neither.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::queries;
use super::triage::Status;
use crate::db::InOrg;
use crate::db::entity::{conversation, conversation_tag, tag};
use crate::orgs::{OrgId, TenantScope};
use crate::sla::SlaState;
use crate::state::AppState;
use crate::web::paths;
use crate::web::{AppError, Page, render};

/// Conversations per page.
pub const PAGE_SIZE: u64 = 50;

/// A position in the list: the last row of the previous page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    /// `<unix nanoseconds>_<id>`; anything else is no cursor (the first page).
    pub fn parse(value: &str) -> Option<Self> {
        let (at, id) = value.split_once('_')?;
        Some(Self {
            at: DateTime::from_timestamp_nanos(at.parse().ok()?),
            id: id.parse().ok()?,
        })
    }

    pub fn encode(&self) -> String {
        format!("{}_{}", self.at.timestamp_nanos_opt().unwrap_or(0), self.id)
    }
}

/// Whose conversations to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assignee {
    Mine,
    Unassigned,
    All,
}

impl Assignee {
    pub const ALL: [Assignee; 3] = [Assignee::Mine, Assignee::Unassigned, Assignee::All];

    pub fn parse(value: &str) -> Self {
        match value {
            "mine" => Self::Mine,
            "unassigned" => Self::Unassigned,
            _ => Self::All,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mine => "mine",
            Self::Unassigned => "unassigned",
            Self::All => "all",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Self::Mine => "list.assignee_mine",
            Self::Unassigned => "list.assignee_unassigned",
            Self::All => "list.assignee_all",
        }
    }
}

/// The query string of `/inbox`, as the plain GET form sends it.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub channel: Option<String>,
    pub tag: Option<String>,
    pub sla: Option<String>,
    pub sort: Option<String>,
    /// A text query (the search's syntax): only its matches (src/inbox/views.rs).
    pub q: Option<String>,
    pub before: Option<String>,
    /// The saved view being shown (marks its folder).
    pub view: Option<String>,
}

/// The order of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// Newest activity first (every conversation).
    Activity,
    /// Soonest SLA deadline first (the conversations that have one).
    Sla,
}

impl Sort {
    pub const ALL: [Sort; 2] = [Sort::Activity, Sort::Sla];

    pub fn parse(value: &str) -> Self {
        match value.trim() {
            "sla" => Self::Sla,
            _ => Self::Activity,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activity => "activity",
            Self::Sla => "sla",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Self::Activity => "sla.sort_activity",
            Self::Sla => "sla.sort_sla",
        }
    }
}

/// The checked filters.
#[derive(Clone, Debug)]
pub struct Filter {
    pub status: Status,
    pub assignee: Assignee,
    pub channel: Option<i64>,
    pub tag: Option<i64>,
    /// Only conversations whose next SLA deadline is in this state.
    pub sla: Option<SlaState>,
    pub sort: Sort,
    /// A text query, resolved to `only` through the search index.
    pub q: Option<String>,
    pub before: Option<Cursor>,
    /// Customers whose conversations are left out: restricted ones, for agents
    /// (src/privacy/restrict.rs).
    pub hidden_customers: Vec<i64>,
    /// Only these conversations (the matches of a text query, `api::v1::conversations`).
    pub only: Option<Vec<i64>>,
}

impl From<&ListQuery> for Filter {
    fn from(query: &ListQuery) -> Self {
        let id = |v: &Option<String>| v.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
        Self {
            status: query
                .status
                .as_deref()
                .and_then(Status::parse)
                .unwrap_or(Status::Open),
            assignee: Assignee::parse(query.assignee.as_deref().unwrap_or("all")),
            channel: id(&query.channel),
            tag: id(&query.tag),
            sla: query.sla.as_deref().and_then(SlaState::parse),
            sort: Sort::parse(query.sort.as_deref().unwrap_or("")),
            q: query
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned),
            before: query.before.as_deref().and_then(Cursor::parse),
            hidden_customers: Vec::new(),
            only: None,
        }
    }
}

impl Filter {
    /// The query string for these filters, with another cursor.
    pub fn query_string(&self, before: Option<Cursor>) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        out.append_pair("status", self.status.as_str());
        out.append_pair("assignee", self.assignee.as_str());
        if let Some(channel) = self.channel {
            out.append_pair("channel", &channel.to_string());
        }
        if let Some(tag) = self.tag {
            out.append_pair("tag", &tag.to_string());
        }
        if let Some(sla) = self.sla {
            out.append_pair("sla", sla.as_str());
        }
        if self.sort != Sort::Activity {
            out.append_pair("sort", self.sort.as_str());
        }
        if let Some(q) = &self.q {
            out.append_pair("q", q);
        }
        if let Some(cursor) = before {
            out.append_pair("before", &cursor.encode());
        }
        out.finish()
    }
}

/// The conversations `filter` selects (but the cursor), in no order: the list's rows and the
/// saved views' counts.
pub fn filtered(
    org: OrgId,
    user_id: i64,
    filter: &Filter,
    now: DateTime<Utc>,
) -> sea_orm::Select<conversation::Entity> {
    let mut query = conversation::Entity::find_in(org)
        .filter(conversation::Column::Status.eq(filter.status.as_str()));
    query = match filter.assignee {
        Assignee::Mine => query.filter(conversation::Column::AssigneeId.eq(user_id)),
        Assignee::Unassigned => query.filter(conversation::Column::AssigneeId.is_null()),
        Assignee::All => query,
    };
    if let Some(channel) = filter.channel {
        query = query.filter(conversation::Column::ChannelId.eq(channel));
    }
    if let Some(tag) = filter.tag {
        query = query.filter(
            conversation::Column::Id.in_subquery(
                Query::select()
                    .column(conversation_tag::Column::ConversationId)
                    .from(conversation_tag::Entity)
                    .and_where(conversation_tag::Column::TagId.eq(tag))
                    .to_owned(),
            ),
        );
    }
    if !filter.hidden_customers.is_empty() {
        query = query.filter(
            conversation::Column::CustomerId.is_not_in(filter.hidden_customers.iter().copied()),
        );
    }
    if let Some(only) = &filter.only {
        query = query.filter(conversation::Column::Id.is_in(only.iter().copied()));
    }
    if let Some(state) = filter.sla {
        let (from, before) = state.bounds(now);
        query = query
            .filter(conversation::Column::SlaNextDueAt.is_not_null())
            .filter(conversation::Column::Status.is_in(crate::sla::RUNNING));
        if let Some(from) = from {
            query = query.filter(conversation::Column::SlaNextDueAt.gte(from));
        }
        if let Some(before) = before {
            query = query.filter(conversation::Column::SlaNextDueAt.lt(before));
        }
    }
    query
}

/// One page of conversations and the cursor of the next page, if there is one.
pub async fn page(
    db: &impl ConnectionTrait,
    org: OrgId,
    user_id: i64,
    filter: &Filter,
) -> Result<(Vec<conversation::Model>, Option<Cursor>), AppError> {
    let mut query = filtered(org, user_id, filter, Utc::now());
    let key = match filter.sort {
        Sort::Activity => conversation::Column::LastActivityAt,
        Sort::Sla => {
            query = query
                .filter(conversation::Column::SlaNextDueAt.is_not_null())
                .filter(conversation::Column::Status.is_in(crate::sla::RUNNING));
            conversation::Column::SlaNextDueAt
        }
    };
    if let Some(cursor) = filter.before {
        // A row-value comparison, which both databases answer from the index.
        let row = Expr::tuple([Expr::col(key), Expr::col(conversation::Column::Id)]);
        let at = Expr::tuple([Expr::val(cursor.at), Expr::val(cursor.id)]);
        query = query.filter(match filter.sort {
            Sort::Activity => row.lt(at),
            Sort::Sla => row.gt(at),
        });
    }
    query = match filter.sort {
        Sort::Activity => query
            .order_by_desc(key)
            .order_by_desc(conversation::Column::Id),
        Sort::Sla => query
            .order_by_asc(key)
            .order_by_asc(conversation::Column::Id),
    };
    let mut rows = query.limit(PAGE_SIZE + 1).all(db).await?;
    let next = if rows.len() as u64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|c| Cursor {
            at: match filter.sort {
                Sort::Activity => c.last_activity_at,
                Sort::Sla => c.sla_next_due_at.unwrap_or(c.last_activity_at),
            },
            id: c.id,
        })
    } else {
        None
    };
    Ok((rows, next))
}

/// A row of the list, ready to show.
pub struct Row {
    pub id: i64,
    pub customer: String,
    pub subject: String,
    pub token: String,
    pub status: String,
    pub status_key: &'static str,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub message_count: i32,
    pub last_activity: String,
    pub last_activity_iso: String,
    /// The customer's processing is restricted (only admins see such rows).
    pub restricted: bool,
    /// While snoozed: until when (None with `snoozed`: until the customer answers).
    pub snoozed_until: Option<String>,
    /// Came back from a snooze, untouched since.
    pub woke: bool,
    /// A customer message this agent has not seen (src/inbox/unread.rs).
    pub unread: bool,
    /// The first line of the last message.
    pub preview: String,
    /// The customer wrote last: for how long they have waited ("3 h").
    pub waiting: Option<String>,
    /// The next SLA deadline: time left or overdue (src/sla/).
    pub sla: Option<crate::sla::Shown>,
}

/// A choice in a filter select.
pub struct Choice {
    pub id: i64,
    pub name: String,
}

#[derive(Template)]
#[template(path = "inbox/inbox.html")]
struct InboxPage {
    page: Page,
    rows: Vec<Row>,
    filter: Filter,
    channels: Vec<Choice>,
    tags: Vec<Choice>,
    /// The team, for "assign to" in the bulk actions.
    members: Vec<Choice>,
    next: Option<String>,
    first: Option<String>,
    /// This page's own address, where the bulk form comes back to.
    here: String,
    /// The sidebar (src/inbox/folders.rs).
    folders: Vec<super::folders::Folder>,
    /// The signed-in member ("a" assigns the row to them).
    me: i64,
    /// These filters as a saved view would keep them ("Save this view").
    view_query: String,
}

impl InboxPage {
    fn statuses(&self) -> [Status; 5] {
        Status::ALL
    }

    /// The statuses the bulk form sets directly (spam and snooze have their own entries).
    fn bulk_statuses(&self) -> [Status; 3] {
        [Status::Open, Status::Pending, Status::Closed]
    }

    /// The snooze presets of the bulk form: (value, label key).
    fn snooze_presets(&self) -> [(&'static str, &'static str); 4] {
        [
            ("later", "snooze.later"),
            ("tomorrow", "snooze.tomorrow"),
            ("next_week", "snooze.next_week"),
            ("answer", "snooze.answer"),
        ]
    }

    fn assignees(&self) -> [Assignee; 3] {
        Assignee::ALL
    }

    fn status_selected(&self, status: &Status) -> bool {
        self.filter.status == *status
    }

    fn assignee_selected(&self, assignee: &Assignee) -> bool {
        self.filter.assignee == *assignee
    }

    fn channel_selected(&self, id: &i64) -> bool {
        self.filter.channel == Some(*id)
    }

    fn tag_selected(&self, id: &i64) -> bool {
        self.filter.tag == Some(*id)
    }

    fn sla_states(&self) -> [SlaState; 3] {
        SlaState::ALL
    }

    fn sla_selected(&self, state: &SlaState) -> bool {
        self.filter.sla == Some(*state)
    }

    fn sorts(&self) -> [Sort; 2] {
        Sort::ALL
    }

    fn sort_selected(&self, sort: &Sort) -> bool {
        self.filter.sort == *sort
    }
}

pub async fn inbox(
    state: web::Data<AppState>,
    scope: TenantScope,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let mut filter = Filter::from(&*query);
    let org = scope.org();
    let restricted = crate::privacy::restrict::restricted_customer_ids(&state.db, org).await?;
    if !scope.role().is_admin() {
        filter.hidden_customers = restricted.clone();
    }
    if let Some(q) = &filter.q {
        filter.only = Some(crate::api::v1::conversations::matching(&state, org, q).await?);
    }
    let (conversations, next) = page(&state.db, org, scope.user_id(), &filter).await?;
    let ids: Vec<i64> = conversations.iter().map(|c| c.id).collect();
    let customers = queries::customer_names(
        &state.db,
        org,
        conversations.iter().map(|c| c.customer_id).collect(),
    )
    .await?;
    let assignees = queries::user_names(
        &state.db,
        conversations.iter().filter_map(|c| c.assignee_id).collect(),
    )
    .await?;
    let mut tags = super::tags::of_conversations(&state.db, org, &ids).await?;
    let mut states = super::unread::row_states(&state.db, org, scope.user_id(), &ids).await?;
    let now = Utc::now();
    let rows = conversations
        .into_iter()
        .map(|c| {
            let thread = states.remove(&c.id).unwrap_or_default();
            let sla = crate::sla::shown(&c, now);
            Row {
                sla,
                id: c.id,
                customer: customers.get(&c.customer_id).cloned().unwrap_or_default(),
                status_key: Status::key_of(&c.status),
                status: c.status.clone(),
                assignee: c.assignee_id.and_then(|a| assignees.get(&a).cloned()),
                tags: tags
                    .remove(&c.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| t.name)
                    .collect(),
                message_count: c.message_count,
                last_activity: queries::short_time(&c.last_activity_at),
                last_activity_iso: c.last_activity_at.to_rfc3339(),
                restricted: restricted.contains(&c.customer_id),
                snoozed_until: c.snoozed_until.map(|at| queries::short_time(&at)),
                woke: c.woke_at.is_some(),
                unread: thread.unread,
                preview: thread.preview,
                // Only while it waits for the team: not once closed, snoozed or spam.
                waiting: thread
                    .waiting_since
                    .filter(|_| matches!(c.status.as_str(), "open" | "pending"))
                    .map(|since| super::unread::waited(since, now)),
                subject: c.subject,
                token: c.token,
            }
        })
        .collect();
    let channel_list = super::folders::channels(&state.db, org).await?;
    let tag_choices = tag::Entity::find_in(org)
        .order_by_asc(tag::Column::Name)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|t| Choice {
            id: t.id,
            name: t.name,
        })
        .collect();
    let members = crate::orgs::queries::members(&state.db, org)
        .await?
        .into_iter()
        .map(|m| Choice {
            id: m.user_id,
            name: m.display_name,
        })
        .collect();
    let mut folders = super::folders::folders(
        &state,
        org,
        scope.user_id(),
        &filter.hidden_customers,
        filter.status,
        filter.assignee,
        filter.channel,
        &channel_list,
    )
    .await?;
    let channels = channel_list
        .into_iter()
        .map(|(id, name)| Choice { id, name })
        .collect();
    let current_view = query.view.as_deref().and_then(|v| v.parse().ok());
    folders.extend(
        super::views::folders(&state, &scope, &filter.hidden_customers, current_view).await?,
    );
    let page = Page::new(&state, &scope.session, "inbox").await?;
    render(&InboxPage {
        view_query: filter.query_string(None),
        page,
        rows,
        members,
        folders,
        me: scope.user_id(),
        here: format!("{}?{}", paths::INBOX, filter.query_string(filter.before)),
        next: next.map(|cursor| format!("{}?{}", paths::INBOX, filter.query_string(Some(cursor)))),
        first: filter
            .before
            .map(|_| format!("{}?{}", paths::INBOX, filter.query_string(None))),
        filter,
        channels,
        tags: tag_choices,
    })
}
