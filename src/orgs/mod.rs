//! Organizations (one per shop), memberships with roles, invitations, switching between
//! organizations, and the tenant scope every query on organization data takes.

pub mod invitations;
pub mod queries;
pub mod routes;
mod scope;

pub use scope::{OrgId, Role, TenantScope};
