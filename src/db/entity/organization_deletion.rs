use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// An owner's scheduled deletion of the organization (src/orgs/organization_page.rs).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization_deletions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrgId,
    pub requested_at: DateTimeUtc,
    pub requested_by: Option<i64>,
    /// The purge job deletes everything once this has passed.
    pub purge_after: DateTimeUtc,
    pub purge_started_at: Option<DateTimeUtc>,
    /// Who gets the deletion confirmation when the purge is done (the owners when it began):
    /// JSON `[[address, language], …]` (src/orgs/purge.rs; m20261207_000021).
    #[sea_orm(column_type = "Text", nullable)]
    pub confirm_to: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
