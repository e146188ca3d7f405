//! Secrets at rest: the instance key, AES-256-GCM sealing of secrets and files, random tokens,
//! and password hashing (argon2id).

mod password;
mod tokens;

pub mod key;
pub mod totp;
pub use key::{SecretKey, load_or_create_key};
pub use password::{hash_password, verify_password};
pub(crate) use tokens::fill_random;
pub use tokens::{random_token, sha256_hex};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

/// Sealing failed: the data was not sealed by this instance key, or was altered.
#[derive(Debug, thiserror::Error)]
#[error("the sealed data could not be opened (wrong instance key or altered data)")]
pub struct SealError;

/// Seals and opens bytes with AES-256-GCM under the instance key.
/// Layout of a sealed value: 12-byte random nonce, then ciphertext with its 16-byte tag.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    pub fn new(key: &SecretKey) -> Self {
        let key = Key::<Aes256Gcm>::from(*key.bytes());
        Self {
            cipher: Aes256Gcm::new(&key),
        }
    }

    /// `context` binds the sealed value to its use (e.g. "smtp-password"), so a value cannot be
    /// moved to another column and opened there.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let mut nonce_bytes = [0u8; 12];
        tokens::fill_random(&mut nonce_bytes);
        let nonce = Nonce::from(nonce_bytes);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and nonce cannot fail for inputs under 64 GiB.
        let ciphertext = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut sealed = Vec::with_capacity(12 + ciphertext.len());
        sealed.extend_from_slice(&nonce_bytes);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 12 + 16 {
            return Err(SealError);
        }
        let (nonce_bytes, ciphertext) = sealed.split_at(12);
        let mut nonce_array = [0u8; 12];
        nonce_array.copy_from_slice(nonce_bytes);
        let nonce = Nonce::from(nonce_array);
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError)
    }

    /// Seals a UTF-8 secret and returns it base64-encoded, for a text column.
    pub fn seal_text(&self, secret: &str, context: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.seal(secret.as_bytes(), context))
    }

    pub fn open_text(&self, sealed: &str, context: &str) -> Result<String, SealError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| SealError)?;
        String::from_utf8(self.open(&bytes, context)?).map_err(|_| SealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_only_with_its_key_and_context() {
        let sealer = Sealer::new(&SecretKey::generate());
        let sealed = sealer.seal_text("imap-password", "imap");
        assert!(!sealed.contains("imap-password"));
        assert_eq!(
            sealer.open_text(&sealed, "imap").expect("opens"),
            "imap-password"
        );
        assert!(sealer.open_text(&sealed, "smtp").is_err());
        let other = Sealer::new(&SecretKey::generate());
        assert!(other.open_text(&sealed, "imap").is_err());
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let sealer = Sealer::new(&SecretKey::generate());
        assert_ne!(sealer.seal(b"x", "c"), sealer.seal(b"x", "c"));
    }
}
