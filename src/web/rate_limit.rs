//! Rate limits: a keyed GCRA limiter ([`KeyedLimiter`]), the limits Lethe applies
//! ([`RateLimits`], held in the shared state, set by `LETHE_RATE_*`), the cap on concurrent
//! event streams per user ([`StreamSlots`], `LETHE_SSE_STREAMS_PER_USER`), and the middleware
//! that limits a route by the client's address ([`by_address`], scoped in the route table).
//!
//! Over a limit, a request answers 429 with `Retry-After` ([`AppError::TooManyRequests`])
//! before its handler runs or writes anything. What is limited, and by what:
//!
//! | route | key |
//! | --- | --- |
//! | `POST /login`, `POST /password/forgot` | client address ([`by_address`]) |
//! | `POST /inbound/email/{token}` | client address and channel token ([`by_address`]) |
//! | `/api/v1/*` | API key, then its organization (`api::auth`) |
//! | `/search` | user (its handler) |
//! | the channels' *Test IMAP* / *Test SMTP* | organization (their handler) |
//! | `/events` | open streams per user (its handler) |
//! | `/chat/*` (the chat widget) | client address, then visitor id (`crate::chat::routes`) |
//!
//! An IPv4 client counts alone; an IPv6 client counts by its /64 ([`address_key`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

use super::client::ClientInfo;
use super::error::AppError;
use crate::config::RateLimitConfig;
use crate::orgs::OrgId;

/// Keeps each limiter's memory bounded under a flood of distinct keys.
const MAX_KEYS: usize = 100_000;
/// While a limiter is full, forgotten keys are looked for at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(1);
/// Where the keys that find a full limiter are counted, together.
const OVERFLOW: &str = "overflow";
/// What a refused event stream is told to wait: a slot frees when a stream closes.
const STREAM_RETRY_SECS: u64 = 10;

/// The key of a client address: an IPv4 address counts alone; an IPv6 client counts by its
/// /64, the smallest network a subscriber gets (a client holds a whole /64 and could rotate
/// through it). Also the `source` of aggregated audit rows.
pub fn address_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(ip) => ip.to_canonical().to_string(),
        Err(_) => address.to_owned(),
    }
}

/// The key of a request's client, or `unknown` when it has no address.
fn client_key(client: &ClientInfo) -> String {
    client
        .ip
        .as_deref()
        .map_or_else(|| "unknown".to_owned(), address_key)
}

/// How long to wait before a refused request would be let through: whole seconds, at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(u64);

impl RetryAfter {
    fn of(wait: Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self(secs.max(1))
    }

    pub fn secs(self) -> u64 {
        self.0
    }
}

impl From<RetryAfter> for AppError {
    fn from(wait: RetryAfter) -> Self {
        AppError::TooManyRequests {
            retry_after_secs: wait.secs(),
        }
    }
}

/// A generic cell rate algorithm (GCRA) per key: `per_minute` requests at once, then one
/// every `60 s / per_minute`. A key's whole state is its theoretical arrival time; a key
/// whose time has passed is as good as new and is forgotten when the limiter fills up.
pub struct KeyedLimiter {
    /// The time one request costs.
    interval: Duration,
    /// How far ahead of now a key's arrival time may run: `per_minute` requests.
    tolerance: Duration,
    max_keys: usize,
    epoch: Instant,
    cells: Mutex<Cells>,
}

#[derive(Default)]
struct Cells {
    /// Each key's theoretical arrival time, as time since the limiter's epoch.
    arrival: HashMap<String, Duration>,
    last_prune: Option<Duration>,
}

impl KeyedLimiter {
    pub fn per_minute(per_minute: u32) -> Self {
        Self::with_capacity(per_minute, MAX_KEYS)
    }

    fn with_capacity(per_minute: u32, max_keys: usize) -> Self {
        let per_minute = per_minute.max(1);
        let interval = Duration::from_secs(60) / per_minute;
        Self {
            interval,
            tolerance: interval * per_minute,
            max_keys,
            epoch: Instant::now(),
            cells: Mutex::new(Cells::default()),
        }
    }

    /// Counts one request of `key`, or says how long it must wait (nothing is counted then).
    pub fn check(&self, key: &str) -> Result<(), RetryAfter> {
        self.check_at(key, self.epoch.elapsed())
    }

    fn check_at(&self, key: &str, now: Duration) -> Result<(), RetryAfter> {
        let mut cells = self.lock();
        let known = cells.arrival.contains_key(key);
        if !known && cells.arrival.len() >= self.max_keys {
            let due = cells
                .last_prune
                .is_none_or(|at| now.saturating_sub(at) >= PRUNE_EVERY);
            if due {
                cells.arrival.retain(|_, arrival| *arrival > now);
                cells.last_prune = Some(now);
            }
        }
        let key = if known || cells.arrival.len() < self.max_keys {
            key
        } else {
            OVERFLOW
        };
        let arrival = cells.arrival.get(key).copied().unwrap_or(now).max(now);
        let next = arrival + self.interval;
        let allowed_until = now + self.tolerance;
        if next > allowed_until {
            return Err(RetryAfter::of(next - allowed_until));
        }
        cells.arrival.insert(key.to_owned(), next);
        Ok(())
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.lock().arrival.len()
    }

    fn lock(&self) -> MutexGuard<'_, Cells> {
        self.cells.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The limits of one instance (`LETHE_RATE_*`, `LETHE_SSE_STREAMS_PER_USER`).
pub struct RateLimits {
    login: KeyedLimiter,
    password_reset: KeyedLimiter,
    inbound_address: KeyedLimiter,
    inbound_token: KeyedLimiter,
    api_key: KeyedLimiter,
    api_org: KeyedLimiter,
    search: KeyedLimiter,
    test_button: KeyedLimiter,
    chat_address: KeyedLimiter,
    chat_visitor: KeyedLimiter,
    pub streams: StreamSlots,
}

/// A route limited by the client's address ([`by_address`]).
#[derive(Clone, Copy, Debug)]
pub enum AddressLimit {
    /// `POST /login`.
    Login,
    /// `POST /password/forgot`.
    PasswordReset,
    /// `POST /inbound/email/{token}`: by address, then by the channel token.
    Inbound,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            login: KeyedLimiter::per_minute(config.login_per_minute),
            password_reset: KeyedLimiter::per_minute(config.password_reset_per_minute),
            inbound_address: KeyedLimiter::per_minute(config.inbound_per_minute),
            inbound_token: KeyedLimiter::per_minute(config.inbound_per_minute),
            api_key: KeyedLimiter::per_minute(config.api_key_per_minute),
            api_org: KeyedLimiter::per_minute(config.api_org_per_minute),
            search: KeyedLimiter::per_minute(config.search_per_minute),
            test_button: KeyedLimiter::per_minute(config.test_button_per_minute),
            chat_address: KeyedLimiter::per_minute(config.chat_per_minute.saturating_mul(10)),
            chat_visitor: KeyedLimiter::per_minute(config.chat_per_minute),
            streams: StreamSlots::new(config.sse_streams_per_user),
        }
    }

    /// One API call of `key_id`, then of its organization: a key over its limit spends
    /// nothing of its organization's.
    pub fn api_call(&self, key_id: i64, org: OrgId) -> Result<(), AppError> {
        self.api_key.check(&key_id.to_string())?;
        self.api_org.check(&org.get().to_string())?;
        Ok(())
    }

    /// One search of the user.
    pub fn search(&self, user_id: i64) -> Result<(), AppError> {
        Ok(self.search.check(&user_id.to_string())?)
    }

    /// One press of a channel's *Test IMAP* or *Test SMTP* button in the organization.
    pub fn test_button(&self, org: OrgId) -> Result<(), AppError> {
        Ok(self.test_button.check(&org.get().to_string())?)
    }

    /// One chat widget request from `address` (a client address, never stored) by the
    /// visitor whose stored key is `visitor`. An address counts ten visitors' worth (a shop's
    /// customers may share an office or a mobile carrier's address).
    pub fn chat(&self, client: &ClientInfo, visitor: &str) -> Result<(), AppError> {
        self.chat_address.check(&client_key(client))?;
        Ok(self.chat_visitor.check(visitor)?)
    }

    /// One search in a public help centre (src/assist/knowledge/help.rs) from the client's
    /// address: it spends the address's chat widget budget, the other public read.
    pub fn help_search(&self, client: &ClientInfo) -> Result<(), AppError> {
        Ok(self.chat_address.check(&client_key(client))?)
    }

    fn by_address(&self, limit: AddressLimit, req: &ServiceRequest) -> Result<(), RetryAfter> {
        let address = client_key(&ClientInfo::of(req.request()));
        match limit {
            AddressLimit::Login => self.login.check(&address),
            AddressLimit::PasswordReset => self.password_reset.check(&address),
            AddressLimit::Inbound => {
                self.inbound_address.check(&address)?;
                // The token is a secret: only its digest is kept.
                let token = req.match_info().get("token").unwrap_or_default();
                self.inbound_token.check(&crate::crypto::sha256_hex(token))
            }
        }
    }
}

/// Middleware for one route of the route table: refuses a POST over the client address's
/// `limit` with 429 before anything else happens (the body is not even read).
pub async fn by_address(
    limit: AddressLimit,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() == Method::POST
        && let Some(state) = req.app_data::<actix_web::web::Data<crate::state::AppState>>()
        && let Err(wait) = state.rate_limits.by_address(limit, &req)
    {
        return Ok(req.error_response(AppError::from(wait)));
    }
    next.call(req).await
}

/// The cap on open event streams per user: the next stream is refused (429) until one closes.
pub struct StreamSlots {
    max: usize,
    open: Arc<Mutex<HashMap<i64, usize>>>,
}

/// An open stream's slot, given back when the stream is dropped.
pub struct StreamSlot {
    user_id: i64,
    open: Arc<Mutex<HashMap<i64, usize>>>,
}

impl StreamSlots {
    fn new(max: u32) -> Self {
        Self {
            max: usize::try_from(max).unwrap_or(usize::MAX).max(1),
            open: Arc::default(),
        }
    }

    /// A slot for one more stream of the user, or 429.
    pub fn open(&self, user_id: i64) -> Result<StreamSlot, AppError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(user_id).or_default();
        if *count >= self.max {
            return Err(AppError::TooManyRequests {
                retry_after_secs: STREAM_RETRY_SECS,
            });
        }
        *count += 1;
        Ok(StreamSlot {
            user_id,
            open: self.open.clone(),
        })
    }

    #[cfg(test)]
    fn open_of(&self, user_id: i64) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&user_id).copied().unwrap_or_default()
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn a_key_gets_its_minute_at_once_then_one_request_per_interval() {
        let limiter = KeyedLimiter::per_minute(6);
        let t0 = Duration::from_secs(100);
        for _ in 0..6 {
            assert_eq!(limiter.check_at("a", t0), Ok(()));
        }
        // The seventh waits for one interval (10 s).
        assert_eq!(limiter.check_at("a", t0), Err(RetryAfter(10)));
        assert_eq!(limiter.check_at("a", t0 + 4 * SEC), Err(RetryAfter(6)));
        // Refusals cost nothing: after the interval one more goes through, and only one.
        assert_eq!(limiter.check_at("a", t0 + 10 * SEC), Ok(()));
        assert_eq!(limiter.check_at("a", t0 + 10 * SEC), Err(RetryAfter(10)));
        // Another key has its own budget.
        assert_eq!(limiter.check_at("b", t0), Ok(()));
        // A full minute later the whole burst is back.
        let later = t0 + 80 * SEC;
        for _ in 0..6 {
            assert_eq!(limiter.check_at("a", later), Ok(()));
        }
        assert!(limiter.check_at("a", later).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        assert_eq!(RetryAfter::of(Duration::from_millis(1)).secs(), 1);
        assert_eq!(RetryAfter::of(Duration::ZERO).secs(), 1);
        assert_eq!(RetryAfter::of(Duration::from_millis(1500)).secs(), 2);
        assert_eq!(RetryAfter::of(Duration::from_secs(3)).secs(), 3);
        // 600 a minute: one every 100 ms, so the wait rounds up to 1 s.
        let limiter = KeyedLimiter::per_minute(600);
        let now = Duration::from_secs(5);
        for _ in 0..600 {
            assert!(limiter.check_at("k", now).is_ok());
        }
        assert_eq!(limiter.check_at("k", now), Err(RetryAfter(1)));
    }

    #[test]
    fn a_flood_of_distinct_keys_keeps_memory_bounded_and_shares_one_budget() {
        let limiter = KeyedLimiter::with_capacity(2, 100);
        let now = Duration::from_secs(10);
        for i in 0..100 {
            assert!(limiter.check_at(&format!("k{i}"), now).is_ok());
        }
        // Full of live keys: newcomers count together, in one overflow key.
        assert!(limiter.check_at("new1", now).is_ok());
        assert!(limiter.check_at("new2", now).is_ok());
        assert!(limiter.check_at("new3", now).is_err());
        assert!(limiter.keys() <= 101);
        // Known keys keep their own budget meanwhile.
        assert!(limiter.check_at("k7", now).is_ok());
        assert!(limiter.check_at("k7", now).is_err());
        // Once their time has passed the old keys are forgotten, and a new key is itself.
        let later = now + Duration::from_secs(120);
        for i in 0..1000 {
            assert!(limiter.check_at(&format!("fresh{i}"), later).is_ok() || i >= 100);
        }
        assert!(limiter.keys() <= 101, "{}", limiter.keys());
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_network_and_an_ipv4_client_alone() {
        assert_eq!(address_key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            address_key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            address_key("2001:db8:1:3::1"),
            address_key("2001:db8:1:2::1")
        );
        assert_eq!(address_key("192.0.2.1"), "192.0.2.1");
        assert_eq!(address_key("::ffff:192.0.2.1"), "192.0.2.1");
        let limiter = KeyedLimiter::per_minute(1);
        let now = Duration::from_secs(1);
        assert!(
            limiter
                .check_at(&address_key("2001:db8:1:2::1"), now)
                .is_ok()
        );
        assert!(
            limiter
                .check_at(&address_key("2001:db8:1:2::2"), now)
                .is_err()
        );
        assert!(
            limiter
                .check_at(&address_key("2001:db8:1:3::1"), now)
                .is_ok()
        );
    }

    #[test]
    fn a_user_holds_at_most_the_cap_of_streams_and_a_closed_one_frees_a_slot() {
        let slots = StreamSlots::new(2);
        let first = slots.open(7).unwrap();
        let _second = slots.open(7).unwrap();
        assert!(matches!(
            slots.open(7),
            Err(AppError::TooManyRequests { .. })
        ));
        assert!(slots.open(8).is_ok(), "another user has slots of their own");
        drop(first);
        assert_eq!(slots.open_of(7), 1);
        assert!(slots.open(7).is_ok());
    }
}
