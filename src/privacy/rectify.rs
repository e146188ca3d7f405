//! Rectification (GDPR Art. 16): admins correct the customer record — name, email addresses
//! (change, remove, add; a customer may have several, and inbound mail from any of them lands
//! on this customer), phone and postal address.
//!
//! The old values do not survive: the row is updated in place (SQLite runs with
//! `secure_delete`, and the WAL is checkpointed afterwards), the search queue triggers
//! re-index the customer's conversations (a changed name or address, and since migration
//! `m20261202_000008` an added or removed one) and the index is purged, so the old text leaves
//! the index files. The audit entry names only the fields that changed, never a value.
//!
//! The corrected values follow into the customer's conversations too ([`history`]): wherever a
//! message or subject holds an old value of the record — the name and addresses in `From`,
//! `To` and `Cc`, any of them quoted in a body — it is replaced by the new one (a removed
//! address by the record's first remaining one, a removed phone or postal address by
//! nothing), so the old value is not kept in the inbox, the search index or an export.
//!
//! Form of the customer page: `POST /customers/{id}/rectify`.

mod history;

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, Set, SqlErr};

use super::requests::{self, Kind};
use crate::db::InOrg;
use crate::db::entity::{customer, customer_email};
use crate::inbox::customers::{self, CustomerName, PhoneNumber, PostalAddress};
use crate::mail::EmailAddress;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// The most addresses one customer record holds.
pub const MAX_ADDRESSES: usize = 20;

/// What the rectification form asks for, checked field by field.
#[derive(Debug)]
pub struct Rectification {
    pub name: CustomerName,
    pub phone: Option<PhoneNumber>,
    pub postal_address: Option<PostalAddress>,
    /// Existing addresses by row id: the value to keep (or change to), or None to remove it.
    pub addresses: BTreeMap<i64, Option<EmailAddress>>,
    pub added: Option<EmailAddress>,
}

impl TryFrom<Vec<(String, String)>> for Rectification {
    type Error = &'static str;

    /// Fields: `name`, `phone`, `postal_address`, `email.<id>`, `remove.<id>`, `new_email`.
    fn try_from(fields: Vec<(String, String)>) -> Result<Self, &'static str> {
        let mut name = None;
        let mut phone = None;
        let mut postal_address = None;
        let mut added = None;
        let mut values: BTreeMap<i64, String> = BTreeMap::new();
        let mut removed: BTreeSet<i64> = BTreeSet::new();
        let row_id = |raw: &str| raw.parse::<i64>().map_err(|_| "error.bad_form");
        for (key, value) in fields {
            match key.as_str() {
                "csrf" => {}
                "name" => name = Some(CustomerName::parse(&value).map_err(|e| e.key())?),
                "phone" if value.trim().is_empty() => phone = None,
                "phone" => phone = Some(PhoneNumber::parse(&value).map_err(|e| e.key())?),
                "postal_address" => {
                    let parsed = PostalAddress::parse(&value).map_err(|e| e.key())?;
                    postal_address = (!parsed.as_str().is_empty()).then_some(parsed);
                }
                "new_email" if value.trim().is_empty() => {}
                "new_email" => {
                    added =
                        Some(EmailAddress::parse(&value).map_err(|_| "privacy.rectify.bad_email")?);
                }
                other => {
                    if let Some(id) = other.strip_prefix("email.") {
                        values.insert(row_id(id)?, value);
                    } else if let Some(id) = other.strip_prefix("remove.") {
                        removed.insert(row_id(id)?);
                    }
                }
            }
        }
        let mut addresses = BTreeMap::new();
        for (id, value) in values {
            if removed.contains(&id) {
                addresses.insert(id, None);
            } else {
                let parsed =
                    EmailAddress::parse(&value).map_err(|_| "privacy.rectify.bad_email")?;
                addresses.insert(id, Some(parsed));
            }
        }
        for id in removed {
            addresses.entry(id).or_insert(None);
        }
        Ok(Self {
            name: name.ok_or("privacy.record.name_required")?,
            phone,
            postal_address,
            addresses,
            added,
        })
    }
}

/// The changes to make, against the stored record.
#[derive(Debug, Default)]
struct Plan {
    name: Option<String>,
    phone: Option<Option<String>>,
    postal_address: Option<Option<String>>,
    changed: Vec<(i64, String)>,
    removed: Vec<i64>,
    added: Option<String>,
}

impl Plan {
    /// The names of the fields that change, for the audit entry.
    fn fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.name.is_some() {
            out.push("name");
        }
        if !self.changed.is_empty() || !self.removed.is_empty() || self.added.is_some() {
            out.push("email_addresses");
        }
        if self.phone.is_some() {
            out.push("phone");
        }
        if self.postal_address.is_some() {
            out.push("postal_address");
        }
        out
    }
}

/// Compares the form with the stored record; refuses unknown rows, a record left without an
/// address, duplicates, and addresses another customer of the organization holds.
async fn plan(
    db: &impl ConnectionTrait,
    org: OrgId,
    record: &customer::Model,
    stored: &[customer_email::Model],
    form: Rectification,
) -> Result<Result<Plan, &'static str>, sea_orm::DbErr> {
    let mut plan = Plan::default();
    if form.name.as_str() != record.display_name {
        plan.name = Some(form.name.as_str().to_owned());
    }
    let phone = form.phone.map(|p| p.as_str().to_owned());
    if phone != record.phone {
        plan.phone = Some(phone);
    }
    let postal = form.postal_address.map(|p| p.as_str().to_owned());
    if postal != record.postal_address {
        plan.postal_address = Some(postal);
    }
    let mut kept: Vec<String> = Vec::new();
    for row in stored {
        match form.addresses.get(&row.id) {
            None => kept.push(row.email.clone()),
            Some(None) => plan.removed.push(row.id),
            Some(Some(value)) => {
                if value.as_str() != row.email {
                    plan.changed.push((row.id, value.as_str().to_owned()));
                }
                kept.push(value.as_str().to_owned());
            }
        }
    }
    if form
        .addresses
        .keys()
        .any(|id| stored.iter().all(|r| r.id != *id))
    {
        return Ok(Err("privacy.rectify.unknown_address"));
    }
    if let Some(added) = form.added {
        plan.added = Some(added.as_str().to_owned());
        kept.push(added.as_str().to_owned());
    }
    if kept.is_empty() {
        return Ok(Err("privacy.rectify.no_address"));
    }
    if kept.len() > MAX_ADDRESSES {
        return Ok(Err("privacy.rectify.too_many_addresses"));
    }
    let distinct: BTreeSet<&String> = kept.iter().collect();
    if distinct.len() != kept.len() {
        return Ok(Err("privacy.rectify.duplicate_address"));
    }
    let new_values: Vec<&str> = plan
        .changed
        .iter()
        .map(|(_, v)| v.as_str())
        .chain(plan.added.as_deref())
        .collect();
    if !new_values.is_empty() {
        let taken = customer_email::Entity::find_in(org)
            .filter(customer_email::Column::CustomerId.ne(record.id))
            .filter(customer_email::Column::Email.is_in(new_values))
            .one(db)
            .await?;
        if taken.is_some() {
            return Ok(Err("privacy.rectify.address_taken"));
        }
    }
    Ok(Ok(plan))
}

/// Writes the plan inside the caller's transaction. Removals first, so that an address moved
/// from one row to another does not collide with itself.
async fn apply(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
    plan: &Plan,
) -> Result<(), sea_orm::DbErr> {
    let mut update = customer::Entity::update_in(org).filter(customer::Column::Id.eq(customer_id));
    let mut any = false;
    if let Some(name) = &plan.name {
        update = update.col_expr(customer::Column::DisplayName, Expr::value(name.clone()));
        any = true;
    }
    if let Some(phone) = &plan.phone {
        update = update.col_expr(customer::Column::Phone, Expr::value(phone.clone()));
        any = true;
    }
    if let Some(postal) = &plan.postal_address {
        update = update.col_expr(customer::Column::PostalAddress, Expr::value(postal.clone()));
        any = true;
    }
    if any {
        update.exec(db).await?;
    }
    if !plan.removed.is_empty() {
        customer_email::Entity::delete_in(org)
            .filter(customer_email::Column::CustomerId.eq(customer_id))
            .filter(customer_email::Column::Id.is_in(plan.removed.iter().copied()))
            .exec(db)
            .await?;
    }
    for (id, value) in &plan.changed {
        customer_email::Entity::update_in(org)
            .col_expr(customer_email::Column::Email, Expr::value(value.clone()))
            .filter(customer_email::Column::CustomerId.eq(customer_id))
            .filter(customer_email::Column::Id.eq(*id))
            .exec(db)
            .await?;
    }
    if let Some(value) = &plan.added {
        customer_email::ActiveModel {
            organization_id: Set(org),
            customer_id: Set(customer_id),
            email: Set(value.clone()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The record's old values and what replaces them in the customer's messages.
fn replacements(
    record: &customer::Model,
    stored: &[customer_email::Model],
    plan: &Plan,
) -> Vec<history::Replacement> {
    use history::Replacement;
    let mut out = Vec::new();
    if let Some(name) = &plan.name {
        out.push(Replacement::exact(&record.display_name, name));
    }
    let changed: BTreeMap<i64, &str> = plan
        .changed
        .iter()
        .map(|(id, v)| (*id, v.as_str()))
        .collect();
    let first_kept = stored
        .iter()
        .filter(|row| !plan.removed.contains(&row.id))
        .map(|row| changed.get(&row.id).copied().unwrap_or(row.email.as_str()))
        .chain(plan.added.as_deref())
        .next()
        .unwrap_or_default();
    for row in stored {
        if let Some(new) = changed.get(&row.id) {
            out.push(Replacement::address(&row.email, new));
        } else if plan.removed.contains(&row.id) {
            out.push(Replacement::address(&row.email, first_kept));
        }
    }
    if let Some(phone) = &plan.phone
        && let Some(old) = &record.phone
    {
        out.push(Replacement::exact(
            old,
            phone.as_deref().unwrap_or_default(),
        ));
    }
    if let Some(postal) = &plan.postal_address
        && let Some(old) = &record.postal_address
    {
        let new_lines: Vec<&str> = postal.as_deref().unwrap_or_default().lines().collect();
        for (i, line) in old.lines().enumerate() {
            let new = new_lines.get(i).copied().unwrap_or_default();
            if line.trim() != new.trim() {
                out.push(Replacement::exact(line.trim(), new.trim()));
            }
        }
    }
    out.retain(|r| !r.is_noop());
    out
}

/// After the commit: the index catches up and is purged, the WAL is checkpointed, so the old
/// values leave the raw bytes too. A failure here is logged; the indexer retries on its own.
async fn purge_old_values(state: &AppState, customer_id: i64) {
    if let Err(error) = crate::search::indexer::settle(state).await {
        tracing::warn!(%error, customer = customer_id, "rectification: search index purged later");
    }
    if let Err(error) = crate::db::checkpoint(&state.db).await {
        tracing::warn!(%error, customer = customer_id, "rectification: WAL checkpoint failed");
    }
}

/// `POST /customers/{id}/rectify` (admins): corrects the record; a mistake shows the customer
/// page again with the message (422) and changes nothing.
pub async fn rectify(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let record = customers::find(&state.db, org, path.into_inner()).await?;
    let refuse = |key: &'static str| {
        crate::inbox::customer_page::render_with_error(
            &state,
            &scope,
            record.id,
            key,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let form = match Rectification::try_from(fields) {
        Ok(form) => form,
        Err(key) => return refuse(key).await,
    };
    match correct(&state, &scope, &record, form, |details| {
        scope.audit_entry(
            "privacy.rectified",
            format!("customer:{}", record.id),
            details,
        )
    })
    .await?
    {
        Corrected::Fields(_) => Ok(see_other_with_flash(
            &paths::CUSTOMER.at(record.id),
            "flash.privacy_rectified",
        )),
        Corrected::Unchanged => Ok(see_other_with_flash(
            &paths::CUSTOMER.at(record.id),
            "flash.privacy_rectify_unchanged",
        )),
        Corrected::Refused(key) => refuse(key).await,
    }
}

/// What a correction did.
#[derive(Debug, PartialEq, Eq)]
pub enum Corrected {
    /// These fields changed (names only).
    Fields(Vec<&'static str>),
    /// The record already held these values: nothing was written.
    Unchanged,
    /// A mistake (translation key); nothing was changed.
    Refused(&'static str),
}

/// Corrects the customer record `record` of the scope's organization as `form` says: the
/// record, its conversations' copies of the old values, the open rectification request
/// (fulfilled) and the audit entry (`entry`, given the changed fields and the request's
/// reference) in one transaction; then the old values leave the index and the WAL. The
/// customer page's form and the API both come here.
pub async fn correct<'e>(
    state: &AppState,
    scope: &TenantScope,
    record: &customer::Model,
    form: Rectification,
    entry: impl FnOnce(serde_json::Value) -> crate::audit::Entry<'e>,
) -> Result<Corrected, AppError> {
    let org = scope.org();
    // The audit lock before the transaction: the entry commits with the correction.
    let audit_guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    let stored = customers::emails(&txn, org, record.id).await?;
    let plan = match plan(&txn, org, record, &stored, form).await? {
        Ok(plan) => plan,
        Err(key) => return Ok(Corrected::Refused(key)),
    };
    let fields = plan.fields();
    if fields.is_empty() {
        return Ok(Corrected::Unchanged);
    }
    let replacements = replacements(record, &stored, &plan);
    if let Err(error) = apply(&txn, org, record.id, &plan).await {
        return match error.sql_err() {
            // Another customer took the address in the meantime.
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Ok(Corrected::Refused("privacy.rectify.address_taken"))
            }
            _ => Err(error.into()),
        };
    }
    history::rewrite(&txn, org, record.id, &replacements).await?;
    let request = requests::fulfil(
        &txn,
        org,
        record.id,
        Kind::Rectification,
        Some(scope.user_id()),
    )
    .await?;
    state
        .audit
        .record_holding(
            &audit_guard,
            &txn,
            entry(serde_json::json!({ "fields": fields, "request": request.reference })),
        )
        .await?;
    txn.commit().await?;
    drop(audit_guard);
    purge_old_values(state, record.id).await;
    Ok(Corrected::Fields(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_form_reads_changed_removed_and_added_addresses() {
        let parsed = Rectification::try_from(form(&[
            ("csrf", "x"),
            ("name", " Anna Schmidt "),
            ("phone", ""),
            ("postal_address", "Hauptstr. 1\n10115 Berlin"),
            ("email.3", "Anna@Example.test"),
            ("email.4", "old@example.test"),
            ("remove.4", "1"),
            ("new_email", "second@example.test"),
        ]))
        .unwrap();
        assert_eq!(parsed.name.as_str(), "Anna Schmidt");
        assert!(parsed.phone.is_none());
        assert_eq!(
            parsed.addresses[&3].as_ref().map(|e| e.as_str()),
            Some("anna@example.test")
        );
        assert!(parsed.addresses[&4].is_none());
        assert_eq!(
            parsed.added.as_ref().map(|e| e.as_str()),
            Some("second@example.test")
        );
    }

    #[test]
    fn bad_values_name_their_mistake() {
        let bad = |pairs: &[(&str, &str)]| Rectification::try_from(form(pairs)).unwrap_err();
        assert_eq!(bad(&[("name", " ")]), "privacy.record.name_required");
        assert_eq!(
            bad(&[("name", "A"), ("phone", "ring me")]),
            "privacy.record.bad_phone"
        );
        assert_eq!(
            bad(&[("name", "A"), ("email.1", "not an address")]),
            "privacy.rectify.bad_email"
        );
        assert_eq!(
            bad(&[("name", "A"), ("email.x", "a@b.test")]),
            "error.bad_form"
        );
    }
}
