//! Storing one import batch inside its transaction with a few statements per batch instead of
//! several per message: Message-IDs, conversation tokens and From addresses are looked up for
//! the whole batch at once, every message is threaded in memory (onto stored mail or onto mail
//! earlier in the same batch), new conversations are created with their final counts, and
//! messages and attachments are inserted many rows per statement. The rules are those of
//! `ingest::store_parsed`, which stores live mail one message at a time.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::db::entity::{attachment, conversation, customer, customer_email, message};
use crate::mail::MailError;
use crate::mail::blobs::BlobStore;
use crate::mail::ingest::{self, Source};
use crate::mail::parse::{self, MailKind, ParsedMail};

/// Values bound per `IN (…)` list, well below SQLite's and PostgreSQL's limits.
const LOOKUP_CHUNK: usize = 500;
/// Rows per multi-row `INSERT` (a message row binds 20 values).
const INSERT_CHUNK: usize = 50;

/// What one batch did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stored {
    pub imported: u64,
    pub duplicates: u64,
}

/// A conversation a message goes to: one already stored, or the n-th created by this batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Thread {
    Stored(i64),
    New(usize),
}

/// A customer: one already stored, or the n-th created by this batch.
#[derive(Clone, Copy, Debug)]
enum Person {
    Stored(i64),
    New(usize),
}

struct NewCustomer {
    address: String,
    name: String,
    created_at: DateTime<Utc>,
}

struct NewConversation {
    customer: Person,
    subject: String,
    created_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
    message_count: i32,
}

/// What the messages of this batch do to one stored conversation.
struct Touch {
    messages: i32,
    latest: DateTime<Utc>,
    reopen: bool,
}

struct Planned {
    mail: ParsedMail,
    thread: Thread,
    received_at: DateTime<Utc>,
}

/// Stores `mails` (in order, so replies thread onto the messages before them) in `db`.
pub async fn store_batch(
    db: &impl ConnectionTrait,
    blobs: &BlobStore,
    source: Source,
    mails: Vec<ParsedMail>,
) -> Result<Stored, MailError> {
    let mails: Vec<ParsedMail> = mails
        .into_iter()
        .map(ingest::without_nul_characters)
        .collect();
    let known = Known::load(db, source, &mails).await?;
    let plan = Plan::make(source, mails, known);
    let customers = create_customers(db, source, &plan.customers).await?;
    let customer_id = |person: Person| match person {
        Person::Stored(id) => id,
        Person::New(n) => customers[n],
    };
    let conversations = create_conversations(db, source, &plan.conversations, customer_id).await?;
    let conversation_id = |thread: Thread| match thread {
        Thread::Stored(id) => id,
        Thread::New(n) => conversations[n],
    };
    insert_messages(db, blobs, source, &plan.messages, conversation_id).await?;
    for (id, touch) in &plan.touches {
        ingest::touch_conversation_by(db, *id, touch.messages, touch.latest, touch.reopen).await?;
    }
    Ok(Stored {
        imported: plan.messages.len() as u64,
        duplicates: plan.duplicates,
    })
}

/// What the database already holds that this batch refers to.
struct Known {
    /// Message-ID → conversation, for the batch's own ids and every id it answers.
    messages: HashMap<String, i64>,
    /// Conversation token → conversation.
    tokens: HashMap<String, i64>,
    /// From address → customer.
    customers: HashMap<String, i64>,
}

impl Known {
    async fn load(
        db: &impl ConnectionTrait,
        source: Source,
        mails: &[ParsedMail],
    ) -> Result<Self, MailError> {
        let mut ids: Vec<&str> = Vec::new();
        for mail in mails {
            ids.push(&mail.message_id);
            ids.extend(mail.in_reply_to.iter().map(String::as_str));
            ids.extend(mail.references.iter().map(String::as_str));
        }
        let ids = distinct(ids);
        let tokens = distinct(mails.iter().filter_map(|m| m.conversation_token.as_deref()));
        let addresses = distinct(mails.iter().map(|m| m.from.address.as_str()));
        Ok(Known {
            messages: lookup::<message::Entity>(
                db,
                source,
                message::Column::MessageIdHeader,
                message::Column::ConversationId,
                &ids,
            )
            .await?,
            tokens: lookup::<conversation::Entity>(
                db,
                source,
                conversation::Column::Token,
                conversation::Column::Id,
                &tokens,
            )
            .await?,
            customers: lookup::<customer_email::Entity>(
                db,
                source,
                customer_email::Column::Email,
                customer_email::Column::CustomerId,
                &addresses,
            )
            .await?,
        })
    }
}

/// `key → value` for the rows of the organization whose `key` column is one of `keys` (looked
/// up in chunks, through the organization's unique index on that key).
async fn lookup<E: EntityTrait>(
    db: &impl ConnectionTrait,
    source: Source,
    key: E::Column,
    value: E::Column,
    keys: &[&str],
) -> Result<HashMap<String, i64>, MailError> {
    use sea_orm::sea_query::ExprTrait as _;
    let organization = Expr::col((E::default(), Alias::new("organization_id")));
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        let rows: Vec<(String, i64)> = E::find()
            .select_only()
            .column(key)
            .column(value)
            .filter(organization.clone().eq(source.org))
            .filter(key.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

fn distinct<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    values
        .into_iter()
        .filter(|v| !v.is_empty() && seen.insert(*v))
        .collect()
}

/// The batch decided in memory: which messages are new, where each goes, what is created.
struct Plan {
    messages: Vec<Planned>,
    customers: Vec<NewCustomer>,
    conversations: Vec<NewConversation>,
    touches: BTreeMap<i64, Touch>,
    duplicates: u64,
}

impl Plan {
    fn make(source: Source, mails: Vec<ParsedMail>, known: Known) -> Self {
        let now = Utc::now();
        let mut plan = Plan {
            messages: Vec::with_capacity(mails.len()),
            customers: Vec::new(),
            conversations: Vec::new(),
            touches: BTreeMap::new(),
            duplicates: 0,
        };
        let mut people: HashMap<String, Person> = known
            .customers
            .into_iter()
            .map(|(address, id)| (address, Person::Stored(id)))
            .collect();
        // Message-ID → conversation, for stored mail and for mail stored by this batch.
        let mut threads: HashMap<String, Thread> = known
            .messages
            .into_iter()
            .map(|(id, conversation)| (id, Thread::Stored(conversation)))
            .collect();
        for mail in mails {
            if threads.contains_key(&mail.message_id) {
                plan.duplicates += 1;
                continue;
            }
            let received_at = if source.keep_original_date {
                mail.date.filter(|d| *d <= now).unwrap_or(now)
            } else {
                now
            };
            let person = *people.entry(mail.from.address.clone()).or_insert_with(|| {
                plan.customers.push(NewCustomer {
                    address: mail.from.address.clone(),
                    name: ingest::customer_name(&mail),
                    created_at: received_at,
                });
                Person::New(plan.customers.len() - 1)
            });
            let answered = mail
                .in_reply_to
                .iter()
                .chain(mail.references.iter().rev())
                .find_map(|id| threads.get(id).copied());
            let by_token = || {
                mail.conversation_token
                    .as_ref()
                    .and_then(|token| known.tokens.get(token))
                    .map(|id| Thread::Stored(*id))
            };
            let thread = match answered.or_else(by_token) {
                Some(thread) => {
                    plan.count(thread, received_at, mail.kind == MailKind::Normal);
                    thread
                }
                None => {
                    plan.conversations.push(NewConversation {
                        customer: person,
                        subject: parse::strip_subject_prefixes(&mail.subject)
                            .trim()
                            .to_owned(),
                        created_at: received_at,
                        last_activity_at: received_at,
                        message_count: 1,
                    });
                    Thread::New(plan.conversations.len() - 1)
                }
            };
            threads.insert(mail.message_id.clone(), thread);
            plan.messages.push(Planned {
                mail,
                thread,
                received_at,
            });
        }
        plan
    }

    /// One more message in an existing or earlier-created conversation.
    fn count(&mut self, thread: Thread, at: DateTime<Utc>, reopen: bool) {
        match thread {
            Thread::New(n) => {
                let created = &mut self.conversations[n];
                created.message_count += 1;
                created.last_activity_at = created.last_activity_at.max(at);
            }
            Thread::Stored(id) => {
                let touch = self.touches.entry(id).or_insert(Touch {
                    messages: 0,
                    latest: at,
                    reopen: false,
                });
                touch.messages += 1;
                touch.latest = touch.latest.max(at);
                touch.reopen |= reopen;
            }
        }
    }
}

/// Creates the batch's new customers with their address; their ids in order.
async fn create_customers(
    db: &impl ConnectionTrait,
    source: Source,
    created: &[NewCustomer],
) -> Result<Vec<i64>, MailError> {
    let org = source.org;
    let mut ids = Vec::with_capacity(created.len());
    for person in created {
        let row = customer::ActiveModel {
            organization_id: Set(org),
            display_name: Set(person.name.clone()),
            created_at: Set(person.created_at),
            ..Default::default()
        };
        ids.push(customer::Entity::insert(row).exec(db).await?.last_insert_id);
    }
    let emails: Vec<customer_email::ActiveModel> = created
        .iter()
        .zip(&ids)
        .map(|(person, id)| customer_email::ActiveModel {
            organization_id: Set(org),
            customer_id: Set(*id),
            email: Set(person.address.clone()),
            ..Default::default()
        })
        .collect();
    for chunk in emails.chunks(INSERT_CHUNK) {
        customer_email::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(ids)
}

/// Creates the batch's new conversations under fresh tokens; their ids in order.
async fn create_conversations(
    db: &impl ConnectionTrait,
    source: Source,
    created: &[NewConversation],
    customer_id: impl Fn(Person) -> i64,
) -> Result<Vec<i64>, MailError> {
    let org = source.org;
    let tokens = unused_tokens(db, source, created.len()).await?;
    let rows: Vec<conversation::ActiveModel> = created
        .iter()
        .zip(&tokens)
        .map(|(new, token)| conversation::ActiveModel {
            organization_id: Set(org),
            channel_id: Set(source.channel_id),
            customer_id: Set(customer_id(new.customer)),
            token: Set(token.clone()),
            subject: Set(new.subject.clone()),
            status: Set("open".into()),
            assignee_id: Set(None),
            message_count: Set(new.message_count),
            created_at: Set(new.created_at),
            last_activity_at: Set(new.last_activity_at),
            closed_at: Set(None),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        conversation::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    // Tokens are unique per organization, so they find the rows just inserted.
    let keys: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let by_token = lookup::<conversation::Entity>(
        db,
        source,
        conversation::Column::Token,
        conversation::Column::Id,
        &keys,
    )
    .await?;
    tokens
        .iter()
        .map(|token| {
            by_token
                .get(token)
                .copied()
                .ok_or_else(|| MailError::MissingAfterInsert(format!("conversation {token}")))
        })
        .collect()
}

/// `count` tokens that no conversation of the organization has, all different.
async fn unused_tokens(
    db: &impl ConnectionTrait,
    source: Source,
    count: usize,
) -> Result<Vec<String>, MailError> {
    let mut tokens: Vec<String> = Vec::with_capacity(count);
    let mut chosen = HashSet::with_capacity(count);
    while tokens.len() < count {
        let mut fresh = Vec::with_capacity(count - tokens.len());
        while fresh.len() < count - tokens.len() {
            let token = ingest::random_conversation_token();
            if chosen.insert(token.clone()) {
                fresh.push(token);
            }
        }
        let keys: Vec<&str> = fresh.iter().map(String::as_str).collect();
        let taken = lookup::<conversation::Entity>(
            db,
            source,
            conversation::Column::Token,
            conversation::Column::Id,
            &keys,
        )
        .await?;
        tokens.extend(fresh.into_iter().filter(|t| !taken.contains_key(t)));
    }
    Ok(tokens)
}

/// Seals the attachments, then inserts the messages and their attachment rows.
async fn insert_messages(
    db: &impl ConnectionTrait,
    blobs: &BlobStore,
    source: Source,
    planned: &[Planned],
    conversation_id: impl Fn(Thread) -> i64,
) -> Result<(), MailError> {
    let org = source.org;
    let mut rows = Vec::with_capacity(planned.len());
    // Message-ID → (attachment, blob) for the messages that have stored attachments.
    let mut files: HashMap<&str, Vec<(&parse::Attachment, String)>> = HashMap::new();
    for item in planned {
        let mail = &item.mail;
        // Files first: a committed row never points at a missing file.
        let mut notes = mail.notes.clone();
        for part in &mail.attachments {
            match blobs.put_async(&part.data).await {
                Ok(blob_id) => files
                    .entry(mail.message_id.as_str())
                    .or_default()
                    .push((part, blob_id)),
                Err(error) => {
                    tracing::error!(%error, "attachment not stored");
                    notes.push(format!(
                        "Attachment '{}' could not be stored.",
                        part.filename
                    ));
                }
            }
        }
        rows.push(ingest::inbound_row(
            source,
            conversation_id(item.thread),
            mail,
            &notes,
            item.received_at,
        ));
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        message::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    if files.is_empty() {
        return Ok(());
    }
    let headers: Vec<&str> = files.keys().copied().collect();
    let ids = lookup::<message::Entity>(
        db,
        source,
        message::Column::MessageIdHeader,
        message::Column::Id,
        &headers,
    )
    .await?;
    let mut attachments = Vec::new();
    for (header, parts) in files {
        let message_id = ids
            .get(header)
            .copied()
            .ok_or_else(|| MailError::MissingAfterInsert("a message with attachments".into()))?;
        for (part, blob_id) in parts {
            attachments.push(ingest::attachment_row(org, message_id, part, blob_id));
        }
    }
    for chunk in attachments.chunks(INSERT_CHUNK) {
        attachment::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
