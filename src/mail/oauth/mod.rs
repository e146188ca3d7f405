//! Mailboxes that sign in with OAuth2 (Microsoft 365, Google Workspace, any provider with an
//! authorization-code flow): the provider presets ([`provider`]), the admin's sign-in in the
//! browser with PKCE and a sealed `state` ([`flow`]), the token endpoint and the sealed
//! refresh and access tokens on the channel ([`tokens`]), and the SASL strings IMAP and SMTP
//! sign in with ([`sasl`]). No token is ever logged or shown.

pub mod flow;
pub mod provider;
pub mod sasl;
pub mod tokens;

pub use provider::Provider;
pub use tokens::{TokenError, access_token};

use url::Url;

use crate::mail::channel::Secret;
use crate::state::AppState;

pub const CLIENT_SECRET: &str = "oauth-client-secret";
pub const REFRESH_TOKEN: &str = "oauth-refresh-token";
pub const ACCESS_TOKEN: &str = "oauth-access-token";

/// The app the admin registered at the provider, as checked from the channel form.
#[derive(Clone)]
pub struct OAuthApp {
    pub provider: Provider,
    pub client_id: String,
    /// None: keep the stored secret (the field was left empty on an edit).
    pub client_secret: Option<String>,
    pub auth_url: Url,
    pub token_url: Url,
    pub scopes: String,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OAuthApp({}, {}, secret [redacted])",
            self.provider.as_str(),
            self.token_url
        )
    }
}

/// Puts a usable access token into a bearer secret; a password stays as it is. `refused`
/// is the token a server just refused, so that a fresh one is fetched.
pub async fn sign_in(
    state: &AppState,
    channel_id: i64,
    secret: &mut Secret,
    refused: Option<&str>,
) -> Result<(), TokenError> {
    if let Secret::Bearer(token) = secret {
        *token = access_token(state, channel_id, refused).await?;
    }
    Ok(())
}

/// Settings that sign in with a [`Secret`] (IMAP's always, SMTP's when it has a user).
pub trait SignsIn {
    fn secret_mut(&mut self) -> Option<&mut Secret>;
}

impl SignsIn for crate::mail::channel::ImapSettings {
    fn secret_mut(&mut self) -> Option<&mut Secret> {
        Some(&mut self.secret)
    }
}

impl SignsIn for crate::mail::channel::SmtpSettings {
    fn secret_mut(&mut self) -> Option<&mut Secret> {
        self.secret.as_mut()
    }
}

/// Signs `settings` in (a usable access token for OAuth2) and runs `attempt` with them. When
/// the server refuses a bearer token (`is_refusal`) before its expiry (revoked early, a clock
/// off), a fresh token is fetched once and `attempt` runs again; a password runs once.
pub async fn with_token<S: SignsIn + Clone, T, E, F: Future<Output = Result<T, E>>>(
    state: &AppState,
    channel_id: i64,
    settings: &mut S,
    token_error: impl Fn(TokenError) -> E,
    is_refusal: impl Fn(&E) -> bool,
    attempt: impl Fn(S) -> F,
) -> Result<T, E> {
    if let Some(secret) = settings.secret_mut() {
        sign_in(state, channel_id, secret, None)
            .await
            .map_err(&token_error)?;
    }
    let first = attempt(settings.clone()).await;
    let refused = settings
        .secret_mut()
        .and_then(|s| bearer(s).map(str::to_owned));
    match (first, refused) {
        (Err(error), Some(refused)) if is_refusal(&error) => {
            if let Some(secret) = settings.secret_mut() {
                sign_in(state, channel_id, secret, Some(&refused))
                    .await
                    .map_err(&token_error)?;
            }
            attempt(settings.clone()).await
        }
        (first, _) => first,
    }
}

/// The bearer token a secret holds, if it is one.
pub fn bearer(secret: &Secret) -> Option<&str> {
    match secret {
        Secret::Bearer(token) => Some(token),
        Secret::Password(_) => None,
    }
}

/// An authorization or token endpoint: `https://…`, or `http://` on this machine only (a
/// provider on loopback, as in tests); never credentials in the URL.
pub fn parse_endpoint(value: &str) -> Result<Url, &'static str> {
    let url = Url::parse(value.trim()).map_err(|_| "channels.oauth.url_invalid")?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err("channels.oauth.url_invalid");
    }
    Ok(url)
}

/// Scopes: printable, space-separated, at most 1,000 characters.
pub fn parse_scopes(value: &str) -> Result<String, &'static str> {
    let scopes = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if scopes.is_empty() || scopes.len() > 1000 || scopes.chars().any(char::is_control) {
        return Err("channels.oauth.scopes_invalid");
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_except_on_loopback() {
        assert!(
            parse_endpoint("https://login.microsoftonline.com/organizations/oauth2/v2.0/token")
                .is_ok()
        );
        assert!(parse_endpoint("http://127.0.0.1:8123/token").is_ok());
        assert!(parse_endpoint("http://localhost/token").is_ok());
        assert_eq!(
            parse_endpoint("http://login.example.com/token"),
            Err("channels.oauth.url_invalid")
        );
        assert!(parse_endpoint("https://user:pw@login.example.com/token").is_err());
        assert!(parse_endpoint("ftp://login.example.com/").is_err());
        assert!(parse_endpoint("not a url").is_err());
    }

    #[test]
    fn scopes_are_normalized() {
        assert_eq!(parse_scopes("  a  b\nc ").as_deref(), Ok("a b c"));
        assert!(parse_scopes("   ").is_err());
    }
}
