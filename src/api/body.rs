//! JSON request bodies of the API: at most [`MAX_BODY_BYTES`], refused by their declared length
//! before a byte is read (413), and parsed into the endpoint's body type only when the handler
//! asks ([`JsonBody::parse`]), after it checked the caller's rights: a key without them gets
//! 403 whatever it sent, and learns nothing of the format. Unknown or missing fields answer
//! 400 with the documented message.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::web::AppError;
use crate::web::forms::{content_length, read_limited, without_control_characters};

/// Every string of the body, as it may be stored ([`without_control_characters`]).
fn clean_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => *text = without_control_characters(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(clean_strings),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(clean_strings),
        _ => {}
    }
}

/// The largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body, read but not yet parsed.
pub struct JsonBody(actix_web::web::BytesMut);

impl JsonBody {
    /// The body as sent.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The body as the endpoint's type, every string cleaned ([`without_control_characters`]).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        let mut value: serde_json::Value = serde_json::from_slice(&self.0)
            .map_err(|_| AppError::BadRequest("api.error.bad_json"))?;
        clean_strings(&mut value);
        serde_json::from_value(value).map_err(|_| AppError::BadRequest("api.error.bad_json"))
    }
}

impl FromRequest for JsonBody {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = content_length(req);
        let payload = payload.take();
        Box::pin(async move {
            read_limited(declared, payload, MAX_BODY_BYTES, "api.error.bad_json")
                .await
                .map(JsonBody)
        })
    }
}
