//! The scheduled retraining (`LETHE_SCHEDULE_INTENTS`, hourly by default, and once at start):
//! for each organization, the conversations tagged with a tag that stands for an intent
//! ([`super::tag_names`]) teach its own model, trained on the starter set plus these.
//!
//! What it reads, and what it keeps out:
//! - per conversation, the first customer message (subject and own words), once;
//! - not the conversations of restricted customers (Art. 18), nor of customers whose
//!   objection left them out of assist or stopped non-essential processing (Art. 21,
//!   `crate::privacy::objection`); a conversation tagged with two intents is left out too;
//! - only features (words, word pairs, character grams) found in at least
//!   [`MIN_CONVERSATIONS_PER_FEATURE`] different conversations, so words one customer
//!   alone wrote (a name, an address) never enter the model;
//! - an intent with fewer than [`MIN_EXAMPLES_PER_INTENT`] usable conversations is learnt
//!   from the starter set alone; an organization with no such intent keeps the starter model.
//!
//! The model stays in this node's memory ([`super::org_models`]); every node runs the job for
//! itself, since a model that is never persisted cannot be shared by a lease.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::db::InOrg;
use crate::db::entity::{conversation, conversation_tag, customer, message, organization, tag};
use crate::orgs::OrgId;
use crate::state::AppState;

use super::features::features;
use super::kind::Intent;
use super::model::{Example, Model};
use super::org_models::{OrgModel, OrgModels};
use super::{starter, tag_names, text};

/// Below this many tagged conversations an intent is learnt from the starter set alone.
pub const MIN_EXAMPLES_PER_INTENT: usize = 5;
/// A feature enters an organization's model only when this many conversations have it.
pub const MIN_CONVERSATIONS_PER_FEATURE: usize = 3;
/// The newest tagged conversations read per intent.
const MAX_EXAMPLES_PER_INTENT: usize = 2000;
/// How much an organization's own example counts against a starter one.
const OWN_WEIGHT: f32 = 2.0;

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Organizations with a model of their own now.
    pub trained: usize,
    /// Organizations on the starter model.
    pub starter: usize,
}

/// Retrains every organization's model.
pub async fn run_once(state: &AppState) -> Result<Outcome, DbErr> {
    // The starter model is trained on first use: here rather than on a page request.
    tokio::task::spawn_blocking(|| starter::model().len())
        .await
        .map_err(|e| DbErr::Custom(format!("starter model not trained: {e}")))?;
    let orgs: Vec<i64> = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut outcome = Outcome::default();
    for id in orgs {
        let org = OrgId::from_db(id);
        match retrain(&state.db, &state.intents, org).await {
            Ok(true) => outcome.trained += 1,
            Ok(false) => outcome.starter += 1,
            Err(error) => {
                tracing::error!(org = %org, %error, "intent model not retrained");
            }
        }
    }
    Ok(outcome)
}

/// Retrains one organization's model; `true` when it has one of its own afterwards.
pub async fn retrain(
    db: &impl ConnectionTrait,
    models: &OrgModels,
    org: OrgId,
) -> Result<bool, DbErr> {
    let texts = tagged_texts(db, org).await?;
    // Training is CPU work: off the async threads.
    let model = tokio::task::spawn_blocking(move || train_from(&texts))
        .await
        .map_err(|e| DbErr::Custom(format!("intent training stopped: {e}")))?;
    let own = model.is_some();
    models.set(org, model);
    Ok(own)
}

/// Trains an organization's model from its tagged texts (one per conversation); `None` when
/// no intent has enough of them.
pub fn train_from(texts: &[(Intent, String)]) -> Option<OrgModel> {
    let mut examples = [0usize; Intent::ALL.len()];
    for (intent, _) in texts {
        examples[intent.index()] += 1;
    }
    let usable: Vec<(Intent, Vec<String>)> = texts
        .iter()
        .filter(|(intent, _)| examples[intent.index()] >= MIN_EXAMPLES_PER_INTENT)
        .map(|(intent, text)| (*intent, features(text)))
        .collect();
    if usable.is_empty() {
        return None;
    }
    let mut seen_in: HashMap<&str, usize> = HashMap::new();
    for (_, fs) in &usable {
        for f in fs {
            *seen_in.entry(f.as_str()).or_default() += 1;
        }
    }
    let common: HashSet<String> = seen_in
        .into_iter()
        .filter(|(_, n)| *n >= MIN_CONVERSATIONS_PER_FEATURE)
        .map(|(f, _)| f.to_owned())
        .collect();
    let mut all = starter::examples();
    for (intent, fs) in usable {
        all.push(Example {
            features: fs.into_iter().filter(|f| common.contains(f)).collect(),
            intent,
            weight: OWN_WEIGHT,
        });
    }
    for n in examples.iter_mut() {
        if *n < MIN_EXAMPLES_PER_INTENT {
            *n = 0;
        }
    }
    Some(OrgModel {
        model: Model::train(&all, |_| true),
        examples,
    })
}

/// The customers whose conversations stay out: restricted, or objecting with an effect that
/// leaves them out of assist.
async fn excluded_customers(db: &impl ConnectionTrait, org: OrgId) -> Result<HashSet<i64>, DbErr> {
    Ok(customer::Entity::find_in(org)
        .filter(
            Condition::any()
                .add(customer::Column::RestrictedAt.is_not_null())
                .add(customer::Column::ObjectionEffects.is_not_null()),
        )
        .all(db)
        .await?
        .into_iter()
        .filter(|c| crate::privacy::objection::assist_withheld_of(Some(c)))
        .map(|c| c.id)
        .collect())
}

/// One text per usable tagged conversation: its first customer message.
async fn tagged_texts(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<(Intent, String)>, DbErr> {
    let intent_tags: HashMap<i64, Intent> = tag::Entity::find_in(org)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|t| tag_names::intent_of(&t.name).map(|i| (t.id, i)))
        .collect();
    if intent_tags.is_empty() {
        return Ok(Vec::new());
    }
    let links = conversation_tag::Entity::find()
        .filter(conversation_tag::Column::TagId.is_in(intent_tags.keys().copied()))
        .order_by_desc(conversation_tag::Column::ConversationId)
        .all(db)
        .await?;
    let mut by_conversation: HashMap<i64, Option<Intent>> = HashMap::new();
    let mut per_intent = [0usize; Intent::ALL.len()];
    for link in links {
        let Some(intent) = intent_tags.get(&link.tag_id).copied() else {
            continue;
        };
        match by_conversation.get(&link.conversation_id) {
            // Two different intents: ambiguous, left out.
            Some(Some(before)) if *before != intent => {
                by_conversation.insert(link.conversation_id, None);
            }
            Some(_) => {}
            None if per_intent[intent.index()] < MAX_EXAMPLES_PER_INTENT => {
                per_intent[intent.index()] += 1;
                by_conversation.insert(link.conversation_id, Some(intent));
            }
            None => {}
        }
    }
    let excluded = excluded_customers(db, org).await?;
    let wanted: Vec<i64> = by_conversation
        .iter()
        .filter_map(|(id, intent)| intent.map(|_| *id))
        .collect();
    let mut out = Vec::new();
    for chunk in wanted.chunks(500) {
        let usable: HashSet<i64> = conversation::Entity::lookup_in(org)
            .select_only()
            .column(conversation::Column::Id)
            .column(conversation::Column::CustomerId)
            .filter(conversation::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple::<(i64, i64)>()
            .all(db)
            .await?
            .into_iter()
            .filter(|(_, customer)| !excluded.contains(customer))
            .map(|(id, _)| id)
            .collect();
        if usable.is_empty() {
            continue;
        }
        let rows: Vec<(i64, String, String)> = message::Entity::lookup_in(org)
            .select_only()
            .column(message::Column::ConversationId)
            .column(message::Column::Subject)
            .column(message::Column::TextBody)
            .filter(message::Column::ConversationId.is_in(usable.iter().copied()))
            .filter(message::Column::Direction.eq("inbound"))
            .order_by_asc(message::Column::CreatedAt)
            .order_by_asc(message::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        let mut done: HashSet<i64> = HashSet::new();
        for (conversation_id, subject, body) in rows {
            if !done.insert(conversation_id) {
                continue;
            }
            if let Some(Some(intent)) = by_conversation.get(&conversation_id) {
                out.push((*intent, text::message_text(&subject, &body)));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_few_examples_keep_the_starter_model() {
        let texts: Vec<(Intent, String)> = (0..MIN_EXAMPLES_PER_INTENT - 1)
            .map(|i| (Intent::Refund, format!("Gutschein {i}")))
            .collect();
        assert!(train_from(&texts).is_none());
    }

    #[test]
    fn a_word_of_one_conversation_never_enters_the_model() {
        let mut texts: Vec<(Intent, String)> = (0..6)
            .map(|_| (Intent::Refund, "Gutscheinwunsch bitte".to_owned()))
            .collect();
        texts.push((
            Intent::Refund,
            "Gutscheinwunsch Zyxquorbel bitte".to_owned(),
        ));
        let trained = train_from(&texts).unwrap();
        assert!(trained.model.knows("w:gutscheinwunsch"));
        assert!(!trained.model.knows("w:zyxquorbel"));
        assert!(!trained.model.knows("c:zyxq"));
        assert_eq!(trained.examples[Intent::Refund.index()], 7);
    }
}
