use sea_orm::entity::prelude::*;

use crate::orgs::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channels")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: OrgId,
    pub name: String,
    pub inbound_token_hash: String,
    #[sea_orm(column_type = "Text")]
    pub inbound_token_sealed: String,
    pub imap_host: Option<String>,
    pub imap_port: i32,
    pub imap_tls: String,
    pub imap_user: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub imap_password_sealed: Option<String>,
    pub imap_folder: String,
    pub imap_move_to: Option<String>,
    pub poll_seconds: i32,
    pub imap_uid_validity: Option<i64>,
    pub imap_last_uid: i64,
    pub last_poll_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: i32,
    pub smtp_tls: String,
    pub smtp_user: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub smtp_password_sealed: Option<String>,
    pub from_name: String,
    pub from_address: String,
    pub created_at: DateTimeUtc,
    /// `password` or `oauth2`.
    pub auth_method: String,
    /// `microsoft`, `google` or `generic`.
    pub oauth_provider: Option<String>,
    pub oauth_client_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub oauth_client_secret_sealed: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub oauth_auth_url: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub oauth_token_url: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub oauth_scopes: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub oauth_refresh_token_sealed: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub oauth_access_token_sealed: Option<String>,
    pub oauth_access_expires_at: Option<DateTimeUtc>,
    pub oauth_signed_in_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub oauth_problem: Option<String>,
    /// Other addresses the channel receives for, comma-separated.
    #[sea_orm(column_type = "Text")]
    pub aliases: String,
    /// The channel's signature under replies (placeholders `{agent_name}`, `{shop_name}`).
    #[sea_orm(column_type = "Text")]
    pub signature: String,
    /// Where the agent's own signature goes: `below` the channel's, `above` it, or `none`.
    #[sea_orm(column_type = "Text")]
    pub agent_signature: String,
    /// `mail` or `chat` (src/chat/): a chat channel has no IMAP, SMTP or sender address.
    pub kind: String,
    /// A chat channel's public token, in its widget's URL (`/chat/{token}.js`).
    pub chat_token: Option<String>,
    /// A chat channel's widget settings as JSON (`crate::chat::settings::ChatSettings`).
    #[sea_orm(column_type = "Text")]
    pub chat_settings: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
