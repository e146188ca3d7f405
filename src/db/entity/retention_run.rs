use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// One retention run (or dry run) of an organization; `counts` is JSON per category.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retention_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub trigger: String,
    pub dry_run: bool,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub counts: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
