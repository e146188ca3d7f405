//! `/settings/webhooks` (admins): the endpoints with their events, state and failures, a
//! form for a new one (its secret is shown once, on the answer), and per endpoint its
//! settings, secret rotation, deletion and delivery log with "resend". A form with a mistake
//! is shown again with what is wrong, and nothing changes. Every change is audit-logged,
//! never with the secret.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::endpoints::{self, EndpointSettings};
use super::types::{EventSet, EventType, WebhookUrl};
use crate::db::InOrg;
use crate::db::entity::{webhook_delivery, webhook_endpoint};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page};

/// Deliveries the endpoint page lists.
const LOG_ROWS: u64 = 50;

/// The endpoint form as typed (kept to show it again with its mistakes).
#[derive(Clone, Debug)]
pub struct EndpointForm {
    pub url: String,
    pub events: Vec<String>,
    pub include_content: bool,
    pub active: bool,
}

impl Default for EndpointForm {
    fn default() -> Self {
        Self {
            url: String::new(),
            events: vec![
                EventType::ConversationCreated.as_str().to_owned(),
                EventType::MessageCreated.as_str().to_owned(),
            ],
            include_content: false,
            active: true,
        }
    }
}

impl EndpointForm {
    /// From the posted pairs (`events` repeats, one per ticked box).
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let ticked = |v: &str| matches!(v.trim(), "on" | "yes" | "1" | "true");
        let mut form = Self {
            url: String::new(),
            events: Vec::new(),
            include_content: false,
            active: false,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "url" => form.url = value,
                "events" => form.events.push(value),
                "include_content" => form.include_content = ticked(&value),
                "active" => form.active = ticked(&value),
                _ => {}
            }
        }
        form
    }

    fn of(endpoint: &webhook_endpoint::Model) -> Self {
        Self {
            url: endpoint.url.clone(),
            events: EventSet::from_stored(&endpoint.events)
                .into_iter()
                .map(|e| e.as_str().to_owned())
                .collect(),
            include_content: endpoint.include_content,
            active: endpoint.active,
        }
    }

    pub fn has(&self, event: &&str) -> bool {
        self.events.iter().any(|e| e == event)
    }

    /// The checked settings, or the key of the first mistake. The URL's host must be one the
    /// server may reach (the same rule as mail servers).
    async fn check(&self, state: &AppState) -> Result<EndpointSettings, &'static str> {
        let url = WebhookUrl::parse(&self.url)?;
        let events = EventSet::parse(self.events.iter().map(String::as_str))?;
        state
            .config
            .egress()
            .resolve(&url.host(), url.port())
            .await
            .map_err(|error| match error {
                crate::mail::egress::EgressError::Private { .. } => "webhooks.error.url_private",
                crate::mail::egress::EgressError::Lookup { .. }
                | crate::mail::egress::EgressError::Client(_) => "webhooks.error.url_unknown_host",
            })?;
        Ok(EndpointSettings {
            url,
            events,
            include_content: self.include_content,
            active: self.active,
        })
    }
}

/// The event names, for the form's boxes.
pub fn event_names() -> Vec<&'static str> {
    EventType::ALL.iter().map(|e| e.as_str()).collect()
}

/// One endpoint in the list.
pub struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub events: String,
    pub active: bool,
    pub include_content: bool,
    pub disabled_at: Option<String>,
    pub failing_since: Option<String>,
    pub pending: u64,
}

fn minute(at: &chrono::DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[derive(Template)]
#[template(path = "webhooks/list.html")]
struct ListPage {
    page: Page,
    endpoints: Vec<EndpointRow>,
    form: EndpointForm,
    error: Option<&'static str>,
    /// The secret of the endpoint just created: shown this once.
    new_secret: Option<(i64, String)>,
    /// The signed inbound URLs: id and when made.
    inbound: Vec<(i64, String)>,
    /// The inbound URL just created, with its secret: shown this once.
    new_inbound: Option<(String, String)>,
}

async fn render_list(
    state: &AppState,
    scope: &TenantScope,
    form: EndpointForm,
    error: Option<&'static str>,
    new_secret: Option<(i64, String)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    render_list_with(state, scope, form, error, new_secret, None, status).await
}

/// The list with the inbound URL just created (`super::inbound::create`).
pub async fn list_with_inbound(
    state: &AppState,
    scope: &TenantScope,
    new: super::inbound::NewInbound,
) -> Result<HttpResponse, AppError> {
    let url = state
        .config
        .base_url
        .join(&paths::INBOUND_WEBHOOK.at(&new.token));
    render_list_with(
        state,
        scope,
        EndpointForm::default(),
        None,
        None,
        Some((url, new.secret.expose())),
        StatusCode::OK,
    )
    .await
}

async fn render_list_with(
    state: &AppState,
    scope: &TenantScope,
    form: EndpointForm,
    error: Option<&'static str>,
    new_secret: Option<(i64, String)>,
    new_inbound: Option<(String, String)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut rows = Vec::new();
    for e in endpoints::list(&state.db, scope.org()).await? {
        let pending = webhook_delivery::Entity::find_in(scope.org())
            .filter(webhook_delivery::Column::EndpointId.eq(e.id))
            .filter(webhook_delivery::Column::Status.eq("pending"))
            .count(&state.db)
            .await?;
        rows.push(EndpointRow {
            id: e.id,
            events: EventSet::from_stored(&e.events)
                .into_iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            active: e.active,
            include_content: e.include_content,
            disabled_at: e.disabled_at.as_ref().map(minute),
            failing_since: e.failing_since.as_ref().map(minute),
            pending,
            url: e.url,
        });
    }
    let page = ListPage {
        page: Page::new(state, &scope.session, "organization").await?,
        endpoints: rows,
        form,
        error,
        new_secret,
        inbound: super::inbound::list(&state.db, scope.org())
            .await?
            .into_iter()
            .map(|i| (i.id, minute(&i.created_at)))
            .collect(),
        new_inbound,
    };
    render_with_status(&page, status)
}

/// `GET /settings/webhooks`.
pub async fn list(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render_list(
        &state,
        &scope,
        EndpointForm::default(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

fn audit_details(settings: &EndpointSettings) -> serde_json::Value {
    serde_json::json!({
        "url": settings.url.as_str(),
        "events": settings.events.stored(),
        "include_content": settings.include_content,
        "active": settings.active,
    })
}

/// `POST /settings/webhooks`: a new endpoint; its secret is shown on the answer.
pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let form = EndpointForm::from_pairs(pairs);
    let settings = match form.check(&state).await {
        Ok(settings) => settings,
        Err(error) => {
            return render_list(
                &state,
                &scope,
                form,
                Some(error),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let (row, secret) = endpoints::create(&state.db, &state.sealer, scope.org(), &settings).await?;
    scope
        .audit(
            &state,
            "webhook.created",
            format!("webhook:{}", row.id),
            audit_details(&settings),
        )
        .await?;
    render_list(
        &state,
        &scope,
        EndpointForm::default(),
        None,
        Some((row.id, secret.expose())),
        StatusCode::OK,
    )
    .await
}

/// One delivery in the log.
pub struct DeliveryRow {
    pub id: i64,
    pub event_type: String,
    pub webhook_id: String,
    pub status: &'static str,
    pub attempts: i32,
    pub created_at: String,
    pub last_attempt_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub response_status: Option<i32>,
    pub latency_ms: Option<i64>,
    pub excerpt: String,
}

#[derive(Template)]
#[template(path = "webhooks/endpoint.html")]
struct EndpointPage {
    page: Page,
    id: i64,
    form: EndpointForm,
    error: Option<&'static str>,
    disabled_at: Option<String>,
    failing_since: Option<String>,
    previous_until: Option<String>,
    new_secret: Option<String>,
    deliveries: Vec<DeliveryRow>,
}

async fn render_endpoint(
    state: &AppState,
    scope: &TenantScope,
    endpoint: &webhook_endpoint::Model,
    form: Option<EndpointForm>,
    error: Option<&'static str>,
    new_secret: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let now = Utc::now();
    let deliveries = webhook_delivery::Entity::find_in(scope.org())
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(LOG_ROWS)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|d| DeliveryRow {
            id: d.id,
            status: match (d.status.as_str(), d.attempts) {
                ("delivered", _) => "webhooks.status.delivered",
                (_, 0) => "webhooks.status.queued",
                _ => "webhooks.status.retrying",
            },
            next_attempt_at: (d.status == "pending").then(|| minute(&d.next_attempt_at)),
            event_type: d.event_type,
            webhook_id: d.webhook_id,
            attempts: d.attempts,
            created_at: minute(&d.created_at),
            last_attempt_at: d.last_attempt_at.as_ref().map(minute),
            response_status: d.response_status,
            latency_ms: d.latency_ms,
            excerpt: d.response_excerpt.unwrap_or_default(),
        })
        .collect();
    let page = EndpointPage {
        page: Page::new(state, &scope.session, "organization").await?,
        id: endpoint.id,
        form: form.unwrap_or_else(|| EndpointForm::of(endpoint)),
        error,
        disabled_at: endpoint.disabled_at.as_ref().map(minute),
        failing_since: endpoint.failing_since.as_ref().map(minute),
        previous_until: endpoint
            .previous_secret_until
            .filter(|until| *until > now)
            .as_ref()
            .map(minute),
        new_secret,
        deliveries,
    };
    render_with_status(&page, status)
}

async fn endpoint_of(
    state: &AppState,
    scope: &TenantScope,
    id: i64,
) -> Result<webhook_endpoint::Model, AppError> {
    endpoints::find(&state.db, scope.org(), id)
        .await?
        .ok_or(AppError::NotFound)
}

/// `GET /settings/webhooks/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let endpoint = endpoint_of(&state, &scope, path.into_inner()).await?;
    render_endpoint(&state, &scope, &endpoint, None, None, None, StatusCode::OK).await
}

/// `POST /settings/webhooks/{id}`: changes the endpoint.
pub async fn update(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let endpoint = endpoint_of(&state, &scope, path.into_inner()).await?;
    let form = EndpointForm::from_pairs(pairs);
    let settings = match form.check(&state).await {
        Ok(settings) => settings,
        Err(error) => {
            return render_endpoint(
                &state,
                &scope,
                &endpoint,
                Some(form),
                Some(error),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    endpoints::update(&state.db, scope.org(), endpoint.id, &settings).await?;
    scope
        .audit(
            &state,
            "webhook.updated",
            format!("webhook:{}", endpoint.id),
            audit_details(&settings),
        )
        .await?;
    Ok(see_other_with_flash(
        &paths::WEBHOOK.at(endpoint.id),
        "flash.webhook_saved",
    ))
}

/// `POST /settings/webhooks/{id}/rotate`: a new secret, shown once; the previous one keeps
/// signing beside it for a day.
pub async fn rotate(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let id = path.into_inner();
    let secret = endpoints::rotate(&state.db, &state.sealer, scope.org(), id, Utc::now())
        .await?
        .ok_or(AppError::NotFound)?;
    scope
        .audit(
            &state,
            "webhook.secret_rotated",
            format!("webhook:{id}"),
            serde_json::json!({ "overlap_hours": endpoints::ROTATION_OVERLAP.num_hours() }),
        )
        .await?;
    let endpoint = endpoint_of(&state, &scope, id).await?;
    render_endpoint(
        &state,
        &scope,
        &endpoint,
        None,
        None,
        Some(secret.expose()),
        StatusCode::OK,
    )
    .await
}

/// `POST /settings/webhooks/{id}/delete`: the endpoint and its deliveries.
pub async fn delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let endpoint = endpoint_of(&state, &scope, path.into_inner()).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    endpoints::delete(&txn, scope.org(), endpoint.id).await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "webhook.deleted",
            format!("webhook:{}", endpoint.id),
            serde_json::json!({ "url": endpoint.url }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::WEBHOOKS.path(),
        "flash.webhook_deleted",
    ))
}

/// `POST /settings/webhooks/{id}/deliveries/{delivery_id}/resend`: queues the delivery again
/// (same `webhook-id`, so a receiver can tell it is the same event), after whatever is queued.
pub async fn resend(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<(i64, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let (id, delivery_id) = path.into_inner();
    let endpoint = endpoint_of(&state, &scope, id).await?;
    let delivery = webhook_delivery::Entity::find_by_id_in(scope.org(), delivery_id)
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let queued = super::deliver::requeue(&state.db, &delivery).await?;
    scope
        .audit(
            &state,
            "webhook.resent",
            format!("webhook:{}", endpoint.id),
            serde_json::json!({ "delivery_id": delivery.id, "queued_as": queued }),
        )
        .await?;
    Ok(see_other_with_flash(
        &paths::WEBHOOK.at(endpoint.id),
        "flash.webhook_resent",
    ))
}
