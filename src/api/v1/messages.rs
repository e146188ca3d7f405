//! `/api/v1/conversations/{id}/messages`, `/replies` and `/notes`: a conversation's messages
//! (oldest first, paged by id), a reply queued through the outbox as the reply box does
//! (`mail::outbound::queue_reply_with`), and an internal note (`inbox::notes::store`). While
//! the customer's processing is restricted none of them is done (409).
//!
//! Blind copies are not shown: they are the business of the reply's author, and an export
//! leaves other people's addresses out the same way.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::conversations::{StatusName, addresses, refusal};
use super::{audit, once, refuse_if_restricted};
use crate::api::auth::ApiCaller;
use crate::api::body::JsonBody;
use crate::api::idempotency::Resource;
use crate::api::scopes::Scope;
use crate::db::InOrg;
use crate::db::entity::message;
use crate::inbox::notes;
use crate::inbox::triage::{self, Status};
use crate::mail::compose::{Recipients, split_stored};
use crate::mail::outbound::{self, ReplyExtras};
use crate::state::AppState;
use crate::web::AppError;

/// Messages per page.
const PAGE_SIZE: u64 = 100;

/// A message: mail in (`inbound`), a reply or forward out (`outbound`), or an internal note
/// (`note`).
#[derive(Serialize, ToSchema)]
pub struct MessageJson {
    pub id: i64,
    pub conversation_id: i64,
    /// `inbound`, `outbound` or `note`.
    pub direction: String,
    pub from_name: String,
    pub from_address: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    /// The member who wrote it (replies and notes).
    pub author_id: Option<i64>,
    /// For replies: `queued`, `sent` or `failed`.
    pub delivery_status: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<message::Model> for MessageJson {
    fn from(m: message::Model) -> Self {
        Self {
            to: split_stored(&m.to_addresses).map(str::to_owned).collect(),
            cc: split_stored(&m.cc_addresses).map(str::to_owned).collect(),
            id: m.id,
            conversation_id: m.conversation_id,
            direction: m.direction,
            from_name: m.from_name,
            from_address: m.from_address,
            subject: m.subject,
            text: m.text_body,
            author_id: m.author_id,
            delivery_status: m.delivery_status,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

/// One page of messages.
#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<MessageJson>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageParams {
    /// `next_cursor` of the previous page.
    after: Option<i64>,
}

/// `GET /api/v1/conversations/{id}/messages` — `api.messages_read`.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/messages",
    tag = "messages",
    params(("id" = i64, Path, description = "The conversation's id", example = 1), MessageParams),
    responses((status = 200, description = "Messages, oldest first", body = MessagePage)),
    security(("api_key" = ["read"]))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    query: web::Query<MessageParams>,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    let id = path.into_inner();
    let org = caller.scope.org();
    let conversation = crate::inbox::queries::conversation(&state.db, org, id).await?;
    refuse_if_restricted(&state, org, id).await?;
    state.access.opened(
        &caller.scope,
        crate::audit::access::Kind::Conversation,
        Some(conversation.customer_id),
        Some(id),
    );
    let mut select = message::Entity::find_in(org).filter(message::Column::ConversationId.eq(id));
    if let Some(after) = query.after {
        select = select.filter(message::Column::Id.gt(after));
    }
    let mut rows = select
        .order_by_asc(message::Column::Id)
        .limit(PAGE_SIZE + 1)
        .all(&state.db)
        .await?;
    let next_cursor = if rows.len() as u64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|m| m.id)
    } else {
        None
    };
    audit(
        &state,
        &caller,
        "api.messages_read",
        format!("conversation:{id}"),
        serde_json::json!({ "count": rows.len() }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(MessagePage {
        messages: rows.into_iter().map(MessageJson::from).collect(),
        next_cursor,
    }))
}

/// A reply. Without `to` it goes where the reply box sends it (the last person who wrote).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    #[schema(min_length = 1)]
    text: String,
    to: Option<Vec<String>>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    bcc: Vec<String>,
    /// The status to set once the reply is queued.
    then: Option<StatusName>,
}

/// `POST /api/v1/conversations/{id}/replies` — `api.reply_queued`; 202 with the message.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/replies",
    tag = "messages",
    params(
        ("id" = i64, Path, description = "The conversation's id", example = 1),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated call")
    ),
    request_body = ReplyBody,
    responses((status = 202, description = "Queued in the outbox", body = MessageJson)),
    security(("api_key" = ["write"]))
)]
pub async fn reply(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    let id = path.into_inner();
    let org = caller.scope.org();
    crate::inbox::queries::conversation(&state.db, org, id).await?;
    let (state, caller, body) = (&state, &caller, &body);
    once(state, caller, &req, body.bytes(), move || async move {
        let body: ReplyBody = body.parse()?;
        let recipients = match &body.to {
            Some(to) => {
                let chosen = Recipients {
                    to: addresses(to)?,
                    cc: addresses(&body.cc)?,
                    bcc: addresses(&body.bcc)?,
                };
                if chosen.to.is_empty() {
                    return Err(AppError::BadRequest("recipients.to_missing"));
                }
                Some(chosen)
            }
            None => None,
        };
        refuse_if_restricted(state, org, id).await?;
        let extras = ReplyExtras {
            attachments: Vec::new(),
            recipients,
        };
        let queued =
            outbound::queue_reply_with(state, org, id, caller.scope.user_id(), &body.text, extras)
                .await?
                .map_err(refusal)?;
        if let Some(then) = body.then {
            triage::apply_status(state, org, id, Status::from(then)).await?;
        }
        crate::inbox::queries::publish(state, org, id);
        audit(
            state,
            caller,
            "api.reply_queued",
            format!("conversation:{id}"),
            serde_json::json!({ "message": queued.id }),
        )
        .await?;
        Ok((StatusCode::ACCEPTED, Resource::Message { id: queued.id }))
    })
    .await
}

/// An internal note: only the team sees it; it is never sent.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[schema(min_length = 1, max_length = 50000)]
    text: String,
}

/// `POST /api/v1/conversations/{id}/notes` — `api.note_added`; 201 with the note.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/notes",
    tag = "messages",
    params(
        ("id" = i64, Path, description = "The conversation's id", example = 1),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated call")
    ),
    request_body = NoteBody,
    responses((status = 201, description = "The note", body = MessageJson)),
    security(("api_key" = ["write"]))
)]
pub async fn note(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    let id = path.into_inner();
    let org = caller.scope.org();
    crate::inbox::queries::conversation(&state.db, org, id).await?;
    let (state, caller, body) = (&state, &caller, &body);
    once(state, caller, &req, body.bytes(), move || async move {
        let body: NoteBody = body.parse()?;
        let text = notes::checked_text(&body.text).map_err(AppError::BadRequest)?;
        refuse_if_restricted(state, org, id).await?;
        let note = notes::store(state, &caller.scope, id, text, Vec::new()).await?;
        audit(
            state,
            caller,
            "api.note_added",
            format!("conversation:{id}"),
            serde_json::json!({ "message": note.id }),
        )
        .await?;
        Ok((StatusCode::CREATED, Resource::Message { id: note.id }))
    })
    .await
}

/// One message of the organization as JSON; refused while its customer is restricted.
pub(crate) async fn one_json(
    state: &AppState,
    org: crate::orgs::OrgId,
    id: i64,
) -> Result<MessageJson, AppError> {
    let found = message::Entity::find_by_id_in(org, id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    refuse_if_restricted(state, org, found.conversation_id).await?;
    Ok(MessageJson::from(found))
}
