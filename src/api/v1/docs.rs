//! `/api/docs`: the OpenAPI document ([`super::openapi`]) as a page, rendered by Lethe itself —
//! every operation with its parameters, body and answers, then every schema with its fields.
//! Public like the document (it holds no data), plain HTML with the app's stylesheet: no
//! script, nothing from another host, so the strict Content-Security-Policy holds.

use std::collections::BTreeSet;

use actix_web::HttpResponse;
use askama::Template;
use serde_json::Value;

use super::openapi::document;
use crate::web::{AppError, render};

/// One parameter of an operation.
pub struct ParamView {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub kind: String,
    pub description: String,
}

/// One answer of an operation.
pub struct ResponseView {
    pub status: String,
    pub description: String,
    pub kind: String,
}

/// One operation.
pub struct OperationView {
    pub anchor: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub scopes: String,
    pub params: Vec<ParamView>,
    pub body: Option<String>,
    pub responses: Vec<ResponseView>,
}

/// One field of a schema.
pub struct FieldView {
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub description: String,
}

/// One schema.
pub struct SchemaView {
    pub name: String,
    pub description: String,
    pub kind: String,
    pub fields: Vec<FieldView>,
}

/// The operations of one tag.
pub struct GroupView {
    pub name: String,
    pub description: String,
    pub operations: Vec<OperationView>,
}

#[derive(Template)]
#[template(path = "api/docs.html")]
struct DocsPage {
    title: String,
    version: String,
    description: String,
    groups: Vec<GroupView>,
    schemas: Vec<SchemaView>,
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A schema in a few words: `ConversationJson`, `array of TagJson`, `integer | null`.
fn kind_of(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    for combined in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema.get(combined).and_then(Value::as_array) {
            return parts.iter().map(kind_of).collect::<Vec<_>>().join(" | ");
        }
    }
    let base = match schema.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_owned(),
    };
    let mut out = if base.starts_with("array") {
        let items = schema.get("items").map(kind_of).unwrap_or_default();
        base.replacen("array", &format!("array of {items}"), 1)
    } else {
        base
    };
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        out = format!("{out}: {}", values.join(", "));
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        out = format!("{out} ({format})");
    }
    out
}

fn operation(method: &str, path: &str, op: &Value) -> OperationView {
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| ParamView {
            name: text(p, "name"),
            location: text(p, "in"),
            required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
            kind: p.get("schema").map(kind_of).unwrap_or_default(),
            description: text(p, "description"),
        })
        .collect();
    let body = op
        .pointer("/requestBody/content")
        .and_then(Value::as_object)
        .and_then(|c| c.values().next())
        .and_then(|c| c.get("schema"))
        .map(kind_of);
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(status, r)| ResponseView {
            status: status.clone(),
            description: text(r, "description"),
            kind: r
                .get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.iter().next())
                .map(|(media, c)| match c.get("schema") {
                    Some(schema) => format!("{} ({media})", kind_of(schema)),
                    None => media.clone(),
                })
                .unwrap_or_default(),
        })
        .collect();
    let scopes: BTreeSet<String> = op
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|s| s.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    OperationView {
        anchor: format!("{method}-{path}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect(),
        method: method.to_uppercase(),
        path: path.to_owned(),
        summary: text(op, "summary"),
        description: text(op, "description"),
        scopes: scopes.into_iter().collect::<Vec<_>>().join(", "),
        params,
        body,
        responses,
    }
}

fn schema(name: &str, value: &Value) -> SchemaView {
    let required: BTreeSet<&str> = value
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let fields = value
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(field, s)| FieldView {
            required: required.contains(field.as_str()),
            name: field.clone(),
            kind: kind_of(s),
            description: text(s, "description"),
        })
        .collect();
    SchemaView {
        name: name.to_owned(),
        description: text(value, "description"),
        kind: kind_of(value),
        fields,
    }
}

fn page() -> Result<DocsPage, AppError> {
    let doc = serde_json::to_value(document()).map_err(AppError::internal)?;
    let mut groups: Vec<GroupView> = doc
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| GroupView {
            name: text(t, "name"),
            description: text(t, "description"),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let tag = op
                .pointer("/tags/0")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let view = operation(method, path, op);
            match groups.iter_mut().find(|g| g.name == tag) {
                Some(group) => group.operations.push(view),
                None => groups.push(GroupView {
                    name: tag.to_owned(),
                    description: String::new(),
                    operations: vec![view],
                }),
            }
        }
    }
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, value)| schema(name, value))
        .collect();
    Ok(DocsPage {
        title: doc
            .pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("API")
            .to_owned(),
        version: doc
            .pointer("/info/version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        description: doc
            .pointer("/info/description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        groups,
        schemas,
    })
}

/// `GET /api/docs` — public, no key.
pub async fn show() -> Result<HttpResponse, AppError> {
    render(&page()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_and_schema_of_the_document_is_on_the_page() {
        let page = page().unwrap();
        let operations: usize = page.groups.iter().map(|g| g.operations.len()).sum();
        assert_eq!(
            operations,
            document()
                .paths
                .paths
                .values()
                .map(|item| {
                    [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                        .into_iter()
                        .filter(|o| o.is_some())
                        .count()
                })
                .sum::<usize>()
        );
        assert!(page.schemas.iter().any(|s| s.name == "Problem"));
        let html = page.render().unwrap();
        assert!(html.contains("/api/v1/conversations/{id}/messages"));
        assert!(!html.contains("<script"));
    }
}
