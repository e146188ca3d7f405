//! The complete answer to an access request (GDPR Art. 15): besides the data itself, the
//! export says why it is processed and on which legal basis (the organization's purposes,
//! src/privacy/purposes.rs), how long it is kept (the organization's retention rules, in
//! words), who received it (the team members of the access log, and the systems — webhook
//! endpoints — that were sent data about the person), where it came from (the channel of each
//! conversation), and the person's rights with how to exercise them. It goes into
//! `export.json` (`about_processing`, `access_log`) and, readable, into `README.html`.
//!
//! **Language.** The customer's, where known: the language most of their own messages are
//! written in ([`customer_language`], the search module's detector), when it is one Lethe
//! speaks (English, German, French). Otherwise the language the export was made in (the
//! admin's; the command line's and the API's is English). Lethe's own texts (the default
//! purposes, the legal bases, retention in words, the rights) follow it; an admin's own
//! purposes are given as written.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};
use serde::Serialize;

use super::purposes::LegalBasis;
use crate::db::InOrg;
use crate::db::entity::{channel, conversation, webhook_delivery, webhook_endpoint};
use crate::orgs::OrgId;
use crate::web::i18n::{Lang, Tr};

/// One access entry in the export.
#[derive(Serialize, Clone)]
pub struct AccessRecord {
    pub at: DateTime<Utc>,
    /// The team member's name.
    pub by: String,
    /// `conversation`, `customer`, `attachment`, `export` or `search`.
    pub what: String,
    pub conversation_id: Option<i64>,
}

/// A system that was sent data about the person.
#[derive(Serialize, Clone)]
pub struct SystemRecipient {
    pub kind: &'static str,
    pub name: String,
    pub deliveries: u64,
    pub last_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Clone)]
pub struct Recipients {
    pub team_members: Vec<String>,
    pub systems: Vec<SystemRecipient>,
}

/// Where a conversation came from.
#[derive(Serialize, Clone)]
pub struct Source {
    pub conversation_id: i64,
    pub channel: String,
}

/// A legal basis as the export names it.
#[derive(Serialize, Clone)]
pub struct BasisRecord {
    /// `consent`, `contract`, `legal_obligation`, `vital_interests`, `public_task` or
    /// `legitimate_interests`.
    pub name: &'static str,
    /// For example `Art. 6(1)(b) GDPR`.
    pub article: &'static str,
    /// The article as the reader's language cites it (README.html).
    #[serde(skip)]
    pub article_key: &'static str,
    /// The article and what it means, in words.
    pub text: String,
}

/// A purpose of processing and its legal bases.
#[derive(Serialize, Clone)]
pub struct PurposeRecord {
    pub purpose: String,
    pub legal_bases: Vec<BasisRecord>,
}

/// The Art. 15 information beside the data.
#[derive(Serialize, Clone)]
pub struct AboutProcessing {
    pub language: &'static str,
    /// The purposes' texts (as in `processing`).
    pub purposes: Vec<String>,
    /// Every legal basis of `processing`, in words, once.
    pub legal_basis: String,
    pub processing: Vec<PurposeRecord>,
    pub retention: Vec<String>,
    pub recipients: Recipients,
    pub sources: Vec<Source>,
    pub rights: Vec<String>,
}

const RIGHTS: [&str; 7] = [
    "export.rights.access",
    "export.rights.rectification",
    "export.rights.erasure",
    "export.rights.restriction",
    "export.rights.portability",
    "export.rights.objection",
    "export.rights.complaint",
];

/// The language most of `written` (the customer's own messages: subject, text) is in, when
/// it is one Lethe speaks.
pub fn customer_language<'a>(
    written: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Lang> {
    crate::search::main_language(written).and_then(|lang| Lang::from_code(lang.code()))
}

/// The retention rules of `org` in words.
async fn retention_in_words(
    db: &impl ConnectionTrait,
    org: OrgId,
    tr: Tr,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let rules = crate::retention::saved_rules(db, org).await?;
    if rules.is_empty() {
        return Ok(vec![tr.t("export.retention.none").to_owned()]);
    }
    Ok(rules
        .iter()
        .map(|rule| {
            tr.tf(
                "export.retention.rule",
                &[
                    ("category", tr.t(rule.category().label_key())),
                    ("action", tr.t(rule.action().label_key())),
                    ("days", &rule.after_days().to_string()),
                    ("counted", tr.t(rule.category().hint_key())),
                ],
            )
        })
        .collect())
}

/// Builds the information for customer `customer_id` of `org`; `access` is their access log.
pub async fn about(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
    access: &[AccessRecord],
    lang: Lang,
) -> Result<AboutProcessing, sea_orm::DbErr> {
    let tr = Tr::new(lang);
    let team_members: Vec<String> = access
        .iter()
        .map(|a| a.by.clone())
        .filter(|n| !n.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let deliveries = webhook_delivery::Entity::find_in(org)
        .filter(webhook_delivery::Column::CustomerId.eq(customer_id))
        .filter(webhook_delivery::Column::Status.eq("delivered"))
        .all(db)
        .await?;
    let mut per_endpoint: BTreeMap<i64, (u64, Option<DateTime<Utc>>)> = BTreeMap::new();
    for d in &deliveries {
        let entry = per_endpoint.entry(d.endpoint_id).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(d.delivered_at);
    }
    let endpoints: BTreeMap<i64, String> = webhook_endpoint::Entity::find_in(org)
        .filter(webhook_endpoint::Column::Id.is_in(per_endpoint.keys().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e.url))
        .collect();
    let systems = per_endpoint
        .into_iter()
        .map(|(id, (deliveries, last_at))| SystemRecipient {
            kind: "webhook",
            name: endpoints.get(&id).cloned().unwrap_or_default(),
            deliveries,
            last_at,
        })
        .collect();
    let conversations = conversation::Entity::find_in(org)
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .all(db)
        .await?;
    let channel_ids: BTreeSet<i64> = conversations.iter().filter_map(|c| c.channel_id).collect();
    let channels: BTreeMap<i64, String> = channel::Entity::find_in(org)
        .filter(channel::Column::Id.is_in(channel_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let sources = conversations
        .iter()
        .map(|c| Source {
            conversation_id: c.id,
            channel: match c.channel_id.and_then(|id| channels.get(&id)) {
                Some(name) => tr.tf("export.source.channel", &[("name", name)]),
                None => tr.t("export.source.other").to_owned(),
            },
        })
        .collect();
    let (purposes, _) = super::purposes::load(db, org).await?;
    let basis = |b: &LegalBasis| BasisRecord {
        name: b.name(),
        article: b.article(),
        article_key: b.article_key(),
        text: tr.t(b.label_key()).to_owned(),
    };
    let processing: Vec<PurposeRecord> = purposes
        .iter()
        .map(|p| PurposeRecord {
            purpose: p.text().in_language(tr),
            legal_bases: p.bases().iter().map(basis).collect(),
        })
        .collect();
    Ok(AboutProcessing {
        language: lang.code(),
        purposes: processing.iter().map(|p| p.purpose.clone()).collect(),
        legal_basis: purposes
            .bases()
            .iter()
            .map(|b| tr.t(b.label_key()))
            .collect::<Vec<_>>()
            .join("; "),
        processing,
        retention: retention_in_words(db, org, tr).await?,
        recipients: Recipients {
            team_members,
            systems,
        },
        sources,
        rights: RIGHTS.iter().map(|k| tr.t(k).to_owned()).collect(),
    })
}

/// `README.html` of the export: the same information, readable.
#[derive(Template)]
#[template(path = "privacy/export_readme.html")]
pub struct ReadmeHtml<'a> {
    pub tr: Tr,
    pub name: &'a str,
    pub generated_at: String,
    pub about: &'a AboutProcessing,
    pub access: &'a [AccessRecord],
    pub conversations: usize,
    pub messages: usize,
    pub attachments: usize,
}
