use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// An address (`name@shop.example`) or a whole domain (`@shop.example`) whose mail goes
/// straight to spam (src/inbox/spam.rs).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blocked_senders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub pattern: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
