use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// An organization's API key (src/api/keys.rs). `token_hash` is the SHA-256 of the key; the
/// key itself is shown once and never stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub name: String,
    /// The key's first characters, to tell keys apart on the page.
    pub prefix: String,
    pub token_hash: String,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<i64>,
    /// What the key may do: `read`, `write`, `privacy`, comma-separated (src/api/scopes.rs).
    pub scopes: String,
    /// After this the key is refused; none: it does not expire.
    pub expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
