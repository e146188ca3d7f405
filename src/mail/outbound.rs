//! Replies out: an agent's reply is written as a message and an outbox row in one
//! transaction; the sender delivers due outbox rows through the channel's SMTP server with
//! Message-ID, In-Reply-To, References and the `[#TOKEN]` subject tag, retrying with
//! exponential backoff. A row leaves the outbox only when the server accepted the mail or
//! refused it for good, so a crash or `kill -9` loses nothing. Several nodes on one
//! database share the outbox: each row is claimed by one node before it is sent
//! ([`CLAIM`], `crate::cluster`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body as MailBody, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, Message, Tokio1Executor};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::MailError;
use super::channel::{self, Secret, SmtpSettings, TlsMode, is_one_of, organization_addresses};
use super::compose::{self, NewAttachment, OutgoingFile, Recipients};
use super::format::{self, Body, Quoted};
use super::ingest::{latest_message, touch_conversation};
use super::outgoing::{self, Spliced};
use super::parse::format_token_tag;
use crate::crypto::random_token;
use crate::db::InOrg;
use crate::db::entity::{conversation, message, outbox};
use crate::inbox::events::InboxEvent;
use crate::mail::egress::{Egress, EgressError};
use crate::mail::oauth::{self, TokenError};
use crate::orgs::OrgId;
use crate::state::AppState;

/// The delivery status of an answer shown in a chat widget only, without mail.
pub const CHAT_DELIVERY: &str = "chat";

/// After this many failed attempts a reply is marked failed and leaves the outbox.
pub const MAX_ATTEMPTS: i32 = 10;

/// Why a reply could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No channel of the organization can send mail.
    NoSmtpChannel,
    /// The reply has no text.
    Empty,
    /// Only automatic mail (bounces, auto-replies, bulk) came in on this conversation and the
    /// customer has no other address: answering it would start a mail loop.
    NoRecipient,
    /// The agent addressed one of the organization's own channel addresses (this one):
    /// Lethe never writes to itself.
    OwnAddress(String),
    /// The customer's processing is restricted (GDPR Art. 18): nobody starts a new
    /// conversation with them while it lasts.
    Restricted,
}

/// Why no SMTP connection could be set up.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Unreachable(#[from] EgressError),
    #[error("TLS settings: {0}")]
    Tls(String),
}

impl TransportError {
    /// Trying again will not help (a refused address, bad TLS settings); a failed lookup may.
    pub fn is_permanent(&self) -> bool {
        !matches!(
            self,
            TransportError::Unreachable(EgressError::Lookup { .. })
        )
    }
}

/// Builds an SMTP transport for a channel.
pub async fn smtp_transport(
    settings: &SmtpSettings,
    egress: Egress,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, TransportError> {
    let address = checked_address(settings, &egress).await?;
    let tls = |host: &str| {
        TlsParameters::new(host.to_owned()).map_err(|e| TransportError::Tls(e.to_string()))
    };
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address);
    let builder = match settings.tls {
        TlsMode::None => builder,
        TlsMode::StartTls => builder.tls(Tls::Required(tls(&settings.host)?)),
        TlsMode::Tls => builder.tls(Tls::Wrapper(tls(&settings.host)?)),
    };
    let builder = builder
        .port(settings.port)
        .timeout(Some(Duration::from_secs(30)));
    let builder = match (&settings.user, &settings.secret) {
        (Some(user), Some(Secret::Password(password))) => {
            builder.credentials(Credentials::new(user.clone(), password.clone()))
        }
        (Some(user), Some(Secret::Bearer(token))) => builder
            .credentials(Credentials::new(user.clone(), token.clone()))
            .authentication(vec![Mechanism::Xoauth2]),
        _ => builder,
    };
    Ok(builder.build())
}

/// The address to connect to: one the egress policy checked (IPv4 first: many servers have
/// no IPv6 route); TLS still verifies the host name.
async fn checked_address(settings: &SmtpSettings, egress: &Egress) -> Result<String, EgressError> {
    Ok(egress
        .resolve(&settings.host, settings.port)
        .await?
        .into_iter()
        .min_by_key(SocketAddr::is_ipv6)
        .map(|a| a.ip().to_string())
        .unwrap_or_default())
}

/// An SMTP connection for a channel, set up as [`smtp_transport`] sets up its connections
/// (TLS or STARTTLS as configured, then the sign-in), for sending a mail in pieces
/// (`mail::outgoing`).
async fn smtp_connection(
    settings: &SmtpSettings,
    egress: Egress,
) -> Result<AsyncSmtpConnection, SendError> {
    let address = checked_address(settings, &egress)
        .await
        .map_err(|e| SendError::Transport(e.into()))?;
    let tls = || {
        TlsParameters::new(settings.host.clone())
            .map_err(|e| SendError::Transport(TransportError::Tls(e.to_string())))
    };
    let hello = ClientId::default();
    let wrapper = match settings.tls {
        TlsMode::Tls => Some(tls()?),
        TlsMode::None | TlsMode::StartTls => None,
    };
    let mut connection = AsyncSmtpConnection::connect_tokio1(
        (address.as_str(), settings.port),
        Some(Duration::from_secs(30)),
        &hello,
        wrapper,
        None,
    )
    .await
    .map_err(SendError::Smtp)?;
    if settings.tls == TlsMode::StartTls {
        connection
            .starttls(tls()?, &hello)
            .await
            .map_err(SendError::Smtp)?;
    }
    let sign_in = match (&settings.user, &settings.secret) {
        (Some(user), Some(Secret::Password(password))) => Some((
            Credentials::new(user.clone(), password.clone()),
            DEFAULT_MECHANISMS.to_vec(),
        )),
        (Some(user), Some(Secret::Bearer(token))) => Some((
            Credentials::new(user.clone(), token.clone()),
            vec![Mechanism::Xoauth2],
        )),
        _ => None,
    };
    if let Some((credentials, mechanisms)) = sign_in
        && let Err(error) = connection.auth(&mechanisms, &credentials).await
    {
        connection.abort().await;
        return Err(SendError::Smtp(error));
    }
    Ok(connection)
}

/// The channel a reply goes out through: the conversation's own if it can send, else the
/// organization's first that can.
async fn sending_channel(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation: &conversation::Model,
) -> Result<Option<crate::db::entity::channel::Model>, MailError> {
    if let Some(id) = conversation.channel_id
        && let Some(own) = channel::find(db, org, id)
            .await?
            .filter(|c| c.smtp_host.is_some())
    {
        return Ok(Some(own));
    }
    Ok(channel::list(db, org)
        .await?
        .into_iter()
        .find(|c| c.smtp_host.is_some()))
}

/// Whom a reply goes to: the sender of the last mail a person wrote on the conversation, else
/// the customer's address. Never the sender of a bounce, auto-reply or bulk mail, so nothing
/// Lethe sends answers automatic mail (no mail loops).
async fn recipient(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation: &conversation::Model,
) -> Result<Option<String>, MailError> {
    let from_a_person = last_from_a_person(db, org, conversation.id).await?;
    recipient_after(db, org, conversation, from_a_person.as_ref()).await
}

/// The last mail a person (not a bounce, auto-reply or bulk mail) wrote on the conversation.
async fn last_from_a_person(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
) -> Result<Option<message::Model>, MailError> {
    Ok(message::Entity::find_in(org)
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Direction.eq("inbound"))
        .filter(message::Column::Kind.eq("normal"))
        .order_by_desc(message::Column::Id)
        .one(db)
        .await?)
}

/// [`recipient`], `from_a_person` being [`last_from_a_person`].
async fn recipient_after(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation: &conversation::Model,
    from_a_person: Option<&message::Model>,
) -> Result<Option<String>, MailError> {
    if let Some(m) = from_a_person.filter(|m| !m.from_address.is_empty()) {
        return Ok(Some(m.from_address.clone()));
    }
    let automatic: Vec<String> = message::Entity::find_in(org)
        .filter(message::Column::ConversationId.eq(conversation.id))
        .filter(message::Column::Direction.eq("inbound"))
        .filter(message::Column::Kind.ne("normal"))
        .select_only()
        .column(message::Column::FromAddress)
        .into_tuple()
        .all(db)
        .await?;
    Ok(
        crate::inbox::customers::primary_email(db, org, conversation.customer_id)
            .await?
            .filter(|address| {
                !address.is_empty() && !automatic.iter().any(|a| a.eq_ignore_ascii_case(address))
            }),
    )
}

/// The address a reply is sent from: the one of the channel's addresses the customer last
/// wrote to (To or Cc), else the channel's sender address.
async fn sender_address(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation: &conversation::Model,
    channel: &crate::db::entity::channel::Model,
) -> Result<String, MailError> {
    if channel.aliases.trim().is_empty() {
        return Ok(channel.from_address.clone());
    }
    let own = channel::addresses(channel);
    let last_inbound = message::Entity::find_in(org)
        .filter(message::Column::ConversationId.eq(conversation.id))
        .filter(message::Column::Direction.eq("inbound"))
        .order_by_desc(message::Column::Id)
        .one(db)
        .await?;
    let written_to = last_inbound
        .iter()
        .flat_map(|m| {
            m.to_addresses
                .split(',')
                .chain(m.cc_addresses.split(','))
                .map(|a| a.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .find_map(|address| {
            own.iter()
                .find(|own| own.eq_ignore_ascii_case(&address))
                .cloned()
        });
    Ok(written_to.unwrap_or_else(|| channel.from_address.clone()))
}

/// What a reply carries beside its text.
#[derive(Default)]
pub struct ReplyExtras {
    /// Files to send as attachments (checked against the limits by the caller).
    pub attachments: Vec<NewAttachment>,
    /// To, Cc and Bcc as the agent chose them; `None`: to the last person who wrote.
    pub recipients: Option<Recipients>,
}

/// What the reply form offers before the agent changes anything.
pub struct ReplyDefaults {
    /// The last person who wrote (see [`queue_reply`]), if anyone may be answered.
    pub to: Option<String>,
    /// For "reply all": the other addresses of the last customer mail (its To and Cc),
    /// without the organization's own addresses and without `to`.
    pub cc: Vec<String>,
}

/// The To (and, for reply-all, Cc) the reply form starts with.
pub async fn reply_defaults(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    reply_all: bool,
) -> Result<ReplyDefaults, MailError> {
    let conversation = conversation::Entity::find_by_id_in(org, conversation_id)
        .one(db)
        .await?
        .ok_or(MailError::ConversationNotFound)?;
    let last = last_from_a_person(db, org, conversation.id).await?;
    defaults_after(db, org, &conversation, last.as_ref(), reply_all).await
}

/// [`reply_defaults`] of a conversation the caller has loaded with all its messages (the
/// conversation page): the last mail from a person is found among them.
pub async fn reply_defaults_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation: &conversation::Model,
    messages: &[message::Model],
    reply_all: bool,
) -> Result<ReplyDefaults, MailError> {
    let last = messages
        .iter()
        .filter(|m| m.conversation_id == conversation.id)
        .filter(|m| m.direction == "inbound" && m.kind == "normal")
        .max_by_key(|m| m.id);
    defaults_after(db, org, conversation, last, reply_all).await
}

async fn defaults_after(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation: &conversation::Model,
    last: Option<&message::Model>,
    reply_all: bool,
) -> Result<ReplyDefaults, MailError> {
    let own = organization_addresses(db, org).await?;
    let to = recipient_after(db, org, conversation, last)
        .await?
        .filter(|to| !is_one_of(to, &own));
    let mut cc: Vec<String> = Vec::new();
    if reply_all && let Some(m) = last {
        for address in
            compose::split_stored(&m.to_addresses).chain(compose::split_stored(&m.cc_addresses))
        {
            let taken = to
                .iter()
                .chain(&cc)
                .any(|a| a.eq_ignore_ascii_case(address));
            if !taken && !is_one_of(address, &own) {
                cc.push(address.to_owned());
            }
        }
    }
    Ok(ReplyDefaults { to, cc })
}

/// Writes the reply and its outbox row in one transaction; the caller may say "queued" as
/// soon as this returns.
pub async fn queue_reply(
    state: &AppState,
    org: OrgId,
    conversation_id: i64,
    author_id: i64,
    text: &str,
) -> Result<Result<message::Model, Refusal>, MailError> {
    queue_reply_with(
        state,
        org,
        conversation_id,
        author_id,
        text,
        ReplyExtras::default(),
    )
    .await
}

/// [`queue_reply`] with attachments: the files are sealed into the store first, their rows
/// written in the reply's transaction.
pub async fn queue_reply_with(
    state: &AppState,
    org: OrgId,
    conversation_id: i64,
    author_id: i64,
    text: &str,
    extras: ReplyExtras,
) -> Result<Result<message::Model, Refusal>, MailError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Err(Refusal::Empty));
    }
    let sealed = compose::seal(extras.attachments).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let conversation = conversation::Entity::find_by_id_in(org, conversation_id)
        .one(&txn)
        .await?
        .ok_or(MailError::ConversationNotFound)?;
    // A chat whose visitor left no address (or no channel that sends mail): the answer is
    // for the widget only, no mail (src/chat/).
    if extras.recipients.is_none()
        && let Some(chat) =
            crate::chat::channel::of_conversation(&txn, org, conversation.channel_id).await?
    {
        let own = organization_addresses(&txn, org).await?;
        let to = recipient(&txn, org, &conversation)
            .await?
            .filter(|to| !is_one_of(to, &own));
        if to.is_none() || sending_channel(&txn, org, &conversation).await?.is_none() {
            let now = Utc::now();
            let inserted = message::ActiveModel {
                organization_id: Set(org),
                conversation_id: Set(conversation.id),
                direction: Set("outbound".into()),
                kind: Set("normal".into()),
                message_id_header: Set(format!(
                    "chat.{}@lethe.invalid",
                    uuid::Uuid::new_v4().simple()
                )),
                in_reply_to: Set(String::new()),
                references_header: Set(String::new()),
                from_name: Set(chat.name),
                from_address: Set(String::new()),
                to_addresses: Set(String::new()),
                cc_addresses: Set(String::new()),
                bcc_addresses: Set(String::new()),
                subject: Set(format!("Re: {}", conversation.subject)),
                text_body: Set(text.to_owned()),
                html_body: Set(None),
                parse_notes: Set("[]".into()),
                author_id: Set(Some(author_id)),
                delivery_status: Set(Some(CHAT_DELIVERY.into())),
                delivery_error: Set(None),
                sent_at: Set(Some(now)),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            compose::insert_rows(&txn, org, inserted.id, &sealed).await?;
            touch_conversation(&txn, conversation.id, now, false).await?;
            crate::sla::first_reply(&txn, conversation.id, now).await?;
            crate::webhooks::emit(
                &txn,
                org,
                crate::webhooks::Event::MessageCreated {
                    message_id: inserted.id,
                },
            )
            .await?;
            txn.commit().await?;
            // The visitor's widget listens to these events too (src/chat/routes.rs).
            state.events.publish(InboxEvent {
                org,
                conversation_id: conversation.id,
            });
            return Ok(Ok(inserted));
        }
    }
    let Some(channel) = sending_channel(&txn, org, &conversation).await? else {
        return Ok(Err(Refusal::NoSmtpChannel));
    };
    let latest = latest_message(&txn, conversation.id).await?;
    let (to, cc, bcc) = match extras.recipients {
        None => {
            let own = organization_addresses(&txn, org).await?;
            let Some(to) = recipient(&txn, org, &conversation)
                .await?
                .filter(|to| !is_one_of(to, &own))
            else {
                return Ok(Err(Refusal::NoRecipient));
            };
            (to, String::new(), String::new())
        }
        // The agent's choice, which may name an address the default never would (after
        // only automatic mail); never one of the organization's own.
        Some(chosen) => {
            let own = organization_addresses(&txn, org).await?;
            if let Some(address) = chosen.all().find(|a| is_one_of(a.as_str(), &own)) {
                return Ok(Err(Refusal::OwnAddress(address.to_string())));
            }
            if chosen.to.is_empty() {
                return Ok(Err(Refusal::NoRecipient));
            }
            (
                compose::join(&chosen.to),
                compose::join(&chosen.cc),
                compose::join(&chosen.bcc),
            )
        }
    };
    let from_address = sender_address(&txn, org, &conversation, &channel).await?;
    let signature = super::signature::for_reply(&txn, org, &channel, author_id).await?;
    let body = format::with_signature(text, &signature);
    let (in_reply_to, references) = match &latest {
        Some(m) => {
            let mut refs: Vec<String> = m
                .references_header
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            refs.push(m.message_id_header.clone());
            let keep = refs.len().saturating_sub(20);
            (m.message_id_header.clone(), refs[keep..].join(" "))
        }
        None => (String::new(), String::new()),
    };
    let message_id = new_message_id(&channel, &conversation.token);
    let subject = format!(
        "Re: {} {}",
        conversation.subject,
        format_token_tag(&conversation.token)
    );
    let now = Utc::now();
    let inserted = message::ActiveModel {
        organization_id: Set(org),
        conversation_id: Set(conversation.id),
        direction: Set("outbound".into()),
        kind: Set("normal".into()),
        message_id_header: Set(message_id),
        in_reply_to: Set(in_reply_to),
        references_header: Set(references),
        from_name: Set(channel.from_name.clone()),
        from_address: Set(from_address),
        to_addresses: Set(to),
        cc_addresses: Set(cc),
        bcc_addresses: Set(bcc),
        subject: Set(subject),
        text_body: Set(body.text),
        html_body: Set(Some(body.html)),
        parse_notes: Set("[]".into()),
        author_id: Set(Some(author_id)),
        delivery_status: Set(Some("queued".into())),
        delivery_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    compose::insert_rows(&txn, org, inserted.id, &sealed).await?;
    let mut row = queued(org, inserted.id, channel.id, now);
    // Undo send: the first attempt waits (src/inbox/undo.rs).
    row.next_attempt_at = Set(now + crate::inbox::undo::delay(&state.config));
    row.insert(&txn).await?;
    touch_conversation(&txn, conversation.id, now, false).await?;
    // The first agent reply meets the first-response target (src/sla/).
    crate::sla::first_reply(&txn, conversation.id, now).await?;
    crate::webhooks::emit(
        &txn,
        org,
        crate::webhooks::Event::MessageCreated {
            message_id: inserted.id,
        },
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    state.events.publish(InboxEvent {
        org,
        conversation_id: conversation.id,
    });
    Ok(Ok(inserted))
}

/// The HTML a reply would be sent with (the agent's and the channel's signatures filled in,
/// the quote left out), for the preview button. Nothing is stored.
pub async fn preview_reply(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    author_id: i64,
    text: &str,
) -> Result<String, MailError> {
    let conversation = conversation::Entity::find_by_id_in(org, conversation_id)
        .one(db)
        .await?
        .ok_or(MailError::ConversationNotFound)?;
    let signature = match sending_channel(db, org, &conversation).await? {
        Some(channel) => super::signature::for_reply(db, org, &channel, author_id).await?,
        None => String::new(),
    };
    Ok(format::with_signature(text, &signature).html)
}

/// What one pass of the sender did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SendOutcome {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Replies whose customer's processing was restricted after they were queued, or whose
    /// channel waits to be signed in again (OAuth2): kept in the outbox, not sent, their
    /// attempts not counted, looked at again after [`RESTRICTED_RECHECK`].
    pub held: usize,
}

/// How long a reply held by a restriction waits before the sender looks at it again.
const RESTRICTED_RECHECK: chrono::Duration = chrono::Duration::minutes(5);

/// How long a claimed row is left to the node sending it; renewed every [`CLAIM_RENEW`]
/// while the send lasts, so a node that dies mid-send leaves the row to another node within
/// this time.
pub const CLAIM: chrono::Duration = chrono::Duration::seconds(25);
const CLAIM_RENEW: Duration = Duration::from_secs(8);

/// Rows nobody claims at `now` (never claimed, or the claimer let the claim run out).
fn unclaimed(now: DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(outbox::Column::ClaimedUntil.is_null())
        .add(outbox::Column::ClaimedUntil.lte(now))
}

/// Claims a due row for this node: one conditional `UPDATE` that only one node can win (on
/// PostgreSQL the second waits for the first's row lock, then finds the row claimed; on
/// SQLite the single writer orders them). True when this node sends it.
async fn claim(
    state: &AppState,
    row: &outbox::Model,
    now: DateTime<Utc>,
) -> Result<bool, MailError> {
    let claimed = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::ClaimedBy,
            Some(state.leases.node().to_string()).into(),
        )
        .col_expr(
            outbox::Column::ClaimedUntil,
            Some(Utc::now() + CLAIM).into(),
        )
        .filter(outbox::Column::Id.eq(row.id))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .filter(unclaimed(now))
        .exec(&state.db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Runs `work` (one send) while renewing this node's claim on `row`.
async fn with_claim<F: std::future::Future>(
    state: &AppState,
    row: &outbox::Model,
    work: F,
) -> F::Output {
    tokio::pin!(work);
    let mut renew = tokio::time::interval(CLAIM_RENEW);
    renew.tick().await;
    loop {
        tokio::select! {
            output = &mut work => return output,
            _ = renew.tick() => {
                let renewed = outbox::Entity::update_many()
                    .col_expr(outbox::Column::ClaimedUntil, Some(Utc::now() + CLAIM).into())
                    .filter(outbox::Column::Id.eq(row.id))
                    .filter(outbox::Column::ClaimedBy.eq(state.leases.node().as_str()))
                    .exec(&state.db)
                    .await;
                if let Err(error) = renewed {
                    tracing::warn!(outbox_id = row.id, %error, "outbox claim not renewed");
                }
            }
        }
    }
}

/// Delivers every outbox row due at `now` that no other node is sending, each claimed first.
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> Result<SendOutcome, MailError> {
    let due = outbox::Entity::find()
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .filter(unclaimed(now))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(50)
        .all(&state.db)
        .await?;
    let mut outcome = SendOutcome::default();
    for row in due {
        if !claim(state, &row, now).await? {
            // Another node sends it (or sent it already).
            continue;
        }
        let org = row.organization_id;
        // GDPR Art. 18: a reply written before its customer's restriction waits while it lasts.
        if crate::privacy::restrict::of_message(&state.db, org, row.message_id)
            .await?
            .is_some()
        {
            outbox::Entity::update_many()
                .col_expr(
                    outbox::Column::NextAttemptAt,
                    (now + RESTRICTED_RECHECK).into(),
                )
                .col_expr(outbox::Column::ClaimedBy, Option::<String>::None.into())
                .col_expr(
                    outbox::Column::ClaimedUntil,
                    Option::<DateTime<Utc>>::None.into(),
                )
                .filter(outbox::Column::Id.eq(row.id))
                .exec(&state.db)
                .await?;
            outcome.held += 1;
            continue;
        }
        match with_claim(state, &row, deliver(state, &row)).await {
            Ok(()) => {
                finish(state, &row, "sent", None).await?;
                outcome.sent += 1;
            }
            Err(failure) if failure.waits_for_sign_in => {
                retry_at(
                    state,
                    &row,
                    now + RESTRICTED_RECHECK,
                    row.attempts,
                    failure.reason,
                )
                .await?;
                outcome.held += 1;
            }
            Err(failure) => {
                let attempts = row.attempts + 1;
                // Only the outbox id goes to the log: the server's answer may name the recipient.
                tracing::warn!(
                    outbox_id = row.id,
                    attempts,
                    permanent = failure.permanent,
                    "reply not delivered"
                );
                if failure.permanent || attempts >= MAX_ATTEMPTS {
                    finish(state, &row, "failed", Some(failure.reason)).await?;
                    outcome.failed += 1;
                } else {
                    retry_at(
                        state,
                        &row,
                        now + backoff(attempts),
                        attempts,
                        failure.reason,
                    )
                    .await?;
                    outcome.retrying += 1;
                }
            }
        }
    }
    Ok(outcome)
}

/// Leaves a reply in the outbox for another attempt at `next`, marked *retrying* with why.
async fn retry_at(
    state: &AppState,
    row: &outbox::Model,
    next: DateTime<Utc>,
    attempts: i32,
    reason: String,
) -> Result<(), MailError> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Attempts, attempts.into())
        .col_expr(outbox::Column::NextAttemptAt, next.into())
        .col_expr(outbox::Column::LastError, Some(reason.clone()).into())
        .col_expr(outbox::Column::ClaimedBy, Option::<String>::None.into())
        .col_expr(
            outbox::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(outbox::Column::Id.eq(row.id))
        .exec(&state.db)
        .await?;
    set_status(&state.db, row.message_id, "retrying", Some(reason), None).await?;
    Ok(())
}

/// 30 s, 1 min, 2 min, … capped at one hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    chrono::Duration::seconds((30i64 * 2i64.pow(exponent)).min(3600))
}

struct Failure {
    reason: String,
    permanent: bool,
    /// The channel must be signed in (again) with OAuth2: the reply waits, its attempts not
    /// counted, until an admin has done so.
    waits_for_sign_in: bool,
}

async fn deliver(state: &AppState, row: &outbox::Model) -> Result<(), Failure> {
    let temporary = |reason: String| Failure {
        reason,
        permanent: false,
        waits_for_sign_in: false,
    };
    let message = message::Entity::find_by_id(row.message_id)
        .one(&state.db)
        .await
        .map_err(|e| temporary(e.to_string()))?
        .ok_or_else(|| Failure {
            reason: "the message no longer exists".into(),
            permanent: true,
            waits_for_sign_in: false,
        })?;
    let org = row.organization_id;
    let channel = channel::find(&state.db, org, row.channel_id)
        .await
        .map_err(|e| temporary(e.to_string()))?
        .ok_or_else(|| Failure {
            reason: "the channel was removed".into(),
            permanent: true,
            waits_for_sign_in: false,
        })?;
    let mut settings = channel::smtp_settings(&channel, &state.sealer)
        .map_err(|e| temporary(e.to_string()))?
        .ok_or_else(|| Failure {
            reason: "the channel has no SMTP server".into(),
            permanent: true,
            waits_for_sign_in: false,
        })?;
    let files = compose::files_of(&state.db, &state.blobs, org, message.id)
        .await
        .map_err(|e| temporary(e.to_string()))?;
    let quoted = quoted_message(&state.db, &message)
        .await
        .map_err(|e| temporary(e.to_string()))?;
    let files: Vec<(String, OutgoingFile)> = files
        .into_iter()
        .enumerate()
        .map(|(index, file)| (outgoing::placeholder(index), file))
        .collect();
    let email = build_email(&message, quoted.as_ref(), &files).map_err(|reason| Failure {
        reason,
        permanent: true,
        waits_for_sign_in: false,
    })?;
    // The mail with its files, written once (off the async threads); lettre's message holds
    // only the placeholders and goes before the files are read.
    let spliced = Spliced::new(&email, files);
    drop(email);
    let envelope = spliced.envelope().clone();
    let blobs = state.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || spliced.write_out(&blobs))
        .await
        .map_err(|e| temporary(e.to_string()))?
        .map_err(|e| temporary(e.to_string()))?;
    let (envelope, bytes) = (&envelope, bytes.as_slice());
    oauth::with_token(
        state,
        channel.id,
        &mut settings,
        SendError::Token,
        is_auth_refusal,
        move |settings: SmtpSettings| async move {
            send_with(state, &settings, envelope, bytes).await
        },
    )
    .await
    .map_err(Failure::from)
}

/// Why a send failed: lettre's error, no transport, or no OAuth2 access token.
enum SendError {
    Transport(TransportError),
    Smtp(lettre::transport::smtp::Error),
    Token(TokenError),
}

impl From<SendError> for Failure {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Transport(error) => Failure {
                reason: error.to_string(),
                permanent: error.is_permanent(),
                waits_for_sign_in: false,
            },
            SendError::Smtp(error) => Failure {
                reason: error.to_string(),
                permanent: error.is_permanent(),
                waits_for_sign_in: false,
            },
            // No token now (revoked, endpoint down) is a temporary failure; without a
            // sign-in the reply waits in the outbox until an admin signs in again.
            SendError::Token(error) => Failure {
                waits_for_sign_in: matches!(error, TokenError::Revoked | TokenError::NotSignedIn),
                reason: format!("OAuth2: {error}"),
                permanent: false,
            },
        }
    }
}

/// 535 and friends: the server refused the credentials.
fn is_auth_refusal(error: &SendError) -> bool {
    matches!(error, SendError::Smtp(e) if e.status().is_some_and(|c| matches!(c.to_string().as_str(), "535" | "534" | "530" | "454")))
}

async fn send_with(
    state: &AppState,
    settings: &SmtpSettings,
    envelope: &lettre::address::Envelope,
    bytes: &[u8],
) -> Result<(), SendError> {
    let mut connection = smtp_connection(settings, state.config.egress()).await?;
    outgoing::send(&mut connection, envelope, bytes)
        .await
        .map_err(SendError::Smtp)
}

/// The message a formatted reply answers (its In-Reply-To, on the same conversation, written
/// by a person: not a note, a forward, a bounce or an auto-reply), to quote under the reply.
async fn quoted_message(
    db: &impl ConnectionTrait,
    message: &message::Model,
) -> Result<Option<message::Model>, MailError> {
    if message.html_body.is_none() || message.kind != "normal" || message.in_reply_to.is_empty() {
        return Ok(None);
    }
    Ok(message::Entity::find_in(message.organization_id)
        .filter(message::Column::ConversationId.eq(message.conversation_id))
        .filter(message::Column::MessageIdHeader.eq(message.in_reply_to.as_str()))
        .filter(message::Column::Direction.ne("note"))
        .filter(message::Column::Kind.eq("normal"))
        .one(db)
        .await?)
}

/// The text and HTML parts of a formatted message, with the message it answers quoted.
fn formatted_parts(message: &message::Model, quoted: Option<&message::Model>) -> Option<Body> {
    let body = Body {
        text: message.text_body.clone(),
        html: message.html_body.clone()?,
    };
    let Some(quoted) = quoted else {
        return Some(body);
    };
    let from = if quoted.from_name.is_empty() {
        quoted.from_address.clone()
    } else {
        format!("{} <{}>", quoted.from_name, quoted.from_address)
    };
    let date = quoted.sent_at.unwrap_or(quoted.created_at).to_rfc2822();
    Some(format::with_quote(
        &body,
        &Quoted {
            from: &from,
            date: &date,
            text: &quoted.text_body,
            html: quoted
                .html_body
                .as_deref()
                .filter(|_| quoted.direction == "outbound"),
        },
    ))
}

/// The mail of a message: plain text (forwards), or a formatted reply as
/// `multipart/alternative` (text, HTML) with the answered message quoted; with files, that in
/// a `multipart/mixed` with one attachment part per file, whose base64 body is the file's
/// placeholder (`mail::outgoing` puts the file in its place).
fn build_email(
    message: &message::Model,
    quoted: Option<&message::Model>,
    files: &[(String, OutgoingFile)],
) -> Result<Message, String> {
    let from_name = (!message.from_name.is_empty()).then(|| message.from_name.clone());
    let from = Mailbox::new(
        from_name,
        message
            .from_address
            .parse()
            .map_err(|e| format!("sender: {e}"))?,
    );
    let mailbox = |address: &str| -> Result<Mailbox, String> {
        address.parse().map_err(|e| format!("recipient: {e}"))
    };
    let mut builder = Message::builder().from(from);
    for to in compose::split_stored(&message.to_addresses) {
        builder = builder.to(mailbox(to)?);
    }
    for cc in compose::split_stored(&message.cc_addresses) {
        builder = builder.cc(mailbox(cc)?);
    }
    // Bcc addresses go into the envelope only: lettre drops the header when it formats.
    for bcc in compose::split_stored(&message.bcc_addresses) {
        builder = builder.bcc(mailbox(bcc)?);
    }
    let mut builder = builder
        .subject(message.subject.clone())
        .message_id(Some(format!("<{}>", message.message_id_header)));
    if !message.in_reply_to.is_empty() {
        builder = builder.in_reply_to(format!("<{}>", message.in_reply_to));
    }
    if !message.references_header.is_empty() {
        let references: Vec<String> = message
            .references_header
            .split_whitespace()
            .map(|r| format!("<{r}>"))
            .collect();
        builder = builder.references(references.join(" "));
    }
    let formatted = formatted_parts(message, quoted)
        .map(|body| MultiPart::alternative_plain_html(body.text, body.html));
    if files.is_empty() {
        return match formatted {
            Some(alternative) => builder.multipart(alternative),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(message.text_body.clone()),
        }
        .map_err(|e| e.to_string());
    }
    let mut mixed = match formatted {
        Some(alternative) => MultiPart::mixed().multipart(alternative),
        None => MultiPart::mixed().singlepart(SinglePart::plain(message.text_body.clone())),
    };
    for (placeholder, file) in files {
        let content_type = ContentType::parse(&file.content_type)
            .or_else(|_| ContentType::parse("application/octet-stream"))
            .map_err(|e| e.to_string())?;
        let body = MailBody::dangerous_pre_encoded(
            placeholder.clone().into_bytes(),
            ContentTransferEncoding::Base64,
        );
        mixed = mixed.singlepart(Attachment::new(file.filename.clone()).body(body, content_type));
    }
    builder.multipart(mixed).map_err(|e| e.to_string())
}

async fn finish(
    state: &AppState,
    row: &outbox::Model,
    status: &str,
    error: Option<String>,
) -> Result<(), MailError> {
    let txn = crate::db::begin_write(&state.db).await?;
    outbox::Entity::delete_by_id(row.id).exec(&txn).await?;
    let sent_at = (status == "sent").then(Utc::now);
    set_status(&txn, row.message_id, status, error, sent_at).await?;
    txn.commit().await?;
    publish_for_message(state, row).await;
    Ok(())
}

async fn set_status(
    db: &impl ConnectionTrait,
    message_id: i64,
    status: &str,
    error: Option<String>,
    sent_at: Option<DateTime<Utc>>,
) -> Result<(), MailError> {
    message::Entity::update_many()
        .col_expr(
            message::Column::DeliveryStatus,
            Some(status.to_owned()).into(),
        )
        .col_expr(message::Column::DeliveryError, error.into())
        .col_expr(message::Column::SentAt, sent_at.into())
        .filter(message::Column::Id.eq(message_id))
        .exec(db)
        .await?;
    Ok(())
}

async fn publish_for_message(state: &AppState, row: &outbox::Model) {
    if let Ok(Some(conversation_id)) = message::Entity::find_by_id(row.message_id)
        .select_only()
        .column(message::Column::ConversationId)
        .into_tuple::<i64>()
        .one(&state.db)
        .await
    {
        state.events.publish(InboxEvent {
            org: row.organization_id,
            conversation_id,
        });
    }
}

/// The outbox row that sends `message_id` through `channel_id`, first try at `now`.
fn queued(org: OrgId, message_id: i64, channel_id: i64, now: DateTime<Utc>) -> outbox::ActiveModel {
    outbox::ActiveModel {
        organization_id: Set(org),
        message_id: Set(message_id),
        channel_id: Set(channel_id),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
}

/// Puts a failed reply back into the outbox (the "retry now" button).
pub async fn retry(state: &AppState, org: OrgId, message_id: i64) -> Result<bool, MailError> {
    let Some(message) = message::Entity::find_by_id_in(org, message_id)
        .filter(message::Column::DeliveryStatus.eq("failed"))
        .one(&state.db)
        .await?
    else {
        return Ok(false);
    };
    let conversation = conversation::Entity::find_by_id(message.conversation_id)
        .one(&state.db)
        .await?
        .ok_or(MailError::ConversationNotFound)?;
    let Some(channel_id) = sending_channel(&state.db, org, &conversation)
        .await?
        .map(|c| c.id)
    else {
        return Ok(false);
    };
    let now = Utc::now();
    let txn = crate::db::begin_write(&state.db).await?;
    queued(org, message.id, channel_id, now)
        .insert(&txn)
        .await?;
    message::Entity::update_many()
        .col_expr(
            message::Column::DeliveryStatus,
            Some("queued".to_owned()).into(),
        )
        // The old server answer belongs to the failed attempt, not under a "queued" badge.
        .col_expr(
            message::Column::DeliveryError,
            Option::<String>::None.into(),
        )
        .filter(message::Column::Id.eq(message.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(true)
}

/// The sender task: runs when a reply is queued, and every few seconds for retries.
pub fn spawn_sender(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = run_once(&state, Utc::now()).await {
                tracing::error!(%error, "outbox pass failed");
            }
            let _ =
                tokio::time::timeout(Duration::from_secs(5), state.outbox_wakeup.notified()).await;
        }
    })
}

/// A conversation an agent starts (`/conversations/new`).
pub struct NewConversation {
    pub channel_id: i64,
    pub recipients: Recipients,
    /// As typed, without the `[#TOKEN]` tag (added here).
    pub subject: String,
    pub text: String,
    pub attachments: Vec<NewAttachment>,
}

/// Starts a conversation written by an agent: the customer (found by the first To address,
/// else created), the conversation, the first message and its outbox row in one transaction.
/// The mail carries the `[#TOKEN]` tag and a Message-ID of Lethe's, so the customer's answer
/// threads into it like into any reply. Returns the conversation's id.
pub async fn start_conversation(
    state: &AppState,
    org: OrgId,
    author_id: i64,
    new: NewConversation,
) -> Result<Result<i64, Refusal>, MailError> {
    let text = new.text.trim().to_owned();
    if text.is_empty() {
        return Ok(Err(Refusal::Empty));
    }
    let Some(first) = new.recipients.to.first().cloned() else {
        return Ok(Err(Refusal::NoRecipient));
    };
    let sealed = compose::seal(new.attachments).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let Some(channel) = channel::find(&txn, org, new.channel_id)
        .await?
        .filter(|c| c.smtp_host.is_some())
    else {
        return Ok(Err(Refusal::NoSmtpChannel));
    };
    let own = organization_addresses(&txn, org).await?;
    if let Some(address) = new.recipients.all().find(|a| is_one_of(a.as_str(), &own)) {
        return Ok(Err(Refusal::OwnAddress(address.to_string())));
    }
    let now = Utc::now();
    let customer_id = customer_for(&txn, org, &first, now).await?;
    if crate::privacy::restrict::restricted_customer_ids(&txn, org)
        .await?
        .contains(&customer_id)
    {
        return Ok(Err(Refusal::Restricted));
    }
    let token = super::ingest::unused_token(&txn, org).await?;
    let subject = new.subject.trim().to_owned();
    let signature = super::signature::for_reply(&txn, org, &channel, author_id).await?;
    let body = format::with_signature(&text, &signature);
    let conversation = conversation::ActiveModel {
        organization_id: Set(org),
        channel_id: Set(Some(channel.id)),
        customer_id: Set(customer_id),
        token: Set(token.clone()),
        subject: Set(subject.clone()),
        status: Set("open".into()),
        // The agent who wrote first keeps it.
        assignee_id: Set(Some(author_id)),
        message_count: Set(0),
        created_at: Set(now),
        last_activity_at: Set(now),
        closed_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let inserted = message::ActiveModel {
        organization_id: Set(org),
        conversation_id: Set(conversation.id),
        direction: Set("outbound".into()),
        kind: Set("normal".into()),
        message_id_header: Set(new_message_id(&channel, &token)),
        in_reply_to: Set(String::new()),
        references_header: Set(String::new()),
        from_name: Set(channel.from_name.clone()),
        from_address: Set(channel.from_address.clone()),
        to_addresses: Set(compose::join(&new.recipients.to)),
        cc_addresses: Set(compose::join(&new.recipients.cc)),
        bcc_addresses: Set(compose::join(&new.recipients.bcc)),
        subject: Set(format!("{subject} {}", format_token_tag(&token))),
        text_body: Set(body.text),
        html_body: Set(Some(body.html)),
        parse_notes: Set("[]".into()),
        author_id: Set(Some(author_id)),
        delivery_status: Set(Some("queued".into())),
        delivery_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    compose::insert_rows(&txn, org, inserted.id, &sealed).await?;
    queued(org, inserted.id, channel.id, now)
        .insert(&txn)
        .await?;
    touch_conversation(&txn, conversation.id, now, false).await?;
    // Started by the team: the first response is given; the resolution counts from now.
    crate::sla::compute(&txn, org, &[conversation.id]).await?;
    crate::sla::first_reply(&txn, conversation.id, now).await?;
    for event in [
        crate::webhooks::Event::ConversationCreated {
            conversation_id: conversation.id,
        },
        crate::webhooks::Event::MessageCreated {
            message_id: inserted.id,
        },
    ] {
        crate::webhooks::emit(&txn, org, event).await?;
    }
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    state.events.publish(InboxEvent {
        org,
        conversation_id: conversation.id,
    });
    Ok(Ok(conversation.id))
}

/// `lethe.<token>.<random>@<the channel's domain>`: unique, and recognized when it comes back.
fn new_message_id(channel: &crate::db::entity::channel::Model, token: &str) -> String {
    let domain = channel
        .from_address
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_else(|| "lethe.invalid".into());
    format!(
        "lethe.{}.{}@{domain}",
        token.to_lowercase(),
        &random_token()[..16]
    )
}

/// The customer with this address, else a new one named after the address's local part.
async fn customer_for(
    db: &impl ConnectionTrait,
    org: OrgId,
    address: &crate::mail::EmailAddress,
    now: DateTime<Utc>,
) -> Result<i64, MailError> {
    use crate::db::entity::{customer, customer_email};
    let found = customer_email::Entity::find_in(org)
        .select_only()
        .column(customer_email::Column::CustomerId)
        .filter(customer_email::Column::Email.eq(address.as_str()))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    if let Some(id) = found {
        return Ok(id);
    }
    let local = address.as_str().split('@').next().unwrap_or_default();
    let created = customer::ActiveModel {
        organization_id: Set(org),
        display_name: Set(local.chars().take(200).collect()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    customer_email::ActiveModel {
        organization_id: Set(org),
        customer_id: Set(created.id),
        email: Set(address.as_str().to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(created.id)
}

/// Forwards message `message_id` of conversation `conversation_id` to outside addresses:
/// an outbound message of kind `forward` on the conversation (so it is shown, exported and
/// erased with it), with the agent's note above the forwarded text and the message's files
/// (new rows on the same stored files), queued in the outbox in one transaction. Replies to
/// the customer do not thread onto it.
pub async fn queue_forward(
    state: &AppState,
    org: OrgId,
    conversation_id: i64,
    message_id: i64,
    author_id: i64,
    to: Vec<crate::mail::EmailAddress>,
    note: &str,
) -> Result<Result<message::Model, Refusal>, MailError> {
    if to.is_empty() {
        return Ok(Err(Refusal::NoRecipient));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let conversation = conversation::Entity::find_by_id_in(org, conversation_id)
        .one(&txn)
        .await?
        .ok_or(MailError::ConversationNotFound)?;
    let original = message::Entity::find_by_id_in(org, message_id)
        .filter(message::Column::ConversationId.eq(conversation.id))
        .filter(message::Column::Direction.ne("note"))
        .one(&txn)
        .await?
        .ok_or(MailError::ConversationNotFound)?;
    let Some(channel) = sending_channel(&txn, org, &conversation).await? else {
        return Ok(Err(Refusal::NoSmtpChannel));
    };
    let own = organization_addresses(&txn, org).await?;
    if let Some(address) = to.iter().find(|a| is_one_of(a.as_str(), &own)) {
        return Ok(Err(Refusal::OwnAddress(address.to_string())));
    }
    let original_subject = if original.subject.trim().is_empty() {
        conversation.subject.clone()
    } else {
        original.subject.clone()
    };
    let from = if original.from_name.is_empty() {
        original.from_address.clone()
    } else {
        format!("{} <{}>", original.from_name, original.from_address)
    };
    let mut text = String::new();
    if !note.trim().is_empty() {
        text.push_str(note.trim());
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "---------- Forwarded message ----------\nFrom: {from}\nDate: {}\nSubject: {original_subject}\nTo: {}\n\n{}",
        original.created_at.to_rfc2822(),
        original.to_addresses,
        original.text_body
    ));
    let subject = format!(
        "Fwd: {} {}",
        super::parse::strip_subject_prefixes(&original_subject).trim(),
        format_token_tag(&conversation.token)
    );
    let files: Vec<compose::SealedAttachment> = crate::db::entity::attachment::Entity::find_in(org)
        .filter(crate::db::entity::attachment::Column::MessageId.eq(original.id))
        .order_by_asc(crate::db::entity::attachment::Column::Id)
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| compose::SealedAttachment {
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
            blob_id: a.blob_id,
        })
        .collect();
    record_forward(
        state,
        txn,
        org,
        &conversation,
        &channel,
        author_id,
        &to,
        subject,
        text,
        &files,
    )
    .await
    .map(Ok)
}

/// Forwards the whole conversation `conversation_id` (every message to and from the customer,
/// oldest first, without notes and earlier forwards) with all its files to outside addresses,
/// recorded like [`queue_forward`] as an outbound message of kind `forward`.
pub async fn queue_forward_conversation(
    state: &AppState,
    org: OrgId,
    conversation_id: i64,
    author_id: i64,
    to: Vec<crate::mail::EmailAddress>,
    note: &str,
) -> Result<Result<message::Model, Refusal>, MailError> {
    use crate::db::entity::attachment;
    if to.is_empty() {
        return Ok(Err(Refusal::NoRecipient));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let conversation = conversation::Entity::find_by_id_in(org, conversation_id)
        .one(&txn)
        .await?
        .ok_or(MailError::ConversationNotFound)?;
    let Some(channel) = sending_channel(&txn, org, &conversation).await? else {
        return Ok(Err(Refusal::NoSmtpChannel));
    };
    let own = organization_addresses(&txn, org).await?;
    if let Some(address) = to.iter().find(|a| is_one_of(a.as_str(), &own)) {
        return Ok(Err(Refusal::OwnAddress(address.to_string())));
    }
    let thread = message::Entity::find_in(org)
        .filter(message::Column::ConversationId.eq(conversation.id))
        .filter(message::Column::Direction.ne("note"))
        .filter(message::Column::Kind.ne("forward"))
        .order_by_asc(message::Column::CreatedAt)
        .order_by_asc(message::Column::Id)
        .all(&txn)
        .await?;
    let mut text = String::new();
    if !note.trim().is_empty() {
        text.push_str(note.trim());
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "---------- Forwarded conversation ----------\nSubject: {}\nMessages: {}\n",
        conversation.subject,
        thread.len()
    ));
    for m in &thread {
        let from = if m.from_name.is_empty() {
            m.from_address.clone()
        } else {
            format!("{} <{}>", m.from_name, m.from_address)
        };
        text.push_str(&format!(
            "\n---------- {} ----------\nFrom: {from}\nDate: {}\nTo: {}\n",
            if m.direction == "inbound" {
                "Message"
            } else {
                "Reply"
            },
            m.sent_at.unwrap_or(m.created_at).to_rfc2822(),
            m.to_addresses
        ));
        if !m.cc_addresses.is_empty() {
            text.push_str(&format!("Cc: {}\n", m.cc_addresses));
        }
        text.push('\n');
        text.push_str(m.text_body.trim_end());
        text.push('\n');
    }
    let subject = format!(
        "Fwd: {} {}",
        conversation.subject.trim(),
        format_token_tag(&conversation.token)
    );
    let ids: Vec<i64> = thread.iter().map(|m| m.id).collect();
    let files: Vec<compose::SealedAttachment> = attachment::Entity::lookup_in(org)
        .filter(attachment::Column::MessageId.is_in(ids))
        .order_by_asc(attachment::Column::MessageId)
        .order_by_asc(attachment::Column::Id)
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| compose::SealedAttachment {
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
            blob_id: a.blob_id,
        })
        .collect();
    record_forward(
        state,
        txn,
        org,
        &conversation,
        &channel,
        author_id,
        &to,
        subject,
        text,
        &files,
    )
    .await
    .map(Ok)
}

/// Writes a forward (message of kind `forward`, its attachment rows on already stored files,
/// its outbox row) in `txn` and commits it.
#[allow(clippy::too_many_arguments)]
async fn record_forward(
    state: &AppState,
    txn: sea_orm::DatabaseTransaction,
    org: OrgId,
    conversation: &conversation::Model,
    channel: &crate::db::entity::channel::Model,
    author_id: i64,
    to: &[crate::mail::EmailAddress],
    subject: String,
    text: String,
    files: &[compose::SealedAttachment],
) -> Result<message::Model, MailError> {
    let now = Utc::now();
    let inserted = message::ActiveModel {
        organization_id: Set(org),
        conversation_id: Set(conversation.id),
        direction: Set("outbound".into()),
        kind: Set("forward".into()),
        message_id_header: Set(new_message_id(channel, &conversation.token)),
        in_reply_to: Set(String::new()),
        references_header: Set(String::new()),
        from_name: Set(channel.from_name.clone()),
        from_address: Set(channel.from_address.clone()),
        to_addresses: Set(compose::join(to)),
        cc_addresses: Set(String::new()),
        bcc_addresses: Set(String::new()),
        subject: Set(subject),
        text_body: Set(text),
        html_body: Set(None),
        parse_notes: Set("[]".into()),
        author_id: Set(Some(author_id)),
        delivery_status: Set(Some("queued".into())),
        delivery_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    compose::insert_rows(&txn, org, inserted.id, files).await?;
    queued(org, inserted.id, channel.id, now)
        .insert(&txn)
        .await?;
    touch_conversation(&txn, conversation.id, now, false).await?;
    crate::webhooks::emit(
        &txn,
        org,
        crate::webhooks::Event::MessageCreated {
            message_id: inserted.id,
        },
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    state.events.publish(InboxEvent {
        org,
        conversation_id: conversation.id,
    });
    Ok(inserted)
}
