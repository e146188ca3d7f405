//! The one error type of the web layer, and the middleware that turns any error response into
//! a friendly page in the user's language (or JSON for API clients: an RFC 9457
//! `application/problem+json` document under `/api/`). Details go to the log,
//! never to the user, and never with personal data. The domain errors (mail, search,
//! retention) become `AppError`s here, in one place, so handlers use `?` on them.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use askama::Template;

use super::i18n::{Lang, Tr};
use super::paths;
use crate::mail::MailError;
use crate::privacy::PrivacyError;
use crate::retention::RetentionError;
use crate::search::SearchError;

/// Everything that can go wrong in a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// An API key without the scope a call needs (403); the key names the scope's message.
    #[error("missing scope: {0}")]
    ScopeMissing(&'static str),
    /// Malformed input; the string is a translation key shown to the user.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Well-formed but not acceptable (422), e.g. an `Idempotency-Key` reused with another
    /// request; the string is a translation key.
    #[error("unprocessable: {0}")]
    Unprocessable(&'static str),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the form's security token is missing or out of date")]
    CsrfRejected,
    /// Over a rate limit (429, `Retry-After` in whole seconds): `web::rate_limit`.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("login required")]
    LoginRequired { next: String },
    /// An API call without a valid key (401, `WWW-Authenticate: Bearer`).
    #[error("unauthorized")]
    Unauthorized,
    /// The request is understood but refused in the current state (409); the key names the
    /// rule, `reason` is shown with it (e.g. the legal hold's reason).
    #[error("refused: {key}")]
    Refused { key: &'static str, reason: String },
    /// Not an error for the user: go elsewhere first (e.g. create an organization).
    #[error("redirect")]
    Redirect(String),
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("template error: {0}")]
    Template(#[from] askama::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(context: impl std::fmt::Display) -> Self {
        Self::Internal(context.to_string())
    }

    /// The translation key of the message the user sees.
    fn message_key(&self) -> &'static str {
        match self {
            Self::NotFound => "error.not_found",
            Self::Forbidden => "error.forbidden",
            Self::ScopeMissing(key) => key,
            Self::BadRequest(key) | Self::Unprocessable(key) => key,
            Self::PayloadTooLarge => "error.too_large",
            Self::CsrfRejected => "error.csrf",
            Self::TooManyRequests { .. } => "error.rate_limited",
            Self::LoginRequired { .. } | Self::Redirect(_) => "error.login_required",
            Self::Unauthorized => "api.error.unauthorized",
            Self::Refused { key, .. } => key,
            Self::Database(_) | Self::Template(_) | Self::Internal(_) => "error.internal",
        }
    }
}

/// Privacy errors as the web shows them: no such customer is "not found"; a legal hold is a
/// bad request that says so; everything else is a generic 500.
impl From<PrivacyError> for AppError {
    fn from(error: PrivacyError) -> Self {
        match error {
            PrivacyError::NotFound => AppError::NotFound,
            PrivacyError::OnHold(_) => AppError::BadRequest("privacy.erase.on_hold"),
            PrivacyError::Database(error) => AppError::Database(error),
            other => AppError::internal(other),
        }
    }
}

/// Mail errors as the web shows them: a conversation that is not the organization's is "not
/// found"; everything else is a generic 500 whose detail only goes to the log.
impl From<MailError> for AppError {
    fn from(error: MailError) -> Self {
        match error {
            MailError::Database(error) => Self::Database(error),
            MailError::ConversationNotFound => Self::NotFound,
            error @ (MailError::Sealed(_)
            | MailError::MissingAfterInsert(_)
            | MailError::Blob(_)
            | MailError::Task(_)) => Self::internal(error),
        }
    }
}

/// Webhook errors as the web shows them: a generic 500 whose detail only goes to the log
/// (the settings pages answer a bad form with its own message before anything fails).
impl From<crate::webhooks::WebhookError> for AppError {
    fn from(error: crate::webhooks::WebhookError) -> Self {
        match error {
            crate::webhooks::WebhookError::Database(error) => Self::Database(error),
            error => Self::internal(error),
        }
    }
}

/// Retention errors as the web shows them (the settings page's preview): a generic 500 whose
/// detail only goes to the log. A run started from a page runs in the background and records
/// its own error, so no request answers "already running" through this mapping.
impl From<RetentionError> for AppError {
    fn from(error: RetentionError) -> Self {
        match error {
            RetentionError::Database(error) => Self::Database(error),
            error @ (RetentionError::AlreadyRunning
            | RetentionError::Lock(_)
            | RetentionError::Index(_)) => Self::internal(error),
        }
    }
}

/// Search errors as the web shows them: a query the parser did not understand is a 400 (the
/// search page explains it in words before it gets here); a broken index is a generic 500
/// whose detail only goes to the log.
impl From<SearchError> for AppError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::Query(_) => Self::BadRequest("error.bad_request"),
            error @ (SearchError::Tantivy(_)
            | SearchError::Io(_)
            | SearchError::HeldElsewhere
            | SearchError::Poisoned) => Self::internal(error),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden | Self::ScopeMissing(_) | Self::CsrfRejected => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::LoginRequired { .. } | Self::Redirect(_) => StatusCode::SEE_OTHER,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Refused { .. } => StatusCode::CONFLICT,
            Self::Database(_) | Self::Template(_) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::LoginRequired { next } = self {
            let location = format!("{}?next={}", paths::LOGIN, urlencoding(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        if let Self::Redirect(location) = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location.clone()))
                .finish();
        }
        if let Self::Unauthorized = self {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"lethe\""))
                .finish();
        }
        if let Self::TooManyRequests { retry_after_secs } = self {
            return HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, (*retry_after_secs).max(1).to_string()))
                .finish();
        }
        if self.status_code().is_server_error() {
            // The detail is for the operator; it never holds request data.
            tracing::error!(error = %self, "request failed");
        }
        HttpResponse::build(self.status_code()).finish()
    }
}

fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage<'a> {
    tr: Tr,
    status: u16,
    message: &'a str,
}

/// Middleware: every error response gets a page in the user's language, or JSON for API
/// clients. Pages that handlers rendered themselves (a form shown again with its mistakes)
/// pass through unchanged.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    let wants_json = wants_json(&req);
    let fallback_lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let res = next.call(req).await?;
    let status = res.status();
    let is_error = status.is_client_error() || status.is_server_error();
    let produced_by_error = res.response().error().is_some();
    if !is_error || !produced_by_error {
        return Ok(res.map_into_left_body());
    }
    let app_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>());
    let key = match app_error {
        Some(app_error) => app_error.message_key(),
        None => generic_key(status),
    };
    let reason = match app_error {
        Some(AppError::Refused { reason, .. }) => Some(reason.clone()),
        _ => None,
    };
    let lang = res
        .request()
        .extensions()
        .get::<Lang>()
        .copied()
        .unwrap_or(fallback_lang);
    let tr = Tr::new(lang);
    let (req, res) = res.into_parts();
    let mut builder = HttpResponse::build(status);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    let body = if wants_json {
        let problem = is_api(req.path());
        builder.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(if problem {
                "application/problem+json"
            } else {
                "application/json"
            }),
        ));
        problem_body(status, key, tr.t(key), reason.as_deref(), problem).to_string()
    } else {
        builder.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ));
        let message = match &reason {
            Some(reason) => format!("{} {reason}", tr.t(key)),
            None => tr.t(key).to_owned(),
        };
        let page = ErrorPage {
            tr,
            status: status.as_u16(),
            message: &message,
        };
        page.render().unwrap_or(message)
    };
    let response = builder.body(body);
    Ok(ServiceResponse::new(req, response).map_into_right_body())
}

fn is_api(path: &str) -> bool {
    path.starts_with(paths::API_PREFIX)
}

/// The JSON body of an error: `{"error", "status"}` (plus `reason` when a rule refused the
/// call), and for the API an RFC 9457 problem document as well — `type` (`about:blank`: the
/// status says what happened), `title` (the status's reason phrase), `detail` (the message
/// in the caller's language) and `code` (the message's stable key, for programs).
fn problem_body(
    status: StatusCode,
    key: &str,
    message: &str,
    reason: Option<&str>,
    problem: bool,
) -> serde_json::Value {
    let reason = reason.filter(|r| !r.trim().is_empty());
    let mut body = serde_json::json!({ "error": message, "status": status.as_u16() });
    if let Some(reason) = reason {
        body["reason"] = serde_json::Value::String(reason.to_owned());
    }
    if problem {
        body["type"] = "about:blank".into();
        body["title"] = status.canonical_reason().unwrap_or("Error").into();
        body["detail"] = match reason {
            Some(reason) => format!("{message} {reason}"),
            None => message.to_owned(),
        }
        .into();
        body["code"] = key.into();
    }
    body
}

fn generic_key(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "error.not_found",
        StatusCode::FORBIDDEN => "error.forbidden",
        StatusCode::PAYLOAD_TOO_LARGE => "error.too_large",
        StatusCode::METHOD_NOT_ALLOWED => "error.method",
        StatusCode::TOO_MANY_REQUESTS => "error.too_many",
        s if s.is_server_error() => "error.internal",
        _ => "error.bad_request",
    }
}

fn wants_json(req: &ServiceRequest) -> bool {
    let path = req.path();
    if path.starts_with(paths::API_PREFIX) || path.starts_with(paths::INBOUND_PREFIX) {
        return true;
    }
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.starts_with("application/json"))
}
