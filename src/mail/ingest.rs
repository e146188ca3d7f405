//! Storing inbound mail: duplicate detection by `(organization, Message-ID)`, threading
//! (In-Reply-To/References, then the `[#TOKEN]` in the subject, also of a conversation merged
//! into another, else a new conversation),
//! finding or creating the customer by From address, and sealing attachments. A message is
//! acknowledged to its source only after the transaction that stores it has committed.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlErr,
};

use super::MailError;
use super::blobs::BlobStore;
use super::parse::{self, Limits, MailKind, ParsedMail, RejectReason};
use crate::db::InOrg;
use crate::db::entity::{attachment, conversation, customer, customer_email, message};
use crate::inbox::events::InboxEvent;
use crate::orgs::OrgId;
use crate::state::AppState;

/// What happened to one inbound message.
#[derive(Debug)]
pub enum Outcome {
    Stored {
        conversation_id: i64,
        message_id: i64,
        new_conversation: bool,
    },
    /// The organization has this Message-ID already: a re-delivery, stored once.
    Duplicate,
    /// Sent from one of the organization's own channel addresses (an alias forwarding to
    /// another, a loop through the mailbox): not a customer's mail, not stored, never
    /// answered. A copy of a reply Lethe sent is a [`Outcome::Duplicate`] (its Message-ID).
    OwnMail,
    Rejected(RejectReason),
}

/// Where a message comes from, for threading decisions and timestamps.
#[derive(Clone, Copy, Debug)]
pub struct Source {
    pub org: OrgId,
    pub channel_id: Option<i64>,
    /// Imported mail keeps its own date; live mail is dated when it arrives.
    pub keep_original_date: bool,
}

pub fn limits(state: &AppState) -> Limits {
    Limits {
        max_message_bytes: state.config.max_message_bytes,
        max_attachment_bytes: state.config.max_attachment_bytes,
    }
}

/// Parses and stores one raw message in its own transaction, then tells open inbox pages.
pub async fn ingest_raw(
    state: &AppState,
    source: Source,
    raw: Vec<u8>,
) -> Result<Outcome, MailError> {
    let limits = limits(state);
    let parsed = tokio::task::spawn_blocking(move || parse::parse(&raw, &limits)).await?;
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(reason) => return Ok(Outcome::Rejected(reason)),
    };
    let own = super::channel::organization_addresses(&state.db, source.org).await?;
    if super::channel::is_one_of(&parsed.from.address, &own) {
        return Ok(Outcome::OwnMail);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let outcome = match store_parsed(&txn, &state.blobs, source, parsed).await {
        Ok(outcome) => outcome,
        Err(MailError::Database(error)) if is_unique_violation(&error) => {
            return Ok(Outcome::Duplicate);
        }
        Err(error) => return Err(error),
    };
    if let Outcome::Stored {
        conversation_id,
        message_id,
        new_conversation,
    } = &outcome
    {
        if *new_conversation {
            crate::webhooks::emit(
                &txn,
                source.org,
                crate::webhooks::Event::ConversationCreated {
                    conversation_id: *conversation_id,
                },
            )
            .await?;
        }
        crate::webhooks::emit(
            &txn,
            source.org,
            crate::webhooks::Event::MessageCreated {
                message_id: *message_id,
            },
        )
        .await?;
    }
    match txn.commit().await {
        Ok(()) => {}
        Err(error) if is_unique_violation(&error) => return Ok(Outcome::Duplicate),
        Err(error) => return Err(error.into()),
    }
    if let Outcome::Stored {
        conversation_id,
        new_conversation,
        ..
    } = &outcome
    {
        state.events.publish(InboxEvent {
            org: source.org,
            conversation_id: *conversation_id,
        });
        // The customer answered: the conversation's assignee is told.
        if !*new_conversation {
            crate::inbox::notifications::customer_answered(state, source.org, *conversation_id)
                .await;
        }
    }
    Ok(outcome)
}

fn is_unique_violation(error: &sea_orm::DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Stores a parsed message inside the caller's transaction (import batches many).
pub async fn store_parsed(
    db: &impl ConnectionTrait,
    blobs: &BlobStore,
    source: Source,
    parsed: ParsedMail,
) -> Result<Outcome, MailError> {
    let parsed = without_nul_characters(parsed);
    let org = source.org;
    let existing = message::Entity::find_in(org)
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::MessageIdHeader.eq(parsed.message_id.as_str()))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    if existing.is_some() {
        return Ok(Outcome::Duplicate);
    }
    let now = Utc::now();
    let received_at = if source.keep_original_date {
        parsed.date.filter(|d| *d <= now).unwrap_or(now)
    } else {
        now
    };
    let threaded = thread(db, source.org, &parsed).await?;
    // An outside party answering a forward: kept for the team, not a customer's message.
    let forward_answer = match threaded {
        Some(id) => answers_forward(db, org, id, &parsed).await?,
        None => false,
    };
    // A blocked sender's mail goes straight to spam and reopens nothing (src/inbox/spam.rs).
    let blocked = crate::inbox::spam::is_blocked(db, org, &parsed.from.address).await?;
    let (conversation_id, new_conversation) = match threaded {
        Some(id) if forward_answer => (id, false),
        Some(id) => {
            find_or_create_customer(db, source.org, &parsed, received_at).await?;
            (id, false)
        }
        None => {
            let customer_id = find_or_create_customer(db, source.org, &parsed, received_at).await?;
            (
                create_conversation(db, source, customer_id, &parsed, received_at, blocked).await?,
                true,
            )
        }
    };

    // Files first: a committed row never points at a missing file.
    let mut stored_attachments = Vec::with_capacity(parsed.attachments.len());
    let mut notes = parsed.notes.clone();
    for part in &parsed.attachments {
        match blobs.put_async(&part.data).await {
            Ok(blob_id) => stored_attachments.push((part, blob_id)),
            Err(error) => {
                tracing::error!(%error, "attachment not stored");
                notes.push(format!(
                    "Attachment '{}' could not be stored.",
                    part.filename
                ));
            }
        }
    }
    let mut row = inbound_row(source, conversation_id, &parsed, &notes, received_at);
    if forward_answer {
        row.direction = Set("note".into());
        row.kind = Set(FORWARD_ANSWER.into());
    }
    let inserted = row.insert(db).await?;
    for (part, blob_id) in stored_attachments {
        attachment_row(org, inserted.id, part, blob_id)
            .insert(db)
            .await?;
    }
    if forward_answer {
        // Like a note: moves the conversation up, counts no customer message, reopens nothing.
        touch_conversation_by(db, conversation_id, 0, received_at, false).await?;
    } else {
        touch_conversation(
            db,
            conversation_id,
            received_at,
            parsed.kind == MailKind::Normal && !new_conversation && !blocked,
        )
        .await?;
    }
    Ok(Outcome::Stored {
        conversation_id,
        message_id: inserted.id,
        new_conversation,
    })
}

/// PostgreSQL text cannot hold NUL characters, and no reader needs them: real mail has them
/// (broken encoders), so they are dropped from everything stored.
pub(crate) fn without_nul_characters(mut parsed: ParsedMail) -> ParsedMail {
    fn clean(value: &mut String) {
        if value.contains('\0') {
            *value = value.replace('\0', "");
        }
    }
    clean(&mut parsed.message_id);
    clean(&mut parsed.subject);
    clean(&mut parsed.text);
    if let Some(html) = parsed.html.as_mut() {
        clean(html);
    }
    for id in parsed
        .in_reply_to
        .iter_mut()
        .chain(parsed.references.iter_mut())
    {
        clean(id);
    }
    for mailbox in std::iter::once(&mut parsed.from)
        .chain(parsed.to.iter_mut())
        .chain(parsed.cc.iter_mut())
    {
        clean(&mut mailbox.address);
        if let Some(name) = mailbox.name.as_mut() {
            clean(name);
        }
    }
    for note in &mut parsed.notes {
        clean(note);
    }
    for attachment in &mut parsed.attachments {
        clean(&mut attachment.filename);
        clean(&mut attachment.content_type);
        if let Some(id) = attachment.content_id.as_mut() {
            clean(id);
        }
    }
    if let Some(token) = parsed.conversation_token.as_mut() {
        clean(token);
    }
    parsed
}

/// The kind of an outside party's answer to a forward, stored with `direction = "note"`: the
/// team sees it like an internal note; it is never taken for the customer's mail, never
/// answered, quoted or shown to the customer.
pub const FORWARD_ANSWER: &str = "forward_answer";

/// Whether `parsed`, threaded into `conversation_id`, answers a forward of that conversation:
/// it answers a forward's Message-ID, or it comes from an address a forward went to. Mail
/// from one of the customer's own addresses never is.
async fn answers_forward(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    parsed: &ParsedMail,
) -> Result<bool, MailError> {
    let forwards: Vec<(String, String)> = message::Entity::find_in(org)
        .select_only()
        .column(message::Column::MessageIdHeader)
        .column(message::Column::ToAddresses)
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Kind.eq("forward"))
        .filter(message::Column::Direction.eq("outbound"))
        .into_tuple()
        .all(db)
        .await?;
    if forwards.is_empty() {
        return Ok(false);
    }
    let customer_id = conversation::Entity::find_by_id_in(org, conversation_id)
        .select_only()
        .column(conversation::Column::CustomerId)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    let customer_addresses: Vec<String> = customer_email::Entity::find_in(org)
        .select_only()
        .column(customer_email::Column::Email)
        .filter(customer_email::Column::CustomerId.eq(customer_id.unwrap_or_default()))
        .into_tuple()
        .all(db)
        .await?;
    let from = parsed.from.address.as_str();
    if customer_addresses
        .iter()
        .any(|a| a.eq_ignore_ascii_case(from))
    {
        return Ok(false);
    }
    let answers_one = parsed
        .in_reply_to
        .iter()
        .chain(&parsed.references)
        .any(|id| forwards.iter().any(|(forward, _)| forward == id));
    let written_to = forwards
        .iter()
        .any(|(_, to)| super::compose::split_stored(to).any(|a| a.eq_ignore_ascii_case(from)));
    Ok(answers_one || written_to)
}

fn kind_str(kind: MailKind) -> &'static str {
    match kind {
        MailKind::Normal => "normal",
        MailKind::AutoReply => "auto_reply",
        MailKind::Bulk => "bulk",
        MailKind::Bounce => "bounce",
    }
}

fn join_addresses(list: &[parse::Mailbox]) -> String {
    list.iter()
        .map(|m| m.address.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The conversation this message belongs to, if any: by the Message-IDs it answers (most
/// recent first), then by the conversation token in its subject.
async fn thread(
    db: &impl ConnectionTrait,
    org: OrgId,
    parsed: &ParsedMail,
) -> Result<Option<i64>, MailError> {
    let mut candidates: Vec<&str> = parsed.in_reply_to.iter().map(String::as_str).collect();
    candidates.extend(parsed.references.iter().rev().map(String::as_str));
    candidates.retain(|id| !id.is_empty());
    if !candidates.is_empty() {
        let found: Vec<(String, i64)> = message::Entity::find_in(org)
            .select_only()
            .column(message::Column::MessageIdHeader)
            .column(message::Column::ConversationId)
            .filter(message::Column::MessageIdHeader.is_in(candidates.clone()))
            .into_tuple()
            .all(db)
            .await?;
        for candidate in &candidates {
            if let Some((_, conversation_id)) = found.iter().find(|(id, _)| id == candidate) {
                return Ok(Some(*conversation_id));
            }
        }
    }
    if let Some(token) = &parsed.conversation_token {
        let found = conversation_with_token(db, org, token).await?;
        if found.is_some() {
            return Ok(found);
        }
        // The token of a conversation merged into another (src/inbox/merge.rs).
        let merged = crate::inbox::merge::target_of_token(db, org, token).await?;
        if merged.is_some() {
            return Ok(merged);
        }
    }
    Ok(None)
}

async fn find_or_create_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    parsed: &ParsedMail,
    at: DateTime<Utc>,
) -> Result<i64, MailError> {
    let address = parsed.from.address.as_str();
    let found = customer_email::Entity::find_in(org)
        .select_only()
        .column(customer_email::Column::CustomerId)
        .filter(customer_email::Column::Email.eq(address))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    if let Some(id) = found {
        return Ok(id);
    }
    let created = customer::ActiveModel {
        organization_id: Set(org),
        display_name: Set(customer_name(parsed)),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    customer_email::ActiveModel {
        organization_id: Set(org),
        customer_id: Set(created.id),
        email: Set(address.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(created.id)
}

/// The name a new customer gets: the From display name, else the address's local part.
pub(crate) fn customer_name(parsed: &ParsedMail) -> String {
    let name = parsed
        .from
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| parsed.from.local_part().to_owned());
    name.chars().take(200).collect()
}

/// The row of an inbound message.
pub(crate) fn inbound_row(
    source: Source,
    conversation_id: i64,
    parsed: &ParsedMail,
    notes: &[String],
    received_at: DateTime<Utc>,
) -> message::ActiveModel {
    message::ActiveModel {
        organization_id: Set(source.org),
        conversation_id: Set(conversation_id),
        direction: Set("inbound".into()),
        kind: Set(kind_str(parsed.kind).into()),
        message_id_header: Set(parsed.message_id.clone()),
        in_reply_to: Set(parsed.in_reply_to.join(" ")),
        references_header: Set(parsed.references.join(" ")),
        from_name: Set(parsed.from.name.clone().unwrap_or_default()),
        from_address: Set(parsed.from.address.clone()),
        to_addresses: Set(join_addresses(&parsed.to)),
        cc_addresses: Set(join_addresses(&parsed.cc)),
        subject: Set(parsed.subject.clone()),
        text_body: Set(parsed.text.clone()),
        html_body: Set(parsed.html.clone()),
        parse_notes: Set(serde_json::to_string(notes).unwrap_or_else(|_| "[]".into())),
        author_id: Set(None),
        delivery_status: Set(None),
        delivery_error: Set(None),
        sent_at: Set(parsed.date),
        created_at: Set(received_at),
        ..Default::default()
    }
}

/// The row of a sealed attachment of message `message_id`.
pub(crate) fn attachment_row(
    org: OrgId,
    message_id: i64,
    part: &parse::Attachment,
    blob_id: String,
) -> attachment::ActiveModel {
    attachment::ActiveModel {
        organization_id: Set(org),
        message_id: Set(message_id),
        filename: Set(part.filename.clone()),
        content_type: Set(part.content_type.clone()),
        content_id: Set(part.content_id.clone()),
        inline: Set(part.inline),
        size: Set(i64::try_from(part.data.len()).unwrap_or(i64::MAX)),
        blob_id: Set(blob_id),
        ..Default::default()
    }
}

async fn create_conversation(
    db: &impl ConnectionTrait,
    source: Source,
    customer_id: i64,
    parsed: &ParsedMail,
    at: DateTime<Utc>,
    spam: bool,
) -> Result<i64, MailError> {
    let token = unused_token(db, source.org).await?;
    let subject = parse::strip_subject_prefixes(&parsed.subject)
        .trim()
        .to_owned();
    let created = conversation::ActiveModel {
        organization_id: Set(source.org),
        channel_id: Set(source.channel_id),
        customer_id: Set(customer_id),
        token: Set(token),
        subject: Set(subject),
        status: Set(if spam { "spam" } else { "open" }.into()),
        assignee_id: Set(None),
        message_count: Set(0),
        created_at: Set(at),
        last_activity_at: Set(at),
        // For spam, when it was marked: the retention category `spam` counts from here.
        closed_at: Set(spam.then_some(at)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if !spam {
        // Its SLA due times, counted from now (src/sla/).
        crate::sla::compute(db, source.org, &[created.id]).await?;
    }
    Ok(created.id)
}

/// A fresh conversation token of this organization.
pub async fn unused_token(db: &impl ConnectionTrait, org: OrgId) -> Result<String, MailError> {
    loop {
        let token = random_conversation_token();
        if conversation_with_token(db, org, &token).await?.is_none()
            && crate::inbox::merge::target_of_token(db, org, &token)
                .await?
                .is_none()
        {
            return Ok(token);
        }
    }
}

/// The organization's conversation with this token, if any.
async fn conversation_with_token(
    db: &impl ConnectionTrait,
    org: OrgId,
    token: &str,
) -> Result<Option<i64>, sea_orm::DbErr> {
    conversation::Entity::find_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::Token.eq(token))
        .into_tuple::<i64>()
        .one(db)
        .await
}

pub(crate) fn random_conversation_token() -> String {
    let alphabet = parse::TOKEN_ALPHABET.as_bytes();
    let mut bytes = [0u8; parse::TOKEN_LEN];
    let _ = getrandom::fill(&mut bytes);
    bytes
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect()
}

/// Counts the message, moves the activity time forward and reopens a pending, closed or
/// snoozed conversation when a customer writes again (never one marked as spam).
pub async fn touch_conversation(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    at: DateTime<Utc>,
    reopen: bool,
) -> Result<(), MailError> {
    touch_conversation_by(db, conversation_id, 1, at, reopen).await
}

/// [`touch_conversation`] for `messages` messages at once, the latest at `at`.
pub async fn touch_conversation_by(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    messages: i32,
    at: DateTime<Utc>,
    reopen: bool,
) -> Result<(), MailError> {
    let mut update = conversation::Entity::update_many()
        .col_expr(
            conversation::Column::MessageCount,
            Expr::col(conversation::Column::MessageCount).add(messages),
        )
        .col_expr(
            conversation::Column::LastActivityAt,
            Expr::case(
                Expr::col(conversation::Column::LastActivityAt).lt(at),
                Expr::val(at),
            )
            .finally(Expr::col(conversation::Column::LastActivityAt))
            .into(),
        )
        .filter(conversation::Column::Id.eq(conversation_id));
    if reopen {
        let is_spam = || Expr::col(conversation::Column::Status).eq("spam");
        update = update
            .col_expr(
                conversation::Column::Status,
                Expr::case(is_spam(), Expr::val("spam"))
                    .finally(Expr::val("open"))
                    .into(),
            )
            .col_expr(
                conversation::Column::ClosedAt,
                Expr::case(is_spam(), Expr::col(conversation::Column::ClosedAt))
                    .finally(Expr::val(Option::<DateTime<Utc>>::None))
                    .into(),
            )
            .col_expr(
                conversation::Column::SnoozedUntil,
                Expr::val(Option::<DateTime<Utc>>::None),
            );
    }
    update.exec(db).await?;
    Ok(())
}

/// The newest message of a conversation, for threading replies.
pub async fn latest_message(
    db: &impl ConnectionTrait,
    conversation_id: i64,
) -> Result<Option<message::Model>, MailError> {
    Ok(message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Direction.ne("note"))
        // A forward to an outside party is not part of the thread with the customer.
        .filter(message::Column::Kind.ne("forward"))
        .order_by_desc(message::Column::Id)
        .one(db)
        .await?)
}
