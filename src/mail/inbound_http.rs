//! `POST /inbound/email/{channel token}`: one raw RFC 5322 message from an MTA pipe. The
//! answer is 2xx only after the message is committed (or known already), so the MTA keeps
//! and retries anything else.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::channel;
use super::ingest::{self, Outcome, Source};
use crate::state::AppState;
use crate::web::AppError;

pub async fn receive(
    state: web::Data<AppState>,
    token: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let channel = channel::by_inbound_token(&state.db, &token)
        .await?
        .ok_or(AppError::NotFound)?;
    let source = Source {
        org: channel.organization_id,
        channel_id: Some(channel.id),
        keep_original_date: false,
    };
    Ok(match ingest::ingest_raw(&state, source, body.to_vec()).await? {
        Outcome::Stored { conversation_id, message_id, .. } => HttpResponse::Created()
            .json(json!({ "status": "stored", "conversation_id": conversation_id, "message_id": message_id })),
        Outcome::Duplicate => HttpResponse::Ok().json(json!({ "status": "duplicate" })),
        Outcome::OwnMail => HttpResponse::Ok().json(json!({ "status": "own_mail" })),
        // A permanent problem of this message: 422 tells the MTA not to retry it.
        Outcome::Rejected(reason) => HttpResponse::UnprocessableEntity()
            .json(json!({ "status": "rejected", "reason": reason.to_string() })),
    })
}
