//! The retention schedule: a five-field cron string (minute hour day-of-month month
//! day-of-week, in server time) such as `0 3 * * *`. Fields accept `*`, numbers, lists
//! (`1,15`), ranges (`1-5`) and steps (`*/15`, `0-30/10`). A scheduler tick asks whether a
//! scheduled minute passed since the last check, so a run missed while the server was down
//! happens at the next start.

use chrono::{DateTime, Datelike, Duration, Local, Timelike, Utc};

/// A checked schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("schedule: expected five cron fields (minute hour day month weekday), e.g. \"0 3 * * *\"")]
pub struct ScheduleError;

/// How far back a missed run is looked for (a server down longer runs once at start anyway).
const LOOKBACK_MINUTES: i64 = 60 * 24 * 40;

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(ScheduleError);
        };
        let weekdays = field(weekday, 0, 7)?;
        // 7 is Sunday too.
        let weekdays = (weekdays | (weekdays >> 7)) & 0x7f;
        Ok(Self {
            text: fields.join(" "),
            minutes: field(minute, 0, 59)?,
            hours: field(hour, 0, 23)?,
            days: field(day, 1, 31)?,
            months: field(month, 1, 12)?,
            weekdays,
            days_restricted: *day != "*",
            weekdays_restricted: *weekday != "*",
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn matches(&self, at: DateTime<Local>) -> bool {
        let bit = |set: u64, v: u32| set & (1u64 << v) != 0;
        let day_ok = bit(self.days, at.day());
        let weekday_ok = bit(self.weekdays, at.weekday().num_days_from_sunday());
        // Cron's rule: when both day fields are restricted, either may match.
        let calendar_ok = if self.days_restricted && self.weekdays_restricted {
            day_ok || weekday_ok
        } else {
            day_ok && weekday_ok
        };
        bit(self.minutes, at.minute())
            && bit(self.hours, at.hour())
            && bit(self.months, at.month())
            && calendar_ok
    }

    /// True when a scheduled minute lies in `(after, until]`.
    pub fn due_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        let start = after.max(until - Duration::minutes(LOOKBACK_MINUTES));
        let mut at = minute_floor(start) + Duration::minutes(1);
        while at <= until {
            if self.matches(at.with_timezone(&Local)) {
                return true;
            }
            at += Duration::minutes(1);
        }
        false
    }

    /// The next scheduled minute after `after` (within a year and a bit).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut at = minute_floor(after) + Duration::minutes(1);
        let limit = after + Duration::days(400);
        while at <= limit {
            if self.matches(at.with_timezone(&Local)) {
                return Some(at);
            }
            at += Duration::minutes(1);
        }
        None
    }
}

fn minute_floor(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(at)
}

/// One cron field as a bit set of the allowed values.
fn field(text: &str, min: u32, max: u32) -> Result<u64, ScheduleError> {
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or(ScheduleError)?,
            ),
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            (min, max)
        } else if let Some((low, high)) = range.split_once('-') {
            (number(low)?, number(high)?)
        } else {
            let value = number(range)?;
            (value, if part.contains('/') { max } else { value })
        };
        if low < min || high > max || low > high {
            return Err(ScheduleError);
        }
        let mut value = low;
        while value <= high {
            set |= 1u64 << value;
            value += step;
        }
    }
    Ok(set)
}

fn number(text: &str) -> Result<u32, ScheduleError> {
    text.parse::<u32>().map_err(|_| ScheduleError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_bad_ones_are_refused() {
        assert!(Schedule::parse("0 3 * * *").is_ok());
        assert!(Schedule::parse("*/15 1-5 1,15 * 1-5").is_ok());
        assert!(Schedule::parse("0 3 * *").is_err());
        assert!(Schedule::parse("60 3 * * *").is_err());
        assert!(Schedule::parse("0 3 * * * *").is_err());
        assert!(Schedule::parse("a b c d e").is_err());
        assert!(Schedule::parse("*/0 * * * *").is_err());
    }

    #[test]
    fn a_daily_schedule_is_due_once_a_day_and_a_missed_run_is_found() {
        let daily = Schedule::parse("0 3 * * *").unwrap();
        let now = Utc::now();
        let next = daily.next_after(now).unwrap();
        assert!(next > now && next <= now + Duration::days(1) + Duration::minutes(1));
        assert!(daily.due_between(next - Duration::minutes(1), next));
        assert!(!daily.due_between(next, next + Duration::hours(23)));
        // Down for two days: the missed run is due at start.
        assert!(daily.due_between(now - Duration::days(2), now));
    }
}
