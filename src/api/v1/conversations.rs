//! `/api/v1/conversations`: the inbox list (the inbox's own query, `inbox::list::page`, with
//! its filters and keyset cursor, plus a text query answered by the search index), one
//! conversation, starting one (`mail::outbound::start_conversation`, as
//! `/conversations/new` does), and triage: status, assignee, tags (`inbox::triage`,
//! `inbox::tags`). Changes are refused (409) while the customer's processing is restricted.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{TagJson, audit, once, refuse_if_restricted};
use crate::api::auth::ApiCaller;
use crate::api::body::JsonBody;
use crate::api::idempotency::Resource;
use crate::api::scopes::Scope;
use crate::db::entity::conversation;
use crate::inbox::list::{self, Assignee, Cursor, Filter};
use crate::inbox::tags::{self, TagName};
use crate::inbox::triage::{self, Status};
use crate::mail::EmailAddress;
use crate::mail::compose::Recipients;
use crate::mail::outbound::{self, NewConversation, Refusal};
use crate::orgs::OrgId;
use crate::state::AppState;
use crate::web::AppError;

/// How many matches of a text query the list looks at (newest first).
pub const MAX_TEXT_MATCHES: usize = 1000;
/// The longest text query accepted.
const MAX_QUERY_CHARS: usize = 500;

/// Where a conversation stands.
#[derive(Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusName {
    Open,
    Pending,
    Closed,
    /// Set this way: until the customer answers (src/inbox/snooze.rs).
    Snoozed,
    Spam,
}

impl From<StatusName> for Status {
    fn from(name: StatusName) -> Self {
        match name {
            StatusName::Open => Status::Open,
            StatusName::Pending => Status::Pending,
            StatusName::Closed => Status::Closed,
            StatusName::Snoozed => Status::Snoozed,
            StatusName::Spam => Status::Spam,
        }
    }
}

/// Whose conversations to list: the key creator's, nobody's, or all.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AssigneeName {
    Mine,
    Unassigned,
    All,
}

/// A conversation.
#[derive(Serialize, ToSchema)]
pub struct ConversationJson {
    pub id: i64,
    pub subject: String,
    /// `open`, `pending`, `snoozed`, `closed` or `spam`.
    pub status: String,
    /// While snoozed: until when (null: until the customer answers, or not snoozed).
    pub snoozed_until: Option<DateTime<Utc>>,
    pub customer_id: i64,
    pub channel_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub tags: Vec<TagJson>,
    pub message_count: i32,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The customer's processing is restricted: nothing can be done with it.
    pub restricted: bool,
}

/// One page of the list.
#[derive(Serialize, ToSchema)]
pub struct ConversationPage {
    pub conversations: Vec<ConversationJson>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The list's filters, as the inbox has them.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Default `open`.
    status: Option<StatusName>,
    /// Default `all`.
    assignee: Option<AssigneeName>,
    /// A channel's id.
    channel: Option<i64>,
    /// A tag's id.
    tag: Option<i64>,
    /// Words or the search syntax of `/search`: only conversations with a matching message
    /// (the 1000 newest matches).
    q: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

async fn restricted_ids(state: &AppState, org: OrgId) -> Result<Vec<i64>, AppError> {
    Ok(crate::privacy::restrict::restricted_customer_ids(&state.db, org).await?)
}

/// The JSON of these conversations, with their tags.
async fn json_of(
    state: &AppState,
    org: OrgId,
    rows: Vec<conversation::Model>,
) -> Result<Vec<ConversationJson>, AppError> {
    let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
    let mut tags = tags::of_conversations(&state.db, org, &ids).await?;
    let restricted = restricted_ids(state, org).await?;
    Ok(rows
        .into_iter()
        .map(|c| ConversationJson {
            tags: tags
                .remove(&c.id)
                .unwrap_or_default()
                .into_iter()
                .map(TagJson::from)
                .collect(),
            restricted: restricted.contains(&c.customer_id),
            id: c.id,
            subject: c.subject,
            status: c.status,
            snoozed_until: c.snoozed_until,
            customer_id: c.customer_id,
            channel_id: c.channel_id,
            assignee_id: c.assignee_id,
            message_count: c.message_count,
            created_at: c.created_at,
            last_activity_at: c.last_activity_at,
            closed_at: c.closed_at,
        })
        .collect())
}

/// One conversation of the caller's organization as JSON.
pub(crate) async fn one_json(
    state: &AppState,
    org: OrgId,
    id: i64,
) -> Result<ConversationJson, AppError> {
    let found = crate::inbox::queries::conversation(&state.db, org, id).await?;
    json_of(state, org, vec![found])
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

/// The conversations matching a text query (newest matches first).
/// The conversations of `org` a text query (the search's syntax) matches, newest first, at
/// most [`MAX_TEXT_MATCHES`] (1000); also the inbox's and the saved views' text queries.
pub async fn matching(state: &AppState, org: OrgId, q: &str) -> Result<Vec<i64>, AppError> {
    use crate::search::{Page, Query, SearchContext, Sort};
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest("api.error.query_too_long"));
    }
    let query = Query::parse(q).map_err(|_| AppError::BadRequest("error.bad_request"))?;
    let per_page = 200;
    let mut ids = Vec::new();
    for number in 1..=MAX_TEXT_MATCHES / per_page {
        let index = state.search.clone();
        let query = query.clone();
        let page = Page {
            number,
            per_page,
            sort: Sort::Newest,
        };
        let ctx = SearchContext {
            me: None,
            hidden_conversations: Vec::new(),
        };
        let found = tokio::task::spawn_blocking(move || index.search(org, &query, &ctx, page))
            .await
            .map_err(AppError::internal)??;
        let count = found.hits.len();
        ids.extend(found.hits.into_iter().map(|h| h.conversation_id));
        if count < per_page {
            break;
        }
    }
    Ok(ids)
}

/// `GET /api/v1/conversations` — `api.conversations_listed` in the audit log.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    tag = "conversations",
    params(ListParams),
    responses((status = 200, description = "A page of conversations, newest activity first", body = ConversationPage)),
    security(("api_key" = ["read"]))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    let org = caller.scope.org();
    let query = query.into_inner();
    let before = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(cursor) => {
            Some(Cursor::parse(cursor).ok_or(AppError::BadRequest("api.error.bad_cursor"))?)
        }
        None => None,
    };
    let only = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => Some(matching(&state, org, q).await?),
        None => None,
    };
    let filter = Filter {
        status: query.status.map_or(Status::Open, Status::from),
        assignee: match query.assignee {
            Some(AssigneeName::Mine) => Assignee::Mine,
            Some(AssigneeName::Unassigned) => Assignee::Unassigned,
            _ => Assignee::All,
        },
        channel: query.channel,
        tag: query.tag,
        sla: None,
        sort: list::Sort::Activity,
        q: None,
        before,
        hidden_customers: Vec::new(),
        only,
    };
    let (rows, next) = list::page(&state.db, org, caller.scope.user_id(), &filter).await?;
    let conversations = json_of(&state, org, rows).await?;
    // The query's words may be personal data: the log records only that there was one.
    audit(
        &state,
        &caller,
        "api.conversations_listed",
        "conversations".to_owned(),
        serde_json::json!({
            "count": conversations.len(),
            "text_query": query.q.as_deref().is_some_and(|q| !q.trim().is_empty()),
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ConversationPage {
        conversations,
        next_cursor: next.map(|c| c.encode()),
    }))
}

/// `GET /api/v1/conversations/{id}` — `api.conversation_read`.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id", example = 1)),
    responses((status = 200, description = "The conversation", body = ConversationJson)),
    security(("api_key" = ["read"]))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    let id = path.into_inner();
    let found = one_json(&state, caller.scope.org(), id).await?;
    // Who looked at whose data (`/audit/access`), as for the conversation page.
    state.access.opened(
        &caller.scope,
        crate::audit::access::Kind::Conversation,
        Some(found.customer_id),
        Some(id),
    );
    audit(
        &state,
        &caller,
        "api.conversation_read",
        format!("conversation:{id}"),
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// A conversation to start: the first message goes out through the channel's SMTP server.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversationBody {
    /// A channel that sends mail.
    #[schema(example = 1)]
    channel_id: i64,
    /// At least one address; the first is the customer (found, or created).
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    bcc: Vec<String>,
    #[schema(min_length = 1, max_length = 500)]
    subject: String,
    #[schema(min_length = 1)]
    text: String,
}

/// Email addresses, each checked.
pub(crate) fn addresses(values: &[String]) -> Result<Vec<EmailAddress>, AppError> {
    values
        .iter()
        .map(|v| {
            EmailAddress::parse(v).map_err(|_| AppError::BadRequest("api.error.email_invalid"))
        })
        .collect()
}

/// Why a message could not be queued, as the API answers it.
pub(crate) fn refusal(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::Empty => AppError::BadRequest("reply.empty"),
        Refusal::NoSmtpChannel => AppError::Refused {
            key: "reply.no_smtp",
            reason: String::new(),
        },
        Refusal::NoRecipient => AppError::Refused {
            key: "reply.no_recipient",
            reason: String::new(),
        },
        Refusal::OwnAddress(_) => AppError::BadRequest("api.error.own_address"),
        Refusal::Restricted => AppError::Refused {
            key: "privacy.restrict.refused",
            reason: String::new(),
        },
    }
}

/// `POST /api/v1/conversations` — `api.conversation_started`; 201 with the conversation.
#[utoipa::path(
    post,
    path = "/api/v1/conversations",
    tag = "conversations",
    request_body = NewConversationBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated call")),
    responses((status = 201, description = "Started; the first message is queued", body = ConversationJson)),
    security(("api_key" = ["write"]))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    let (state, caller, body) = (&state, &caller, &body);
    once(state, caller, &req, body.bytes(), move || async move {
        let body: NewConversationBody = body.parse()?;
        let recipients = Recipients {
            to: addresses(&body.to)?,
            cc: addresses(&body.cc)?,
            bcc: addresses(&body.bcc)?,
        };
        if recipients.to.is_empty() {
            return Err(AppError::BadRequest("recipients.to_missing"));
        }
        let subject = body.subject.trim();
        if subject.is_empty() {
            return Err(AppError::BadRequest("compose.subject_missing"));
        }
        if subject.chars().count() > crate::inbox::compose::MAX_SUBJECT_CHARS {
            return Err(AppError::BadRequest("compose.subject_too_long"));
        }
        let org = caller.scope.org();
        let new = NewConversation {
            channel_id: body.channel_id,
            recipients,
            subject: subject.to_owned(),
            text: body.text,
            attachments: Vec::new(),
        };
        let id = outbound::start_conversation(state, org, caller.scope.user_id(), new)
            .await?
            .map_err(refusal)?;
        crate::inbox::queries::publish(state, org, id);
        audit(
            state,
            caller,
            "api.conversation_started",
            format!("conversation:{id}"),
            serde_json::json!({}),
        )
        .await?;
        Ok((StatusCode::CREATED, Resource::Conversation { id }))
    })
    .await
}

/// A new status.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: StatusName,
}

/// `PUT /api/v1/conversations/{id}/status` — `api.status_changed`.
#[utoipa::path(
    put,
    path = "/api/v1/conversations/{id}/status",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id", example = 1)),
    request_body = StatusBody,
    responses((status = 200, description = "The conversation, changed", body = ConversationJson)),
    security(("api_key" = ["write"]))
)]
pub async fn set_status(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    let id = path.into_inner();
    let org = caller.scope.org();
    crate::inbox::queries::conversation(&state.db, org, id).await?;
    let body: StatusBody = body.parse()?;
    refuse_if_restricted(&state, org, id).await?;
    let status = Status::from(body.status);
    triage::apply_status(&state, org, id, status).await?;
    audit(
        &state,
        &caller,
        "api.status_changed",
        format!("conversation:{id}"),
        serde_json::json!({ "status": status.as_str() }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(one_json(&state, org, id).await?))
}

/// A new assignee: a member's user id, or null for nobody.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssigneeBody {
    assignee_id: Option<i64>,
}

/// `PUT /api/v1/conversations/{id}/assignee` — `api.assignee_changed`.
#[utoipa::path(
    put,
    path = "/api/v1/conversations/{id}/assignee",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id", example = 1)),
    request_body = AssigneeBody,
    responses((status = 200, description = "The conversation, changed", body = ConversationJson)),
    security(("api_key" = ["write"]))
)]
pub async fn set_assignee(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    let id = path.into_inner();
    let org = caller.scope.org();
    crate::inbox::queries::conversation(&state.db, org, id).await?;
    let body: AssigneeBody = body.parse()?;
    refuse_if_restricted(&state, org, id).await?;
    let assignee = match body.assignee_id {
        Some(user_id) => Some(triage::member(&state.db, org, user_id).await?),
        None => None,
    };
    triage::apply_assignee(&state, org, id, assignee, caller.scope.user_id()).await?;
    audit(
        &state,
        &caller,
        "api.assignee_changed",
        format!("conversation:{id}"),
        serde_json::json!({ "assignee": assignee }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(one_json(&state, org, id).await?))
}

/// A tag to put on, by name (created on first use).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagBody {
    #[schema(min_length = 1, max_length = 50)]
    name: String,
}

/// `POST /api/v1/conversations/{id}/tags` — `api.tag_added`.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/tags",
    tag = "conversations",
    params(
        ("id" = i64, Path, description = "The conversation's id", example = 1),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated call")
    ),
    request_body = TagBody,
    responses((status = 200, description = "The conversation, tagged", body = ConversationJson)),
    security(("api_key" = ["write"]))
)]
pub async fn add_tag(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    let id = path.into_inner();
    let org = caller.scope.org();
    crate::inbox::queries::conversation(&state.db, org, id).await?;
    let (state, caller, body) = (&state, &caller, &body);
    once(state, caller, &req, body.bytes(), move || async move {
        let body: TagBody = body.parse()?;
        let name = TagName::parse(&body.name).map_err(AppError::BadRequest)?;
        refuse_if_restricted(state, org, id).await?;
        let tag = tags::link(&state.db, org, id, &name).await?;
        crate::inbox::queries::publish(state, org, id);
        audit(
            state,
            caller,
            "api.tag_added",
            format!("conversation:{id}"),
            serde_json::json!({ "tag": tag.id }),
        )
        .await?;
        Ok((StatusCode::OK, Resource::Conversation { id }))
    })
    .await
}

/// `DELETE /api/v1/conversations/{id}/tags/{tag_id}` — `api.tag_removed`.
#[utoipa::path(
    delete,
    path = "/api/v1/conversations/{id}/tags/{tag_id}",
    tag = "conversations",
    params(
        ("id" = i64, Path, description = "The conversation's id", example = 1),
        ("tag_id" = i64, Path, description = "The tag's id", example = 1)
    ),
    responses((status = 200, description = "The conversation, without the tag", body = ConversationJson)),
    security(("api_key" = ["write"]))
)]
pub async fn remove_tag(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    let (id, tag_id) = path.into_inner();
    let org = caller.scope.org();
    crate::inbox::queries::conversation(&state.db, org, id).await?;
    refuse_if_restricted(&state, org, id).await?;
    tags::unlink(&state.db, org, id, tag_id).await?;
    crate::inbox::queries::publish(&state, org, id);
    audit(
        &state,
        &caller,
        "api.tag_removed",
        format!("conversation:{id}"),
        serde_json::json!({ "tag": tag_id }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(one_json(&state, org, id).await?))
}
