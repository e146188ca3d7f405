//! A channel's signature: `POST /settings/channels/{id}/signature` with `signature` (the
//! channel's own, placeholders `{agent_name}` and `{shop_name}`) and `agent_signature` (where
//! the agent's signature goes: `below`, `above` or `none`). Admins only; audited without the
//! text.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};
use serde::Deserialize;

use super::routes;
use crate::db::InOrg;
use crate::db::entity::channel as entity;
use crate::mail::signature::{AgentPlacement, Signature};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

#[derive(Deserialize)]
pub struct SignatureForm {
    #[serde(default)]
    signature: String,
    #[serde(default)]
    agent_signature: String,
}

pub async fn save(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<SignatureForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let existing = routes::find(&state, &scope, path.into_inner()).await?;
    let placement =
        AgentPlacement::parse(&form.agent_signature).ok_or("signature.placement_invalid");
    let (signature, placement) = match (Signature::parse(&form.signature), placement) {
        (Ok(signature), Ok(placement)) => (signature, placement),
        (signature, placement) => {
            let errors = [signature.err(), placement.err()]
                .into_iter()
                .flatten()
                .collect();
            let page = routes::edit_page(&state, &scope, &existing, errors).await?;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    entity::Entity::update_in(scope.org())
        .col_expr(entity::Column::Signature, Expr::value(signature.as_str()))
        .col_expr(
            entity::Column::AgentSignature,
            Expr::value(placement.as_str()),
        )
        .filter(entity::Column::Id.eq(existing.id))
        .exec(&state.db)
        .await?;
    scope
        .audit(
            &state,
            "channel.signature_changed",
            format!("channel:{}", existing.id),
            serde_json::json!({ "agent_signature": placement.as_str() }),
        )
        .await?;
    Ok(see_other_with_flash(
        &paths::CHANNEL.at(existing.id),
        "flash.saved",
    ))
}
