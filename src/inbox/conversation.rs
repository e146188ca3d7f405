//! The conversation page (`/conversations/{id}`): the thread oldest to newest (inbound,
//! outbound and internal notes told apart), kind badges, parse notes, delivery status of
//! replies, attachments, the customer's other conversations, and the forms to reply, note,
//! triage and tag. Customer HTML was sanitized at ingest; remote images load only for the one
//! message the agent asked for (`?remote_images=<message id>`), with a CSP widened for that
//! response alone.

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::triage::Status;
use super::{attachments, canned, queries, tags};
use crate::db::InOrg;
use crate::db::entity::{
    attachment, canned_reply, conversation, customer, customer_email, message, tag,
};
use crate::mail::parse::{sanitize_html, unpark_remote_images};
use crate::orgs::TenantScope;
use crate::orgs::queries::Member;
use crate::state::AppState;
use crate::web::headers::CONTENT_SECURITY_POLICY;
use crate::web::paths;
use crate::web::{AppError, Page, render};

/// The query string of the conversation page.
#[derive(Deserialize, Default)]
pub struct ViewQuery {
    /// Load the remote images of this one message.
    remote_images: Option<String>,
    /// Pre-fill the reply box with this canned reply.
    canned: Option<String>,
    /// "Reply all": pre-fill Cc with the other addresses of the last customer mail.
    reply_all: Option<String>,
}

/// An attachment as listed under its message.
pub struct AttachmentView {
    pub id: i64,
    pub filename: String,
    pub size: String,
}

/// A message as the thread shows it.
pub struct MessageView {
    pub id: i64,
    /// `inbound`, `outbound` or `note`.
    pub direction: String,
    pub direction_key: &'static str,
    pub kind_key: Option<&'static str>,
    pub from: String,
    pub at: String,
    pub at_iso: String,
    pub text: String,
    /// Sanitized HTML, shown as is.
    pub html: Option<String>,
    pub has_remote_images: bool,
    pub remote_images_loaded: bool,
    pub notes: Vec<String>,
    pub delivery: Option<String>,
    pub delivery_key: Option<&'static str>,
    pub delivery_error: Option<String>,
    pub attachments: Vec<AttachmentView>,
    /// A note's text cut at its `@mentions` of team members (empty: show `text` as is).
    pub segments: Vec<super::notifications::mentions::Segment>,
}

impl MessageView {
    pub fn failed(&self) -> bool {
        self.delivery.as_deref() == Some("failed")
    }
}

/// Another conversation of the same customer.
pub struct OtherConversation {
    pub id: i64,
    pub subject: String,
    pub status_key: &'static str,
    pub last_activity: String,
    /// Marked as spam: not offered for merging.
    pub spam: bool,
}

impl From<conversation::Model> for OtherConversation {
    fn from(c: conversation::Model) -> Self {
        Self {
            id: c.id,
            status_key: Status::key_of(&c.status),
            spam: c.status == Status::Spam.as_str(),
            last_activity: queries::short_time(&c.last_activity_at),
            subject: c.subject,
        }
    }
}

#[derive(Template)]
#[template(path = "inbox/conversation.html")]
pub struct ConversationPage {
    pub page: Page,
    pub conversation: conversation::Model,
    pub status_key: &'static str,
    pub customer_name: String,
    pub customer_emails: Vec<String>,
    pub messages: Vec<MessageView>,
    pub tags: Vec<tag::Model>,
    pub all_tags: Vec<tag::Model>,
    pub members: Vec<Member>,
    pub others: Vec<OtherConversation>,
    pub canned: Vec<canned_reply::Model>,
    pub reply_text: String,
    pub reply_error: Option<&'static str>,
    pub note_text: String,
    pub note_error: Option<&'static str>,
    /// A file over a limit, in words (already translated): the reply form came back.
    pub reply_problem: Option<String>,
    /// The same for the note form.
    pub note_problem: Option<String>,
    /// The reply form's To, Cc and Bcc (defaults, or as typed when the form came back).
    pub reply_to: String,
    pub reply_cc: String,
    pub reply_bcc: String,
    /// A forward form that came back: (message id, problem), and its fields as typed.
    pub forward_problem: Option<(i64, String)>,
    pub forward_to: String,
    pub forward_note: String,
    /// The reply as the "Preview" button rendered it (sanitized HTML, signatures included).
    pub reply_preview: Option<String>,
    /// Whether "Reply all" would add anyone (the last customer mail had other addresses).
    pub reply_all_available: bool,
    /// The largest file the forms take, in MB, for the hint under the file inputs.
    pub max_attachment_mb: usize,
    /// The customer's restriction of processing (src/privacy/restrict.rs): a banner, no reply
    /// or note forms, and for agents no thread.
    pub restriction: Option<crate::privacy::restrict::Restriction>,
    /// retention (src/retention/hold.rs): templates/retention/legal_hold.html
    pub legal_hold: crate::retention::hold::LegalHoldView,
    /// Draft, undo, presence and collision around the reply box (src/inbox/writing.rs).
    pub writing: super::writing::WritingView,
    /// The customer's orders from linked shops (src/assist/orders/panel.rs).
    pub orders: crate::assist::orders::panel::OrdersPanel,
    /// The intent of the newest customer message, offered as a tag (src/assist/intent/).
    pub intent: Option<crate::assist::intent::view::IntentView>,
    /// Whether "Draft with the language model" is offered (src/assist/llm/draft.rs): the
    /// organization switched it on and the customer's data may be processed.
    pub model_draft: bool,
    /// Suggestions for the newest customer message, when the organization shows them
    /// (src/assist/suggest/).
    pub suggestions: Option<crate::assist::suggest::routes::SuggestionsView>,
}

impl ConversationPage {
    /// The next SLA deadline: time left or overdue (src/sla/).
    fn sla_shown(&self) -> Option<crate::sla::Shown> {
        crate::sla::shown(&self.conversation, chrono::Utc::now())
    }

    /// Agents see a restricted customer's conversation as the banner only.
    fn show_thread(&self) -> bool {
        self.restriction.is_none() || self.page.is_admin()
    }

    fn statuses(&self) -> [Status; 5] {
        Status::ALL
    }

    fn is_status(&self, status: &Status) -> bool {
        self.conversation.status == status.as_str()
    }

    fn is_assignee(&self, user_id: &i64) -> bool {
        self.conversation.assignee_id == Some(*user_id)
    }

    /// The problem of a forward of message `id` that came back, if any.
    fn forward_problem_of(&self, id: &i64) -> Option<&str> {
        self.forward_problem
            .as_ref()
            .filter(|(m, _)| m == id)
            .map(|(_, p)| p.as_str())
    }

    /// The customer's other conversations that can be merged into this one (none for spam
    /// or a restricted customer: src/inbox/merge.rs).
    fn mergeable(&self) -> Vec<&OtherConversation> {
        if self.restriction.is_some() || self.conversation.status == Status::Spam.as_str() {
            return Vec::new();
        }
        self.others.iter().filter(|o| !o.spam).collect()
    }

    /// Whether message `m` can be split off into a new conversation: a customer's message
    /// that is not the conversation's only one (src/inbox/split.rs).
    fn splittable(&self, m: &MessageView) -> bool {
        m.direction == "inbound"
            && self.restriction.is_none()
            && self
                .messages
                .iter()
                .filter(|other| other.direction != "note")
                .count()
                > 1
    }

    /// The Cc and Bcc fields start open when they hold something.
    fn copies_open(&self) -> bool {
        !self.reply_cc.trim().is_empty() || !self.reply_bcc.trim().is_empty()
    }
}

/// What the reply and note boxes hold when the page is shown again with a mistake.
#[derive(Default)]
pub struct Drafts {
    pub reply_text: Option<String>,
    pub reply_error: Option<&'static str>,
    pub note_text: String,
    pub note_error: Option<&'static str>,
    pub reply_problem: Option<String>,
    pub note_problem: Option<String>,
    /// A forward of this message that came back with this problem (already translated).
    pub forward_problem: Option<(i64, String)>,
    pub forward_to: String,
    pub forward_note: String,
    /// The address fields as typed (`None`: the defaults).
    pub reply_to: Option<String>,
    pub reply_cc: Option<String>,
    pub reply_bcc: Option<String>,
    /// The reply came back because a customer wrote meanwhile (src/inbox/collision.rs).
    pub newer_message: bool,
    /// The reply rendered by the "Preview" button (sanitized HTML).
    pub reply_preview: Option<String>,
}

fn human_size(bytes: i64) -> String {
    const KB: i64 = 1024;
    match bytes {
        b if b < KB => format!("{b} B"),
        b if b < KB * KB => format!("{:.1} KB", b as f64 / KB as f64),
        b => format!("{:.1} MB", b as f64 / (KB * KB) as f64),
    }
}

fn delivery_key(status: &str) -> &'static str {
    match status {
        "queued" => "delivery.queued",
        "retrying" => "delivery.retrying",
        "sent" => "delivery.sent",
        crate::mail::outbound::CHAT_DELIVERY => "delivery.chat",
        _ => "delivery.failed",
    }
}

fn kind_key(kind: &str) -> Option<&'static str> {
    match kind {
        "auto_reply" => Some("kind.auto_reply"),
        "bulk" => Some("kind.bulk"),
        "bounce" => Some("kind.bounce"),
        "forward" => Some("kind.forward"),
        crate::mail::ingest::FORWARD_ANSWER => Some("kind.forward_answer"),
        _ => None,
    }
}

fn direction_key(direction: &str) -> &'static str {
    match direction {
        "outbound" => "thread.outbound",
        "note" => "thread.note",
        _ => "thread.inbound",
    }
}

/// The stored (sanitized, images parked) HTML with the parked sources of remote images put
/// back, sanitized once more with remote images allowed.
fn with_remote_images(html: &str) -> String {
    sanitize_html(&unpark_remote_images(html), true)
}

/// Builds the page; `remote_images` and `canned` come from the query string.
pub async fn load(
    state: &AppState,
    scope: &TenantScope,
    id: i64,
    query: &ViewQuery,
    drafts: Drafts,
) -> Result<ConversationPage, AppError> {
    let org = scope.org();
    let db = &state.db;
    let conversation = queries::conversation(db, org, id).await?;
    let remote_for: Option<i64> = query.remote_images.as_deref().and_then(|v| v.parse().ok());
    let messages = message::Entity::lookup_in(org)
        .filter(message::Column::ConversationId.eq(id))
        .order_by_asc(message::Column::CreatedAt)
        .order_by_asc(message::Column::Id)
        .all(db)
        .await?;
    let message_ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    let defaults =
        crate::mail::outbound::reply_defaults_of(db, org, &conversation, &messages, true).await?;
    let newest_customer = crate::assist::intent::view::newest_customer_message(&messages)
        .map(|(subject, text)| (subject.to_owned(), text.to_owned()));
    let writing =
        super::writing::view(state, scope, id, &message_ids, drafts.newer_message).await?;
    // The agent's saved draft, unless the form came back with what they typed.
    let saved = match drafts.reply_text {
        Some(_) => None,
        None => super::drafts::of(db, org, id, scope.user_id())
            .await?
            .map(super::drafts::DraftFields::from),
    };
    let mut attachments: HashMap<i64, Vec<AttachmentView>> = HashMap::new();
    // Message → Content-ID → attachment, for the `cid:` images of its HTML.
    let mut inline: HashMap<i64, HashMap<String, i64>> = HashMap::new();
    if !message_ids.is_empty() {
        for a in attachment::Entity::lookup_in(org)
            .filter(attachment::Column::MessageId.is_in(message_ids))
            .order_by_asc(attachment::Column::Id)
            .all(db)
            .await?
        {
            if let Some(content_id) = a.content_id {
                inline
                    .entry(a.message_id)
                    .or_default()
                    .insert(content_id, a.id);
            }
            attachments
                .entry(a.message_id)
                .or_default()
                .push(AttachmentView {
                    id: a.id,
                    filename: a.filename,
                    size: human_size(a.size),
                });
        }
    }
    let authors =
        queries::user_names(db, messages.iter().filter_map(|m| m.author_id).collect()).await?;
    // The team, when a note may mention someone (`@name` is highlighted).
    let team = if messages
        .iter()
        .any(|m| m.direction == "note" && m.text_body.contains('@'))
    {
        super::notifications::mentions::team(db, org).await?
    } else {
        Vec::new()
    };
    let messages: Vec<MessageView> = messages
        .into_iter()
        .map(|m| {
            let segments = if m.direction == "note" && m.text_body.contains('@') {
                super::notifications::mentions::segments(&m.text_body, &team)
            } else {
                Vec::new()
            };
            let author = m.author_id.and_then(|a| authors.get(&a).cloned());
            let from = match author {
                Some(author) if m.direction != "inbound" => author,
                _ if !m.from_name.is_empty() => format!("{} <{}>", m.from_name, m.from_address),
                _ => m.from_address.clone(),
            };
            let has_remote_images = m
                .html_body
                .as_deref()
                .is_some_and(|h| h.contains("data-remote-src=\""));
            let remote_images_loaded = has_remote_images && remote_for == Some(m.id);
            let html = m.html_body.as_deref().map(|h| {
                let h = if remote_images_loaded {
                    with_remote_images(h)
                } else {
                    h.to_owned()
                };
                // After sanitizing: the sanitizer denies relative URLs such as downloads.
                match inline.get(&m.id) {
                    Some(by_content_id) => attachments::with_inline_images(&h, by_content_id),
                    None => h,
                }
            });
            MessageView {
                id: m.id,
                direction_key: direction_key(&m.direction),
                kind_key: kind_key(&m.kind),
                from,
                at: queries::short_time(&m.created_at),
                at_iso: m.created_at.to_rfc3339(),
                text: m.text_body,
                html,
                has_remote_images,
                remote_images_loaded,
                notes: serde_json::from_str(&m.parse_notes).unwrap_or_default(),
                delivery_key: m.delivery_status.as_deref().map(delivery_key),
                delivery: m.delivery_status,
                delivery_error: m.delivery_error,
                attachments: attachments.remove(&m.id).unwrap_or_default(),
                direction: m.direction,
                segments,
            }
        })
        .collect();
    // The customer's record, read once for their name and for what the page may show of
    // them (restriction, objections).
    let customer = customer::Entity::find_by_id_in(org, conversation.customer_id)
        .one(db)
        .await?;
    let customer_name = customer
        .as_ref()
        .map(|c| c.display_name.clone())
        .unwrap_or_default();
    let customer_emails = customer_email::Entity::lookup_in(org)
        .select_only()
        .column(customer_email::Column::Email)
        .filter(customer_email::Column::CustomerId.eq(conversation.customer_id))
        .order_by_asc(customer_email::Column::Id)
        .into_tuple::<String>()
        .all(db)
        .await?;
    let others = conversation::Entity::lookup_in(org)
        .filter(conversation::Column::CustomerId.eq(conversation.customer_id))
        .filter(conversation::Column::Id.ne(id))
        .order_by_desc(conversation::Column::LastActivityAt)
        .limit(20)
        .all(db)
        .await?
        .into_iter()
        .map(OtherConversation::from)
        .collect();
    let canned_list = canned::all(db, org).await?;
    let (saved_text, saved_to, saved_cc, saved_bcc) = match saved {
        Some(d) => (Some(d.text), Some(d.to), Some(d.cc), Some(d.bcc)),
        None => (None, None, None, None),
    };
    let reply_text = match (drafts.reply_text, query.canned.as_deref()) {
        (Some(text), _) => text,
        (None, Some(canned_id)) if !canned_id.is_empty() => {
            let canned_id: i64 = canned_id.parse().map_err(|_| AppError::NotFound)?;
            let chosen = canned::find(db, org, canned_id).await?;
            let agent = scope
                .session
                .user
                .as_ref()
                .map(|u| u.display_name.clone())
                .unwrap_or_default();
            canned::fill(
                &chosen.body,
                &canned::Placeholders {
                    customer_name: &customer_name,
                    agent_name: &agent,
                    ticket: &conversation.token,
                },
            )
        }
        _ => saved_text.unwrap_or_default(),
    };
    let reply_all_available = !defaults.cc.is_empty();
    let reply_cc = match (drafts.reply_cc.or(saved_cc), query.reply_all.is_some()) {
        (Some(typed), _) => typed,
        (None, true) => defaults.cc.join(", "),
        (None, false) => String::new(),
    };
    let reply_to = drafts
        .reply_to
        .or(saved_to)
        .unwrap_or_else(|| defaults.to.unwrap_or_default());
    let mut conversation_tags = tags::of_conversations(db, org, &[id]).await?;
    let restriction = customer
        .as_ref()
        .and_then(crate::privacy::restrict::Restriction::of);
    // Restricted, or objected to processing: no orders, no model, no suggestions.
    let withheld = crate::privacy::objection::content_withheld_of(customer.as_ref());
    let assist_withheld = crate::privacy::objection::assist_withheld_of(customer.as_ref());
    let texts: Vec<(i64, &str)> = messages
        .iter()
        .filter(|m| m.html.is_none() && m.segments.is_empty())
        .map(|m| (m.id, m.text.as_str()))
        .collect();
    let htmls: Vec<(i64, &str)> = messages
        .iter()
        .filter_map(|m| m.html.as_deref().map(|h| (m.id, h)))
        .collect();
    let orders = crate::assist::orders::panel::load(
        state,
        org,
        conversation.customer_id,
        restriction.is_some() || withheld,
        &texts,
        &htmls,
    )
    .await?;
    let tags_here = conversation_tags.remove(&id).unwrap_or_default();
    let all_tags = tags::all(db, org).await?;
    let intent = crate::assist::intent::view::of_customer(
        &state.intents,
        org,
        customer.as_ref(),
        newest_customer
            .as_ref()
            .map(|(subject, text)| (subject.as_str(), text.as_str())),
        &tags_here,
        &all_tags,
    );
    let model_draft = !assist_withheld
        && crate::assist::llm::settings::of(db, org)
            .await?
            .is_some_and(|m| m.enabled);
    let suggestions = match restriction {
        Some(_) => None,
        None => {
            crate::assist::suggest::routes::view(
                state,
                scope,
                &conversation,
                &customer_name,
                assist_withheld,
            )
            .await?
        }
    };
    Ok(ConversationPage {
        orders,
        intent,
        suggestions,
        model_draft,
        restriction,
        legal_hold: crate::retention::hold::conversation_view(
            db,
            org,
            id,
            conversation.customer_id,
        )
        .await?,
        page: Page::new(state, &scope.session, "inbox").await?,
        status_key: Status::key_of(&conversation.status),
        tags: tags_here,
        all_tags,
        members: crate::orgs::queries::members(db, org).await?,
        conversation,
        customer_name,
        customer_emails,
        messages,
        others,
        canned: canned_list,
        reply_text,
        reply_error: drafts.reply_error,
        note_text: drafts.note_text,
        note_error: drafts.note_error,
        reply_problem: drafts.reply_problem,
        note_problem: drafts.note_problem,
        reply_to,
        reply_cc,
        reply_bcc: drafts.reply_bcc.or(saved_bcc).unwrap_or_default(),
        writing,
        reply_all_available,
        forward_problem: drafts.forward_problem,
        forward_to: drafts.forward_to,
        forward_note: drafts.forward_note,
        reply_preview: drafts.reply_preview,
        max_attachment_mb: state.config.max_attachment_bytes / (1024 * 1024),
    })
}

/// The Content-Security-Policy for a page that shows one message's remote images: the
/// default, with `https:` and `http:` images allowed (much shop mail still links images over
/// plain HTTP; the browser upgrades or blocks them on an HTTPS page as it does elsewhere).
pub fn remote_images_csp() -> String {
    CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", "img-src 'self' data: https: http:")
}

pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    query: web::Query<ViewQuery>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    // Opening it reads its notifications (before the page counts them for the bell).
    let read = super::notifications::store::mark_conversation_read(
        &state.db,
        scope.org(),
        scope.user_id(),
        id,
        chrono::Utc::now(),
    )
    .await?;
    let page = match load(&state, &scope, id, &query, Drafts::default()).await {
        Ok(page) => page,
        // A conversation merged into another: its old URL leads there (src/inbox/merge.rs).
        Err(AppError::NotFound) => {
            return match super::merge::target_of(&state.db, scope.org(), id).await? {
                Some(target) => Ok(HttpResponse::MovedPermanently()
                    .insert_header((header::LOCATION, paths::CONVERSATION.at(target)))
                    .finish()),
                None => Err(AppError::NotFound),
            };
        }
        Err(error) => return Err(error),
    };
    if read > 0 {
        super::notifications::publish_count(&state, scope.org(), scope.user_id()).await;
    }
    super::unread::mark_opened(
        &state.db,
        scope.org(),
        scope.user_id(),
        page.conversation.id,
    )
    .await?;
    state.access.opened(
        &scope,
        crate::audit::access::Kind::Conversation,
        Some(page.conversation.customer_id),
        Some(page.conversation.id),
    );
    let remote = page.messages.iter().any(|m| m.remote_images_loaded);
    let mut response = render(&page)?;
    if remote {
        let csp = HeaderValue::from_str(&remote_images_csp()).map_err(AppError::internal)?;
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}
