//! Chat channels in the database: a `channels` row of kind `chat` with a public widget token
//! and its settings ([`ChatSettings`]); no IMAP, SMTP or sender address. The inbound token
//! every channel row has is made and sealed as for mail, and never shown for a chat channel.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

use super::settings::ChatSettings;
use crate::crypto::{Sealer, random_token, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::channel;
use crate::mail::channel::INBOUND_TOKEN;
use crate::orgs::OrgId;

/// The kind of a chat channel (`channels.kind`).
pub const KIND: &str = "chat";

/// A chat channel, its settings parsed.
#[derive(Clone, Debug)]
pub struct ChatChannel {
    pub id: i64,
    pub org: OrgId,
    pub name: String,
    pub token: String,
    pub settings: ChatSettings,
}

impl ChatChannel {
    /// The chat channel of a row, if it is one.
    pub fn of(model: &channel::Model) -> Option<Self> {
        if model.kind != KIND {
            return None;
        }
        Some(Self {
            id: model.id,
            org: model.organization_id,
            name: model.name.clone(),
            token: model.chat_token.clone()?,
            settings: ChatSettings::from_stored(&model.chat_settings),
        })
    }
}

/// Creates a chat channel of `org`.
pub async fn create(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    org: OrgId,
    name: String,
    settings: &ChatSettings,
) -> Result<channel::Model, DbErr> {
    let inbound = random_token();
    channel::ActiveModel {
        organization_id: Set(org),
        name: Set(name.clone()),
        inbound_token_hash: Set(sha256_hex(&inbound)),
        inbound_token_sealed: Set(sealer.seal_text(&inbound, INBOUND_TOKEN)),
        imap_host: Set(None),
        imap_port: Set(993),
        imap_tls: Set("tls".into()),
        imap_user: Set(None),
        imap_password_sealed: Set(None),
        imap_folder: Set("INBOX".into()),
        imap_move_to: Set(None),
        poll_seconds: Set(60),
        imap_uid_validity: Set(None),
        imap_last_uid: Set(0),
        last_poll_at: Set(None),
        last_error: Set(None),
        smtp_host: Set(None),
        smtp_port: Set(587),
        smtp_tls: Set("starttls".into()),
        smtp_user: Set(None),
        smtp_password_sealed: Set(None),
        from_name: Set(name),
        from_address: Set(String::new()),
        aliases: Set(String::new()),
        signature: Set(String::new()),
        agent_signature: Set("none".into()),
        auth_method: Set(crate::mail::channel::AUTH_PASSWORD.into()),
        created_at: Set(Utc::now()),
        kind: Set(KIND.into()),
        chat_token: Set(Some(random_token())),
        chat_settings: Set(settings.to_stored()),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// A chat channel of `org` by id.
pub async fn find(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<Option<ChatChannel>, DbErr> {
    Ok(channel::Entity::find_by_id_in(org, id)
        .one(db)
        .await?
        .as_ref()
        .and_then(ChatChannel::of))
}

/// The chat channels of `org`, by name.
pub async fn list(db: &impl ConnectionTrait, org: OrgId) -> Result<Vec<ChatChannel>, DbErr> {
    Ok(channel::Entity::find_in(org)
        .filter(channel::Column::Kind.eq(KIND))
        .order_by_asc(channel::Column::Name)
        .all(db)
        .await?
        .iter()
        .filter_map(ChatChannel::of)
        .collect())
}

/// The chat channel whose widget token this is (the token is its only name on the web).
pub async fn by_token(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<ChatChannel>, DbErr> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    Ok(channel::Entity::find()
        .filter(channel::Column::ChatToken.eq(token))
        .filter(channel::Column::Kind.eq(KIND))
        .one(db)
        .await?
        .as_ref()
        .and_then(ChatChannel::of))
}

/// Saves the name and settings of a chat channel of `org`; false when there is none.
pub async fn update(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
    name: String,
    settings: &ChatSettings,
) -> Result<bool, DbErr> {
    let result = channel::Entity::update_in(org)
        .col_expr(channel::Column::Name, name.clone().into())
        .col_expr(channel::Column::FromName, name.into())
        .col_expr(channel::Column::ChatSettings, settings.to_stored().into())
        .filter(channel::Column::Id.eq(id))
        .filter(channel::Column::Kind.eq(KIND))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Whether the conversation's channel is a chat channel: its chat channel if so.
pub async fn of_conversation(
    db: &impl ConnectionTrait,
    org: OrgId,
    channel_id: Option<i64>,
) -> Result<Option<ChatChannel>, DbErr> {
    match channel_id {
        Some(id) => find(db, org, id).await,
        None => Ok(None),
    }
}
