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
    /// SLA (src/sla/): when the first agent reply is due, counted in business time from the
    /// conversation's creation; None without a target.
    pub first_response_due_at: Option<DateTimeUtc>,
    /// SLA: when closing it is due; None without a target.
    pub resolution_due_at: Option<DateTimeUtc>,
    /// When the first agent reply (not a note) was written.
    pub first_responded_at: Option<DateTimeUtc>,
    /// The next deadline still open (first response, else resolution), what the inbox sorts
    /// and filters by; None when none is open.
    pub sla_next_due_at: Option<DateTimeUtc>,
    /// When the admins were warned that the first response is about to be missed.
    pub first_response_warned_at: Option<DateTimeUtc>,
    /// When the admins were warned that the resolution is about to be missed.
    pub resolution_warned_at: Option<DateTimeUtc>,
    /// When the due times were computed (older than the settings: recomputed in batches).
    pub sla_computed_at: Option<DateTimeUtc>,
    /// A chat conversation: the SHA-256 of the visitor id its widget holds (src/chat/).
    pub chat_visitor_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
