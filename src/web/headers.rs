//! Security headers on every response, and the refusal of cross-site form posts.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::{DefaultHeaders, Next};

use super::error::AppError;
use super::paths;

/// No inline script, nothing from another host, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        ))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"))
        // Every answer carries someone's data unless it says otherwise (the hashed assets do):
        // no copy in a browser's or a proxy's cache.
        .add((header::CACHE_CONTROL, "no-store"));
    if https {
        headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// Middleware: a state-changing request that a browser marks as coming from another site is
/// refused before any handler runs (the CSRF token is the main defence; this is the second).
/// The machine endpoint for inbound mail is exempt (it authenticates by its token), and so are
/// the chat widget's endpoints.
pub async fn reject_cross_site_posts(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let cross_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site");
    // The chat widget's endpoints answer other sites by design: they check the Origin
    // against the channel's allowed origins and carry no session (src/chat/routes.rs).
    let exempt =
        req.path().starts_with(paths::INBOUND_PREFIX) || req.path().starts_with(paths::CHAT_PREFIX);
    if changes_state && cross_site && !exempt {
        let res = req.error_response(AppError::CsrfRejected);
        return Ok(res.map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}
