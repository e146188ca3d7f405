//! The intent on the conversation page: for the newest customer message, the detected intent
//! (its translated label, in a collapsed `<details>` beside the tags) and one button that puts
//! the matching tag on the conversation — the organization's tag that stands for it
//! ([`super::tag_names`]), else a new tag named after the intent — through the tag form
//! (`POST /conversations/{id}/tags`), so it works without JavaScript. Nothing is shown for a
//! restricted customer, nor for one whose objection left them out of assist.

use crate::db::entity::{customer, message, tag};
use crate::orgs::OrgId;

use super::kind::Intent;
use super::org_models::OrgModels;
use super::{starter, tag_names};

/// What the page shows.
pub struct IntentView {
    pub intent: Intent,
    /// The catalog key of its label.
    pub label_key: &'static str,
    /// The tag the button puts on.
    pub tag_name: String,
    /// The conversation carries a tag for it already (no button then).
    pub tagged: bool,
    /// The model's confidence, in percent.
    pub confidence: u32,
    /// From the organization's own model (else the starter model).
    pub own_model: bool,
}

/// The subject and text of the newest message a customer wrote (not an auto-reply or a
/// bounce), if any.
pub fn newest_customer_message(messages: &[message::Model]) -> Option<(&str, &str)> {
    messages
        .iter()
        .rev()
        .find(|m| m.direction == "inbound" && m.kind != "auto_reply" && m.kind != "bounce")
        .map(|m| (m.subject.as_str(), m.text_body.as_str()))
}

/// The intent offered for the conversation's newest customer message (`newest`: subject and
/// text), with the customer's record already read (the conversation page reads it once for
/// everything it decides about the customer); None for no message, no record, or a customer
/// left out of assist.
pub fn of_customer(
    models: &OrgModels,
    org: OrgId,
    record: Option<&customer::Model>,
    newest: Option<(&str, &str)>,
    conversation_tags: &[tag::Model],
    all_tags: &[tag::Model],
) -> Option<IntentView> {
    let (subject, body) = newest?;
    if crate::privacy::objection::assist_withheld_of(record) {
        return None;
    }
    let own = models.get(org);
    let model = own.as_ref().map_or(starter::model(), |o| &o.model);
    let prediction = super::classify(model, subject, body)?;
    let intent = prediction.intent;
    let stands_for = |t: &&tag::Model| tag_names::intent_of(&t.name) == Some(intent);
    Some(IntentView {
        intent,
        label_key: intent.label_key(),
        tagged: conversation_tags.iter().any(|t| stands_for(&t)),
        tag_name: all_tags
            .iter()
            .find(stands_for)
            .map_or_else(|| intent.name().to_owned(), |t| t.name.clone()),
        confidence: (prediction.confidence * 100.0).round() as u32,
        own_model: own.is_some(),
    })
}
