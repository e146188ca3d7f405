use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub endpoint_id: i64,
    /// The `webhook-id` header (`msg_…`), the same for every attempt and a resend.
    pub webhook_id: String,
    pub event_type: String,
    pub conversation_id: Option<i64>,
    pub customer_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// `pending` or `delivered`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub response_status: Option<i32>,
    pub latency_ms: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub response_excerpt: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
