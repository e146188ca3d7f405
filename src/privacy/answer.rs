//! The complete answer to an access request (GDPR Art. 15): besides the data itself, the
//! export says why it is processed and on which legal basis, how long it is kept (the
//! organization's retention rules, in words), who received it (the team members of the access
//! log, and the systems — webhook endpoints — that were sent data about the person), where it
//! came from (the channel of each conversation), and the person's rights with how to exercise
//! them. It goes into `export.json` (`about_processing`, `access_log`) and, readable, into
//! `README.html`, in the language the export was made in (the admin's; the command line's is
//! English: Lethe does not know a customer's language).
//!
//! The purposes and the legal basis are Lethe's defaults (answering the customer's enquiries;
//! Art. 6(1)(b) and (f)); per-organization texts are not settable yet.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};
use serde::Serialize;

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

/// The Art. 15 information beside the data.
#[derive(Serialize, Clone)]
pub struct AboutProcessing {
    pub language: &'static str,
    pub purposes: Vec<String>,
    pub legal_basis: String,
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
    Ok(AboutProcessing {
        language: lang.code(),
        purposes: vec![
            tr.t("export.purpose.support").to_owned(),
            tr.t("export.purpose.records").to_owned(),
        ],
        legal_basis: tr.t("export.legal_basis").to_owned(),
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
