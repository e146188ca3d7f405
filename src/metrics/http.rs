//! Requests by route pattern, method and status, and their latency as histograms, kept in
//! memory since start (counters reset with the process, as Prometheus expects).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;

use super::exposition::Writer;
use crate::state::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Latency {
    /// Requests at or under each bound (not cumulative; summed when written).
    per_bucket: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Figures {
    /// (route, method, status) → requests
    requests: BTreeMap<(String, String, u16), u64>,
    /// (route, method) → latency
    latency: BTreeMap<(String, String), Latency>,
}

/// The request figures of this process.
#[derive(Default)]
pub struct HttpMetrics {
    figures: Mutex<Figures>,
}

impl HttpMetrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut figures = self
            .figures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *figures
            .requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let latency = figures
            .latency
            .entry((route.to_owned(), method.to_owned()))
            .or_default();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            latency.per_bucket[bucket] += 1;
        }
        latency.sum += seconds;
        latency.count += 1;
    }

    pub(super) fn write(&self, out: &mut Writer) {
        let figures = self
            .figures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for ((route, method, status), count) in &figures.requests {
            let status = status.to_string();
            out.counter(
                "lethe_http_requests_total",
                "HTTP requests answered, by route pattern, method and status.",
                &[("route", route), ("method", method), ("status", &status)],
                *count as f64,
            );
        }
        for ((route, method), latency) in &figures.latency {
            let mut cumulative = 0;
            let buckets: Vec<(f64, u64)> = BUCKETS
                .iter()
                .zip(latency.per_bucket)
                .map(|(bound, n)| {
                    cumulative += n;
                    (*bound, cumulative)
                })
                .collect();
            out.histogram(
                "lethe_http_request_duration_seconds",
                "Time to answer HTTP requests (until the handler returned), by route pattern and method.",
                &[("route", route), ("method", method)],
                &buckets,
                latency.sum,
                latency.count,
            );
        }
    }
}

/// The middleware: times every request and counts it under its route pattern (a path that
/// matched no route counts as `unmatched`, so a scan cannot make new series).
pub async fn record<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let started = Instant::now();
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = state {
        let seconds = started.elapsed().as_secs_f64();
        state
            .metrics
            .observe(&route, method, response.status().as_u16(), seconds);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_status_and_timed_per_route() {
        let metrics = HttpMetrics::default();
        metrics.observe("/conversations/{id}", "GET", 200, 0.002);
        metrics.observe("/conversations/{id}", "GET", 404, 0.3);
        metrics.observe("/conversations/{id}", "GET", 200, 20.0);
        let mut out = Writer::default();
        metrics.write(&mut out);
        let text = out.finish();
        assert!(text.contains(
            r#"lethe_http_requests_total{route="/conversations/{id}",method="GET",status="200"} 2"#
        ));
        assert!(text.contains(r#"lethe_http_request_duration_seconds_bucket{route="/conversations/{id}",method="GET",le="0.0025"} 1"#));
        assert!(text.contains(r#"lethe_http_request_duration_seconds_bucket{route="/conversations/{id}",method="GET",le="0.5"} 2"#));
        assert!(text.contains(r#"lethe_http_request_duration_seconds_bucket{route="/conversations/{id}",method="GET",le="+Inf"} 3"#));
        assert!(text.contains(r#"lethe_http_request_duration_seconds_count{route="/conversations/{id}",method="GET"} 3"#));
    }
}
