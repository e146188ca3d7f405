//! Suggestions for the customer's newest message (issue 17): the best canned replies and the
//! replies that closed the most similar resolved conversations ([`compute`]), computed on this
//! server when the conversation page opens and kept with the message ([`store`]).
//!
//! Per organization ([`settings`]): `off` (the default: nothing computed or kept), `shadow`
//! (computed and kept, never shown, so `/reports` can tell how often agents' own replies matched
//! them before anyone sees one) or `shown` (a collapsible list above the reply box, each with
//! *Insert*, which puts the text into the draft). When the agent's reply is sent, each kept
//! suggestion is marked `used` (sent as it was), `edited` (much of it sent) or `ignored`.
//!
//! Suggestions are customer data: exported with their conversation, deleted with it, dropped
//! when it is anonymized, and the retention category `assist_suggestions` (suggested: anonymize
//! after 30 days, which empties their text and keeps the counts). Nothing is computed for a
//! customer whose processing is restricted or who objected to it.

pub mod compute;
pub mod routes;
pub mod settings;
pub mod store;

pub use settings::Mode;
