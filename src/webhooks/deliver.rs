//! The delivery worker: sends queued deliveries, signed, to their endpoints; retries a
//! failure with exponential backoff; keeps deliveries of one conversation to one endpoint in
//! order (a later one waits while an earlier one is pending); and disables an endpoint that
//! has failed for [`DISABLE_AFTER`], telling the organization's admins.
//!
//! A row is claimed (its next attempt moved [`LEASE`] ahead, if nobody moved it first) before
//! it is sent, so several nodes on one database send each delivery once, and a node that dies
//! mid-send leaves the row to be taken over when the lease runs out. A row leaves `pending`
//! only after the endpoint answered 2xx: a `kill -9` loses nothing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::WebhookError;
use super::endpoints::{self, SigningSecrets};
use super::types::WebhookUrl;
use crate::db::InOrg;
use crate::db::entity::{webhook_delivery, webhook_endpoint};
use crate::privacy::objection::content_withheld;
use crate::state::AppState;

/// An endpoint failing this long without a success is disabled.
pub const DISABLE_AFTER: chrono::Duration = chrono::Duration::days(3);
/// How long a claimed row is left to the node that claimed it.
const LEASE: chrono::Duration = chrono::Duration::seconds(25);
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(15);
/// How many characters of an answer the delivery log keeps.
const EXCERPT_CHARS: usize = 200;
/// Rows looked at per pass.
const BATCH: u64 = 200;

/// 30 s, 1 min, 2 min, … capped at one hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    chrono::Duration::seconds((30i64 * 2i64.pow(exponent)).min(3600))
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub delivered: usize,
    pub failed: usize,
    /// Rows waiting behind an earlier delivery of their conversation, or not yet due.
    pub waiting: usize,
    pub disabled_endpoints: usize,
}

/// The result of one attempt.
struct Attempt {
    status: Option<u16>,
    latency_ms: i64,
    excerpt: String,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends every pending delivery due at `now` (to active endpoints).
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> Result<Outcome, WebhookError> {
    let active = Query::select()
        .column(webhook_endpoint::Column::Id)
        .from(webhook_endpoint::Entity)
        .and_where(webhook_endpoint::Column::Active.eq(true))
        .to_owned();
    let rows = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq("pending"))
        .filter(webhook_delivery::Column::EndpointId.in_subquery(active))
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    let mut outcome = Outcome::default();
    // (endpoint, conversation) pairs with an earlier delivery still pending.
    let mut blocked: BTreeSet<(i64, i64)> = BTreeSet::new();
    // Endpoints disabled during this pass.
    let mut disabled: BTreeSet<i64> = BTreeSet::new();
    for row in rows {
        let key = row.conversation_id.map(|c| (row.endpoint_id, c));
        if disabled.contains(&row.endpoint_id) || key.is_some_and(|k| blocked.contains(&k)) {
            outcome.waiting += 1;
            continue;
        }
        if row.next_attempt_at > now {
            if let Some(key) = key {
                blocked.insert(key);
            }
            outcome.waiting += 1;
            continue;
        }
        // Claim: move the next attempt past the lease, unless another node did first.
        let claimed = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::val(now + LEASE),
            )
            .filter(webhook_delivery::Column::Id.eq(row.id))
            .filter(webhook_delivery::Column::Status.eq("pending"))
            .filter(webhook_delivery::Column::NextAttemptAt.eq(row.next_attempt_at))
            .exec(&state.db)
            .await?;
        if claimed.rows_affected == 0 {
            if let Some(key) = key {
                blocked.insert(key);
            }
            continue;
        }
        let Some(endpoint) =
            webhook_endpoint::Entity::find_by_id_in(row.organization_id, row.endpoint_id)
                .one(&state.db)
                .await?
        else {
            continue;
        };
        let attempt = attempt(state, &endpoint, &row).await;
        let attempts = row.attempts + 1;
        let finished = Utc::now();
        if attempt.succeeded() {
            webhook_delivery::Entity::update_many()
                .col_expr(webhook_delivery::Column::Status, Expr::val("delivered"))
                .col_expr(webhook_delivery::Column::Attempts, Expr::val(attempts))
                .col_expr(
                    webhook_delivery::Column::LastAttemptAt,
                    Expr::val(Some(finished)),
                )
                .col_expr(
                    webhook_delivery::Column::DeliveredAt,
                    Expr::val(Some(finished)),
                )
                .col_expr(
                    webhook_delivery::Column::ResponseStatus,
                    Expr::val(attempt.status.map(i32::from)),
                )
                .col_expr(
                    webhook_delivery::Column::LatencyMs,
                    Expr::val(Some(attempt.latency_ms)),
                )
                .col_expr(
                    webhook_delivery::Column::ResponseExcerpt,
                    Expr::val(Some(attempt.excerpt)),
                )
                .filter(webhook_delivery::Column::Id.eq(row.id))
                .exec(&state.db)
                .await?;
            if endpoint.failing_since.is_some() {
                webhook_endpoint::Entity::update_in(endpoint.organization_id)
                    .col_expr(
                        webhook_endpoint::Column::FailingSince,
                        Expr::val(Option::<DateTime<Utc>>::None),
                    )
                    .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
                    .exec(&state.db)
                    .await?;
            }
            outcome.delivered += 1;
        } else {
            // Only ids to the log: an answer may hold anything.
            tracing::warn!(
                delivery_id = row.id,
                endpoint_id = endpoint.id,
                attempts,
                status = attempt.status,
                "webhook not delivered"
            );
            webhook_delivery::Entity::update_many()
                .col_expr(webhook_delivery::Column::Attempts, Expr::val(attempts))
                .col_expr(
                    webhook_delivery::Column::NextAttemptAt,
                    Expr::val(now + backoff(attempts)),
                )
                .col_expr(
                    webhook_delivery::Column::LastAttemptAt,
                    Expr::val(Some(finished)),
                )
                .col_expr(
                    webhook_delivery::Column::ResponseStatus,
                    Expr::val(attempt.status.map(i32::from)),
                )
                .col_expr(
                    webhook_delivery::Column::LatencyMs,
                    Expr::val(Some(attempt.latency_ms)),
                )
                .col_expr(
                    webhook_delivery::Column::ResponseExcerpt,
                    Expr::val(Some(attempt.excerpt)),
                )
                .filter(webhook_delivery::Column::Id.eq(row.id))
                .exec(&state.db)
                .await?;
            if let Some(key) = key {
                blocked.insert(key);
            }
            outcome.failed += 1;
            let since = endpoint.failing_since.unwrap_or(now);
            if endpoint.failing_since.is_none() {
                webhook_endpoint::Entity::update_in(endpoint.organization_id)
                    .col_expr(webhook_endpoint::Column::FailingSince, Expr::val(Some(now)))
                    .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
                    .exec(&state.db)
                    .await?;
            } else if now - since >= DISABLE_AFTER
                && endpoints::disable_failing(state, &endpoint, now).await?
            {
                disabled.insert(endpoint.id);
                outcome.disabled_endpoints += 1;
                notify_admins(state, &endpoint).await;
            }
        }
    }
    Ok(outcome)
}

/// One signed POST; any failure to get an answer is an attempt without a status.
async fn attempt(
    state: &AppState,
    endpoint: &webhook_endpoint::Model,
    row: &webhook_delivery::Model,
) -> Attempt {
    let started = Instant::now();
    let failed = |excerpt: String| Attempt {
        status: None,
        latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        excerpt,
    };
    let body = match body_to_send(state, row).await {
        Ok(body) => body,
        Err(error) => return failed(error.to_string()),
    };
    let secrets = match SigningSecrets::of(&state.sealer, endpoint, Utc::now()) {
        Ok(secrets) => secrets,
        Err(error) => return failed(error.to_string()),
    };
    let url = match WebhookUrl::parse(&endpoint.url) {
        Ok(url) => url,
        Err(_) => return failed("the endpoint's URL is not valid".into()),
    };
    let client = match super::http_client(state.config.egress(), &url).await {
        Ok(client) => client,
        Err(error) => return failed(error.to_string()),
    };
    let timestamp = Utc::now().timestamp();
    let signature = secrets.signature_header(&row.webhook_id, timestamp, body.as_bytes());
    let sent = client
        .post(url.as_str())
        .timeout(TIMEOUT)
        .header("content-type", "application/json")
        .header("user-agent", concat!("Lethe/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", &row.webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            let mut attempt = failed(excerpt(&text));
            attempt.status = Some(status);
            attempt
        }
        Err(error) => failed(if error.is_timeout() {
            "timed out".into()
        } else if error.is_connect() {
            "no connection".into()
        } else {
            "request failed".into()
        }),
    }
}

/// The payload as it goes out: without content when the customer's processing is restricted,
/// or an objection stopped non-essential processing, now (either may have come after the
/// event was queued).
async fn body_to_send(
    state: &AppState,
    row: &webhook_delivery::Model,
) -> Result<String, WebhookError> {
    let restricted = match row.customer_id {
        Some(id) => content_withheld(&state.db, row.organization_id, id).await?,
        None => false,
    };
    if !restricted {
        return Ok(row.payload.clone());
    }
    let mut payload: serde_json::Value =
        serde_json::from_str(&row.payload).map_err(|e| WebhookError::Internal(e.to_string()))?;
    if let Some(data) = payload.get_mut("data").and_then(|d| d.as_object_mut()) {
        data.remove("content");
    }
    Ok(payload.to_string())
}

/// The start of an answer, one line, with anything that looks like personal data replaced.
fn excerpt(text: &str) -> String {
    let short: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::privacy::pii::shared().redact(short.trim(), &[])
}

/// Tells the organization's admins that an endpoint was disabled, by mail when the system
/// mailer is set up (the settings page shows it in any case).
async fn notify_admins(state: &AppState, endpoint: &webhook_endpoint::Model) {
    let link = state
        .config
        .base_url
        .join(crate::web::paths::WEBHOOKS.path());
    crate::orgs::admin_notice::mail_admins(
        state,
        endpoint.organization_id,
        "webhooks.mail.disabled_subject",
        "webhooks.mail.disabled_body",
        &[("url", endpoint.url.as_str()), ("link", link.as_str())],
        "webhook endpoint disabled",
    )
    .await;
}

/// How long the delivery log keeps a delivered row.
pub const LOG_DAYS: i64 = 30;

/// Removes delivered rows older than [`LOG_DAYS`] (pending ones stay until sent).
pub async fn prune(
    db: &impl sea_orm::ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    Ok(webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::Status.eq("delivered"))
        .filter(webhook_delivery::Column::DeliveredAt.lt(now - chrono::Duration::days(LOG_DAYS)))
        .exec(db)
        .await?
        .rows_affected)
}

/// The worker task: a pass every second (a pass with nothing due reads one index), and the
/// log pruned once an hour.
pub fn spawn_worker(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut passes: u32 = 0;
        loop {
            if let Err(error) = run_once(&state, Utc::now()).await {
                tracing::error!(%error, "webhook pass failed");
            }
            if passes.is_multiple_of(3600)
                && let Err(error) = prune(&state.db, Utc::now()).await
            {
                tracing::error!(%error, "webhook log pruning failed");
            }
            passes = passes.wrapping_add(1);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

/// Queues a delivery again as a new row (the log keeps the old one): same `webhook-id` and
/// payload, sent after what is already queued. Returns the new row's id.
pub async fn requeue(
    db: &impl sea_orm::ConnectionTrait,
    delivery: &webhook_delivery::Model,
) -> Result<i64, sea_orm::DbErr> {
    use sea_orm::{ActiveModelTrait, Set};
    let now = Utc::now();
    let row = webhook_delivery::ActiveModel {
        organization_id: Set(delivery.organization_id),
        endpoint_id: Set(delivery.endpoint_id),
        webhook_id: Set(delivery.webhook_id.clone()),
        event_type: Set(delivery.event_type.clone()),
        conversation_id: Set(delivery.conversation_id),
        customer_id: Set(delivery.customer_id),
        payload: Set(delivery.payload.clone()),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_attempt_at: Set(None),
        response_status: Set(None),
        latency_ms: Set(None),
        response_excerpt: Set(None),
        created_at: Set(now),
        delivered_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}
