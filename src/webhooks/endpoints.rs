//! An organization's endpoints: created with a fresh secret (sealed under the instance key),
//! changed, deleted, their secret rotated with an overlap during which the previous one also
//! signs ([`ROTATION_OVERLAP`]), and disabled when they have failed for too long. Every query
//! is scoped by the organization.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder, Set,
};

use super::WebhookError;
use super::signing;
use super::types::{EventSet, WebhookSecret, WebhookUrl};
use crate::crypto::Sealer;
use crate::db::InOrg;
use crate::db::entity::webhook_endpoint;
use crate::orgs::OrgId;
use crate::state::AppState;

/// How long the previous secret still signs after a rotation.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// The sealing context of endpoint secrets.
const SEAL_CONTEXT: &str = "webhook-secret";

/// What an admin sets on an endpoint, checked.
pub struct EndpointSettings {
    pub url: WebhookUrl,
    pub events: EventSet,
    pub include_content: bool,
    pub active: bool,
}

pub fn seal(sealer: &Sealer, secret: &WebhookSecret) -> String {
    sealer.seal_text(&secret.expose(), SEAL_CONTEXT)
}

pub fn open(sealer: &Sealer, sealed: &str) -> Result<WebhookSecret, WebhookError> {
    let text = sealer
        .open_text(sealed, SEAL_CONTEXT)
        .map_err(|_| WebhookError::Sealed)?;
    WebhookSecret::parse(&text).ok_or(WebhookError::Sealed)
}

/// The secrets that sign a delivery now: the current one, and the previous one while the
/// rotation's overlap lasts.
pub struct SigningSecrets(Vec<WebhookSecret>);

impl SigningSecrets {
    pub fn of(
        sealer: &Sealer,
        endpoint: &webhook_endpoint::Model,
        now: DateTime<Utc>,
    ) -> Result<Self, WebhookError> {
        let mut secrets = vec![open(sealer, &endpoint.secret_sealed)?];
        if let (Some(previous), Some(until)) = (
            &endpoint.previous_secret_sealed,
            endpoint.previous_secret_until,
        ) && until > now
        {
            secrets.push(open(sealer, previous)?);
        }
        Ok(Self(secrets))
    }

    pub fn signature_header(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        signing::signature_header(&self.0, id, timestamp, body)
    }
}

pub async fn list(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<webhook_endpoint::Model>, DbErr> {
    webhook_endpoint::Entity::find_in(org)
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(db)
        .await
}

pub async fn find(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<Option<webhook_endpoint::Model>, DbErr> {
    webhook_endpoint::Entity::find_by_id_in(org, id)
        .one(db)
        .await
}

/// A new endpoint with a fresh secret; the secret is returned to be shown.
pub async fn create(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    org: OrgId,
    settings: &EndpointSettings,
) -> Result<(webhook_endpoint::Model, WebhookSecret), DbErr> {
    let secret = WebhookSecret::generate();
    let row = webhook_endpoint::ActiveModel {
        organization_id: Set(org),
        url: Set(settings.url.as_str().to_owned()),
        events: Set(settings.events.stored()),
        include_content: Set(settings.include_content),
        active: Set(settings.active),
        secret_sealed: Set(seal(sealer, &secret)),
        previous_secret_sealed: Set(None),
        previous_secret_until: Set(None),
        failing_since: Set(None),
        disabled_at: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((row, secret))
}

/// Changes an endpoint; switching it on again forgets an automatic disabling and the
/// failure streak. False when it is not the organization's.
pub async fn update(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
    settings: &EndpointSettings,
) -> Result<bool, DbErr> {
    let mut update = webhook_endpoint::Entity::update_in(org)
        .col_expr(
            webhook_endpoint::Column::Url,
            Expr::val(settings.url.as_str()),
        )
        .col_expr(
            webhook_endpoint::Column::Events,
            Expr::val(settings.events.stored()),
        )
        .col_expr(
            webhook_endpoint::Column::IncludeContent,
            Expr::val(settings.include_content),
        )
        .col_expr(webhook_endpoint::Column::Active, Expr::val(settings.active));
    if settings.active {
        update = update
            .col_expr(
                webhook_endpoint::Column::DisabledAt,
                Expr::val(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::val(Option::<DateTime<Utc>>::None),
            );
    }
    Ok(update
        .filter(webhook_endpoint::Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// Deletes an endpoint with its deliveries (queued and logged).
pub async fn delete(db: &impl ConnectionTrait, org: OrgId, id: i64) -> Result<bool, DbErr> {
    crate::db::entity::webhook_delivery::Entity::delete_in(org)
        .filter(crate::db::entity::webhook_delivery::Column::EndpointId.eq(id))
        .exec(db)
        .await?;
    Ok(webhook_endpoint::Entity::delete_in(org)
        .filter(webhook_endpoint::Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// A new secret; the current one keeps signing, beside it, for [`ROTATION_OVERLAP`].
pub async fn rotate(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    org: OrgId,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<WebhookSecret>, DbErr> {
    let Some(endpoint) = find(db, org, id).await? else {
        return Ok(None);
    };
    let secret = WebhookSecret::generate();
    webhook_endpoint::Entity::update_in(org)
        .col_expr(
            webhook_endpoint::Column::SecretSealed,
            Expr::val(seal(sealer, &secret)),
        )
        .col_expr(
            webhook_endpoint::Column::PreviousSecretSealed,
            Expr::val(Some(endpoint.secret_sealed)),
        )
        .col_expr(
            webhook_endpoint::Column::PreviousSecretUntil,
            Expr::val(Some(now + ROTATION_OVERLAP)),
        )
        .filter(webhook_endpoint::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(Some(secret))
}

/// Switches off an endpoint that has been failing (once: false when it already was), then
/// records it in the audit log.
pub async fn disable_failing(
    state: &AppState,
    endpoint: &webhook_endpoint::Model,
    now: DateTime<Utc>,
) -> Result<bool, WebhookError> {
    let org = endpoint.organization_id;
    let changed = webhook_endpoint::Entity::update_in(org)
        .col_expr(webhook_endpoint::Column::Active, Expr::val(false))
        .col_expr(webhook_endpoint::Column::DisabledAt, Expr::val(Some(now)))
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
        .filter(webhook_endpoint::Column::Active.eq(true))
        .exec(&state.db)
        .await?
        .rows_affected
        > 0;
    if changed {
        state
            .audit
            .record(
                &state.db,
                crate::audit::Entry {
                    org: Some(org),
                    actor: crate::audit::Actor::System("webhooks"),
                    action: "webhook.disabled",
                    target: format!("webhook:{}", endpoint.id),
                    client: None,
                    details: serde_json::json!({
                        "failing_since": endpoint.failing_since,
                    }),
                },
            )
            .await?;
    }
    Ok(changed)
}
