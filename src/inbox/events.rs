//! Live updates: a broadcast of "this conversation changed" to the server-sent-event streams
//! of open inbox pages, and one of "your unread notifications are now N" for one user's pages
//! (src/inbox/notifications). Subscribers filter by their own organization (and user).
//!
//! On several nodes (PostgreSQL) every event published here is also sent to the other nodes
//! (src/cluster/live.rs), which deliver it to their own subscribers; when a node may have
//! missed some (its listening connection dropped), its subscribers are told, as when they
//! fall behind, and refetch.

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::cluster::live::Relay;

use crate::orgs::OrgId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxEvent {
    pub org: OrgId,
    pub conversation_id: i64,
}

/// A user's unread notification count in an organization changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserEvent {
    pub org: OrgId,
    pub user_id: i64,
    pub unread: u64,
}

/// An event on its way to the other nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveEvent {
    Conversation(InboxEvent),
    User(UserEvent),
}

pub struct InboxEvents {
    sender: broadcast::Sender<InboxEvent>,
    users: broadcast::Sender<UserEvent>,
    /// Counts the times this node may have missed other nodes' events.
    missed: watch::Sender<u64>,
    /// To the other nodes, once `cluster::live` runs (PostgreSQL only).
    pub relay: Relay<LiveEvent>,
    /// Every change published is also a change of the conversation's report facts
    /// (src/reports/facts.rs).
    pub report_facts: crate::reports::facts::Pending,
    /// The folder counts, shared by an organization's members until it changes.
    pub folder_counts: super::folders::CountCache,
}

impl Default for InboxEvents {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(256).0,
            users: broadcast::channel(256).0,
            missed: watch::channel(0).0,
            relay: Relay::new("events"),
            report_facts: Default::default(),
            folder_counts: Default::default(),
        }
    }
}

impl InboxEvents {
    /// Nobody listening is fine: pages without JavaScript reload themselves.
    pub fn publish(&self, event: InboxEvent) {
        self.report_facts.touch(event.org, event.conversation_id);
        self.relay(LiveEvent::Conversation(event));
        self.deliver(LiveEvent::Conversation(event));
    }

    pub fn subscribe(&self) -> Subscription<InboxEvent> {
        Subscription {
            events: self.sender.subscribe(),
            missed: self.missed.subscribe(),
        }
    }

    /// For one user's open pages (nobody listening is fine).
    pub fn publish_to_user(&self, event: UserEvent) {
        self.relay(LiveEvent::User(event));
        self.deliver(LiveEvent::User(event));
    }

    pub fn subscribe_users(&self) -> Subscription<UserEvent> {
        Subscription {
            events: self.users.subscribe(),
            missed: self.missed.subscribe(),
        }
    }

    fn relay(&self, event: LiveEvent) {
        self.relay.send(event);
    }

    /// Delivers an event to this node's subscribers: one published here, or one another
    /// node published (whose report facts that node keeps).
    pub fn deliver(&self, event: LiveEvent) {
        match event {
            LiveEvent::Conversation(event) => {
                self.folder_counts.invalidate(event.org);
                let _ = self.sender.send(event);
            }
            LiveEvent::User(event) => {
                let _ = self.users.send(event);
            }
        }
    }

    /// Other nodes' events may have been missed: every subscriber is told to refetch.
    pub fn missed_some(&self) {
        self.folder_counts.invalidate_all();
        self.missed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// A subscriber's end: events as they come, and [`RecvError::Lagged`] when some were missed
/// (the subscriber fell behind, or other nodes' events could not be heard for a while).
pub struct Subscription<T> {
    events: broadcast::Receiver<T>,
    missed: watch::Receiver<u64>,
}

impl<T: Clone> Subscription<T> {
    /// The next event; cancel-safe.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        let missed = tokio::select! {
            received = self.events.recv() => return received,
            changed = self.missed.changed() => changed.is_ok(),
        };
        if missed {
            Err(RecvError::Lagged(0))
        } else {
            // Nobody can tell of missed events any more: events only.
            self.events.recv().await
        }
    }
}
