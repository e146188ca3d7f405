//! "Test SMTP": resolve, connect, then let lettre greet, secure and authenticate, and say
//! which of those steps failed.

use crate::db::entity::channel;
use crate::mail::channel::{self as channels, SmtpSettings};
use crate::mail::egress::Egress;
use crate::mail::imap::Stage;
use crate::mail::imap::connect::tcp_connect;
use crate::mail::oauth;
use crate::mail::outbound::smtp_transport;
use crate::state::AppState;

/// What went wrong talking to an SMTP server; `detail` never holds a user name or password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpProblem {
    pub stage: Stage,
    pub detail: String,
}

impl std::fmt::Display for SmtpProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let detail = &self.detail;
        match self.stage.connection_problem(detail) {
            Some(text) => f.write_str(&text),
            None => write!(f, "the SMTP conversation failed: {detail}"),
        }
    }
}

impl std::error::Error for SmtpProblem {}

fn problem(stage: Stage, detail: impl Into<String>) -> SmtpProblem {
    SmtpProblem {
        stage,
        detail: detail.into(),
    }
}

/// Connects with the channel's settings (TLS, login included) and says NOOP; sends nothing.
pub async fn test_smtp(settings: &SmtpSettings, egress: Egress) -> Result<(), SmtpProblem> {
    // DNS and TCP first, ourselves: lettre reports both as one kind of error.
    let tcp = tcp_connect(&settings.host, settings.port, egress)
        .await
        .map_err(|p| problem(p.stage, p.detail))?;
    drop(tcp);
    let transport = smtp_transport(settings, egress)
        .await
        .map_err(|e| problem(Stage::Tls, e.to_string()))?;
    match transport.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(problem(Stage::Greeting, "the server did not answer NOOP")),
        Err(error) => Err(classify(&error)),
    }
}

/// "Test SMTP" for a stored channel, signing in as the sender does (a token refused before
/// its expiry is refreshed once). `Ok(false)`: the channel has no SMTP settings.
pub async fn test_channel(state: &AppState, channel: &channel::Model) -> Result<bool, SmtpProblem> {
    let settings = channels::smtp_settings(channel, &state.sealer)
        .map_err(|_| problem(Stage::Auth, "the stored password cannot be opened"))?;
    let Some(mut settings) = settings else {
        return Ok(false);
    };
    let egress = state.config.egress();
    oauth::with_token(
        state,
        channel.id,
        &mut settings,
        |e| problem(Stage::Token, e.to_string()),
        |refusal: &SmtpProblem| refusal.stage == Stage::Auth,
        move |settings: SmtpSettings| async move { test_smtp(&settings, egress).await },
    )
    .await
    .map(|()| true)
}

fn classify(error: &lettre::transport::smtp::Error) -> SmtpProblem {
    let code = error.status().map(|c| c.to_string());
    let text = error.to_string();
    if error.is_timeout() {
        problem(Stage::Timeout, text)
    } else if error.is_tls() {
        problem(Stage::Tls, text)
    } else if matches!(code.as_deref(), Some("535" | "534" | "530" | "454")) {
        problem(Stage::Auth, text)
    } else if error.is_client() && text.contains("authentication") {
        // lettre: the server offers no mechanism we can use.
        problem(Stage::Auth, text)
    } else if error.is_response() || error.is_transient() || error.is_permanent() {
        problem(Stage::Greeting, text)
    } else {
        problem(Stage::Connect, text)
    }
}
