//! Objection (GDPR Art. 21): recorded from the customer's page with the day it was made, its
//! text, and what it changes — a choice made when recording it:
//!
//! - [`Effect::ExcludeReports`]: the customer is left out of reports and of assist
//!   (suggestions, any language model). Reports honour it: while it stands the customer's
//!   conversations are not counted (their report facts are recomputed when it is recorded and
//!   when it is lifted: `crate::reports::facts::refresh_customer`); so do intents (not shown,
//!   and not learnt from: `crate::assist::intent`), suggestions and the language model
//!   ([`assist_withheld`]), from the record ([`Effects::of`]);
//! - [`Effect::StopProcessing`]: no non-essential processing — webhook payloads about the
//!   customer carry no content (subject, text), checked when an event is queued and again when
//!   it is sent ([`content_withheld`]), like a restriction;
//! - [`Effect::AnonymizeClosed`]: the customer's closed conversations are anonymized now (as a
//!   retention rule would: src/retention/anonymize.rs), except those on legal hold.
//!
//! The first two stay in force on the customer record (`customers.objection_effects`) until an
//! admin lifts them; an objection in force also keeps the record when a retention rule deletes
//! the customer's last conversation. The objection itself is a request of the register (kind
//! `objection`, the text as its note, the chosen effects in `effects`). Recording and lifting
//! are audit-logged (effects and counts, never the text).
//!
//! Forms of the customer page: `POST /customers/{id}/objections`,
//! `POST /customers/{id}/objections/lift`.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::requests::{self, Kind, NewRequest};
use crate::db::InOrg;
use crate::db::entity::{conversation, customer, privacy_request};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::{NoFields, checkbox, non_empty};
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// The longest objection text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// What an objection changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    ExcludeReports,
    StopProcessing,
    AnonymizeClosed,
}

impl Effect {
    pub const ALL: [Effect; 3] = [
        Effect::ExcludeReports,
        Effect::StopProcessing,
        Effect::AnonymizeClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Effect::ExcludeReports => "exclude_reports",
            Effect::StopProcessing => "stop_processing",
            Effect::AnonymizeClosed => "anonymize_closed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == value.trim())
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Effect::ExcludeReports => "privacy.objection.effect.exclude_reports",
            Effect::StopProcessing => "privacy.objection.effect.stop_processing",
            Effect::AnonymizeClosed => "privacy.objection.effect.anonymize_closed",
        }
    }

    /// Does it stay in force on the record (rather than happen once)?
    pub fn is_standing(self) -> bool {
        !matches!(self, Effect::AnonymizeClosed)
    }
}

/// A set of effects, stored comma-separated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects(BTreeSet<Effect>);

impl Effects {
    /// Parses a stored value; unknown words are ignored.
    pub fn from_stored(stored: Option<&str>) -> Self {
        Self(
            stored
                .unwrap_or_default()
                .split(',')
                .filter_map(Effect::parse)
                .collect(),
        )
    }

    /// The effects in force on a customer record.
    pub fn of(record: &customer::Model) -> Self {
        Self::from_stored(record.objection_effects.as_deref())
    }

    /// The stored value: None for no effect.
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    pub fn contains(&self, effect: Effect) -> bool {
        self.0.contains(&effect)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Those that stay in force.
    pub fn standing(&self) -> Self {
        Self(self.0.iter().copied().filter(|e| e.is_standing()).collect())
    }

    pub fn union(&self, other: &Self) -> Self {
        Self(self.0.union(&other.0).copied().collect())
    }

    /// Their labels' catalog keys, in a stable order.
    pub fn label_keys(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.label_key()).collect()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.as_str()).collect()
    }
}

/// Whether assist (suggestions, the language model) must leave `customer_id` of `org` out:
/// processing is restricted, or an objection excludes them from reports and assist or stops
/// non-essential processing. A customer who is not found is left out too.
pub async fn assist_withheld(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<bool, DbErr> {
    let record = customer::Entity::find_by_id_in(org, customer_id)
        .one(db)
        .await?;
    Ok(assist_withheld_of(record.as_ref()))
}

/// [`assist_withheld`] of a customer record the caller has read (None: no such customer,
/// withheld).
pub fn assist_withheld_of(record: Option<&customer::Model>) -> bool {
    let Some(record) = record else {
        return true;
    };
    let effects = Effects::of(record);
    record.restricted_at.is_some()
        || effects.contains(Effect::ExcludeReports)
        || effects.contains(Effect::StopProcessing)
}

/// Whether payloads about `customer_id` of `org` must go without content: processing is
/// restricted (Art. 18), or an objection stopped non-essential processing (Art. 21).
pub async fn content_withheld(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<bool, DbErr> {
    let record = customer::Entity::find_by_id_in(org, customer_id)
        .one(db)
        .await?;
    Ok(content_withheld_of(record.as_ref()))
}

/// [`content_withheld`] of a customer record the caller has read (None: no such customer,
/// nothing to withhold).
pub fn content_withheld_of(record: Option<&customer::Model>) -> bool {
    record.is_some_and(|record| {
        record.restricted_at.is_some() || Effects::of(record).contains(Effect::StopProcessing)
    })
}

/// An objection as the customer page lists it.
pub struct ObjectionView {
    pub reference: String,
    pub received: String,
    pub status_key: &'static str,
    pub text: String,
    /// Catalog keys of the effects chosen.
    pub effects: Vec<&'static str>,
}

/// The customer's objections, newest first.
pub async fn of_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Vec<ObjectionView>, sea_orm::DbErr> {
    Ok(privacy_request::Entity::find_in(org)
        .filter(privacy_request::Column::CustomerId.eq(customer_id))
        .filter(privacy_request::Column::Kind.eq(Kind::Objection.as_str()))
        .order_by_desc(privacy_request::Column::ReceivedAt)
        .order_by_desc(privacy_request::Column::Id)
        .limit(100)
        .all(db)
        .await?
        .into_iter()
        .map(|r| ObjectionView {
            effects: Effects::from_stored(r.effects.as_deref()).label_keys(),
            reference: r.reference,
            received: r.received_at.format("%Y-%m-%d").to_string(),
            status_key: requests::Status::label_key_of(&r.status),
            text: r.note,
        })
        .collect())
}

/// The objection in force on a customer record, as the customer page shows it.
pub struct InForce {
    pub since: String,
    pub effects: Vec<&'static str>,
}

impl InForce {
    pub fn of(record: &customer::Model) -> Option<Self> {
        let effects = Effects::of(record);
        if effects.is_empty() {
            return None;
        }
        Some(Self {
            since: record
                .objection_since
                .map(|at| at.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            effects: effects.label_keys(),
        })
    }
}

#[derive(Deserialize)]
pub struct ObjectionForm {
    received: Option<String>,
    text: Option<String>,
    #[serde(default, deserialize_with = "checkbox")]
    exclude_reports: bool,
    #[serde(default, deserialize_with = "checkbox")]
    stop_processing: bool,
    #[serde(default, deserialize_with = "checkbox")]
    anonymize_closed: bool,
}

/// The checked form: the day (not in the future), the text and the chosen effects.
struct Objection {
    received: NaiveDate,
    text: String,
    effects: Effects,
}

impl TryFrom<ObjectionForm> for Objection {
    type Error = AppError;

    fn try_from(form: ObjectionForm) -> Result<Self, AppError> {
        let received = super::requests::received_on(&form.received)?;
        let text =
            non_empty(&form.text).ok_or(AppError::BadRequest("privacy.objection.text_required"))?;
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(AppError::BadRequest("privacy.objection.text_too_long"));
        }
        let chosen = [
            (form.exclude_reports, Effect::ExcludeReports),
            (form.stop_processing, Effect::StopProcessing),
            (form.anonymize_closed, Effect::AnonymizeClosed),
        ];
        Ok(Self {
            received,
            text: text.to_owned(),
            effects: Effects(
                chosen
                    .into_iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, e)| e)
                    .collect(),
            ),
        })
    }
}

/// `POST /customers/{id}/objections` (admins): records an objection (an open request) and
/// applies the chosen effects.
pub async fn record(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<ObjectionForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let objection = Objection::try_from(form)?;
    // The audit lock before the transaction: the entry commits with the objection.
    let audit_guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    let record = crate::inbox::customers::find(&txn, org, path.into_inner()).await?;
    if objection.effects.contains(Effect::AnonymizeClosed) && record.restricted_at.is_some() {
        // A restriction freezes the data: nothing is rewritten while it holds.
        return Err(AppError::BadRequest("privacy.objection.restricted"));
    }
    let created = requests::create(
        &txn,
        org,
        NewRequest {
            kind: Kind::Objection,
            received_at: requests::start_of_day(objection.received),
            customer_id: Some(record.id),
            note: objection.text,
        },
    )
    .await?;
    privacy_request::Entity::update_in(org)
        .col_expr(
            privacy_request::Column::Effects,
            Expr::value(objection.effects.to_stored()),
        )
        .filter(privacy_request::Column::Id.eq(created.id))
        .exec(&txn)
        .await?;
    let standing = objection.effects.standing();
    if !standing.is_empty() {
        let in_force = Effects::of(&record).union(&standing);
        customer::Entity::update_in(org)
            .col_expr(
                customer::Column::ObjectionEffects,
                Expr::value(in_force.to_stored()),
            )
            .col_expr(
                customer::Column::ObjectionSince,
                Expr::value(Some(record.objection_since.unwrap_or_else(Utc::now))),
            )
            .filter(customer::Column::Id.eq(record.id))
            .exec(&txn)
            .await?;
    }
    // Left out of reports from now on (the customer's record carries the effect).
    let report_conversations = if objection.effects.contains(Effect::ExcludeReports) {
        crate::reports::facts::refresh_customer(&txn, org, record.id).await?
    } else {
        0
    };
    state
        .audit
        .record_holding(
            &audit_guard,
            &txn,
            scope.audit_entry(
                "privacy.request_recorded",
                created.reference.clone(),
                serde_json::json!({
                    "kind": Kind::Objection.as_str(),
                    "customer": record.id,
                    "effects": objection.effects.names(),
                    "excluded_from_reports": report_conversations,
                }),
            ),
        )
        .await?;
    txn.commit().await?;
    drop(audit_guard);
    // An objection to processing stops the orders panel too (src/assist/orders/).
    state.orders.forget(org, record.id);
    if objection.effects.contains(Effect::AnonymizeClosed) {
        let done = anonymize_closed(&state, org, record.id).await?;
        scope
            .audit(
                &state,
                "privacy.objection_anonymized",
                created.reference,
                serde_json::json!({
                    "customer": record.id,
                    "conversations": done.conversations,
                    "skipped_legal_hold": done.skipped_legal_hold,
                }),
            )
            .await?;
    }
    Ok(see_other_with_flash(
        &paths::CUSTOMER.at(record.id),
        "flash.privacy_objection_recorded",
    ))
}

/// What [`anonymize_closed`] did.
#[derive(Debug, Default)]
pub struct Anonymized {
    pub conversations: u64,
    pub skipped_legal_hold: u64,
}

/// Anonymizes the customer's closed conversations now, in batches (one transaction each), as a
/// retention rule does; conversations on legal hold (or all, when the customer is) are skipped
/// and counted. The conversations move to a pseudonymous customer; the record stays (the
/// objection keeps it).
pub async fn anonymize_closed(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
) -> Result<Anonymized, AppError> {
    // Queued access entries first, so that those of the anonymized conversations go too.
    state.access.flush().await;
    let closed = || {
        conversation::Entity::find_in(org)
            .filter(conversation::Column::CustomerId.eq(customer_id))
            .filter(conversation::Column::Status.eq("closed"))
            .filter(Expr::cust("conversations.anonymized_at IS NULL"))
    };
    let customer_held = customer::Entity::find_by_id_in(org, customer_id)
        .filter(Expr::cust("customers.legal_hold_reason IS NOT NULL"))
        .one(&state.db)
        .await?
        .is_some();
    let mut out = Anonymized::default();
    let all: Vec<conversation::Model> = closed()
        .order_by_asc(conversation::Column::Id)
        .all(&state.db)
        .await?;
    let held: BTreeSet<i64> = if customer_held {
        all.iter().map(|c| c.id).collect()
    } else {
        closed()
            .select_only()
            .column(conversation::Column::Id)
            .filter(Expr::cust("conversations.legal_hold_reason IS NOT NULL"))
            .into_tuple::<i64>()
            .all(&state.db)
            .await?
            .into_iter()
            .collect()
    };
    out.skipped_legal_hold = held.len() as u64;
    let due: Vec<conversation::Model> = all.into_iter().filter(|c| !held.contains(&c.id)).collect();
    let now: DateTime<Utc> = Utc::now();
    for batch in due.chunks(crate::retention::run::BATCH) {
        let txn = crate::db::begin_write(&state.db).await?;
        let (_, _, files) =
            crate::retention::anonymize::conversations(&txn, org, now, batch, &state.journal)
                .await?;
        txn.commit().await?;
        out.conversations += batch.len() as u64;
        if let Err(error) =
            crate::records::remove_unreferenced_files(&state.db, &state.blobs, files).await
        {
            tracing::error!(%error, "objection: attachment files not checked for removal");
        }
    }
    Ok(out)
}

/// `POST /customers/{id}/objections/lift` (admins only): the objection's effects stop.
pub async fn lift(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let audit_guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    let record = crate::inbox::customers::find(&txn, org, path.into_inner()).await?;
    let effects = Effects::of(&record);
    if effects.is_empty() {
        return Err(AppError::BadRequest("privacy.objection.none_in_force"));
    }
    customer::Entity::update_in(org)
        .col_expr(
            customer::Column::ObjectionEffects,
            Expr::value(None::<String>),
        )
        .col_expr(
            customer::Column::ObjectionSince,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(customer::Column::Id.eq(record.id))
        .exec(&txn)
        .await?;
    // Counted in reports again: recomputed from the conversations there are.
    let report_conversations = if effects.contains(Effect::ExcludeReports) {
        crate::reports::facts::refresh_customer(&txn, org, record.id).await?
    } else {
        0
    };
    state
        .audit
        .record_holding(
            &audit_guard,
            &txn,
            scope.audit_entry(
                "privacy.objection_lifted",
                format!("customer:{}", record.id),
                serde_json::json!({
                    "effects": effects.names(),
                    "restored_to_reports": report_conversations,
                }),
            ),
        )
        .await?;
    txn.commit().await?;
    drop(audit_guard);
    Ok(see_other_with_flash(
        &paths::CUSTOMER.at(record.id),
        "flash.privacy_objection_lifted",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_round_trip_through_their_stored_form() {
        let effects = Effects::from_stored(Some("stop_processing,exclude_reports,bogus"));
        assert!(effects.contains(Effect::StopProcessing));
        assert!(effects.contains(Effect::ExcludeReports));
        assert_eq!(
            effects.to_stored().as_deref(),
            Some("exclude_reports,stop_processing")
        );
        assert_eq!(Effects::from_stored(None).to_stored(), None);
        let once = Effects::from_stored(Some("anonymize_closed"));
        assert!(once.standing().is_empty());
    }
}
