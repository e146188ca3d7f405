//! `Idempotency-Key` on the API's POSTs: a client that is not sure its call arrived sends it
//! again with the same key, and gets the first answer instead of a second conversation, reply
//! or customer.
//!
//! Per API key and for [`LIFETIME_HOURS`] hours: the same key with the same request (method,
//! path and body) answers what the first call answered (header `Idempotent-Replayed: true`);
//! the same key with another request answers 422; while the first call is still being
//! processed, 409. Only successful calls are kept: after an error the key can be used again.
//!
//! What is stored (`api_idempotency`) is no response body but the ids of what the call created
//! ([`Resource`]), the key's SHA-256 and a salted SHA-256 of the request: the table holds no
//! personal data, so erasure has nothing to remove here, and a replay renders the record as it
//! is now — an erased customer's answers 404. Expired rows are removed by the hourly cleanup
//! job (`jobs::cleanup`), and ignored before that (a key's own are removed on its next POST
//! with a key).

use actix_web::HttpRequest;
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, Set, SqlErr};
use serde::{Deserialize, Serialize};

use super::auth::ApiCaller;
use crate::crypto::{random_token, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::api_idempotency;
use crate::state::AppState;
use crate::web::AppError;

/// How long a key is remembered.
pub const LIFETIME_HOURS: i64 = 24;
/// The header.
pub const HEADER: &str = "Idempotency-Key";

/// A client's idempotency key: 1 to 255 visible ASCII characters.
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, AppError> {
        if (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(AppError::BadRequest("api.error.idempotency_key_invalid"))
        }
    }

    /// The key of the request, if it carries one.
    fn of(req: &HttpRequest) -> Result<Option<Self>, AppError> {
        match req.headers().get(HEADER) {
            None => Ok(None),
            Some(value) => value
                .to_str()
                .map_err(|_| AppError::BadRequest("api.error.idempotency_key_invalid"))
                .and_then(Self::parse)
                .map(Some),
        }
    }
}

/// What a call created, to render again on a replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    Conversation {
        id: i64,
    },
    Message {
        id: i64,
    },
    Customer {
        id: i64,
    },
    PrivacyRequest {
        id: i64,
    },
    /// An erasure's receipt: ids, a reference and counts, nothing personal.
    Erasure {
        body: serde_json::Value,
    },
}

/// Where a POST stands with its key.
pub enum Begin {
    /// No `Idempotency-Key`: just run.
    Without,
    /// First use: run, then [`Pending::finish`] (or [`Pending::abandon`] on an error).
    Fresh(Pending),
    /// Seen before with this request: answer this again.
    Replay { status: u16, resource: Resource },
}

/// A first use, recorded as in progress.
pub struct Pending {
    row_id: i64,
}

fn request_hash(salt: &str, req: &HttpRequest, body: &[u8]) -> String {
    let mut input = format!("{salt}\n{}\n{}\n", req.method(), req.uri());
    input.push_str(&String::from_utf8_lossy(body));
    sha256_hex(&input)
}

/// Looks the request's key up for the caller's API key (forgetting expired ones first).
pub async fn begin(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Begin, AppError> {
    let Some(key) = IdempotencyKey::of(req)? else {
        return Ok(Begin::Without);
    };
    let org = caller.scope.org();
    let now = Utc::now();
    api_idempotency::Entity::delete_in(org)
        .filter(api_idempotency::Column::ApiKeyId.eq(caller.key_id))
        .filter(api_idempotency::Column::ExpiresAt.lte(now))
        .exec(&state.db)
        .await?;
    let key_hash = sha256_hex(&key.0);
    let find = || {
        api_idempotency::Entity::find_in(org)
            .filter(api_idempotency::Column::ApiKeyId.eq(caller.key_id))
            .filter(api_idempotency::Column::KeyHash.eq(key_hash.clone()))
            .one(&state.db)
    };
    if let Some(seen) = find().await? {
        return replay(seen, req, body);
    }
    let salt = random_token();
    let inserted = api_idempotency::ActiveModel {
        organization_id: Set(org),
        api_key_id: Set(caller.key_id),
        key_hash: Set(key_hash.clone()),
        request_hash: Set(request_hash(&salt, req, body)),
        salt: Set(salt),
        status: Set(0),
        resource: Set(String::new()),
        created_at: Set(now),
        expires_at: Set(now + Duration::hours(LIFETIME_HOURS)),
        ..Default::default()
    }
    .insert(&state.db)
    .await;
    match inserted {
        Ok(row) => Ok(Begin::Fresh(Pending { row_id: row.id })),
        // The same key arrived twice at once: the other one is being processed.
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            match find().await? {
                Some(seen) => replay(seen, req, body),
                None => Err(in_progress()),
            }
        }
        Err(error) => Err(error.into()),
    }
}

fn in_progress() -> AppError {
    AppError::Refused {
        key: "api.error.idempotency_in_progress",
        reason: String::new(),
    }
}

fn replay(seen: api_idempotency::Model, req: &HttpRequest, body: &[u8]) -> Result<Begin, AppError> {
    if request_hash(&seen.salt, req, body) != seen.request_hash {
        return Err(AppError::Unprocessable("api.error.idempotency_mismatch"));
    }
    if seen.status == 0 {
        return Err(in_progress());
    }
    let resource = serde_json::from_str(&seen.resource).map_err(AppError::internal)?;
    Ok(Begin::Replay {
        status: u16::try_from(seen.status).map_err(AppError::internal)?,
        resource,
    })
}

impl Pending {
    /// Records the answer of the first call.
    pub async fn finish(
        self,
        state: &AppState,
        caller: &ApiCaller,
        status: u16,
        resource: &Resource,
    ) -> Result<(), AppError> {
        let stored = serde_json::to_string(resource).map_err(AppError::internal)?;
        api_idempotency::Entity::update_in(caller.scope.org())
            .col_expr(
                api_idempotency::Column::Status,
                Expr::val(i32::from(status)),
            )
            .col_expr(api_idempotency::Column::Resource, Expr::val(stored))
            .filter(api_idempotency::Column::Id.eq(self.row_id))
            .exec(&state.db)
            .await?;
        Ok(())
    }

    /// Forgets the key after a failed call, so that it can be used again.
    pub async fn abandon(self, state: &AppState, caller: &ApiCaller) {
        let deleted = api_idempotency::Entity::delete_in(caller.scope.org())
            .filter(api_idempotency::Column::Id.eq(self.row_id))
            .exec(&state.db)
            .await;
        if let Err(error) = deleted {
            tracing::warn!(%error, "idempotency key not released; it expires on its own");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_1_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("order-4711").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", "with space", "ümlaut", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resources_round_trip_as_ids() {
        let stored = serde_json::to_string(&Resource::Conversation { id: 7 }).unwrap();
        assert_eq!(stored, r#"{"kind":"conversation","id":7}"#);
        assert_eq!(
            serde_json::from_str::<Resource>(&stored).unwrap(),
            Resource::Conversation { id: 7 }
        );
    }
}
