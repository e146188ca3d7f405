//! Drafts: the reply an agent is writing, saved on the server as they type — one per agent and
//! conversation, with its To, Cc and Bcc — and put back into the reply box when the page is
//! opened again. `assets/js/writing.js` saves every few seconds and when the page is left
//! (`fetch`/`sendBeacon` with `quiet=1`: 204); without JavaScript the reply form's *Save draft*
//! button posts the same form here (a redirect back with a confirmation). Sending the reply
//! deletes the draft; undoing a send (src/inbox/undo.rs) writes it back. A save from a page
//! older than the agent's last reply here (its `seen` field) is ignored: it arrived after the
//! send and would bring the sent text back as a draft.
//!
//! A draft is customer data like a message: it is exported with its conversation
//! (src/privacy/export.rs), deleted with it (src/records/), dropped when its conversation is
//! anonymized, and removed by the retention category `unsent_drafts`.
//!
//! Form: `POST /conversations/{id}/draft`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Deserialize;

use super::queries;
use crate::db::InOrg;
use crate::db::entity::draft;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfUpload};

/// The most text a draft keeps (a reply longer than this is not a reply).
const MAX_TEXT_BYTES: usize = 512 * 1024;

/// What the reply box holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DraftFields {
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub text: String,
}

impl DraftFields {
    /// Nothing worth keeping: no text and no copies.
    fn is_blank(&self) -> bool {
        self.text.trim().is_empty() && self.cc.trim().is_empty() && self.bcc.trim().is_empty()
    }
}

impl From<draft::Model> for DraftFields {
    fn from(d: draft::Model) -> Self {
        Self {
            to: d.to_addresses,
            cc: d.cc_addresses,
            bcc: d.bcc_addresses,
            text: d.text_body,
        }
    }
}

/// The agent's draft in this conversation, if any.
pub async fn of(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    user_id: i64,
) -> Result<Option<draft::Model>, DbErr> {
    draft::Entity::lookup_in(org)
        .filter(draft::Column::ConversationId.eq(conversation_id))
        .filter(draft::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// Every draft of a conversation (all agents'), oldest first: for the customer's export.
pub async fn of_conversation(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
) -> Result<Vec<draft::Model>, DbErr> {
    draft::Entity::lookup_in(org)
        .filter(draft::Column::ConversationId.eq(conversation_id))
        .order_by_asc(draft::Column::Id)
        .all(db)
        .await
}

/// Writes the agent's draft (one row per agent and conversation); a blank box deletes it.
pub async fn save(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    user_id: i64,
    fields: &DraftFields,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if fields.is_blank() {
        return discard(db, org, conversation_id, user_id).await;
    }
    let row = draft::ActiveModel {
        organization_id: Set(org),
        conversation_id: Set(conversation_id),
        user_id: Set(user_id),
        to_addresses: Set(fields.to.clone()),
        cc_addresses: Set(fields.cc.clone()),
        bcc_addresses: Set(fields.bcc.clone()),
        text_body: Set(fields.text.clone()),
        updated_at: Set(now),
        ..Default::default()
    };
    draft::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([draft::Column::ConversationId, draft::Column::UserId])
                .update_columns([
                    draft::Column::ToAddresses,
                    draft::Column::CcAddresses,
                    draft::Column::BccAddresses,
                    draft::Column::TextBody,
                    draft::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Appends `text` below the agent's draft in this conversation, or starts one addressed as a
/// reply would be (what *Insert* does for orders, articles, suggestions and the language
/// model's draft).
pub async fn append(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    user_id: i64,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut fields = match of(db, org, conversation_id, user_id).await? {
        Some(draft) => DraftFields::from(draft),
        None => DraftFields {
            to: crate::mail::outbound::reply_defaults(db, org, conversation_id, false)
                .await?
                .to
                .unwrap_or_default(),
            ..Default::default()
        },
    };
    fields.text = if fields.text.trim().is_empty() {
        text.to_owned()
    } else {
        format!("{}\n\n{text}", fields.text.trim_end())
    };
    save(db, org, conversation_id, user_id, &fields, now).await?;
    Ok(())
}

/// Deletes the agent's draft in this conversation (the reply was sent, or the box emptied).
pub async fn discard(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    user_id: i64,
) -> Result<(), DbErr> {
    draft::Entity::delete_many()
        .filter(draft::Entity::org_check(org))
        .filter(draft::Column::ConversationId.eq(conversation_id))
        .filter(draft::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes every draft in these conversations (called by `crate::records` and anonymization).
pub async fn forget_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversations: &[i64],
) -> Result<u64, DbErr> {
    crate::records::delete_rows_in::<draft::Entity>(
        db,
        org,
        draft::Column::ConversationId,
        conversations,
    )
    .await
}

/// Deletes a member's drafts in the organization (they left it, or their account went).
pub async fn forget_user(
    db: &impl ConnectionTrait,
    org: OrgId,
    user_id: i64,
) -> Result<u64, DbErr> {
    Ok(draft::Entity::delete_in(org)
        .filter(draft::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected)
}

/// Drafts of `org` last saved before `cutoff` (the `unsent_drafts` rule): counted, or (with
/// the erasure journal) deleted.
pub async fn older_than(
    db: &impl ConnectionTrait,
    org: OrgId,
    cutoff: DateTime<Utc>,
    delete: Option<&crate::backup::journal::Journal>,
) -> Result<u64, DbErr> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    let Some(log) = delete else {
        return draft::Entity::find_in(org)
            .filter(draft::Column::UpdatedAt.lt(cutoff))
            .count(db)
            .await;
    };
    let due: Vec<i64> = draft::Entity::find_in(org)
        .select_only()
        .column(draft::Column::Id)
        .filter(draft::Column::UpdatedAt.lt(cutoff))
        .into_tuple()
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    crate::records::delete_drafts(db, org, &due, log).await
}

#[derive(Deserialize)]
pub struct DraftForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cc: String,
    #[serde(default)]
    bcc: String,
    /// Set by the script: answer 204 instead of the page.
    #[serde(default)]
    quiet: String,
    /// The newest message the page showed (the reply form's `seen`).
    #[serde(default)]
    seen: String,
}

/// Did the agent send a reply here after the page (that showed messages up to `seen`) was
/// loaded? Then a save from that page arrives late — a timer or the way out racing the send —
/// and would bring back the draft the send just deleted.
async fn sent_since(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    user_id: i64,
    seen: i64,
) -> Result<bool, DbErr> {
    use crate::db::entity::message;
    use sea_orm::QuerySelect;
    let sent: Option<i64> = message::Entity::lookup_in(org)
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Direction.eq("outbound"))
        .filter(message::Column::AuthorId.eq(user_id))
        .filter(message::Column::Id.gt(seen))
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(sent.is_some())
}

pub async fn save_draft(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfUpload(upload): CsrfUpload<DraftForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    // Refuses a restricted customer's conversation: no reply box, no draft.
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    let form = upload.form;
    if form.text.len() > MAX_TEXT_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let stale = match super::collision::parse_seen(&form.seen) {
        Some(seen) => sent_since(&state.db, scope.org(), id, scope.user_id(), seen).await?,
        None => false,
    };
    if !stale {
        let fields = DraftFields {
            to: form.to,
            cc: form.cc,
            bcc: form.bcc,
            text: form.text,
        };
        save(
            &state.db,
            scope.org(),
            id,
            scope.user_id(),
            &fields,
            Utc::now(),
        )
        .await?;
    }
    if form.quiet.is_empty() {
        Ok(see_other_with_flash(
            &paths::CONVERSATION.at(id),
            "flash.draft_saved",
        ))
    } else {
        Ok(HttpResponse::NoContent().finish())
    }
}
