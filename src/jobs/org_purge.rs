//! Purges the organizations whose deletion window has passed (`crate::orgs::purge`). An
//! organization with anything on legal hold waits, still scheduled, until the holds are
//! released; a failed purge is logged and continues at the next run.

use chrono::Utc;

use crate::orgs::{organization_page, purge};
use crate::state::AppState;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub purged: u32,
    pub waiting_on_legal_hold: u32,
    pub failed: u32,
}

pub async fn run_once(state: &AppState) -> Result<Outcome, sea_orm::DbErr> {
    let mut outcome = Outcome::default();
    for org in organization_page::due(&state.db, Utc::now()).await? {
        if purge::holds(&state.db, org).await? > 0 {
            tracing::warn!(
                org = org.get(),
                "organization deletion waits: data is on legal hold"
            );
            outcome.waiting_on_legal_hold += 1;
            continue;
        }
        match purge::purge(state, org).await {
            Ok(_) => outcome.purged += 1,
            Err(error) => {
                tracing::error!(%error, org = org.get(), "organization purge failed; retried later");
                outcome.failed += 1;
            }
        }
    }
    Ok(outcome)
}
