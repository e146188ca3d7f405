//! Settings → Channels (`/settings/channels`): admins list, create, edit, test and delete
//! the organization's email channels. Passwords are sealed and never shown again. Each
//! channel's signature has its own small form (`signature.rs`).

pub mod form;
pub mod oauth_routes;
pub mod routes;
pub mod signature;
pub mod smtp_check;
