//! The scheduled SLA job (`LETHE_SCHEDULE_SLA`, every minute by default): finishes the
//! recomputation a settings change started ([`super::recompute_stale`], a bounded batch per
//! run) and, for organizations that asked for it, mails the admins once per conversation and
//! target before a deadline passes. The mail holds no customer content: the target, the due
//! time and a link to the conversation.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::calendar::SlaSettings;
use crate::db::InOrg;
use crate::db::entity::{conversation, sla_setting};
use crate::state::AppState;
use crate::web::paths;

/// Warnings sent per organization and target in one run at most (the next run sends more).
const WARN_BATCH: u64 = 200;

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOutcome {
    pub recomputed: u64,
    pub warned: u64,
}

/// One run, as of `now`.
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> Result<RunOutcome, DbErr> {
    let recomputed = super::recompute_stale(&state.db, super::RECOMPUTE_BATCH, now).await?;
    let mut warned = 0;
    for row in sla_setting::Entity::find().all(&state.db).await? {
        let Ok(settings) = SlaSettings::from_json(&row.settings) else {
            continue;
        };
        let Some(minutes) = settings.warn_minutes else {
            continue;
        };
        let org = row.organization_id;
        let horizon = now + Duration::minutes(i64::from(minutes));
        for first_response in [true, false] {
            let (due_column, warned_column, body_key) = if first_response {
                (
                    conversation::Column::FirstResponseDueAt,
                    conversation::Column::FirstResponseWarnedAt,
                    "sla.mail.body_first_response",
                )
            } else {
                (
                    conversation::Column::ResolutionDueAt,
                    conversation::Column::ResolutionWarnedAt,
                    "sla.mail.body_resolution",
                )
            };
            let mut query = conversation::Entity::find_in(org)
                .select_only()
                .column(conversation::Column::Id)
                .column(due_column)
                .filter(conversation::Column::Status.is_in(super::RUNNING))
                .filter(due_column.gt(now))
                .filter(due_column.lte(horizon))
                .filter(warned_column.is_null());
            if first_response {
                query = query.filter(conversation::Column::FirstRespondedAt.is_null());
            }
            let due: Vec<(i64, Option<DateTime<Utc>>)> = query
                .order_by_asc(due_column)
                .limit(WARN_BATCH)
                .into_tuple()
                .all(&state.db)
                .await?;
            for (id, due_at) in due {
                // Claimed before sending: a second run (or instance) never sends it again.
                let claimed = conversation::Entity::update_many()
                    .col_expr(warned_column, Expr::val(Some(now)))
                    .filter(conversation::Column::Id.eq(id))
                    .filter(conversation::Column::OrganizationId.eq(org))
                    .filter(warned_column.is_null())
                    .exec(&state.db)
                    .await?
                    .rows_affected;
                if claimed == 0 {
                    continue;
                }
                let link = state.config.base_url.join(&paths::CONVERSATION.at(id));
                // In the organization's own time zone, the one its business hours are set in.
                let due_text = due_at
                    .map(|d| {
                        d.with_timezone(&settings.calendar.zone())
                            .format("%Y-%m-%d %H:%M %Z")
                            .to_string()
                    })
                    .unwrap_or_default();
                crate::orgs::admin_notice::mail_admins(
                    state,
                    org,
                    "sla.mail.subject",
                    body_key,
                    &[("link", link.as_str()), ("due", due_text.as_str())],
                    "sla warning",
                )
                .await;
                warned += 1;
            }
        }
    }
    Ok(RunOutcome { recomputed, warned })
}
