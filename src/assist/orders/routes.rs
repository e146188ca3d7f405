//! `/settings/integrations` (admins): the organization's linked shops, a form to add one
//! (kind, shop address, credentials), per shop a page to change its address or replace its
//! credentials (never shown again), its removal, and a **Test** button that asks the shop
//! for its name and answers like the mail channels' tests: ok with the shop's name, or bad
//! credentials, not found, timeout, rate-limited. A form with a mistake comes back saying
//! what is wrong, and nothing changes. Every change is audit-logged, never with a secret.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::fetch::Budget;
use super::shop::{ConnectorKind, Credentials, ShopUrl};
use super::store::{self, ConnectorSettings};
use super::{FetchError, connection, panel};
use crate::db::entity::order_connector;
use crate::mail::egress::EgressError;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page};

/// The connector form as typed. The secrets are never sent back to the browser.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConnectorForm {
    pub kind: String,
    pub shop_url: String,
    token: String,
    consumer_key: String,
    consumer_secret: String,
}

impl ConnectorForm {
    /// The form without its secrets, to show again.
    fn shown(&self) -> Self {
        Self {
            kind: self.kind.clone(),
            shop_url: self.shop_url.clone(),
            ..Default::default()
        }
    }

    fn of(row: &order_connector::Model) -> Self {
        Self {
            kind: row.kind.clone(),
            shop_url: row.shop_url.clone(),
            ..Default::default()
        }
    }

    pub fn is_kind(&self, kind: &&ConnectorKind) -> bool {
        self.kind == kind.as_str()
    }

    fn has_credentials(&self) -> bool {
        [&self.token, &self.consumer_key, &self.consumer_secret]
            .iter()
            .any(|s| !s.trim().is_empty())
    }

    fn credentials(&self, kind: ConnectorKind) -> Result<Credentials, &'static str> {
        match kind {
            ConnectorKind::Shopify => Credentials::shopify(&self.token),
            ConnectorKind::WooCommerce => {
                Credentials::woocommerce(&self.consumer_key, &self.consumer_secret)
            }
        }
    }

    /// The checked settings, or the key of the first mistake. `kind` is the saved one when
    /// editing (credentials may then be left empty to keep them). The shop's host must be
    /// one the server may reach (the rule of webhooks and mail servers).
    async fn check(
        &self,
        state: &AppState,
        kind: Option<ConnectorKind>,
    ) -> Result<ConnectorSettings, &'static str> {
        let editing = kind.is_some();
        let kind = match kind {
            Some(kind) => kind,
            None => ConnectorKind::parse(&self.kind).ok_or("integrations.error.kind")?,
        };
        let shop_url = ShopUrl::parse(&self.shop_url, state.config.allow_private_hosts)?;
        let credentials = if editing && !self.has_credentials() {
            None
        } else {
            Some(self.credentials(kind)?)
        };
        state
            .config
            .egress()
            .resolve(&shop_url.host(), shop_url.port())
            .await
            .map_err(|error| match error {
                EgressError::Private { .. } => "integrations.error.url_private",
                EgressError::Lookup { .. } | EgressError::Client(_) => {
                    "integrations.error.url_unknown_host"
                }
            })?;
        Ok(ConnectorSettings {
            kind,
            shop_url,
            credentials,
        })
    }
}

/// One linked shop in the list.
pub struct ConnectorRow {
    pub id: i64,
    pub kind: &'static str,
    pub shop_url: String,
}

/// What the Test button found.
pub struct TestOutcome {
    pub id: i64,
    pub ok: bool,
    pub message: String,
}

#[derive(Template)]
#[template(path = "settings/integrations.html")]
struct ListPage {
    page: Page,
    connectors: Vec<ConnectorRow>,
    kinds: [ConnectorKind; 2],
    form: ConnectorForm,
    error: Option<&'static str>,
    test: Option<TestOutcome>,
}

#[derive(Template)]
#[template(path = "settings/integration.html")]
struct EditPage {
    page: Page,
    id: i64,
    kind: &'static str,
    form: ConnectorForm,
    error: Option<&'static str>,
}

fn kind_label(kind: &str) -> &'static str {
    ConnectorKind::parse(kind).map_or("?", ConnectorKind::label)
}

async fn render_list(
    state: &AppState,
    scope: &TenantScope,
    form: ConnectorForm,
    error: Option<&'static str>,
    test: Option<TestOutcome>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let connectors = store::list(&state.db, scope.org())
        .await?
        .into_iter()
        .map(|c| ConnectorRow {
            id: c.id,
            kind: kind_label(&c.kind),
            shop_url: c.shop_url,
        })
        .collect();
    let page = ListPage {
        page: Page::new(state, &scope.session, "organization").await?,
        connectors,
        kinds: ConnectorKind::ALL,
        form,
        error,
        test,
    };
    render_with_status(&page, status)
}

async fn connector_of(
    state: &AppState,
    scope: &TenantScope,
    id: i64,
) -> Result<order_connector::Model, AppError> {
    store::find(&state.db, scope.org(), id)
        .await?
        .ok_or(AppError::NotFound)
}

fn audit_details(settings: &ConnectorSettings) -> serde_json::Value {
    serde_json::json!({
        "kind": settings.kind.as_str(),
        "shop_url": settings.shop_url.as_str(),
        "credentials_changed": settings.credentials.is_some(),
    })
}

/// `GET /settings/integrations`.
pub async fn list(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let form = ConnectorForm {
        kind: ConnectorKind::Shopify.as_str().to_owned(),
        ..Default::default()
    };
    render_list(&state, &scope, form, None, None, StatusCode::OK).await
}

/// `POST /settings/integrations`: links a shop.
pub async fn create(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<ConnectorForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let settings = match form.check(&state, None).await {
        Ok(settings) => settings,
        Err(error) => {
            return render_list(
                &state,
                &scope,
                form.shown(),
                Some(error),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let Some(credentials) = &settings.credentials else {
        return Err(AppError::BadRequest(
            "integrations.error.credentials_required",
        ));
    };
    let row = store::create(
        &state.db,
        &state.sealer,
        scope.org(),
        &settings,
        credentials,
    )
    .await?;
    scope
        .audit(
            &state,
            "integration.created",
            format!("order_connector:{}", row.id),
            audit_details(&settings),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::INTEGRATIONS.path(),
        "flash.integration_saved",
    ))
}

/// `GET /settings/integrations/{id}`.
pub async fn edit(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let row = connector_of(&state, &scope, path.into_inner()).await?;
    let page = EditPage {
        page: Page::new(&state, &scope.session, "organization").await?,
        id: row.id,
        kind: kind_label(&row.kind),
        form: ConnectorForm::of(&row),
        error: None,
    };
    render_with_status(&page, StatusCode::OK)
}

/// `POST /settings/integrations/{id}`: a new address, and new credentials when typed.
pub async fn update(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<ConnectorForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let row = connector_of(&state, &scope, path.into_inner()).await?;
    let kind = ConnectorKind::parse(&row.kind).ok_or(AppError::NotFound)?;
    let settings = match form.check(&state, Some(kind)).await {
        Ok(settings) => settings,
        Err(error) => {
            let page = EditPage {
                page: Page::new(&state, &scope.session, "organization").await?,
                id: row.id,
                kind: kind.label(),
                form: ConnectorForm {
                    kind: row.kind.clone(),
                    ..form.shown()
                },
                error: Some(error),
            };
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    store::update(&state.db, &state.sealer, scope.org(), row.id, &settings).await?;
    state.orders.forget_org(scope.org());
    scope
        .audit(
            &state,
            "integration.updated",
            format!("order_connector:{}", row.id),
            audit_details(&settings),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::INTEGRATIONS.path(),
        "flash.integration_saved",
    ))
}

/// `POST /settings/integrations/{id}/delete`.
pub async fn delete(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let row = connector_of(&state, &scope, path.into_inner()).await?;
    store::delete(&state.db, scope.org(), row.id).await?;
    state.orders.forget_org(scope.org());
    scope
        .audit(
            &state,
            "integration.deleted",
            format!("order_connector:{}", row.id),
            serde_json::json!({ "kind": row.kind, "shop_url": row.shop_url }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::INTEGRATIONS.path(),
        "flash.integration_deleted",
    ))
}

/// `POST /settings/integrations/{id}/test`: the list with what the shop answered.
pub async fn test(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    state.rate_limits.test_button(scope.org())?;
    let row = connector_of(&state, &scope, path.into_inner()).await?;
    let tr = crate::web::i18n::Tr::new(scope.session.lang);
    let outcome = match connection::shop_name(&state, &row, &Budget::of(panel::BUDGET)).await {
        Ok(name) => TestOutcome {
            id: row.id,
            ok: true,
            message: tr.tf("integrations.test_ok", &[("shop", &name)]),
        },
        Err(error) => TestOutcome {
            id: row.id,
            ok: false,
            message: match &error {
                FetchError::Unreachable(reason) | FetchError::Protocol(reason) => {
                    format!("{} ({reason})", tr.t(error.label_key()))
                }
                _ => tr.t(error.label_key()).to_owned(),
            },
        },
    };
    let form = ConnectorForm {
        kind: ConnectorKind::Shopify.as_str().to_owned(),
        ..Default::default()
    };
    render_list(&state, &scope, form, None, Some(outcome), StatusCode::OK).await
}
