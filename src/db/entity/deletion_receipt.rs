//! `deletion_receipts`: what an erasure removed, by count (src/privacy/erase.rs).

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deletion_receipts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub request_id: i64,
    pub created_at: DateTimeUtc,
    pub performed_by: String,
    /// The counts per category, as JSON (see [`crate::privacy::erase::Counts`]).
    #[sea_orm(column_type = "Text")]
    pub counts: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
