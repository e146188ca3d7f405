//! `conversation_aliases`: a conversation merged away, by its old id and token, pointing at
//! the conversation it went into (queries in `src/inbox/merge.rs`).

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation_aliases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub old_conversation_id: i64,
    pub token: String,
    /// The conversation it was merged into.
    pub conversation_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
