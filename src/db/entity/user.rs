use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    pub language: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    /// The agent's own signature under replies (set at `/account`).
    #[sea_orm(column_type = "Text")]
    pub signature: String,
    /// Notifications that also come by mail (set at `/account`, src/inbox/notifications).
    pub notify_mail_assigned: bool,
    pub notify_mail_answered: bool,
    pub notify_mail_mentioned: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
