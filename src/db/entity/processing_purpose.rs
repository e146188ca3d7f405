//! `processing_purposes`: why an organization processes its customers' data, and on which
//! legal basis (queries in `src/privacy/purposes.rs`). No rows: Lethe's defaults apply.

use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "processing_purposes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    /// Order on the page and in the export, from 0.
    pub position: i32,
    /// The admin's words, or `lethe:<name>` for one of Lethe's default texts (said in the
    /// reader's language).
    pub purpose: String,
    /// Comma-separated: `consent`, `contract`, `legal_obligation`, `vital_interests`,
    /// `public_task`, `legitimate_interests` (Art. 6(1)(a)–(f) GDPR).
    pub legal_bases: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
