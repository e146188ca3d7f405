//! Authentication of API calls: `Authorization: Bearer <key>` and nothing else (no cookie,
//! so no CSRF). The [`ApiCaller`] extractor turns a live key into the same [`TenantScope`]
//! the session gives pages: the key's organization, acting for the admin who created it with
//! that member's current role. A missing, unknown or revoked key — or one whose creator is no
//! longer an admin of the organization — answers 401, and the refusal is audit-logged, as
//! does a key past its last day (counted, and written as one row per source and minute:
//! `audit::tally`). A call outside the key's scopes answers 403; a key over its rate limit,
//! or its organization over its own, 429 (`web::rate_limit`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::keys;
use super::scopes::{Scope, Scopes};
use crate::audit::Entry;
use crate::db::entity::{api_key, organization, user};
use crate::orgs::{TenantScope, queries};
use crate::state::AppState;
use crate::web::AppError;
use crate::web::client::ClientInfo;
use crate::web::i18n::Lang;
use crate::web::session::{SessionOrg, SessionState, SessionUser};

/// The longest bearer value looked at (a key is 49 characters).
const MAX_KEY_CHARS: usize = 200;
/// `last_used_at` is refreshed at most this often.
const USE_STAMP_SECONDS: i64 = 60;

/// An authenticated API call: the tenant scope (with the client, for the audit log) and the
/// key.
pub struct ApiCaller {
    pub scope: TenantScope,
    pub key_id: i64,
    scopes: Scopes,
}

impl ApiCaller {
    /// Refuses the call (403, naming the scope) unless the key holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AppError> {
        if self.scopes.allows(scope) {
            Ok(())
        } else {
            Err(AppError::ScopeMissing(scope.missing_key()))
        }
    }

    /// The audit entry of this call.
    pub fn entry(
        &self,
        action: &'static str,
        target: String,
        details: serde_json::Value,
    ) -> Entry<'_> {
        self.scope
            .audit_entry(action, target, with_key(details, self.key_id))
    }
}

fn with_key(mut details: serde_json::Value, key_id: i64) -> serde_json::Value {
    if let Some(map) = details.as_object_mut() {
        map.insert("api_key".into(), key_id.into());
    }
    details
}

/// Why a key was refused (for the audit log; the caller only learns "401").
#[derive(Clone, Copy)]
enum Refusal {
    Missing,
    Unknown,
    Revoked,
    Expired,
    CreatorGone,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Unknown => "unknown",
            Refusal::Revoked => "revoked",
            Refusal::Expired => "expired",
            Refusal::CreatorGone => "creator_not_admin",
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty() && key.len() <= MAX_KEY_CHARS)
        .then(|| key.to_owned())
}

/// Counts the refusal for the audit log (written as one row per source and minute, so a
/// flood of bad keys cannot grow the log) and answers 401.
fn refuse(
    state: &AppState,
    client: &ClientInfo,
    key: Option<&api_key::Model>,
    refusal: Refusal,
) -> AppError {
    state.audit.count_refusal(crate::audit::Refusal {
        org: key.map(|k| k.organization_id),
        action: "api.key_refused",
        target: key.map_or_else(|| "api".to_owned(), |k| format!("api_key:{}", k.id)),
        client,
        reason: Some(refusal.as_str()),
    });
    AppError::Unauthorized
}

async fn authenticate(
    state: Arc<AppState>,
    secret: Option<String>,
    client: ClientInfo,
    lang: Lang,
) -> Result<ApiCaller, AppError> {
    let Some(secret) = secret else {
        return Err(refuse(&state, &client, None, Refusal::Missing));
    };
    let Some(key) = keys::find_by_secret(&state.db, &secret).await? else {
        return Err(refuse(&state, &client, None, Refusal::Unknown));
    };
    if key.revoked_at.is_some() {
        return Err(refuse(&state, &client, Some(&key), Refusal::Revoked));
    }
    if key.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(refuse(&state, &client, Some(&key), Refusal::Expired));
    }
    let org = key.organization_id;
    let creator = match key.created_by {
        Some(id) => user::Entity::find_by_id(id).one(&state.db).await?,
        None => None,
    };
    let role = match &creator {
        Some(creator) => queries::role_in(&state.db, org.get(), creator.id).await?,
        None => None,
    };
    let (Some(creator), Some(role)) = (creator, role.filter(|r| r.is_admin())) else {
        return Err(refuse(&state, &client, Some(&key), Refusal::CreatorGone));
    };
    let organization = organization::Entity::find_by_id(org.get())
        .one(&state.db)
        .await?
        .ok_or(AppError::Unauthorized)?;
    // Over the key's or the organization's limit: 429 before anything is written.
    state.rate_limits.api_call(key.id, org)?;
    let now = Utc::now();
    if key
        .last_used_at
        .is_none_or(|at| now - at > chrono::Duration::seconds(USE_STAMP_SECONDS))
    {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::val(Some(now)))
            .filter(api_key::Column::Id.eq(key.id))
            .exec(&state.db)
            .await?;
    }
    let session = SessionState::stateless(
        SessionUser {
            id: creator.id,
            email: format!("{} (API key {})", creator.email, key.prefix),
            display_name: creator.display_name,
            language: creator.language.as_deref().and_then(Lang::from_code),
        },
        SessionOrg {
            id: org,
            name: organization.name,
            role,
        },
        lang,
    );
    Ok(ApiCaller {
        scope: TenantScope::for_api_key(org, creator.id, role, Arc::new(session), client),
        key_id: key.id,
        scopes: Scopes::from_stored(&key.scopes),
    })
}

impl FromRequest for ApiCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req
            .app_data::<web::Data<AppState>>()
            .map(|d| d.clone().into_inner());
        let secret = bearer(req);
        let client = ClientInfo::from_request(req, payload).into_inner();
        let lang = Lang::from_accept_language(
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            authenticate(state, secret, client?, lang).await
        })
    }
}
