//! Secrets at rest: the instance key, AES-256-GCM sealing of secrets and files, random tokens,
//! and password hashing (argon2id).

mod password;
mod tokens;

pub mod cbor;
pub mod key;
pub mod stream;
pub mod totp;
pub mod webauthn;
pub use key::{SecretKey, load_or_create_key};
pub use password::{check_password, hash_password, verify_password};
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
    /// A key for message authentication codes, derived from the instance key (never used to
    /// encrypt).
    mac_key: [u8; 32],
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
            mac_key: hmac_sha256(key.as_slice(), &[b"lethe mac key"]),
        }
    }

    /// HMAC-SHA256 of `parts` under the instance's MAC key and `context`; each part is
    /// length-prefixed, so no two lists of parts give the same input.
    pub fn mac(&self, context: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut all: Vec<&[u8]> = vec![context.as_bytes()];
        all.extend_from_slice(parts);
        hmac_sha256(&self.mac_key, &all)
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

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_depend_on_key_context_and_how_parts_are_cut() {
        let sealer = Sealer::new(&SecretKey::generate());
        let mac = sealer.mac("a", &[b"xy", b"z"]);
        assert_eq!(mac, sealer.mac("a", &[b"xy", b"z"]));
        assert_ne!(mac, sealer.mac("b", &[b"xy", b"z"]));
        assert_ne!(mac, sealer.mac("a", &[b"x", b"yz"]));
        assert_ne!(
            mac,
            Sealer::new(&SecretKey::generate()).mac("a", &[b"xy", b"z"])
        );
    }

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
