//! Several `lethe serve` nodes on one database (issue 18, "work that must happen once
//! happens once"). Each process gets a random [`NodeId`] at start (logged, no personal
//! data). Queue rows are claimed row by row with a conditional `UPDATE` that only one node
//! can win (the outbox: `mail::outbound`; webhook deliveries: `webhooks::deliver`); work that
//! one node at a time must do — an IMAP channel's poll or IDLE connection, an organization's
//! retention run, each scheduled job — holds a [`Lease`] named after it.
//!
//! On SQLite (one node) the same statements run; the single writer already orders them.
//!
//! Every node sees every change: live updates travel between nodes with PostgreSQL's
//! `LISTEN/NOTIFY` ([`live`]), and each node's search index follows the database's change
//! log from a position of its own (`crate::search::log`).

pub mod lease;
pub mod live;

pub use lease::{Lease, Leases, Lost};

/// This process among the nodes: random per start, so a restarted node is a new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeId(String);

impl NodeId {
    pub fn random() -> Self {
        NodeId(format!(
            "node-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
