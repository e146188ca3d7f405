//! `/settings/team` (admins and owners): the members with their roles, the pending
//! invitations, and the forms the page posts: invite (`/settings/team/invitations`), revoke an
//! invitation, change a member's role, remove a member.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::invitations::{self, Refusal};
use super::queries::{self, Member, TeamChange};
use super::{Role, TenantScope};
use crate::db::entity::invitation;
use crate::mail::EmailAddress;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::i18n::Tr;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, render};

#[derive(Template)]
#[template(path = "orgs/team.html")]
struct TeamPage {
    page: Page,
    members: Vec<Member>,
    invitations: Vec<invitation::Model>,
    me: i64,
    invite_email: String,
    error: Option<&'static str>,
    mail_configured: bool,
    /// The link to hand over by other means when no SMTP server is configured.
    invite_link: Option<String>,
}

impl TeamPage {
    fn role_label(&self, role: &str) -> &'static str {
        self.page
            .t(Role::parse(role).unwrap_or(Role::Agent).label_key())
    }

    fn assignable_roles(&self) -> Vec<Role> {
        if self.page.is_owner() {
            Role::ALL.to_vec()
        } else {
            vec![Role::Admin, Role::Agent]
        }
    }
}

async fn team_page(
    state: &AppState,
    scope: &TenantScope,
    invite_email: String,
    error: Option<&'static str>,
    invite_link: Option<String>,
) -> Result<TeamPage, AppError> {
    Ok(TeamPage {
        page: Page::new(state, &scope.session, "team").await?,
        members: queries::members(&state.db, scope.org()).await?,
        invitations: invitations::pending(&state.db, scope.org()).await?,
        me: scope.user_id(),
        invite_email,
        error,
        mail_configured: state.mailer.is_configured(),
        invite_link,
    })
}

/// What a refused change of the team answers: 404 for a non-member, the team page with
/// the reason (409) when it would leave no owner; None when the change was made.
async fn refused(
    state: &AppState,
    scope: &TenantScope,
    change: TeamChange,
) -> Result<Option<HttpResponse>, AppError> {
    match change {
        TeamChange::Done => Ok(None),
        TeamChange::NotAMember => Err(AppError::NotFound),
        TeamChange::LastOwner => {
            let error = Some("team.last_owner");
            let page = team_page(state, scope, String::new(), error, None).await?;
            render_with_status(&page, StatusCode::CONFLICT).map(Some)
        }
    }
}

pub async fn team(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render(&team_page(&state, &scope, String::new(), None, None).await?)
}

#[derive(Deserialize)]
pub struct InviteForm {
    email: String,
    role: String,
}

pub async fn invite(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let refuse = |key: &'static str| {
        let state = state.clone();
        let scope = scope.clone();
        let email = form.email.clone();
        async move {
            let page = team_page(&state, &scope, email, Some(key), None).await?;
            render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let Ok(email) = EmailAddress::parse(&form.email) else {
        return refuse("form.email_invalid").await;
    };
    let Some(role) = Role::parse(&form.role) else {
        return refuse("form.role_invalid").await;
    };
    if role == Role::Owner && scope.role() != Role::Owner {
        return Err(AppError::Forbidden);
    }
    let token =
        match invitations::create(&state.db, scope.org(), &email, role, scope.user_id()).await? {
            Ok(token) => token,
            Err(Refusal::AlreadyMember) => return refuse("team.already_member").await,
            Err(Refusal::AlreadyInvited) => return refuse("team.already_invited").await,
        };
    scope
        .audit(
            &state,
            "member.invited",
            format!("invitation:{}", email.domain()),
            serde_json::json!({ "role": role.as_str() }),
        )
        .await?;
    let link = state.config.base_url.join(&paths::INVITATION.at(token));
    let org_name = scope
        .session
        .org
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_default();
    if state.mailer.is_configured() {
        let tr = Tr::new(scope.session.lang);
        let body = tr.tf(
            "mail.invite_body",
            &[
                ("organization", &org_name),
                ("link", &link),
                ("days", &invitations::VALID_FOR_DAYS.to_string()),
            ],
        );
        let subject = tr.tf("mail.invite_subject", &[("organization", &org_name)]);
        if let Err(error) = state.mailer.send(&email, &subject, body).await {
            tracing::error!(reason = error.kind(), "invitation mail not sent");
            let page = team_page(
                &state,
                &scope,
                String::new(),
                Some("team.mail_failed"),
                Some(link),
            )
            .await?;
            return render_with_status(&page, StatusCode::BAD_GATEWAY);
        }
        Ok(see_other_with_flash(
            paths::TEAM.path(),
            "flash.invitation_sent",
        ))
    } else {
        // Without SMTP the admin hands the link over themselves; the page says so.
        render(&team_page(&state, &scope, String::new(), None, Some(link)).await?)
    }
}

pub async fn revoke_invitation(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let id = path.into_inner();
    if !invitations::revoke(&state.db, scope.org(), id).await? {
        return Err(AppError::NotFound);
    }
    scope
        .audit(
            &state,
            "member.invitation_revoked",
            format!("invitation:{id}"),
            serde_json::json!({}),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::TEAM.path(),
        "flash.invitation_revoked",
    ))
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

pub async fn change_role(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let user_id = path.into_inner();
    let role = Role::parse(&form.role).ok_or(AppError::BadRequest("form.role_invalid"))?;
    let target_role = queries::role_in(&state.db, scope.org().get(), user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    // Only owners make or unmake owners.
    if (role == Role::Owner || target_role == Role::Owner) && scope.role() != Role::Owner {
        return Err(AppError::Forbidden);
    }
    let change = queries::change_role(&state.db, scope.org(), user_id, role).await?;
    if let Some(refusal) = refused(&state, &scope, change).await? {
        return Ok(refusal);
    }
    scope
        .audit(
            &state,
            "member.role_changed",
            format!("user:{user_id}"),
            serde_json::json!({ "from": target_role.as_str(), "to": role.as_str() }),
        )
        .await?;
    Ok(see_other_with_flash(paths::TEAM.path(), "flash.saved"))
}

pub async fn remove_member(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let user_id = path.into_inner();
    let target_role = queries::role_in(&state.db, scope.org().get(), user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if target_role == Role::Owner && scope.role() != Role::Owner {
        return Err(AppError::Forbidden);
    }
    let (change, forgotten) =
        queries::remove_and_forget_member(&state.db, scope.org(), user_id).await?;
    if let Some(refusal) = refused(&state, &scope, change).await? {
        return Ok(refusal);
    }
    scope
        .audit(
            &state,
            "member.removed",
            format!("user:{user_id}"),
            serde_json::json!({ "role": target_role.as_str(), "forgotten": forgotten }),
        )
        .await?;
    if user_id == scope.user_id() {
        return Ok(see_other_with_flash(
            paths::INBOX.path(),
            "flash.left_organization",
        ));
    }
    Ok(see_other_with_flash(
        paths::TEAM.path(),
        "flash.member_removed",
    ))
}
