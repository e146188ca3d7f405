//! `privacy_requests`: the data subject requests register (queries in `src/privacy/requests.rs`).

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "privacy_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub kind: String,
    pub reference: String,
    pub customer_id: Option<i64>,
    pub received_at: DateTimeUtc,
    pub due_at: DateTimeUtc,
    pub status: String,
    pub handled_by: Option<i64>,
    pub completed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub note: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
