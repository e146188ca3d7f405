//! The instance key: from `LETHE_SECRET_KEY`, or a 0600 key file created once in the data
//! directory.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;

const KEY_FILE: &str = "instance.key";

/// A 256-bit key. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// Accepts 64 hex digits or standard base64 of 32 bytes.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let bytes = if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(value).map_err(|_| "is not valid hex".to_owned())?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| "must be 32 bytes as 64 hex digits or base64 (generate one with: openssl rand -base64 32)".to_owned())?
        };
        let array: [u8; 32] = bytes.try_into().map_err(|_| {
            "must be exactly 32 bytes (64 hex digits or 44 base64 characters)".to_owned()
        })?;
        Ok(Self(array))
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        super::tokens::fill_random(&mut bytes);
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A key for one purpose, derived from this one (HMAC-SHA256 keyed with this key over the
    /// purpose's name): knowing the derived key tells nothing of this one.
    pub fn derive(&self, purpose: &str) -> SecretKey {
        use hmac::{Hmac, Mac};
        // HMAC accepts a key of any length: this cannot fail.
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(purpose.as_bytes());
        SecretKey(mac.finalize().into_bytes().into())
    }

    /// A public identifier of this key (16 hex digits of a derived value): tells whether two
    /// keys are the same without revealing either.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.derive("lethe-key-fingerprint").0[..8])
    }

    fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

/// Why the instance key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the key file {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("the key file {path} is not a valid key: {reason}")]
    Invalid { path: String, reason: String },
}

/// Returns the configured key, else the data directory's key file, creating it (mode 0600) on
/// first start.
pub fn load_or_create_key(
    configured: Option<&SecretKey>,
    data_dir: &Path,
) -> Result<SecretKey, KeyError> {
    if let Some(key) = configured {
        return Ok(key.clone());
    }
    let path = data_dir.join(KEY_FILE);
    let shown = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => SecretKey::parse(&text).map_err(|reason| KeyError::Invalid {
            path: shown,
            reason,
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            write_new_key_file(&path, &key).map_err(|source| KeyError::Create {
                path: shown.clone(),
                source,
            })?;
            tracing::warn!(path = %shown, "created a new instance key: back it up, sealed secrets and attachments cannot be read without it");
            Ok(key)
        }
        Err(source) => Err(KeyError::Read {
            path: shown,
            source,
        }),
    }
}

fn write_new_key_file(path: &Path, key: &SecretKey) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(key.encode().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create_key(None, dir.path()).expect("created");
        let second = load_or_create_key(None, dir.path()).expect("loaded");
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_are_stable() {
        let key = SecretKey::generate();
        assert_eq!(key.derive("a"), key.derive("a"));
        assert_ne!(key.derive("a"), key.derive("b"));
        assert_ne!(key.derive("a"), key);
        assert_eq!(key.fingerprint().len(), 16);
        assert_ne!(key.fingerprint(), SecretKey::generate().fingerprint());
    }

    #[test]
    fn key_parses_hex_and_base64_and_refuses_short() {
        assert!(SecretKey::parse(&"ab".repeat(32)).is_ok());
        assert!(SecretKey::parse(&SecretKey::generate().encode()).is_ok());
        assert!(SecretKey::parse("c2hvcnQ=").is_err());
        assert_eq!(
            format!("{:?}", SecretKey::generate()),
            "SecretKey([redacted])"
        );
    }
}
