//! Anonymization of a batch of conversations, inside the batch's transaction: subjects,
//! bodies, names and addresses are rewritten by the PII detector (with everything the
//! customer record holds), attachments are removed, and each customer's conversations move to
//! a new pseudonymous customer ("Customer 7F3A") with no mapping back; the old record goes
//! when none of its conversations remains. Timestamps, status, tags, channel and counts stay.
//!
//! A batch costs a handful of statements whatever its size — the messages are read in one
//! query and written back with `UPDATE … FROM (VALUES …)` in chunks — and the detector runs
//! on blocking threads, one per core, so a large run neither waits on thousands of round trips nor holds
//! up the server's request workers.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect, Set,
    Statement, Value,
};

use super::select::{Lookup, org_term};
use crate::backup::journal::{Journal, Kind};
use crate::db::entity::conversation as conversations_table;
use crate::db::entity::{conversation, customer, customer_email, message};
use crate::mail::parse::rewrite_html_text;
use crate::orgs::OrgId;
use crate::privacy::pii::{KnownValue, PiiKind};
use crate::records;

/// Rows per `UPDATE … FROM (VALUES …)` statement (14 values each for messages).
const ROWS_PER_STATEMENT: usize = 64;

/// Redacts `text` with the detector and the record's values.
pub fn redact(text: &str, known: &[KnownValue]) -> String {
    crate::privacy::pii::shared().redact(text, known)
}

/// "Customer 7F3A": random, so nothing leads back.
pub fn pseudonym() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    format!("Customer {}", hex::encode_upper(&bytes[..2]))
}

/// The values of each customer record, to be found wherever they appear.
pub async fn known_values(
    db: &impl ConnectionTrait,
    customer_ids: &BTreeSet<i64>,
) -> Result<HashMap<i64, (customer::Model, Vec<KnownValue>)>, DbErr> {
    let records = customer::Entity::find()
        .filter(customer::Column::Id.is_in(customer_ids.iter().copied()))
        .all(db)
        .await?;
    let emails = customer_email::Entity::find()
        .filter(customer_email::Column::CustomerId.is_in(customer_ids.iter().copied()))
        .all(db)
        .await?;
    let mut out: HashMap<i64, (customer::Model, Vec<KnownValue>)> = HashMap::new();
    for record in records {
        let mut known = crate::privacy::pii::record_values(
            record.phone.as_deref(),
            record.postal_address.as_deref(),
        );
        known.extend(crate::privacy::pii::name_values(&record.display_name));
        out.insert(record.id, (record, known));
    }
    for email in emails {
        if let Some((_, known)) = out.get_mut(&email.customer_id) {
            if let Some((local, _)) = email.email.split_once('@')
                && local.chars().count() >= 3
            {
                known.push(KnownValue::new(PiiKind::Email, local));
            }
            known.push(KnownValue::new(PiiKind::Email, email.email));
        }
    }
    Ok(out)
}

/// Appends an anonymization to the erasure journal (see `crate::records`, which does the
/// same for deletions): a restored backup anonymizes these rows again.
async fn journal(log: &Journal, org: OrgId, kind: Kind, ids: &[i64]) -> Result<(), DbErr> {
    log.record(org, kind, ids, &[])
        .await
        .map_err(|error| DbErr::Custom(error.to_string()))
}

/// What anonymizing a note reads of it.
#[derive(sea_orm::FromQueryResult)]
struct Note {
    id: i64,
    conversation_id: i64,
    text_body: String,
}

/// Anonymizes internal notes of `org` by id (those not anonymized yet): their text is
/// redacted with the detector and the values of their conversation's customer record.
/// Returns how many were rewritten.
pub async fn notes(
    db: &impl ConnectionTrait,
    org: OrgId,
    now: DateTime<Utc>,
    ids: &[i64],
    log: &Journal,
) -> Result<u64, DbErr> {
    let batch: Vec<Note> = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .column(message::Column::ConversationId)
        .column(message::Column::TextBody)
        .filter(org_term::<message::Entity>(org, Lookup::Ids))
        .filter(message::Column::Direction.eq("note"))
        .filter(message::Column::Id.is_in(ids.iter().copied()))
        .filter(sea_orm::sea_query::Expr::cust(
            "messages.anonymized_at IS NULL",
        ))
        .into_model()
        .all(db)
        .await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let rewritten: Vec<i64> = batch.iter().map(|n| n.id).collect();
    journal(log, org, Kind::AnonymizedNotes, &rewritten).await?;
    let customer_of: HashMap<i64, i64> = conversations_table::Entity::find()
        .select_only()
        .column(conversations_table::Column::Id)
        .column(conversations_table::Column::CustomerId)
        .filter(org_term::<conversations_table::Entity>(org, Lookup::Ids))
        .filter(conversations_table::Column::Id.is_in(batch.iter().map(|n| n.conversation_id)))
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let customers: BTreeSet<i64> = customer_of.values().copied().collect();
    let known = known_values(db, &customers).await?;
    for note in &batch {
        let known = customer_of
            .get(&note.conversation_id)
            .and_then(|c| known.get(c))
            .map_or(&[][..], |(_, k)| k.as_slice());
        db.execute(
            &Query::update()
                .table(message::Entity)
                .value(message::Column::TextBody, redact(&note.text_body, known))
                .value(Alias::new("anonymized_at"), now)
                .and_where(message::Column::Id.eq(note.id))
                .to_owned(),
        )
        .await?;
    }
    Ok(batch.len() as u64)
}

/// Anonymizes customer records that have no conversations: their addresses go, the name
/// becomes a pseudonym, phone and postal address are cleared.
pub async fn customers(
    db: &impl ConnectionTrait,
    org: OrgId,
    now: DateTime<Utc>,
    ids: &[i64],
    log: &Journal,
) -> Result<(), DbErr> {
    journal(log, org, Kind::AnonymizedCustomers, ids).await?;
    records::delete_email_addresses(db, org, ids, log).await?;
    crate::webhooks::forget_customers(db, org, ids).await?;
    crate::audit::access::forget_customers(db, org, ids).await?;
    crate::privacy::requests::forget_details(db, org, ids).await?;
    for id in ids {
        db.execute(
            &Query::update()
                .table(customer::Entity)
                .value(customer::Column::DisplayName, pseudonym())
                .value(customer::Column::Phone, None::<String>)
                .value(customer::Column::PostalAddress, None::<String>)
                .value(Alias::new("anonymized_at"), now)
                .and_where(org_term::<customer::Entity>(org, Lookup::Ids))
                .and_where(customer::Column::Id.eq(*id))
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}

/// Anonymizes the conversations of `batch` (all of `org`); returns the messages rewritten,
/// what was removed (attachments, the old customer records) and the files to remove after
/// the commit.
pub async fn conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    now: DateTime<Utc>,
    batch: &[conversation::Model],
    log: &Journal,
) -> Result<(u64, records::Removed, records::Files), DbErr> {
    let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
    journal(log, org, Kind::AnonymizedConversations, &ids).await?;
    let customer_ids: BTreeSet<i64> = batch.iter().map(|c| c.customer_id).collect();
    let known = known_values(db, &customer_ids).await?;
    let messages = message::Entity::find()
        .filter(org_term::<message::Entity>(org, Lookup::Ids))
        .filter(message::Column::ConversationId.is_in(ids.clone()))
        .all(db)
        .await?;
    let (mut removed, mut files) =
        records::delete_attachments_of_conversations(db, org, &ids, log).await?;
    // Webhook deliveries may hold the text being anonymized (include message content).
    crate::webhooks::forget_conversations(db, org, &ids).await?;
    // Access entries name the old customer: kept, they would link the rewritten
    // conversations back to the person.
    crate::audit::access::forget_conversations(db, org, &ids).await?;
    // An unsent draft is not anonymized but dropped: nobody will send it now.
    crate::inbox::drafts::forget_conversations(db, org, &ids).await?;
    crate::assist::suggest::store::forget_conversations(db, org, &ids).await?;
    // A chat visitor's key would let their browser read the rewritten chat (src/chat/).
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::ChatVisitorKey,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(conversation::Column::Id.is_in(ids.clone()))
        .exec(db)
        .await?;

    // One pseudonymous customer per original one, created as they were.
    let mut anonymous: HashMap<i64, (i64, String)> = HashMap::new();
    for customer_id in &customer_ids {
        let name = pseudonym();
        let created_at = known
            .get(customer_id)
            .map(|(record, _)| record.created_at)
            .unwrap_or(now);
        let id = customer::Entity::insert(customer::ActiveModel {
            organization_id: Set(org),
            display_name: Set(name.clone()),
            created_at: Set(created_at),
            ..Default::default()
        })
        .exec(db)
        .await?
        .last_insert_id;
        anonymous.insert(*customer_id, (id, name));
    }
    db.execute(
        &Query::update()
            .table(customer::Entity)
            .value(Alias::new("anonymized_at"), now)
            .and_where(customer::Column::Id.is_in(anonymous.values().map(|(id, _)| *id)))
            .to_owned(),
    )
    .await?;

    let rewritten = messages.len() as u64;
    let known = Arc::new(known);
    let by_conversation: HashMap<i64, (i64, i64, String)> = batch
        .iter()
        .map(|c| {
            let (anonymous_id, name) = &anonymous[&c.customer_id];
            (c.id, (c.customer_id, *anonymous_id, name.clone()))
        })
        .collect();
    let subjects: Vec<(i64, String)> = batch.iter().map(|c| (c.id, c.subject.clone())).collect();
    let (message_rows, conversation_rows) = tokio::task::spawn_blocking(move || {
        let known_of = |conversation_id: i64| -> &[KnownValue] {
            by_conversation
                .get(&conversation_id)
                .and_then(|(customer_id, _, _)| known.get(customer_id))
                .map_or(&[][..], |(_, k)| k.as_slice())
        };
        let row_of = |m: &message::Model| {
            let pseudonym = by_conversation
                .get(&m.conversation_id)
                .map_or("", |(_, _, name)| name.as_str());
            message_row(m, known_of(m.conversation_id), pseudonym, now)
        };
        let message_rows = crate::cores::map(&messages, row_of);
        let conversation_rows: Vec<Vec<Value>> = subjects
            .iter()
            .map(|(id, subject)| {
                let anonymous_id = by_conversation.get(id).map(|(_, a, _)| *a);
                vec![
                    (*id).into(),
                    redact(subject, known_of(*id)).into(),
                    anonymous_id.into(),
                    now.into(),
                ]
            })
            .collect();
        (message_rows, conversation_rows)
    })
    .await
    .map_err(|error| DbErr::Custom(format!("anonymization task failed: {error}")))?;

    update_rows(
        db,
        "messages",
        &[
            "subject",
            "text_body",
            "html_body",
            "from_name",
            "from_address",
            "to_addresses",
            "cc_addresses",
            "bcc_addresses",
            "message_id_header",
            "in_reply_to",
            "references_header",
            "parse_notes",
            "delivery_error",
            "anonymized_at",
        ],
        message_rows,
    )
    .await?;
    update_rows(
        db,
        "conversations",
        &["subject", "customer_id", "anonymized_at"],
        conversation_rows,
    )
    .await?;

    // The old records go when none of their conversations remains (and nothing else needs
    // them: see `left_behind`).
    let customer_ids: Vec<i64> = customer_ids.into_iter().collect();
    let (customers_removed, more_files) =
        super::select::delete_left_behind(db, org, &customer_ids, log).await?;
    files.extend(more_files);
    removed += customers_removed;
    Ok((rewritten, removed, files))
}

/// The rewritten columns of one message, in the order [`conversations`] names them, after its
/// id. The customer's own name and address become the pseudonym; everything else goes through
/// the detector.
fn message_row(
    m: &message::Model,
    known: &[KnownValue],
    pseudonym: &str,
    now: DateTime<Utc>,
) -> Vec<Value> {
    let (from_name, from_address) = if m.direction == "inbound" {
        (pseudonym.to_owned(), String::new())
    } else {
        (redact(&m.from_name, known), redact(&m.from_address, known))
    };
    vec![
        m.id.into(),
        redact(&m.subject, known).into(),
        redact(&m.text_body, known).into(),
        // Text nodes and attribute values only, then sanitized again: a replacement never
        // becomes markup, and addresses in links go too.
        m.html_body
            .as_deref()
            .map(|h| {
                rewrite_html_text(h, |text| {
                    let redacted = redact(text, known);
                    (redacted != text).then_some(redacted)
                })
                .unwrap_or_else(|| h.to_owned())
            })
            .into(),
        from_name.into(),
        from_address.into(),
        redact(&m.to_addresses, known).into(),
        redact(&m.cc_addresses, known).into(),
        redact(&m.bcc_addresses, known).into(),
        // Message-IDs often carry the sender's domain or name: replaced, still unique.
        format!(
            "anon.{}@lethe.invalid",
            &crate::crypto::random_token()[..24]
        )
        .into(),
        String::new().into(),
        String::new().into(),
        "[]".to_owned().into(),
        m.delivery_error.as_deref().map(|e| redact(e, known)).into(),
        now.into(),
    ]
}

/// `UPDATE table SET c = v.columnN, … FROM (VALUES (id, …), …) AS v WHERE table.id =
/// v.column1`, in chunks; each row is the id followed by one value per column.
async fn update_rows(
    db: &impl ConnectionTrait,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let set = columns
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = v.column{}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut values = Vec::with_capacity(chunk.len() * (columns.len() + 1));
        let mut tuples = Vec::with_capacity(chunk.len());
        for row in chunk {
            let mut placeholders = Vec::with_capacity(row.len());
            for value in row {
                values.push(value.clone());
                placeholders.push(match backend {
                    DbBackend::Postgres => format!("${}", values.len()),
                    _ => "?".to_owned(),
                });
            }
            tuples.push(format!("({})", placeholders.join(", ")));
        }
        let sql = format!(
            "UPDATE {table} SET {set} FROM (VALUES {}) AS v WHERE {table}.id = v.column1",
            tuples.join(", ")
        );
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
