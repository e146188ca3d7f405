//! A certificate and key from PEM files (`LETHE_TLS_CERT`, `LETHE_TLS_KEY`): loaded and
//! checked at start-up, and loaded again when either file changes, so a renewal by certbot or
//! the operator's own tooling takes effect without a restart. A file that turns bad keeps the
//! last good certificate in service and says so in the log.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{TlsError, provider};

/// How often the files are looked at for a change.
const RECHECK: Duration = Duration::from_secs(60);

/// The two paths, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    fn modified(&self) -> Option<(SystemTime, SystemTime)> {
        let time = |path: &PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Some((time(&self.cert)?, time(&self.key)?))
    }
}

/// Reads the chain and the key and checks that they belong together.
pub fn load_certified_key(files: &CertFiles) -> Result<CertifiedKey, TlsError> {
    let read = |path: &PathBuf, setting: &'static str| {
        std::fs::read(path)
            .map_err(|e| TlsError::setting(setting, format!("cannot read {}: {e}", path.display())))
    };
    let cert_pem = read(&files.cert, "LETHE_TLS_CERT")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::setting("LETHE_TLS_CERT", format!("not PEM certificates ({e})")))?;
    if chain.is_empty() {
        return Err(TlsError::setting(
            "LETHE_TLS_CERT",
            "holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----, the server's first)",
        ));
    }
    let key_pem = read(&files.key, "LETHE_TLS_KEY")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        TlsError::setting(
            "LETHE_TLS_KEY",
            format!("holds no private key in PEM (PKCS#8, PKCS#1 or SEC1) ({e})"),
        )
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::setting(
            "LETHE_TLS_KEY",
            "does not belong to the certificate in LETHE_TLS_CERT",
        ),
        other => TlsError::setting(
            "LETHE_TLS_KEY",
            format!("not a usable key (RSA, ECDSA P-256/P-384 or Ed25519): {other}"),
        ),
    })
}

/// Serves the current certificate to every client and swaps it when the files change.
#[derive(Debug)]
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    /// Loads the files (an error stops start-up) and starts watching them.
    pub fn start(files: CertFiles) -> Result<Arc<Self>, TlsError> {
        let loaded = Arc::new(Self {
            current: RwLock::new(Arc::new(load_certified_key(&files)?)),
        });
        let watched = Arc::downgrade(&loaded);
        tokio::spawn(async move {
            let mut seen = files.modified();
            loop {
                tokio::time::sleep(RECHECK).await;
                let Some(resolver) = watched.upgrade() else {
                    return;
                };
                let now = files.modified();
                if now.is_some() && now != seen {
                    seen = now;
                    resolver.reload(&files);
                }
            }
        });
        Ok(loaded)
    }

    /// Loads the files again; on an error the certificate in service stays.
    pub fn reload(&self, files: &CertFiles) {
        match load_certified_key(files) {
            Ok(key) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
                tracing::info!("TLS certificate reloaded from LETHE_TLS_CERT");
            }
            Err(error) => {
                tracing::error!(%error, "TLS certificate files changed but cannot be used; the previous certificate stays in service");
            }
        }
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &std::path::Path, name: &str) -> (CertFiles, Vec<u8>) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let files = CertFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write cert");
        std::fs::write(&files.key, key.serialize_pem()).expect("write key");
        (files, cert.der().to_vec())
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_the_key_setting() {
        let dir = tempfile::tempdir().expect("dir");
        let (files, _) = write_pair(dir.path(), "shop.example");
        let other = rcgen::KeyPair::generate().expect("key");
        std::fs::write(&files.key, other.serialize_pem()).expect("write");
        let error = load_certified_key(&files)
            .expect_err("mismatch")
            .to_string();
        assert!(
            error.starts_with("LETHE_TLS_KEY: does not belong"),
            "{error}"
        );
    }

    #[test]
    fn files_without_pem_are_refused_naming_the_setting() {
        let dir = tempfile::tempdir().expect("dir");
        let (files, _) = write_pair(dir.path(), "shop.example");
        std::fs::write(&files.cert, "not a certificate").expect("write");
        let error = load_certified_key(&files).expect_err("empty").to_string();
        assert!(
            error.starts_with("LETHE_TLS_CERT: holds no certificate"),
            "{error}"
        );
        let missing = CertFiles {
            cert: dir.path().join("absent.pem"),
            key: files.key.clone(),
        };
        let error = load_certified_key(&missing)
            .expect_err("missing")
            .to_string();
        assert!(error.starts_with("LETHE_TLS_CERT: cannot read"), "{error}");
    }

    #[tokio::test]
    async fn a_renewed_certificate_is_served_after_reload_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().expect("dir");
        let (files, first) = write_pair(dir.path(), "shop.example");
        let resolver = ReloadingCert::start(files.clone()).expect("start");
        assert_eq!(resolver.current().cert[0].as_ref(), first.as_slice());

        let (_, renewed) = write_pair(dir.path(), "shop.example");
        resolver.reload(&files);
        assert_eq!(resolver.current().cert[0].as_ref(), renewed.as_slice());

        std::fs::write(&files.key, "garbage").expect("write");
        resolver.reload(&files);
        assert_eq!(resolver.current().cert[0].as_ref(), renewed.as_slice());
    }
}
