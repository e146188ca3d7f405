//! Conversations, messages, customers, tags, notes and canned replies, and the inbox pages.

pub mod customers;
pub mod events;
pub mod routes;
