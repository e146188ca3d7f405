use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub channel_id: Option<i64>,
    pub customer_id: i64,
    pub token: String,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    pub status: String,
    pub assignee_id: Option<i64>,
    pub message_count: i32,
    pub created_at: DateTimeUtc,
    pub last_activity_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    /// While snoozed: when it comes back (None: when the customer answers).
    pub snoozed_until: Option<DateTimeUtc>,
    /// It came back from a snooze and nobody has triaged it since.
    pub woke_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
