//! `access_entries`: who opened whose personal data (queries in `src/audit/access.rs`).

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub user_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub conversation_id: Option<i64>,
    /// `conversation`, `customer`, `attachment`, `export` or `search`.
    pub kind: String,
    /// The client's address (as the audit log records it).
    pub client: Option<String>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
