use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// A POST made with an `Idempotency-Key` (src/api/idempotency.rs): per API key, the key's
/// SHA-256, a salted SHA-256 of the request, and what it created — ids only, never a
/// response body, so no personal data is kept here. Expires after 24 hours.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_idempotency")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub api_key_id: i64,
    pub key_hash: String,
    pub salt: String,
    pub request_hash: String,
    /// The answer's status; 0 while the first request is still being processed.
    pub status: i32,
    /// What the answer showed (`api::idempotency::Resource` as JSON); empty while pending.
    pub resource: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
