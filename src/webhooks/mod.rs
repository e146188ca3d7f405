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

use std::net::SocketAddr;

pub use emit::{Event, emit, forget_conversations, forget_customers};
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
/// (no second lookup), follows no redirect, ignores `HTTP(S)_PROXY` (a proxy would make the
/// connection the checked addresses do not cover) and speaks TLS with rustls.
pub async fn http_client(
    egress: Egress,
    url: &WebhookUrl,
) -> Result<reqwest::Client, WebhookError> {
    let host = url.host();
    let addresses: Vec<SocketAddr> = egress.resolve(&host, url.port()).await?;
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .resolve_to_addrs(&host, &addresses)
        .build()
        .map_err(|e| WebhookError::Client(e.to_string()))
}
