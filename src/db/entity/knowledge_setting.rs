//! `knowledge_settings`: an organization's help centre (slug, title, default language) and the
//! version counter every knowledge change bumps (the article search index rebuilds on it).

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrgId,
    /// `/help/{slug}`; no help centre while None.
    pub help_slug: Option<String>,
    pub help_title: String,
    pub default_language: String,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
