//! `drafts`: the reply an agent is writing in a conversation (queries in `src/inbox/drafts.rs`).

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "drafts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub conversation_id: i64,
    pub user_id: i64,
    #[sea_orm(column_type = "Text")]
    pub to_addresses: String,
    #[sea_orm(column_type = "Text")]
    pub cc_addresses: String,
    #[sea_orm(column_type = "Text")]
    pub bcc_addresses: String,
    #[sea_orm(column_type = "Text")]
    pub text_body: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
