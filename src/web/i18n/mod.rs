//! The translation catalog: every UI string, in English, German and French. Catalogs are TOML
//! files compiled into the binary; a test checks that the three hold the same keys and that
//! every key the templates and code use exists.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// A language Lethe speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    De,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::De, Lang::Fr];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
        }
    }

    /// The language's own name, for the language picker.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
            Lang::Fr => "Français",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// Picks the best language from an `Accept-Language` header, else English.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or_default();
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or_default();
            if let Some(lang) = Lang::from_code(primary)
                && best.is_none_or(|(q, _)| quality > q)
            {
                best = Some((quality, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or(Lang::En)
    }
}

type Catalog = BTreeMap<String, String>;

struct Catalogs {
    en: Catalog,
    de: Catalog,
    fr: Catalog,
}

/// Each feature owns one catalog file per language; they are merged at start.
macro_rules! catalog_sources {
    ($lang:literal) => {
        [
            include_str!(concat!($lang, "/core.toml")),
            include_str!(concat!($lang, "/inbox.toml")),
            include_str!(concat!($lang, "/channels.toml")),
            include_str!(concat!($lang, "/search.toml")),
            include_str!(concat!($lang, "/audit.toml")),
            include_str!(concat!($lang, "/privacy.toml")),
            include_str!(concat!($lang, "/retention.toml")),
            include_str!(concat!($lang, "/orgs.toml")),
            include_str!(concat!($lang, "/api.toml")),
            include_str!(concat!($lang, "/jobs.toml")),
            include_str!(concat!($lang, "/security.toml")),
            include_str!(concat!($lang, "/webhooks.toml")),
            include_str!(concat!($lang, "/backup.toml")),
            include_str!(concat!($lang, "/triage.toml")),
            include_str!(concat!($lang, "/writing.toml")),
            include_str!(concat!($lang, "/format.toml")),
            include_str!(concat!($lang, "/notifications.toml")),
            include_str!(concat!($lang, "/merge.toml")),
            include_str!(concat!($lang, "/sla.toml")),
            include_str!(concat!($lang, "/views.toml")),
            include_str!(concat!($lang, "/reports.toml")),
            include_str!(concat!($lang, "/chat.toml")),
            include_str!(concat!($lang, "/assist.toml")),
            include_str!(concat!($lang, "/intent.toml")),
            include_str!(concat!($lang, "/assist_llm.toml")),
            include_str!(concat!($lang, "/knowledge.toml")),
        ]
    };
}

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs {
    en: parse_catalogs(&catalog_sources!("en")),
    de: parse_catalogs(&catalog_sources!("de")),
    fr: parse_catalogs(&catalog_sources!("fr")),
});

fn parse_catalogs(sources: &[&str]) -> Catalog {
    let mut out = Catalog::new();
    for source in sources {
        out.extend(parse_catalog(source));
    }
    out
}

/// Flattens nested TOML tables into dotted keys: `[login] title = …` is `login.title`.
fn parse_catalog(source: &str) -> Catalog {
    let mut out = Catalog::new();
    // The catalogs are part of the binary and checked by tests: a parse error is a build bug.
    let table: toml::Table = toml::from_str(source).unwrap_or_default();
    flatten("", &table, &mut out);
    out
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Catalog) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&full, inner, out),
            toml::Value::String(text) => {
                out.insert(full, text.clone());
            }
            _ => {}
        }
    }
}

/// A translator for one language: cheap to copy into every template.
#[derive(Clone, Copy, Debug)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    /// The text for `key`; falls back to English, then to the key itself.
    pub fn t(&self, key: &str) -> &'static str {
        let catalogs = &*CATALOGS;
        let catalog = match self.lang {
            Lang::En => &catalogs.en,
            Lang::De => &catalogs.de,
            Lang::Fr => &catalogs.fr,
        };
        catalog
            .get(key)
            .or_else(|| catalogs.en.get(key))
            .map(String::as_str)
            .unwrap_or_else(|| {
                tracing::warn!(key, "missing translation");
                "…"
            })
    }

    /// The text for `key` with `{name}` placeholders filled in.
    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// Like [`Tr::tf`] with a number.
    pub fn tn(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        self.tf(key, &[(name, &value.to_string())])
    }

    pub fn code(&self) -> &'static str {
        self.lang.code()
    }
}

/// Every key of a catalog, for the completeness test.
pub fn keys(lang: Lang) -> Vec<String> {
    let catalogs = &*CATALOGS;
    let catalog = match lang {
        Lang::En => &catalogs.en,
        Lang::De => &catalogs.de,
        Lang::Fr => &catalogs.fr,
    };
    catalog.keys().cloned().collect()
}

/// True when `key` is in the English catalog.
pub fn has_key(key: &str) -> bool {
    CATALOGS.en.contains_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogs_parse_and_hold_the_same_keys() {
        let sources = [
            catalog_sources!("en"),
            catalog_sources!("de"),
            catalog_sources!("fr"),
        ];
        for source in sources.iter().flatten() {
            toml::from_str::<toml::Table>(source).expect("catalog parses");
        }
        let en = keys(Lang::En);
        assert!(en.len() > 50, "the English catalog looks empty");
        for lang in [Lang::De, Lang::Fr] {
            let other = keys(lang);
            let missing: Vec<_> = en.iter().filter(|k| !other.contains(k)).collect();
            let extra: Vec<_> = other.iter().filter(|k| !en.contains(k)).collect();
            assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang:?} has keys English lacks: {extra:?}"
            );
        }
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let pattern = regex::Regex::new(r#"\.(?:t|tf|tn)\("([a-z0-9_.]+)""#).expect("regex");
        let mut missing = Vec::new();
        for root in ["templates", "src"] {
            for path in walk(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(root)) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for capture in pattern.captures_iter(&text) {
                    let key = &capture[1];
                    if !has_key(key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from en.toml: {missing:#?}"
        );
    }

    fn walk(dir: std::path::PathBuf) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    out.extend(walk(path));
                } else if path.extension().is_some_and(|e| e == "html" || e == "rs") {
                    out.push(path);
                }
            }
        }
        out
    }

    #[test]
    fn accept_language_picks_the_preferred_known_language() {
        assert_eq!(
            Lang::from_accept_language(Some("de-DE,de;q=0.9,en;q=0.8")),
            Lang::De
        );
        assert_eq!(
            Lang::from_accept_language(Some("es-ES,fr;q=0.5,en;q=0.4")),
            Lang::Fr
        );
        assert_eq!(Lang::from_accept_language(Some("ja")), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
    }
}
