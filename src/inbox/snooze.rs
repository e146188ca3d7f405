//! Snoozing: a conversation leaves the open folders until a time (or until the customer
//! answers) and then comes back, marked ("back from snooze") until someone triages it.
//!
//! - `POST /conversations/{id}/snooze` — the conversation page's form;
//! - [`wake_due`] — the scheduled job (`LETHE_SCHEDULE_SNOOZE`, every minute) that reopens
//!   the conversations whose time came; a customer's answer reopens one at once
//!   (src/mail/ingest.rs).
//!
//! Times are the server's local time, as the retention schedule's are.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Datelike, Duration, Local, NaiveDateTime, NaiveTime, TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Deserialize;

use super::queries;
use super::triage;
use crate::db::entity::conversation;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// The hour a "tomorrow" or "next week" snooze ends, local time.
const MORNING: u32 = 8;
/// How long "later today" lasts.
const LATER_HOURS: i64 = 4;

/// Until when, as chosen in the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// Until the customer answers.
    Answer,
    At(DateTime<Utc>),
}

impl Until {
    /// A preset (`later`, `tomorrow`, `next_week`, `answer`) or, with `custom`, a
    /// `datetime-local` value (`2026-12-24T09:00`), which must lie in the future.
    pub fn parse(choice: &str, custom: &str, now: DateTime<Utc>) -> Result<Self, &'static str> {
        let local = now.with_timezone(&Local);
        let morning = |days: i64| {
            let date = local.date_naive() + Duration::days(days);
            at_local(date.and_time(NaiveTime::from_hms_opt(MORNING, 0, 0).unwrap_or_default()))
        };
        let until = match choice.trim() {
            "answer" => return Ok(Until::Answer),
            "later" => now + Duration::hours(LATER_HOURS),
            "tomorrow" => morning(1).ok_or("snooze.invalid")?,
            "next_week" => {
                let days_to_monday = 7 - i64::from(local.weekday().num_days_from_monday());
                morning(days_to_monday).ok_or("snooze.invalid")?
            }
            "custom" => {
                let naive = NaiveDateTime::parse_from_str(custom.trim(), "%Y-%m-%dT%H:%M")
                    .map_err(|_| "snooze.invalid_time")?;
                at_local(naive).ok_or("snooze.invalid_time")?
            }
            _ => return Err("snooze.invalid"),
        };
        if until <= now {
            return Err("snooze.in_past");
        }
        Ok(Until::At(until))
    }

    pub fn time(self) -> Option<DateTime<Utc>> {
        match self {
            Until::Answer => None,
            Until::At(at) => Some(at),
        }
    }
}

/// A local wall-clock time as UTC (the earlier one when clocks go back; none in a gap).
fn at_local(naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

#[derive(Deserialize)]
pub struct SnoozeForm {
    until: String,
    #[serde(default)]
    at: String,
}

pub async fn snooze(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<SnoozeForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    let now = Utc::now();
    let until = Until::parse(&form.until, &form.at, now).map_err(AppError::BadRequest)?;
    let txn = crate::db::begin_write(&state.db).await?;
    if triage::snooze(&txn, scope.org(), &[id], until.time(), now).await? == 0 {
        return Err(AppError::NotFound);
    }
    crate::webhooks::emit(
        &txn,
        scope.org(),
        crate::webhooks::Event::ConversationStatusChanged {
            conversation_id: id,
        },
    )
    .await?;
    txn.commit().await?;
    queries::publish(&state, scope.org(), id);
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(id),
        "flash.snoozed",
    ))
}

/// Reopens every snoozed conversation whose time came, marked as back from snooze; the
/// number reopened.
pub async fn wake_due(state: &AppState, now: DateTime<Utc>) -> Result<u64, AppError> {
    let due: Vec<(i64, OrgId)> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .column(conversation::Column::OrganizationId)
        .filter(conversation::Column::Status.eq(triage::Status::Snoozed.as_str()))
        .filter(conversation::Column::SnoozedUntil.lte(now))
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut woken = 0;
    for (id, org) in due {
        let txn = crate::db::begin_write(&state.db).await?;
        // Re-checked in the update: an agent may have changed it meanwhile.
        let changed = conversation::Entity::update_many()
            .col_expr(
                conversation::Column::Status,
                Expr::val(triage::Status::Open.as_str()),
            )
            .col_expr(
                conversation::Column::SnoozedUntil,
                Expr::val(Option::<DateTime<Utc>>::None),
            )
            .col_expr(conversation::Column::WokeAt, Expr::val(Some(now)))
            .filter(conversation::Column::Id.eq(id))
            .filter(conversation::Column::Status.eq(triage::Status::Snoozed.as_str()))
            .filter(conversation::Column::SnoozedUntil.lte(now))
            .exec(&txn)
            .await?
            .rows_affected;
        if changed > 0 {
            crate::webhooks::emit(
                &txn,
                org,
                crate::webhooks::Event::ConversationStatusChanged {
                    conversation_id: id,
                },
            )
            .await?;
        }
        txn.commit().await?;
        if changed > 0 {
            queries::publish(state, org, id);
            woken += changed;
        }
    }
    Ok(woken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_lie_in_the_future_and_custom_times_are_checked() {
        let now = Utc::now();
        assert_eq!(Until::parse("answer", "", now), Ok(Until::Answer));
        for preset in ["later", "tomorrow", "next_week"] {
            let Ok(Until::At(at)) = Until::parse(preset, "", now) else {
                panic!("{preset} parses");
            };
            assert!(at > now, "{preset}");
            assert!(at <= now + Duration::days(8), "{preset}");
        }
        let next_year = format!("{}-03-01T10:30", now.year() + 1);
        assert!(matches!(
            Until::parse("custom", &next_year, now),
            Ok(Until::At(_))
        ));
        assert_eq!(
            Until::parse("custom", "2001-01-01T10:00", now),
            Err("snooze.in_past")
        );
        assert_eq!(
            Until::parse("custom", "tomorrow-ish", now),
            Err("snooze.invalid_time")
        );
        assert_eq!(Until::parse("forever", "", now), Err("snooze.invalid"));
    }
}
