//! "Sign in with Microsoft/Google" on a channel: `start` sends the admin to the provider
//! with a sealed flow in `state`; `callback` takes the code back, checks that the admin who
//! started the flow is the one returning, exchanges the code for tokens (sealed on the
//! channel) and shows the channel page. A provider's error or a refused exchange is shown
//! there too, and changes nothing.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::mail::channel::{self, AUTH_OAUTH2};
use crate::mail::oauth::{flow, tokens};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::AppError;
use crate::web::page::{see_other, see_other_with_flash};
use crate::web::paths;

/// The redirect URL to register with the app.
pub fn redirect_uri(state: &AppState) -> String {
    state
        .config
        .base_url
        .join(paths::CHANNEL_OAUTH_CALLBACK.path())
}

pub async fn start(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let existing = channel::find(&state.db, scope.org(), path.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    if existing.auth_method != AUTH_OAUTH2 {
        return Ok(see_other_with_flash(
            &paths::CHANNEL.at(existing.id),
            "flash.channel_oauth_not_chosen",
        ));
    }
    let url = flow::authorization_url(
        &state.sealer,
        &existing,
        scope.user_id(),
        &redirect_uri(&state),
    )
    .ok_or_else(|| AppError::internal("the channel's OAuth2 settings are incomplete"))?;
    Ok(see_other(url.as_str()))
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

pub async fn callback(
    state: web::Data<AppState>,
    scope: TenantScope,
    query: web::Query<Callback>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    // The flow must be this instance's, unexpired, and started by this admin in this
    // organization: a link with someone else's code cannot sign a channel in.
    let flow = query
        .state
        .as_deref()
        .and_then(|s| flow::open(&state.sealer, s))
        .filter(|f| f.user_id == scope.user_id() && f.org == scope.org().get())
        .ok_or(AppError::BadRequest("channels.oauth.state_invalid"))?;
    let existing = channel::find(&state.db, scope.org(), flow.channel_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let back = paths::CHANNEL.at(existing.id);
    if existing.auth_method != AUTH_OAUTH2 {
        return Ok(see_other_with_flash(
            &back,
            "flash.channel_oauth_not_chosen",
        ));
    }
    let Some(code) = query
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 4096)
    else {
        // access_denied (the admin said no), or another error of the provider.
        let reason = query.error.as_deref().unwrap_or("no code");
        tracing::info!(channel_id = existing.id, reason = %short(reason), "OAuth2 sign-in not completed");
        return Ok(see_other_with_flash(&back, "flash.channel_oauth_denied"));
    };
    match tokens::exchange_code(
        &state,
        &existing,
        code,
        &flow.verifier,
        &redirect_uri(&state),
    )
    .await
    {
        Ok(()) => {
            scope
                .audit(
                    &state,
                    "channel.signed_in",
                    format!("channel:{}", existing.id),
                    serde_json::json!({
                        "provider": existing.oauth_provider,
                        "name": existing.name,
                    }),
                )
                .await?;
            Ok(see_other_with_flash(&back, "flash.channel_signed_in"))
        }
        Err(error) => {
            tracing::warn!(channel_id = existing.id, %error, "OAuth2 code exchange failed");
            channel::record_poll_error(
                &state.db,
                existing.id,
                format!("{}: {error}", crate::mail::imap::Stage::Token.code()),
            )
            .await?;
            Ok(see_other_with_flash(&back, "flash.channel_oauth_failed"))
        }
    }
}

/// A provider's error code, cut short, for the log.
fn short(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect()
}
