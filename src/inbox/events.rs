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
    /// Every change published is also a change of the conversation's report facts
    /// (src/reports/facts.rs).
    pub report_facts: crate::reports::facts::Pending,
}

impl Default for InboxEvents {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(256).0,
            report_facts: Default::default(),
        }
    }
}

impl InboxEvents {
    /// Nobody listening is fine: pages without JavaScript reload themselves.
    pub fn publish(&self, event: InboxEvent) {
        self.report_facts.touch(event.org, event.conversation_id);
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<InboxEvent> {
        self.sender.subscribe()
    }
}
