//! Signed inbound events: `POST /inbound/webhooks/{token}` creates a conversation from the
//! shop's contact form (or another system), signed with the same Standard Webhooks scheme as
//! Lethe's own deliveries. A request whose signature does not match, whose timestamp is more
//! than five minutes off, or whose `webhook-id` was already used is refused; what is accepted
//! becomes an email-like message through the normal ingest path (customer, threading, search,
//! webhooks), with the Message-ID `<webhook-id>@inbound.lethe.invalid`.
//!
//! Admins create and delete inbound URLs at `/settings/webhooks`; the URL's token is stored as
//! a digest, the signing secret sealed, both shown once.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Deserialize;
use serde_json::json;

use super::endpoints::{open, seal};
use super::signing::{self, VerifyError};
use super::types::WebhookSecret;
use crate::crypto::{random_token, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::{message, webhook_inbound};
use crate::mail::EmailAddress;
use crate::mail::ingest::{self, Outcome, Source};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::{NoFields, without_control_characters};
use crate::web::page::see_other_with_flash;
use crate::web::{AppError, CsrfForm, paths};

/// The largest body accepted (a contact form, not a file upload).
const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_LINE_CHARS: usize = 200;
const MAX_ID_CHARS: usize = 100;

/// A new inbound URL's token and secret, to show once.
pub struct NewInbound {
    pub id: i64,
    pub token: String,
    pub secret: WebhookSecret,
}

pub async fn list(
    db: &impl sea_orm::ConnectionTrait,
    org: OrgId,
) -> Result<Vec<webhook_inbound::Model>, sea_orm::DbErr> {
    webhook_inbound::Entity::find_in(org)
        .order_by_asc(webhook_inbound::Column::Id)
        .all(db)
        .await
}

/// `POST /settings/webhooks/inbound`: a new inbound URL; URL and secret are shown once.
pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let token = random_token();
    let secret = WebhookSecret::generate();
    let row = webhook_inbound::ActiveModel {
        organization_id: Set(scope.org()),
        token_hash: Set(sha256_hex(&token)),
        secret_sealed: Set(seal(&state.sealer, &secret)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    scope
        .audit(
            &state,
            "webhook.inbound_created",
            format!("webhook_inbound:{}", row.id),
            json!({}),
        )
        .await?;
    super::routes::list_with_inbound(
        &state,
        &scope,
        NewInbound {
            id: row.id,
            token,
            secret,
        },
    )
    .await
}

/// `POST /settings/webhooks/inbound/{id}/delete`.
pub async fn delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let id = path.into_inner();
    let deleted = webhook_inbound::Entity::delete_in(scope.org())
        .filter(webhook_inbound::Column::Id.eq(id))
        .exec(&state.db)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    scope
        .audit(
            &state,
            "webhook.inbound_deleted",
            format!("webhook_inbound:{id}"),
            json!({}),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::WEBHOOKS.path(),
        "flash.webhook_inbound_deleted",
    ))
}

/// The event's body: `{"type": …, "data": {"email", "name"?, "subject"?, "text"}}`.
#[derive(Deserialize)]
struct Inbound {
    data: ContactForm,
}

#[derive(Deserialize)]
struct ContactForm {
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    subject: String,
    text: String,
}

fn refused(status: actix_web::http::StatusCode, reason: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": reason, "status": status.as_u16() }))
}

fn one_line(value: &str) -> String {
    without_control_characters(value)
        .replace(['\r', '\n', '\t'], " ")
        .trim()
        .chars()
        .take(MAX_LINE_CHARS)
        .collect()
}

/// The raw message the contact form becomes.
fn as_mail(form: &ContactForm, email: &EmailAddress, message_id: &str) -> Result<Vec<u8>, String> {
    let name = one_line(&form.name);
    let from = Mailbox::new(
        (!name.is_empty()).then_some(name),
        email.as_str().parse().map_err(|e| format!("email: {e}"))?,
    );
    let subject = match one_line(&form.subject) {
        s if s.is_empty() => "Contact form".to_owned(),
        s => s,
    };
    let to: Mailbox = "inbound@lethe.invalid"
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    let message = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{message_id}>")))
        .header(ContentType::TEXT_PLAIN)
        .body(without_control_characters(&form.text))
        .map_err(|e| e.to_string())?;
    Ok(message.formatted())
}

/// `POST /inbound/webhooks/{token}`.
pub async fn receive(
    state: web::Data<AppState>,
    token: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    use actix_web::http::StatusCode;
    let Some(inbound) = webhook_inbound::Entity::find()
        .filter(webhook_inbound::Column::TokenHash.eq(sha256_hex(&token)))
        .one(&state.db)
        .await?
    else {
        return Err(AppError::NotFound);
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let secret = open(&state.sealer, &inbound.secret_sealed)?;
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let id = header("webhook-id");
    if let Err(error) = signing::verify(
        std::slice::from_ref(&secret),
        id,
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        Utc::now().timestamp(),
    ) {
        let status = match error {
            VerifyError::MissingHeaders | VerifyError::BadTimestamp => StatusCode::BAD_REQUEST,
            VerifyError::Stale | VerifyError::NoMatch => StatusCode::UNAUTHORIZED,
        };
        return Ok(refused(status, &error.to_string()));
    }
    let id = id.unwrap_or_default();
    if id.chars().count() > MAX_ID_CHARS
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "the webhook-id may hold letters, digits, '_', '-' and '.' (at most 100)",
        ));
    }
    let org = inbound.organization_id;
    let message_id = format!("{id}@inbound.lethe.invalid");
    let replayed = message::Entity::find_in(org)
        .filter(message::Column::MessageIdHeader.eq(message_id.as_str()))
        .one(&state.db)
        .await?
        .is_some();
    if replayed {
        return Ok(refused(
            StatusCode::CONFLICT,
            "this webhook-id was used already",
        ));
    }
    let form = match serde_json::from_slice::<Inbound>(&body) {
        Ok(event) => event.data,
        Err(_) => {
            return Ok(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the body must be {\"type\", \"data\": {\"email\", \"name\", \"subject\", \"text\"}}",
            ));
        }
    };
    let Ok(email) = EmailAddress::parse(form.email.trim()) else {
        return Ok(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "data.email is not an email address",
        ));
    };
    if form.text.trim().is_empty() {
        return Ok(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "data.text is empty",
        ));
    }
    let raw = match as_mail(&form, &email, &message_id) {
        Ok(raw) => raw,
        Err(_) => {
            return Ok(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the form cannot be stored",
            ));
        }
    };
    let source = Source {
        org,
        channel_id: None,
        keep_original_date: false,
    };
    Ok(match ingest::ingest_raw(&state, source, raw).await? {
        Outcome::Stored {
            conversation_id,
            message_id,
            ..
        } => HttpResponse::Created().json(json!({
            "status": "stored",
            "conversation_id": conversation_id,
            "message_id": message_id,
        })),
        Outcome::Duplicate => refused(StatusCode::CONFLICT, "this webhook-id was used already"),
        Outcome::OwnMail => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the sender is one of this shop's own channel addresses",
        ),
        Outcome::Rejected(reason) => refused(StatusCode::UNPROCESSABLE_ENTITY, &reason.to_string()),
    })
}
