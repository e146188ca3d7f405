//! An organization's SLA calendar and targets, parsed once: [`SlaSettings`] can only hold a
//! known time zone, business hours that open before they close, real dates and positive
//! targets, whether it comes from the settings form ([`SlaSettings::from_form`]) or from the
//! database ([`SlaSettings::from_json`]). Its arithmetic ([`Calendar::add`]) counts business
//! minutes in the organization's time zone, across nights, weekends, holidays and clock
//! changes.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The longest target: a year of business minutes.
const MAX_MINUTES: u32 = 366 * 24 * 60;
/// How far ahead a deadline is looked for (a calendar open one day a year still finds it).
const MAX_DAYS: u32 = 3 * 366;

/// When the team works, in its time zone. Day 0 is Monday.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    zone: Tz,
    hours: [Option<(NaiveTime, NaiveTime)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn zone(&self) -> Tz {
        self.zone
    }

    pub fn holidays_count(&self) -> usize {
        self.holidays.len()
    }

    /// The instant `minutes` business minutes after `start`; None when the calendar opens on
    /// no day within three years (every day closed).
    pub fn add(&self, start: DateTime<Utc>, minutes: u32) -> Option<DateTime<Utc>> {
        let mut remaining = Duration::minutes(i64::from(minutes));
        let mut date = start.with_timezone(&self.zone).date_naive();
        for _ in 0..MAX_DAYS {
            if let Some((open, close)) = self.window(date) {
                let from = open.max(start);
                if close > from {
                    let available = close - from;
                    if remaining <= available {
                        return Some(from + remaining);
                    }
                    remaining -= available;
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// Whether the team works at `at` (within a day's hours, not a holiday): the chat
    /// widget asks for an address and promises an answer by mail otherwise (src/chat/).
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let date = at.with_timezone(&self.zone).date_naive();
        self.window(date)
            .is_some_and(|(open, close)| open <= at && at < close)
    }

    /// The open hours of a date as instants; None on a closed day or a holiday.
    fn window(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return None;
        }
        let (from, to) = self.hours[date.weekday().num_days_from_monday() as usize]?;
        Some((self.instant(date, from), self.instant(date, to)))
    }

    /// A wall-clock time of the zone as an instant: the earlier one when clocks go back, the
    /// first existing minute after it when they jump forward.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let mut naive = date.and_time(time);
        for _ in 0..(4 * 24) {
            if let Some(at) = self.zone.from_local_datetime(&naive).earliest() {
                return at.with_timezone(&Utc);
            }
            naive += Duration::minutes(15);
        }
        naive.and_utc()
    }
}

/// Times to meet, in business minutes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub first_response: Option<u32>,
    pub resolution: Option<u32>,
}

impl Target {
    pub fn is_empty(&self) -> bool {
        self.first_response.is_none() && self.resolution.is_none()
    }
}

/// What a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matcher {
    /// Conversations with this tag (name, lower case).
    Tag(String),
    /// Conversations of this channel.
    Channel(i64),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub matcher: Matcher,
    pub target: Target,
}

/// The organization's SLA settings, valid by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlaSettings {
    pub calendar: Calendar,
    pub default: Target,
    pub rules: Vec<Rule>,
    /// Mail the admins this many minutes (wall clock) before a breach; None: off.
    pub warn_minutes: Option<u32>,
}

/// The stored form (JSON in `sla_settings.settings`).
#[derive(Serialize, Deserialize)]
struct Stored {
    time_zone: String,
    /// Seven entries, Monday first: `["09:00", "17:00"]` or null (closed).
    hours: Vec<Option<(String, String)>>,
    holidays: Vec<String>,
    default: Target,
    rules: Vec<Rule>,
    warn_minutes: Option<u32>,
}

/// Why settings were refused; each is a catalog key whose text names the field.
pub type Refusal = &'static str;

impl SlaSettings {
    /// The settings of an organization that set none: Monday to Friday 09:00–17:00 UTC, no
    /// targets (so no SLA).
    pub fn empty() -> Self {
        let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
        let five = NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default();
        let mut hours = [None; 7];
        for day in hours.iter_mut().take(5) {
            *day = Some((nine, five));
        }
        Self {
            calendar: Calendar {
                zone: Tz::UTC,
                hours,
                holidays: BTreeSet::new(),
            },
            default: Target::default(),
            rules: Vec::new(),
            warn_minutes: None,
        }
    }

    /// The target of a conversation with these tags (lower case) on this channel: each
    /// matching rule replaces the default for the times it gives; when several matching
    /// rules give a time, the strictest (shortest) wins.
    pub fn target_for(&self, tags: &[String], channel: Option<i64>) -> Target {
        let matching: Vec<&Target> = self
            .rules
            .iter()
            .filter(|rule| match &rule.matcher {
                Matcher::Tag(name) => tags.iter().any(|t| t == name),
                Matcher::Channel(id) => channel == Some(*id),
            })
            .map(|rule| &rule.target)
            .collect();
        let pick = |get: fn(&Target) -> Option<u32>, fallback: Option<u32>| {
            matching.iter().filter_map(|t| get(t)).min().or(fallback)
        };
        Target {
            first_response: pick(|t| t.first_response, self.default.first_response),
            resolution: pick(|t| t.resolution, self.default.resolution),
        }
    }

    pub fn to_json(&self) -> String {
        let time = |t: NaiveTime| t.format("%H:%M").to_string();
        let stored = Stored {
            time_zone: self.calendar.zone.name().to_owned(),
            hours: self
                .calendar
                .hours
                .iter()
                .map(|h| h.map(|(from, to)| (time(from), time(to))))
                .collect(),
            holidays: self
                .calendar
                .holidays
                .iter()
                .map(|d| d.to_string())
                .collect(),
            default: self.default,
            rules: self.rules.clone(),
            warn_minutes: self.warn_minutes,
        };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    pub fn from_json(json: &str) -> Result<Self, Refusal> {
        let stored: Stored = serde_json::from_str(json).map_err(|_| "sla.error.stored")?;
        let mut hours = [None; 7];
        if stored.hours.len() != 7 {
            return Err("sla.error.stored");
        }
        for (day, value) in stored.hours.iter().enumerate() {
            hours[day] = match value {
                Some((from, to)) => Some(parse_hours(from, to)?),
                None => None,
            };
        }
        let holidays = stored
            .holidays
            .iter()
            .map(|d| parse_date(d))
            .collect::<Result<_, _>>()?;
        let settings = Self {
            calendar: Calendar {
                zone: parse_zone(&stored.time_zone)?,
                hours,
                holidays,
            },
            default: check_target(stored.default)?,
            rules: stored
                .rules
                .into_iter()
                .map(|r| {
                    Ok(Rule {
                        target: check_target(r.target)?,
                        matcher: r.matcher,
                    })
                })
                .collect::<Result<_, Refusal>>()?,
            warn_minutes: stored.warn_minutes,
        };
        Ok(settings)
    }

    /// The settings form: `time_zone`; per day `d` (0 = Monday) `open_d` (ticked: open),
    /// `from_d` and `to_d` (`09:00`); `holidays` (one `YYYY-MM-DD` a line); `first_response`
    /// and `resolution` (`90`, `90m`, `2h`, `1h 30m`; empty: none); `rules` (one a line,
    /// `tag:vip | 30m | 4h` or `channel:Support | 1h | -`); `warn_minutes` (empty or 0: off).
    /// `channels` resolves channel names to ids.
    pub fn from_form(
        form: &HashMap<String, String>,
        channels: &[(i64, String)],
    ) -> Result<Self, Refusal> {
        let field = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or("");
        let zone = parse_zone(field("time_zone"))?;
        let mut hours = [None; 7];
        for (day, slot) in hours.iter_mut().enumerate() {
            if !field(&format!("open_{day}")).is_empty() {
                *slot = Some(parse_hours(
                    field(&format!("from_{day}")),
                    field(&format!("to_{day}")),
                )?);
            }
        }
        let holidays = field("holidays")
            .split(['\n', ','])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(parse_date)
            .collect::<Result<_, _>>()?;
        let default = Target {
            first_response: parse_duration(field("first_response"))
                .map_err(|_| "sla.error.first_response")?,
            resolution: parse_duration(field("resolution")).map_err(|_| "sla.error.resolution")?,
        };
        let rules = field("rules")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| parse_rule(line, channels))
            .collect::<Result<_, _>>()?;
        let warn_minutes = match field("warn_minutes") {
            "" | "0" => None,
            value => Some(
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|m| *m <= MAX_MINUTES)
                    .ok_or("sla.error.warn_minutes")?,
            ),
        };
        Ok(Self {
            calendar: Calendar {
                zone,
                hours,
                holidays,
            },
            default,
            rules,
            warn_minutes,
        })
    }

    /// Day `day` (0 = Monday) as the form shows it: (open, from, to).
    pub fn day(&self, day: usize) -> (bool, String, String) {
        match self.calendar.hours.get(day).copied().flatten() {
            Some((from, to)) => (
                true,
                from.format("%H:%M").to_string(),
                to.format("%H:%M").to_string(),
            ),
            None => (false, "09:00".to_owned(), "17:00".to_owned()),
        }
    }

    /// The holidays as the form shows them, one a line.
    pub fn holidays_text(&self) -> String {
        self.calendar
            .holidays
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The rules as the form shows them, one a line.
    pub fn rules_text(&self, channels: &[(i64, String)]) -> String {
        self.rules
            .iter()
            .map(|rule| {
                let what = match &rule.matcher {
                    Matcher::Tag(name) => format!("tag:{name}"),
                    Matcher::Channel(id) => format!(
                        "channel:{}",
                        channels
                            .iter()
                            .find(|(c, _)| c == id)
                            .map_or_else(|| id.to_string(), |(_, n)| n.clone())
                    ),
                };
                format!(
                    "{what} | {} | {}",
                    duration_text(rule.target.first_response),
                    duration_text(rule.target.resolution)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn check_target(target: Target) -> Result<Target, Refusal> {
    let ok = |m: Option<u32>| m.is_none_or(|m| (1..=MAX_MINUTES).contains(&m));
    if ok(target.first_response) && ok(target.resolution) {
        Ok(target)
    } else {
        Err("sla.error.stored")
    }
}

fn parse_zone(value: &str) -> Result<Tz, Refusal> {
    value
        .trim()
        .parse::<Tz>()
        .map_err(|_| "sla.error.time_zone")
}

fn parse_hours(from: &str, to: &str) -> Result<(NaiveTime, NaiveTime), Refusal> {
    let time = |v: &str| {
        NaiveTime::parse_from_str(v.trim(), "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(v.trim(), "%H:%M:%S"))
            .map_err(|_| "sla.error.hours")
    };
    let (from, to) = (time(from)?, time(to)?);
    if from >= to {
        return Err("sla.error.hours");
    }
    Ok((from, to))
}

fn parse_date(value: &str) -> Result<NaiveDate, Refusal> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| "sla.error.holidays")
}

/// `90`, `90m`, `2h`, `2h30m`, `1h 30m` as minutes; empty or `-`: none. At least a minute,
/// at most a year.
fn parse_duration(value: &str) -> Result<Option<u32>, ()> {
    let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let value = value.to_ascii_lowercase();
    if value.is_empty() || value == "-" {
        return Ok(None);
    }
    if let Ok(minutes) = value.parse::<u32>() {
        return (1..=MAX_MINUTES)
            .contains(&minutes)
            .then_some(Some(minutes))
            .ok_or(());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut units = 0;
    for c in value.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| ())?;
        number.clear();
        total += match c {
            'h' => n * 60,
            'm' => n,
            _ => return Err(()),
        };
        units += 1;
        if units > 2 {
            return Err(());
        }
    }
    if !number.is_empty() {
        return Err(());
    }
    let minutes = u32::try_from(total).map_err(|_| ())?;
    (1..=MAX_MINUTES)
        .contains(&minutes)
        .then_some(Some(minutes))
        .ok_or(())
}

/// Minutes as the form shows them (`1h 30m`, `45m`; `-`: none).
pub fn duration_text(minutes: Option<u32>) -> String {
    match minutes {
        None => "-".to_owned(),
        Some(m) if m % 60 == 0 => format!("{}h", m / 60),
        Some(m) if m > 60 => format!("{}h {}m", m / 60, m % 60),
        Some(m) => format!("{m}m"),
    }
}

fn parse_rule(line: &str, channels: &[(i64, String)]) -> Result<Rule, Refusal> {
    let parts: Vec<&str> = line.split('|').map(str::trim).collect();
    let [what, first, resolution] = parts.as_slice() else {
        return Err("sla.error.rules");
    };
    let matcher = if let Some(name) = what.strip_prefix("tag:") {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            return Err("sla.error.rules");
        }
        Matcher::Tag(name)
    } else if let Some(name) = what.strip_prefix("channel:") {
        let name = name.trim();
        let id = channels
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(id, _)| *id)
            .ok_or("sla.error.rule_channel")?;
        Matcher::Channel(id)
    } else {
        return Err("sla.error.rules");
    };
    let target = Target {
        first_response: parse_duration(first).map_err(|_| "sla.error.rules")?,
        resolution: parse_duration(resolution).map_err(|_| "sla.error.rules")?,
    };
    if target.is_empty() {
        return Err("sla.error.rules");
    }
    Ok(Rule { matcher, target })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    /// Mon–Fri 09:00–17:00 in `zone`, with these holidays.
    fn office(zone: &str, holidays: &[&str]) -> Calendar {
        let mut form: HashMap<String, String> = HashMap::new();
        form.insert("time_zone".into(), zone.into());
        for day in 0..5 {
            form.insert(format!("open_{day}"), "on".into());
            form.insert(format!("from_{day}"), "09:00".into());
            form.insert(format!("to_{day}"), "17:00".into());
        }
        form.insert("holidays".into(), holidays.join("\n"));
        SlaSettings::from_form(&form, &[]).expect("valid").calendar
    }

    #[test]
    fn a_calendar_is_open_within_a_days_hours_in_its_zone_and_not_on_holidays() {
        let berlin = office("Europe/Berlin", &["2026-12-24"]);
        // Monday 2026-12-07, 09:30 in Berlin is 08:30 UTC.
        assert!(berlin.is_open(at("2026-12-07T08:30:00Z")));
        assert!(!berlin.is_open(at("2026-12-07T07:30:00Z")), "before nine");
        assert!(!berlin.is_open(at("2026-12-07T16:00:00Z")), "at five");
        assert!(!berlin.is_open(at("2026-12-06T10:00:00Z")), "a Sunday");
        assert!(!berlin.is_open(at("2026-12-24T10:00:00Z")), "a holiday");
    }

    #[test]
    fn within_a_day_and_across_the_night() {
        let cal = office("UTC", &[]);
        // Wednesday 2026-12-02 10:00 + 2 h = 12:00.
        assert_eq!(
            cal.add(at("2026-12-02T10:00:00Z"), 120),
            Some(at("2026-12-02T12:00:00Z"))
        );
        // 16:00 + 2 h: one hour today, one tomorrow from 09:00.
        assert_eq!(
            cal.add(at("2026-12-02T16:00:00Z"), 120),
            Some(at("2026-12-03T10:00:00Z"))
        );
        // Written at night: counts from the next opening.
        assert_eq!(
            cal.add(at("2026-12-02T23:30:00Z"), 30),
            Some(at("2026-12-03T09:30:00Z"))
        );
        // Exactly the rest of the day ends at closing time.
        assert_eq!(
            cal.add(at("2026-12-02T09:00:00Z"), 480),
            Some(at("2026-12-02T17:00:00Z"))
        );
    }

    #[test]
    fn weekends_and_holidays_do_not_count() {
        let cal = office("UTC", &[]);
        // Friday 2026-12-04 16:30 + 1 h: 30 min Friday, 30 min Monday.
        assert_eq!(
            cal.add(at("2026-12-04T16:30:00Z"), 60),
            Some(at("2026-12-07T09:30:00Z"))
        );
        // Saturday: Monday morning.
        assert_eq!(
            cal.add(at("2026-12-05T12:00:00Z"), 60),
            Some(at("2026-12-07T10:00:00Z"))
        );
        // Christmas Eve (Thursday) and Christmas Day (Friday) off: Monday 28th.
        let cal = office("UTC", &["2026-12-24", "2026-12-25"]);
        assert_eq!(
            cal.add(at("2026-12-23T16:00:00Z"), 120),
            Some(at("2026-12-28T10:00:00Z"))
        );
    }

    #[test]
    fn the_organization_time_zone_and_clock_changes_count() {
        let cal = office("Europe/Berlin", &[]);
        // 08:00 UTC in winter is 09:00 in Berlin: open.
        assert_eq!(
            cal.add(at("2026-12-02T08:00:00Z"), 60),
            Some(at("2026-12-02T09:00:00Z"))
        );
        // Clocks go forward on Sunday 2026-03-29: Friday 16:00 CET (15:00 UTC) + 2 h is
        // Monday 10:00 CEST, 08:00 UTC.
        assert_eq!(
            cal.add(at("2026-03-27T15:00:00Z"), 120),
            Some(at("2026-03-30T08:00:00Z"))
        );
        // And back on Sunday 2026-10-25: Friday 16:00 CEST (14:00 UTC) + 2 h is Monday
        // 10:00 CET, 09:00 UTC.
        assert_eq!(
            cal.add(at("2026-10-23T14:00:00Z"), 120),
            Some(at("2026-10-26T09:00:00Z"))
        );
        // A calendar open at night across a jump: 01:00–04:00 on the night clocks jump from
        // 02:00 to 03:00 holds two hours.
        let mut form: HashMap<String, String> = HashMap::new();
        form.insert("time_zone".into(), "Europe/Berlin".into());
        form.insert("open_6".into(), "on".into());
        form.insert("from_6".into(), "01:00".into());
        form.insert("to_6".into(), "04:00".into());
        let night = SlaSettings::from_form(&form, &[]).expect("valid").calendar;
        // Sunday 2026-03-29 01:00 CET = 00:00 UTC; 04:00 CEST = 02:00 UTC.
        assert_eq!(
            night.add(at("2026-03-29T00:00:00Z"), 120),
            Some(at("2026-03-29T02:00:00Z"))
        );
    }

    #[test]
    fn a_calendar_without_open_days_has_no_deadline() {
        let mut form: HashMap<String, String> = HashMap::new();
        form.insert("time_zone".into(), "UTC".into());
        let closed = SlaSettings::from_form(&form, &[]).expect("valid");
        assert_eq!(closed.calendar.add(at("2026-12-02T10:00:00Z"), 60), None);
    }

    #[test]
    fn bad_fields_are_refused_by_name() {
        let base = |k: &str, v: &str| {
            let mut form: HashMap<String, String> = HashMap::new();
            form.insert("time_zone".into(), "Europe/Paris".into());
            form.insert(k.into(), v.into());
            form
        };
        let mut bad = base("time_zone", "Mars/Olympus");
        assert_eq!(
            SlaSettings::from_form(&bad, &[]),
            Err("sla.error.time_zone")
        );
        bad = base("open_0", "on");
        bad.insert("from_0".into(), "17:00".into());
        bad.insert("to_0".into(), "09:00".into());
        assert_eq!(SlaSettings::from_form(&bad, &[]), Err("sla.error.hours"));
        bad = base("holidays", "2026-13-40");
        assert_eq!(SlaSettings::from_form(&bad, &[]), Err("sla.error.holidays"));
        bad = base("first_response", "soon");
        assert_eq!(
            SlaSettings::from_form(&bad, &[]),
            Err("sla.error.first_response")
        );
        bad = base("rules", "channel:Nowhere | 1h | -");
        assert_eq!(
            SlaSettings::from_form(&bad, &[]),
            Err("sla.error.rule_channel")
        );
        bad = base("rules", "tag:vip | - | -");
        assert_eq!(SlaSettings::from_form(&bad, &[]), Err("sla.error.rules"));
    }

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("90"), Ok(Some(90)));
        assert_eq!(parse_duration("2h"), Ok(Some(120)));
        assert_eq!(parse_duration("1h 30m"), Ok(Some(90)));
        assert_eq!(parse_duration(" - "), Ok(None));
        assert_eq!(parse_duration("0"), Err(()));
        assert_eq!(parse_duration("3x"), Err(()));
        assert_eq!(duration_text(Some(90)), "1h 30m");
        assert_eq!(duration_text(Some(120)), "2h");
        assert_eq!(duration_text(Some(45)), "45m");
    }

    #[test]
    fn the_strictest_matching_rule_wins_and_settings_round_trip() {
        let mut form: HashMap<String, String> = HashMap::new();
        form.insert("time_zone".into(), "America/New_York".into());
        form.insert("first_response".into(), "4h".into());
        form.insert("resolution".into(), "2d".into());
        let channels = [(7, "Support".to_owned())];
        assert_eq!(
            SlaSettings::from_form(&form, &channels),
            Err("sla.error.resolution")
        );
        form.insert("resolution".into(), "48h".into());
        form.insert(
            "rules".into(),
            "tag:VIP | 30m | -\nchannel:support | 1h | 8h\ntag:urgent | 15 | -".into(),
        );
        form.insert("warn_minutes".into(), "20".into());
        let settings = SlaSettings::from_form(&form, &channels).expect("valid");
        let none: [String; 0] = [];
        assert_eq!(
            settings.target_for(&none, None),
            Target {
                first_response: Some(240),
                resolution: Some(48 * 60)
            }
        );
        assert_eq!(
            settings.target_for(&["vip".to_owned()], None),
            Target {
                first_response: Some(30),
                resolution: Some(48 * 60)
            }
        );
        assert_eq!(
            settings.target_for(&["vip".to_owned(), "urgent".to_owned()], Some(7)),
            Target {
                first_response: Some(15),
                resolution: Some(8 * 60)
            }
        );
        let back = SlaSettings::from_json(&settings.to_json()).expect("reads back");
        assert_eq!(back, settings);
        assert_eq!(
            back.rules_text(&channels),
            "tag:vip | 30m | -\nchannel:Support | 1h | 8h\ntag:urgent | 15m | -"
        );
    }
}
