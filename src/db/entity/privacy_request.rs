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
    // m20261207_000020_objections_and_verification (src/privacy/objection.rs, verify.rs)
    /// An objection's chosen effects, comma-separated.
    pub effects: Option<String>,
    pub verification_token_hash: Option<String>,
    /// The `customer_emails` row the link went to (an address already on the record).
    pub verification_email_id: Option<i64>,
    pub verification_sent_at: Option<DateTimeUtc>,
    pub verification_expires_at: Option<DateTimeUtc>,
    pub verified_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub override_reason: Option<String>,
    pub overridden_by: Option<i64>,
    pub overridden_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
