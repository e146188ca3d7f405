//! The period a report covers and its figures, computed from the facts (src/reports/facts.rs).
//!
//! Definitions (days, weeks and hours in [`super::zone`]):
//! - **new**: conversations created in the period (or bucket); **closed**: closed in it (the
//!   latest close; a reopened conversation is not closed);
//! - **first response**: from creation to the first agent reply, for conversations created in
//!   the period that have one; **resolution**: from creation to the close, for those closed
//!   in the period;
//! - **median** and **p90** are nearest-rank percentiles (the value at rank ⌈p·n⌉);
//! - **SLA hit rate**: the share of met among conversations with an SLA outcome (first
//!   response: created in the period; resolution: closed in it); none: no figure;
//! - **busiest hours**: new conversations by weekday and hour of day;
//! - a week starts on Monday; a conversation counts in the buckets of its tags (none: no row),
//!   of its assignee and of its channel.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QuerySelect};
use serde::Deserialize;

use super::facts::parse_tag_list;
use crate::db::InOrg;
use crate::db::entity::{channel, report_fact, tag};
use crate::orgs::OrgId;
use crate::web::AppError;

/// Days a report covers when no period is given.
pub const DEFAULT_DAYS: i64 = 30;
/// The longest period, in days (a bound on the work of one request).
pub const MAX_DAYS: i64 = 731;

/// The query string of the page and the downloads.
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub group: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Day,
    Week,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Day => "day",
            Group::Week => "week",
        }
    }
}

/// The period: whole days `from..=to`, grouped by day or week.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group: Group,
}

fn day(value: &Option<String>, field: &'static str) -> Result<Option<NaiveDate>, AppError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::BadRequest(field)),
    }
}

impl Period {
    /// Checks the query: dates written `2026-05-01`, `from` not after `to`, at most
    /// [`MAX_DAYS`]; the default is the last [`DEFAULT_DAYS`] days up to `today`. Each refusal
    /// names the field.
    pub fn parse(query: &PeriodQuery, today: NaiveDate) -> Result<Self, AppError> {
        let to = day(&query.to, "reports.bad_to")?;
        let from = day(&query.from, "reports.bad_from")?;
        let group = match query.group.as_deref().map(str::trim) {
            None | Some("") | Some("day") => Group::Day,
            Some("week") => Group::Week,
            Some(_) => return Err(AppError::BadRequest("reports.bad_group")),
        };
        let to = to.unwrap_or(today);
        let from = from.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
        if from > to {
            return Err(AppError::BadRequest("reports.from_after_to"));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(AppError::BadRequest("reports.period_too_long"));
        }
        Ok(Self { from, to, group })
    }

    /// The first instant of the period and the first after it, in UTC.
    pub fn bounds<Tz: TimeZone>(&self, zone: &Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            start_of(zone, self.from),
            start_of(zone, self.to + Duration::days(1)),
        )
    }

    /// The first day of the bucket a day falls in.
    pub fn bucket_of(&self, day: NaiveDate) -> NaiveDate {
        match self.group {
            Group::Day => day,
            Group::Week => day - Duration::days(day.weekday().num_days_from_monday() as i64),
        }
    }

    /// Every bucket of the period, in order.
    pub fn buckets(&self) -> Vec<NaiveDate> {
        let step = match self.group {
            Group::Day => 1,
            Group::Week => 7,
        };
        let mut out = Vec::new();
        let mut at = self.bucket_of(self.from);
        while at <= self.to {
            out.push(at);
            at += Duration::days(step);
        }
        out
    }
}

/// Midnight of a day in a zone (the first valid instant after a gap), in UTC.
fn start_of<Tz: TimeZone>(zone: &Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    zone.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(midnight + Duration::hours(1)))
                .earliest()
        })
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// A median and a p90, in seconds (None: no value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Times {
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

/// A hit rate: met out of known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    pub met: u64,
    pub known: u64,
}

impl Rate {
    /// The percentage, rounded; None without data.
    pub fn percent(&self) -> Option<u64> {
        (self.known > 0).then(|| (self.met * 100 + self.known / 2) / self.known)
    }
}

/// One line of a table: a bucket, an agent, a tag, a channel or the whole period.
#[derive(Clone, Debug, Default)]
pub struct Line {
    pub label: String,
    pub new: u64,
    pub closed: u64,
    pub first_response: Times,
    pub resolution: Times,
    pub sla_first_response: Rate,
    pub sla_resolution: Rate,
}

/// The nearest-rank percentile `p` (0 < p ≤ 100) of sorted values.
pub fn percentile(sorted: &[i64], p: u64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p as usize * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[derive(Default)]
struct Acc {
    new: u64,
    closed: u64,
    first_response: Vec<i64>,
    resolution: Vec<i64>,
    sla_first_response: Rate,
    sla_resolution: Rate,
}

impl Acc {
    fn created(&mut self, fact: &Fact) {
        self.new += 1;
        if let Some(at) = fact.first_response_at {
            self.first_response
                .push((at - fact.created_at).num_seconds().max(0));
        }
        if let Some(met) = fact.sla_first_response_met {
            self.sla_first_response.known += 1;
            self.sla_first_response.met += u64::from(met);
        }
    }

    fn closed(&mut self, fact: &Fact, at: DateTime<Utc>) {
        self.closed += 1;
        self.resolution
            .push((at - fact.created_at).num_seconds().max(0));
        if let Some(met) = fact.sla_resolution_met {
            self.sla_resolution.known += 1;
            self.sla_resolution.met += u64::from(met);
        }
    }

    fn line(mut self, label: String) -> Line {
        self.first_response.sort_unstable();
        self.resolution.sort_unstable();
        let times = |v: &[i64]| Times {
            median: percentile(v, 50),
            p90: percentile(v, 90),
        };
        Line {
            label,
            new: self.new,
            closed: self.closed,
            first_response: times(&self.first_response),
            resolution: times(&self.resolution),
            sla_first_response: self.sla_first_response,
            sla_resolution: self.sla_resolution,
        }
    }
}

/// What the rows of a breakdown are called when they have no name (translated by the caller).
pub struct Names {
    pub unassigned: String,
    pub former_member: String,
    pub no_channel: String,
    pub removed_channel: String,
    pub removed_tag: String,
}

/// A report: the whole period, its buckets, the breakdowns and the busiest hours.
pub struct Report {
    pub period: Period,
    pub total: Line,
    pub buckets: Vec<(NaiveDate, Line)>,
    pub agents: Vec<Line>,
    pub tags: Vec<Line>,
    pub channels: Vec<Line>,
    /// New conversations by weekday (Monday first) and hour.
    pub hours: [[u64; 24]; 7],
}

type FactRow = (
    i64,
    Option<i64>,
    Option<i64>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

struct Fact {
    channel_id: Option<i64>,
    assignee_id: Option<i64>,
    created_at: DateTime<Utc>,
    first_response_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    tag_ids: String,
    sla_first_response_met: Option<bool>,
    sla_resolution_met: Option<bool>,
}

/// The counted facts created or closed in `[start, end)`.
async fn facts(
    db: &impl ConnectionTrait,
    org: OrgId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<Fact>, DbErr> {
    // Met or missed, decided now: a deadline passed without an answer is missed.
    let now = Utc::now();
    let select = || {
        report_fact::Entity::find_in(org)
            .select_only()
            .columns([
                report_fact::Column::ConversationRef,
                report_fact::Column::ChannelId,
                report_fact::Column::AssigneeId,
                report_fact::Column::CreatedAt,
                report_fact::Column::FirstResponseAt,
                report_fact::Column::ClosedAt,
                report_fact::Column::TagIds,
                report_fact::Column::SlaFirstResponseDueAt,
                report_fact::Column::SlaResolutionDueAt,
                report_fact::Column::SlaFirstRespondedAt,
            ])
            .filter(report_fact::Column::Counted.eq(true))
    };
    let created: Vec<FactRow> = select()
        .filter(report_fact::Column::CreatedAt.gte(start))
        .filter(report_fact::Column::CreatedAt.lt(end))
        .into_tuple()
        .all(db)
        .await?;
    // Closed in the period but created before it (the rest are in `created`).
    let closed: Vec<FactRow> = select()
        .filter(report_fact::Column::ClosedAt.gte(start))
        .filter(report_fact::Column::ClosedAt.lt(end))
        .filter(report_fact::Column::CreatedAt.lt(start))
        .into_tuple()
        .all(db)
        .await?;
    Ok(created
        .into_iter()
        .chain(closed)
        .map(|r| Fact {
            channel_id: r.1,
            assignee_id: r.2,
            created_at: r.3,
            first_response_at: r.4,
            closed_at: r.5,
            tag_ids: r.6,
            sla_first_response_met: crate::sla::met(r.7, r.9, now),
            sla_resolution_met: crate::sla::met(r.8, r.5, now),
        })
        .collect())
}

/// The report of `org` for a period.
pub async fn report<Tz: TimeZone>(
    db: &impl ConnectionTrait,
    org: OrgId,
    period: Period,
    zone: &Tz,
    names: &Names,
) -> Result<Report, AppError> {
    let (start, end) = period.bounds(zone);
    let inside = |at: DateTime<Utc>| at >= start && at < end;
    let local_day = |at: DateTime<Utc>| at.with_timezone(zone).date_naive();
    let mut total = Acc::default();
    let mut buckets: BTreeMap<NaiveDate, Acc> = period
        .buckets()
        .into_iter()
        .map(|b| (b, Acc::default()))
        .collect();
    let mut agents: BTreeMap<Option<i64>, Acc> = BTreeMap::new();
    let mut tags: BTreeMap<i64, Acc> = BTreeMap::new();
    let mut channels: BTreeMap<Option<i64>, Acc> = BTreeMap::new();
    let mut hours = [[0u64; 24]; 7];
    for fact in facts(db, org, start, end).await? {
        let tag_ids: Vec<i64> = parse_tag_list(&fact.tag_ids).collect();
        if inside(fact.created_at) {
            let local = fact.created_at.with_timezone(zone);
            hours[local.weekday().num_days_from_monday() as usize][local.hour() as usize] += 1;
            let bucket = period.bucket_of(local.date_naive());
            buckets.entry(bucket).or_default().created(&fact);
            total.created(&fact);
            agents.entry(fact.assignee_id).or_default().created(&fact);
            channels.entry(fact.channel_id).or_default().created(&fact);
            for id in &tag_ids {
                tags.entry(*id).or_default().created(&fact);
            }
        }
        if let Some(closed_at) = fact.closed_at.filter(|at| inside(*at)) {
            let bucket = period.bucket_of(local_day(closed_at));
            buckets.entry(bucket).or_default().closed(&fact, closed_at);
            total.closed(&fact, closed_at);
            agents
                .entry(fact.assignee_id)
                .or_default()
                .closed(&fact, closed_at);
            channels
                .entry(fact.channel_id)
                .or_default()
                .closed(&fact, closed_at);
            for id in &tag_ids {
                tags.entry(*id).or_default().closed(&fact, closed_at);
            }
        }
    }
    let user_names =
        crate::inbox::queries::user_names(db, agents.keys().filter_map(|id| *id).collect()).await?;
    let tag_names: BTreeMap<i64, String> = tag::Entity::find_in(org)
        .select_only()
        .columns([tag::Column::Id, tag::Column::Name])
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let channel_names: BTreeMap<i64, String> = channel::Entity::find_in(org)
        .select_only()
        .columns([channel::Column::Id, channel::Column::Name])
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let by_label = |mut lines: Vec<Line>| {
        lines.sort_by(|a, b| b.new.cmp(&a.new).then_with(|| a.label.cmp(&b.label)));
        lines
    };
    let agents = by_label(
        agents
            .into_iter()
            .map(|(id, acc)| {
                let label = match id {
                    None => names.unassigned.clone(),
                    Some(id) => user_names
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| format!("{} #{id}", names.former_member)),
                };
                acc.line(label)
            })
            .collect(),
    );
    let tags = by_label(
        tags.into_iter()
            .map(|(id, acc)| {
                let label = tag_names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| format!("{} #{id}", names.removed_tag));
                acc.line(label)
            })
            .collect(),
    );
    let channels = by_label(
        channels
            .into_iter()
            .map(|(id, acc)| {
                let label = match id {
                    None => names.no_channel.clone(),
                    Some(id) => channel_names
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| format!("{} #{id}", names.removed_channel)),
                };
                acc.line(label)
            })
            .collect(),
    );
    Ok(Report {
        period,
        total: total.line(String::new()),
        buckets: buckets
            .into_iter()
            .map(|(day, acc)| (day, acc.line(day.format("%Y-%m-%d").to_string())))
            .collect(),
        agents,
        tags,
        channels,
        hours,
    })
}

/// A duration for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`; `—` for none.
pub fn human(seconds: Option<i64>) -> String {
    let Some(s) = seconds else {
        return "—".to_owned();
    };
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: &str, to: &str, group: &str) -> PeriodQuery {
        PeriodQuery {
            from: Some(from.into()),
            to: Some(to.into()),
            group: Some(group.into()),
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = [10, 20, 30, 40];
        assert_eq!(percentile(&v, 50), Some(20));
        assert_eq!(percentile(&v, 90), Some(40));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn periods_are_checked_and_name_the_field() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let p = Period::parse(&PeriodQuery::default(), today).unwrap();
        assert_eq!(p.from, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(p.group, Group::Day);
        let bad = |q| match Period::parse(&q, today) {
            Err(AppError::BadRequest(key)) => key,
            _ => "",
        };
        assert_eq!(
            bad(q("2026-03-05", "2026-03-01", "day")),
            "reports.from_after_to"
        );
        assert_eq!(bad(q("yesterday", "2026-03-01", "day")), "reports.bad_from");
        assert_eq!(bad(q("2026-03-01", "2026-13-01", "day")), "reports.bad_to");
        assert_eq!(
            bad(q("2026-03-01", "2026-03-02", "month")),
            "reports.bad_group"
        );
        assert_eq!(
            bad(q("2020-03-01", "2026-03-02", "day")),
            "reports.period_too_long"
        );
    }

    #[test]
    fn weeks_start_on_monday() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let p = Period::parse(&q("2026-03-04", "2026-03-16", "week"), today).unwrap();
        let weeks: Vec<String> = p.buckets().iter().map(|d| d.to_string()).collect();
        assert_eq!(weeks, ["2026-03-02", "2026-03-09", "2026-03-16"]);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(None), "—");
        assert_eq!(human(Some(45)), "45 s");
        assert_eq!(human(Some(3 * 3600 + 300)), "3 h 5 min");
    }
}
