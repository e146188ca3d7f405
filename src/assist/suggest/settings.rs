//! The organization's choice for suggestions, on `/settings/assist` (admins):
//! `POST /settings/assist/suggestions`. Audit-logged.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use serde::Deserialize;

use crate::db::InOrg;
use crate::db::entity::assist_setting;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// Whether suggestions are computed, and whether agents see them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Nothing computed or kept.
    #[default]
    Off,
    /// Computed and kept, not shown: `/reports` compares them with the replies sent.
    Shadow,
    /// Shown above the reply box.
    Shown,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Off, Mode::Shadow, Mode::Shown];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Shadow => "shadow",
            Mode::Shown => "shown",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Mode::ALL.into_iter().find(|m| m.as_str() == value.trim())
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Mode::Off => "assist.suggest.mode_off",
            Mode::Shadow => "assist.suggest.mode_shadow",
            Mode::Shown => "assist.suggest.mode_shown",
        }
    }
}

/// The organization's mode (off when never set).
pub async fn mode(db: &impl ConnectionTrait, org: OrgId) -> Result<Mode, DbErr> {
    Ok(assist_setting::Entity::find_in(org)
        .one(db)
        .await?
        .and_then(|s| Mode::parse(&s.suggestions))
        .unwrap_or_default())
}

#[derive(Deserialize)]
pub struct ModeForm {
    mode: String,
}

/// `POST /settings/assist/suggestions`.
pub async fn save(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<ModeForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let mode =
        Mode::parse(&form.mode).ok_or(AppError::BadRequest("assist.suggest.mode_invalid"))?;
    let row = assist_setting::ActiveModel {
        organization_id: Set(scope.org()),
        suggestions: Set(mode.as_str().to_owned()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    match assist_setting::Entity::find_in(scope.org())
        .one(&state.db)
        .await?
    {
        Some(existing) => {
            let mut row = row;
            row.id = Set(existing.id);
            assist_setting::Entity::update(row).exec(&state.db).await?;
        }
        None => {
            assist_setting::Entity::insert(row).exec(&state.db).await?;
        }
    }
    scope
        .audit(
            &state,
            "assist.suggestions_set",
            "assist:suggestions",
            serde_json::json!({ "mode": mode.as_str() }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::ASSIST_SETTINGS.path(),
        "flash.assist_suggestions_saved",
    ))
}
