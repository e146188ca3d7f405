//! Replaying the erasure journal after a restore: every entry is done again through the same
//! owners that did it the first time — [`crate::records`] for deletions,
//! `crate::retention::anonymize` for anonymizations — one transaction per entry, then the
//! attachment files no row refers to are removed. Replaying is idempotent: ids already gone
//! are skipped by the deletions, and only rows not yet anonymized are anonymized again. The
//! replay itself is not journaled (the entries are already there).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use super::BackupError;
use super::journal::{Entry, Journal, Kind};
use crate::db::InOrg;
use crate::db::entity::{conversation, customer};
use crate::orgs::OrgId;
use crate::records::{self, Files, Removed};
use crate::state::AppState;

/// What a replay did.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Replayed {
    pub entries: usize,
    pub removed: Removed,
    /// Conversations, customers and notes anonymized again.
    pub anonymized: u64,
    pub attachment_files: u64,
}

/// Replays `entries` (in journal order) against `state`'s database and attachment store.
pub async fn replay(state: &AppState, entries: &[Entry]) -> Result<Replayed, BackupError> {
    let off = Journal::off();
    let mut out = Replayed::default();
    for entry in entries {
        let org = OrgId::from_db(entry.org);
        let ids = entry.ids.as_slice();
        let now = Utc::now();
        let txn = crate::db::begin_write(&state.db).await?;
        let (removed, files): (Removed, Files) = match entry.kind {
            Kind::Customers => {
                let (mut removed, mut files) =
                    records::delete_conversations(&txn, org, &entry.conversations, &off).await?;
                let (more, more_files) = records::delete_customers(&txn, org, ids, &off).await?;
                removed += more;
                files.extend(more_files);
                (removed, files)
            }
            Kind::Conversations => records::delete_conversations(&txn, org, ids, &off).await?,
            Kind::Messages => records::delete_messages(&txn, org, ids, &off).await?,
            Kind::Drafts => {
                records::delete_drafts(&txn, org, ids, &off).await?;
                (Removed::default(), Files::default())
            }
            Kind::Suggestions => {
                records::delete_suggestions(&txn, org, ids, &off).await?;
                (Removed::default(), Files::default())
            }
            Kind::SuggestionsAnonymized => {
                records::anonymize_suggestions(&txn, org, ids, &off).await?;
                (Removed::default(), Files::default())
            }
            Kind::Attachments => records::delete_attachments(&txn, org, ids, &off).await?,
            Kind::AttachmentsOfConversations => {
                records::delete_attachments_of_conversations(&txn, org, ids, &off).await?
            }
            Kind::EmailAddresses => {
                let email_addresses = records::delete_email_addresses(&txn, org, ids, &off).await?;
                (
                    Removed {
                        email_addresses,
                        ..Removed::default()
                    },
                    Files::default(),
                )
            }
            Kind::AnonymizedConversations => {
                let batch = conversation::Entity::lookup_in(org)
                    .filter(conversation::Column::Id.is_in(ids.iter().copied()))
                    .filter(Expr::cust("conversations.anonymized_at IS NULL"))
                    .all(&txn)
                    .await?;
                out.anonymized += batch.len() as u64;
                if batch.is_empty() {
                    (Removed::default(), Files::default())
                } else {
                    let (_, removed, files) =
                        crate::retention::anonymize::conversations(&txn, org, now, &batch, &off)
                            .await?;
                    (removed, files)
                }
            }
            Kind::AnonymizedCustomers => {
                let due: Vec<i64> = customer::Entity::lookup_in(org)
                    .select_only()
                    .column(customer::Column::Id)
                    .filter(customer::Column::Id.is_in(ids.iter().copied()))
                    .filter(Expr::cust("customers.anonymized_at IS NULL"))
                    .into_tuple()
                    .all(&txn)
                    .await?;
                out.anonymized += due.len() as u64;
                crate::retention::anonymize::customers(&txn, org, now, &due, &off).await?;
                (Removed::default(), Files::default())
            }
            Kind::Merged => {
                let kept = match entry.into {
                    Some(kept) => customer::Entity::find_by_id_in(org, kept).one(&txn).await?,
                    None => None,
                };
                let duplicate = match ids.first() {
                    Some(id) => customer::Entity::find_by_id_in(org, *id).one(&txn).await?,
                    None => None,
                };
                // Both still there: merge again, so a later erasure of the kept customer (a
                // later entry) reaches what the duplicate held.
                if let (Some(kept), Some(duplicate)) = (kept, duplicate) {
                    crate::privacy::merge::merge(&txn, org, &kept, &duplicate, &off).await?;
                    out.removed.customers += 1;
                }
                (Removed::default(), Files::default())
            }
            Kind::ConversationsMerged => {
                let kept = match entry.into {
                    Some(kept) => {
                        conversation::Entity::find_by_id_in(org, kept)
                            .one(&txn)
                            .await?
                    }
                    None => None,
                };
                let merged = conversation::Entity::lookup_in(org)
                    .filter(conversation::Column::Id.is_in(ids.iter().copied()))
                    .all(&txn)
                    .await?;
                // Still there: merge again, so later entries about the kept conversation
                // reach what the others held.
                if let Some(kept) = kept
                    && !merged.is_empty()
                {
                    crate::inbox::merge::merge(&txn, org, &kept, &merged, now, &off).await?;
                }
                (Removed::default(), Files::default())
            }
            Kind::AnonymizedNotes => {
                out.anonymized +=
                    crate::retention::anonymize::notes(&txn, org, now, ids, &off).await?;
                (Removed::default(), Files::default())
            }
        };
        txn.commit().await?;
        out.removed += removed;
        out.entries += 1;
        let gone = records::remove_unreferenced_files(&state.db, &state.blobs, files).await?;
        out.attachment_files += gone.removed;
    }
    Ok(out)
}
