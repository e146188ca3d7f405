//! Settings → Channels (`/settings/channels`): admins list, create, edit, test and delete
//! the organization's email channels. Passwords are sealed and never shown again.

pub mod form;
pub mod oauth_routes;
pub mod routes;
pub mod smtp_check;
