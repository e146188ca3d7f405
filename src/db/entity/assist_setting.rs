use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// An organization's assist choices (src/assist/suggest/settings.rs): suggestions `off`,
/// `shadow` (computed and kept, not shown) or `shown`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assist_settings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub suggestions: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
