//! Refusals counted in memory and written as one audit row per source: failed logins of
//! unknown addresses (`login.failed_unknown`) and refused API keys (`api.key_refused`) would
//! otherwise let anyone add a row to the log with every request. Each count is keyed by
//! organization (a refused key that exists belongs to one; the rest to none), action, target
//! and source — the client address, an IPv6 client by its /64 — and the flush
//! ([`AuditLog::flush_tally`](super::AuditLog::flush_tally), every minute by the scheduled job
//! and once when the server stops) writes `{count, first_at, last_at, source, reasons}`.
//! Nothing personal beyond the source address: never the typed address of an unknown account.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Actor, Entry};
use crate::orgs::OrgId;
use crate::web::client::ClientInfo;
use crate::web::rate_limit::address_key;

/// Keeps memory bounded under a flood of distinct sources: past this many, new sources are
/// counted together under [`OVERFLOW`].
const MAX_SOURCES: usize = 10_000;
const OVERFLOW: &str = "other";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    org: Option<OrgId>,
    action: &'static str,
    target: String,
    source: Option<String>,
}

#[derive(Clone, Debug)]
struct Counts {
    count: u64,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    reasons: BTreeMap<&'static str, u64>,
}

/// One refusal to count.
pub struct Refusal<'a> {
    pub org: Option<OrgId>,
    pub action: &'static str,
    pub target: String,
    pub client: &'a ClientInfo,
    /// Why, when there are several reasons (counted per reason).
    pub reason: Option<&'static str>,
}

/// The counts since the last flush.
#[derive(Default)]
pub struct Tally {
    counts: Mutex<HashMap<Key, Counts>>,
}

impl Tally {
    pub fn count(&self, refusal: Refusal<'_>) {
        let now = Utc::now();
        let mut counts = self.lock();
        let mut key = Key {
            org: refusal.org,
            action: refusal.action,
            target: refusal.target,
            source: refusal.client.ip.as_deref().map(address_key),
        };
        if counts.len() >= MAX_SOURCES && !counts.contains_key(&key) {
            key.source = Some(OVERFLOW.to_owned());
        }
        let entry = counts.entry(key).or_insert(Counts {
            count: 0,
            first_at: now,
            last_at: now,
            reasons: BTreeMap::new(),
        });
        entry.count += 1;
        entry.last_at = now;
        if let Some(reason) = refusal.reason {
            *entry.reasons.entry(reason).or_default() += 1;
        }
    }

    /// Takes every count, leaving the tally empty.
    pub(super) fn take(&self) -> Vec<Counted> {
        let mut counts = self.lock();
        let mut taken: Vec<Counted> = counts
            .drain()
            .map(|(key, counts)| Counted { key, counts })
            .collect();
        taken.sort_by_key(|c| c.counts.first_at);
        taken
    }

    /// Puts counts back that could not be written (they are written with the next flush).
    pub(super) fn restore(&self, counted: Vec<Counted>) {
        let mut counts = self.lock();
        for Counted { key, counts: old } in counted {
            match counts.get_mut(&key) {
                Some(new) => {
                    new.count += old.count;
                    new.first_at = new.first_at.min(old.first_at);
                    for (reason, n) in old.reasons {
                        *new.reasons.entry(reason).or_default() += n;
                    }
                }
                None => {
                    counts.insert(key, old);
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Counts>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One source's counts, taken for writing.
pub(super) struct Counted {
    key: Key,
    counts: Counts,
}

impl Counted {
    /// The aggregated audit row; its client is the source (an address or a /64), without a
    /// user agent.
    pub(super) fn entry<'a>(&self, client: &'a ClientInfo) -> Entry<'a> {
        let stamp = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut details = serde_json::json!({
            "count": self.counts.count,
            "first_at": stamp(self.counts.first_at),
            "last_at": stamp(self.counts.last_at),
            "source": self.key.source.as_deref().unwrap_or("unknown"),
        });
        if !self.counts.reasons.is_empty() {
            details["reasons"] = serde_json::json!(self.counts.reasons);
        }
        Entry {
            org: self.key.org,
            actor: Actor::Anonymous,
            action: self.key.action,
            target: self.key.target.clone(),
            client: Some(client),
            details,
        }
    }

    /// The client the row names: the source, nothing else.
    pub(super) fn client(&self) -> ClientInfo {
        ClientInfo {
            ip: self.key.source.clone(),
            user_agent: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> ClientInfo {
        ClientInfo {
            ip: Some(ip.to_owned()),
            user_agent: Some("curl".into()),
        }
    }

    fn refusal<'a>(client: &'a ClientInfo, reason: &'static str) -> Refusal<'a> {
        Refusal {
            org: None,
            action: "api.key_refused",
            target: "api".into(),
            client,
            reason: Some(reason),
        }
    }

    #[test]
    fn refusals_from_one_source_become_one_row_with_their_count() {
        let tally = Tally::default();
        let a = client("2001:db8:1:2::1");
        let b = client("2001:db8:1:2::99");
        let c = client("192.0.2.7");
        for _ in 0..3 {
            tally.count(refusal(&a, "unknown"));
        }
        tally.count(refusal(&b, "missing"));
        tally.count(refusal(&c, "unknown"));
        let taken = tally.take();
        assert_eq!(taken.len(), 2, "one /64, one IPv4 address");
        let v6 = taken
            .iter()
            .find(|t| t.key.source.as_deref() == Some("2001:db8:1:2::/64"))
            .unwrap();
        let client = v6.client();
        let entry = v6.entry(&client);
        assert_eq!(entry.details["count"], 4);
        assert_eq!(entry.details["reasons"]["unknown"], 3);
        assert_eq!(entry.details["reasons"]["missing"], 1);
        assert_eq!(entry.details["source"], "2001:db8:1:2::/64");
        assert_eq!(client.user_agent, None);
        assert!(tally.take().is_empty(), "taking empties the tally");
        tally.restore(taken);
        assert_eq!(
            tally.take().len(),
            2,
            "what could not be written comes back"
        );
    }

    #[test]
    fn a_flood_of_sources_is_bounded() {
        let tally = Tally::default();
        for i in 0..(MAX_SOURCES + 500) {
            let ip = client(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255));
            tally.count(refusal(&ip, "unknown"));
        }
        let taken = tally.take();
        assert_eq!(taken.len(), MAX_SOURCES + 1);
        let other = taken
            .iter()
            .find(|t| t.key.source.as_deref() == Some(OVERFLOW))
            .unwrap();
        assert_eq!(other.counts.count, 500);
    }
}
