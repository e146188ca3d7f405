//! The customers' orders, in memory only: kept for [`TTL`] after they were fetched, at most
//! [`MAX_CUSTOMERS`] customers (the oldest entry makes room), never written anywhere.
//! Erasure and restriction of a customer drop their entry ([`OrderCache::forget`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::model::Order;
use crate::orgs::OrgId;

/// How long fetched orders are shown without asking the shop again.
pub const TTL: Duration = Duration::from_secs(5 * 60);
/// How many customers' orders are kept at most.
pub const MAX_CUSTOMERS: usize = 1000;

/// One shop's orders of a customer.
#[derive(Clone, Debug)]
pub struct ShopOrders {
    pub connector_id: i64,
    pub shop: String,
    pub orders: Vec<Order>,
}

struct Entry {
    at: Instant,
    shops: Arc<Vec<ShopOrders>>,
}

/// The cache, shared by the application's handlers (`AppState::orders`).
#[derive(Default)]
pub struct OrderCache {
    entries: Mutex<HashMap<(OrgId, i64), Entry>>,
}

impl OrderCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(OrgId, i64), Entry>> {
        // A panic while holding the lock leaves a map that is still valid.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The customer's orders when fetched less than [`TTL`] ago.
    pub fn get(&self, org: OrgId, customer_id: i64) -> Option<Arc<Vec<ShopOrders>>> {
        let mut entries = self.lock();
        let key = (org, customer_id);
        match entries.get(&key) {
            Some(entry) if entry.at.elapsed() < TTL => Some(entry.shops.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, org: OrgId, customer_id: i64, shops: Arc<Vec<ShopOrders>>) {
        let mut entries = self.lock();
        entries.retain(|_, e| e.at.elapsed() < TTL);
        if entries.len() >= MAX_CUSTOMERS
            && let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| *k)
        {
            entries.remove(&oldest);
        }
        entries.insert(
            (org, customer_id),
            Entry {
                at: Instant::now(),
                shops,
            },
        );
    }

    /// Drops a customer's orders (erasure, restriction).
    pub fn forget(&self, org: OrgId, customer_id: i64) {
        self.lock().remove(&(org, customer_id));
    }

    /// Drops every customer's orders of an organization (a connector changed or went).
    pub fn forget_org(&self, org: OrgId) {
        self.lock().retain(|(o, _), _| *o != org);
    }

    /// Whether a customer's orders are held.
    pub fn holds(&self, org: OrgId, customer_id: i64) -> bool {
        self.lock().contains_key(&(org, customer_id))
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_and_forgets_on_request() {
        let cache = OrderCache::default();
        let org = OrgId::from_db(1);
        for customer in 0..(MAX_CUSTOMERS as i64 + 5) {
            cache.put(org, customer, Arc::new(Vec::new()));
        }
        assert_eq!(cache.len(), MAX_CUSTOMERS);
        assert!(cache.holds(org, MAX_CUSTOMERS as i64 + 4));
        cache.forget(org, MAX_CUSTOMERS as i64 + 4);
        assert!(cache.get(org, MAX_CUSTOMERS as i64 + 4).is_none());
    }
}
