use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// An organization's SLA calendar and targets (src/sla/), as JSON that
/// [`crate::sla::calendar::SlaSettings`] reads back. No customer data.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrgId,
    #[sea_orm(column_type = "Text")]
    pub settings: String,
    /// Conversations whose due times were computed before this are recomputed in batches.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
