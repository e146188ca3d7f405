//! Outgoing signed webhooks. Admins set up endpoints at `/settings/webhooks`
//! ([`routes`]); features report events with [`emit`] inside their own transactions, which
//! queues one delivery row per subscribed endpoint ([`emit`]); the worker ([`deliver`]) sends
//! them signed as Standard Webhooks says ([`signing`]), retries with backoff, keeps each
//! conversation's deliveries in order and disables an endpoint that keeps failing. The
//! delivery rows are also the endpoint's delivery log. [`inbound`] takes signed events the
//! other way: the shop's contact form creates a conversation.

pub mod deliver;
pub mod emit;
pub mod endpoints;
pub mod inbound;
pub mod routes;
pub mod signing;
pub mod types;

pub use emit::{Event, emit, forget_conversations, forget_customers, forget_pending_message};
pub use types::{EventSet, EventType, WebhookSecret, WebhookUrl};

use crate::mail::egress::{Egress, EgressError};

/// What can go wrong in the webhook domain.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error("an endpoint secret cannot be opened with the instance key")]
    Sealed,
    #[error(transparent)]
    Egress(#[from] EgressError),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    Internal(String),
}

/// An HTTP client that reaches `url`'s host only at the addresses the egress policy checked
/// (see [`Egress::http_client`]).
pub async fn http_client(
    egress: Egress,
    url: &WebhookUrl,
) -> Result<reqwest::Client, WebhookError> {
    Ok(egress.http_client(&url.host(), url.port()).await?)
}
