//! The organization's linked shops (`order_connectors`): listed, found, added, changed and
//! removed, always within the organization. Credentials are stored sealed
//! ([`super::shop::Credentials::seal`]) and never read back into a form.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder, Set,
};

use super::shop::{ConnectorKind, Credentials, ShopUrl};
use crate::crypto::Sealer;
use crate::db::InOrg;
use crate::db::entity::order_connector;
use crate::orgs::OrgId;

/// A connector as saved: its kind, address and credentials (None: keep the current ones).
pub struct ConnectorSettings {
    pub kind: ConnectorKind,
    pub shop_url: ShopUrl,
    pub credentials: Option<Credentials>,
}

pub async fn list(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<order_connector::Model>, DbErr> {
    order_connector::Entity::find_in(org)
        .order_by_asc(order_connector::Column::Id)
        .all(db)
        .await
}

pub async fn find(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<Option<order_connector::Model>, DbErr> {
    order_connector::Entity::find_by_id_in(org, id)
        .one(db)
        .await
}

/// Adds a connector; its credentials must be given.
pub async fn create(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    org: OrgId,
    settings: &ConnectorSettings,
    credentials: &Credentials,
) -> Result<order_connector::Model, DbErr> {
    let now = Utc::now();
    order_connector::ActiveModel {
        organization_id: Set(org),
        kind: Set(settings.kind.as_str().to_owned()),
        shop_url: Set(settings.shop_url.as_str().to_owned()),
        credentials_sealed: Set(credentials.seal(sealer)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Changes a connector's address, and its credentials when new ones are given. False when
/// it is not the organization's.
pub async fn update(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    org: OrgId,
    id: i64,
    settings: &ConnectorSettings,
) -> Result<bool, DbErr> {
    let mut update = order_connector::Entity::update_in(org)
        .col_expr(
            order_connector::Column::ShopUrl,
            Expr::val(settings.shop_url.as_str()),
        )
        .col_expr(order_connector::Column::UpdatedAt, Expr::val(Utc::now()));
    if let Some(credentials) = &settings.credentials {
        update = update.col_expr(
            order_connector::Column::CredentialsSealed,
            Expr::val(credentials.seal(sealer)),
        );
    }
    Ok(update
        .filter(order_connector::Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

pub async fn delete(db: &impl ConnectionTrait, org: OrgId, id: i64) -> Result<bool, DbErr> {
    Ok(order_connector::Entity::delete_in(org)
        .filter(order_connector::Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}
