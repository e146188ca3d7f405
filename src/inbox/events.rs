//! Live updates: a broadcast of "this conversation changed" to the server-sent-event streams
//! of open inbox pages, and one of "your unread notifications are now N" for one user's pages
//! (src/inbox/notifications). Subscribers filter by their own organization (and user).

use tokio::sync::broadcast;

use crate::orgs::OrgId;

#[derive(Clone, Copy, Debug)]
pub struct InboxEvent {
    pub org: OrgId,
    pub conversation_id: i64,
}

/// A user's unread notification count in an organization changed.
#[derive(Clone, Copy, Debug)]
pub struct UserEvent {
    pub org: OrgId,
    pub user_id: i64,
    pub unread: u64,
}

pub struct InboxEvents {
    sender: broadcast::Sender<InboxEvent>,
    users: broadcast::Sender<UserEvent>,
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
            report_facts: Default::default(),
            folder_counts: Default::default(),
        }
    }
}

impl InboxEvents {
    /// Nobody listening is fine: pages without JavaScript reload themselves.
    pub fn publish(&self, event: InboxEvent) {
        self.report_facts.touch(event.org, event.conversation_id);
        self.folder_counts.invalidate(event.org);
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<InboxEvent> {
        self.sender.subscribe()
    }

    /// For one user's open pages (nobody listening is fine).
    pub fn publish_to_user(&self, event: UserEvent) {
        let _ = self.users.send(event);
    }

    pub fn subscribe_users(&self) -> broadcast::Receiver<UserEvent> {
        self.users.subscribe()
    }
}
