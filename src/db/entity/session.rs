use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

/// `id` is the SHA-256 of the cookie's token, never the token itself.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: Option<i64>,
    pub organization_id: Option<OrgId>,
    pub csrf_token: String,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// The device, as browser and operating system (from the User-Agent, shortened).
    pub user_agent: Option<String>,
    /// The client address the session was started from.
    pub ip: Option<String>,
    /// The user who gave the right password but not yet the second factor: such a session is
    /// not signed in (`user_id` is empty) and reaches only the second step.
    pub pending_user_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
