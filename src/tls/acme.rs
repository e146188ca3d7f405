//! A certificate by ACME (RFC 8555): the account and the certificate are kept in
//! `DATA_DIR/acme` (so a restart does not order again and meet the CA's rate limits), the
//! TLS-ALPN-01 challenge is answered on `LETHE_LISTEN` itself (so port 443 is all a merchant
//! opens), and the certificate is renewed when a third of its lifetime is left. Until the first
//! certificate arrives, HTTPS handshakes fail and the log says why.

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use rustls_acme::caches::DirCache;
use rustls_acme::{AcmeConfig, EventOk};

use super::setting::AcmeSetting;
use super::{TlsError, provider};

/// Starts the ACME client in the background and returns the listener's configuration.
pub fn start(setting: &AcmeSetting, data_dir: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let cache_dir = data_dir.join("acme");
    private_dir(&cache_dir).map_err(|e| {
        TlsError::setting(
            "LETHE_DATA_DIR",
            format!("cannot create {}: {e}", cache_dir.display()),
        )
    })?;
    let mut state =
        AcmeConfig::new_with_client_config(&setting.domains, directory_client(setting)?)
            .directory(&setting.directory)
            .contact(setting.contact.iter())
            .cache(DirCache::new(cache_dir))
            .state();
    let resolver = state.resolver();
    let domain = setting.domains[0].clone();
    tokio::spawn(async move {
        while let Some(event) = state.next().await {
            match event {
                Ok(EventOk::DeployedNewCert) => {
                    tracing::info!(%domain, "ACME: new TLS certificate in service");
                }
                Ok(EventOk::DeployedCachedCert) => {
                    tracing::info!(%domain, "ACME: TLS certificate loaded from the data directory");
                }
                Ok(other) => tracing::debug!(event = ?other, "ACME"),
                Err(error) => {
                    tracing::warn!(%domain, %error, "ACME: no certificate this time; trying again later");
                }
            }
        }
    });
    super::server_config(
        resolver,
        vec![rustls_acme::acme::ACME_TLS_ALPN_NAME.to_vec()],
    )
}

/// The client that talks to the CA's directory: the Web PKI roots, plus the extra roots of
/// `LETHE_ACME_CA_FILE`.
fn directory_client(setting: &AcmeSetting) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in &setting.directory_roots {
        roots.add(root.clone()).map_err(|e| {
            TlsError::setting(
                "LETHE_ACME_CA_FILE",
                format!("not a usable CA certificate ({e})"),
            )
        })?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::setting("LETHE_ACME_DIRECTORY", e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The cache holds the certificate's private key and the account key: owner-only.
fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
