//! `/api/v1/…`: the JSON API, authenticated by an API key ([`ApiCaller`]), cut by resource.
//! Every call is audit-logged (actions `api.*`, or the UI's own action where the UI has one,
//! with the key's id in the details); errors are RFC 9457 problem documents
//! (`application/problem+json`, mapped in `web::error`).
//!
//! - [`conversations`]: the inbox list with its filters and a keyset cursor, one
//!   conversation, starting one, status, assignee and tags;
//! - [`messages`]: a conversation's messages, replies and internal notes;
//! - [`customers`]: one customer, the lookup by address, creating one, rectification;
//! - [`directory`]: tags, members (users), channels (never their secrets), retention runs;
//! - [`privacy`]: export, erasure and the register of data subject requests;
//! - [`openapi`]: the OpenAPI 3.1 document generated from these handlers, and [`docs`], the
//!   page that shows it (`/api/docs`).
//!
//! Scopes: `read` for every GET, `write` for every change, `privacy` for export and erasure.
//! A key acts for the admin who created it, so it sees what admins see in the inbox: a
//! restricted customer's conversations are listed and marked (`restricted`), but nothing is
//! done with them (no reply, note, status, assignee or tag; their messages are not handed
//! out) while the restriction lasts — 409, as the UI refuses.

pub mod conversations;
pub mod customers;
pub mod directory;
pub mod docs;
pub mod messages;
pub mod openapi;
pub mod privacy;

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::idempotency::{self, Begin, Resource};
use crate::orgs::OrgId;
use crate::state::AppState;
use crate::web::AppError;

/// Writes the audit entry of an API call.
pub(crate) async fn audit(
    state: &AppState,
    caller: &ApiCaller,
    action: &'static str,
    target: String,
    details: serde_json::Value,
) -> Result<(), AppError> {
    state
        .audit
        .record(&state.db, caller.entry(action, target, details))
        .await?;
    Ok(())
}

/// Refuses any processing of a conversation whose customer's processing is restricted (409,
/// with the restriction's reason).
pub(crate) async fn refuse_if_restricted(
    state: &AppState,
    org: OrgId,
    conversation_id: i64,
) -> Result<(), AppError> {
    match crate::privacy::restrict::of_conversation(&state.db, org, conversation_id).await? {
        Some(restriction) => Err(AppError::Refused {
            key: "privacy.restrict.refused",
            reason: restriction.reason,
        }),
        None => Ok(()),
    }
}

/// An error (RFC 9457). `type` is `about:blank` (the status says what happened), `title`
/// the status's reason phrase, `detail` the message in the caller's language
/// (`Accept-Language`); `code` is the message's stable key, `error` and `status` repeat
/// `detail` and the status for older clients.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: String,
    #[schema(example = "Not Found")]
    pub title: String,
    #[schema(example = 404)]
    pub status: u16,
    pub detail: String,
    #[schema(example = "error.not_found")]
    pub code: String,
    pub error: String,
    /// Why a rule refused the call (e.g. a legal hold's reason), when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A tag.
#[derive(Serialize, ToSchema)]
pub struct TagJson {
    pub id: i64,
    pub name: String,
}

impl From<crate::db::entity::tag::Model> for TagJson {
    fn from(tag: crate::db::entity::tag::Model) -> Self {
        Self {
            id: tag.id,
            name: tag.name,
        }
    }
}

/// Runs a POST once per `Idempotency-Key` (src/api/idempotency.rs): `run` does the work and
/// says what it created; a replay renders that again (`Idempotent-Replayed: true`, and
/// `api.replayed` in the audit log) without running anything.
pub(crate) async fn once<F, Fut>(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    body: &[u8],
    run: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, Resource), AppError>>,
{
    let pending = match idempotency::begin(state, caller, req, body).await? {
        Begin::Replay { status, resource } => {
            audit(
                state,
                caller,
                "api.replayed",
                req.path().to_owned(),
                serde_json::json!({}),
            )
            .await?;
            let status = StatusCode::from_u16(status).map_err(AppError::internal)?;
            let mut response = render(state, caller, status, &resource).await?;
            response.headers_mut().insert(
                HeaderName::from_static("idempotent-replayed"),
                HeaderValue::from_static("true"),
            );
            return Ok(response);
        }
        Begin::Fresh(pending) => Some(pending),
        Begin::Without => None,
    };
    match run().await {
        Ok((status, resource)) => {
            if let Some(pending) = pending {
                pending
                    .finish(state, caller, status.as_u16(), &resource)
                    .await?;
            }
            render(state, caller, status, &resource).await
        }
        Err(error) => {
            if let Some(pending) = pending {
                pending.abandon(state, caller).await;
            }
            Err(error)
        }
    }
}

/// The answer showing what a POST created, as it is now.
async fn render(
    state: &AppState,
    caller: &ApiCaller,
    status: StatusCode,
    resource: &Resource,
) -> Result<HttpResponse, AppError> {
    let org = caller.scope.org();
    let mut response = HttpResponse::build(status);
    Ok(match resource {
        Resource::Conversation { id } => {
            response.json(conversations::one_json(state, org, *id).await?)
        }
        Resource::Message { id } => response.json(messages::one_json(state, org, *id).await?),
        Resource::Customer { id } => {
            let found = crate::inbox::customers::find(&state.db, org, *id).await?;
            response.json(customers::customer_json(state, org, found).await?)
        }
        Resource::PrivacyRequest { id } => {
            response.json(privacy::one_request(state, org, *id).await?)
        }
        Resource::Erasure { body } => response.json(body),
    })
}
