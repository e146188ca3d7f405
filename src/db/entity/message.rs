use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub conversation_id: i64,
    pub direction: String,
    pub kind: String,
    pub message_id_header: String,
    #[sea_orm(column_type = "Text")]
    pub in_reply_to: String,
    #[sea_orm(column_type = "Text")]
    pub references_header: String,
    pub from_name: String,
    pub from_address: String,
    #[sea_orm(column_type = "Text")]
    pub to_addresses: String,
    #[sea_orm(column_type = "Text")]
    pub cc_addresses: String,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub text_body: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub html_body: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub parse_notes: String,
    pub author_id: Option<i64>,
    pub delivery_status: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub delivery_error: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// Blind copies of a reply, comma-separated; never sent as a header.
    #[sea_orm(column_type = "Text")]
    pub bcc_addresses: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
