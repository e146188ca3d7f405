//! "Draft with the language model" on a conversation: `POST /conversations/{id}/assist/draft`.
//!
//! The thread (customers' and agents' messages, not internal notes, quoted mail and signatures
//! dropped, newest kept when it is long) and the knowledge articles matching the newest message are
//! pseudonymized with the PII detector and the customer
//! record ([`super::pseudonym`]), checked once more for any record value left, and sent to the
//! organization's endpoint. The answer's placeholders are filled in here and the text goes
//! into the agent's draft — appended below what the draft already holds — for the agent to
//! edit and send: nothing is sent to the customer automatically. A customer whose processing
//! is restricted or who objected to processing is never sent (invariant 10). Every call is
//! audit-logged with the organization, conversation, model and sizes, never the text.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::client::ChatMessage;
use super::pseudonym::Pseudonyms;
use crate::assist::intent::text::own_words;
use crate::db::InOrg;
use crate::db::entity::{message, organization};
use crate::inbox::drafts;
use crate::orgs::TenantScope;
use crate::privacy::pii::{Detector, KnownValue, PiiKind};
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// The most thread text sent, in characters (the newest messages are kept).
const MAX_THREAD_CHARS: usize = 24_000;
/// The most knowledge-base text sent, in characters.
const MAX_ARTICLE_CHARS: usize = 6_000;
/// The most recent orders sent along.
const MAX_ORDERS: usize = 5;

/// What the model is told before the thread.
const INSTRUCTIONS: &str = "You are a customer support agent of the online shop named below. \
Write the reply to the customer's last message, in the language the customer wrote in, \
friendly and to the point. Text in square brackets such as [NAME_1], [EMAIL_2], [PHONE_1], \
[ADDRESS_1] or [URL_1] stands for personal data that was removed: use these placeholders \
exactly as written where the value belongs, and never invent names, addresses, order data \
or numbers. Answer with the text of the reply only.";

/// The thread as the model reads it, pseudonymized; the newest messages first kept.
fn thread_text(
    detector: &Detector,
    pseudonyms: &mut Pseudonyms,
    subject: &str,
    messages: &[message::Model],
    known: &[KnownValue],
) -> String {
    let mut parts = Vec::new();
    let mut used = 0;
    for m in messages.iter().rev() {
        let who = if m.direction == "outbound" {
            "Agent"
        } else {
            "Customer"
        };
        let text = own_words(&m.text_body).trim().to_owned();
        if text.is_empty() {
            continue;
        }
        let part = format!("{who}:\n{}", pseudonyms.hide(detector, &text, known));
        used += part.chars().count();
        if used > MAX_THREAD_CHARS && !parts.is_empty() {
            break;
        }
        parts.push(part);
    }
    parts.reverse();
    format!(
        "Subject: {}\n\n{}",
        pseudonyms.hide(detector, subject, known),
        parts.join("\n\n")
    )
}

/// The people of the thread besides the customer record: everyone named in a From, To or Cc,
/// agents included.
pub(crate) fn participants(messages: &[message::Model]) -> Vec<KnownValue> {
    let mut out = Vec::new();
    for m in messages {
        let name = m.from_name.trim();
        if name.chars().count() >= 3 {
            out.push(KnownValue::new(PiiKind::Name, name));
        }
        for list in [&m.from_address, &m.to_addresses, &m.cc_addresses] {
            for address in list.split([',', ';', ' ', '<', '>']).map(str::trim) {
                if address.contains('@') {
                    out.push(KnownValue::new(PiiKind::Email, address));
                }
            }
        }
    }
    out
}

/// `POST /conversations/{id}/assist/draft`.
pub async fn draft(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let org = scope.org();
    let back = paths::CONVERSATION.at(id);
    let conversation = crate::inbox::queries::conversation(&state.db, org, id).await?;
    let Some(endpoint) = super::settings::enabled_endpoint(&state, org).await? else {
        return Ok(see_other_with_flash(&back, "flash.assist_model_off"));
    };
    if crate::privacy::objection::assist_withheld(&state.db, org, conversation.customer_id).await? {
        return Ok(see_other_with_flash(&back, "flash.assist_model_withheld"));
    }
    let messages = message::Entity::lookup_in(org)
        .filter(message::Column::ConversationId.eq(id))
        .filter(message::Column::Direction.ne("note"))
        .order_by_asc(message::Column::CreatedAt)
        .order_by_asc(message::Column::Id)
        .all(&state.db)
        .await?;
    let mut known = crate::retention::anonymize::known_values(
        &state.db,
        &BTreeSet::from([conversation.customer_id]),
    )
    .await?
    .remove(&conversation.customer_id)
    .map(|(_, known)| known)
    .unwrap_or_default();
    known.extend(participants(&messages));
    let shop = organization::Entity::find_by_id(org.get())
        .one(&state.db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();

    let mut pseudonyms = Pseudonyms::new();
    let detector = crate::privacy::pii::shared();
    // The knowledge articles that match the customer's newest message, pseudonymized like
    // the thread (an agent may have written a name into one).
    let mut knowledge = String::new();
    if let Some(newest) = messages.iter().rev().find(|m| m.direction == "inbound") {
        for article in crate::assist::suggest::compute::articles(&state, org, newest).await? {
            let part = format!("- {}\n{}\n", article.title, article.text);
            if knowledge.chars().count() + part.chars().count() > MAX_ARTICLE_CHARS {
                break;
            }
            knowledge.push_str(&part);
        }
    }
    let knowledge = pseudonyms.hide(&detector, &knowledge, &known);
    // The customer's orders as the conversation page fetched them (the in-memory cache: the
    // draft fetches nothing itself), pseudonymized too.
    let orders: String = state
        .orders
        .get(org, conversation.customer_id)
        .map(|shops| {
            let mut all: Vec<_> = shops.iter().flat_map(|s| s.orders.iter()).collect();
            all.sort_by_key(|o| std::cmp::Reverse(o.created_at));
            all.into_iter()
                .take(MAX_ORDERS)
                .map(|o| o.summary())
                .collect::<Vec<_>>()
                .join("\n\n")
        })
        .unwrap_or_default();
    let orders = pseudonyms.hide(&detector, &orders, &known);
    let thread = thread_text(
        &detector,
        &mut pseudonyms,
        &conversation.subject,
        &messages,
        &known,
    );
    let prompt = vec![
        ChatMessage {
            role: "system",
            content: format!("{INSTRUCTIONS}\n\nShop: {shop}"),
        },
        ChatMessage {
            role: "user",
            content: {
                let mut content = thread;
                if !orders.is_empty() {
                    content.push_str(&format!("\n\nThe customer's recent orders:\n{orders}"));
                }
                if !knowledge.is_empty() {
                    content.push_str(&format!(
                        "\n\nArticles of the shop's knowledge base that may help:\n{knowledge}"
                    ));
                }
                content
            },
        },
    ];
    let sent_chars: usize = prompt.iter().map(|m| m.content.chars().count()).sum();
    let audit = |outcome: &str, received_chars: usize| {
        serde_json::json!({
            "conversation": id,
            "model": endpoint.model,
            "endpoint": endpoint.url.host(),
            "sent_chars": sent_chars,
            "received_chars": received_chars,
            "placeholders": pseudonyms.len(),
            "outcome": outcome,
        })
    };
    if prompt
        .iter()
        .any(|m| Pseudonyms::leaked(&m.content, &known).is_some())
    {
        scope
            .audit(
                &state,
                "assist.model_called",
                format!("conversation:{id}"),
                audit("refused_leak", 0),
            )
            .await?;
        return Ok(see_other_with_flash(&back, "flash.assist_model_leak"));
    }
    let answer = match endpoint.complete(state.config.egress(), &prompt).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(error = %error, "language model call failed");
            scope
                .audit(
                    &state,
                    "assist.model_called",
                    format!("conversation:{id}"),
                    audit(error.outcome(), 0),
                )
                .await?;
            return Ok(see_other_with_flash(&back, error.flash()));
        }
    };
    let restored = pseudonyms.restore(answer.trim());
    scope
        .audit(
            &state,
            "assist.model_called",
            format!("conversation:{id}"),
            audit("drafted", answer.chars().count()),
        )
        .await?;
    drafts::append(&state.db, org, id, scope.user_id(), &restored, Utc::now()).await?;
    Ok(see_other_with_flash(&back, "flash.assist_model_drafted"))
}
