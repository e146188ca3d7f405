use sea_orm::entity::prelude::*;

/// A gap a legitimate removal left in the audit chain (src/audit/): `row_id` is the first kept
/// row after it, `prev_hash` what that row chains to, `kept_hash` the hash of the kept row
/// before the gap (the genesis hash when the gap is at the start).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_anchors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_id: i64,
    pub prev_hash: String,
    pub kept_hash: String,
    pub removed: i64,
    pub reason: String,
    /// The MAC of this record under the chain key; empty before the chain was keyed.
    pub mac: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
