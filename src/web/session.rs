//! Server-side sessions: a random 256-bit token in an HttpOnly, SameSite=Lax cookie (Secure
//! behind https); the database keeps only its SHA-256. Sessions expire when idle and at an
//! absolute age, and the id is replaced at login. The middleware loads the session once per
//! request; handlers receive it through the [`Visitor`] and [`Authenticated`] extractors (and
//! the tenant scope in `orgs`).

use std::future::{Ready, ready};
use std::sync::{Arc, Mutex};

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::client::ClientInfo;
use super::error::AppError;
use super::i18n::{Lang, Tr};
use super::page::flash_from_query;
use super::paths;
use crate::crypto::{random_token, sha256_hex};
use crate::db::entity::{membership, organization, session, user};
use crate::orgs::{OrgId, Role};
use crate::state::AppState;

/// The session cookie's name over plain HTTP.
pub const COOKIE_NAME: &str = "lethe_session";
/// Over HTTPS the `__Host-` prefix makes browsers refuse the cookie unless it is `Secure`, has
/// no `Domain` and the path `/`: no sibling subdomain or plain-HTTP page can plant or shadow it.
pub const HTTPS_COOKIE_NAME: &str = "__Host-lethe_session";

/// The session cookie's name for this instance.
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        HTTPS_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// How long a session that owes the second factor waits for it.
pub const PENDING_MINUTES: i64 = 10;

/// The signed-in user, as the pages need it.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub language: Option<Lang>,
}

/// The organization the session works in, with the user's role there.
#[derive(Clone, Debug)]
pub struct SessionOrg {
    pub id: OrgId,
    pub name: String,
    pub role: Role,
}

enum CookieChange {
    Keep,
    Set(String),
    Clear,
}

/// What the middleware found for this request.
pub struct SessionState {
    /// The session row's id (the token's digest), when there is a session.
    row_id: Mutex<Option<String>>,
    csrf: Mutex<Option<String>>,
    pub user: Option<SessionUser>,
    pub org: Option<SessionOrg>,
    /// Every organization the user belongs to, by name (for the organization switcher).
    pub orgs: Vec<SessionOrg>,
    pub lang: Lang,
    /// The confirmation this request's `?flash=` names (a known `flash.*` key), translated.
    pub flash: Option<&'static str>,
    /// The user who gave the right password and still owes the second factor (such a session
    /// is not signed in: `user` is None).
    pub pending_user_id: Option<i64>,
    /// The client of this request (recorded on a session when it starts).
    client: ClientInfo,
    cookie: Mutex<CookieChange>,
}

impl SessionState {
    pub fn tr(&self) -> Tr {
        Tr::new(self.lang)
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state of a request authenticated by an API key (src/api/): no session row, no CSRF
    /// token, no cookie; it lives for the one request.
    pub fn stateless(user: SessionUser, org: SessionOrg, lang: Lang) -> Self {
        SessionState {
            row_id: Mutex::new(None),
            csrf: Mutex::new(None),
            user: Some(user),
            orgs: vec![org.clone()],
            org: Some(org),
            lang,
            flash: None,
            pending_user_id: None,
            client: ClientInfo::default(),
            cookie: Mutex::new(CookieChange::Keep),
        }
    }

    /// The id of this session's row (the digest of its token), when there is one.
    pub fn row_id(&self) -> Option<String> {
        Self::lock(&self.row_id).clone()
    }

    /// What a page that needs a signed-in user answers instead: the second step for a
    /// session that owes it, else the login page (and back to `next` afterwards).
    pub fn sign_in_required(&self, next: String) -> AppError {
        if self.pending_user_id.is_some() {
            let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
            AppError::Redirect(format!("{}?next={next}", paths::LOGIN_TWO_FACTOR))
        } else {
            AppError::LoginRequired { next }
        }
    }

    /// The CSRF token of the current session, creating an anonymous session for a visitor who
    /// has none (the login form needs a token before anyone is signed in).
    pub async fn csrf_token(&self, state: &AppState) -> Result<String, AppError> {
        if let Some(token) = Self::lock(&self.csrf).clone() {
            return Ok(token);
        }
        let (token, row) = new_session_row(None, None, None);
        let csrf = row.csrf_token.clone();
        active(&row).insert(&state.db).await?;
        *Self::lock(&self.row_id) = Some(row.id);
        *Self::lock(&self.csrf) = Some(csrf.clone());
        *Self::lock(&self.cookie) = CookieChange::Set(token);
        Ok(csrf)
    }

    /// The CSRF token if the session has one (for checking a submitted form).
    pub fn existing_csrf(&self) -> Option<String> {
        Self::lock(&self.csrf).clone()
    }

    /// Replaces the session by a fresh one for `user_id` (login): a new id, a new CSRF token.
    pub async fn start_authenticated(
        &self,
        state: &AppState,
        user_id: i64,
        organization_id: Option<OrgId>,
    ) -> Result<(), AppError> {
        self.replace(state, Some(user_id), organization_id, None)
            .await
    }

    /// Replaces the session by a fresh one that is not signed in but remembers that `user_id`
    /// gave the right password and owes the second factor (`/login/2fa`).
    pub async fn start_pending(&self, state: &AppState, user_id: i64) -> Result<(), AppError> {
        self.replace(state, None, None, Some(user_id)).await
    }

    async fn replace(
        &self,
        state: &AppState,
        user_id: Option<i64>,
        organization_id: Option<OrgId>,
        pending_user_id: Option<i64>,
    ) -> Result<(), AppError> {
        self.end(state).await?;
        let (token, mut row) = new_session_row(user_id, organization_id, pending_user_id);
        row.user_agent = self.client.device();
        row.ip = self.client.ip.clone();
        active(&row).insert(&state.db).await?;
        *Self::lock(&self.row_id) = Some(row.id);
        *Self::lock(&self.csrf) = Some(row.csrf_token);
        *Self::lock(&self.cookie) = CookieChange::Set(token);
        Ok(())
    }

    /// Deletes the session (logout) and clears the cookie.
    pub async fn end(&self, state: &AppState) -> Result<(), AppError> {
        let row_id = Self::lock(&self.row_id).take();
        if let Some(id) = row_id {
            session::Entity::delete_by_id(id).exec(&state.db).await?;
        }
        *Self::lock(&self.csrf) = None;
        *Self::lock(&self.cookie) = CookieChange::Clear;
        Ok(())
    }

    /// Switches the session to another organization (membership checked by the caller).
    pub async fn set_organization(
        &self,
        state: &AppState,
        organization_id: OrgId,
    ) -> Result<(), AppError> {
        let row_id = Self::lock(&self.row_id).clone();
        if let Some(id) = row_id {
            session::Entity::update_many()
                .col_expr(session::Column::OrganizationId, organization_id.into())
                .filter(session::Column::Id.eq(id))
                .exec(&state.db)
                .await?;
        }
        Ok(())
    }
}

fn new_session_row(
    user_id: Option<i64>,
    organization_id: Option<OrgId>,
    pending_user_id: Option<i64>,
) -> (String, session::Model) {
    let token = random_token();
    let now = Utc::now();
    let row = session::Model {
        id: sha256_hex(&token),
        user_id,
        organization_id,
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        user_agent: None,
        ip: None,
        pending_user_id,
    };
    (token, row)
}

fn active(row: &session::Model) -> session::ActiveModel {
    session::ActiveModel {
        id: Set(row.id.clone()),
        user_id: Set(row.user_id),
        organization_id: Set(row.organization_id),
        csrf_token: Set(row.csrf_token.clone()),
        created_at: Set(row.created_at),
        last_seen_at: Set(row.last_seen_at),
        user_agent: Set(row.user_agent.clone()),
        ip: Set(row.ip.clone()),
        pending_user_id: Set(row.pending_user_id),
    }
}

/// Middleware: loads the session for the request and writes the cookie change afterwards.
pub async fn load_session(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // The chat widget's endpoints and the public help centre have no session and never set
    // a cookie (src/chat/, src/assist/knowledge/help.rs).
    if req.path().starts_with(super::paths::CHAT_PREFIX)
        || req.path().starts_with(super::paths::HELP_PREFIX)
    {
        return next.call(req).await;
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let name = cookie_name(state.config.base_url.is_https());
    let token = req.cookie(name).map(|c| c.value().to_owned());
    let had_cookie = token.is_some();
    let loaded = match token {
        Some(token) => lookup(&state, &token)
            .await
            .map_err(actix_web::Error::from)?,
        None => None,
    };
    let mut session_state = build_state(&state, loaded, accept.as_deref())
        .await
        .map_err(actix_web::Error::from)?;
    session_state.client = ClientInfo::of(req.request());
    session_state.flash = flash_from_query(req.query_string(), session_state.tr());
    if had_cookie && SessionState::lock(&session_state.row_id).is_none() {
        // The cookie named a session that has expired or never existed: drop it.
        *SessionState::lock(&session_state.cookie) = CookieChange::Clear;
    }
    let session_state = Arc::new(session_state);
    req.extensions_mut().insert(session_state.lang);
    req.extensions_mut().insert(session_state.clone());
    let mut res = next.call(req).await?;
    let change = std::mem::replace(
        &mut *SessionState::lock(&session_state.cookie),
        CookieChange::Keep,
    );
    let secure = state.config.base_url.is_https();
    match change {
        CookieChange::Keep => {}
        CookieChange::Set(token) => {
            let cookie = Cookie::build(name, token)
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(secure)
                .max_age(CookieDuration::hours(state.config.session_max_hours))
                .finish();
            res.response_mut()
                .add_cookie(&cookie)
                .map_err(actix_web::Error::from)?;
        }
        CookieChange::Clear => {
            let mut cookie = Cookie::build(name, "")
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(secure)
                .finish();
            cookie.make_removal();
            res.response_mut()
                .add_cookie(&cookie)
                .map_err(actix_web::Error::from)?;
        }
    }
    Ok(res)
}

/// Finds a live session by its cookie token; deletes it when it has expired.
async fn lookup(state: &AppState, token: &str) -> Result<Option<session::Model>, AppError> {
    if token.len() > 100 {
        return Ok(None);
    }
    let Some(row) = session::Entity::find_by_id(sha256_hex(token))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if is_expired(
        &row,
        now,
        state.config.session_idle_minutes,
        state.config.session_max_hours,
    ) || (row.pending_user_id.is_some()
        && now - row.created_at > chrono::Duration::minutes(PENDING_MINUTES))
    {
        session::Entity::delete_by_id(row.id)
            .exec(&state.db)
            .await?;
        return Ok(None);
    }
    if now - row.last_seen_at > chrono::Duration::seconds(60) {
        // Best effort: a busy database (a long retention batch holding the write lock) must
        // not fail a page that only reads; the next request a minute on tries again.
        if let Err(error) = session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, now.into())
            .filter(session::Column::Id.eq(row.id.clone()))
            .exec(&state.db)
            .await
        {
            tracing::warn!(%error, "session activity not recorded");
        }
    }
    Ok(Some(row))
}

pub fn is_expired(
    row: &session::Model,
    now: DateTime<Utc>,
    idle_minutes: i64,
    max_hours: i64,
) -> bool {
    now - row.last_seen_at > chrono::Duration::minutes(idle_minutes)
        || now - row.created_at > chrono::Duration::hours(max_hours)
}

async fn build_state(
    state: &AppState,
    row: Option<session::Model>,
    accept_language: Option<&str>,
) -> Result<SessionState, AppError> {
    let mut user = None;
    let mut org = None;
    let mut orgs = Vec::new();
    if let Some(row) = &row
        && let Some(user_id) = row.user_id
        && let Some((found, memberships)) = user_with_memberships(state, user_id).await?
    {
        orgs = memberships;
        org = current_org(state, row, &orgs).await?;
        user = Some(found);
    }
    let lang = user
        .as_ref()
        .and_then(|u| u.language)
        .unwrap_or_else(|| Lang::from_accept_language(accept_language));
    let pending_user_id = row
        .as_ref()
        .filter(|r| r.user_id.is_none())
        .and_then(|r| r.pending_user_id);
    Ok(SessionState {
        pending_user_id,
        client: ClientInfo::default(),
        row_id: Mutex::new(row.as_ref().map(|r| r.id.clone())),
        csrf: Mutex::new(row.map(|r| r.csrf_token)),
        user,
        org,
        orgs,
        lang,
        flash: None,
        cookie: Mutex::new(CookieChange::Keep),
    })
}

/// The user (None when there is no such user any more) and their organizations with the role
/// in each, ordered by name: one query, the user's row joined with their memberships (a row
/// of user columns alone when they belong to none).
async fn user_with_memberships(
    state: &AppState,
    user_id: i64,
) -> Result<Option<(SessionUser, Vec<SessionOrg>)>, AppError> {
    let query = Query::select()
        .column((user::Entity, user::Column::Id))
        .column((user::Entity, user::Column::Email))
        .column((user::Entity, user::Column::DisplayName))
        .column((user::Entity, user::Column::Language))
        .column((membership::Entity, membership::Column::OrganizationId))
        .column((membership::Entity, membership::Column::Role))
        .column((organization::Entity, organization::Column::Name))
        .from(user::Entity)
        .left_join(
            membership::Entity,
            Expr::col((membership::Entity, membership::Column::UserId))
                .equals((user::Entity, user::Column::Id)),
        )
        .left_join(
            organization::Entity,
            Expr::col((organization::Entity, organization::Column::Id))
                .equals((membership::Entity, membership::Column::OrganizationId)),
        )
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id))
        .order_by(
            (organization::Entity, organization::Column::Name),
            Order::Asc,
        )
        .order_by(
            (membership::Entity, membership::Column::OrganizationId),
            Order::Asc,
        )
        .to_owned();
    let rows = state.db.query_all(&query).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let language: Option<String> = first.try_get("", "language")?;
    let user = SessionUser {
        id: first.try_get("", "id")?,
        email: first.try_get("", "email")?,
        display_name: first.try_get("", "display_name")?,
        language: language.as_deref().and_then(Lang::from_code),
    };
    let mut orgs = Vec::new();
    for row in &rows {
        let id: Option<OrgId> = row.try_get("", "organization_id")?;
        let name: Option<String> = row.try_get("", "name")?;
        // No membership (the user's one row), or a membership whose organization is gone.
        let (Some(id), Some(name)) = (id, name) else {
            continue;
        };
        let role: Option<String> = row.try_get("", "role")?;
        orgs.push(SessionOrg {
            id,
            name,
            role: role.as_deref().and_then(Role::parse).unwrap_or(Role::Agent),
        });
    }
    Ok(Some((user, orgs)))
}

/// The session's organization if the user is still a member; else the one the user joined
/// first, by organization id (recorded on the session).
async fn current_org(
    state: &AppState,
    row: &session::Model,
    orgs: &[SessionOrg],
) -> Result<Option<SessionOrg>, AppError> {
    let chosen = row
        .organization_id
        .and_then(|id| orgs.iter().find(|o| o.id == id))
        .or_else(|| orgs.iter().min_by_key(|o| o.id))
        .cloned();
    if let Some(org) = &chosen
        && row.organization_id != Some(org.id)
    {
        session::Entity::update_many()
            .col_expr(session::Column::OrganizationId, org.id.into())
            .filter(session::Column::Id.eq(row.id.clone()))
            .exec(&state.db)
            .await?;
    }
    Ok(chosen)
}

fn session_of(req: &HttpRequest) -> Result<Arc<SessionState>, AppError> {
    req.extensions()
        .get::<Arc<SessionState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("session middleware missing"))
}

/// Anyone: a signed-in user or an anonymous visitor.
pub struct Visitor(pub Arc<SessionState>);

impl FromRequest for Visitor {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(session_of(req).map(Visitor))
    }
}

/// A signed-in user; anyone else is sent to the login page and back afterwards.
pub struct Authenticated {
    pub session: Arc<SessionState>,
    pub user: SessionUser,
}

impl FromRequest for Authenticated {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            session_of(req).and_then(|session| match session.user.clone() {
                Some(user) => Ok(Authenticated { session, user }),
                None => Err(session.sign_in_required(login_return_path(req))),
            }),
        )
    }
}

/// Where to come back to after login: the requested page for GET, else the inbox.
pub fn login_return_path(req: &HttpRequest) -> String {
    if req.method() == actix_web::http::Method::GET {
        req.uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| paths::HOME.path().into())
    } else {
        paths::INBOX.path().into()
    }
}
