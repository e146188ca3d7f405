//! One conversation's figures for reports (src/reports/facts.rs): no personal data, no
//! customer id; the conversation id is opaque (no foreign key), so the row outlives it.

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report_facts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrgId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_ref: i64,
    pub channel_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub first_response_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub tag_ids: String,
    pub counted: bool,
    /// The SLA deadlines the conversation had (src/sla), if any.
    pub sla_first_response_due_at: Option<DateTimeUtc>,
    /// The first response as the SLA counts it (`conversations.first_responded_at`).
    pub sla_first_responded_at: Option<DateTimeUtc>,
    pub sla_resolution_due_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
