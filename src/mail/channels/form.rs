//! The channel form: what the admin typed (a DTO that is shown again with its mistakes) and
//! its checked form, a [`NewChannel`] plus which stored passwords to keep.

use serde::Deserialize;

use crate::db::entity::channel;
use crate::mail::EmailAddress;
use crate::mail::channel::{
    AUTH_OAUTH2, AUTH_PASSWORD, ChannelAuth, ImapSettings, KeepPasswords, NewChannel, Secret,
    SmtpSettings, TlsMode, parse_host, parse_port,
};
use crate::mail::oauth::{self, OAuthApp, Provider};

pub const MIN_POLL_SECONDS: i32 = 30;
pub const MAX_POLL_SECONDS: i32 = 86_400;

/// The fields of the new and edit forms, as typed. Password fields are never filled in.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ChannelForm {
    pub name: String,
    pub from_name: String,
    pub from_address: String,
    pub imap_host: String,
    pub imap_port: String,
    pub imap_tls: String,
    pub imap_user: String,
    pub imap_password: String,
    pub imap_folder: String,
    /// `seen` or `move`.
    pub after_fetch: String,
    pub imap_move_to: String,
    pub poll_seconds: String,
    pub smtp_host: String,
    pub smtp_port: String,
    pub smtp_tls: String,
    pub smtp_user: String,
    pub smtp_password: String,
    /// `password` or `oauth2`.
    pub auth_method: String,
    pub oauth_provider: String,
    pub oauth_client_id: String,
    pub oauth_client_secret: String,
    pub oauth_auth_url: String,
    pub oauth_token_url: String,
    pub oauth_scopes: String,
    /// Other addresses, separated by commas, spaces or lines.
    pub aliases: String,
}

impl Default for ChannelForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            from_name: String::new(),
            from_address: String::new(),
            imap_host: String::new(),
            imap_port: "993".into(),
            imap_tls: "tls".into(),
            imap_user: String::new(),
            imap_password: String::new(),
            imap_folder: "INBOX".into(),
            after_fetch: "seen".into(),
            imap_move_to: String::new(),
            poll_seconds: "60".into(),
            smtp_host: String::new(),
            smtp_port: "587".into(),
            smtp_tls: "starttls".into(),
            smtp_user: String::new(),
            smtp_password: String::new(),
            auth_method: AUTH_PASSWORD.into(),
            oauth_provider: Provider::Microsoft.as_str().into(),
            oauth_client_id: String::new(),
            oauth_client_secret: String::new(),
            oauth_auth_url: String::new(),
            oauth_token_url: String::new(),
            oauth_scopes: String::new(),
            aliases: String::new(),
        }
    }
}

impl ChannelForm {
    /// The stored channel as a form; password fields stay empty.
    pub fn from_model(model: &channel::Model) -> Self {
        Self {
            name: model.name.clone(),
            from_name: model.from_name.clone(),
            from_address: model.from_address.clone(),
            imap_host: model.imap_host.clone().unwrap_or_default(),
            imap_port: model.imap_port.to_string(),
            imap_tls: model.imap_tls.clone(),
            imap_user: model.imap_user.clone().unwrap_or_default(),
            imap_password: String::new(),
            imap_folder: model.imap_folder.clone(),
            after_fetch: if model.imap_move_to.is_some() {
                "move".into()
            } else {
                "seen".into()
            },
            imap_move_to: model.imap_move_to.clone().unwrap_or_default(),
            poll_seconds: model.poll_seconds.to_string(),
            smtp_host: model.smtp_host.clone().unwrap_or_default(),
            smtp_port: model.smtp_port.to_string(),
            smtp_tls: model.smtp_tls.clone(),
            smtp_user: model.smtp_user.clone().unwrap_or_default(),
            smtp_password: String::new(),
            auth_method: model.auth_method.clone(),
            oauth_provider: model
                .oauth_provider
                .clone()
                .unwrap_or_else(|| Provider::Microsoft.as_str().into()),
            oauth_client_id: model.oauth_client_id.clone().unwrap_or_default(),
            oauth_client_secret: String::new(),
            oauth_auth_url: model.oauth_auth_url.clone().unwrap_or_default(),
            oauth_token_url: model.oauth_token_url.clone().unwrap_or_default(),
            oauth_scopes: model.oauth_scopes.clone().unwrap_or_default(),
            aliases: model.aliases.clone(),
        }
    }

    /// The form without its passwords, to show again.
    pub fn without_passwords(mut self) -> Self {
        self.imap_password.clear();
        self.smtp_password.clear();
        self.oauth_client_secret.clear();
        self
    }

    /// Checks every field; `existing` is the stored channel when editing (its passwords may
    /// be kept). The errors are translation keys.
    pub fn check(
        &self,
        existing: Option<&channel::Model>,
    ) -> Result<(NewChannel, KeepPasswords), Vec<&'static str>> {
        let mut errors = Vec::new();
        let mut keep = KeepPasswords::default();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push("channels.name_invalid");
        }
        let from_name = self.from_name.trim();
        if from_name.chars().count() > 100 || from_name.chars().any(char::is_control) {
            errors.push("channels.from_name_invalid");
        }
        let from_address = EmailAddress::parse(&self.from_address)
            .map_err(|_| errors.push("channels.from_address_invalid"))
            .ok();
        let poll_seconds = self
            .poll_seconds
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|s| (MIN_POLL_SECONDS..=MAX_POLL_SECONDS).contains(s));
        if poll_seconds.is_none() {
            errors.push("channels.poll_invalid");
        }
        let aliases = self.check_aliases(from_address.as_ref(), &mut errors);
        let auth = self.check_auth(&mut errors);
        let oauth = matches!(auth, Some(ChannelAuth::OAuth(_)));
        let imap = self.check_imap(existing, oauth, &mut keep, &mut errors);
        let smtp = self.check_smtp(existing, oauth, &mut keep, &mut errors);
        match (errors.is_empty(), from_address, poll_seconds, auth) {
            (true, Some(from_address), Some(poll_seconds), Some(auth)) => Ok((
                NewChannel {
                    name: name.to_owned(),
                    imap,
                    smtp,
                    from_name: from_name.to_owned(),
                    from_address,
                    aliases,
                    poll_seconds,
                    auth,
                },
                keep,
            )),
            _ => Err(errors),
        }
    }

    /// The preset's mail servers, filled into empty server fields (the form works without
    /// JavaScript: choosing Microsoft or Google and saving is enough).
    pub fn with_preset_servers(mut self) -> Self {
        if self.auth_method != AUTH_OAUTH2 {
            return self;
        }
        let Some(preset) = Provider::parse(&self.oauth_provider).and_then(Provider::preset) else {
            return self;
        };
        if self.imap_host.trim().is_empty() {
            self.imap_host = preset.imap.host.into();
            self.imap_port = preset.imap.port.to_string();
            self.imap_tls = preset.imap.tls.as_str().into();
        }
        if self.smtp_host.trim().is_empty() {
            self.smtp_host = preset.smtp.host.into();
            self.smtp_port = preset.smtp.port.to_string();
            self.smtp_tls = preset.smtp.tls.as_str().into();
        }
        self
    }

    fn check_aliases(
        &self,
        from_address: Option<&EmailAddress>,
        errors: &mut Vec<&'static str>,
    ) -> Vec<EmailAddress> {
        let mut aliases: Vec<EmailAddress> = Vec::new();
        for word in self
            .aliases
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            match EmailAddress::parse(word) {
                Ok(address) => {
                    let repeated =
                        from_address.is_some_and(|f| f == &address) || aliases.contains(&address);
                    if !repeated {
                        aliases.push(address);
                    }
                }
                Err(_) => {
                    errors.push("channels.aliases.invalid");
                    return Vec::new();
                }
            }
        }
        if aliases.len() > 20 {
            errors.push("channels.aliases.too_many");
        }
        aliases
    }

    fn check_auth(&self, errors: &mut Vec<&'static str>) -> Option<ChannelAuth> {
        match self.auth_method.as_str() {
            AUTH_PASSWORD | "" => return Some(ChannelAuth::Password),
            AUTH_OAUTH2 => {}
            _ => {
                errors.push("channels.oauth.auth_invalid");
                return None;
            }
        }
        let before = errors.len();
        let Some(provider) = Provider::parse(&self.oauth_provider) else {
            errors.push("channels.oauth.provider_invalid");
            return None;
        };
        let preset = provider.preset();
        let or_preset = |typed: &str, preset_value: Option<&'static str>| match typed.trim() {
            "" => preset_value.unwrap_or_default().to_owned(),
            other => other.to_owned(),
        };
        let auth_url =
            oauth::parse_endpoint(&or_preset(&self.oauth_auth_url, preset.map(|p| p.auth_url)))
                .map_err(|e| errors.push(e))
                .ok();
        let token_url = oauth::parse_endpoint(&or_preset(
            &self.oauth_token_url,
            preset.map(|p| p.token_url),
        ))
        .map_err(|e| errors.push(e))
        .ok();
        let scopes = oauth::parse_scopes(&or_preset(&self.oauth_scopes, preset.map(|p| p.scopes)))
            .map_err(|e| errors.push(e))
            .ok();
        let client_id = self.oauth_client_id.trim();
        if client_id.is_empty() || client_id.len() > 500 || client_id.chars().any(char::is_control)
        {
            errors.push("channels.oauth.client_id_invalid");
        }
        let secret = self.oauth_client_secret.trim();
        let client_secret = if secret.is_empty() {
            // Kept from before, or none: public clients (PKCE only) have no secret.
            None
        } else if secret.len() > 1000 || secret.chars().any(char::is_control) {
            errors.push("channels.oauth.client_secret_invalid");
            None
        } else {
            Some(secret.to_owned())
        };
        if errors.len() > before {
            return None;
        }
        Some(ChannelAuth::OAuth(Box::new(OAuthApp {
            provider,
            client_id: client_id.to_owned(),
            client_secret,
            auth_url: auth_url?,
            token_url: token_url?,
            scopes: scopes?,
        })))
    }

    fn check_imap(
        &self,
        existing: Option<&channel::Model>,
        oauth: bool,
        keep: &mut KeepPasswords,
        errors: &mut Vec<&'static str>,
    ) -> Option<ImapSettings> {
        if self.imap_host.trim().is_empty() {
            return None;
        }
        let before = errors.len();
        let host = parse_host(&self.imap_host).map_err(|e| errors.push(e)).ok();
        let port = parse_port(&self.imap_port)
            .map_err(|_| errors.push("channels.imap_port_invalid"))
            .ok();
        let tls = TlsMode::parse(&self.imap_tls);
        if tls.is_none() {
            errors.push("channels.tls_invalid");
        }
        let user = self.imap_user.trim();
        if user.is_empty() || user.len() > 254 || user.chars().any(char::is_control) {
            errors.push("channels.imap_user_invalid");
        }
        if oauth {
            // Signed in with a token: no password.
        } else if self.imap_password.is_empty() {
            if existing.is_some_and(|c| c.imap_password_sealed.is_some()) {
                keep.imap = true;
            } else {
                errors.push("channels.imap_password_missing");
            }
        }
        let folder = match self.imap_folder.trim() {
            "" => "INBOX".to_owned(),
            other => other.to_owned(),
        };
        if !valid_folder(&folder) {
            errors.push("channels.folder_invalid");
        }
        let move_to = match self.after_fetch.as_str() {
            "seen" | "" => None,
            "move" => {
                let target = self.imap_move_to.trim();
                if target.is_empty() || !valid_folder(target) || target == folder {
                    errors.push("channels.move_to_invalid");
                }
                Some(target.to_owned())
            }
            _ => {
                errors.push("channels.after_fetch_invalid");
                None
            }
        };
        if errors.len() > before {
            return None;
        }
        Some(ImapSettings {
            host: host?,
            port: port?,
            tls: tls?,
            user: user.to_owned(),
            secret: if oauth {
                Secret::Bearer(String::new())
            } else {
                Secret::Password(self.imap_password.clone())
            },
            folder,
            move_to,
        })
    }

    fn check_smtp(
        &self,
        existing: Option<&channel::Model>,
        oauth: bool,
        keep: &mut KeepPasswords,
        errors: &mut Vec<&'static str>,
    ) -> Option<SmtpSettings> {
        if self.smtp_host.trim().is_empty() {
            return None;
        }
        let before = errors.len();
        let host = parse_host(&self.smtp_host).map_err(|e| errors.push(e)).ok();
        let port = parse_port(&self.smtp_port)
            .map_err(|_| errors.push("channels.smtp_port_invalid"))
            .ok();
        let tls = TlsMode::parse(&self.smtp_tls);
        if tls.is_none() {
            errors.push("channels.tls_invalid");
        }
        let user = self.smtp_user.trim();
        if user.len() > 254 || user.chars().any(char::is_control) {
            errors.push("channels.smtp_user_invalid");
        }
        let user = (!user.is_empty()).then(|| user.to_owned());
        let password = (!self.smtp_password.is_empty()).then(|| self.smtp_password.clone());
        if oauth {
            // Signed in with a token: no password.
        } else if user.is_some() && password.is_none() {
            if existing.is_some_and(|c| c.smtp_password_sealed.is_some()) {
                keep.smtp = true;
            } else {
                errors.push("channels.smtp_password_missing");
            }
        }
        if errors.len() > before {
            return None;
        }
        Some(SmtpSettings {
            host: host?,
            port: port?,
            tls: tls?,
            user,
            secret: if oauth {
                Some(Secret::Bearer(String::new()))
            } else {
                password.map(Secret::Password)
            },
        })
    }
}

/// A folder name IMAP can carry as a quoted string.
fn valid_folder(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 200
        && !name
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
}
