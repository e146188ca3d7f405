//! How Lethe asks a shop: through the egress rules of webhooks and mail servers (no SSRF:
//! [`crate::mail::egress::Egress::http_client`]), within a time [`Budget`] for the whole
//! page, answering 401/403 as bad credentials, 404 as not found, and a rate limit (HTTP 429,
//! or a throttled answer the caller recognises) by waiting `Retry-After` once when the budget
//! allows it, else as rate-limited. Nothing of a request or an answer is logged.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

use super::FetchError;
use super::shop::ShopUrl;
use crate::mail::egress::{Egress, EgressError};

/// The most a shop's answer may hold.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The wait before a retry when a rate limit does not say how long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The time left for everything a page asks the shops.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    deadline: Instant,
}

impl Budget {
    pub fn of(time: Duration) -> Self {
        Self {
            deadline: Instant::now() + time,
        }
    }

    /// The time left, if any.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
}

/// A shop's answer: status, headers and JSON body.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl Answer {
    /// A header's value as a number (`X-WP-TotalPages`).
    pub fn header_number(&self, name: &str) -> Option<u64> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    }
}

/// An HTTP client that reaches the shop only at addresses the egress policy allows.
pub async fn client(egress: Egress, shop: &ShopUrl) -> Result<reqwest::Client, FetchError> {
    egress
        .http_client(&shop.host(), shop.port())
        .await
        .map_err(|e| match e {
            EgressError::Private { .. } => {
                FetchError::Unreachable("a private address (LETHE_ALLOW_PRIVATE_HOSTS)".into())
            }
            EgressError::Lookup { .. } => FetchError::Unreachable("unknown host".into()),
            EgressError::Client(reason) => FetchError::Unreachable(reason),
        })
}

/// How long a rate-limited answer asks to wait (`Retry-After` in seconds).
fn retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_RETRY_AFTER)
}

/// Sends the request `make` builds (again for the one retry) and reads its JSON answer.
/// `throttled` tells a rate limit written in a successful answer (Shopify's GraphQL).
pub async fn send(
    budget: &Budget,
    make: impl Fn() -> reqwest::RequestBuilder,
    throttled: impl Fn(&Answer) -> bool,
) -> Result<Answer, FetchError> {
    let mut retried = false;
    loop {
        let answer = once(budget, make()).await?;
        let limited = answer.status == 429 || throttled(&answer);
        if !limited {
            return check_status(answer);
        }
        let wait = retry_after(&answer.headers);
        match budget.remaining() {
            Some(left) if !retried && wait < left => {
                retried = true;
                tokio::time::sleep(wait).await;
            }
            _ => return Err(FetchError::RateLimited),
        }
    }
}

fn check_status(answer: Answer) -> Result<Answer, FetchError> {
    match answer.status {
        200..=299 => Ok(answer),
        401 | 403 => Err(FetchError::BadCredentials),
        404 => Err(FetchError::NotFound),
        status => Err(FetchError::Protocol(format!("HTTP {status}"))),
    }
}

async fn once(budget: &Budget, request: reqwest::RequestBuilder) -> Result<Answer, FetchError> {
    let left = budget.remaining().ok_or(FetchError::Timeout)?;
    let work = async {
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(transport)?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(FetchError::Protocol("answer too large".into()));
        }
        // Error answers may hold HTML or nothing: their status says enough.
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(left, work)
        .await
        .map_err(|_| FetchError::Timeout)?
}

fn transport(error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout
    } else if error.is_connect() {
        FetchError::Unreachable("connection refused".into())
    } else {
        // The error's text may carry the URL (with an email address in its query).
        FetchError::Unreachable("transport error".into())
    }
}

/// The JSON body parsed into `T`, or a protocol error naming `what`.
pub fn parse<T: serde::de::DeserializeOwned>(
    body: serde_json::Value,
    what: &str,
) -> Result<T, FetchError> {
    serde_json::from_value(body).map_err(|e| {
        // serde's message names a field or type, never a value.
        FetchError::Protocol(format!("{what}: {}", strip_values(&e.to_string())))
    })
}

/// serde_json's messages quote a bad value (`invalid type: string "…"`): keep the words.
fn strip_values(message: &str) -> String {
    message.split('"').step_by(2).collect::<Vec<_>>().join("…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_with_a_default() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), DEFAULT_RETRY_AFTER);
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Duration::from_secs(2));
    }

    #[test]
    fn parse_errors_do_not_quote_values() {
        let error = parse::<Vec<i64>>(serde_json::json!(["anna@kunde.test"]), "orders");
        let text = format!("{error:?}");
        assert!(!text.contains("anna@kunde.test"), "{text}");
    }
}
