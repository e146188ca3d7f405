//! `saved_views`: an inbox filter with a name (src/inbox/views.rs).

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saved_views")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    /// Who created it: the only one who sees a private view; with admins, the only ones who
    /// may change or delete a shared one.
    pub user_id: i64,
    pub name: String,
    /// Any agent of the organization may use it.
    pub shared: bool,
    /// The filter as the inbox's query string (`status=open&assignee=mine&sla=overdue&q=…`).
    #[sea_orm(column_type = "Text")]
    pub query: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
