//! Random tokens (session ids, reset and invitation links) and their stored digests.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Fills `buf` from the operating system's random source.
pub(crate) fn fill_random(buf: &mut [u8]) {
    if getrandom::fill(buf).is_err() {
        // The OS random source is unavailable: nothing secure can be done.
        panic!("the operating system's random number generator is unavailable");
    }
}

/// A URL-safe random token of 256 bits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens are stored only as digests, so a copy of the database cannot be used to log in.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}
