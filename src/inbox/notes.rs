//! Internal notes: messages with `direction = "note"` that only the team sees. A note gets a
//! synthetic, unique Message-ID (`note.<random>@lethe.invalid`) and never an outbox row, so it
//! is never sent. Files attached to a note are stored like a reply's (`mail::compose`) and
//! shown under it.
//!
//! Form of the conversation page: `POST /conversations/{id}/notes`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, Set};
use serde::Deserialize;

use super::attach;
use super::conversation::{self, Drafts, ViewQuery};
use super::queries;
use crate::crypto::random_token;
use crate::db::InOrg;
use crate::db::entity::{conversation as conversation_entity, message};
use crate::mail::compose;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::upload::Upload;
use crate::web::{AppError, CsrfUpload};

/// The longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 50_000;

/// Stores a note on a conversation of `org` (checked by the caller) and moves its activity
/// time forward.
pub async fn create(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    author_id: i64,
    author_name: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<message::Model, AppError> {
    let inserted = message::ActiveModel {
        organization_id: Set(org),
        conversation_id: Set(conversation_id),
        direction: Set("note".into()),
        kind: Set("normal".into()),
        message_id_header: Set(format!("note.{}@lethe.invalid", &random_token()[..24])),
        in_reply_to: Set(String::new()),
        references_header: Set(String::new()),
        from_name: Set(author_name.to_owned()),
        from_address: Set(String::new()),
        to_addresses: Set(String::new()),
        cc_addresses: Set(String::new()),
        subject: Set(String::new()),
        text_body: Set(text.to_owned()),
        html_body: Set(None),
        parse_notes: Set("[]".into()),
        author_id: Set(Some(author_id)),
        delivery_status: Set(None),
        delivery_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    conversation_entity::Entity::update_in(org)
        .col_expr(
            conversation_entity::Column::LastActivityAt,
            Expr::case(
                Expr::col(conversation_entity::Column::LastActivityAt).lt(now),
                Expr::val(now),
            )
            .finally(Expr::col(conversation_entity::Column::LastActivityAt))
            .into(),
        )
        .filter(conversation_entity::Column::Id.eq(conversation_id))
        .exec(db)
        .await?;
    Ok(inserted)
}

#[derive(Deserialize)]
pub struct NoteForm {
    text: String,
}

pub async fn add(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfUpload(upload): CsrfUpload<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    let Upload {
        form,
        files,
        rejected,
    } = upload;
    let (text, error) = match checked_text(&form.text) {
        Ok(text) => (text, None),
        Err(key) => ("", Some(key)),
    };
    let problem = attach::problem(&scope.session.tr(), &rejected);
    if error.is_some() || problem.is_some() {
        let drafts = Drafts {
            note_text: form.text.clone(),
            note_error: error,
            note_problem: problem,
            ..Drafts::default()
        };
        let page = conversation::load(&state, &scope, id, &ViewQuery::default(), drafts).await?;
        return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    store(&state, &scope, id, text, attach::new_attachments(files)).await?;
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(id),
        "flash.note_added",
    ))
}

/// The note's text, trimmed: not empty and at most [`MAX_NOTE_CHARS`], else the mistake's
/// translation key.
pub fn checked_text(text: &str) -> Result<&str, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        Err("note.empty")
    } else if text.chars().count() > MAX_NOTE_CHARS {
        Err("note.too_long")
    } else {
        Ok(text)
    }
}

/// Stores a note (its text checked with [`checked_text`]) and its files on a conversation the
/// caller may act on (checked by the caller), written by the scope's user, and tells open
/// pages.
pub async fn store(
    state: &AppState,
    scope: &TenantScope,
    id: i64,
    text: &str,
    files: Vec<compose::NewAttachment>,
) -> Result<message::Model, AppError> {
    let author_name = scope
        .session
        .user
        .as_ref()
        .map(|u| u.display_name.clone())
        .unwrap_or_default();
    // Files first: a committed row never points at a missing file.
    let sealed = compose::seal(files).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let note = create(
        &txn,
        scope.org(),
        id,
        scope.user_id(),
        &author_name,
        text,
        Utc::now(),
    )
    .await?;
    compose::insert_rows(&txn, scope.org(), note.id, &sealed).await?;
    txn.commit().await?;
    queries::publish(state, scope.org(), id);
    // The members the note mentions (`@name`) are told.
    super::notifications::mentioned(state, scope.org(), id, text, scope.user_id()).await;
    Ok(note)
}
