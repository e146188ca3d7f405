use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub display_name: String,
    pub created_at: DateTimeUtc,
    // customer rights (src/privacy/, migration m20261202_000008_customer_rights)
    pub phone: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub postal_address: Option<String>,
    /// Set while processing is restricted (GDPR Art. 18): the data is kept but frozen.
    pub restricted_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub restriction_reason: Option<String>,
    // objections (src/privacy/objection.rs, migration m20261207_000020_objections_and_verification)
    /// The effects of an objection in force, comma-separated (`exclude_reports`,
    /// `stop_processing`); None when there is none.
    pub objection_effects: Option<String>,
    pub objection_since: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
