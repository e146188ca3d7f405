//! The visitor's endpoints, answered without a session and never with a cookie:
//!
//! | route | what |
//! | --- | --- |
//! | `GET /chat/{token}.js` | the widget: its script with the channel's settings |
//! | `POST /chat/{token}/messages` | a message `{"visitor", "text", "name"?, "email"?, "website"}` |
//! | `GET /chat/{token}/messages?after=N` | the conversation's messages after N |
//! | `GET /chat/{token}/events?after=N` | server-sent `message` events after N |
//! | `POST /chat/{token}/delete` | "Delete this conversation" `{"visitor"}` |
//! | `POST /chat/{token}/files?name=…` | a file (image or PDF) as the raw body |
//! | `GET /chat/{token}/files/{id}` | a file of the visitor's conversation |
//! | `GET /chat/{token}/articles?q=…` | help-centre articles matching `q`, when offered ([`super::help`]) |
//! | `GET /chat/{token}/articles/{slug}` | one of them, as text |
//! | `GET /chat/{token}/help?q=…`, `…/help/{slug}` | the same as pages, without JavaScript |
//! | `OPTIONS /chat/{token}/…` | the CORS preflight |
//!
//! The visitor id is a secret (whoever holds it reads the conversation), so it never travels
//! in a URL, where a reverse proxy's access log or a browser's history would keep it: the
//! requests without a body send it in the [`VISITOR_HEADER`] header, the others in the body.
//!
//! Every JSON endpoint answers only a browser whose `Origin` is one of the channel's allowed
//! origins (exactly): another origin, or none, gets 403 without CORS headers, and nothing is
//! read or stored. Requests count against `LETHE_RATE_CHAT_PER_MINUTE` per visitor id and
//! per client address (the address is never stored). `website` is a honeypot: a person never
//! sees the field, so a message that fills it is refused and nothing is stored.

use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::ChatError;
use super::channel::{self, ChatChannel};
use super::visitor::{self, FileHeading, NewChatMessage, VisitorId, VisitorKey};
use crate::inbox::presence::Room;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::i18n::Lang;

/// The widget's script (plain JavaScript, no framework), completed by [`widget`].
const WIDGET_JS: &str = include_str!("../../assets/chat/widget.js");
/// The largest body a visitor may post (a message of the longest length, in any script).
const MAX_BODY: usize = 24 * 1024;
/// How often an open stream looks whether an agent still types (and, every
/// [`KEEP_ALIVE_TICKS`] quiet checks, writes a keep-alive comment).
const TYPING_CHECK: Duration = Duration::from_secs(4);
const KEEP_ALIVE_TICKS: u32 = 5;

/// One visitor's open event stream.
struct Listener {
    messages: crate::inbox::events::Subscription<crate::inbox::events::InboxEvent>,
    presence: tokio::sync::broadcast::Receiver<Room>,
    ticker: tokio::time::Interval,
    /// The last message sent.
    after: i64,
    first: bool,
    /// The visitor's conversation, once known.
    conversation: Option<i64>,
    /// Whether the visitor was last told that an agent types.
    typing: bool,
    quiet_ticks: u32,
}

/// What woke a stream.
enum Wake {
    Messages,
    Presence,
    Tick,
}

impl Listener {
    /// The next chunk of the stream; None when the server shuts down.
    async fn next(
        &mut self,
        state: &AppState,
        channel: &ChatChannel,
        visitor: &VisitorKey,
    ) -> Option<String> {
        loop {
            let wake = if self.first {
                self.first = false;
                Wake::Messages
            } else {
                self.wait(channel.org).await?
            };
            match wake {
                Wake::Messages => {
                    if self.conversation.is_none() {
                        self.conversation = visitor::conversation_of(&state.db, channel, visitor)
                            .await
                            .ok()
                            .flatten()
                            .map(|c| c.id);
                    }
                    let found = visitor::messages_after(&state.db, channel, visitor, self.after)
                        .await
                        .unwrap_or_default();
                    let mut chunk = String::new();
                    for message in &found {
                        self.after = message.id;
                        let data = serde_json::to_string(message).unwrap_or_default();
                        chunk.push_str(&format!(
                            "id: {}\nevent: message\ndata: {data}\n\n",
                            message.id
                        ));
                    }
                    if !chunk.is_empty() || self.quiet_ticks == 0 {
                        self.quiet_ticks = 1;
                        if chunk.is_empty() {
                            chunk.push_str(": listening\n\n");
                        }
                        return Some(chunk);
                    }
                }
                Wake::Presence | Wake::Tick => {
                    let typing = self.conversation.is_some_and(|conversation_id| {
                        state.presence.anyone_typing(Room {
                            org: channel.org,
                            conversation_id,
                        })
                    });
                    if typing != self.typing || (typing && matches!(wake, Wake::Presence)) {
                        self.typing = typing;
                        self.quiet_ticks = 1;
                        return Some(format!("event: typing\ndata: {{\"typing\":{typing}}}\n\n"));
                    }
                    if matches!(wake, Wake::Tick) {
                        self.quiet_ticks += 1;
                        if self.quiet_ticks >= KEEP_ALIVE_TICKS {
                            self.quiet_ticks = 1;
                            return Some(": keep-alive\n\n".to_owned());
                        }
                    }
                }
            }
        }
    }

    /// Waits for a change of the organization's conversations, of a conversation's
    /// presence, or the next check.
    async fn wait(&mut self, org: crate::orgs::OrgId) -> Option<Wake> {
        loop {
            tokio::select! {
                received = self.messages.recv() => match received {
                    Ok(event) if event.org == org
                        && self.conversation.is_none_or(|c| c == event.conversation_id) =>
                    {
                        return Some(Wake::Messages);
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => return Some(Wake::Messages),
                    Err(RecvError::Closed) => return None,
                },
                received = self.presence.recv() => match received {
                    Ok(room) if room.org == org && Some(room.conversation_id) == self.conversation => {
                        return Some(Wake::Presence);
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => return Some(Wake::Presence),
                    Err(RecvError::Closed) => return None,
                },
                _ = self.ticker.tick() => return Some(Wake::Tick),
            }
        }
    }
}

/// `GET /chat/{token}.js`: the widget with its settings. A script is loaded without CORS,
/// from any page; what it may then ask is decided by the `Origin` of those requests.
pub async fn widget(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let channel = match channel::by_token(&state.db, &token).await {
        Ok(Some(channel)) => channel,
        Ok(None) => return HttpResponse::NotFound().finish(),
        Err(error) => return failure(&ChatError::from(error)),
    };
    let closed = match super::hours::answers_by_mail(&state.db, &channel, chrono::Utc::now()).await
    {
        Ok(closed) => closed,
        Err(error) => return failure(&ChatError::from(error)),
    };
    let settings = &channel.settings;
    let texts: serde_json::Map<String, serde_json::Value> = Lang::ALL
        .iter()
        .map(|lang| {
            (
                lang.code().to_owned(),
                serde_json::to_value(settings.texts(*lang)).unwrap_or_default(),
            )
        })
        .collect();
    let config = serde_json::json!({
        "base": state.config.base_url.join("/chat"),
        "token": channel.token,
        "colour": settings.colour.as_str(),
        "texts": texts,
        "privacyUrl": settings.privacy_url,
        "maxChars": visitor::MAX_MESSAGE_CHARS,
        "closed": closed,
        "help": settings.help_articles,
        "helpTexts": settings.help_articles.then(super::help::widget_texts),
    });
    let body = format!("(function (CONFIG) {{\n{WIDGET_JS}\n}})({config});\n");
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The channel of the token and the request's allowed origin, or the answer that refuses.
pub(super) async fn admit(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
) -> Result<(ChatChannel, String), HttpResponse> {
    let channel = match channel::by_token(&state.db, token).await {
        Ok(Some(channel)) => channel,
        Ok(None) => return Err(HttpResponse::NotFound().finish()),
        Err(error) => return Err(failure(&ChatError::from(error))),
    };
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !channel.settings.allows(origin) {
        // No CORS headers: the browser keeps the answer from the page.
        return Err(HttpResponse::Forbidden()
            .content_type("application/json")
            .body(r#"{"error":"origin"}"#));
    }
    Ok((channel, origin.to_owned()))
}

/// The CORS headers of an allowed origin's answer.
pub(super) fn allowed(origin: &str, status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.to_owned()))
        .insert_header((header::VARY, "Origin"))
        .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"));
    builder
}

fn json_error(origin: &str, error: &ChatError) -> HttpResponse {
    allowed(origin, error.status())
        .content_type("application/json")
        .json(serde_json::json!({ "error": error.code() }))
}

pub(super) fn failure(error: &ChatError) -> HttpResponse {
    tracing::error!(%error, "chat request failed");
    HttpResponse::build(error.status())
        .content_type("application/json")
        .json(serde_json::json!({ "error": error.code() }))
}

/// `OPTIONS /chat/{token}/…`: the preflight of an allowed origin.
pub async fn preflight(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (token, _) = path.into_inner();
    match admit(&state, &req, &token).await {
        Ok((_, origin)) => allowed(&origin, StatusCode::NO_CONTENT)
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                format!("content-type, {VISITOR_HEADER}"),
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .finish(),
        Err(refused) => refused,
    }
}

#[derive(Deserialize)]
struct PostBody {
    #[serde(default)]
    visitor: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    /// The honeypot.
    #[serde(default)]
    website: String,
}

/// Reads a small JSON body (at most [`MAX_BODY`] bytes).
async fn read_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ChatError> {
    let declared = crate::web::forms::content_length(req);
    let body =
        crate::web::forms::read_limited(declared, payload.into_inner(), MAX_BODY, "error.bad_form")
            .await
            .map_err(|error| match error {
                crate::web::AppError::PayloadTooLarge => ChatError::TooLong,
                _ => ChatError::BadRequest,
            })?;
    serde_json::from_slice(&body).map_err(|_| ChatError::BadRequest)
}

/// `POST /chat/{token}/messages`.
pub async fn post_message(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let (channel, origin) = match admit(&state, &req, &path.into_inner()).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let answer = async {
        let body: PostBody = read_body(&req, payload).await?;
        let visitor = VisitorId::parse(&body.visitor)?.key();
        limit(&state, &req, &visitor)?;
        if !body.website.is_empty() {
            return Err(ChatError::Refused);
        }
        let new = NewChatMessage::parse(&body.text, &body.name, &body.email)?;
        visitor::post(&state, &channel, &visitor, new, None).await
    }
    .await;
    match answer {
        Ok(posted) => allowed(&origin, StatusCode::CREATED).json(serde_json::json!({
            "id": posted.message_id,
        })),
        Err(error) => respond_error(&origin, &error),
    }
}

pub(super) fn respond_error(origin: &str, error: &ChatError) -> HttpResponse {
    if error.status().is_server_error() {
        tracing::error!(%error, "chat request failed");
    }
    let mut response = json_error(origin, error);
    if let ChatError::TooManyRequests { retry_after_secs } = error
        && let Ok(value) = header::HeaderValue::from_str(&retry_after_secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn limit(state: &AppState, req: &HttpRequest, visitor: &VisitorKey) -> Result<(), ChatError> {
    state
        .rate_limits
        .chat(&ClientInfo::of(req), visitor.as_str())
        .map_err(|error| match error {
            crate::web::AppError::TooManyRequests { retry_after_secs } => {
                ChatError::TooManyRequests { retry_after_secs }
            }
            _ => ChatError::Refused,
        })
}

/// The header that carries the visitor id on requests without a JSON body.
pub const VISITOR_HEADER: &str = "lethe-visitor";

/// The visitor of a request without a JSON body, from [`VISITOR_HEADER`].
fn visitor_of(req: &HttpRequest) -> Result<VisitorKey, ChatError> {
    let value = req
        .headers()
        .get(VISITOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(VisitorId::parse(value)?.key())
}

#[derive(Deserialize)]
pub struct FetchQuery {
    #[serde(default)]
    after: i64,
}

/// `GET /chat/{token}/messages?after=N` (the visitor in [`VISITOR_HEADER`]).
pub async fn messages(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<FetchQuery>,
) -> HttpResponse {
    let (channel, origin) = match admit(&state, &req, &path.into_inner()).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let answer = async {
        let visitor = visitor_of(&req)?;
        limit(&state, &req, &visitor)?;
        Ok::<_, ChatError>(
            visitor::messages_after(&state.db, &channel, &visitor, query.after.max(0)).await?,
        )
    }
    .await;
    match answer {
        Ok(messages) => {
            allowed(&origin, StatusCode::OK).json(serde_json::json!({ "messages": messages }))
        }
        Err(error) => respond_error(&origin, &error),
    }
}

/// `GET /chat/{token}/events?after=N` (the visitor in [`VISITOR_HEADER`]): the messages after N at once, then each new
/// one of the visitor's conversation as it is written (the inbox's live events say when), and
/// `typing` events (`{"typing": true|false}`, never who) while an agent types an answer (the
/// conversation page's presence). A reconnecting browser sends `Last-Event-ID`, the last
/// message it got.
pub async fn events(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<FetchQuery>,
) -> HttpResponse {
    let (channel, origin) = match admit(&state, &req, &path.into_inner()).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let visitor = match visitor_of(&req) {
        Ok(visitor) => visitor,
        Err(error) => return respond_error(&origin, &error),
    };
    if let Err(error) = limit(&state, &req, &visitor) {
        return respond_error(&origin, &error);
    }
    let last_event = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let after = last_event.unwrap_or(query.after).max(0);
    let listener = Listener {
        messages: state.events.subscribe(),
        presence: state.presence.subscribe(),
        ticker: tokio::time::interval(TYPING_CHECK),
        after,
        first: true,
        conversation: None,
        typing: false,
        quiet_ticks: 0,
    };
    let state = state.into_inner();
    let stream = futures::stream::unfold(listener, move |mut listener| {
        let state = state.clone();
        let channel = channel.clone();
        let visitor = visitor.clone();
        async move {
            let chunk = listener.next(&state, &channel, &visitor).await?;
            Some((
                Ok::<_, std::convert::Infallible>(Bytes::from(chunk)),
                listener,
            ))
        }
    });
    allowed(&origin, StatusCode::OK)
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream)
}

#[derive(Deserialize)]
struct DeleteBody {
    #[serde(default)]
    visitor: String,
}

/// `POST /chat/{token}/delete`: erases the visitor's chat (see `visitor::delete_history`).
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let (channel, origin) = match admit(&state, &req, &path.into_inner()).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let answer = async {
        let body: DeleteBody = read_body(&req, payload).await?;
        let visitor = VisitorId::parse(&body.visitor)?.key();
        limit(&state, &req, &visitor)?;
        visitor::delete_history(&state, &channel, &visitor).await
    }
    .await;
    match answer {
        Ok(erased) => allowed(&origin, StatusCode::OK).json(serde_json::json!({
            "deleted": erased > 0,
        })),
        Err(error) => respond_error(&origin, &error),
    }
}

#[derive(Deserialize)]
pub struct FileQuery {
    #[serde(default)]
    name: String,
}

/// `POST /chat/{token}/files?name=…` (the visitor in [`VISITOR_HEADER`]): a file (an image or a PDF, the body as is,
/// its type in `Content-Type`, at most `LETHE_MAX_ATTACHMENT_MB`) as a message of its own.
pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<FileQuery>,
    payload: web::Payload,
) -> HttpResponse {
    let (channel, origin) = match admit(&state, &req, &path.into_inner()).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let answer = async {
        let visitor = visitor_of(&req)?;
        limit(&state, &req, &visitor)?;
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        // The type first: a file the chat does not take is not even read.
        let heading = FileHeading::parse(&query.name, &content_type)?;
        // Sealed into the store as it arrives, never held whole in memory.
        let blob = crate::web::upload::seal_body(
            crate::web::forms::content_length(&req),
            payload.into_inner(),
            &state.blobs,
            state.config.max_attachment_bytes,
        )
        .await
        .map_err(|error| match error {
            crate::web::AppError::PayloadTooLarge => ChatError::TooLong,
            crate::web::AppError::BadRequest(_) => ChatError::BadRequest,
            other => ChatError::Store(other),
        })?;
        let file = heading.with_body(blob)?;
        let new = NewChatMessage::parse(&file.filename, "", "")?;
        visitor::post(&state, &channel, &visitor, new, Some(file)).await
    }
    .await;
    match answer {
        Ok(posted) => allowed(&origin, StatusCode::CREATED).json(serde_json::json!({
            "id": posted.message_id,
        })),
        Err(error) => respond_error(&origin, &error),
    }
}

/// `GET /chat/{token}/files/{id}` (the visitor in [`VISITOR_HEADER`]): a file of the
/// visitor's own conversation, as a download (404 for any other).
pub async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (token, id) = path.into_inner();
    let (channel, origin) = match admit(&state, &req, &token).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let answer = async {
        let visitor = visitor_of(&req)?;
        limit(&state, &req, &visitor)?;
        let Some(file) = visitor::file_of(&state.db, &channel, &visitor, id).await? else {
            return Ok(None);
        };
        // Opened before the answer starts (a missing file is an error, not a cut download),
        // then sent a chunk at a time from the store, never read whole into memory.
        let blobs = state.blobs.clone();
        let blob_id = file.blob_id.clone();
        let reader = tokio::task::spawn_blocking(move || blobs.open(&blob_id))
            .await
            .map_err(|e| ChatError::from_mail(e.into()))?
            .map_err(|e| ChatError::from_mail(e.into()))?;
        Ok::<_, ChatError>(Some((file, reader)))
    }
    .await;
    match answer {
        Ok(Some((file, mut reader))) => {
            let content_type = if visitor::FILE_TYPES.contains(&file.content_type.as_str()) {
                file.content_type.clone()
            } else {
                "application/octet-stream".to_owned()
            };
            let name = crate::mail::parse::clean_filename(&file.filename)
                .unwrap_or_else(|| "file".to_owned())
                .replace('"', "");
            let body = crate::web::zip_stream::stream("chat file", move |_, mut sink| {
                std::io::copy(&mut reader, &mut sink)?;
                std::io::Write::flush(&mut sink)
            });
            allowed(&origin, StatusCode::OK)
                .insert_header((header::CONTENT_TYPE, content_type))
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ))
                .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .body(actix_web::body::SizedStream::new(
                    u64::try_from(file.size).unwrap_or(0),
                    body,
                ))
        }
        Ok(None) => allowed(&origin, StatusCode::NOT_FOUND)
            .content_type("application/json")
            .body(r#"{"error":"not_found"}"#),
        Err(error) => respond_error(&origin, &error),
    }
}
