//! Live updates: a broadcast of "this conversation changed" to the server-sent-event streams
//! of open inbox pages. Subscribers filter by their own organization.

use tokio::sync::broadcast;

use crate::orgs::OrgId;

#[derive(Clone, Copy, Debug)]
pub struct InboxEvent {
    pub org: OrgId,
    pub conversation_id: i64,
}

pub struct InboxEvents {
    sender: broadcast::Sender<InboxEvent>,
}

impl Default for InboxEvents {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(256).0,
        }
    }
}

impl InboxEvents {
    /// Nobody listening is fine: pages without JavaScript reload themselves.
    pub fn publish(&self, event: InboxEvent) {
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<InboxEvent> {
        self.sender.subscribe()
    }
}
