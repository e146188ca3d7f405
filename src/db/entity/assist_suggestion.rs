use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// A suggestion offered (or kept, in shadow mode) for a customer's message
/// (src/assist/suggest/). Customer data: its text may hold what the source held.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assist_suggestions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub conversation_id: i64,
    /// The customer's message it was made for.
    pub message_id: i64,
    /// `canned`, `article` or `conversation`.
    pub kind: String,
    /// The canned reply's, article's or closed conversation's id.
    pub source_id: i64,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    /// Shown to agents (false: shadow mode, kept only to compare).
    pub shown: bool,
    /// `used`, `edited` or `ignored`, once the agent replied.
    pub outcome: Option<String>,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
