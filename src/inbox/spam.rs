//! Spam: marking a conversation as spam (it leaves the inbox; the retention category `spam`
//! deletes it after its days), and blocking a sender's address or whole domain so that their
//! mail goes straight to spam.
//!
//! - `POST /conversations/{id}/spam` — mark as spam, optionally blocking the sender's address
//!   or domain, or a chat's visitor id (`block=visitor`, src/chat/blocks.rs) ("not spam" is
//!   the status form: open);
//! - `GET/POST /settings/blocked-senders`, `POST /settings/blocked-senders/{id}/delete` — the
//!   organization's block list (admins).
//!
//! A blocked address is personal data, kept for abuse prevention: admins see and remove it
//! here, the customer export lists it, and erasing the person removes it (a blocked domain
//! stays: it names no person). Retention deleting a spammer's conversations and record does
//! not: a block outlives the spam it was made for.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde::Deserialize;

use super::queries;
use super::triage::{self, Status};
use crate::db::InOrg;
use crate::db::entity::{blocked_sender, customer_email, message};
use crate::mail::EmailAddress;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, render};

/// What a block entry matches: one address, or a domain with its subdomains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockPattern {
    Address(EmailAddress),
    /// Lower case, without the `@`.
    Domain(String),
}

impl BlockPattern {
    /// `name@shop.example` (an address), `@shop.example` or `shop.example` (a domain).
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let value = value.trim().to_lowercase();
        if let Some(domain) = value.strip_prefix('@') {
            return Self::domain(domain);
        }
        if value.contains('@') {
            return EmailAddress::parse(&value)
                .map(BlockPattern::Address)
                .map_err(|_| "spam.block.invalid");
        }
        Self::domain(&value)
    }

    fn domain(value: &str) -> Result<Self, &'static str> {
        let valid = value.len() <= 253
            && value.contains('.')
            && value.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
            });
        if valid {
            Ok(BlockPattern::Domain(value.to_owned()))
        } else {
            Err("spam.block.invalid")
        }
    }

    /// As stored: the address, or `@domain`.
    pub fn stored(&self) -> String {
        match self {
            BlockPattern::Address(address) => address.as_str().to_owned(),
            BlockPattern::Domain(domain) => format!("@{domain}"),
        }
    }
}

/// The stored patterns that would match mail from `address`: the address itself and `@` each
/// of its domains (`@mail.shop.example`, `@shop.example`).
fn patterns_matching(address: &str) -> Vec<String> {
    let address = address.trim().to_lowercase();
    let mut patterns = vec![address.clone()];
    if let Some((_, domain)) = address.rsplit_once('@') {
        let mut rest = domain;
        loop {
            // A bare top-level domain is never blocked.
            if !rest.contains('.') {
                break;
            }
            patterns.push(format!("@{rest}"));
            match rest.split_once('.') {
                Some((_, parent)) => rest = parent,
                None => break,
            }
        }
    }
    patterns
}

/// Is mail from `address` blocked in `org`? One indexed lookup.
pub async fn is_blocked(
    db: &impl ConnectionTrait,
    org: OrgId,
    address: &str,
) -> Result<bool, DbErr> {
    if address.trim().is_empty() {
        return Ok(false);
    }
    Ok(blocked_sender::Entity::find_in(org)
        .select_only()
        .column(blocked_sender::Column::Id)
        .filter(blocked_sender::Column::Pattern.is_in(patterns_matching(address)))
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some())
}

/// Adds a pattern (nothing when it is already there).
pub async fn block(
    db: &impl ConnectionTrait,
    org: OrgId,
    pattern: &BlockPattern,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let stored = pattern.stored();
    let exists = blocked_sender::Entity::find_in(org)
        .filter(blocked_sender::Column::Pattern.eq(stored.as_str()))
        .one(db)
        .await?
        .is_some();
    if !exists {
        blocked_sender::ActiveModel {
            organization_id: Set(org),
            pattern: Set(stored),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The block entries naming one of these customers' addresses (export).
pub async fn blocked_addresses_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Vec<String>, DbErr> {
    blocked_sender::Entity::find_in(org)
        .select_only()
        .column(blocked_sender::Column::Pattern)
        .filter(blocked_sender::Column::Pattern.in_subquery(addresses_sql(org, &[customer_id])))
        .order_by_asc(blocked_sender::Column::Pattern)
        .into_tuple()
        .all(db)
        .await
}

/// Removes the block entries naming these customers' addresses (erasure): called before the
/// addresses themselves go.
pub async fn forget_customers(
    db: &impl ConnectionTrait,
    org: OrgId,
    customers: &[i64],
) -> Result<u64, DbErr> {
    Ok(blocked_sender::Entity::delete_in(org)
        .filter(blocked_sender::Column::Pattern.in_subquery(addresses_sql(org, customers)))
        .exec(db)
        .await?
        .rows_affected)
}

fn addresses_sql(org: OrgId, customers: &[i64]) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(customer_email::Column::Email)
        .from(customer_email::Entity)
        .and_where(customer_email::Column::OrganizationId.eq(org))
        .and_where(customer_email::Column::CustomerId.is_in(customers.iter().copied()))
        .to_owned()
}

/// The address the conversation's customer last wrote from.
async fn sender_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
) -> Result<Option<String>, DbErr> {
    message::Entity::find_in(org)
        .select_only()
        .column(message::Column::FromAddress)
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Direction.eq("inbound"))
        .order_by_desc(message::Column::Id)
        .into_tuple::<String>()
        .one(db)
        .await
}

#[derive(Deserialize)]
pub struct SpamForm {
    /// Empty, `address` or `domain`.
    #[serde(default)]
    block: String,
}

/// Marks the conversation as spam; with `block`, its sender's address or domain too.
pub async fn mark_spam(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<SpamForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let org = scope.org();
    queries::changeable_conversation(&state.db, org, id).await?;
    let now = Utc::now();
    let txn = crate::db::begin_write(&state.db).await?;
    // A chat's visitor id (src/chat/blocks.rs): their widget's messages are refused.
    let block_visitor = form.block.trim() == "visitor";
    let pattern = match form.block.trim() {
        "" | "visitor" => None,
        kind @ ("address" | "domain") => {
            let sender = sender_of(&txn, org, id)
                .await?
                .and_then(|a| EmailAddress::parse(&a).ok())
                .ok_or(AppError::BadRequest("spam.block.no_sender"))?;
            Some(if kind == "address" {
                BlockPattern::Address(sender)
            } else {
                BlockPattern::Domain(sender.domain().to_owned())
            })
        }
        _ => return Err(AppError::BadRequest("spam.block.invalid")),
    };
    if !triage::set_status(&txn, org, id, Status::Spam, now).await? {
        return Err(AppError::NotFound);
    }
    if let Some(pattern) = &pattern {
        block(&txn, org, pattern, now).await?;
    }
    if block_visitor && !crate::chat::blocks::block_visitor_of(&txn, org, id, now).await? {
        return Err(AppError::BadRequest("spam.block.invalid"));
    }
    crate::webhooks::emit(
        &txn,
        org,
        crate::webhooks::Event::ConversationStatusChanged {
            conversation_id: id,
        },
    )
    .await?;
    txn.commit().await?;
    if pattern.is_some() || block_visitor {
        // The audit entry names the kind, never the address.
        scope
            .audit(
                &state,
                "spam.sender_blocked",
                format!("conversation:{id}"),
                serde_json::json!({ "block": form.block.trim() }),
            )
            .await?;
    }
    queries::publish(&state, org, id);
    Ok(see_other_with_flash(
        paths::INBOX.path(),
        "flash.marked_spam",
    ))
}

#[derive(Template)]
#[template(path = "inbox/blocked_senders.html")]
struct BlockedSendersPage {
    page: Page,
    rows: Vec<blocked_sender::Model>,
    typed: String,
    errors: Vec<&'static str>,
}

async fn blocked_page(
    state: &AppState,
    scope: &TenantScope,
    typed: String,
    errors: Vec<&'static str>,
) -> Result<BlockedSendersPage, AppError> {
    let rows = blocked_sender::Entity::find_in(scope.org())
        .order_by_asc(blocked_sender::Column::Pattern)
        .all(&state.db)
        .await?;
    Ok(BlockedSendersPage {
        page: Page::new(state, &scope.session, "organization").await?,
        rows,
        typed,
        errors,
    })
}

pub async fn blocked_senders(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render(&blocked_page(&state, &scope, String::new(), vec![]).await?)
}

#[derive(Deserialize)]
pub struct BlockForm {
    #[serde(default)]
    pattern: String,
}

pub async fn add_blocked_sender(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<BlockForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let pattern = match BlockPattern::parse(&form.pattern) {
        Ok(pattern) => pattern,
        Err(key) => {
            let page = blocked_page(&state, &scope, form.pattern, vec![key]).await?;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    block(&state.db, scope.org(), &pattern, Utc::now()).await?;
    let kind = match pattern {
        BlockPattern::Address(_) => "address",
        BlockPattern::Domain(_) => "domain",
    };
    scope
        .audit(
            &state,
            "spam.sender_blocked",
            "blocked_senders".to_owned(),
            serde_json::json!({ "block": kind }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::BLOCKED_SENDERS.path(),
        "flash.sender_blocked",
    ))
}

pub async fn remove_blocked_sender(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let id = path.into_inner();
    let removed = blocked_sender::Entity::delete_in(scope.org())
        .filter(blocked_sender::Column::Id.eq(id))
        .exec(&state.db)
        .await?
        .rows_affected;
    if removed == 0 {
        return Err(AppError::NotFound);
    }
    scope
        .audit(
            &state,
            "spam.sender_unblocked",
            format!("blocked_sender:{id}"),
            serde_json::json!({}),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::BLOCKED_SENDERS.path(),
        "flash.sender_unblocked",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_addresses_and_domains() {
        assert_eq!(
            BlockPattern::parse(" Spam@Example.COM ").map(|p| p.stored()),
            Ok("spam@example.com".to_owned())
        );
        assert_eq!(
            BlockPattern::parse("@example.com").map(|p| p.stored()),
            Ok("@example.com".to_owned())
        );
        assert_eq!(
            BlockPattern::parse("example.com").map(|p| p.stored()),
            Ok("@example.com".to_owned())
        );
        for bad in ["", "com", "@", "a b.com", "x@", "-bad.com", "@.com"] {
            assert!(BlockPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_address_matches_itself_and_each_of_its_domains() {
        assert_eq!(
            patterns_matching("Ann@Mail.Shop.Example"),
            vec![
                "ann@mail.shop.example",
                "@mail.shop.example",
                "@shop.example"
            ]
        );
    }
}
