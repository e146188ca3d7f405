use sea_orm::entity::prelude::*;

/// The newest audit entry (src/audit/): one row, id 1, updated with every append.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_head")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub last_id: i64,
    pub last_hash: String,
    /// The MAC of this record under the chain key; empty before the chain was keyed.
    pub mac: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
