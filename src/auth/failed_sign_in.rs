//! A failed sign-in into a known account (wrong password, second factor or passkey): an audit
//! entry `login.failed` in each of the account's organizations (under no organization when it
//! has none), and — when the organization's members had at least
//! `LETHE_ACCESS_ALERT_FAILED_SIGN_INS` (default 10) failed sign-ins within [`WINDOW_MINUTES`]
//! minutes — an alert to its owners: an audit entry `login.failed_burst` (how many failures,
//! against how many accounts) and a mail each when system mail is on. One alert per
//! organization and window: no alert is raised while the last one is younger than the window,
//! so a long attack gives one alert every 15 minutes, not one per attempt.
//!
//! The count reads the audit log, so it holds across restarts and several nodes; the check and
//! the alert run under one in-process lock (two nodes checking at the same instant may both
//! alert once). Addresses that belong to no account are not counted here (they are tallied under
//! no organization, `audit::tally`); the throttle (`auth::throttle`) slows the attempts
//! themselves. Nothing about the accounts or the client reaches the log or the mail.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, QueryFilter, QuerySelect};

use crate::audit::{Actor, Entry};
use crate::db::InOrg;
use crate::db::entity::audit_event;
use crate::orgs::OrgId;
use crate::state::AppState;
use crate::web::client::ClientInfo;

/// The window failed sign-ins are counted in, and the least time between two alerts.
pub const WINDOW_MINUTES: i64 = 15;

/// The audit action of the alert.
pub const BURST_ACTION: &str = "login.failed_burst";

/// Serializes the check-then-alert of this process.
static CHECK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Records a failed sign-in into the account `user_id` (`details` say which step failed) and
/// alerts the owners of its organizations on a burst.
pub async fn record(
    state: &AppState,
    user_id: i64,
    client: &ClientInfo,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    super::two_factor::audit_account(
        state,
        user_id,
        Actor::Anonymous,
        "login.failed",
        Some(client),
        details,
    )
    .await?;
    for org in crate::orgs::queries::organizations_of(&state.db, user_id).await? {
        if let Err(error) = check(state, org).await {
            tracing::error!(%error, org = org.get(), "failed sign-ins not checked");
        }
    }
    Ok(())
}

/// Failed sign-ins within the window: how many, and against how many accounts.
struct Burst {
    failures: i64,
    accounts: i64,
}

async fn check(state: &AppState, org: OrgId) -> Result<(), DbErr> {
    let Some(burst) = new_burst(state, org).await? else {
        return Ok(());
    };
    mail_owners(state, org, &burst).await;
    Ok(())
}

/// A burst not alerted on yet in this window, recorded as alerted (the audit entry); the lock
/// is held from the count to the entry, not while mailing.
async fn new_burst(state: &AppState, org: OrgId) -> Result<Option<Burst>, DbErr> {
    let since = Utc::now() - Duration::minutes(WINDOW_MINUTES);
    let _one_at_a_time = CHECK.lock().await;
    let counted: Option<(i64, i64)> = audit_event::Entity::find_in(org)
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "failures")
        .column_as(
            Expr::cust("COUNT(DISTINCT audit_events.target)"),
            "accounts",
        )
        .filter(audit_event::Column::Action.eq("login.failed"))
        .filter(audit_event::Column::OccurredAt.gte(since))
        .into_tuple()
        .one(&state.db)
        .await?;
    let (failures, accounts) = counted.unwrap_or((0, 0));
    if failures < state.config.access_alert_failed_sign_ins {
        return Ok(None);
    }
    let alerted = audit_event::Entity::find_in(org)
        .select_only()
        .column(audit_event::Column::Id)
        .filter(audit_event::Column::Action.eq(BURST_ACTION))
        .filter(audit_event::Column::OccurredAt.gte(since))
        .into_tuple::<i64>()
        .one(&state.db)
        .await?
        .is_some();
    if alerted {
        return Ok(None);
    }
    state
        .audit
        .record(
            &state.db,
            Entry {
                org: Some(org),
                actor: Actor::System("sign-in-watch"),
                action: BURST_ACTION,
                target: "organization".to_owned(),
                client: None,
                details: serde_json::json!({
                    "failures": failures,
                    "accounts": accounts,
                    "window_minutes": WINDOW_MINUTES,
                }),
            },
        )
        .await?;
    Ok(Some(Burst { failures, accounts }))
}

/// A mail to each owner (when system mail is on): how many, against how many accounts, and a
/// link to the entries — no account and no client address.
async fn mail_owners(state: &AppState, org: OrgId, burst: &Burst) {
    let link = state.config.base_url.join(&format!(
        "{}?action=login.failed",
        crate::web::paths::AUDIT.path()
    ));
    let args = [
        ("failures", burst.failures.to_string()),
        ("accounts", burst.accounts.to_string()),
        ("minutes", WINDOW_MINUTES.to_string()),
        ("link", link.to_string()),
    ];
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::orgs::admin_notice::mail_owners(
        state,
        org,
        "access.mail.failed_sign_ins_subject",
        "access.mail.failed_sign_ins_body",
        &args,
        "failed sign-ins alert",
    )
    .await;
}
