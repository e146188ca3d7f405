//! HTTPS without anything in front: `LETHE_TLS_CERT` + `LETHE_TLS_KEY` (PEM files, picked up
//! again when they change on disk) or `LETHE_ACME_DOMAIN` (a certificate obtained and renewed
//! by ACME, answering the TLS-ALPN-01 challenge on the listener itself). Owns these settings,
//! the rustls server configuration `LETHE_LISTEN` serves with, and the background work that
//! keeps its certificate current.

mod acme;
mod files;
mod setting;

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;

pub use files::{CertFiles, load_certified_key};
pub use setting::{AcmeSetting, TlsInput, TlsSetting, parse_tls_setting};

/// The one cryptography provider: *ring*, pure Rust and assembly, no OpenSSL.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why HTTPS could not start. The message names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{setting}: {reason}")]
    Setting {
        setting: &'static str,
        reason: String,
    },
}

impl TlsError {
    fn setting(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::Setting {
            setting,
            reason: reason.into(),
        }
    }
}

/// Builds the listener's rustls configuration and starts what keeps its certificate fresh
/// (a file watcher, or the ACME client). Must run inside the Tokio runtime.
pub fn start(setting: &TlsSetting, data_dir: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let resolver: Arc<dyn rustls::server::ResolvesServerCert> = match setting {
        TlsSetting::Files(files) => files::ReloadingCert::start(files.clone())?,
        TlsSetting::Acme(acme) => return acme::start(acme, data_dir),
    };
    server_config(resolver, Vec::new())
}

/// TLS 1.2 and 1.3 with the provider's safe defaults; `extra_alpn` adds protocols beyond
/// those the HTTP server offers itself (HTTP/1.1).
fn server_config(
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
    extra_alpn: Vec<Vec<u8>>,
) -> Result<rustls::ServerConfig, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::setting("LETHE_TLS_CERT", e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = extra_alpn;
    Ok(config)
}

/// A TLS connection to this instance's own listener, for `lethe healthcheck`: the question
/// is whether the server answers, not who it is, so the certificate is not checked against a
/// trust store (the check sends nothing secret). Its signatures still are.
pub async fn connect_to_self(
    stream: tokio::net::TcpStream,
    host: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let provider = provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
