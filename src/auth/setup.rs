//! First start: with no users, `lethe serve` prints a one-time link that creates the first
//! owner and organization.

use std::sync::Mutex;

use crate::crypto::{random_token, sha256_hex};

/// The digest of the one-time setup token, while setup is open.
#[derive(Default)]
pub struct SetupToken {
    digest: Mutex<Option<String>>,
}

impl SetupToken {
    /// Opens setup and returns the token to print.
    pub fn open(&self) -> String {
        let token = random_token();
        *self.lock() = Some(sha256_hex(&token));
        token
    }

    pub fn matches(&self, token: &str) -> bool {
        self.lock().as_deref() == Some(sha256_hex(token).as_str())
    }

    pub fn close(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.digest.lock().unwrap_or_else(|p| p.into_inner())
    }
}
