//! A chat channel's widget settings, parsed: the origins allowed to embed the widget
//! ([`Origin`], exact `scheme://host[:port]`), its colour ([`Colour`]), and per language
//! (English, German, French) the greeting and the labels ([`Texts`]), with defaults; a privacy
//! notice line per language and one link; whether the widget offers the help-centre articles.
//! Stored as JSON in `channels.chat_settings`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::web::i18n::Lang;

/// An origin allowed to embed the widget: `scheme://host[:port]`, lower case, no path, no
/// default port. Compared exactly with a browser's `Origin` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin(String);

impl Origin {
    /// `https://shop.example`, `http://127.0.0.1:8080`; a trailing slash is dropped. Anything
    /// else (a path, a query, user info, a wildcard, another scheme) is refused.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let value = value.trim();
        let value = value.strip_suffix('/').unwrap_or(value);
        let (scheme, rest) = value.split_once("://").ok_or("chat.origin_invalid")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err("chat.origin_invalid");
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
                if host.contains(':') && !host.starts_with('[') {
                    // A bare IPv6 address: refuse, it must be bracketed.
                    return Err("chat.origin_invalid");
                }
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or("chat.origin_invalid")?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        let host = host.to_ascii_lowercase();
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err("chat.origin_invalid");
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        Ok(Self(match port {
            Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Origin {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Origin> for String {
    fn from(origin: Origin) -> Self {
        origin.0
    }
}

/// A colour `#rrggbb`, lower case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Colour(String);

impl Colour {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let value = value.trim().to_ascii_lowercase();
        let ok = value.len() == 7
            && value.starts_with('#')
            && value[1..].chars().all(|c| c.is_ascii_hexdigit());
        if ok {
            Ok(Self(value))
        } else {
            Err("chat.colour_invalid")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Colour {
    fn default() -> Self {
        Self("#1f5fbf".into())
    }
}

impl TryFrom<String> for Colour {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Colour> for String {
    fn from(colour: Colour) -> Self {
        colour.0
    }
}

/// The widget's words in one language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Texts {
    /// The button that opens the chat, and the window's title.
    pub title: String,
    /// Shown at the top of an empty chat.
    pub greeting: String,
    pub placeholder: String,
    pub send: String,
    pub close: String,
    /// "Delete this conversation".
    pub delete: String,
    /// The optional name and email fields.
    pub name: String,
    pub email: String,
    /// The privacy notice line (the link follows it).
    pub privacy: String,
    /// Shown while an agent types an answer.
    #[serde(default)]
    pub typing: String,
    /// Shown outside business hours (when the channel answers by mail then).
    #[serde(default)]
    pub closed: String,
    /// The file field (images and PDF).
    #[serde(default)]
    pub attach: String,
}

/// The names of the text fields, in form order (the form's field is `{name}_{lang}`).
pub const TEXT_FIELDS: [&str; 12] = [
    "title",
    "greeting",
    "placeholder",
    "send",
    "close",
    "delete",
    "name",
    "email",
    "privacy",
    "typing",
    "closed",
    "attach",
];

/// Longest text of a field.
pub const MAX_TEXT: usize = 500;

impl Texts {
    /// The defaults of a language.
    pub fn default_for(lang: Lang) -> Self {
        let t = |en: &str, de: &str, fr: &str| {
            match lang {
                Lang::En => en,
                Lang::De => de,
                Lang::Fr => fr,
            }
            .to_owned()
        };
        Self {
            title: t("Chat with us", "Schreiben Sie uns", "Écrivez-nous"),
            greeting: t(
                "Hello! How can we help you?",
                "Hallo! Wie können wir helfen?",
                "Bonjour ! Comment pouvons-nous vous aider ?",
            ),
            placeholder: t("Your message", "Ihre Nachricht", "Votre message"),
            send: t("Send", "Senden", "Envoyer"),
            close: t("Close", "Schließen", "Fermer"),
            delete: t(
                "Delete this conversation",
                "Dieses Gespräch löschen",
                "Supprimer cette conversation",
            ),
            name: t("Name (optional)", "Name (freiwillig)", "Nom (facultatif)"),
            email: t(
                "Email for the answer by mail (optional)",
                "E-Mail für die Antwort per Mail (freiwillig)",
                "E-mail pour la réponse par courriel (facultatif)",
            ),
            privacy: t(
                "We store your messages to answer you.",
                "Wir speichern Ihre Nachrichten, um Ihnen zu antworten.",
                "Nous conservons vos messages pour vous répondre.",
            ),
            typing: t(
                "Someone is typing an answer…",
                "Jemand schreibt eine Antwort…",
                "Quelqu'un écrit une réponse…",
            ),
            closed: t(
                "We are away right now. Leave your email address and we answer by mail.",
                "Wir sind gerade nicht da. Hinterlassen Sie Ihre E-Mail-Adresse, wir antworten per Mail.",
                "Nous sommes absents. Laissez votre adresse e-mail, nous répondrons par courriel.",
            ),
            attach: t(
                "Send a picture or PDF",
                "Bild oder PDF senden",
                "Envoyer une image ou un PDF",
            ),
        }
    }

    /// The value of a field by its name in [`TEXT_FIELDS`].
    pub fn get(&self, field: &str) -> &str {
        match field {
            "title" => &self.title,
            "greeting" => &self.greeting,
            "placeholder" => &self.placeholder,
            "send" => &self.send,
            "close" => &self.close,
            "delete" => &self.delete,
            "name" => &self.name,
            "email" => &self.email,
            "privacy" => &self.privacy,
            "typing" => &self.typing,
            "closed" => &self.closed,
            "attach" => &self.attach,
            _ => "",
        }
    }

    pub(crate) fn set(&mut self, field: &str, value: String) {
        let slot = match field {
            "title" => &mut self.title,
            "greeting" => &mut self.greeting,
            "placeholder" => &mut self.placeholder,
            "send" => &mut self.send,
            "close" => &mut self.close,
            "delete" => &mut self.delete,
            "name" => &mut self.name,
            "email" => &mut self.email,
            "privacy" => &mut self.privacy,
            "typing" => &mut self.typing,
            "closed" => &mut self.closed,
            "attach" => &mut self.attach,
            _ => return,
        };
        *slot = value;
    }
}

/// Everything the widget of a chat channel shows and allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSettings {
    pub origins: Vec<Origin>,
    pub colour: Colour,
    /// Per language code (`en`, `de`, `fr`).
    pub texts: BTreeMap<String, Texts>,
    /// The privacy notice's link (an `https://` or `http://` URL), if any.
    pub privacy_url: Option<String>,
    /// Outside the organization's business hours (its SLA calendar, `/settings/sla`), the
    /// widget says so and asks for an email address: the answer comes by mail.
    #[serde(default)]
    pub answer_by_mail_outside_hours: bool,
    /// The widget offers a search of the organization's public, published help-centre
    /// articles above the chat (`src/chat/help.rs`); off by default.
    #[serde(default)]
    pub help_articles: bool,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            origins: Vec::new(),
            colour: Colour::default(),
            texts: Lang::ALL
                .iter()
                .map(|lang| (lang.code().to_owned(), Texts::default_for(*lang)))
                .collect(),
            privacy_url: None,
            answer_by_mail_outside_hours: false,
            help_articles: false,
        }
    }
}

impl ChatSettings {
    /// The stored JSON, or the defaults when it is empty or unreadable.
    pub fn from_stored(stored: &str) -> Self {
        serde_json::from_str(stored).unwrap_or_default()
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The texts of a language (its defaults if none are stored).
    pub fn texts(&self, lang: Lang) -> Texts {
        let defaults = Texts::default_for(lang);
        let mut texts = self
            .texts
            .get(lang.code())
            .cloned()
            .unwrap_or_else(|| defaults.clone());
        // A text added after the settings were saved takes its default.
        for field in TEXT_FIELDS {
            if texts.get(field).is_empty() {
                texts.set(field, defaults.get(field).to_owned());
            }
        }
        texts
    }

    /// Whether a browser's `Origin` header names one of the allowed origins, exactly.
    pub fn allows(&self, origin: &str) -> bool {
        Origin::parse(origin).is_ok_and(|o| o.as_str() == origin && self.origins.contains(&o))
    }

    /// The settings of the admin form's fields: `origins` (one per line), `colour`,
    /// `privacy_url`, and `{field}_{lang}` per text; an empty text takes its default. Every
    /// error's translation key.
    pub fn from_form(fields: &BTreeMap<String, String>) -> Result<Self, Vec<&'static str>> {
        let mut errors = Vec::new();
        let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
        let mut origins = Vec::new();
        for line in field("origins").split(['\n', ',', ' ']) {
            if line.trim().is_empty() {
                continue;
            }
            match Origin::parse(line) {
                Ok(origin) if !origins.contains(&origin) => origins.push(origin),
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        if origins.len() > 50 {
            errors.push("chat.origins_too_many");
        }
        let colour = match field("colour").trim() {
            "" => Colour::default(),
            value => Colour::parse(value).unwrap_or_else(|e| {
                errors.push(e);
                Colour::default()
            }),
        };
        let privacy_url = match field("privacy_url").trim() {
            "" => None,
            url if (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2000
                && !url
                    .chars()
                    .any(|c| c.is_whitespace() || c == '"' || c == '<') =>
            {
                Some(url.to_owned())
            }
            _ => {
                errors.push("chat.privacy_url_invalid");
                None
            }
        };
        let mut texts = BTreeMap::new();
        for lang in Lang::ALL {
            let mut own = Texts::default_for(lang);
            for name in TEXT_FIELDS {
                let value = field(&format!("{name}_{}", lang.code())).trim();
                if value.chars().count() > MAX_TEXT {
                    errors.push("chat.text_too_long");
                } else if !value.is_empty() {
                    own.set(name, value.to_owned());
                }
            }
            texts.insert(lang.code().to_owned(), own);
        }
        errors.dedup();
        if errors.is_empty() {
            let ticked = |name: &str| matches!(field(name).trim(), "on" | "yes" | "1" | "true");
            Ok(Self {
                origins,
                colour,
                texts,
                privacy_url,
                answer_by_mail_outside_hours: ticked("answer_by_mail_outside_hours"),
                help_articles: ticked("help_articles"),
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_scheme_host_and_port() {
        assert_eq!(
            Origin::parse("https://Shop.Example/").unwrap().as_str(),
            "https://shop.example"
        );
        assert_eq!(
            Origin::parse("https://shop.example:443").unwrap().as_str(),
            "https://shop.example"
        );
        assert_eq!(
            Origin::parse("http://127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/path",
            "https://*.shop.example",
            "https://user@shop.example",
            "https://shop.example:0",
            "https://shop.example:99999",
            "https://",
            "https://shop.example?x",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn only_an_allowed_origin_as_the_browser_sends_it_is_allowed() {
        let mut fields = BTreeMap::new();
        fields.insert(
            "origins".to_owned(),
            "https://shop.example\nhttp://127.0.0.1:9000".to_owned(),
        );
        let settings = ChatSettings::from_form(&fields).unwrap();
        assert!(settings.allows("https://shop.example"));
        assert!(settings.allows("http://127.0.0.1:9000"));
        assert!(!settings.allows("https://shop.example.evil"));
        assert!(!settings.allows("http://shop.example"));
        assert!(!settings.allows("http://127.0.0.1:9001"));
        assert!(!settings.allows("null"));
    }

    #[test]
    fn empty_texts_take_the_language_defaults_and_bad_fields_are_named() {
        let mut fields = BTreeMap::new();
        fields.insert("greeting_de".to_owned(), "Moin!".to_owned());
        let settings = ChatSettings::from_form(&fields).unwrap();
        assert_eq!(settings.texts(Lang::De).greeting, "Moin!");
        assert_eq!(settings.texts(Lang::Fr), Texts::default_for(Lang::Fr));
        fields.insert("colour".to_owned(), "red".to_owned());
        fields.insert("privacy_url".to_owned(), "javascript:alert(1)".to_owned());
        let errors = ChatSettings::from_form(&fields).unwrap_err();
        assert!(errors.contains(&"chat.colour_invalid"));
        assert!(errors.contains(&"chat.privacy_url_invalid"));
    }
}
