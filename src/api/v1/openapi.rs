//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! annotations and the request and response types (utoipa), served without a key at
//! `/api/v1/openapi.json`. It holds no data: it is built once from the code.
//!
//! Every operation answers errors as problem documents ([`Problem`]): the statuses the key
//! check, the scopes, the body reader, idempotency and the rate limits can answer (400, 401,
//! 403, 404, 409, 413, 422, 429) are added to each operation here, in one place, instead of on each handler.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use super::Problem;
use super::conversations::{AssigneeName, StatusName};
use super::{conversations, customers, directory, messages, privacy};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lethe API",
        description = "The JSON API of a Lethe support inbox: conversations, messages, \
                       customers, tags, members, channels, retention runs and data subject \
                       requests of the API key's organization. Authenticate with \
                       `Authorization: Bearer <key>`; keys hold the scopes `read`, `write` and \
                       `privacy`. Errors are RFC 9457 problem documents.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        conversations::list,
        conversations::create,
        conversations::get,
        conversations::set_status,
        conversations::set_assignee,
        conversations::add_tag,
        conversations::remove_tag,
        messages::list,
        messages::reply,
        messages::note,
        customers::lookup,
        customers::create,
        customers::get,
        customers::update,
        privacy::export,
        privacy::erase,
        privacy::requests,
        privacy::create_request,
        directory::tags,
        directory::users,
        directory::channels,
        directory::retention_runs,
    ),
    // Schemas that only parameters use are not collected on their own.
    components(schemas(Problem, AssigneeName, StatusName)),
    modifiers(&Shared),
    tags(
        (name = "conversations", description = "The inbox: list, read, start, triage"),
        (name = "messages", description = "A conversation's messages, replies and notes"),
        (name = "customers", description = "Customer records and rectification"),
        (name = "privacy", description = "Export, erasure and data subject requests"),
        (name = "directory", description = "Tags, members, channels, retention runs"),
    )
)]
struct ApiDoc;

/// The bearer scheme, and the problem responses of every operation.
struct Shared;

/// The statuses every operation may answer with a problem document, and why.
const PROBLEMS: [(&str, &str); 8] = [
    ("400", "The request is malformed or a value is not valid"),
    ("401", "No valid API key"),
    (
        "403",
        "The key lacks the scope the call needs, or its creator the role",
    ),
    ("404", "No such resource in the key's organization"),
    (
        "409",
        "Refused in the current state (legal hold, restriction, no sending channel, …)",
    ),
    ("413", "The body is over 64 KiB"),
    (
        "422",
        "The Idempotency-Key was used before with another request",
    ),
    (
        "429",
        "Over the key's or the organization's rate limit (see Retry-After)",
    ),
];

fn problem_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

fn add_problems(operation: &mut Operation) {
    for (status, description) in PROBLEMS {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem_response(description));
    }
}

impl utoipa::Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_problems(operation);
            }
        }
    }
}

/// The document.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc
    });
    &DOCUMENT
}

/// `GET /api/v1/openapi.json` — public, no key.
pub async fn json() -> HttpResponse {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        serde_json::to_string_pretty(document()).unwrap_or_else(|_| "{}".to_owned())
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(JSON.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_of_the_document_resolves() {
        let text = serde_json::to_string(document()).unwrap();
        let schemas = &document().components.as_ref().unwrap().schemas;
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                schemas.contains_key(&name),
                "{name} is referenced but not defined"
            );
        }
        assert!(text.contains("\"openapi\": \"3.1.0\"") || text.contains("\"openapi\":\"3.1.0\""));
    }
}
