//! The webhook domain's values, each checked when it is made: an endpoint's URL
//! ([`WebhookUrl`]), its signing secret ([`WebhookSecret`], redacted in `Debug`), and the
//! events an endpoint can subscribe to ([`EventType`], [`EventSet`]).

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine;

use crate::crypto::fill_random;

const MAX_URL_CHARS: usize = 2000;

/// An endpoint's address: an absolute `http` or `https` URL with a host, no user name or
/// password in it and no fragment. Whether its host may be reached (no SSRF) is checked
/// separately, when it is saved and again at every delivery ([`super::deliver`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    /// The URL, or the translation key of what is wrong with it.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let value = value.trim();
        if value.is_empty() {
            return Err("webhooks.error.url_required");
        }
        if value.chars().count() > MAX_URL_CHARS || value.chars().any(char::is_control) {
            return Err("webhooks.error.url_invalid");
        }
        let url = url::Url::parse(value).map_err(|_| "webhooks.error.url_invalid")?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("webhooks.error.url_scheme");
        }
        if url.host_str().is_none_or(str::is_empty)
            || !url.username().is_empty()
            || url.password().is_some()
            || url.fragment().is_some()
        {
            return Err("webhooks.error.url_invalid");
        }
        Ok(Self(url))
    }

    /// The host name as DNS knows it (an IPv6 literal without its brackets).
    pub fn host(&self) -> String {
        self.0
            .host_str()
            .unwrap_or_default()
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned()
    }

    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// How many random bytes a secret holds (Standard Webhooks allows 24 to 64).
const SECRET_BYTES: usize = 32;
/// The prefix Standard Webhooks gives a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// An endpoint's signing key. Its text form is `whsec_<base64>`, as the Standard Webhooks
/// libraries take it; `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        fill_random(&mut bytes);
        Self(bytes)
    }

    /// A secret from its text form (`whsec_` optional), at least 24 bytes.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let encoded = value.strip_prefix(SECRET_PREFIX).unwrap_or(value);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        (24..=64).contains(&bytes.len()).then_some(Self(bytes))
    }

    /// The text form, to show an admin or seal.
    pub fn expose(&self) -> String {
        format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(&self.0)
        )
    }

    /// The HMAC key.
    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An event an endpoint can subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventType {
    ConversationCreated,
    MessageCreated,
    ConversationStatusChanged,
    ConversationAssigned,
    CustomerErased,
    RetentionRunFinished,
    PrivacyRequestCreated,
    ConversationMerged,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::ConversationCreated,
        EventType::MessageCreated,
        EventType::ConversationStatusChanged,
        EventType::ConversationAssigned,
        EventType::CustomerErased,
        EventType::RetentionRunFinished,
        EventType::PrivacyRequestCreated,
        EventType::ConversationMerged,
    ];

    /// The name in payloads (`type`), forms and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ConversationCreated => "conversation.created",
            EventType::MessageCreated => "message.created",
            EventType::ConversationStatusChanged => "conversation.status_changed",
            EventType::ConversationAssigned => "conversation.assigned",
            EventType::CustomerErased => "customer.erased",
            EventType::RetentionRunFinished => "retention.run_finished",
            EventType::PrivacyRequestCreated => "privacy_request.created",
            EventType::ConversationMerged => "conversation.merged",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == value.trim())
    }

    /// Events that can carry message content (subject, text) when the endpoint asks for it.
    pub fn may_carry_content(self) -> bool {
        matches!(
            self,
            EventType::ConversationCreated | EventType::MessageCreated
        )
    }
}

/// The events an endpoint receives: at least one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSet(BTreeSet<EventType>);

impl EventSet {
    /// From the names ticked in a form (or stored), or the key of the error: none chosen,
    /// or a name that is not an event.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, &'static str> {
        let mut set = BTreeSet::new();
        for name in names {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            set.insert(EventType::parse(name).ok_or("webhooks.error.event_unknown")?);
        }
        if set.is_empty() {
            return Err("webhooks.error.events_required");
        }
        Ok(Self(set))
    }

    /// As stored: names, comma-separated.
    pub fn stored(&self) -> String {
        self.0
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// From the stored form; unknown names (from a newer version) are skipped.
    pub fn from_stored(value: &str) -> BTreeSet<EventType> {
        value.split(',').filter_map(EventType::parse).collect()
    }

    pub fn contains(&self, event: EventType) -> bool {
        self.0.contains(&event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_with_a_host_and_no_credentials() {
        assert!(WebhookUrl::parse("https://shop.example/hooks/lethe").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/x?y=1").is_ok());
        for bad in [
            "",
            "shop.example/hook",
            "ftp://shop.example/",
            "https://user:pw@shop.example/",
            "https://shop.example/#x",
            "file:///etc/passwd",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_secret_round_trips_through_its_text_form_and_is_redacted() {
        let secret = WebhookSecret::generate();
        let text = secret.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&text), Some(secret.clone()));
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
    }

    #[test]
    fn an_event_set_needs_known_names() {
        let set = EventSet::parse(["message.created", "customer.erased"]).unwrap();
        assert_eq!(set.stored(), "message.created,customer.erased");
        assert_eq!(
            EventSet::parse(Vec::<&str>::new()),
            Err("webhooks.error.events_required")
        );
        assert_eq!(
            EventSet::parse(["message.deleted"]),
            Err("webhooks.error.event_unknown")
        );
    }
}
