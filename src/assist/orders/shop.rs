//! A linked shop's values, each checked when it is made: which kind of shop
//! ([`ConnectorKind`]), its address ([`ShopUrl`]: https unless private hosts are allowed) and
//! its credentials ([`Credentials`], sealed under the instance key, `Debug` redacted).

use std::fmt;

use crate::crypto::Sealer;

use super::FetchError;

/// The sealing context of connector credentials.
const SEAL_CONTEXT: &str = "order-connector-credentials";
const MAX_URL_CHARS: usize = 500;
const MAX_SECRET_CHARS: usize = 500;

/// The shop systems Lethe speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectorKind {
    Shopify,
    WooCommerce,
}

impl ConnectorKind {
    pub const ALL: [ConnectorKind; 2] = [ConnectorKind::Shopify, ConnectorKind::WooCommerce];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Shopify => "shopify",
            ConnectorKind::WooCommerce => "woocommerce",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            ConnectorKind::Shopify => "Shopify",
            ConnectorKind::WooCommerce => "WooCommerce",
        }
    }
}

/// A shop's base address (`https://example.myshopify.com`, `https://shop.example/`): an
/// absolute URL with a host, no user, password, query or fragment. Plain `http` only when
/// the operator allows private hosts (a shop on the merchant's own network, or tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopUrl(url::Url);

impl ShopUrl {
    /// The address, or the translation key of what is wrong with it.
    pub fn parse(value: &str, allow_http: bool) -> Result<Self, &'static str> {
        let value = value.trim();
        if value.is_empty() {
            return Err("integrations.error.url_required");
        }
        if value.chars().count() > MAX_URL_CHARS || value.chars().any(char::is_control) {
            return Err("integrations.error.url_invalid");
        }
        let mut url = url::Url::parse(value).map_err(|_| "integrations.error.url_invalid")?;
        match url.scheme() {
            "https" => {}
            "http" if allow_http => {}
            _ => return Err("integrations.error.url_https"),
        }
        if url.host_str().is_none_or(str::is_empty)
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err("integrations.error.url_invalid");
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Self(url))
    }

    /// A stored address (checked when it was saved).
    pub fn stored(value: &str) -> Result<Self, FetchError> {
        url::Url::parse(value)
            .map(Self)
            .map_err(|_| FetchError::Protocol("stored shop URL".into()))
    }

    /// The host name as DNS knows it.
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

    /// `path` below the shop's address (`admin/api/…`, `wp-json/wc/v3/orders`).
    pub fn join(&self, path: &str) -> String {
        self.0
            .join(path.trim_start_matches('/'))
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{}{}", self.0, path.trim_start_matches('/')))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// What a shop takes to answer: Shopify's Admin API access token, or WooCommerce's consumer
/// key and secret. `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credentials {
    Shopify { token: String },
    WooCommerce { key: String, secret: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One secret as typed: trimmed, one line, not empty.
fn secret(value: &str) -> Result<String, &'static str> {
    let value = value.trim();
    if value.is_empty() {
        return Err("integrations.error.credentials_required");
    }
    if value.chars().count() > MAX_SECRET_CHARS || value.chars().any(char::is_control) {
        return Err("integrations.error.credentials_invalid");
    }
    Ok(value.to_owned())
}

impl Credentials {
    /// Shopify's access token (`shpat_…`).
    pub fn shopify(token: &str) -> Result<Self, &'static str> {
        Ok(Credentials::Shopify {
            token: secret(token)?,
        })
    }

    /// WooCommerce's consumer key (`ck_…`) and secret (`cs_…`).
    pub fn woocommerce(key: &str, secret_text: &str) -> Result<Self, &'static str> {
        Ok(Credentials::WooCommerce {
            key: secret(key)?,
            secret: secret(secret_text)?,
        })
    }

    pub fn kind(&self) -> ConnectorKind {
        match self {
            Credentials::Shopify { .. } => ConnectorKind::Shopify,
            Credentials::WooCommerce { .. } => ConnectorKind::WooCommerce,
        }
    }

    pub fn seal(&self, sealer: &Sealer) -> String {
        // Serializing an enum of strings cannot fail.
        let json = serde_json::to_string(self).unwrap_or_default();
        sealer.seal_text(&json, SEAL_CONTEXT)
    }

    pub fn open(sealer: &Sealer, sealed: &str) -> Result<Self, FetchError> {
        let json = sealer
            .open_text(sealed, SEAL_CONTEXT)
            .map_err(|_| FetchError::Sealed)?;
        serde_json::from_str(&json).map_err(|_| FetchError::Sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print_their_secrets() {
        let c = Credentials::woocommerce("ck_abc", "cs_def").unwrap();
        assert_eq!(format!("{c:?}"), "[redacted]");
    }

    #[test]
    fn shop_urls_must_be_https_unless_private_hosts_are_allowed() {
        assert_eq!(
            ShopUrl::parse("http://shop.example", false),
            Err("integrations.error.url_https")
        );
        assert!(ShopUrl::parse("http://127.0.0.1:8080", true).is_ok());
        let url = ShopUrl::parse("https://x.myshopify.com", false).unwrap();
        assert_eq!(
            url.join("/admin/api/2025-01/graphql.json"),
            "https://x.myshopify.com/admin/api/2025-01/graphql.json"
        );
        let sub = ShopUrl::parse("https://shop.example/store", false).unwrap();
        assert_eq!(
            sub.join("wp-json/wc/v3/orders"),
            "https://shop.example/store/wp-json/wc/v3/orders"
        );
        assert!(ShopUrl::parse("https://u:p@shop.example", false).is_err());
        assert!(ShopUrl::parse("ftp://shop.example", true).is_err());
    }
}
