//! When the backup job takes a backup. The operator may fix it with `LETHE_BACKUP_SCHEDULE`
//! (cron); otherwise the job runs hourly and follows the schedule an owner sets at
//! `/settings/backups` (daily or weekly at an hour, UTC, or off), stored in one row. Without a
//! row it is daily at 02:30 UTC, as before there was a page.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

use super::BackupError;
use super::create::{Outcome, run_once};
use crate::db::entity::backup_schedule;
use crate::state::AppState;

/// The job's own cron when the owner's schedule decides: every hour at :30.
pub const HOURLY: &str = "0 30 * * * *";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    Off,
    Daily { hour: u32 },
    Weekly { weekday: Weekday, hour: u32 },
}

impl Schedule {
    pub const DEFAULT: Schedule = Schedule::Daily { hour: 2 };

    /// From the form: `frequency` is `off`, `daily` or `weekly`; `hour` 0–23; `weekday`
    /// 0 (Monday) – 6 (Sunday). Errors are translation keys.
    pub fn parse(frequency: &str, hour: &str, weekday: &str) -> Result<Self, &'static str> {
        let hour = || {
            hour.trim()
                .parse::<u32>()
                .ok()
                .filter(|h| *h < 24)
                .ok_or("backup.error.hour")
        };
        match frequency {
            "off" => Ok(Schedule::Off),
            "daily" => Ok(Schedule::Daily { hour: hour()? }),
            "weekly" => {
                let weekday = weekday
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .and_then(|d| Weekday::try_from(d).ok())
                    .ok_or("backup.error.weekday")?;
                Ok(Schedule::Weekly {
                    weekday,
                    hour: hour()?,
                })
            }
            _ => Err("backup.error.frequency"),
        }
    }

    fn from_row(row: &backup_schedule::Model) -> Self {
        let hour = u32::try_from(row.hour).unwrap_or(2).min(23);
        match row.frequency.as_str() {
            "off" => Schedule::Off,
            "weekly" => Schedule::Weekly {
                weekday: u8::try_from(row.weekday)
                    .ok()
                    .and_then(|d| Weekday::try_from(d).ok())
                    .unwrap_or(Weekday::Mon),
                hour,
            },
            _ => Schedule::Daily { hour },
        }
    }

    pub fn frequency(self) -> &'static str {
        match self {
            Schedule::Off => "off",
            Schedule::Daily { .. } => "daily",
            Schedule::Weekly { .. } => "weekly",
        }
    }

    pub fn hour(self) -> u32 {
        match self {
            Schedule::Off => 2,
            Schedule::Daily { hour } | Schedule::Weekly { hour, .. } => hour,
        }
    }

    /// 0 = Monday.
    pub fn weekday(self) -> u32 {
        match self {
            Schedule::Weekly { weekday, .. } => weekday.num_days_from_monday(),
            _ => 0,
        }
    }

    /// Whether the hourly run at `now` takes a backup: its hour (and day) has come.
    pub fn is_due(self, now: DateTime<Utc>) -> bool {
        match self {
            Schedule::Off => false,
            Schedule::Daily { hour } => now.hour() == hour,
            Schedule::Weekly { weekday, hour } => now.weekday() == weekday && now.hour() == hour,
        }
    }
}

/// The owner's schedule, or the default.
pub async fn load(db: &impl ConnectionTrait) -> Result<Schedule, sea_orm::DbErr> {
    Ok(backup_schedule::Entity::find_by_id(1)
        .one(db)
        .await?
        .map_or(Schedule::DEFAULT, |row| Schedule::from_row(&row)))
}

pub async fn save(db: &impl ConnectionTrait, schedule: Schedule) -> Result<(), sea_orm::DbErr> {
    let row = backup_schedule::ActiveModel {
        id: Set(1),
        frequency: Set(schedule.frequency().into()),
        hour: Set(i32::try_from(schedule.hour()).unwrap_or(2)),
        weekday: Set(i32::try_from(schedule.weekday()).unwrap_or(0)),
        updated_at: Set(Utc::now()),
    };
    match backup_schedule::Entity::find_by_id(1).one(db).await? {
        Some(_) => row.update(db).await?,
        None => row.insert(db).await?,
    };
    Ok(())
}

/// The scheduled job: a backup when the operator's cron fired it, or when the owner's
/// schedule says this hour; None when it is not due.
pub async fn run_if_due(
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<Option<Outcome>, BackupError> {
    if !state.config.backup.operator_schedule {
        let schedule = load(&state.db).await?;
        if !schedule.is_due(now) {
            return Ok(None);
        }
    }
    run_once(state).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_form_is_parsed_and_bad_values_are_named() {
        assert_eq!(Schedule::parse("off", "", ""), Ok(Schedule::Off));
        assert_eq!(
            Schedule::parse("daily", "3", ""),
            Ok(Schedule::Daily { hour: 3 })
        );
        assert_eq!(
            Schedule::parse("weekly", "23", "6"),
            Ok(Schedule::Weekly {
                weekday: Weekday::Sun,
                hour: 23
            })
        );
        assert_eq!(Schedule::parse("daily", "24", ""), Err("backup.error.hour"));
        assert_eq!(
            Schedule::parse("weekly", "1", "7"),
            Err("backup.error.weekday")
        );
        assert_eq!(
            Schedule::parse("hourly", "1", ""),
            Err("backup.error.frequency")
        );
    }

    #[test]
    fn a_schedule_is_due_in_its_hour_and_on_its_day() {
        // 2026-12-07 is a Monday.
        let monday_3 = Utc.with_ymd_and_hms(2026, 12, 7, 3, 30, 0).unwrap();
        assert!(Schedule::Daily { hour: 3 }.is_due(monday_3));
        assert!(!Schedule::Daily { hour: 2 }.is_due(monday_3));
        let weekly = Schedule::Weekly {
            weekday: Weekday::Mon,
            hour: 3,
        };
        assert!(weekly.is_due(monday_3));
        assert!(!weekly.is_due(monday_3 + chrono::Duration::days(1)));
        assert!(!Schedule::Off.is_due(monday_3));
    }
}
