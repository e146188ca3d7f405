//! Passkeys (WebAuthn) of a user: registering one, the options the pages hand to the browser,
//! and checking a signature, as a second factor or to sign in without a password. The checks
//! of what the browser sends are [`crate::crypto::webauthn`]'s; the pages are
//! `passkey_pages.rs`.
//!
//! Challenges are not stored when issued: a challenge is 16 random bytes, its expiry and a MAC
//! under the instance key that binds it to the ceremony, the session and (when known) the
//! user. A challenge is spent by inserting its digest into `spent_challenges`, whose primary
//! key lets it in once: a signed answer cannot be replayed, even by two requests at once.
//! A signature counter that does not grow (when the authenticator keeps one) is refused as a
//! sign of a cloned authenticator.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set, SqlErr,
};
use serde_json::json;

use crate::crypto::webauthn::{self, RelyingParty, WebAuthnError, b64url, from_b64url};
use crate::crypto::{Sealer, sha256_hex};
use crate::db::entity::{passkey, spent_challenge};

/// How long the browser has to answer.
const CHALLENGE_LIFETIME: Duration = Duration::minutes(5);
const NONCE: usize = 16;
const EXPIRY: usize = 8;
const TAG: usize = 16;
/// The longest name a passkey may be given.
pub const MAX_NAME: usize = 60;

/// What a challenge is for: one ceremony's challenge is refused by the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    Register,
    SecondStep,
    SignIn,
}

impl Ceremony {
    fn label(self) -> &'static str {
        match self {
            Ceremony::Register => "register",
            Ceremony::SecondStep => "second-step",
            Ceremony::SignIn => "sign-in",
        }
    }
}

/// Who a challenge is bound to: the session's row id and, past the password, the user.
pub struct Binding<'a> {
    pub ceremony: Ceremony,
    pub session: &'a str,
    pub user_id: Option<i64>,
}

impl Binding<'_> {
    fn tag(&self, sealer: &Sealer, nonce: &[u8], expiry: &[u8]) -> [u8; 32] {
        let user = self.user_id.unwrap_or(0).to_be_bytes();
        sealer.mac(
            "webauthn-challenge",
            &[
                self.ceremony.label().as_bytes(),
                self.session.as_bytes(),
                &user,
                nonce,
                expiry,
            ],
        )
    }

    /// A new challenge for this binding.
    pub fn issue(&self, sealer: &Sealer, now: DateTime<Utc>) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        crate::crypto::fill_random(&mut nonce);
        let expiry = (now + CHALLENGE_LIFETIME).timestamp().to_be_bytes();
        let tag = self.tag(sealer, &nonce, &expiry);
        [&nonce[..], &expiry, &tag[..TAG]].concat()
    }

    /// Whether `challenge` was issued for this binding and has not expired (not whether it
    /// was used: [`spend`]).
    fn is_valid(&self, sealer: &Sealer, challenge: &[u8], now: DateTime<Utc>) -> bool {
        if challenge.len() != NONCE + EXPIRY + TAG {
            return false;
        }
        let (nonce, rest) = challenge.split_at(NONCE);
        let (expiry, tag) = rest.split_at(EXPIRY);
        let expected = self.tag(sealer, nonce, expiry);
        let same = tag
            .iter()
            .zip(&expected[..TAG])
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
        let expires = expiry
            .try_into()
            .map(i64::from_be_bytes)
            .unwrap_or(i64::MIN);
        same && now.timestamp() < expires
    }
}

/// Spends `challenge` for `binding`: true the first time a valid challenge is spent, false
/// for one not issued for this binding, expired, or spent already.
pub async fn spend(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    binding: &Binding<'_>,
    challenge: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    if !binding.is_valid(sealer, challenge, now) {
        return Ok(false);
    }
    spent_challenge::Entity::delete_many()
        .filter(spent_challenge::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let inserted = spent_challenge::ActiveModel {
        digest: Set(sha256_hex(&b64url(challenge))),
        expires_at: Set(now + CHALLENGE_LIFETIME),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// The user's passkeys, oldest first.
pub async fn of_user(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<passkey::Model>, sea_orm::DbErr> {
    passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(user_id))
        .order_by_asc(passkey::Column::Id)
        .all(db)
        .await
}

pub async fn count(db: &impl ConnectionTrait, user_id: i64) -> Result<u64, sea_orm::DbErr> {
    passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(user_id))
        .count(db)
        .await
}

/// The passkey with this credential id (as the browser sent it, base64url).
pub async fn by_credential(
    db: &impl ConnectionTrait,
    credential_id: &str,
) -> Result<Option<passkey::Model>, sea_orm::DbErr> {
    passkey::Entity::find()
        .filter(passkey::Column::CredentialId.eq(credential_id))
        .one(db)
        .await
}

/// The options of `navigator.credentials.create()` for a new passkey of this user.
pub fn creation_options(
    rp: &RelyingParty,
    challenge: &[u8],
    user_handle: &[u8],
    email: &str,
    display_name: &str,
    existing: &[passkey::Model],
) -> serde_json::Value {
    let exclude: Vec<_> = existing
        .iter()
        .map(|p| json!({"type": "public-key", "id": p.credential_id}))
        .collect();
    let algorithms: Vec<_> = webauthn::ALGORITHMS
        .iter()
        .map(|alg| json!({"type": "public-key", "alg": alg}))
        .collect();
    json!({
        "rp": {"id": rp.id(), "name": "Lethe"},
        "user": {"id": b64url(user_handle), "name": email, "displayName": display_name},
        "challenge": b64url(challenge),
        "pubKeyCredParams": algorithms,
        "timeout": CHALLENGE_LIFETIME.num_milliseconds(),
        "attestation": "none",
        "excludeCredentials": exclude,
        "authenticatorSelection": {"residentKey": "preferred", "userVerification": "preferred"},
    })
}

/// The options of `navigator.credentials.get()`: for the second step, the user's passkeys;
/// to sign in without a password (`allowed` empty), any passkey of this site, and the
/// authenticator must verify the user (PIN or biometrics) since no password was given.
pub fn request_options(
    rp: &RelyingParty,
    challenge: &[u8],
    allowed: &[passkey::Model],
) -> serde_json::Value {
    let allow: Vec<_> = allowed
        .iter()
        .map(|p| json!({"type": "public-key", "id": p.credential_id}))
        .collect();
    let verification = if allowed.is_empty() {
        "required"
    } else {
        "preferred"
    };
    json!({
        "challenge": b64url(challenge),
        "rpId": rp.id(),
        "timeout": CHALLENGE_LIFETIME.num_milliseconds(),
        "allowCredentials": allow,
        "userVerification": verification,
    })
}

/// The user handle the user's passkeys keep: a MAC of the user's id under the instance key,
/// the same for all of them (so an authenticator keeps one passkey per account), and telling
/// nothing of the user to anyone without the key.
pub fn user_handle(sealer: &Sealer, user_id: i64) -> Vec<u8> {
    sealer
        .mac("webauthn-user-handle", &[&user_id.to_be_bytes()])
        .to_vec()
}

/// Why a passkey was not added or not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error(transparent)]
    WebAuthn(#[from] WebAuthnError),
    #[error("a field is not base64url")]
    Encoding,
    #[error("the challenge was not issued here, has expired or was used")]
    Challenge,
    #[error("the passkey is registered already")]
    Registered,
    #[error("no such passkey")]
    Unknown,
    #[error("the signature counter went back: the authenticator may have been cloned")]
    Counter,
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

impl PasskeyError {
    /// A short reason for the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            PasskeyError::WebAuthn(_) | PasskeyError::Encoding => "invalid",
            PasskeyError::Challenge => "challenge",
            PasskeyError::Registered => "registered",
            PasskeyError::Unknown => "unknown",
            PasskeyError::Counter => "counter",
            PasskeyError::Database(_) => "database",
        }
    }
}

fn decode(field: &str) -> Result<Vec<u8>, PasskeyError> {
    from_b64url(field).ok_or(PasskeyError::Encoding)
}

/// What the browser returned from `navigator.credentials.create()`.
pub struct Registration<'a> {
    pub client_data: &'a str,
    pub attestation_object: &'a str,
    pub name: &'a str,
}

/// Checks a new passkey and stores it for `user_id`.
pub async fn register(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    rp: &RelyingParty,
    binding: &Binding<'_>,
    user_id: i64,
    registration: Registration<'_>,
    now: DateTime<Utc>,
) -> Result<passkey::Model, PasskeyError> {
    let client_data = decode(registration.client_data)?;
    let attestation = decode(registration.attestation_object)?;
    let credential = webauthn::check_registration(rp, &client_data, &attestation)?;
    if !spend(db, sealer, binding, &credential.challenge, now).await? {
        return Err(PasskeyError::Challenge);
    }
    let credential_id = b64url(&credential.credential_id);
    if by_credential(db, &credential_id).await?.is_some() {
        return Err(PasskeyError::Registered);
    }
    let name: String = registration.name.trim().chars().take(MAX_NAME).collect();
    let name = if name.is_empty() {
        format!("Passkey {}", now.format("%Y-%m-%d"))
    } else {
        name
    };
    let stored = passkey::ActiveModel {
        user_id: Set(user_id),
        credential_id: Set(credential_id),
        public_key: Set(b64url(&credential.public_key)),
        sign_count: Set(i64::from(credential.sign_count)),
        name: Set(name),
        user_handle: Set(b64url(&user_handle(sealer, user_id))),
        backup_eligible: Set(credential.backup_eligible),
        created_at: Set(now),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await;
    match stored {
        Ok(model) => Ok(model),
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(PasskeyError::Registered)
        }
        Err(error) => Err(error.into()),
    }
}

/// What the browser returned from `navigator.credentials.get()`.
pub struct Signature<'a> {
    pub credential_id: &'a str,
    pub client_data: &'a str,
    pub authenticator_data: &'a str,
    pub signature: &'a str,
    /// The user handle a discoverable passkey returns (empty when none).
    pub user_handle: &'a str,
}

/// A signature checked and counted: the passkey it was made with.
pub struct Verified {
    pub passkey: passkey::Model,
    pub user_verified: bool,
}

/// Checks a signature by one of the user's passkeys (the binding's user) or, to sign in
/// without a password (no user), by any registered passkey; spends the challenge and records the use.
pub async fn verify(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    rp: &RelyingParty,
    binding: &Binding<'_>,
    answer: Signature<'_>,
    now: DateTime<Utc>,
) -> Result<Verified, PasskeyError> {
    let user_id = binding.user_id;
    let stored = by_credential(db, answer.credential_id.trim())
        .await?
        .filter(|p| user_id.is_none_or(|id| p.user_id == id))
        .ok_or(PasskeyError::Unknown)?;
    if !answer.user_handle.trim().is_empty()
        && from_b64url(answer.user_handle) != from_b64url(&stored.user_handle)
    {
        return Err(PasskeyError::Unknown);
    }
    let public_key = decode(&stored.public_key)?;
    let assertion = webauthn::check_assertion(
        rp,
        &public_key,
        &decode(answer.client_data)?,
        &decode(answer.authenticator_data)?,
        &decode(answer.signature)?,
    )?;
    // Without a password, the authenticator must have verified the user.
    if user_id.is_none() && !assertion.user_verified {
        return Err(WebAuthnError::UserNotVerified.into());
    }
    if !spend(db, sealer, binding, &assertion.challenge, now).await? {
        return Err(PasskeyError::Challenge);
    }
    let count = i64::from(assertion.sign_count);
    let mut grows = Condition::any().add(passkey::Column::SignCount.lt(count));
    if count == 0 {
        // Authenticators that keep no counter (synced passkeys) always send 0.
        grows = grows.add(passkey::Column::SignCount.eq(0));
    }
    let counted = passkey::Entity::update_many()
        .col_expr(passkey::Column::SignCount, count.into())
        .col_expr(passkey::Column::LastUsedAt, now.into())
        .filter(passkey::Column::Id.eq(stored.id))
        .filter(grows)
        .exec(db)
        .await?;
    if counted.rows_affected != 1 {
        return Err(PasskeyError::Counter);
    }
    Ok(Verified {
        passkey: stored,
        user_verified: assertion.user_verified,
    })
}

/// Removes one of the user's passkeys; true when there was one.
pub async fn remove(
    db: &impl ConnectionTrait,
    user_id: i64,
    passkey_id: i64,
) -> Result<bool, sea_orm::DbErr> {
    let deleted = passkey::Entity::delete_many()
        .filter(passkey::Column::Id.eq(passkey_id))
        .filter(passkey::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// Removes every passkey of the user (a reset of the second factor); how many.
pub async fn remove_all(db: &impl ConnectionTrait, user_id: i64) -> Result<u64, sea_orm::DbErr> {
    Ok(passkey::Entity::delete_many()
        .filter(passkey::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    #[test]
    fn a_challenge_is_good_only_for_its_ceremony_session_and_user_until_it_expires() {
        let sealer = Sealer::new(&SecretKey::generate());
        let now = Utc::now();
        let binding = Binding {
            ceremony: Ceremony::SecondStep,
            session: "session-a",
            user_id: Some(7),
        };
        let challenge = binding.issue(&sealer, now);
        assert!(binding.is_valid(&sealer, &challenge, now));
        let others = [
            Binding {
                ceremony: Ceremony::SignIn,
                ..binding
            },
            Binding {
                session: "session-b",
                ..binding
            },
            Binding {
                user_id: Some(8),
                ..binding
            },
        ];
        for other in others {
            assert!(!other.is_valid(&sealer, &challenge, now));
        }
        assert!(!binding.is_valid(&sealer, &challenge, now + CHALLENGE_LIFETIME));
        let other_key = Sealer::new(&SecretKey::generate());
        assert!(!binding.is_valid(&other_key, &challenge, now));
        let mut forged = challenge.clone();
        forged[NONCE] ^= 0x40; // a later expiry
        assert!(!binding.is_valid(&sealer, &forged, now));
    }
}
