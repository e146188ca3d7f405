//! `knowledge_articles`: one article of the knowledge base, whatever its languages
//! (its texts are `knowledge_variants`; src/assist/knowledge/).

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_articles")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    /// The stable part of its help-centre URL, unique in the organization.
    pub slug: String,
    pub category_id: Option<i64>,
    /// Shown in the help centre (when published); otherwise internal.
    pub public: bool,
    pub published: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
