use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// A shop an organization links for the orders panel (src/assist/orders/).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_connectors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    /// `shopify` or `woocommerce`.
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub shop_url: String,
    /// The credentials as JSON, sealed under the instance key.
    #[sea_orm(column_type = "Text")]
    pub credentials_sealed: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
