//! The customer's orders beside a conversation (issue 17, "Orders"). Admins link a shop at
//! `/settings/integrations` ([`routes`]): Shopify ([`shopify`], Admin GraphQL API) or
//! WooCommerce ([`woo`], REST API v3), its credentials sealed under the instance key
//! ([`shop`], [`store`]). When a conversation is opened, [`panel`] fetches the customer's
//! recent orders by every address of theirs, through the egress rules ([`fetch`]), within a
//! short time budget, and keeps them in memory only for a few minutes ([`cache`]); nothing of
//! an order is written to the database or the log, except the text an agent inserts into a
//! reply ([`insert`]). A restricted customer's orders are not fetched; erasure and
//! restriction drop what is cached. Order numbers written in messages link to the order
//! ([`mentions`]); tracking numbers link to the carrier ([`carriers`]).

pub mod cache;
pub mod carriers;
pub mod connection;
pub mod fetch;
pub mod insert;
pub mod mentions;
pub mod model;
pub mod panel;
pub mod routes;
pub mod shop;
pub mod shopify;
pub mod store;
pub mod woo;

pub use cache::OrderCache;

/// Why a shop did not answer with orders. `Display` never carries order data or addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the shop refused the credentials")]
    BadCredentials,
    #[error("the shop address has no such API")]
    NotFound,
    #[error("the shop did not answer in time")]
    Timeout,
    #[error("the shop is rate-limiting requests")]
    RateLimited,
    #[error("the shop cannot be reached: {0}")]
    Unreachable(String),
    #[error("the shop answered unexpectedly: {0}")]
    Protocol(String),
    #[error("the credentials cannot be opened with the instance key")]
    Sealed,
}

impl FetchError {
    /// The translation key of the reason, as pages show it.
    pub fn label_key(&self) -> &'static str {
        match self {
            FetchError::BadCredentials => "orders.error.bad_credentials",
            FetchError::NotFound => "orders.error.not_found",
            FetchError::Timeout => "orders.error.timeout",
            FetchError::RateLimited => "orders.error.rate_limited",
            FetchError::Unreachable(_) => "orders.error.unreachable",
            FetchError::Protocol(_) => "orders.error.protocol",
            FetchError::Sealed => "orders.error.sealed",
        }
    }
}
