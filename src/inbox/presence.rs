//! Who else is on a conversation: the agents viewing it and those typing a reply, kept in
//! memory only (nothing is stored; a restart forgets it) and pushed to the page over one
//! server-sent-event stream per open page, `GET /conversations/{id}/presence`:
//!
//! - `event: presence`, `data: {"viewing": [names], "typing": [names]}` — the *other* agents,
//!   sent when it changes;
//! - `event: conversation`, `data: {}` — the conversation changed (a new message), so the
//!   reply box can warn before sending (src/inbox/collision.rs makes the server ask too).
//!
//! An open stream is a viewer; it leaves when the stream closes, and a stream not seen for
//! [`VIEWER_STALE`] no longer counts. `POST /conversations/{id}/typing` (sent by
//! `assets/js/writing.js` at most every few seconds while the agent types) marks the agent as
//! typing for [`TYPING_FOR`]. No polling: the page listens, the server speaks on change. The
//! page also shows the viewers at load, without JavaScript.
//!
//! On several nodes (PostgreSQL), each node tells the others who of its agents are on a room
//! whenever that changes (and every [`REFRESH_EVERY`]), by user id (`cluster::live`); the
//! others keep that as the node's remote presence until it is replaced or gets stale.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::queries;
use crate::cluster::live::Relay;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::{AppError, CsrfForm};

/// How long one typing signal counts.
pub const TYPING_FOR: Duration = Duration::from_secs(8);
/// A viewer whose stream has not been seen alive for this long is gone.
pub const VIEWER_STALE: Duration = Duration::from_secs(60);
/// How often a node tells the other nodes again who is on its rooms.
pub const REFRESH_EVERY: Duration = Duration::from_secs(20);
/// How often a stream checks expiries and writes a keep-alive (which also finds a closed
/// connection).
const TICK: Duration = Duration::from_secs(5);

/// A conversation of an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Room {
    pub org: OrgId,
    pub conversation_id: i64,
}

struct Viewer {
    user_id: i64,
    name: String,
    seen: Instant,
}

struct Typist {
    name: String,
    until: Instant,
}

#[derive(Default)]
struct RoomState {
    /// By stream.
    viewers: HashMap<u64, Viewer>,
    /// By user.
    typing: HashMap<i64, Typist>,
}

impl RoomState {
    fn is_empty(&self) -> bool {
        self.viewers.is_empty() && self.typing.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        self.viewers
            .retain(|_, v| now.duration_since(v.seen) < VIEWER_STALE);
        self.typing.retain(|_, t| t.until > now);
    }
}

/// Another node's agents on a room, as that node last told.
struct Remote {
    viewing: Vec<(i64, String)>,
    typing: Vec<(i64, String)>,
    received: Instant,
}

struct Inner {
    rooms: Mutex<HashMap<Room, RoomState>>,
    /// Other nodes' agents, by room and node.
    remote: Mutex<HashMap<Room, HashMap<String, Remote>>>,
    changes: broadcast::Sender<Room>,
    /// To the other nodes, once `cluster::live` runs (PostgreSQL only).
    relay: Relay<Room>,
    next_stream: AtomicU64,
}

impl Inner {
    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<Room, RoomState>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remote(&self) -> std::sync::MutexGuard<'_, HashMap<Room, HashMap<String, Remote>>> {
        self.remote.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self, room: Room) {
        self.relay(room);
        // Nobody listening is fine.
        let _ = self.changes.send(room);
    }

    /// Tells the other nodes (if any) who of this node's agents is on the room now.
    fn relay(&self, room: Room) {
        self.relay.send(room);
    }
}

/// The presence of agents on conversation pages (in `AppState`).
#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

impl Default for Presence {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                rooms: Mutex::new(HashMap::new()),
                remote: Mutex::new(HashMap::new()),
                changes: broadcast::channel(256).0,
                relay: Relay::new("presence"),
                next_stream: AtomicU64::new(1),
            }),
        }
    }
}

/// The other agents on a conversation, by display name, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Others {
    pub viewing: Vec<String>,
    pub typing: Vec<String>,
}

impl Others {
    pub fn is_empty(&self) -> bool {
        self.viewing.is_empty() && self.typing.is_empty()
    }
}

/// An open page: the agent views the room until this is dropped.
pub struct Viewing {
    inner: Arc<Inner>,
    room: Room,
    stream: u64,
}

impl Viewing {
    /// The stream is alive.
    fn touch(&self) {
        let mut rooms = self.inner.rooms();
        if let Some(viewer) = rooms
            .get_mut(&self.room)
            .and_then(|r| r.viewers.get_mut(&self.stream))
        {
            viewer.seen = Instant::now();
        }
    }
}

impl Drop for Viewing {
    fn drop(&mut self) {
        {
            let mut rooms = self.inner.rooms();
            if let Some(state) = rooms.get_mut(&self.room) {
                state.viewers.remove(&self.stream);
                if state.is_empty() {
                    rooms.remove(&self.room);
                }
            }
        }
        self.inner.changed(self.room);
    }
}

impl Presence {
    /// The agent opened the room's page (one entry per open stream).
    pub fn join(&self, room: Room, user_id: i64, name: String) -> Viewing {
        let stream = self.inner.next_stream.fetch_add(1, Ordering::Relaxed);
        self.inner.rooms().entry(room).or_default().viewers.insert(
            stream,
            Viewer {
                user_id,
                name,
                seen: Instant::now(),
            },
        );
        self.inner.changed(room);
        Viewing {
            inner: self.inner.clone(),
            room,
            stream,
        }
    }

    /// The agent is typing a reply in the room.
    pub fn typing(&self, room: Room, user_id: i64, name: String) {
        let until = Instant::now() + TYPING_FOR;
        let new = self
            .inner
            .rooms()
            .entry(room)
            .or_default()
            .typing
            .insert(user_id, Typist { name, until })
            .is_none();
        if new {
            self.inner.changed(room);
        } else {
            // The other nodes keep a typist for as long as this node says so.
            self.inner.relay(room);
        }
    }

    /// The agent stopped typing (the reply was sent).
    pub fn stopped(&self, room: Room, user_id: i64) {
        let removed = self
            .inner
            .rooms()
            .get_mut(&room)
            .and_then(|r| r.typing.remove(&user_id))
            .is_some();
        if removed {
            self.inner.changed(room);
        }
    }

    /// Everyone but `me` on the room (on every node), expired entries dropped.
    pub fn others(&self, room: Room, me: i64) -> Others {
        let mut viewing: BTreeSet<String> = BTreeSet::new();
        let mut typing: BTreeSet<String> = BTreeSet::new();
        {
            let mut rooms = self.inner.rooms();
            if let Some(state) = rooms.get_mut(&room) {
                state.expire(Instant::now());
                viewing.extend(
                    state
                        .viewers
                        .values()
                        .filter(|v| v.user_id != me)
                        .map(|v| v.name.clone()),
                );
                typing.extend(
                    state
                        .typing
                        .iter()
                        .filter(|(user, _)| **user != me)
                        .map(|(_, t)| t.name.clone()),
                );
                if state.is_empty() {
                    rooms.remove(&room);
                }
            }
        }
        self.with_remote(room, |remote| {
            let viewers = remote
                .viewing
                .iter()
                .filter(|_| fresh(remote, VIEWER_STALE));
            viewing.extend(viewers.filter(|(u, _)| *u != me).map(|(_, n)| n.clone()));
            let typists = remote.typing.iter().filter(|_| fresh(remote, TYPING_FOR));
            typing.extend(typists.filter(|(u, _)| *u != me).map(|(_, n)| n.clone()));
        });
        Others {
            viewing: viewing.into_iter().collect(),
            typing: typing.into_iter().collect(),
        }
    }

    /// Whether any agent (on any node) is typing a reply in the room (for the chat widget,
    /// which shows that someone types, never who: src/chat/routes.rs).
    pub fn anyone_typing(&self, room: Room) -> bool {
        let here = {
            let mut rooms = self.inner.rooms();
            match rooms.get_mut(&room) {
                Some(state) => {
                    state.expire(Instant::now());
                    !state.typing.is_empty()
                }
                None => false,
            }
        };
        let mut there = false;
        self.with_remote(room, |remote| {
            there |= !remote.typing.is_empty() && fresh(remote, TYPING_FOR);
        });
        here || there
    }

    /// Runs `f` on each other node's presence on the room; stale entries are dropped.
    fn with_remote(&self, room: Room, mut f: impl FnMut(&Remote)) {
        let mut remote = self.inner.remote();
        if let Some(nodes) = remote.get_mut(&room) {
            nodes.retain(|_, r| fresh(r, VIEWER_STALE.max(TYPING_FOR)));
            nodes.values().for_each(&mut f);
            if nodes.is_empty() {
                remote.remove(&room);
            }
        }
    }

    /// This node's agents on the room, by user id: (viewing, typing).
    pub fn here(&self, room: Room) -> (Vec<i64>, Vec<i64>) {
        let mut rooms = self.inner.rooms();
        let Some(state) = rooms.get_mut(&room) else {
            return (Vec::new(), Vec::new());
        };
        state.expire(Instant::now());
        let viewing: BTreeSet<i64> = state.viewers.values().map(|v| v.user_id).collect();
        let typing: BTreeSet<i64> = state.typing.keys().copied().collect();
        (viewing.into_iter().collect(), typing.into_iter().collect())
    }

    /// The rooms this node's agents are on.
    pub fn rooms_here(&self) -> Vec<Room> {
        self.inner.rooms().keys().copied().collect()
    }

    /// The way of the rooms whose presence changed to the other nodes (`cluster::live`).
    pub fn relay(&self) -> &Relay<Room> {
        &self.inner.relay
    }

    /// What another node said of its agents on a room (ids with their names); an empty
    /// presence removes the node's entry.
    pub fn remote_update(
        &self,
        node: &str,
        room: Room,
        viewing: Vec<(i64, String)>,
        typing: Vec<(i64, String)>,
    ) {
        {
            let mut remote = self.inner.remote();
            let nodes = remote.entry(room).or_default();
            if viewing.is_empty() && typing.is_empty() {
                nodes.remove(node);
            } else {
                nodes.insert(
                    node.to_owned(),
                    Remote {
                        viewing,
                        typing,
                        received: Instant::now(),
                    },
                );
            }
            if nodes.is_empty() {
                remote.remove(&room);
            }
        }
        let _ = self.inner.changes.send(room);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Room> {
        self.inner.changes.subscribe()
    }
}

fn fresh(remote: &Remote, within: Duration) -> bool {
    remote.received.elapsed() < within
}

/// The agent's name as others see it.
fn display_name(scope: &TenantScope) -> String {
    scope
        .session
        .user
        .as_ref()
        .map(|u| u.display_name.clone())
        .unwrap_or_default()
}

fn presence_event(others: &Others) -> String {
    let data = serde_json::to_string(others).unwrap_or_else(|_| "{}".to_owned());
    format!("event: presence\ndata: {data}\n\n")
}

/// `GET /conversations/{id}/presence`: the stream described above.
pub async fn stream(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let org = scope.org();
    queries::conversation(&state.db, org, id).await?;
    // Held by the stream: its slot frees when the client goes away.
    let slot = state.rate_limits.streams.open(scope.user_id())?;
    let room = Room {
        org,
        conversation_id: id,
    };
    let me = scope.user_id();
    let presence = state.presence.clone();
    let changes = presence.subscribe();
    let events = state.events.subscribe();
    let viewing = presence.join(room, me, display_name(&scope));
    let ticker = tokio::time::interval(TICK);
    let initial = presence.others(room, me);
    let first = Some(presence_event(&initial));
    let stream = futures::stream::unfold(
        ((changes, events, ticker), (viewing, slot), (first, initial)),
        move |((mut changes, mut events, mut ticker), held, (mut first, mut last))| {
            let presence = presence.clone();
            async move {
                let chunk = if let Some(chunk) = first.take() {
                    chunk
                } else {
                    loop {
                        tokio::select! {
                            changed = changes.recv() => match changed {
                                Ok(r) if r != room => continue,
                                Ok(_) | Err(RecvError::Lagged(_)) => {
                                    let now = presence.others(room, me);
                                    if now != last {
                                        last = now;
                                        break presence_event(&last);
                                    }
                                }
                                Err(RecvError::Closed) => return None,
                            },
                            event = events.recv() => match event {
                                Ok(e) if e.org == org && e.conversation_id == id => {
                                    break "event: conversation\ndata: {}\n\n".to_owned();
                                }
                                Ok(_) => continue,
                                // Some were missed: maybe this conversation's.
                                Err(RecvError::Lagged(_)) => {
                                    break "event: conversation\ndata: {}\n\n".to_owned();
                                }
                                Err(RecvError::Closed) => return None,
                            },
                            _ = ticker.tick() => {
                                held.0.touch();
                                let now = presence.others(room, me);
                                if now != last {
                                    last = now;
                                    break presence_event(&last);
                                }
                                break ": keep-alive\n\n".to_owned();
                            }
                        }
                    }
                };
                Some((
                    Ok::<_, std::convert::Infallible>(Bytes::from(chunk)),
                    ((changes, events, ticker), held, (first, last)),
                ))
            }
        },
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

/// `POST /conversations/{id}/typing`: the agent is typing a reply (204).
pub async fn typing(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    // Nobody answers a restricted customer, so nobody is shown typing to them (a chat
    // visitor sees it).
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    state.presence.typing(
        Room {
            org: scope.org(),
            conversation_id: id,
        },
        scope.user_id(),
        display_name(&scope),
    );
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Room {
        Room {
            org: OrgId::from_db(1),
            conversation_id: 7,
        }
    }

    #[test]
    fn a_viewer_is_seen_by_others_until_the_page_closes() {
        let presence = Presence::default();
        let anna = presence.join(room(), 1, "Anna".into());
        assert_eq!(presence.others(room(), 2).viewing, vec!["Anna".to_owned()]);
        assert!(presence.others(room(), 1).is_empty(), "not oneself");
        drop(anna);
        assert!(presence.others(room(), 2).is_empty());
    }

    #[test]
    fn typing_is_shown_once_per_agent_and_ends_when_sent() {
        let presence = Presence::default();
        presence.typing(room(), 1, "Anna".into());
        presence.typing(room(), 1, "Anna".into());
        assert_eq!(presence.others(room(), 2).typing, vec!["Anna".to_owned()]);
        presence.stopped(room(), 1);
        assert!(presence.others(room(), 2).typing.is_empty());
    }
}
