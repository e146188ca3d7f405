use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// When an agent last opened a conversation (src/inbox/unread.rs); `read_at` None: marked
/// unread.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation_reads")]
pub struct Model {
    pub organization_id: OrgId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: i64,
    pub read_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
