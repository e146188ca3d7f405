use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// An organization's retention schedule and run lock (src/retention/).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retention_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrgId,
    pub schedule: String,
    /// Set while a run holds the organization's lock.
    pub running_since: Option<DateTimeUtc>,
    /// Scheduled times up to here have been handled.
    pub schedule_checked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
