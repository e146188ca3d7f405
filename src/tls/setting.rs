//! The TLS settings, parsed: either certificate files or ACME, never both, each value checked
//! so that a mistake stops start-up naming the setting.

use std::net::SocketAddr;
use std::path::PathBuf;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::files::{CertFiles, load_certified_key};

/// Let's Encrypt's production directory: the default CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// How `LETHE_LISTEN` serves HTTPS.
#[derive(Clone, Debug)]
pub enum TlsSetting {
    /// `LETHE_TLS_CERT` + `LETHE_TLS_KEY`.
    Files(CertFiles),
    /// `LETHE_ACME_DOMAIN` and friends.
    Acme(AcmeSetting),
}

/// A certificate from an ACME CA for these names.
#[derive(Clone, Debug)]
pub struct AcmeSetting {
    /// DNS names, lowercase, the first is the one `LETHE_BASE_URL` defaults to.
    pub domains: Vec<String>,
    /// `mailto:` contact for the CA's expiry and policy mail (`LETHE_ACME_EMAIL`).
    pub contact: Option<String>,
    /// The CA's directory URL (`LETHE_ACME_DIRECTORY`; Let's Encrypt by default).
    pub directory: String,
    /// Extra roots trusted for talking to the directory (`LETHE_ACME_CA_FILE`): a private
    /// CA's own, such as step-ca's or the test suite's Pebble. The Web PKI roots are always in.
    pub directory_roots: Vec<CertificateDer<'static>>,
}

/// The raw values, as strings.
#[derive(Debug, Default)]
pub struct TlsInput<'a> {
    pub cert: Option<&'a str>,
    pub key: Option<&'a str>,
    pub acme_domain: Option<&'a str>,
    pub acme_email: Option<&'a str>,
    pub acme_directory: Option<&'a str>,
    pub acme_ca_file: Option<&'a str>,
}

/// `Err((setting, reason))` names the setting to fix.
pub fn parse_tls_setting(
    input: &TlsInput<'_>,
) -> Result<Option<TlsSetting>, (&'static str, String)> {
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let (cert, key) = (given(input.cert), given(input.key));
    let domain = given(input.acme_domain);
    if domain.is_none() {
        for (name, value) in [
            ("LETHE_ACME_EMAIL", input.acme_email),
            ("LETHE_ACME_DIRECTORY", input.acme_directory),
            ("LETHE_ACME_CA_FILE", input.acme_ca_file),
        ] {
            if given(value).is_some() {
                return Err((name, "is only used together with LETHE_ACME_DOMAIN".into()));
            }
        }
    }
    match (cert, key, domain) {
        (None, None, None) => Ok(None),
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err((
            "LETHE_ACME_DOMAIN",
            "cannot be combined with LETHE_TLS_CERT/LETHE_TLS_KEY: choose certificate files or ACME"
                .into(),
        )),
        (Some(_), None, None) => Err((
            "LETHE_TLS_KEY",
            "must be set together with LETHE_TLS_CERT (the certificate's private key, PEM)".into(),
        )),
        (None, Some(_), None) => Err((
            "LETHE_TLS_CERT",
            "must be set together with LETHE_TLS_KEY (the certificate chain, PEM)".into(),
        )),
        (Some(cert), Some(key), None) => {
            let files = CertFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            };
            load_certified_key(&files).map_err(|e| match e {
                super::TlsError::Setting { setting, reason } => (setting, reason),
            })?;
            Ok(Some(TlsSetting::Files(files)))
        }
        (None, None, Some(domains)) => Ok(Some(TlsSetting::Acme(AcmeSetting {
            domains: acme_domains(domains)?,
            contact: acme_contact(given(input.acme_email))?,
            directory: acme_directory(given(input.acme_directory))?,
            directory_roots: acme_roots(given(input.acme_ca_file))?,
        }))),
    }
}

impl TlsSetting {
    /// The public URL when `LETHE_BASE_URL` is not set: the ACME name, or the listen address.
    pub fn default_base_url(&self, listen: SocketAddr) -> String {
        let host = match self {
            TlsSetting::Acme(acme) => acme.domains[0].clone(),
            TlsSetting::Files(_) => listen.ip().to_string(),
        };
        match listen.port() {
            443 => format!("https://{host}"),
            port => format!("https://{host}:{port}"),
        }
    }
}

fn acme_domains(list: &str) -> Result<Vec<String>, (&'static str, String)> {
    let mut domains = Vec::new();
    for name in list
        .split([',', ' '])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let valid = name.contains('.')
            && name.parse::<std::net::IpAddr>().is_err()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err((
                "LETHE_ACME_DOMAIN",
                format!(
                    "{name:?} is not a DNS name a CA can issue for (such as support.shop.example; \
                     no IP addresses, no wildcards, internationalized names in their xn-- form)"
                ),
            ));
        }
        if !domains.contains(&name) {
            domains.push(name);
        }
    }
    if domains.is_empty() {
        return Err(("LETHE_ACME_DOMAIN", "names no domain".into()));
    }
    Ok(domains)
}

fn acme_contact(email: Option<&str>) -> Result<Option<String>, (&'static str, String)> {
    let Some(email) = email else {
        return Ok(None);
    };
    crate::mail::address::EmailAddress::parse(email).map_err(|_| {
        (
            "LETHE_ACME_EMAIL",
            "must be an email address such as it@shop.example".to_owned(),
        )
    })?;
    Ok(Some(format!("mailto:{email}")))
}

fn acme_directory(url: Option<&str>) -> Result<String, (&'static str, String)> {
    let url = url.unwrap_or(LETS_ENCRYPT);
    let parsed =
        url::Url::parse(url).map_err(|e| ("LETHE_ACME_DIRECTORY", format!("not a URL ({e})")))?;
    if parsed.scheme() != "https" || parsed.host_str().is_none() {
        return Err((
            "LETHE_ACME_DIRECTORY",
            "must be the CA's https:// directory URL".into(),
        ));
    }
    Ok(url.to_owned())
}

fn acme_roots(path: Option<&str>) -> Result<Vec<CertificateDer<'static>>, (&'static str, String)> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(path)
        .map_err(|e| ("LETHE_ACME_CA_FILE", format!("cannot read {path}: {e}")))?;
    let roots = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ("LETHE_ACME_CA_FILE", format!("not PEM certificates ({e})")))?;
    if roots.is_empty() {
        return Err(("LETHE_ACME_CA_FILE", "holds no certificate".into()));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(input: TlsInput<'_>) -> String {
        let (setting, reason) = parse_tls_setting(&input).expect_err("refused");
        format!("{setting}: {reason}")
    }

    #[test]
    fn half_a_pair_or_both_kinds_are_refused_naming_the_setting() {
        let only_cert = refused(TlsInput {
            cert: Some("/etc/lethe/cert.pem"),
            ..Default::default()
        });
        assert!(
            only_cert.starts_with("LETHE_TLS_KEY: must be set together"),
            "{only_cert}"
        );
        let only_key = refused(TlsInput {
            key: Some("/etc/lethe/key.pem"),
            ..Default::default()
        });
        assert!(
            only_key.starts_with("LETHE_TLS_CERT: must be set together"),
            "{only_key}"
        );
        let both = refused(TlsInput {
            cert: Some("c"),
            key: Some("k"),
            acme_domain: Some("support.shop.example"),
            ..Default::default()
        });
        assert!(
            both.starts_with("LETHE_ACME_DOMAIN: cannot be combined"),
            "{both}"
        );
        let stray = refused(TlsInput {
            acme_email: Some("it@shop.example"),
            ..Default::default()
        });
        assert!(
            stray.starts_with("LETHE_ACME_EMAIL: is only used"),
            "{stray}"
        );
    }

    #[test]
    fn acme_values_are_checked() {
        for bad in [
            "127.0.0.1",
            "*.shop.example",
            "localhost",
            "shop_.example",
            "-a.example",
        ] {
            let message = refused(TlsInput {
                acme_domain: Some(bad),
                ..Default::default()
            });
            assert!(
                message.starts_with("LETHE_ACME_DOMAIN:"),
                "{bad}: {message}"
            );
        }
        let message = refused(TlsInput {
            acme_domain: Some("support.shop.example"),
            acme_directory: Some("http://ca.example/dir"),
            ..Default::default()
        });
        assert!(message.starts_with("LETHE_ACME_DIRECTORY:"), "{message}");
        let message = refused(TlsInput {
            acme_domain: Some("support.shop.example"),
            acme_email: Some("not an address"),
            ..Default::default()
        });
        assert!(message.starts_with("LETHE_ACME_EMAIL:"), "{message}");
    }

    #[test]
    fn acme_defaults_to_lets_encrypt_and_the_first_name_is_the_base_url() {
        let setting = parse_tls_setting(&TlsInput {
            acme_domain: Some("Support.Shop.Example, help.shop.example"),
            acme_email: Some("it@shop.example"),
            ..Default::default()
        })
        .expect("valid")
        .expect("on");
        let TlsSetting::Acme(acme) = &setting else {
            panic!("ACME expected");
        };
        assert_eq!(acme.domains, ["support.shop.example", "help.shop.example"]);
        assert_eq!(acme.directory, LETS_ENCRYPT);
        assert_eq!(acme.contact.as_deref(), Some("mailto:it@shop.example"));
        let https = "0.0.0.0:443".parse().expect("addr");
        assert_eq!(
            setting.default_base_url(https),
            "https://support.shop.example"
        );
        let other = "0.0.0.0:8443".parse().expect("addr");
        assert_eq!(
            setting.default_base_url(other),
            "https://support.shop.example:8443"
        );
    }
}
