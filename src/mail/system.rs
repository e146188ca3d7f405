//! System mail: password reset and invitation links, sent through `LETHE_SMTP_URL`.
//! When no SMTP server is configured the pages say so instead of pretending.

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::EmailAddress;
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum SystemMailError {
    #[error("no SMTP server is configured for system mail (LETHE_SMTP_URL)")]
    NotConfigured,
    #[error("the SMTP server refused or could not be reached: {0}")]
    Send(String),
    #[error("the message could not be built: {0}")]
    Build(String),
}

impl SystemMailError {
    /// A category for the log: the server's answer may quote the recipient's address.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotConfigured => "not configured",
            Self::Send(_) => "refused or unreachable",
            Self::Build(_) => "could not be built",
        }
    }
}

/// Sends the instance's own mail.
#[derive(Clone)]
pub struct SystemMailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
}

impl SystemMailer {
    /// Builds the transport from the configuration. Errors name the setting.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let from: Mailbox = config
            .smtp_from
            .parse()
            .map_err(|e| format!("LETHE_SMTP_FROM: not a valid sender ({e})"))?;
        let transport = match &config.smtp_url {
            None => None,
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|e| format!("LETHE_SMTP_URL: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(15)))
                    .build(),
            ),
        };
        Ok(Self {
            transport,
            from: Some(from),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.transport.is_some()
    }

    pub async fn send(
        &self,
        to: &EmailAddress,
        subject: &str,
        text: String,
    ) -> Result<(), SystemMailError> {
        let (Some(transport), Some(from)) = (&self.transport, &self.from) else {
            return Err(SystemMailError::NotConfigured);
        };
        let to: Mailbox = to
            .as_str()
            .parse()
            .map_err(|e: lettre::address::AddressError| SystemMailError::Build(e.to_string()))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .header(AutoSubmitted)
            .body(text)
            .map_err(|e| SystemMailError::Build(e.to_string()))?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SystemMailError::Send(e.to_string()))
    }
}

/// `Auto-Submitted: auto-generated`, so auto-responders do not answer system mail.
#[derive(Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}
