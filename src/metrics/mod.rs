//! Numbers to watch, in the Prometheus text format: `GET /metrics` on its own address
//! (`LETHE_METRICS_LISTEN`, apart from the pages: bind it to loopback or a private network).
//! Requests by route pattern, method and status with latency histograms (`http.rs`, recorded
//! by a middleware), and what the database says at the time of the scrape (`gauges.rs`):
//! outbox depth and age, search queue depth, IMAP polls per channel, retention runs, backup
//! age, database pool use. Labels are route patterns and ids, never a path with data in it,
//! a name or an address.

mod exposition;
mod gauges;
mod http;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};

pub use http::{HttpMetrics, record};

use crate::state::AppState;

/// `GET /metrics`.
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut out = exposition::Writer::default();
    state.metrics.write(&mut out);
    if let Err(error) = gauges::write(&state, &mut out).await {
        // The request figures are still worth having; the scrape says what is missing.
        tracing::warn!(%error, "metrics: the database figures could not be read");
        out.gauge(
            "lethe_metrics_database_error",
            "1 when the database figures of this scrape could not be read.",
            &[],
            1.0,
        );
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(out.finish())
}

/// Binds `LETHE_METRICS_LISTEN` and serves `/metrics` there (nothing else); the server and
/// its port.
pub fn serve(state: Arc<AppState>, listener: TcpListener) -> std::io::Result<Server> {
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .listen(listener)?
    .shutdown_timeout(5)
    .run();
    Ok(server)
}
