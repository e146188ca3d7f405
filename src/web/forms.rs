//! Form input: [`CsrfForm`] checks the session's CSRF token before the form is even parsed,
//! and turns oversized or malformed bodies into clear errors. Handlers convert the parsed DTO
//! into domain types with `TryFrom`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::AppError;
use super::session::SessionState;

/// The largest form body accepted (forms carry text, not files).
pub const FORM_LIMIT: usize = 256 * 1024;

/// A URL-encoded form whose `csrf` field matched the session's token.
pub struct CsrfForm<T>(pub T);

/// A form with no fields but the token (logout, delete buttons).
#[derive(Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.extensions().get::<Arc<SessionState>>().cloned();
        let content_type_ok = req
            .content_type()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded");
        let declared = content_length(req);
        let payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(AppError::BadRequest("error.bad_form"));
            }
            let body = read_limited(declared, payload, FORM_LIMIT, "error.bad_form").await?;
            // Read once as pairs: the token is checked before anything else is parsed, and the
            // values are cleaned before the handler's type sees them.
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|_| AppError::BadRequest("error.bad_form"))?;
            checked_fields(session.as_deref(), pairs).map(CsrfForm)
        })
    }
}

/// The form's fields as `T`, once its `csrf` field matched the session's token (compared in
/// constant time) and control characters were taken out of every value. Shared by
/// [`CsrfForm`] and the multipart form of `web::upload`.
pub(crate) fn checked_fields<T: DeserializeOwned>(
    session: Option<&SessionState>,
    pairs: Vec<(String, String)>,
) -> Result<T, AppError> {
    let given = pairs.iter().find(|(key, _)| key == "csrf").map(|(_, v)| v);
    let expected = session.and_then(|s| s.existing_csrf());
    match (given, expected) {
        (Some(given), Some(expected))
            if constant_time_eq(given.as_bytes(), expected.as_bytes()) => {}
        _ => return Err(AppError::CsrfRejected),
    }
    let cleaned: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(key, value)| (key, without_control_characters(&value)))
        .collect();
    let body = serde_urlencoded::to_string(&cleaned)
        .map_err(|_| AppError::BadRequest("error.bad_form"))?;
    serde_urlencoded::from_str::<T>(&body).map_err(|_| AppError::BadRequest("error.bad_form"))
}

/// Text as it may be stored: control characters other than tab and line breaks (a NUL, an
/// escape, a backspace) are dropped. PostgreSQL refuses a NUL in text outright, and none of
/// them is anything a person typed. Every form field and every string of an API body goes
/// through it.
pub fn without_control_characters(text: &str) -> String {
    text.chars()
        .filter(|&c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// The body's declared length, if the request declares one.
pub fn content_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads a body of at most `limit` bytes: a declared length over it is refused before anything
/// is read (413), and reading stops as soon as the body grows past it. A body that breaks off
/// is `malformed` (a translation key).
pub async fn read_limited(
    declared: Option<usize>,
    mut payload: Payload,
    limit: usize,
    malformed: &'static str,
) -> Result<web::BytesMut, AppError> {
    if declared.is_some_and(|length| length > limit) {
        return Err(AppError::PayloadTooLarge);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::BadRequest(malformed))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A checkbox (`#[serde(default, deserialize_with = "checkbox")]`): ticked when the form
/// carries it with the value a checkbox sends (`on`, or the page's `value`: `yes`, `1`, `true`);
/// any other value, or none, is not ticked.
pub fn checkbox<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let value: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    Ok(matches!(
        value.as_deref().map(str::trim),
        Some("on" | "yes" | "1" | "true")
    ))
}

/// A one-line text field (`#[serde(default, deserialize_with = "one_line")]`): control
/// characters — a NUL, a line break, an escape — become spaces, so nothing typed or pasted
/// carries them into a query, back onto the page or into the log.
pub fn one_line<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    Ok(value.map(|v| {
        v.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }))
}

/// Optional text field: empty or whitespace-only means absent.
pub fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Filter {
        #[serde(default, deserialize_with = "super::one_line")]
        q: Option<String>,
    }

    #[test]
    fn stored_text_keeps_line_breaks_and_loses_other_control_characters() {
        assert_eq!(
            super::without_control_characters("a\0b\u{1b}[1m\tc\r\nd\u{7f}\u{85}é"),
            "ab[1m\tc\r\ndé"
        );
    }

    #[test]
    fn one_line_text_loses_its_control_characters() {
        let filter: Filter =
            serde_urlencoded::from_str("q=*))%00nosuchvalue%0d%0aX-Evil:%1b[1").unwrap();
        assert_eq!(filter.q.as_deref(), Some("*)) nosuchvalue  X-Evil: [1"));
        let absent: Filter = serde_urlencoded::from_str("").unwrap();
        assert_eq!(absent.q, None);
    }

    #[derive(serde::Deserialize)]
    struct Form {
        #[serde(default, deserialize_with = "super::checkbox")]
        ticked: bool,
    }

    #[test]
    fn a_checkbox_is_ticked_only_by_a_checkbox_value() {
        let ticked = |body: &str| serde_urlencoded::from_str::<Form>(body).unwrap().ticked;
        for body in ["ticked=on", "ticked=yes", "ticked=1", "ticked=true"] {
            assert!(ticked(body), "{body}");
        }
        for body in ["", "ticked=", "ticked=no", "ticked=0", "other=on"] {
            assert!(!ticked(body), "{body}");
        }
    }
}
