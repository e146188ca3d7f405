//! The visitor's endpoints, answered without a session and never with a cookie:
//!
//! | route | what |
//! | --- | --- |
//! | `GET /chat/{token}.js` | the widget: its script with the channel's settings |
//! | `POST /chat/{token}/messages` | a message `{"visitor", "text", "name"?, "email"?, "website"}` |
//! | `GET /chat/{token}/messages?visitor=…&after=N` | the conversation's messages after N |
//! | `GET /chat/{token}/events?visitor=…&after=N` | server-sent `message` events after N |
//! | `POST /chat/{token}/delete` | "Delete this conversation" `{"visitor"}` |
//! | `OPTIONS /chat/{token}/…` | the CORS preflight |
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
use super::visitor::{self, NewChatMessage, VisitorId, VisitorKey};
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::i18n::Lang;

/// The widget's script (plain JavaScript, no framework), completed by [`widget`].
const WIDGET_JS: &str = include_str!("../../assets/chat/widget.js");
/// The largest body a visitor may post (a message of the longest length, in any script).
const MAX_BODY: usize = 24 * 1024;
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// `GET /chat/{token}.js`: the widget with its settings. A script is loaded without CORS,
/// from any page; what it may then ask is decided by the `Origin` of those requests.
pub async fn widget(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let channel = match channel::by_token(&state.db, &token).await {
        Ok(Some(channel)) => channel,
        Ok(None) => return HttpResponse::NotFound().finish(),
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
    });
    let body = format!("(function (CONFIG) {{\n{WIDGET_JS}\n}})({config});\n");
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The channel of the token and the request's allowed origin, or the answer that refuses.
async fn admit(
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
fn allowed(origin: &str, status: StatusCode) -> actix_web::HttpResponseBuilder {
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

fn failure(error: &ChatError) -> HttpResponse {
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
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"))
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
    let body = crate::web::forms::read_limited(
        declared,
        payload.into_inner(),
        MAX_BODY,
        "error.bad_form",
    )
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
        visitor::post(&state, &channel, &visitor, new).await
    }
    .await;
    match answer {
        Ok(posted) => allowed(&origin, StatusCode::CREATED).json(serde_json::json!({
            "id": posted.message_id,
        })),
        Err(error) => respond_error(&origin, &error),
    }
}

fn respond_error(origin: &str, error: &ChatError) -> HttpResponse {
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

#[derive(Deserialize)]
pub struct FetchQuery {
    #[serde(default)]
    visitor: String,
    #[serde(default)]
    after: i64,
}

/// `GET /chat/{token}/messages?visitor=…&after=N`.
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
        let visitor = VisitorId::parse(&query.visitor)?.key();
        limit(&state, &req, &visitor)?;
        Ok::<_, ChatError>(
            visitor::messages_after(&state.db, &channel, &visitor, query.after.max(0)).await?,
        )
    }
    .await;
    match answer {
        Ok(messages) => allowed(&origin, StatusCode::OK)
            .json(serde_json::json!({ "messages": messages })),
        Err(error) => respond_error(&origin, &error),
    }
}

/// `GET /chat/{token}/events?visitor=…&after=N`: the messages after N at once, then each new
/// one of the visitor's conversation as it is written (the inbox's live events say when).
/// A reconnecting browser sends `Last-Event-ID`, the last message it got.
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
    let visitor = match VisitorId::parse(&query.visitor) {
        Ok(id) => id.key(),
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
    let receiver = state.events.subscribe();
    let ticker = tokio::time::interval(KEEP_ALIVE);
    let state = state.into_inner();
    let org = channel.org;
    let stream = futures::stream::unfold(
        (receiver, ticker, after, true),
        move |(mut receiver, mut ticker, after, first)| {
            let state = state.clone();
            let channel = channel.clone();
            let visitor = visitor.clone();
            async move {
                if !first {
                    let mut quiet = false;
                    loop {
                        tokio::select! {
                            received = receiver.recv() => match received {
                                Ok(event) if event.org == org => break,
                                Ok(_) => continue,
                                Err(RecvError::Lagged(_)) => break,
                                Err(RecvError::Closed) => return None,
                            },
                            _ = ticker.tick() => {
                                quiet = true;
                                break;
                            }
                        }
                    }
                    if quiet {
                        let alive = Bytes::from_static(b": keep-alive\n\n");
                        return Some((
                            Ok::<_, std::convert::Infallible>(alive),
                            (receiver, ticker, after, false),
                        ));
                    }
                }
                let found = visitor::messages_after(&state.db, &channel, &visitor, after)
                    .await
                    .unwrap_or_default();
                let mut chunk = String::new();
                let mut last = after;
                for message in &found {
                    last = message.id;
                    let data = serde_json::to_string(message).unwrap_or_default();
                    chunk.push_str(&format!("id: {}\nevent: message\ndata: {data}\n\n", message.id));
                }
                if chunk.is_empty() {
                    chunk.push_str(": nothing new\n\n");
                }
                Some((Ok(Bytes::from(chunk)), (receiver, ticker, last, false)))
            }
        },
    );
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
