//! Live updates (`GET /events`): a server-sent-event stream of `conversation` events for the
//! session's organization only, and `notification` events (`{"unread":N}`) for the session's
//! user in that organization only (src/inbox/notifications), with a comment every 20 seconds
//! to keep proxies from closing it. `assets/js/app.js` listens; without JavaScript nothing is
//! lost. A user holds at most `LETHE_SSE_STREAMS_PER_USER` streams at once: one more answers
//! 429 until one closes.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use tokio::sync::broadcast::error::RecvError;

use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::AppError;

const KEEP_ALIVE: Duration = Duration::from_secs(20);

pub async fn events(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    // Held by the stream: its slot frees when the client goes away.
    let slot = state.rate_limits.streams.open(scope.user_id())?;
    let org = scope.org();
    let user = scope.user_id();
    let receiver = state.events.subscribe();
    let users = state.events.subscribe_users();
    let ticker = tokio::time::interval(KEEP_ALIVE);
    let stream = futures::stream::unfold(
        (receiver, users, ticker, slot),
        move |(mut receiver, mut users, mut ticker, slot)| async move {
            let chunk = loop {
                tokio::select! {
                    received = receiver.recv() => match received {
                        Ok(event) if event.org == org => {
                            break format!(
                                "event: conversation\ndata: {{\"conversation_id\":{}}}\n\n",
                                event.conversation_id
                            );
                        }
                        Ok(_) => continue,
                        // Missed some: say that something changed, without an id.
                        Err(RecvError::Lagged(_)) => {
                            break "event: conversation\ndata: {}\n\n".to_owned();
                        }
                        Err(RecvError::Closed) => return None,
                    },
                    received = users.recv() => match received {
                        Ok(event) if event.org == org && event.user_id == user => {
                            break format!(
                                "event: notification\ndata: {{\"unread\":{}}}\n\n",
                                event.unread
                            );
                        }
                        Ok(_) => continue,
                        // Missed some: the page asks for the count itself.
                        Err(RecvError::Lagged(_)) => {
                            break "event: notification\ndata: {}\n\n".to_owned();
                        }
                        Err(RecvError::Closed) => return None,
                    },
                    _ = ticker.tick() => break ": keep-alive\n\n".to_owned(),
                }
            };
            Some((
                Ok::<_, std::convert::Infallible>(Bytes::from(chunk)),
                (receiver, users, ticker, slot),
            ))
        },
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
