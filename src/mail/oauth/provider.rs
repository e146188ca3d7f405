//! The providers a channel can sign in with, and what each preset fills in: the endpoints,
//! the scopes IMAP and SMTP need, and the mail servers.

use crate::mail::channel::TlsMode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// Microsoft 365 / Exchange Online (work and school accounts).
    Microsoft,
    /// Google Workspace and Gmail.
    Google,
    /// Any provider: the admin types the endpoints and scopes.
    Generic,
}

/// A server's host, port and TLS mode.
pub struct Server {
    pub host: &'static str,
    pub port: u16,
    pub tls: TlsMode,
}

/// What choosing a provider fills in.
pub struct Preset {
    pub auth_url: &'static str,
    pub token_url: &'static str,
    pub scopes: &'static str,
    pub imap: Server,
    pub smtp: Server,
    /// Extra parameters of the authorization request (Google hands out a refresh token
    /// only with `access_type=offline`, and again only with `prompt=consent`).
    pub extra: &'static [(&'static str, &'static str)],
}

const MICROSOFT: Preset = Preset {
    auth_url: "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
    token_url: "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
    scopes: "https://outlook.office.com/IMAP.AccessAsUser.All \
             https://outlook.office.com/SMTP.Send offline_access",
    imap: Server {
        host: "outlook.office365.com",
        port: 993,
        tls: TlsMode::Tls,
    },
    smtp: Server {
        host: "smtp.office365.com",
        port: 587,
        tls: TlsMode::StartTls,
    },
    extra: &[],
};

const GOOGLE: Preset = Preset {
    auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
    token_url: "https://oauth2.googleapis.com/token",
    scopes: "https://mail.google.com/",
    imap: Server {
        host: "imap.gmail.com",
        port: 993,
        tls: TlsMode::Tls,
    },
    smtp: Server {
        host: "smtp.gmail.com",
        port: 587,
        tls: TlsMode::StartTls,
    },
    extra: &[("access_type", "offline"), ("prompt", "consent")],
};

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Microsoft, Provider::Google, Provider::Generic];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Microsoft => "microsoft",
            Provider::Google => "google",
            Provider::Generic => "generic",
        }
    }

    /// The translation key of the provider's name ("Microsoft 365", …).
    pub fn label_key(self) -> &'static str {
        match self {
            Provider::Microsoft => "channels.oauth_provider.microsoft",
            Provider::Google => "channels.oauth_provider.google",
            Provider::Generic => "channels.oauth_provider.generic",
        }
    }

    pub fn preset(self) -> Option<&'static Preset> {
        match self {
            Provider::Microsoft => Some(&MICROSOFT),
            Provider::Google => Some(&GOOGLE),
            Provider::Generic => None,
        }
    }
}
