//! Intents: what a customer's newest message is about (order status, refund, …; the fixed
//! set in [`kind`]), computed on the merchant's server by a small classifier ([`model`]) over
//! folded words, word pairs and character grams ([`features`]). A multilingual starter model
//! ships in the binary ([`starter`]); each organization's own tagged history trains a model
//! of its own, kept in memory only ([`train`], [`org_models`]). The conversation page shows
//! the intent and offers it as a tag ([`view`]).

pub mod corpus;
pub mod features;
pub mod kind;
pub mod model;
pub mod org_models;
pub mod starter;
pub mod tag_names;
pub mod text;
pub mod train;
pub mod view;

#[cfg(test)]
mod accuracy;

pub use kind::Intent;
pub use model::{Model, Prediction};
pub use org_models::OrgModels;

/// Below this confidence the answer is "no intent" (shown as nothing).
pub const MIN_CONFIDENCE: f32 = 0.20;

/// The intent of a message (subject and body; quoted mail is ignored), if the model is
/// confident enough and it is not `other`.
pub fn classify(model: &Model, subject: &str, body: &str) -> Option<Prediction> {
    let text = text::message_text(subject, body);
    classify_text(model, &text)
}

/// The same for a text given whole.
pub fn classify_text(model: &Model, text: &str) -> Option<Prediction> {
    model
        .predict(&features::features(text))
        .filter(|p| p.confidence >= MIN_CONFIDENCE && p.intent != Intent::Other)
}
