//! API keys: admins create them under `/settings/api-keys` (the key is shown once, in the
//! response to the form, never again) with their scopes ([`super::scopes`]) and an optional
//! last day, and revoke them there; the list shows each key's scopes, expiry and last use.
//! Creation and revocation are audit-logged.
//!
//! The database keeps only the key's SHA-256 digest, as it does for session tokens. DESIGN.md
//! invariant 5 lists API keys among the secrets sealed with the instance key; for a bearer
//! secret a digest is the stronger choice: the server only ever has to recognise a key, never
//! to show or send it again, so nothing — not even a copy of the database together with the
//! instance key — can give the key back. A key is 256 random bits, so an unsalted, fast digest
//! cannot be searched.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Deserialize;

use super::scopes::{Scope, Scopes};
use crate::crypto::{random_token, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::{api_key, user};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::{NoFields, checkbox};
use crate::web::page::{render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page};

/// Every key starts with this, so a leaked one is easy to recognise (and to scan for).
pub const KEY_PREFIX: &str = "lethe_";
/// How many characters of a key the list shows.
const SHOWN_CHARS: usize = KEY_PREFIX.len() + 8;
const MAX_NAME_CHARS: usize = 100;

/// A key's label, as an admin names it: 1 to 100 characters, no control characters.
pub struct KeyName(String);

impl KeyName {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err("api.keys.name_required");
        }
        if trimmed.chars().count() > MAX_NAME_CHARS || trimmed.chars().any(char::is_control) {
            return Err("api.keys.name_invalid");
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// A key's last day, from the form (`YYYY-MM-DD`, empty: no expiry): after today. The key
/// works through that day (UTC) and is refused from the next.
pub fn parse_expiry(value: &str) -> Result<Option<DateTime<Utc>>, &'static str> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|day| *day > Utc::now().date_naive())
        .ok_or("api.keys.expiry_invalid")?;
    Ok(day
        .succ_opt()
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc()))
}

/// A freshly made key: the secret (to show once) and its stored row.
pub struct NewKey {
    pub secret: String,
    pub row: api_key::Model,
}

/// Creates a key of `org` for the member `created_by`.
pub async fn create(
    db: &impl ConnectionTrait,
    org: OrgId,
    created_by: i64,
    name: &KeyName,
    scopes: Scopes,
    expires_at: Option<DateTime<Utc>>,
) -> Result<NewKey, sea_orm::DbErr> {
    let secret = format!("{KEY_PREFIX}{}", random_token());
    let row = api_key::ActiveModel {
        organization_id: Set(org),
        name: Set(name.0.clone()),
        prefix: Set(secret.chars().take(SHOWN_CHARS).collect()),
        token_hash: Set(digest(&secret)),
        created_by: Set(Some(created_by)),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        revoked_by: Set(None),
        scopes: Set(scopes.stored()),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(NewKey { secret, row })
}

/// What the database stores of a key.
pub fn digest(secret: &str) -> String {
    sha256_hex(secret)
}

/// The key with this digest, revoked or not.
pub async fn find_by_secret(
    db: &impl ConnectionTrait,
    secret: &str,
) -> Result<Option<api_key::Model>, sea_orm::DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::TokenHash.eq(digest(secret)))
        .one(db)
        .await
}

/// Revokes a live key of `org`; false when there is none with that id.
pub async fn revoke(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
    by: i64,
) -> Result<Option<api_key::Model>, sea_orm::DbErr> {
    let updated = api_key::Entity::update_in(org)
        .col_expr(api_key::Column::RevokedAt, Expr::val(Some(Utc::now())))
        .col_expr(api_key::Column::RevokedBy, Expr::val(Some(by)))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    api_key::Entity::find_by_id_in(org, id).one(db).await
}

/// One key as the list shows it.
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub scopes: Vec<&'static str>,
    /// The last day it works, and whether that day has passed.
    pub expires: Option<(String, bool)>,
}

#[derive(Template)]
#[template(path = "settings/api_keys.html")]
struct KeysPage {
    page: Page,
    keys: Vec<KeyRow>,
    /// The key just created: shown this once.
    new_key: Option<String>,
    form: CreateForm,
    error: Option<&'static str>,
    base_url: String,
}

fn minute(at: &chrono::DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

async fn rows(db: &impl ConnectionTrait, org: OrgId) -> Result<Vec<KeyRow>, AppError> {
    let keys = api_key::Entity::find_in(org)
        .order_by_desc(api_key::Column::Id)
        .all(db)
        .await?;
    let creators: Vec<i64> = keys.iter().filter_map(|k| k.created_by).collect();
    let emails: std::collections::BTreeMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(creators))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    Ok(keys
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            created_by: k
                .created_by
                .and_then(|id| emails.get(&id).cloned())
                .unwrap_or_default(),
            created_at: minute(&k.created_at),
            last_used_at: k.last_used_at.as_ref().map(minute),
            revoked_at: k.revoked_at.as_ref().map(minute),
            scopes: Scopes::from_stored(&k.scopes)
                .iter()
                .map(Scope::as_str)
                .collect(),
            expires: k.expires_at.map(|at| {
                let last_day = at - chrono::Duration::days(1);
                (last_day.format("%Y-%m-%d").to_string(), at <= Utc::now())
            }),
            name: k.name,
            prefix: k.prefix,
        })
        .collect())
}

async fn render_page(
    state: &AppState,
    scope: &TenantScope,
    new_key: Option<String>,
    form: CreateForm,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = KeysPage {
        page: Page::new(state, &scope.session, "organization").await?,
        keys: rows(&state.db, scope.org()).await?,
        new_key,
        form,
        error,
        base_url: state
            .config
            .base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
    };
    render_with_status(&page, status)
}

/// `GET /settings/api-keys` (admins).
pub async fn list(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render_page(
        &state,
        &scope,
        None,
        CreateForm::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// The new-key form; a fresh one offers `read` only, ticked.
#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    #[serde(default, deserialize_with = "checkbox")]
    scope_read: bool,
    #[serde(default, deserialize_with = "checkbox")]
    scope_write: bool,
    #[serde(default, deserialize_with = "checkbox")]
    scope_privacy: bool,
    #[serde(default)]
    expires: String,
}

impl Default for CreateForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            scope_read: true,
            scope_write: false,
            scope_privacy: false,
            expires: String::new(),
        }
    }
}

/// `POST /settings/api-keys`: creates a key and shows it once.
pub async fn create_key(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let checked = KeyName::parse(&form.name).and_then(|name| {
        let scopes = Scopes::chosen(form.scope_read, form.scope_write, form.scope_privacy)?;
        Ok((name, scopes, parse_expiry(&form.expires)?))
    });
    let (name, scopes, expires_at) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            return render_page(
                &state,
                &scope,
                None,
                form,
                Some(error),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let created = create(
        &state.db,
        scope.org(),
        scope.user_id(),
        &name,
        scopes,
        expires_at,
    )
    .await?;
    scope
        .audit(
            &state,
            "api_key.created",
            format!("api_key:{}", created.row.id),
            serde_json::json!({
                "name": created.row.name,
                "prefix": created.row.prefix,
                "scopes": created.row.scopes,
                "expires_at": created.row.expires_at,
            }),
        )
        .await?;
    crate::auth::notices::send(
        state.clone().into_inner(),
        scope.user_id(),
        crate::auth::notices::Notice::ApiKeyCreated,
    );
    render_page(
        &state,
        &scope,
        Some(created.secret),
        CreateForm::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// `POST /settings/api-keys/{id}/revoke`.
pub async fn revoke_key(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let id = path.into_inner();
    let revoked = revoke(&state.db, scope.org(), id, scope.user_id())
        .await?
        .ok_or(AppError::NotFound)?;
    scope
        .audit(
            &state,
            "api_key.revoked",
            format!("api_key:{}", revoked.id),
            serde_json::json!({ "name": revoked.name, "prefix": revoked.prefix }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::API_KEYS.path(),
        "flash.api_key_revoked",
    ))
}
