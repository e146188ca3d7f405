//! SLA targets (issue 15): per organization a calendar (time zone, business hours, holidays)
//! and targets for the first response and the resolution, a default plus rules per tag or
//! channel (src/sla/calendar.rs; the settings page is src/sla/page.rs).
//!
//! Each conversation's due times are counted in business time **from its creation**: a
//! customer reopening a conversation does not restart the clock (the conversation stays one
//! case with one outcome; a reopened one whose resolution time has passed shows as overdue).
//! They are stored on the conversation ([`compute`]) when it is created, when its tags
//! change, and after a settings change (in bounded batches, [`recompute_stale`]). The first
//! agent reply (not a note, not a forward) meets the first response ([`first_reply`]);
//! closing meets the resolution. A conversation without a matching target has no SLA (all
//! its SLA columns stay empty).
//!
//! The inbox shows the next open deadline (`sla_next_due_at`) on each row and on the
//! conversation page, sorts by it and filters by [`SlaState`]; [`warn`] mails the admins
//! before a breach. [`met`] tells the reports whether each target was met.

pub mod calendar;
pub mod page;
pub mod warn;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use self::calendar::SlaSettings;
use crate::db::InOrg;
use crate::db::entity::{conversation, conversation_tag, message, sla_setting, tag};
use crate::orgs::OrgId;

/// A deadline this close (or closer) is "due soon".
pub const DUE_SOON_MINUTES: i64 = 60;
/// Conversations recomputed at once after a settings change (the request does one batch,
/// the scheduled job the rest).
pub const RECOMPUTE_BATCH: u64 = 500;

/// The statuses in which a deadline is still running (a closed or spam conversation's
/// deadlines are over: pages show none, the SLA filter and order leave it out).
pub const RUNNING: [&str; 3] = ["open", "pending", "snoozed"];

/// Whether a deadline was met as of `now`: done at or before `due` is met, a deadline that
/// passed undone is missed, otherwise (or without a deadline) not decided yet. The reports
/// decide from their facts with it (src/reports/query.rs).
pub fn met(
    due: Option<DateTime<Utc>>,
    done: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<bool> {
    let due = due?;
    match done {
        Some(done) => Some(done <= due),
        None if now > due => Some(false),
        None => None,
    }
}

/// Where a conversation stands against its next deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaState {
    OnTrack,
    DueSoon,
    Overdue,
}

impl SlaState {
    pub const ALL: [SlaState; 3] = [SlaState::OnTrack, SlaState::DueSoon, SlaState::Overdue];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::OnTrack => "on_track",
            SlaState::DueSoon => "due_soon",
            SlaState::Overdue => "overdue",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            SlaState::OnTrack => "sla.state.on_track",
            SlaState::DueSoon => "sla.state.due_soon",
            SlaState::Overdue => "sla.state.overdue",
        }
    }

    pub fn of(due: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if due < now {
            SlaState::Overdue
        } else if due <= now + Duration::minutes(DUE_SOON_MINUTES) {
            SlaState::DueSoon
        } else {
            SlaState::OnTrack
        }
    }

    /// The range of `sla_next_due_at` in this state: (from, before), either open.
    pub fn bounds(self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let soon = now + Duration::minutes(DUE_SOON_MINUTES);
        match self {
            SlaState::Overdue => (None, Some(now)),
            SlaState::DueSoon => (Some(now), Some(soon + Duration::nanoseconds(1))),
            SlaState::OnTrack => (Some(soon + Duration::nanoseconds(1)), None),
        }
    }
}

/// A conversation's next deadline as pages show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// `sla.first_response` or `sla.resolution`.
    pub target_key: &'static str,
    pub state: SlaState,
    /// How long until (or since) the deadline: "2 h 10 min".
    pub time: String,
    /// The deadline, RFC 3339, for `<time datetime>`.
    pub due_iso: String,
}

impl Shown {
    pub fn overdue(&self) -> bool {
        self.state == SlaState::Overdue
    }

    pub fn class(&self) -> &'static str {
        match self.state {
            SlaState::OnTrack => "sla sla-on-track",
            SlaState::DueSoon => "sla sla-due-soon",
            SlaState::Overdue => "sla sla-overdue",
        }
    }
}

/// The deadline a page shows for a conversation: none once closed (or spam) or without one.
pub fn shown(conversation: &conversation::Model, now: DateTime<Utc>) -> Option<Shown> {
    if !RUNNING.contains(&conversation.status.as_str()) {
        return None;
    }
    let due = conversation.sla_next_due_at?;
    let target_key = if conversation.first_responded_at.is_none()
        && conversation.first_response_due_at == Some(due)
    {
        "sla.first_response"
    } else {
        "sla.resolution"
    };
    Some(Shown {
        target_key,
        state: SlaState::of(due, now),
        time: span((due - now).abs()),
        due_iso: due.to_rfc3339(),
    })
}

/// A span as "3 d 4 h", "2 h 10 min", "35 min" (rounded down, at least "0 min").
pub fn span(span: Duration) -> String {
    let minutes = span.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// The organization's SLA settings, if it saved any. Stored settings that no longer parse
/// (never written so) count as none, logged.
pub async fn settings_of(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Option<(SlaSettings, DateTime<Utc>)>, DbErr> {
    let Some(row) = sla_setting::Entity::find_by_id(org).one(db).await? else {
        return Ok(None);
    };
    match SlaSettings::from_json(&row.settings) {
        Ok(settings) => Ok(Some((settings, row.updated_at))),
        Err(reason) => {
            tracing::error!(reason, "stored SLA settings do not parse");
            Ok(None)
        }
    }
}

/// The next open deadline: the first response while no agent answered, else the resolution.
fn next_due(
    first_response_due: Option<DateTime<Utc>>,
    resolution_due: Option<DateTime<Utc>>,
    responded: bool,
) -> Option<DateTime<Utc>> {
    match (first_response_due.filter(|_| !responded), resolution_due) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// (Re)computes the due times of conversations of `org` from their creation, tags and
/// channel and the organization's settings.
pub async fn compute(db: &impl ConnectionTrait, org: OrgId, ids: &[i64]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    // Without settings nothing was ever computed: the columns stay empty, the rows untouched.
    let Some((settings, _)) = settings_of(db, org).await? else {
        return Ok(());
    };
    compute_with(db, org, &settings, ids, Utc::now()).await
}

/// (id, channel, created, first responded, first response due, resolution due) of a
/// conversation whose due times are computed.
type Started = (
    i64,
    Option<i64>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

async fn compute_with(
    db: &impl ConnectionTrait,
    org: OrgId,
    settings: &SlaSettings,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows: Vec<Started> = conversation::Entity::lookup_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .column(conversation::Column::ChannelId)
        .column(conversation::Column::CreatedAt)
        .column(conversation::Column::FirstRespondedAt)
        .column(conversation::Column::FirstResponseDueAt)
        .column(conversation::Column::ResolutionDueAt)
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    if !settings.rules.is_empty() {
        let links: Vec<(i64, i64)> = conversation_tag::Entity::find()
            .select_only()
            .column(conversation_tag::Column::ConversationId)
            .column(conversation_tag::Column::TagId)
            .filter(conversation_tag::Column::ConversationId.is_in(ids.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let names: HashMap<i64, String> = tag::Entity::find_in(org)
            .select_only()
            .column(tag::Column::Id)
            .column(tag::Column::Name)
            .filter(tag::Column::Id.is_in(links.iter().map(|(_, t)| *t)))
            .into_tuple::<(i64, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let links = links
            .into_iter()
            .filter_map(|(id, tag)| Some((id, names.get(&tag)?.clone())));
        for (id, name) in links {
            tags.entry(id).or_default().push(name.to_lowercase());
        }
    }
    for (id, channel, created_at, responded, old_first_due, old_resolution_due) in rows {
        let target = settings.target_for(tags.get(&id).map_or(&[][..], |t| t.as_slice()), channel);
        let due = |m: Option<u32>| m.and_then(|m| settings.calendar.add(created_at, m));
        let (first_due, resolution_due) = (due(target.first_response), due(target.resolution));
        let mut update = conversation::Entity::update_many();
        // A deadline that moved is warned about again before its new time (src/sla/warn.rs).
        if first_due != old_first_due {
            update = update.col_expr(
                conversation::Column::FirstResponseWarnedAt,
                Expr::val(None::<DateTime<Utc>>),
            );
        }
        if resolution_due != old_resolution_due {
            update = update.col_expr(
                conversation::Column::ResolutionWarnedAt,
                Expr::val(None::<DateTime<Utc>>),
            );
        }
        update
            .col_expr(
                conversation::Column::FirstResponseDueAt,
                Expr::val(first_due),
            )
            .col_expr(
                conversation::Column::ResolutionDueAt,
                Expr::val(resolution_due),
            )
            .col_expr(
                conversation::Column::SlaNextDueAt,
                Expr::val(next_due(first_due, resolution_due, responded.is_some())),
            )
            .col_expr(conversation::Column::SlaComputedAt, Expr::val(Some(now)))
            .filter(conversation::Column::Id.eq(id))
            .filter(conversation::Column::OrganizationId.eq(org))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Records the first agent reply of a conversation (later replies change nothing): the first
/// response is met (or late) and the next deadline becomes the resolution.
pub async fn first_reply(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    conversation::Entity::update_many()
        .col_expr(conversation::Column::FirstRespondedAt, Expr::val(Some(at)))
        .col_expr(
            conversation::Column::SlaNextDueAt,
            Expr::col(conversation::Column::ResolutionDueAt),
        )
        .filter(conversation::Column::Id.eq(conversation_id))
        .filter(conversation::Column::FirstRespondedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// An agent reply of conversation `id` was taken back (undo send): the first response is the
/// earliest agent reply still there, or none, and the deadlines follow.
pub async fn reply_withdrawn(db: &impl ConnectionTrait, org: OrgId, id: i64) -> Result<(), DbErr> {
    let earliest: Option<DateTime<Utc>> = message::Entity::lookup_in(org)
        .select_only()
        .column(message::Column::CreatedAt)
        .filter(message::Column::ConversationId.eq(id))
        .filter(message::Column::Direction.eq("outbound"))
        .filter(message::Column::Kind.eq("normal"))
        .order_by_asc(message::Column::CreatedAt)
        .into_tuple()
        .one(db)
        .await?;
    conversation::Entity::update_in(org)
        .col_expr(conversation::Column::FirstRespondedAt, Expr::val(earliest))
        .filter(conversation::Column::Id.eq(id))
        .exec(db)
        .await?;
    compute(db, org, &[id]).await
}

/// Recomputes, for every organization whose settings changed since, up to `limit` running
/// conversations computed before the change; the number recomputed.
pub async fn recompute_stale(
    db: &impl ConnectionTrait,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut done = 0;
    for row in sla_setting::Entity::find().all(db).await? {
        if done >= limit {
            break;
        }
        done += recompute_org(db, row.organization_id, limit - done, now).await?;
    }
    Ok(done)
}

/// [`recompute_stale`] for one organization.
pub async fn recompute_org(
    db: &impl ConnectionTrait,
    org: OrgId,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let Some((settings, updated_at)) = settings_of(db, org).await? else {
        return Ok(0);
    };
    let ids: Vec<i64> = conversation::Entity::find_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::Status.is_in(RUNNING))
        .filter(
            sea_orm::Condition::any()
                .add(conversation::Column::SlaComputedAt.is_null())
                .add(conversation::Column::SlaComputedAt.lt(updated_at)),
        )
        .order_by_desc(conversation::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    for chunk in ids.chunks(100) {
        compute_with(db, org, &settings, chunk, now).await?;
    }
    Ok(ids.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_people_write_them() {
        assert_eq!(span(Duration::minutes(35)), "35 min");
        assert_eq!(span(Duration::minutes(130)), "2 h 10 min");
        assert_eq!(span(Duration::minutes(120)), "2 h");
        assert_eq!(span(Duration::minutes(3 * 1440 + 250)), "3 d 4 h");
        assert_eq!(span(Duration::seconds(-5)), "0 min");
    }

    #[test]
    fn states_split_at_now_and_the_due_soon_window() {
        let now = Utc::now();
        assert_eq!(
            SlaState::of(now - Duration::minutes(1), now),
            SlaState::Overdue
        );
        assert_eq!(
            SlaState::of(now + Duration::minutes(30), now),
            SlaState::DueSoon
        );
        assert_eq!(
            SlaState::of(now + Duration::hours(3), now),
            SlaState::OnTrack
        );
        assert_eq!(
            next_due(Some(now), Some(now + Duration::hours(1)), false),
            Some(now)
        );
        assert_eq!(
            next_due(Some(now), Some(now + Duration::hours(1)), true),
            Some(now + Duration::hours(1))
        );
    }
}
