//! The chain key: every row, anchor and the head are authenticated with HMAC-SHA-256 under a
//! key derived from the instance key, which is not in the database. Whoever can write the
//! database can still change a row, but can no longer compute the MACs that would make
//! `lethe audit verify` accept the change.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::SecretKey;
use crate::db::entity::{audit_anchor, audit_event};

/// The key the chain is authenticated with. `Debug` never prints it.
#[derive(Clone)]
pub struct ChainKey([u8; 32]);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(…)")
    }
}

impl ChainKey {
    /// Derives the chain key from the instance key (a key of its own, so a MAC never doubles
    /// as anything the instance key seals).
    pub fn derive(instance: &SecretKey) -> Self {
        let mut mac = hmac(instance.bytes());
        mac.update(b"lethe audit chain v1");
        Self(mac.finalize().into_bytes().into())
    }

    /// The MAC of a row: its content and the MAC of the row before it.
    pub fn row(&self, row: &audit_event::Model) -> String {
        let organization = row
            .organization_id
            .map(|v| v.to_string())
            .unwrap_or_default();
        let actor_user = row.actor_user_id.map(|v| v.to_string()).unwrap_or_default();
        self.fields(&[
            "row",
            &row.prev_hash,
            &organization,
            &timestamp(row.occurred_at),
            &actor_user,
            &row.actor,
            &row.action,
            &row.target,
            row.ip.as_deref().unwrap_or_default(),
            row.user_agent.as_deref().unwrap_or_default(),
            &row.details,
        ])
    }

    /// The MAC of an anchor: which gap it bridges, how many rows it stands for and why.
    pub fn anchor(&self, anchor: &audit_anchor::Model) -> String {
        self.fields(&[
            "anchor",
            &anchor.row_id.to_string(),
            &anchor.prev_hash,
            &anchor.kept_hash,
            &anchor.removed.to_string(),
            &anchor.reason,
        ])
    }

    /// The MAC of the head: the newest row's id and MAC.
    pub fn head(&self, last_id: i64, last_hash: &str) -> String {
        self.fields(&["head", &last_id.to_string(), last_hash])
    }

    fn fields(&self, fields: &[&str]) -> String {
        let mut mac = hmac(&self.0);
        for field in fields {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

/// Timestamps as the chain reads them (microseconds: both databases keep that much).
pub(super) fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_every_field_change_the_mac() {
        let a = ChainKey::derive(&SecretKey::generate());
        let b = ChainKey::derive(&SecretKey::generate());
        assert_eq!(a.head(7, "x"), a.head(7, "x"));
        assert_ne!(a.head(7, "x"), b.head(7, "x"));
        assert_ne!(a.head(7, "x"), a.head(8, "x"));
        // Length prefixes: moving a character between fields changes the MAC.
        assert_ne!(a.fields(&["ab", "c"]), a.fields(&["a", "bc"]));
    }
}
