use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// A due-date reminder sent for a privacy request (src/jobs/privacy_reminders.rs).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "privacy_reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: i64,
    pub organization_id: OrgId,
    pub sent_at: DateTimeUtc,
    pub recipients: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
