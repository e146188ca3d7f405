//! Organizations (one per shop), memberships with roles, invitations, switching between
//! organizations, and the tenant scope every query on organization data takes; the
//! organization's lifecycle: its export, its scheduled deletion and the purge.

pub mod admin_notice;
pub mod export;
pub mod invitations;
pub mod leaving;
pub mod new;
pub mod organization_page;
pub mod purge;
pub mod queries;
mod scope;
pub mod team;

pub use scope::{OrgId, Role, TenantScope};
