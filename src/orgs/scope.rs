//! The tenant scope: the organization id taken from the authenticated session or API key,
//! never from the request. Queries on organization data take a [`TenantScope`] (or the
//! [`OrgId`] inside it), and handlers can only get one from the session extractor (below) or
//! the API key extractor (`crate::api::auth`), so an unscoped query does not compile.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::audit::Entry;
use crate::state::AppState;
use crate::web::AppError;
use crate::web::client::ClientInfo;
use crate::web::paths;
use crate::web::session::{SessionState, login_return_path};

/// An organization's id. Only the session, the API key, the database and the command line
/// make one. It is the type of every `organization_id` column, and the queries of those tables
/// start from [`crate::db::InOrg`], so the organization filter is written once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, sea_orm::DeriveValueType)]
pub struct OrgId(i64);

impl OrgId {
    /// For ids read from the database or resolved from an organization name by the CLI.
    pub(crate) fn from_db(id: i64) -> Self {
        Self(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for OrgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A member's role in an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Agent,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Agent];

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    /// Admins and owners manage settings, the team and privacy requests.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin | Role::Owner)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Role::Owner => "role.owner",
            Role::Admin => "role.admin",
            Role::Agent => "role.agent",
        }
    }
}

/// The signed-in user working in one organization.
#[derive(Clone)]
pub struct TenantScope {
    org: OrgId,
    user_id: i64,
    role: Role,
    pub session: Arc<SessionState>,
    /// The client of the request, for the audit entries this scope writes.
    client: ClientInfo,
}

impl TenantScope {
    pub fn org(&self) -> OrgId {
        self.org
    }

    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Who the audit log names for what this scope does: the signed-in user (for an API key,
    /// the admin who created it, labelled with the key).
    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor::User {
            id: self.user_id,
            email: self
                .session
                .user
                .as_ref()
                .map(|u| u.email.clone())
                .unwrap_or_default(),
        }
    }

    /// The scope an API key grants: its organization, acting for the member who created it
    /// with that member's current role. `session` is a request-scoped state that is never
    /// stored and sets no cookie.
    pub(crate) fn for_api_key(
        org: OrgId,
        user_id: i64,
        role: Role,
        session: Arc<SessionState>,
        client: ClientInfo,
    ) -> Self {
        TenantScope {
            org,
            user_id,
            role,
            session,
            client,
        }
    }

    /// The request's client (address and user agent).
    pub fn client(&self) -> &ClientInfo {
        &self.client
    }

    /// The audit entry for what this scope did: its organization, its user, its client.
    pub fn audit_entry(
        &self,
        action: &'static str,
        target: impl Into<String>,
        details: serde_json::Value,
    ) -> Entry<'_> {
        Entry {
            org: Some(self.org),
            actor: self.actor(),
            action,
            target: target.into(),
            client: Some(&self.client),
            details,
        }
    }

    /// Records what this scope did in the audit log (its own transaction).
    pub async fn audit(
        &self,
        state: &AppState,
        action: &'static str,
        target: impl Into<String>,
        details: serde_json::Value,
    ) -> Result<(), sea_orm::DbErr> {
        state
            .audit
            .record(&state.db, self.audit_entry(action, target, details))
            .await
    }

    pub fn require_owner(&self) -> Result<(), AppError> {
        if self.role == Role::Owner {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

impl FromRequest for TenantScope {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.extensions().get::<Arc<SessionState>>().cloned();
        let result = match session {
            None => Err(AppError::internal("session middleware missing")),
            Some(session) => match (&session.user, &session.org) {
                (None, _) => Err(session.sign_in_required(login_return_path(req))),
                (Some(_), None) => Err(AppError::Redirect(paths::ORG_NEW.path().into())),
                (Some(user), Some(org)) => Ok(TenantScope {
                    org: org.id,
                    user_id: user.id,
                    role: org.role,
                    session: session.clone(),
                    client: ClientInfo::of(req),
                }),
            },
        };
        ready(result)
    }
}
