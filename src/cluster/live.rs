//! Live updates on every node (PostgreSQL `LISTEN/NOTIFY`). Each event a node publishes
//! (`inbox::events`) is sent with `NOTIFY` on [`CHANNEL`]; every node listens on a connection
//! of its own and delivers the other nodes' events to its subscribers (`/events`, presence's
//! conversation events, the chat widget's stream), skipping its own (already delivered).
//! Presence (`inbox::presence`) travels the same way: a node says which of its agents view
//! or type on a room when that changes, and every [`REFRESH_EVERY`].
//!
//! A payload holds ids only — the sending node, then `c,ORG,CONVERSATION`,
//! `u,ORG,USER,UNREAD` and `p,ORG,CONVERSATION,VIEWING,TYPING` (user ids joined by `.`)
//! entries separated by `;` — and stays under PostgreSQL's 8,000-byte limit: a burst is cut
//! into several notifications. The receiving node looks up the agents' names itself (one
//! query per notification). Changes wait for the sending task in a bounded [`Relay`]. When
//! the listening connection drops, the node connects again and tells its subscribers that
//! they may have missed some (they refetch). On SQLite (one node) none of this runs.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::sync::mpsc;

use super::NodeId;
use crate::inbox::events::{InboxEvent, LiveEvent, UserEvent};
use crate::inbox::presence::{REFRESH_EVERY, Room};
use crate::orgs::OrgId;
use crate::state::AppState;

/// The notification channel every node listens on.
pub const CHANNEL: &str = "lethe_live";
/// A payload's size, below PostgreSQL's limit of 8,000 bytes.
const MAX_PAYLOAD: usize = 7_800;
/// The pause before listening again after the connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Changes waiting to be sent to the other nodes, at most: a node whose database stops
/// answering drops what is beyond (and says so once) rather than grow without bound.
pub const RELAY_CAPACITY: usize = 4_096;

/// The way from this node's events (or presence) to the sending task: bounded
/// ([`RELAY_CAPACITY`]); set once `start` runs, so on SQLite nothing is queued.
pub struct Relay<T> {
    sender: OnceLock<mpsc::Sender<T>>,
    /// The queue was full and that was said in the log; cleared by the next change that fits.
    overflowing: AtomicBool,
    what: &'static str,
}

impl<T> Relay<T> {
    /// `what` names the changes in the log ("events", "presence").
    pub const fn new(what: &'static str) -> Self {
        Relay {
            sender: OnceLock::new(),
            overflowing: AtomicBool::new(false),
            what,
        }
    }

    /// The receiving end for the sending task.
    fn open(&self) -> mpsc::Receiver<T> {
        let (sender, receiver) = mpsc::channel(RELAY_CAPACITY);
        let _ = self.sender.set(sender);
        receiver
    }

    /// Queues `change` for the other nodes (nothing on one node).
    pub fn send(&self, change: T) {
        let Some(sender) = self.sender.get() else {
            return;
        };
        match sender.try_send(change) {
            Ok(()) => self.overflowing.store(false, Ordering::Relaxed),
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.overflowing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        what = self.what,
                        capacity = RELAY_CAPACITY,
                        "live updates for the other nodes are dropped: the queue is full"
                    );
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Starts sending this node's events to the other nodes and delivering theirs, on
/// PostgreSQL (listening before it returns, so the node serves after it hears the others);
/// does nothing on SQLite.
pub async fn start(state: &Arc<AppState>) {
    if state.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let outgoing = state.events.relay.open();
    let rooms = state.presence.relay().open();
    tokio::spawn(send(state.clone(), outgoing, rooms));
    let first = connect(state).await;
    tokio::spawn(listen(state.clone(), first));
}

/// A connection listening on [`CHANNEL`], or None (said in the log) when it cannot be made.
async fn connect(state: &AppState) -> Option<PgListener> {
    let pool = state.db.get_postgres_connection_pool();
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "cannot connect for live updates");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for live updates");
            None
        }
    }
}

/// Sends queued events and presence changes, as many per notification as fit, and this
/// node's presence again every [`REFRESH_EVERY`].
async fn send(
    state: Arc<AppState>,
    mut outgoing: mpsc::Receiver<LiveEvent>,
    mut rooms: mpsc::Receiver<Room>,
) {
    let node = state.leases.node().clone();
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    loop {
        let mut entries = Vec::new();
        let mut changed = HashSet::new();
        tokio::select! {
            Some(first) = outgoing.recv() => {
                entries.push(event_entry(&first));
                while let Ok(more) = outgoing.try_recv() {
                    entries.push(event_entry(&more));
                }
            }
            Some(room) = rooms.recv() => {
                changed.insert(room);
                while let Ok(more) = rooms.try_recv() {
                    changed.insert(more);
                }
            }
            _ = refresh.tick() => changed.extend(state.presence.rooms_here()),
            else => return,
        }
        for room in changed {
            let (viewing, typing) = state.presence.here(room);
            entries.push(presence_entry(room, &viewing, &typing));
        }
        for payload in payloads(&node, &entries) {
            let notify = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            );
            if let Err(error) = state.db.execute_raw(notify).await {
                tracing::warn!(%error, "live update not sent to the other nodes");
            }
        }
    }
}

/// Listens for the other nodes' events until the process ends, connecting again after a
/// failure (and then telling this node's subscribers that they may have missed some).
async fn listen(state: Arc<AppState>, mut listener: Option<PgListener>) {
    let node = state.leases.node().clone();
    loop {
        if let Some(listener) = listener.as_mut() {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        if let Some((sender, incoming)) = parse(&node, notification.payload()) {
                            receive(&state, sender, incoming).await;
                        }
                    }
                    // The connection dropped and was made again: what was sent meanwhile
                    // is lost.
                    Ok(None) => {
                        tracing::warn!("live updates connection dropped; listening again");
                        state.events.missed_some();
                    }
                    Err(error) => {
                        tracing::warn!(%error, "live updates connection failed");
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
        listener = connect(&state).await;
        if listener.is_some() {
            tracing::info!("listening for the other nodes' live updates again");
            state.events.missed_some();
        }
    }
}

/// What another node sent.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Incoming {
    Event(LiveEvent),
    /// The sending node's agents on a room, by user id.
    Presence {
        room: Room,
        viewing: Vec<i64>,
        typing: Vec<i64>,
    },
}

/// Hands another node's events to this node's subscribers, and its presence (with the
/// agents' names, looked up here, in one query per notification) to this node's presence.
async fn receive(state: &AppState, sender: &str, incoming: Vec<Incoming>) {
    let ids: BTreeSet<i64> = incoming
        .iter()
        .flat_map(|item| match item {
            Incoming::Presence {
                viewing, typing, ..
            } => viewing.iter().chain(typing).copied().collect(),
            Incoming::Event(_) => Vec::new(),
        })
        .collect();
    let names = match crate::inbox::queries::user_names(&state.db, ids.into_iter().collect()).await
    {
        Ok(names) => Some(names),
        Err(error) => {
            tracing::warn!(%error, "another node's presence not read");
            None
        }
    };
    for item in incoming {
        match item {
            Incoming::Event(event) => state.events.deliver(event),
            Incoming::Presence {
                room,
                viewing,
                typing,
            } => {
                let Some(names) = &names else {
                    continue;
                };
                let named = |ids: Vec<i64>| -> Vec<(i64, String)> {
                    ids.into_iter()
                        .filter_map(|id| names.get(&id).map(|name| (id, name.clone())))
                        .collect()
                };
                state
                    .presence
                    .remote_update(sender, room, named(viewing), named(typing));
            }
        }
    }
}

fn event_entry(event: &LiveEvent) -> String {
    match event {
        LiveEvent::Conversation(e) => format!("c,{},{}", e.org.get(), e.conversation_id),
        LiveEvent::User(e) => format!("u,{},{},{}", e.org.get(), e.user_id, e.unread),
    }
}

fn presence_entry(room: Room, viewing: &[i64], typing: &[i64]) -> String {
    let join = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(".");
    format!(
        "p,{},{},{},{}",
        room.org.get(),
        room.conversation_id,
        join(viewing),
        join(typing)
    )
}

/// The payloads that carry `entries`, each under [`MAX_PAYLOAD`] bytes.
fn payloads(node: &NodeId, entries: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = node.to_string();
    for entry in entries {
        if current.len() + 1 + entry.len() > MAX_PAYLOAD && current.len() > node.as_str().len() {
            out.push(std::mem::replace(&mut current, node.to_string()));
        }
        current.push(';');
        current.push_str(entry);
    }
    if current.len() > node.as_str().len() {
        out.push(current);
    }
    out
}

/// The sender and what it sent, of another node's payload (None for this node's own; entries
/// that cannot be read are left out).
fn parse<'a>(node: &NodeId, payload: &'a str) -> Option<(&'a str, Vec<Incoming>)> {
    let mut entries = payload.split(';');
    let sender = entries.next()?;
    if sender == node.as_str() {
        return None;
    }
    Some((sender, entries.filter_map(parse_entry).collect()))
}

fn parse_entry(entry: &str) -> Option<Incoming> {
    let mut fields = entry.split(',');
    let kind = fields.next()?;
    let org = OrgId::from_db(fields.next()?.parse().ok()?);
    let id: i64 = fields.next()?.parse().ok()?;
    match kind {
        "c" => Some(Incoming::Event(LiveEvent::Conversation(InboxEvent {
            org,
            conversation_id: id,
        }))),
        "u" => Some(Incoming::Event(LiveEvent::User(UserEvent {
            org,
            user_id: id,
            unread: fields.next()?.parse().ok()?,
        }))),
        "p" => {
            let ids = |list: &str| -> Option<Vec<i64>> {
                list.split('.')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().ok())
                    .collect()
            };
            Some(Incoming::Presence {
                room: Room {
                    org,
                    conversation_id: id,
                },
                viewing: ids(fields.next()?)?,
                typing: ids(fields.next()?)?,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(org: i64, id: i64) -> LiveEvent {
        LiveEvent::Conversation(InboxEvent {
            org: OrgId::from_db(org),
            conversation_id: id,
        })
    }

    #[test]
    fn another_nodes_events_are_read_and_a_nodes_own_are_skipped() {
        let (a, b) = (NodeId::random(), NodeId::random());
        let events = [
            conversation(1, 42),
            LiveEvent::User(UserEvent {
                org: OrgId::from_db(1),
                user_id: 7,
                unread: 3,
            }),
        ];
        let room = Room {
            org: OrgId::from_db(1),
            conversation_id: 42,
        };
        let mut entries: Vec<String> = events.iter().map(event_entry).collect();
        entries.push(presence_entry(room, &[7, 9], &[]));
        let sent = payloads(&a, &entries);
        assert_eq!(sent.len(), 1);
        let (sender, incoming) = parse(&b, &sent[0]).unwrap();
        assert_eq!(sender, a.as_str());
        assert_eq!(
            incoming,
            vec![
                Incoming::Event(events[0]),
                Incoming::Event(events[1]),
                Incoming::Presence {
                    room,
                    viewing: vec![7, 9],
                    typing: vec![]
                }
            ]
        );
        assert!(parse(&a, &sent[0]).is_none());
        let (_, unreadable) = parse(&b, &format!("{a};x,1,2;c,zz,1;p,1,2,x,")).unwrap();
        assert!(unreadable.is_empty());
    }

    #[test]
    fn a_burst_is_cut_into_payloads_under_the_limit() {
        let node = NodeId::random();
        let events: Vec<_> = (0..2_000).map(|n| conversation(1_000_000, n)).collect();
        let entries: Vec<String> = events.iter().map(event_entry).collect();
        let sent = payloads(&node, &entries);
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let other = NodeId::random();
        let back: Vec<_> = sent
            .iter()
            .flat_map(|p| parse(&other, p).unwrap().1)
            .collect();
        let expected: Vec<_> = events.into_iter().map(Incoming::Event).collect();
        assert_eq!(back, expected);
    }
}
