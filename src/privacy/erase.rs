//! Erasure (the right to be forgotten): a customer, their addresses, conversations, messages
//! (internal notes too), outbox rows, conversation tags, and the attachment files nothing else
//! refers to — rows in one transaction, files after the commit — then the search index catches
//! up and purges its segments, and SQLite's WAL is checkpointed, so the raw bytes of the data
//! directory hold no trace of the person (DESIGN.md invariant 3). A deletion receipt records the
//! counts; it and the audit entry name only the request's random reference.
//!
//! Legal hold blocks erasure: a customer on hold, or with any conversation on hold, is not
//! erased ([`holds`]; [`erase`] answers [`PrivacyError::OnHold`] and changes nothing).
//!
//! Page: `/customers/{id}/erase` (admins and owners): what erasing would remove, and its post
//! that erases and leads to the receipt (`super::receipt`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect, Set};
use serde::{Deserialize, Serialize};

use super::PrivacyError;
use super::requests::{self, Kind, Status};
use crate::audit::{self, Actor};
use crate::db::InOrg;
use crate::db::entity::deletion_receipt;
use crate::db::entity::{conversation, customer, customer_email};
use crate::orgs::{OrgId, TenantScope};
use crate::records;
use crate::search::indexer::Settled;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page, render};

/// How many records of each category an erasure removes (or would remove): the rows, and the
/// attachment files no other attachment shares. Stored in the deletion receipt (the same flat
/// JSON keys as before: the rows' counts and `attachment_files`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(flatten)]
    pub removed: records::Removed,
    /// Attachment files removed from the store (a file shared with a remaining attachment
    /// stays).
    pub attachment_files: u64,
}

impl Counts {
    /// The categories in display order: (translation key, count).
    pub fn rows(&self) -> [(&'static str, u64); 9] {
        let rows = &self.removed;
        [
            ("privacy.count.customers", rows.customers),
            ("privacy.count.email_addresses", rows.email_addresses),
            ("privacy.count.conversations", rows.conversations),
            ("privacy.count.messages", rows.messages),
            ("privacy.count.internal_notes", rows.internal_notes),
            ("privacy.count.attachments", rows.attachments),
            ("privacy.count.attachment_files", self.attachment_files),
            ("privacy.count.outbox", rows.outbox),
            ("privacy.count.conversation_tags", rows.conversation_tags),
        ]
    }
}

/// Who erases: a signed-in user (with their client) or the command line.
pub struct Performer<'a> {
    pub user_id: Option<i64>,
    /// The audit log's actor: the user's email address, or `system:cli`.
    pub actor: Actor,
    pub client: Option<&'a ClientInfo>,
    /// The requester is the person by holding what only they hold (a chat visitor's id): the
    /// request is recorded as verified.
    pub holder_verified: bool,
}

impl<'a> Performer<'a> {
    /// A signed-in user (or an API key's creator) acting in their organization.
    pub fn of(scope: &'a crate::orgs::TenantScope) -> Self {
        Performer {
            user_id: Some(scope.user_id()),
            actor: scope.actor(),
            client: Some(scope.client()),
            holder_verified: false,
        }
    }

    fn label(&self) -> String {
        match &self.actor {
            Actor::User { email, .. } => email.clone(),
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::System(name) => format!("system:{name}"),
        }
    }
}

/// What an erasure did.
#[derive(Debug)]
pub struct Erasure {
    pub counts: Counts,
    pub receipt_id: i64,
    pub reference: String,
    /// Steps after the commit that failed (the rows are gone; these are caught up later or
    /// need the operator): `attachment_files`, `search_index`, `checkpoint`.
    pub incomplete: Vec<&'static str>,
}

async fn conversation_ids(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    conversation::Entity::find_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .into_tuple()
        .all(db)
        .await
}

/// A legal hold that blocks an erasure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    Customer { reason: String },
    Conversation { id: i64, reason: String },
}

impl Hold {
    pub fn reason(&self) -> &str {
        match self {
            Hold::Customer { reason } | Hold::Conversation { reason, .. } => reason,
        }
    }

    /// The conversation on hold, or None for the customer record itself.
    pub fn conversation(&self) -> Option<i64> {
        match self {
            Hold::Customer { .. } => None,
            Hold::Conversation { id, .. } => Some(*id),
        }
    }
}

/// The holds in words, for the command line (admins' own reasons; nothing of the customer).
pub fn describe_holds(holds: &[Hold]) -> String {
    let parts: Vec<String> = holds
        .iter()
        .map(|hold| match hold {
            Hold::Customer { reason } => format!("the customer is on legal hold ({reason})"),
            Hold::Conversation { id, reason } => {
                format!("conversation {id} is on legal hold ({reason})")
            }
        })
        .collect();
    format!("erasure refused: {}", parts.join("; "))
}

/// The legal holds on the customer and their conversations; erasure needs none.
pub async fn holds(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Vec<Hold>, sea_orm::DbErr> {
    let mut out = Vec::new();
    if let Some(reason) = crate::retention::hold::customer_hold(db, org, customer_id).await? {
        out.push(Hold::Customer { reason });
    }
    let held: Vec<(i64, Option<String>)> = conversation::Entity::find_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .column_as(
            sea_orm::sea_query::Expr::cust("conversations.legal_hold_reason"),
            "legal_hold_reason",
        )
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .filter(sea_orm::sea_query::Expr::cust(
            "conversations.legal_hold_reason IS NOT NULL",
        ))
        .into_tuple()
        .all(db)
        .await?;
    out.extend(held.into_iter().map(|(id, reason)| Hold::Conversation {
        id,
        reason: reason.unwrap_or_default(),
    }));
    Ok(out)
}

/// The customer, if it belongs to `org`.
pub async fn find_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Option<customer::Model>, sea_orm::DbErr> {
    customer::Entity::find_by_id_in(org, customer_id)
        .one(db)
        .await
}

/// The customer holding this address in `org` (addresses are stored lowercased).
pub async fn customer_by_email(
    db: &impl ConnectionTrait,
    org: OrgId,
    email: &crate::mail::EmailAddress,
) -> Result<Option<i64>, sea_orm::DbErr> {
    customer_email::Entity::find_in(org)
        .select_only()
        .column(customer_email::Column::CustomerId)
        .filter(customer_email::Column::Email.eq(email.as_str()))
        .into_tuple::<i64>()
        .one(db)
        .await
}

/// What erasing this customer would remove (the confirmation page and `--yes`-less CLI).
/// `attachment_files` counts the files no other attachment of the organization shares.
pub async fn preview(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Counts, sea_orm::DbErr> {
    Ok(Counts {
        removed: records::count_customers(db, org, &[customer_id]).await?,
        attachment_files: records::files_only_in(
            db,
            org,
            &conversation_ids(db, org, customer_id).await?,
        )
        .await?,
    })
}

/// Erases a customer of `org` and everything about them; see the module documentation.
pub async fn erase(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
    performer: Performer<'_>,
) -> Result<Erasure, PrivacyError> {
    // Access entries still queued for this customer are written first, so the erasure
    // removes them too (the writer also drops entries of customers already gone).
    state.access.flush().await;
    // The audit lock before the transaction (the lock order of `AuditLog::exclusive`): the
    // entry commits with the erasure.
    let audit_guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    if find_customer(&txn, org, customer_id).await?.is_none() {
        return Err(PrivacyError::NotFound);
    }
    let on_hold = holds(&txn, org, customer_id).await?;
    if !on_hold.is_empty() {
        // Dropping the transaction rolls it back: nothing was changed.
        return Err(PrivacyError::OnHold(on_hold));
    }
    let request = requests::open_or_create(&txn, org, customer_id, Kind::Erasure).await?;
    requests::forget_customer(&txn, org, customer_id).await?;
    let conversations = conversation_ids(&txn, org, customer_id).await?;
    let attachment_files = records::files_only_in(&txn, org, &conversations).await?;
    // Block entries naming the person's addresses (src/inbox/spam.rs), while the addresses
    // still say which. Retention keeps them: a block outlives the spam it was made for.
    crate::inbox::spam::forget_customers(&txn, org, &[customer_id]).await?;
    let (removed, files) =
        records::delete_customers(&txn, org, &[customer_id], &state.journal).await?;
    crate::webhooks::emit(
        &txn,
        org,
        crate::webhooks::Event::CustomerErased { customer_id },
    )
    .await?;
    let counts = Counts {
        removed,
        attachment_files,
    };
    // Verified the way a link's confirmation is, and logged the same way.
    if performer.holder_verified {
        requests::verify(
            state,
            &audit_guard,
            &txn,
            &request,
            performer.actor.clone(),
            performer.client,
        )
        .await?;
    }
    requests::close(&txn, org, request.id, Status::Completed, performer.user_id).await?;
    let receipt = deletion_receipt::ActiveModel {
        organization_id: Set(org),
        request_id: Set(request.id),
        created_at: Set(Utc::now()),
        performed_by: Set(performer.label()),
        counts: Set(serde_json::to_string(&counts).map_err(PrivacyError::internal)?),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    state
        .audit
        .record_holding(
            &audit_guard,
            &txn,
            audit::Entry {
                org: Some(org),
                actor: performer.actor.clone(),
                action: "privacy.erased",
                target: request.reference.clone(),
                client: performer.client,
                details: serde_json::json!({ "receipt": receipt.id, "counts": counts }),
            },
        )
        .await?;
    txn.commit().await?;
    drop(audit_guard);
    // Orders fetched from the shops are held in memory only: they go with the person.
    state.orders.forget(org, customer_id);

    let mut incomplete = Vec::new();
    match records::remove_unreferenced_files(&state.db, &state.blobs, files).await {
        Ok(files) if files.failed == 0 => {}
        Ok(_) => incomplete.push("attachment_files"),
        Err(error) => {
            tracing::error!(%error, receipt = receipt.id, "erasure: attachment files not removed");
            incomplete.push("attachment_files");
        }
    }
    match crate::search::indexer::settle(state).await {
        Ok(Settled::Done) => {}
        // The running server holds the index (this is the command line): its indexer drains
        // the durable queue the triggers filled, and purges, within a second.
        Ok(Settled::HeldElsewhere) => {
            tracing::info!(
                receipt = receipt.id,
                "erasure: the server's indexer purges the index"
            );
        }
        Err(error) => {
            tracing::error!(%error, receipt = receipt.id, "erasure: search index not purged yet");
            incomplete.push("search_index");
        }
    }
    if let Err(error) = crate::db::checkpoint(&state.db).await {
        tracing::error!(%error, receipt = receipt.id, "erasure: WAL checkpoint failed");
        incomplete.push("checkpoint");
    }
    tracing::info!(receipt = receipt.id, "customer erased");
    Ok(Erasure {
        counts,
        receipt_id: receipt.id,
        reference: request.reference,
        incomplete,
    })
}

#[derive(Template)]
#[template(path = "privacy/erase_confirm.html")]
struct EraseConfirmPage {
    page: Page,
    customer_id: i64,
    name: String,
    counts: Counts,
    /// Legal holds that block the erasure: when any, the page shows them and no button.
    holds: Vec<Hold>,
    /// An open erasure request whose requester is not verified: the form asks for an
    /// override reason (src/privacy/verify.rs).
    unverified: bool,
}

impl EraseConfirmPage {
    /// The counts' rows with a stable name for each category (`data-category`).
    fn count_rows(&self) -> Vec<(&'static str, &'static str, u64)> {
        self.counts
            .rows()
            .into_iter()
            .map(|(key, n)| (key, key.trim_start_matches("privacy.count."), n))
            .collect()
    }
}

async fn erase_confirm_page(
    state: &AppState,
    scope: &TenantScope,
    customer_id: i64,
) -> Result<EraseConfirmPage, AppError> {
    let found = find_customer(&state.db, scope.org(), customer_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let counts = preview(&state.db, scope.org(), found.id).await?;
    let holds = holds(&state.db, scope.org(), found.id).await?;
    let unverified =
        super::verify::needs_override(&state.db, scope.org(), found.id, Kind::Erasure).await?;
    Ok(EraseConfirmPage {
        page: Page::new(state, &scope.session, "inbox").await?,
        customer_id: found.id,
        name: found.display_name,
        counts,
        holds,
        unverified,
    })
}

/// `GET /customers/{id}/erase`: what erasing would remove, and the button that does it.
pub async fn confirm(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render(&erase_confirm_page(&state, &scope, path.into_inner()).await?)
}

#[derive(serde::Deserialize)]
pub struct EraseForm {
    /// Why an open erasure request is fulfilled although its requester is not verified.
    #[serde(default)]
    override_reason: Option<String>,
}

/// `POST /customers/{id}/erase`: erases, then shows the deletion receipt. A legal hold
/// refuses it: the confirmation page again, with the reason (409), and nothing changed.
pub async fn apply(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<EraseForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let customer_id = path.into_inner();
    super::verify::check_or_override(
        &state,
        &scope,
        customer_id,
        Kind::Erasure,
        &form.override_reason,
    )
    .await?;
    let result = erase(&state, scope.org(), customer_id, Performer::of(&scope)).await;
    let erasure = match result {
        Ok(erasure) => erasure,
        Err(PrivacyError::OnHold(_)) => {
            let page = erase_confirm_page(&state, &scope, customer_id).await?;
            return render_with_status(&page, StatusCode::CONFLICT);
        }
        Err(error) => return Err(error.into()),
    };
    let flash = if erasure.incomplete.is_empty() {
        "flash.privacy_erased"
    } else {
        "flash.privacy_erased_incomplete"
    };
    Ok(see_other_with_flash(
        &paths::PRIVACY_RECEIPT.at(erasure.receipt_id),
        flash,
    ))
}
