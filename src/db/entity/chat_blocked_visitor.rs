use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// A chat visitor whose messages are refused (src/chat/blocks.rs): the SHA-256 of the id
/// their widget holds.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_blocked_visitors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub visitor_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
