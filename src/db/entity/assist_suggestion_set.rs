use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// That suggestions were computed for a customer's message (src/assist/suggest/store.rs):
/// unique on (conversation, message), so a set is kept once and an empty one is remembered.
/// Only ids and a count, no text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assist_suggestion_sets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub conversation_id: i64,
    pub message_id: i64,
    /// How many suggestions were kept (0: none was found).
    pub kept: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
