//! The second factor: a TOTP secret per user (RFC 6238, [`crate::crypto::totp`]) sealed under
//! the instance key, passkeys (`passkeys.rs`), ten one-time recovery codes stored as SHA-256
//! digests, and the organization's policy of who must have one. No handlers here: the pages
//! are `security.rs`, `enrolment.rs`, `passkey_pages.rs` and `second_step.rs`.
//!
//! A code is good once: the newest accepted time step is stored and a code is taken by one
//! atomic update that only succeeds for a newer step; a recovery code is spent by an update
//! `… WHERE used_at IS NULL`, so two submissions cannot both use it.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, Set, TransactionSession, TransactionTrait,
};

use crate::audit::{Actor, Entry};
use crate::crypto::totp::{TotpCode, TotpSecret};
use crate::crypto::{Sealer, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::{membership, organization, recovery_code, session, totp_factor};
use crate::orgs::{OrgId, Role};
use crate::state::AppState;
use crate::web::AppError;
use crate::web::client::ClientInfo;

/// The sealing context of TOTP secrets.
const SECRET_CONTEXT: &str = "totp-secret";
/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;
/// The issuer authenticator apps show.
pub const ISSUER: &str = "Lethe";

/// Who in an organization must have a second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Off,
    /// Admins and owners.
    Admins,
    Everyone,
}

impl Policy {
    pub const ALL: [Policy; 3] = [Policy::Off, Policy::Admins, Policy::Everyone];

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "off" => Some(Policy::Off),
            "admins" => Some(Policy::Admins),
            "everyone" => Some(Policy::Everyone),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Off => "off",
            Policy::Admins => "admins",
            Policy::Everyone => "everyone",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Policy::Off => "security.policy.off",
            Policy::Admins => "security.policy.admins",
            Policy::Everyone => "security.policy.everyone",
        }
    }

    /// Whether a member with `role` must have a second factor.
    pub fn requires(self, role: Role) -> bool {
        match self {
            Policy::Off => false,
            Policy::Admins => role.is_admin(),
            Policy::Everyone => true,
        }
    }
}

/// A recovery code as typed: ten characters of [`RECOVERY_ALPHABET`] (case, spaces and
/// dashes ignored).
pub struct RecoveryCode(String);

const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_CHARS: usize = 10;

impl RecoveryCode {
    pub fn parse(text: &str) -> Option<Self> {
        let code: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        (code.len() == RECOVERY_CHARS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
            .then_some(Self(code))
    }

    fn generate() -> Self {
        let mut bytes = [0u8; RECOVERY_CHARS];
        crate::crypto::fill_random(&mut bytes);
        // 256 is 8 × 32 and the alphabet has 31 letters: the bias is below 1 in 8 per
        // character, and the code still holds over 48 bits.
        let code = bytes
            .iter()
            .map(|b| char::from(RECOVERY_ALPHABET[usize::from(*b) % RECOVERY_ALPHABET.len()]))
            .collect();
        Self(code)
    }

    fn digest(&self) -> String {
        sha256_hex(&format!("recovery:{}", self.0))
    }

    /// As shown to the user: `abcde-fghjk`.
    fn display(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }
}

/// The user's confirmed authenticator app, if any.
pub async fn confirmed(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<totp_factor::Model>, sea_orm::DbErr> {
    Ok(totp_factor::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .filter(|f| f.confirmed_at.is_some()))
}

/// Whether the user has a confirmed authenticator app.
pub async fn has_totp(db: &impl ConnectionTrait, user_id: i64) -> Result<bool, sea_orm::DbErr> {
    Ok(confirmed(db, user_id).await?.is_some())
}

/// Whether the user has a second factor: an authenticator app or a passkey.
pub async fn has_factor(db: &impl ConnectionTrait, user_id: i64) -> Result<bool, sea_orm::DbErr> {
    Ok(has_totp(db, user_id).await? || super::passkeys::count(db, user_id).await? > 0)
}

/// The policy of organization `org` (off when the organization is gone).
pub async fn policy_of(db: &impl ConnectionTrait, org: OrgId) -> Result<Policy, sea_orm::DbErr> {
    Ok(organization::Entity::find_by_id(org.get())
        .one(db)
        .await?
        .and_then(|o| Policy::parse(&o.two_factor_policy))
        .unwrap_or(Policy::Off))
}

pub async fn set_policy(
    db: &impl ConnectionTrait,
    org: OrgId,
    policy: Policy,
) -> Result<(), sea_orm::DbErr> {
    organization::Entity::update_many()
        .col_expr(
            organization::Column::TwoFactorPolicy,
            policy.as_str().into(),
        )
        .filter(organization::Column::Id.eq(org.get()))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether any of the user's organizations requires a second factor of them.
pub async fn required_for(db: &impl ConnectionTrait, user_id: i64) -> Result<bool, sea_orm::DbErr> {
    let memberships = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .all(db)
        .await?;
    for m in memberships {
        let role = Role::parse(&m.role).unwrap_or(Role::Agent);
        if policy_of(db, m.organization_id).await?.requires(role) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The secret of the user's enrolment in progress, made (and stored, sealed) when there is
/// none. None when the user has a confirmed factor already.
pub async fn enrolment_secret(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    user_id: i64,
) -> Result<Option<TotpSecret>, AppError> {
    if let Some(existing) = totp_factor::Entity::find_by_id(user_id).one(db).await? {
        if existing.confirmed_at.is_some() {
            return Ok(None);
        }
        return open(sealer, &existing).map(Some);
    }
    let secret = TotpSecret::generate();
    let inserted = totp_factor::ActiveModel {
        user_id: Set(user_id),
        secret_sealed: Set(sealer.seal_text(&secret.to_base32(), SECRET_CONTEXT)),
        confirmed_at: Set(None),
        last_used_step: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => Ok(Some(secret)),
        // Another request (a second tab) made the enrolment a moment ago: show that one.
        Err(error) => match totp_factor::Entity::find_by_id(user_id).one(db).await? {
            Some(existing) if existing.confirmed_at.is_none() => open(sealer, &existing).map(Some),
            Some(_) => Ok(None),
            None => Err(error.into()),
        },
    }
}

fn open(sealer: &Sealer, factor: &totp_factor::Model) -> Result<TotpSecret, AppError> {
    sealer
        .open_text(&factor.secret_sealed, SECRET_CONTEXT)
        .ok()
        .and_then(|text| TotpSecret::from_base32(&text))
        .ok_or_else(|| AppError::internal("a TOTP secret could not be opened"))
}

/// Confirms the enrolment in progress with a current code: the factor is on, and the ten
/// recovery codes (returned, to show once) replace any earlier ones. None when the code is
/// not right or there is no enrolment in progress.
pub async fn confirm<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    sealer: &Sealer,
    user_id: i64,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>, AppError> {
    let Some(code) = TotpCode::parse(code) else {
        return Ok(None);
    };
    let Some(pending) = totp_factor::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .filter(|f| f.confirmed_at.is_none())
    else {
        return Ok(None);
    };
    let secret = open(sealer, &pending)?;
    let Some(step) = secret.matching_step(code, now.timestamp(), None) else {
        return Ok(None);
    };
    let txn = crate::db::begin_write(db).await?;
    let confirmed = totp_factor::Entity::update_many()
        .col_expr(totp_factor::Column::ConfirmedAt, now.into())
        .col_expr(totp_factor::Column::LastUsedStep, step.into())
        .filter(totp_factor::Column::UserId.eq(user_id))
        .filter(totp_factor::Column::ConfirmedAt.is_null())
        .filter(totp_factor::Column::SecretSealed.eq(pending.secret_sealed))
        .exec(&txn)
        .await?;
    if confirmed.rows_affected != 1 {
        return Ok(None);
    }
    let codes = replace_recovery_codes(&txn, user_id, now).await?;
    txn.commit().await?;
    Ok(Some(codes))
}

/// Ten new recovery codes for the user (as shown once), replacing any earlier ones.
pub(super) async fn replace_recovery_codes(
    db: &impl ConnectionTrait,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<String>, sea_orm::DbErr> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect();
    recovery_code::Entity::insert_many(codes.iter().map(|code| recovery_code::ActiveModel {
        user_id: Set(user_id),
        code_hash: Set(code.digest()),
        created_at: Set(now),
        used_at: Set(None),
        ..Default::default()
    }))
    .exec(db)
    .await?;
    Ok(codes.iter().map(RecoveryCode::display).collect())
}

/// What proved the second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    Code,
    RecoveryCode,
}

/// Checks a code from the authenticator app, or a recovery code, against the user's
/// confirmed factor, and spends it: the same code (or time step) is never accepted twice.
pub async fn verify(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    user_id: i64,
    input: &str,
    now: DateTime<Utc>,
) -> Result<Option<Proof>, AppError> {
    if let Some(code) = TotpCode::parse(input) {
        let Some(factor) = confirmed(db, user_id).await? else {
            return Ok(None);
        };
        let secret = open(sealer, &factor)?;
        let Some(step) = secret.matching_step(code, now.timestamp(), factor.last_used_step) else {
            return Ok(None);
        };
        let taken = totp_factor::Entity::update_many()
            .col_expr(totp_factor::Column::LastUsedStep, step.into())
            .filter(totp_factor::Column::UserId.eq(user_id))
            .filter(totp_factor::Column::ConfirmedAt.is_not_null())
            .filter(
                Condition::any()
                    .add(totp_factor::Column::LastUsedStep.is_null())
                    .add(totp_factor::Column::LastUsedStep.lt(step)),
            )
            .exec(db)
            .await?;
        return Ok((taken.rows_affected == 1).then_some(Proof::Code));
    }
    // Recovery codes exist only beside a factor (app or passkey): they go with the last one.
    if let Some(code) = RecoveryCode::parse(input) {
        let spent = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, now.into())
            .filter(recovery_code::Column::UserId.eq(user_id))
            .filter(recovery_code::Column::CodeHash.eq(code.digest()))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(db)
            .await?;
        return Ok((spent.rows_affected == 1).then_some(Proof::RecoveryCode));
    }
    Ok(None)
}

/// Unused recovery codes of the user.
pub async fn recovery_codes_left(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<u64, sea_orm::DbErr> {
    recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await
}

/// Removes the user's authenticator app (confirmed or in progress); the recovery codes too
/// when no passkey is left. True when there was a confirmed app.
pub async fn remove_totp(db: &impl ConnectionTrait, user_id: i64) -> Result<bool, sea_orm::DbErr> {
    let had = has_totp(db, user_id).await?;
    totp_factor::Entity::delete_by_id(user_id).exec(db).await?;
    if super::passkeys::count(db, user_id).await? == 0 {
        remove_recovery_codes(db, user_id).await?;
    }
    Ok(had)
}

async fn remove_recovery_codes(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<(), sea_orm::DbErr> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes every second factor of the user (app, passkeys, recovery codes): a reset for a
/// lost device. True when there was one.
pub async fn remove(db: &impl ConnectionTrait, user_id: i64) -> Result<bool, sea_orm::DbErr> {
    let had = has_factor(db, user_id).await?;
    totp_factor::Entity::delete_by_id(user_id).exec(db).await?;
    super::passkeys::remove_all(db, user_id).await?;
    remove_recovery_codes(db, user_id).await?;
    Ok(had)
}

/// Ends the sessions (signed in or waiting for the second step) of the organization's members
/// whom `policy` requires a factor of and who have none; how many were ended.
pub async fn end_sessions_without_factor(
    db: &impl ConnectionTrait,
    org: OrgId,
    policy: Policy,
) -> Result<u64, sea_orm::DbErr> {
    let mut ended = 0;
    for member in membership::Entity::find_in(org).all(db).await? {
        let role = Role::parse(&member.role).unwrap_or(Role::Agent);
        if policy.requires(role) && !has_factor(db, member.user_id).await? {
            ended += end_sessions(db, member.user_id).await?;
        }
    }
    Ok(ended)
}

/// Ends every session of the user, signed in or waiting for the second step.
pub async fn end_sessions(db: &impl ConnectionTrait, user_id: i64) -> Result<u64, sea_orm::DbErr> {
    Ok(session::Entity::delete_many()
        .filter(
            Condition::any()
                .add(session::Column::UserId.eq(user_id))
                .add(session::Column::PendingUserId.eq(user_id)),
        )
        .exec(db)
        .await?
        .rows_affected)
}

/// Records an action on the user's own account in the audit log of each organization the
/// user belongs to (under no organization when there is none), as a failed login is.
pub async fn audit_account(
    state: &AppState,
    user_id: i64,
    actor: Actor,
    action: &'static str,
    client: Option<&ClientInfo>,
    details: serde_json::Value,
) -> Result<(), sea_orm::DbErr> {
    let orgs = crate::orgs::queries::organizations_of(&state.db, user_id).await?;
    let orgs: Vec<Option<OrgId>> = if orgs.is_empty() {
        vec![None]
    } else {
        orgs.into_iter().map(Some).collect()
    };
    for org in orgs {
        let entry = Entry {
            org,
            actor: actor.clone(),
            action,
            target: format!("user:{user_id}"),
            client,
            details: details.clone(),
        };
        state.audit.record(&state.db, entry).await?;
    }
    Ok(())
}
