//! sea-orm entities: one file per table, plain data.

pub mod audit_event;
pub mod invitation;
pub mod membership;
pub mod organization;
pub mod password_reset;
pub mod session;
pub mod user;
