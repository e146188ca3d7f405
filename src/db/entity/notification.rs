//! `notifications`: something that happened to a user in a conversation (queries in
//! `src/inbox/notifications/store.rs`). Ids and times only, no customer text.

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    /// Who is told.
    pub user_id: i64,
    /// `assigned`, `answered` or `mentioned`.
    pub kind: String,
    pub conversation_id: i64,
    /// The member who did it; None when the customer did (`answered`).
    pub actor_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
