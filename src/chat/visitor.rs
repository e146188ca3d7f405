//! What a chat visitor does: write a message ([`post`]), read their conversation after a
//! cursor ([`messages_after`]) and delete their own history ([`delete_history`]).
//!
//! A visitor is known by the random 128-bit id their browser made ([`VisitorId`]); Lethe
//! keeps only its SHA-256 ([`VisitorKey`]) on the visitor's conversation, so the database
//! alone cannot be used to read a visitor's chat. Every visitor gets a customer record of
//! their own (with the email address they gave, when no other customer has it), so erasing it
//! removes exactly their chat. The visitor's IP address is never stored.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use super::ChatError;
use super::channel::ChatChannel;
use crate::crypto::sha256_hex;
use crate::db::InOrg;
use crate::db::entity::{attachment, conversation, customer, customer_email, message};
use crate::inbox::events::InboxEvent;
use crate::mail::EmailAddress;
use crate::mail::blobs::StagedBlob;
use crate::mail::ingest::{touch_conversation, unused_token};
use crate::orgs::OrgId;
use crate::state::AppState;

/// Longest chat message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Longest name a visitor may give.
pub const MAX_NAME_CHARS: usize = 100;
/// The most messages one fetch answers (the widget asks again after the last).
pub const PAGE: u64 = 200;

/// The visitor id as the widget sends it: 32 lower-case hexadecimal digits (128 random bits
/// from `crypto.getRandomValues`).
pub struct VisitorId(String);

impl VisitorId {
    pub fn parse(value: &str) -> Result<Self, ChatError> {
        let value = value.trim();
        if value.len() == 32
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            Ok(Self(value.to_owned()))
        } else {
            Err(ChatError::BadVisitor)
        }
    }

    /// What is stored: the id's SHA-256.
    pub fn key(&self) -> VisitorKey {
        VisitorKey(sha256_hex(&self.0))
    }
}

/// The stored form of a visitor id (its SHA-256, hexadecimal); also the rate limiter's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitorKey(String);

impl VisitorKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A visitor's message, checked: text of 1 to [`MAX_MESSAGE_CHARS`] characters, an optional
/// name and an optional email address.
pub struct NewChatMessage {
    pub text: String,
    pub name: Option<String>,
    pub email: Option<EmailAddress>,
}

impl NewChatMessage {
    pub fn parse(text: &str, name: &str, email: &str) -> Result<Self, ChatError> {
        let text = text.replace('\0', "");
        let text = text.trim();
        if text.is_empty() {
            return Err(ChatError::Empty);
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ChatError::TooLong);
        }
        let name = name.replace('\0', "");
        let name = name.trim();
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(ChatError::BadName);
        }
        let email = match email.trim() {
            "" => None,
            value => Some(EmailAddress::parse(value).map_err(|_| ChatError::BadEmail)?),
        };
        Ok(Self {
            text: text.to_owned(),
            name: (!name.is_empty()).then(|| name.to_owned()),
            email,
        })
    }
}

/// The kinds of file a visitor may send: images and PDF documents.
pub const FILE_TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
];

/// A file a visitor sends, checked: an allowed type ([`FILE_TYPES`]), a clean name, not
/// empty, and at most the instance's attachment limit (`LETHE_MAX_ATTACHMENT_MB`, checked
/// while it was sealed into the store's staging directory as it arrived). Stored the way a
/// reply's files are ([`crate::mail::compose::seal`]); deleted when dropped unless committed.
pub type NewFile = crate::mail::compose::NewAttachment;

/// What a file's request says it is, checked before its body is read: a file the chat does not
/// take is not even stored.
pub struct FileHeading {
    filename: String,
    content_type: String,
}

impl FileHeading {
    pub fn parse(filename: &str, content_type: &str) -> Result<Self, ChatError> {
        let content_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !FILE_TYPES.contains(&content_type.as_str()) {
            return Err(ChatError::FileType);
        }
        let filename = crate::mail::parse::clean_filename(filename)
            .map(|name| name.chars().take(200).collect::<String>())
            .unwrap_or_else(|| "file".to_owned());
        Ok(Self {
            filename,
            content_type,
        })
    }

    /// The file, once its body is stored: refused when it was empty.
    pub fn with_body(self, blob: StagedBlob) -> Result<NewFile, ChatError> {
        if blob.size() == 0 {
            return Err(ChatError::Empty);
        }
        Ok(NewFile {
            filename: self.filename,
            content_type: self.content_type,
            blob,
        })
    }
}

/// A stored chat message.
#[derive(Clone, Copy, Debug)]
pub struct Posted {
    pub conversation_id: i64,
    pub message_id: i64,
    pub new_conversation: bool,
}

/// The visitor's newest conversation on this channel, if any.
pub async fn conversation_of(
    db: &impl ConnectionTrait,
    channel: &ChatChannel,
    visitor: &VisitorKey,
) -> Result<Option<conversation::Model>, sea_orm::DbErr> {
    conversation::Entity::lookup_in(channel.org)
        .filter(conversation::Column::ChatVisitorKey.eq(visitor.as_str()))
        .filter(conversation::Column::ChannelId.eq(channel.id))
        .order_by_desc(conversation::Column::Id)
        .one(db)
        .await
}

/// Stores a visitor's message (a new conversation for a new visitor) in one transaction, then
/// tells open inbox pages.
pub async fn post(
    state: &AppState,
    channel: &ChatChannel,
    visitor: &VisitorKey,
    new: NewChatMessage,
    file: Option<NewFile>,
) -> Result<Posted, ChatError> {
    let org = channel.org;
    if super::blocks::is_blocked(&state.db, org, visitor).await? {
        return Err(ChatError::Blocked);
    }
    let now = Utc::now();
    if new.email.is_none() && super::hours::answers_by_mail(&state.db, channel, now).await? {
        return Err(ChatError::EmailRequired);
    }
    // The file first: a committed row never points at a missing file (an unused one is
    // removed by the hourly orphan sweep).
    let stored_file = crate::mail::compose::seal(file.into_iter().collect())
        .await
        .map_err(ChatError::from_mail)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let existing = conversation_of(&txn, channel, visitor).await?;
    let (conversation_id, customer_id, subject, new_conversation) = match existing {
        Some(c) => (c.id, c.customer_id, c.subject, false),
        None => {
            let customer_id = create_customer(&txn, org, new.name.as_deref(), now).await?;
            let subject = subject_of(&new.text);
            let id =
                create_conversation(&txn, channel, visitor, customer_id, &subject, now).await?;
            (id, customer_id, subject, true)
        }
    };
    if let Some(email) = &new.email {
        give_address(&txn, org, customer_id, email).await?;
    }
    let inserted = message::ActiveModel {
        organization_id: Set(org),
        conversation_id: Set(conversation_id),
        direction: Set("inbound".into()),
        kind: Set("normal".into()),
        message_id_header: Set(format!(
            "chat.{}@lethe.invalid",
            uuid::Uuid::new_v4().simple()
        )),
        in_reply_to: Set(String::new()),
        references_header: Set(String::new()),
        from_name: Set(new.name.clone().unwrap_or_default()),
        from_address: Set(new
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default()),
        to_addresses: Set(String::new()),
        cc_addresses: Set(String::new()),
        bcc_addresses: Set(String::new()),
        subject: Set(subject),
        text_body: Set(new.text),
        html_body: Set(None),
        parse_notes: Set("[]".into()),
        author_id: Set(None),
        delivery_status: Set(None),
        delivery_error: Set(None),
        sent_at: Set(Some(now)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    crate::mail::compose::insert_rows(&txn, org, inserted.id, &stored_file)
        .await
        .map_err(ChatError::from_mail)?;
    touch_conversation(&txn, conversation_id, now, !new_conversation)
        .await
        .map_err(ChatError::from_mail)?;
    if new_conversation {
        crate::webhooks::emit(
            &txn,
            org,
            crate::webhooks::Event::ConversationCreated { conversation_id },
        )
        .await?;
    }
    crate::webhooks::emit(
        &txn,
        org,
        crate::webhooks::Event::MessageCreated {
            message_id: inserted.id,
        },
    )
    .await?;
    txn.commit().await?;
    state.events.publish(InboxEvent {
        org,
        conversation_id,
    });
    if !new_conversation {
        crate::inbox::notifications::customer_answered(state, org, conversation_id).await;
    }
    Ok(Posted {
        conversation_id,
        message_id: inserted.id,
        new_conversation,
    })
}

/// The subject of a new chat: "Chat: " and the start of the first message.
fn subject_of(text: &str) -> String {
    let first_line = text.lines().next().unwrap_or_default().trim();
    let mut subject: String = first_line.chars().take(60).collect();
    if first_line.chars().count() > 60 {
        subject.push('…');
    }
    format!("Chat: {subject}")
}

async fn create_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    name: Option<&str>,
    at: DateTime<Utc>,
) -> Result<i64, sea_orm::DbErr> {
    Ok(customer::ActiveModel {
        organization_id: Set(org),
        display_name: Set(name.unwrap_or("Chat visitor").to_owned()),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?
    .id)
}

/// Gives the visitor's customer record the address they typed, unless a customer of the
/// organization has it already (then it stays only on the messages, for the replies by mail:
/// the visitor's own record is what "Delete this conversation" erases).
async fn give_address(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
    email: &EmailAddress,
) -> Result<(), sea_orm::DbErr> {
    let taken = customer_email::Entity::find_in(org)
        .select_only()
        .column(customer_email::Column::Id)
        .filter(customer_email::Column::Email.eq(email.as_str()))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    if taken.is_none() {
        customer_email::ActiveModel {
            organization_id: Set(org),
            customer_id: Set(customer_id),
            email: Set(email.as_str().to_owned()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

async fn create_conversation(
    db: &impl ConnectionTrait,
    channel: &ChatChannel,
    visitor: &VisitorKey,
    customer_id: i64,
    subject: &str,
    at: DateTime<Utc>,
) -> Result<i64, ChatError> {
    let token = unused_token(db, channel.org)
        .await
        .map_err(ChatError::from_mail)?;
    let created = conversation::ActiveModel {
        organization_id: Set(channel.org),
        channel_id: Set(Some(channel.id)),
        customer_id: Set(customer_id),
        token: Set(token),
        subject: Set(subject.to_owned()),
        status: Set("open".into()),
        assignee_id: Set(None),
        message_count: Set(0),
        created_at: Set(at),
        last_activity_at: Set(at),
        closed_at: Set(None),
        chat_visitor_key: Set(Some(visitor.as_str().to_owned())),
        ..Default::default()
    }
    .insert(db)
    .await?;
    crate::sla::compute(db, channel.org, &[created.id]).await?;
    Ok(created.id)
}

/// One message as the widget shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ChatMessage {
    pub id: i64,
    /// `visitor` or `agent`.
    pub from: &'static str,
    pub text: String,
    pub at: String,
    /// Its files, downloaded at `/chat/{token}/files/{id}`.
    pub files: Vec<ChatFile>,
}

/// A file of a chat message.
#[derive(Clone, Debug, Serialize)]
pub struct ChatFile {
    pub id: i64,
    pub name: String,
    pub size: i64,
}

/// The messages of the visitor's conversation after message `after` (internal notes and
/// forwards never), oldest first, at most [`PAGE`].
pub async fn messages_after(
    db: &impl ConnectionTrait,
    channel: &ChatChannel,
    visitor: &VisitorKey,
    after: i64,
) -> Result<Vec<ChatMessage>, sea_orm::DbErr> {
    let Some(conversation) = conversation_of(db, channel, visitor).await? else {
        return Ok(Vec::new());
    };
    let rows = message::Entity::lookup_in(channel.org)
        .filter(message::Column::ConversationId.eq(conversation.id))
        .filter(message::Column::Id.gt(after))
        .filter(message::Column::Direction.ne("note"))
        .filter(message::Column::Kind.ne("forward"))
        .order_by_asc(message::Column::Id)
        .limit(PAGE)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
    let mut files: std::collections::HashMap<i64, Vec<ChatFile>> = Default::default();
    if !ids.is_empty() {
        for a in attachment::Entity::lookup_in(channel.org)
            .filter(attachment::Column::MessageId.is_in(ids))
            .filter(attachment::Column::Inline.eq(false))
            .order_by_asc(attachment::Column::Id)
            .all(db)
            .await?
        {
            files.entry(a.message_id).or_default().push(ChatFile {
                id: a.id,
                name: a.filename,
                size: a.size,
            });
        }
    }
    Ok(rows
        .into_iter()
        .map(|m| ChatMessage {
            files: files.remove(&m.id).unwrap_or_default(),
            id: m.id,
            from: if m.direction == "inbound" {
                "visitor"
            } else {
                "agent"
            },
            text: m.text_body,
            at: m.created_at.to_rfc3339(),
        })
        .collect())
}

/// "Delete this conversation": erases the visitor's customer record with every conversation
/// of it through the erasure path (a fulfilled erasure request, a receipt, the audit entry).
/// Returns how many customers were erased (0 when the visitor had written nothing).
pub async fn delete_history(
    state: &AppState,
    channel: &ChatChannel,
    visitor: &VisitorKey,
) -> Result<usize, ChatError> {
    let customers: Vec<i64> = conversation::Entity::lookup_in(channel.org)
        .select_only()
        .column(conversation::Column::CustomerId)
        .filter(conversation::Column::ChatVisitorKey.eq(visitor.as_str()))
        .filter(conversation::Column::ChannelId.eq(channel.id))
        .distinct()
        .into_tuple()
        .all(&state.db)
        .await?;
    for customer_id in &customers {
        crate::privacy::erase::erase(
            state,
            channel.org,
            *customer_id,
            crate::privacy::erase::Performer {
                user_id: None,
                actor: crate::audit::Actor::System("chat-visitor"),
                client: None,
                // Holding the visitor id is the proof (the widget's own browser).
                holder_verified: true,
            },
        )
        .await?;
    }
    Ok(customers.len())
}

/// A file of the visitor's conversation by id (None: not theirs, or no such file).
pub async fn file_of(
    db: &impl ConnectionTrait,
    channel: &ChatChannel,
    visitor: &VisitorKey,
    id: i64,
) -> Result<Option<attachment::Model>, sea_orm::DbErr> {
    let Some(conversation) = conversation_of(db, channel, visitor).await? else {
        return Ok(None);
    };
    let Some(file) = attachment::Entity::find_by_id_in(channel.org, id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let on_conversation = message::Entity::find_by_id_in(channel.org, file.message_id)
        .filter(message::Column::ConversationId.eq(conversation.id))
        .filter(message::Column::Direction.ne("note"))
        .one(db)
        .await?
        .is_some();
    Ok(on_conversation.then_some(file))
}
