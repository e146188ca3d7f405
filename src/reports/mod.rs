//! Reports (`/reports`, issue 15): the team's figures for a chosen period — volume (new and
//! closed conversations), first-response and resolution times (median and p90), SLA hit rate,
//! busiest hours (hour of day × weekday) — by day or week, per agent, tag and channel.
//!
//! They are computed only from [`facts`]: one row per conversation without personal data or
//! customer id, kept when the conversation is anonymized or deleted, so those still count,
//! once, and never reveal a person. Charts are SVG drawn on the server ([`svg`]), every table
//! downloads as CSV ([`csv`]); no JavaScript.
//!
//! Who sees them: admins and owners (the figures compare members). Agents are refused (403).
//!
//! - [`facts`]: the rows and how they are kept up to date;
//! - [`query`]: the period, the figures;
//! - [`svg`], [`csv`]: how they are shown and downloaded;
//! - [`routes`]: `GET /reports`, `GET /reports.csv`.

pub mod csv;
pub mod facts;
pub mod query;
pub mod routes;
pub mod svg;

use sea_orm::{ConnectionTrait, DbErr};

use crate::orgs::OrgId;

/// The time zone that days, weeks and hours of an organization's reports are counted in: the
/// organization's own, set with its SLA calendar (`/settings/sla`), else UTC — the same zone
/// its SLA deadlines are counted in.
pub async fn zone(db: &impl ConnectionTrait, org: OrgId) -> Result<chrono_tz::Tz, DbErr> {
    Ok(crate::sla::settings_of(db, org)
        .await?
        .map_or(chrono_tz::Tz::UTC, |(settings, _)| settings.calendar.zone()))
}
