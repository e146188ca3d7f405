//! The token endpoint: exchanging the sign-in's code for a refresh token, and refreshing the
//! access token before it expires (or when a server refused it). Both tokens are stored
//! sealed on the channel; a refresh token the provider no longer accepts (`invalid_grant`:
//! revoked, expired, the password changed) is dropped, the channel says "sign in again" and
//! the admins get a notice mail. Mail meanwhile waits in the mailbox.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use url::Url;

use super::{ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN};
use crate::db::entity::channel;
use crate::state::AppState;

/// How long one request to the token endpoint may take.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(20);
/// An access token is refreshed when it has less than this left.
pub const REFRESH_MARGIN_SECONDS: i64 = 120;
/// The lifetime assumed when the provider does not say (`expires_in` missing).
const DEFAULT_LIFETIME_SECONDS: i64 = 3600;
/// What `oauth_problem` holds after the provider refused the refresh token.
pub const REVOKED: &str = "revoked";

/// Why no access token could be had. The texts name the step, never a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the channel is not signed in with OAuth2 yet: use \"Sign in\" on the channel page")]
    NotSignedIn,
    #[error(
        "the provider no longer accepts the sign-in (revoked or expired): sign in again on the channel page"
    )]
    Revoked,
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the token endpoint refused the request: {0}")]
    Refused(String),
    #[error("the token endpoint answered something that is not a token: {0}")]
    Malformed(String),
    #[error("a stored OAuth2 secret cannot be opened with the instance key")]
    Sealed,
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// The tokens the endpoint answered with.
struct Grant {
    access_token: String,
    refresh_token: Option<String>,
    expires_at: DateTime<Utc>,
}

/// One lock per channel serializes its refreshes: the poller, the IDLE connection and the
/// sender may all find its token expiring at once, and a provider that rotates refresh tokens
/// must see one refresh. Other channels (a slow provider of another shop) do not wait.
static REFRESHING: LazyLock<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Mutex::default);

fn refresh_lock(channel_id: i64) -> Arc<tokio::sync::Mutex<()>> {
    let mut locks = REFRESHING.lock().unwrap_or_else(|p| p.into_inner());
    locks.entry(channel_id).or_default().clone()
}

/// POSTs a form to the token endpoint and reads the grant (RFC 6749, 5.1 and 5.2).
async fn token_request(
    state: &AppState,
    token_url: &Url,
    form: &[(&str, &str)],
) -> Result<Grant, TokenError> {
    let host = token_url.host_str().unwrap_or_default();
    let port = token_url.port_or_known_default().unwrap_or(443);
    let client = state
        .config
        .egress()
        .http_client(host, port)
        .await
        .map_err(|e| TokenError::Unreachable(e.to_string()))?;
    let response = client
        .post(token_url.clone())
        .header("Accept", "application/json")
        .form(form)
        .timeout(TOKEN_TIMEOUT)
        .send()
        .await
        .map_err(|e| TokenError::Unreachable(without_url(&e)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| TokenError::Unreachable(without_url(&e)))?;
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if !status.is_success() {
        let code = json
            .get("error")
            .and_then(|e| e.as_str())
            .map(short)
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        return Err(if code == "invalid_grant" {
            TokenError::Revoked
        } else {
            TokenError::Refused(code)
        });
    }
    let access_token = json
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Malformed("no access_token".into()))?
        .to_owned();
    // A number (RFC 6749) or, from older providers, a string of digits.
    let lifetime = json
        .get("expires_in")
        .and_then(|e| e.as_i64().or_else(|| e.as_str()?.parse().ok()))
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_LIFETIME_SECONDS);
    Ok(Grant {
        access_token,
        refresh_token: json
            .get("refresh_token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        expires_at: Utc::now() + chrono::Duration::seconds(lifetime),
    })
}

/// reqwest's error without the URL (which is the admin's, but may carry a tenant id).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "no connection"
    } else {
        "the request failed"
    };
    kind.to_owned()
}

/// A provider's error code, cut short and without control characters.
fn short(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// The channel's app: token URL, client id and the opened client secret.
fn app(state: &AppState, channel: &channel::Model) -> Result<(Url, String, String), TokenError> {
    let token_url = channel
        .oauth_token_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .ok_or(TokenError::NotSignedIn)?;
    let client_id = channel
        .oauth_client_id
        .clone()
        .ok_or(TokenError::NotSignedIn)?;
    let secret = match &channel.oauth_client_secret_sealed {
        Some(sealed) => state
            .sealer
            .open_text(sealed, CLIENT_SECRET)
            .map_err(|_| TokenError::Sealed)?,
        None => String::new(),
    };
    Ok((token_url, client_id, secret))
}

/// Exchanges the code of the admin's sign-in for tokens and stores them on the channel.
pub async fn exchange_code(
    state: &AppState,
    channel: &channel::Model,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<(), TokenError> {
    let (token_url, client_id, secret) = app(state, channel)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id.as_str()),
        ("code_verifier", verifier),
    ];
    if !secret.is_empty() {
        form.push(("client_secret", secret.as_str()));
    }
    let grant = match token_request(state, &token_url, &form).await {
        // For a code, invalid_grant means the code was used or expired: not a revocation.
        Err(TokenError::Revoked) => return Err(TokenError::Refused("invalid_grant".into())),
        other => other?,
    };
    let Some(refresh) = grant.refresh_token.as_deref() else {
        return Err(TokenError::Malformed(
            "no refresh_token (for Microsoft, the scopes need offline_access)".into(),
        ));
    };
    let mut model: channel::ActiveModel = channel.clone().into();
    model.oauth_refresh_token_sealed = Set(Some(state.sealer.seal_text(refresh, REFRESH_TOKEN)));
    model.oauth_access_token_sealed = Set(Some(
        state.sealer.seal_text(&grant.access_token, ACCESS_TOKEN),
    ));
    model.oauth_access_expires_at = Set(Some(grant.expires_at));
    model.oauth_signed_in_at = Set(Some(Utc::now()));
    model.oauth_problem = Set(None);
    model.last_error = Set(None);
    model.update(&state.db).await?;
    Ok(())
}

/// A usable access token for the channel: the stored one while it has time left, else a
/// refreshed one. `refused` is a token a server just refused (a 401 before its expiry:
/// revoked early, or the clock is off): it is not handed out again.
pub async fn access_token(
    state: &AppState,
    channel_id: i64,
    refused: Option<&str>,
) -> Result<String, TokenError> {
    let lock = refresh_lock(channel_id);
    let _one_at_a_time = lock.lock().await;
    // Read under the lock: another task may have refreshed meanwhile.
    let channel = channel::Entity::find_by_id(channel_id)
        .one(&state.db)
        .await?
        .ok_or(TokenError::NotSignedIn)?;
    if channel.auth_method != "oauth2" {
        return Err(TokenError::NotSignedIn);
    }
    let now = Utc::now();
    if let (Some(sealed), Some(expires_at)) = (
        &channel.oauth_access_token_sealed,
        channel.oauth_access_expires_at,
    ) && expires_at > now + chrono::Duration::seconds(REFRESH_MARGIN_SECONDS)
    {
        let token = state
            .sealer
            .open_text(sealed, ACCESS_TOKEN)
            .map_err(|_| TokenError::Sealed)?;
        if refused != Some(token.as_str()) {
            return Ok(token);
        }
    }
    let Some(refresh) = channel.oauth_refresh_token_sealed.as_deref() else {
        return Err(if channel.oauth_problem.as_deref() == Some(REVOKED) {
            TokenError::Revoked
        } else {
            TokenError::NotSignedIn
        });
    };
    let refresh = state
        .sealer
        .open_text(refresh, REFRESH_TOKEN)
        .map_err(|_| TokenError::Sealed)?;
    let (token_url, client_id, secret) = app(state, &channel)?;
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", client_id.as_str()),
    ];
    if !secret.is_empty() {
        form.push(("client_secret", secret.as_str()));
    }
    match token_request(state, &token_url, &form).await {
        Ok(grant) => {
            let mut model: channel::ActiveModel = channel.into();
            model.oauth_access_token_sealed = Set(Some(
                state.sealer.seal_text(&grant.access_token, ACCESS_TOKEN),
            ));
            model.oauth_access_expires_at = Set(Some(grant.expires_at));
            if let Some(rotated) = &grant.refresh_token {
                model.oauth_refresh_token_sealed =
                    Set(Some(state.sealer.seal_text(rotated, REFRESH_TOKEN)));
            }
            model.oauth_problem = Set(None);
            model.update(&state.db).await?;
            Ok(grant.access_token)
        }
        Err(TokenError::Revoked) => {
            mark_revoked(state, channel).await?;
            Err(TokenError::Revoked)
        }
        Err(other) => Err(other),
    }
}

/// Drops the dead tokens, says so on the channel and tells the admins (once).
async fn mark_revoked(state: &AppState, channel: channel::Model) -> Result<(), TokenError> {
    let org = channel.organization_id;
    let id = channel.id;
    let name = channel.name.clone();
    let mut model: channel::ActiveModel = channel.into();
    model.oauth_refresh_token_sealed = Set(None);
    model.oauth_access_token_sealed = Set(None);
    model.oauth_access_expires_at = Set(None);
    model.oauth_problem = Set(Some(REVOKED.into()));
    model.last_error = Set(Some(format!(
        "{}: {}",
        crate::mail::imap::Stage::Token.code(),
        TokenError::Revoked
    )));
    model.update(&state.db).await?;
    tracing::warn!(channel_id = id, "OAuth2 sign-in of a channel was revoked");
    let link = state
        .config
        .base_url
        .join(&crate::web::paths::CHANNEL.at(id));
    crate::orgs::admin_notice::mail_admins(
        state,
        org,
        "channels.mail.revoked_subject",
        "channels.mail.revoked_body",
        &[("channel", name.as_str()), ("link", link.as_str())],
        "channel sign-in revoked",
    )
    .await;
    Ok(())
}
