//! Email channels: one mailbox of a shop, with IMAP settings for mail in, SMTP settings for
//! mail out, and a secret token for the HTTP inbound endpoint. Passwords and the token are
//! sealed under the instance key; only the token's digest is searchable.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::crypto::{Sealer, random_token, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::channel;
use crate::mail::oauth::{self, OAuthApp};
use crate::mail::{EmailAddress, MailError};
use crate::orgs::OrgId;

pub const IMAP_PASSWORD: &str = "imap-password";
pub const SMTP_PASSWORD: &str = "smtp-password";
pub const INBOUND_TOKEN: &str = "inbound-token";

/// How a connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text (only for servers on the same machine or network).
    None,
    /// Plain connection upgraded with STARTTLS.
    StartTls,
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
}

impl TlsMode {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(Self::None),
            "starttls" => Some(Self::StartTls),
            "tls" => Some(Self::Tls),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::StartTls => "starttls",
            Self::Tls => "tls",
        }
    }
}

/// A host name: letters, digits, dots, hyphens (or an IP address), at most 253 characters.
pub fn parse_host(value: &str) -> Result<String, &'static str> {
    let host = value.trim().to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if valid {
        Ok(host)
    } else {
        Err("channels.host_invalid")
    }
}

pub fn parse_port(value: &str) -> Result<u16, &'static str> {
    value
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or("channels.port_invalid")
}

/// Everything needed to create a channel, already checked.
pub struct NewChannel {
    pub name: String,
    pub imap: Option<ImapSettings>,
    pub smtp: Option<SmtpSettings>,
    pub from_name: String,
    pub from_address: EmailAddress,
    /// Other addresses the mailbox receives for (`returns@` beside `support@`).
    pub aliases: Vec<EmailAddress>,
    pub poll_seconds: i32,
    pub auth: ChannelAuth,
}

/// How a channel signs in to its IMAP and SMTP servers.
#[derive(Clone, Debug)]
pub enum ChannelAuth {
    Password,
    OAuth(Box<OAuthApp>),
}

pub const AUTH_PASSWORD: &str = "password";
pub const AUTH_OAUTH2: &str = "oauth2";

/// What a connection signs in with: a password (LOGIN, AUTH PLAIN) or an OAuth2 access
/// token (XOAUTH2, OAUTHBEARER). A channel's settings carry an empty bearer until
/// [`crate::mail::oauth::tokens::access_token`] fills it in.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Password(String),
    Bearer(String),
}

#[derive(Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    pub secret: Secret,
    pub folder: String,
    /// Move fetched mail to this folder instead of only marking it seen.
    pub move_to: Option<String>,
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: Option<String>,
    pub secret: Option<Secret>,
}

impl std::fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ImapSettings({}:{} {:?}, password [redacted])",
            self.host, self.port, self.tls
        )
    }
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SmtpSettings({}:{} {:?}, password [redacted])",
            self.host, self.port, self.tls
        )
    }
}

/// Creates a channel; returns it and the inbound token (shown to the admin once in full).
pub async fn create(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    org: OrgId,
    new: NewChannel,
) -> Result<(channel::Model, String), MailError> {
    let token = random_token();
    let imap = new.imap.as_ref();
    let smtp = new.smtp.as_ref();
    let mut model = channel::ActiveModel {
        organization_id: Set(org),
        name: Set(new.name),
        inbound_token_hash: Set(sha256_hex(&token)),
        inbound_token_sealed: Set(sealer.seal_text(&token, INBOUND_TOKEN)),
        imap_host: Set(imap.map(|i| i.host.clone())),
        imap_port: Set(imap.map(|i| i32::from(i.port)).unwrap_or(993)),
        imap_tls: Set(imap
            .map(|i| i.tls)
            .unwrap_or(TlsMode::Tls)
            .as_str()
            .to_owned()),
        imap_user: Set(imap.map(|i| i.user.clone())),
        imap_password_sealed: Set(
            imap.and_then(|i| seal_password(sealer, &i.secret, IMAP_PASSWORD))
        ),
        imap_folder: Set(imap
            .map(|i| i.folder.clone())
            .unwrap_or_else(|| "INBOX".into())),
        imap_move_to: Set(imap.and_then(|i| i.move_to.clone())),
        poll_seconds: Set(new.poll_seconds),
        imap_uid_validity: Set(None),
        imap_last_uid: Set(0),
        last_poll_at: Set(None),
        last_error: Set(None),
        smtp_host: Set(smtp.map(|s| s.host.clone())),
        smtp_port: Set(smtp.map(|s| i32::from(s.port)).unwrap_or(587)),
        smtp_tls: Set(smtp
            .map(|s| s.tls)
            .unwrap_or(TlsMode::StartTls)
            .as_str()
            .to_owned()),
        smtp_user: Set(smtp.and_then(|s| s.user.clone())),
        smtp_password_sealed: Set(smtp
            .and_then(|s| s.secret.as_ref())
            .and_then(|secret| seal_password(sealer, secret, SMTP_PASSWORD))),
        from_name: Set(new.from_name),
        from_address: Set(new.from_address.as_str().to_owned()),
        aliases: Set(join_aliases(&new.aliases)),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    set_auth(&mut model, sealer, &new.auth, None);
    let model = model.insert(db).await?;
    Ok((model, token))
}

/// A channel of this organization.
pub async fn find(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<Option<channel::Model>, MailError> {
    Ok(channel::Entity::find_by_id_in(org, id).one(db).await?)
}

pub async fn list(db: &impl ConnectionTrait, org: OrgId) -> Result<Vec<channel::Model>, MailError> {
    Ok(channel::Entity::find_in(org)
        .order_by_asc(channel::Column::Name)
        .all(db)
        .await?)
}

/// The channel a machine's inbound token belongs to; the token is the only credential.
pub async fn by_inbound_token(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<channel::Model>, MailError> {
    if token.len() > 100 {
        return Ok(None);
    }
    Ok(channel::Entity::find()
        .filter(channel::Column::InboundTokenHash.eq(sha256_hex(token)))
        .one(db)
        .await?)
}

/// The channel's SMTP settings with the password opened, if SMTP is set up.
pub fn smtp_settings(
    channel: &channel::Model,
    sealer: &Sealer,
) -> Result<Option<SmtpSettings>, MailError> {
    let Some(host) = channel.smtp_host.clone() else {
        return Ok(None);
    };
    let secret = if channel.auth_method == AUTH_OAUTH2 {
        Some(Secret::Bearer(String::new()))
    } else {
        match &channel.smtp_password_sealed {
            Some(sealed) => Some(Secret::Password(sealer.open_text(sealed, SMTP_PASSWORD)?)),
            None => None,
        }
    };
    // With OAuth2 the token's account signs in; without an SMTP user, the mailbox's.
    let user = match (&channel.smtp_user, channel.auth_method == AUTH_OAUTH2) {
        (None, true) => channel.imap_user.clone(),
        (user, _) => user.clone(),
    };
    Ok(Some(SmtpSettings {
        host,
        port: u16::try_from(channel.smtp_port).unwrap_or(587),
        tls: TlsMode::parse(&channel.smtp_tls).unwrap_or(TlsMode::StartTls),
        user,
        secret,
    }))
}

/// The channel's IMAP settings with the password opened, if IMAP is set up.
pub fn imap_settings(
    channel: &channel::Model,
    sealer: &Sealer,
) -> Result<Option<ImapSettings>, MailError> {
    let (Some(host), Some(user)) = (channel.imap_host.clone(), channel.imap_user.clone()) else {
        return Ok(None);
    };
    let secret = if channel.auth_method == AUTH_OAUTH2 {
        Secret::Bearer(String::new())
    } else {
        let Some(sealed) = channel.imap_password_sealed.as_ref() else {
            return Ok(None);
        };
        Secret::Password(sealer.open_text(sealed, IMAP_PASSWORD)?)
    };
    Ok(Some(ImapSettings {
        host,
        port: u16::try_from(channel.imap_port).unwrap_or(993),
        tls: TlsMode::parse(&channel.imap_tls).unwrap_or(TlsMode::Tls),
        user,
        secret,
        folder: channel.imap_folder.clone(),
        move_to: channel.imap_move_to.clone(),
    }))
}

/// Records the end of a poll: its time and its error (None when it went well).
pub async fn record_poll(
    db: &impl ConnectionTrait,
    id: i64,
    at: chrono::DateTime<Utc>,
    error: Option<String>,
) -> Result<(), sea_orm::DbErr> {
    channel::Entity::update_many()
        .col_expr(channel::Column::LastPollAt, Some(at).into())
        .col_expr(channel::Column::LastError, error.into())
        .filter(channel::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores an error on the channel without touching the time of its last poll.
pub async fn record_poll_error(
    db: &impl ConnectionTrait,
    id: i64,
    error: String,
) -> Result<(), sea_orm::DbErr> {
    channel::Entity::update_many()
        .col_expr(channel::Column::LastError, Some(error).into())
        .filter(channel::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records how far the poller got in the folder: every UID up to `last_uid` is committed.
pub async fn set_imap_progress(
    db: &impl ConnectionTrait,
    id: i64,
    uid_validity: Option<i64>,
    last_uid: i64,
) -> Result<(), sea_orm::DbErr> {
    channel::Entity::update_many()
        .col_expr(channel::Column::ImapUidValidity, uid_validity.into())
        .col_expr(channel::Column::ImapLastUid, last_uid.into())
        .filter(channel::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Which stored passwords an edit keeps (its password field was left empty).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepPasswords {
    pub imap: bool,
    pub smtp: bool,
}

/// Changes a channel of this organization; a kept password is left as stored (the
/// `password` of the given settings is then ignored). Changing the mailbox (host, port,
/// user or folder) starts its UID tracking over. Returns false when there is no such channel.
pub async fn update(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    org: OrgId,
    id: i64,
    new: NewChannel,
    keep: KeepPasswords,
) -> Result<bool, MailError> {
    let Some(existing) = find(db, org, id).await? else {
        return Ok(false);
    };
    let imap = new.imap.as_ref();
    let smtp = new.smtp.as_ref();
    let same_mailbox = imap.is_some_and(|i| {
        existing.imap_host.as_deref() == Some(i.host.as_str())
            && existing.imap_port == i32::from(i.port)
            && existing.imap_user.as_deref() == Some(i.user.as_str())
            && existing.imap_folder == i.folder
    });
    let mut model: channel::ActiveModel = existing.clone().into();
    model.name = Set(new.name);
    model.imap_host = Set(imap.map(|i| i.host.clone()));
    model.imap_port = Set(imap.map(|i| i32::from(i.port)).unwrap_or(993));
    model.imap_tls = Set(imap
        .map(|i| i.tls)
        .unwrap_or(TlsMode::Tls)
        .as_str()
        .to_owned());
    model.imap_user = Set(imap.map(|i| i.user.clone()));
    model.imap_password_sealed = Set(match imap {
        None => None,
        Some(_) if keep.imap => existing.imap_password_sealed.clone(),
        Some(i) => seal_password(sealer, &i.secret, IMAP_PASSWORD),
    });
    model.imap_folder = Set(imap
        .map(|i| i.folder.clone())
        .unwrap_or_else(|| "INBOX".into()));
    model.imap_move_to = Set(imap.and_then(|i| i.move_to.clone()));
    model.poll_seconds = Set(new.poll_seconds);
    if !same_mailbox {
        model.imap_uid_validity = Set(None);
        model.imap_last_uid = Set(0);
        model.last_error = Set(None);
    }
    model.smtp_host = Set(smtp.map(|s| s.host.clone()));
    model.smtp_port = Set(smtp.map(|s| i32::from(s.port)).unwrap_or(587));
    model.smtp_tls = Set(smtp
        .map(|s| s.tls)
        .unwrap_or(TlsMode::StartTls)
        .as_str()
        .to_owned());
    model.smtp_user = Set(smtp.and_then(|s| s.user.clone()));
    model.smtp_password_sealed = Set(match smtp {
        Some(s) if s.user.is_none() => None,
        Some(_) if keep.smtp => existing.smtp_password_sealed.clone(),
        Some(s) => s
            .secret
            .as_ref()
            .and_then(|secret| seal_password(sealer, secret, SMTP_PASSWORD)),
        None => None,
    });
    model.from_name = Set(new.from_name);
    model.from_address = Set(new.from_address.as_str().to_owned());
    model.aliases = Set(join_aliases(&new.aliases));
    set_auth(&mut model, sealer, &new.auth, Some(&existing));
    model.update(db).await?;
    Ok(true)
}

fn seal_password(sealer: &Sealer, secret: &Secret, context: &str) -> Option<String> {
    match secret {
        Secret::Password(password) => Some(sealer.seal_text(password, context)),
        Secret::Bearer(_) => None,
    }
}

fn join_aliases(aliases: &[EmailAddress]) -> String {
    aliases
        .iter()
        .map(EmailAddress::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The channel's other addresses, as stored.
pub fn aliases(channel: &channel::Model) -> Vec<String> {
    channel
        .aliases
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The channel's sender address and its aliases.
pub fn addresses(channel: &channel::Model) -> Vec<String> {
    let mut own = aliases(channel);
    own.push(channel.from_address.clone());
    own
}

/// Every address of every channel of the organization (sender addresses and aliases): the
/// addresses Lethe never stores mail from and never writes to.
pub async fn organization_addresses(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<String>, MailError> {
    Ok(list(db, org).await?.iter().flat_map(addresses).collect())
}

/// Whether `address` is in `list`, ignoring case.
pub fn is_one_of(address: &str, list: &[String]) -> bool {
    let address = address.trim();
    !address.is_empty() && list.iter().any(|a| a.eq_ignore_ascii_case(address))
}

/// Writes the sign-in method. The tokens of an earlier sign-in are kept only while the app
/// stays the same (same provider, client, endpoints and scopes); otherwise the channel must
/// be signed in again.
fn set_auth(
    model: &mut channel::ActiveModel,
    sealer: &Sealer,
    auth: &ChannelAuth,
    existing: Option<&channel::Model>,
) {
    let clear_tokens = |model: &mut channel::ActiveModel| {
        model.oauth_refresh_token_sealed = Set(None);
        model.oauth_access_token_sealed = Set(None);
        model.oauth_access_expires_at = Set(None);
        model.oauth_signed_in_at = Set(None);
        model.oauth_problem = Set(None);
    };
    match auth {
        ChannelAuth::Password => {
            model.auth_method = Set(AUTH_PASSWORD.into());
            model.oauth_provider = Set(None);
            model.oauth_client_id = Set(None);
            model.oauth_client_secret_sealed = Set(None);
            model.oauth_auth_url = Set(None);
            model.oauth_token_url = Set(None);
            model.oauth_scopes = Set(None);
            clear_tokens(model);
        }
        ChannelAuth::OAuth(app) => {
            let same_app = existing.is_some_and(|e| {
                e.auth_method == AUTH_OAUTH2
                    && e.oauth_provider.as_deref() == Some(app.provider.as_str())
                    && e.oauth_client_id.as_deref() == Some(app.client_id.as_str())
                    && e.oauth_auth_url.as_deref() == Some(app.auth_url.as_str())
                    && e.oauth_token_url.as_deref() == Some(app.token_url.as_str())
                    && e.oauth_scopes.as_deref() == Some(app.scopes.as_str())
                    && app.client_secret.is_none()
            });
            model.auth_method = Set(AUTH_OAUTH2.into());
            model.oauth_provider = Set(Some(app.provider.as_str().into()));
            model.oauth_client_id = Set(Some(app.client_id.clone()));
            model.oauth_client_secret_sealed = Set(match &app.client_secret {
                Some(secret) => Some(sealer.seal_text(secret, oauth::CLIENT_SECRET)),
                None => existing.and_then(|e| e.oauth_client_secret_sealed.clone()),
            });
            model.oauth_auth_url = Set(Some(app.auth_url.to_string()));
            model.oauth_token_url = Set(Some(app.token_url.to_string()));
            model.oauth_scopes = Set(Some(app.scopes.clone()));
            // Passwords are not kept beside a token sign-in.
            model.imap_password_sealed = Set(None);
            model.smtp_password_sealed = Set(None);
            if !same_app {
                clear_tokens(model);
            }
        }
    }
}

/// Deletes a channel of this organization (its conversations stay, without a channel).
/// Returns false when there is no such channel.
pub async fn delete(db: &impl ConnectionTrait, org: OrgId, id: i64) -> Result<bool, MailError> {
    let result = channel::Entity::delete_in(org)
        .filter(channel::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// How many replies wait in the outbox to be sent through this channel.
pub async fn queued_replies(db: &impl ConnectionTrait, id: i64) -> Result<u64, MailError> {
    use sea_orm::PaginatorTrait;
    Ok(crate::db::entity::outbox::Entity::find()
        .filter(crate::db::entity::outbox::Column::ChannelId.eq(id))
        .count(db)
        .await?)
}
