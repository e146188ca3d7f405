//! `/settings/sla` (admins): the organization's time zone, business hours, holidays, targets
//! and the warning mail. A form that does not parse is refused whole (400, the reason names
//! the field, nothing saved); a saved change is audit-logged and the open conversations'
//! due times are recomputed (one batch now, the rest by the SLA job).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder, QuerySelect};

use super::calendar::{SlaSettings, duration_text};
use crate::db::InOrg;
use crate::db::entity::{channel, sla_setting};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, render};

const DAY_KEYS: [&str; 7] = [
    "backup.day.mon",
    "backup.day.tue",
    "backup.day.wed",
    "backup.day.thu",
    "backup.day.fri",
    "backup.day.sat",
    "backup.day.sun",
];

/// One weekday's row of the form.
pub struct Day {
    pub index: usize,
    pub name_key: &'static str,
    pub open: bool,
    pub from: String,
    pub to: String,
}

/// The form's values: the saved settings, or what was sent when it was refused.
pub struct Fields {
    pub time_zone: String,
    pub days: Vec<Day>,
    pub holidays: String,
    pub first_response: String,
    pub resolution: String,
    pub rules: String,
    pub warn_minutes: String,
}

impl Fields {
    fn of(settings: &SlaSettings, channels: &[(i64, String)]) -> Self {
        Self {
            time_zone: settings.calendar.zone().name().to_owned(),
            days: (0..7)
                .map(|index| {
                    let (open, from, to) = settings.day(index);
                    Day {
                        index,
                        name_key: DAY_KEYS[index],
                        open,
                        from,
                        to,
                    }
                })
                .collect(),
            holidays: settings.holidays_text(),
            first_response: text_or_empty(settings.default.first_response),
            resolution: text_or_empty(settings.default.resolution),
            rules: settings.rules_text(channels),
            warn_minutes: settings
                .warn_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
        }
    }

    fn sent(form: &HashMap<String, String>) -> Self {
        let field = |name: &str| form.get(name).cloned().unwrap_or_default();
        Self {
            time_zone: field("time_zone"),
            days: (0..7)
                .map(|index| Day {
                    index,
                    name_key: DAY_KEYS[index],
                    open: !field(&format!("open_{index}")).is_empty(),
                    from: field(&format!("from_{index}")),
                    to: field(&format!("to_{index}")),
                })
                .collect(),
            holidays: field("holidays"),
            first_response: field("first_response"),
            resolution: field("resolution"),
            rules: field("rules"),
            warn_minutes: field("warn_minutes"),
        }
    }
}

fn text_or_empty(minutes: Option<u32>) -> String {
    minutes.map(|m| duration_text(Some(m))).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "settings/sla.html")]
struct SlaPage {
    page: Page,
    fields: Fields,
    errors: Vec<&'static str>,
}

async fn channels_of(state: &AppState, org: OrgId) -> Result<Vec<(i64, String)>, AppError> {
    Ok(channel::Entity::find_in(org)
        .select_only()
        .column(channel::Column::Id)
        .column(channel::Column::Name)
        .order_by_asc(channel::Column::Name)
        .into_tuple()
        .all(&state.db)
        .await?)
}

pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let settings = super::settings_of(&state.db, org)
        .await?
        .map_or_else(SlaSettings::empty, |(s, _)| s);
    let channels = channels_of(&state, org).await?;
    render(&SlaPage {
        page: Page::new(&state, &scope.session, "organization").await?,
        fields: Fields::of(&settings, &channels),
        errors: Vec::new(),
    })
}

pub async fn save(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let channels = channels_of(&state, org).await?;
    let settings = match SlaSettings::from_form(&form, &channels) {
        Ok(settings) => settings,
        Err(reason) => {
            let page = SlaPage {
                page: Page::new(&state, &scope.session, "organization").await?,
                fields: Fields::sent(&form),
                errors: vec![reason],
            };
            return render_with_status(&page, StatusCode::BAD_REQUEST);
        }
    };
    let now = Utc::now();
    sla_setting::Entity::insert(sla_setting::ActiveModel {
        organization_id: Set(org),
        settings: Set(settings.to_json()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(sla_setting::Column::OrganizationId)
            .update_columns([
                sla_setting::Column::Settings,
                sla_setting::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&state.db)
    .await?;
    scope
        .audit(
            &state,
            "sla.settings_changed",
            "sla".to_owned(),
            serde_json::json!({
                "time_zone": settings.calendar.zone().name(),
                "first_response_minutes": settings.default.first_response,
                "resolution_minutes": settings.default.resolution,
                "rules": settings.rules.len(),
                "holidays": settings.calendar.holidays_count(),
                "warn_minutes": settings.warn_minutes,
            }),
        )
        .await?;
    // The first batch now; the SLA job recomputes the rest.
    super::recompute_org(&state.db, org, super::RECOMPUTE_BATCH, now).await?;
    Ok(see_other_with_flash(
        paths::SLA_SETTINGS.path(),
        "flash.sla_saved",
    ))
}
