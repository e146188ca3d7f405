//! Login throttling: failed attempts are counted per account and per client address in a
//! sliding window; past the limit, logins are refused with the same generic message whether
//! or not the account exists.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::web::rate_limit;

const WINDOW: Duration = Duration::from_secs(15 * 60);
const PER_ACCOUNT: usize = 5;
const PER_ADDRESS: usize = 20;
/// Keeps memory bounded under a flood of distinct keys.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// True when another attempt for this account or from this address must wait.
    pub fn is_blocked(&self, account: &str, address: Option<&str>) -> bool {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let over = |map: &mut HashMap<String, VecDeque<Instant>>, key: String, limit: usize| {
            map.get_mut(&key).is_some_and(|times| {
                prune(times, now);
                times.len() >= limit
            })
        };
        over(&mut failures, account_key(account), PER_ACCOUNT)
            || address.is_some_and(|a| over(&mut failures, address_key(a), PER_ADDRESS))
    }

    pub fn record_failure(&self, account: &str, address: Option<&str>) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        let mut keys = vec![account_key(account)];
        if let Some(address) = address {
            keys.push(address_key(address));
        }
        for key in keys {
            let times = failures.entry(key).or_default();
            prune(times, now);
            times.push_back(now);
        }
    }

    /// A successful login clears the account's failures (not the address's).
    pub fn record_success(&self, account: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&account_key(account));
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) > WINDOW)
    {
        times.pop_front();
    }
}

fn account_key(account: &str) -> String {
    format!("account:{}", account.trim().to_lowercase())
}

/// An IPv6 client counts by its /64 (see [`rate_limit::address_key`]).
fn address_key(address: &str) -> String {
    format!("address:{}", rate_limit::address_key(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_an_account_after_five_failures_from_anywhere() {
        let throttle = LoginThrottle::default();
        for i in 0..PER_ACCOUNT {
            assert!(!throttle.is_blocked("a@b.de", Some(&format!("10.0.0.{i}"))));
            throttle.record_failure("a@b.de", Some(&format!("10.0.0.{i}")));
        }
        assert!(throttle.is_blocked("A@B.de", Some("10.9.9.9")));
        assert!(!throttle.is_blocked("other@b.de", Some("10.9.9.9")));
    }

    #[test]
    fn blocks_an_address_trying_many_accounts() {
        let throttle = LoginThrottle::default();
        for i in 0..PER_ADDRESS {
            throttle.record_failure(&format!("user{i}@b.de"), Some("192.0.2.1"));
        }
        assert!(throttle.is_blocked("fresh@b.de", Some("192.0.2.1")));
        assert!(!throttle.is_blocked("fresh@b.de", Some("192.0.2.2")));
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_network() {
        let throttle = LoginThrottle::default();
        for i in 0..PER_ADDRESS {
            let address = format!("2001:db8:1:2::{i:x}");
            throttle.record_failure(&format!("user{i}@b.de"), Some(&address));
        }
        assert!(throttle.is_blocked("fresh@b.de", Some("2001:db8:1:2:ffff::1")));
        assert!(!throttle.is_blocked("fresh@b.de", Some("2001:db8:1:3::1")));
    }
}
