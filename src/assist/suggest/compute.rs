//! What to suggest for a customer's message, computed here and nowhere else: the canned
//! replies whose words it shares most, and the replies that closed the most similar resolved
//! conversations (found through the search index, [`crate::search::Query::similar_to`]).
//!
//! A closed conversation belongs to another customer: its reply is passed through the PII
//! detector with that customer's record first, so nothing of them reaches this customer's
//! suggestion; the greeting's name becomes this customer's first name and an order number the
//! number this customer wrote.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use regex::Regex;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder};

use crate::assist::intent::text::own_words;
use crate::db::InOrg;
use crate::db::entity::{canned_reply, conversation, message};
use crate::orgs::OrgId;
use crate::search::{Filter, Page, Query, SearchContext, Sort};
use crate::state::AppState;
use crate::web::AppError;

/// How many of each kind are offered.
pub const PER_KIND: usize = 3;
/// How many words of the message a similar conversation must share.
const MIN_SHARED: usize = 2;
/// The most words of the message used to find similar conversations.
const MAX_WORDS: usize = 16;

/// A suggestion before it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub kind: &'static str,
    pub source_id: i64,
    pub title: String,
    pub text: String,
}

/// Words too common in support mail to say what a message is about, in the six languages.
const STOP: &[&str] = &[
    "the",
    "and",
    "for",
    "you",
    "your",
    "with",
    "that",
    "this",
    "have",
    "has",
    "was",
    "are",
    "not",
    "but",
    "can",
    "please",
    "thanks",
    "thank",
    "hello",
    "dear",
    "regards",
    "would",
    "could",
    "from",
    "will",
    "what",
    "when",
    "there",
    "they",
    "them",
    "about",
    "just",
    "still",
    "der",
    "die",
    "das",
    "und",
    "ich",
    "sie",
    "ist",
    "mit",
    "ein",
    "eine",
    "einen",
    "nicht",
    "auf",
    "für",
    "von",
    "den",
    "dem",
    "bitte",
    "danke",
    "hallo",
    "grüße",
    "gruesse",
    "mein",
    "meine",
    "haben",
    "habe",
    "wir",
    "noch",
    "aber",
    "auch",
    "les",
    "des",
    "est",
    "une",
    "pour",
    "que",
    "qui",
    "pas",
    "vous",
    "nous",
    "avec",
    "mon",
    "merci",
    "bonjour",
    "cordialement",
    "mais",
    "sur",
    "dans",
    "par",
    "los",
    "las",
    "una",
    "por",
    "con",
    "para",
    "que",
    "mis",
    "hola",
    "gracias",
    "saludos",
    "pero",
    "como",
    "sono",
    "della",
    "delle",
    "non",
    "per",
    "una",
    "che",
    "grazie",
    "buongiorno",
    "saluti",
    "mio",
    "het",
    "een",
    "van",
    "niet",
    "voor",
    "met",
    "ben",
    "mijn",
    "bedankt",
    "hallo",
    "groeten",
    "maar",
    "ook",
    "nog",
];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

/// The message's words that say most, longest first (a cheap stand-in for rarity).
pub fn salient_words(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<String> = words(text)
        .into_iter()
        .filter(|w| seen.insert(w.clone()))
        .collect();
    out.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    out.truncate(MAX_WORDS);
    out
}

static ORDER_NUMBER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:#|\b(?:order|bestellung|bestellnr\.?|commande|pedido|ordine|bestelling)\s*(?:nr\.?|no\.?|n°|number|nummer|numéro|número|numero)?\s*:?\s*#?)(\d{4,12})\b",
    )
    .ok()
});

/// The first order number written in `text`.
pub fn order_number(text: &str) -> Option<String> {
    ORDER_NUMBER
        .as_ref()?
        .captures(text)
        .map(|c| c[1].to_owned())
}

/// `text` with each order number replaced by `number` (or a placeholder for the agent).
fn with_order_number(text: &str, number: Option<&str>) -> String {
    let Some(pattern) = ORDER_NUMBER.as_ref() else {
        return text.to_owned();
    };
    pattern
        .replace_all(text, |c: &regex::Captures<'_>| {
            let whole = &c[0];
            let digits = &c[1];
            whole.replacen(digits, number.unwrap_or("[ORDER]"), 1)
        })
        .into_owned()
}

/// Canned replies ranked by the words they share with the message.
fn canned(replies: &[canned_reply::Model], message: &str) -> Vec<Candidate> {
    let wanted: BTreeSet<String> = words(message).into_iter().collect();
    let mut scored: Vec<(usize, &canned_reply::Model)> = replies
        .iter()
        .map(|r| {
            let theirs: BTreeSet<String> = words(&format!("{} {}", r.title, r.body))
                .into_iter()
                .collect();
            (wanted.intersection(&theirs).count(), r)
        })
        .filter(|(shared, _)| *shared > 0)
        .collect();
    scored.sort_by_key(|(shared, r)| (std::cmp::Reverse(*shared), r.id));
    scored
        .into_iter()
        .take(PER_KIND)
        .map(|(_, r)| Candidate {
            kind: "canned",
            source_id: r.id,
            title: r.title.clone(),
            text: r.body.clone(),
        })
        .collect()
}

/// What fills a suggestion's placeholders.
pub struct Fill<'a> {
    pub customer_name: &'a str,
    pub agent_name: &'a str,
    pub ticket: &'a str,
    pub order_number: Option<&'a str>,
}

/// The suggestions for `newest`, the customer's message in conversation `current`.
pub async fn candidates(
    state: &AppState,
    org: OrgId,
    current: &conversation::Model,
    newest: &message::Model,
    fill: &Fill<'_>,
) -> Result<Vec<Candidate>, AppError> {
    let db = &state.db;
    let text = format!("{}\n{}", newest.subject, newest.text_body);
    let placeholders = crate::inbox::canned::Placeholders {
        customer_name: fill.customer_name,
        agent_name: fill.agent_name,
        ticket: fill.ticket,
    };
    let mut out: Vec<Candidate> = canned(&crate::inbox::canned::all(db, org).await?, &text)
        .into_iter()
        .map(|c| Candidate {
            text: crate::inbox::canned::fill(&c.text, &placeholders),
            ..c
        })
        .collect();
    out.extend(articles(state, org, newest).await?);
    for c in similar_closed(state, org, current, &text).await? {
        out.push(Candidate {
            text: crate::inbox::canned::fill(
                &with_order_number(&c.text, fill.order_number),
                &placeholders,
            ),
            ..c
        });
    }
    Ok(out)
}

/// How many of the message's words are looked up in the knowledge base.
const ARTICLE_WORDS: usize = 6;

/// The published articles that match most of the message's salient words (each word looked
/// up on its own, scores added): in the message's language where a version exists, as the
/// help centre link when the article is public, else as its text.
pub async fn articles(
    state: &AppState,
    org: OrgId,
    newest: &message::Model,
) -> Result<Vec<Candidate>, AppError> {
    use crate::assist::knowledge::{find, markdown, model};
    let mut scores: HashMap<i64, f32> = HashMap::new();
    let text = format!("{}\n{}", newest.subject, newest.text_body);
    for word in salient_words(&text).into_iter().take(ARTICLE_WORDS) {
        for hit in find::search(state, org, &word, Default::default()).await? {
            *scores.entry(hit.article_id).or_default() += hit.score;
        }
    }
    let mut ranked: Vec<(i64, f32)> = scores.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let lang = crate::search::main_language([(newest.subject.as_str(), newest.text_body.as_str())]);
    let settings = model::settings(&state.db, org).await?;
    let mut out = Vec::new();
    for (id, _) in ranked {
        if out.len() == PER_KIND {
            break;
        }
        let Some(article) = model::find(&state.db, org, id).await? else {
            continue;
        };
        if !article.row.published {
            continue;
        }
        let Some(variant) = article.variant(lang, crate::search::Lang::En) else {
            continue;
        };
        let text = match (&settings.help_slug, article.is_shown_publicly()) {
            (Some(slug), true) => {
                let lang = model::parse_lang(&variant.language).unwrap_or(crate::search::Lang::En);
                format!(
                    "{}: {}",
                    variant.title,
                    crate::assist::knowledge::help::article_url(
                        state,
                        slug,
                        &article.row.slug,
                        lang
                    )
                )
            }
            _ => markdown::to_plain_text(&variant.body),
        };
        out.push(Candidate {
            kind: "article",
            source_id: id,
            title: variant.title.clone(),
            text,
        });
    }
    Ok(out)
}

/// The replies that closed the conversations most like `text`, their customer's data removed.
async fn similar_closed(
    state: &AppState,
    org: OrgId,
    current: &conversation::Model,
    text: &str,
) -> Result<Vec<Candidate>, AppError> {
    let words = salient_words(text);
    if words.len() < MIN_SHARED {
        return Ok(Vec::new());
    }
    let query = Query::similar_to(
        words,
        MIN_SHARED,
        vec![
            Filter::Status("closed".into()),
            Filter::Direction("inbound".into()),
        ],
    );
    let ctx = SearchContext {
        me: None,
        hidden_conversations: vec![current.id],
    };
    let page = Page {
        number: 1,
        per_page: PER_KIND * 3,
        sort: Sort::Relevance,
    };
    let index = state.search.clone();
    let hits = tokio::task::spawn_blocking(move || index.search(org, &query, &ctx, page))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut out = Vec::new();
    for hit in hits.hits {
        if out.len() == PER_KIND {
            break;
        }
        let Some(found) = conversation::Entity::find_by_id_in(org, hit.conversation_id)
            .one(&state.db)
            .await?
        else {
            continue;
        };
        // Never from a customer whose data may not be used.
        if crate::privacy::objection::assist_withheld(&state.db, org, found.customer_id).await? {
            continue;
        }
        let Some(closing) = closing_reply(&state.db, org, found.id).await? else {
            continue;
        };
        // Everyone of that conversation: its customer record and every sender and recipient.
        let mut known = crate::retention::anonymize::known_values(
            &state.db,
            &BTreeSet::from([found.customer_id]),
        )
        .await?
        .remove(&found.customer_id)
        .map(|(_, k)| k)
        .unwrap_or_default();
        let thread = message::Entity::lookup_in(org)
            .filter(message::Column::ConversationId.eq(found.id))
            .all(&state.db)
            .await?;
        known.extend(crate::assist::llm::draft::participants(&thread));
        out.push(Candidate {
            kind: "conversation",
            source_id: found.id,
            title: without_their_customer(&found.subject, &known),
            text: without_their_customer(&own_words(&closing.text_body), &known),
        });
    }
    Ok(out)
}

/// The last reply an agent sent in a conversation.
async fn closing_reply(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
) -> Result<Option<message::Model>, AppError> {
    Ok(message::Entity::lookup_in(org)
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Direction.eq("outbound"))
        .order_by_desc(message::Column::CreatedAt)
        .order_by_desc(message::Column::Id)
        .one(db)
        .await?)
}

/// `text` of another customer's conversation with everything of them replaced (`known`: their
/// record and the conversation's senders and recipients): their first name found becomes
/// `{customer_first_name}` (filled with this customer's), anything else the detector finds its
/// placeholder.
fn without_their_customer(text: &str, known: &[crate::privacy::pii::KnownValue]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    let mut named = false;
    for f in crate::privacy::pii::shared().find(text, known) {
        out.push_str(&text[pos..f.start]);
        if f.kind == crate::privacy::pii::PiiKind::Name && !named {
            out.push_str("{customer_first_name}");
            named = true;
        } else {
            out.push_str(f.kind.placeholder());
        }
        pos = f.end;
    }
    out.push_str(&text[pos..]);
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_found_and_replaced_in_every_language() {
        assert_eq!(
            order_number("Bestellung 100387 fehlt").as_deref(),
            Some("100387")
        );
        assert_eq!(order_number("my order #55123").as_deref(), Some("55123"));
        assert_eq!(order_number("commande n° 77001").as_deref(), Some("77001"));
        assert_eq!(order_number("I paid 2024 euros"), None);
        assert_eq!(
            with_order_number("Your order #11111 left today.", Some("22222")),
            "Your order #22222 left today."
        );
        assert_eq!(
            with_order_number("Bestellung 11111 ist unterwegs", None),
            "Bestellung [ORDER] ist unterwegs"
        );
    }

    #[test]
    fn salient_words_drop_greetings_and_keep_the_topic() {
        let w = salient_words("Hallo, bitte die Rücksendung meiner Jacke prüfen. Danke!");
        assert!(w.contains(&"rücksendung".to_owned()), "{w:?}");
        assert!(!w.contains(&"hallo".to_owned()) && !w.contains(&"danke".to_owned()));
    }
}
