//! The optional language model (issue 17, invariant 10): an OpenAI-compatible endpoint per
//! organization, off by default ([`settings`]), that drafts a reply for the agent to edit
//! ([`draft`]). No person reaches it: every text is pseudonymized first and restored here
//! ([`pseudonym`]); the HTTP side is [`client`].

pub mod client;
pub mod draft;
pub mod pseudonym;
pub mod settings;
