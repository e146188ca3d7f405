//! Conversations, messages, customers, tags, notes and canned replies, and the inbox pages.

pub mod routes;
