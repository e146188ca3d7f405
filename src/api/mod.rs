//! The JSON API under `/api/v1/` for shops' own systems (order backends, helpdesk scripts),
//! and the API keys that authenticate it.
//!
//! - [`keys`]: creating, listing and revoking keys (`/settings/api-keys`); keys are stored as
//!   SHA-256 digests only;
//! - [`auth`]: the `Authorization: Bearer` extractor that yields the organization's
//!   [`TenantScope`](crate::orgs::TenantScope);
//! - [`idempotency`]: `Idempotency-Key` on POSTs;
//! - [`v1`]: the endpoints and their OpenAPI document.

pub mod auth;
pub mod body;
pub mod idempotency;
pub mod keys;
pub mod scopes;
pub mod v1;
