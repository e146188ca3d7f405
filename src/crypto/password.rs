//! Password hashing with argon2id.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Hashes a password as a PHC string (`$argon2id$v=19$…`) with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

/// Password checks that run at once, at most one per core: each holds argon2's 19 MB work
/// area for a moment, so a flood of sign-ins waits here rather than take 19 MB apiece.
static CHECKS: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(crate::cores::count().max(1)));

/// [`verify_password`] off the async threads, in turn with the other checks ([`CHECKS`]).
pub async fn check_password(
    password: String,
    stored: String,
) -> Result<bool, tokio::task::JoinError> {
    // The semaphore is never closed; were it, the check would simply not wait.
    let _turn = CHECKS.acquire().await.ok();
    tokio::task::spawn_blocking(move || verify_password(&password, &stored)).await
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("x", "not a hash"));
    }
}
