//! JSON request bodies of the API: at most [`MAX_BODY_BYTES`], refused by their declared length
//! before a byte is read (413), and parsed into the endpoint's body type, whose unknown or
//! missing fields answer 400 with the documented message.

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

/// A parsed JSON body.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = content_length(req);
        let payload = payload.take();
        Box::pin(async move {
            let body =
                read_limited(declared, payload, MAX_BODY_BYTES, "api.error.bad_json").await?;
            let mut value: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|_| AppError::BadRequest("api.error.bad_json"))?;
            clean_strings(&mut value);
            serde_json::from_value(value)
                .map(JsonBody)
                .map_err(|_| AppError::BadRequest("api.error.bad_json"))
        })
    }
}
