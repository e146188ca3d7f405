//! Pages: `/settings/team` (members, roles, invitations), `/invitations/{token}`,
//! `/orgs/new` and `/orgs/switch`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::invitations::{self, Refusal};
use super::queries::{self, Member, OrgName, TeamChange};
use super::{Role, TenantScope};
use crate::audit::{Actor, Entry};
use crate::auth::users;
use crate::db::entity::invitation;
use crate::mail::EmailAddress;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::forms::NoFields;
use crate::web::i18n::Tr;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, Authenticated, CsrfForm, Visitor, render};

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
    let change = queries::remove_member(&state.db, scope.org(), user_id).await?;
    if let Some(refusal) = refused(&state, &scope, change).await? {
        return Ok(refusal);
    }
    scope
        .audit(
            &state,
            "member.removed",
            format!("user:{user_id}"),
            serde_json::json!({ "role": target_role.as_str() }),
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

#[derive(Template)]
#[template(path = "orgs/invitation.html")]
struct InvitationPage {
    page: Page,
    token: String,
    org_name: String,
    email: String,
    /// Usable and the visitor can act on it.
    state: InvitationState,
    errors: Vec<&'static str>,
    display_name: String,
}

#[derive(PartialEq, Eq)]
enum InvitationState {
    Invalid,
    /// Signed in as the invited address: one click joins.
    Join,
    /// Signed in as someone else.
    OtherAccount,
    /// Not signed in, and an account with that address exists: sign in first.
    SignIn,
    /// Not signed in, no account yet: create one.
    CreateAccount,
}

impl InvitationPage {
    fn is(&self, name: &str) -> bool {
        let current = match self.state {
            InvitationState::Invalid => "invalid",
            InvitationState::Join => "join",
            InvitationState::OtherAccount => "other",
            InvitationState::SignIn => "signin",
            InvitationState::CreateAccount => "create",
        };
        current == name
    }
}

async fn invitation_state(
    state: &AppState,
    visitor: &Visitor,
    usable: &Option<invitations::Usable>,
) -> Result<InvitationState, AppError> {
    let Some(usable) = usable else {
        return Ok(InvitationState::Invalid);
    };
    if let Some(user) = &visitor.0.user {
        return Ok(if user.email == usable.invitation.email {
            InvitationState::Join
        } else {
            InvitationState::OtherAccount
        });
    }
    let email = EmailAddress::parse(&usable.invitation.email).map_err(AppError::internal)?;
    Ok(
        if users::find_by_email(&state.db, &email).await?.is_some() {
            InvitationState::SignIn
        } else {
            InvitationState::CreateAccount
        },
    )
}

pub async fn invitation(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let usable = invitations::find_usable(&state.db, &token).await?;
    let invitation_state = invitation_state(&state, &visitor, &usable).await?;
    let status = if invitation_state == InvitationState::Invalid {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = Page::new(&state, &visitor.0, "invitation").await?;
    render_with_status(
        &InvitationPage {
            page,
            token: token.into_inner(),
            org_name: usable
                .as_ref()
                .map(|u| u.org_name.clone())
                .unwrap_or_default(),
            email: usable
                .as_ref()
                .map(|u| u.invitation.email.clone())
                .unwrap_or_default(),
            state: invitation_state,
            errors: vec![],
            display_name: String::new(),
        },
        status,
    )
}

#[derive(Deserialize)]
pub struct AcceptForm {
    display_name: Option<String>,
    password: Option<String>,
    password_confirm: Option<String>,
}

pub async fn accept_invitation(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    let usable = invitations::find_usable(&state.db, &token).await?;
    let invitation_state = invitation_state(&state, &visitor, &usable).await?;
    let (user_id, user_email, org) = match (invitation_state, usable) {
        (InvitationState::Join, Some(usable)) => {
            let user = visitor.0.user.clone().ok_or(AppError::Forbidden)?;
            let org = invitations::accept(&state.db, &usable.invitation, user.id).await?;
            visitor.0.set_organization(&state, org).await?;
            (user.id, user.email, org)
        }
        (InvitationState::CreateAccount, Some(usable)) => {
            let mut errors = Vec::new();
            let name = users::parse_display_name(form.display_name.as_deref().unwrap_or_default())
                .map_err(|e| errors.push(e))
                .ok();
            let given = form.password.as_deref().unwrap_or_default();
            let same = form.password == form.password_confirm;
            let password = users::NewPassword::confirmed(given, same, &mut errors);
            let (Some(name), Some(password), true) = (name, password, errors.is_empty()) else {
                let page = Page::new(&state, &visitor.0, "invitation").await?;
                return render_with_status(
                    &InvitationPage {
                        page,
                        token: token.into_inner(),
                        org_name: usable.org_name,
                        email: usable.invitation.email,
                        state: InvitationState::CreateAccount,
                        errors,
                        display_name: form.display_name.unwrap_or_default(),
                    },
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
            };
            let email =
                EmailAddress::parse(&usable.invitation.email).map_err(AppError::internal)?;
            let txn = crate::db::begin_write(&state.db).await?;
            let user = users::create(&txn, &email, &password, &name).await?;
            let org = invitations::accept(&txn, &usable.invitation, user.id).await?;
            txn.commit().await?;
            visitor
                .0
                .start_authenticated(&state, user.id, Some(org))
                .await?;
            (user.id, user.email, org)
        }
        (InvitationState::Invalid, _) | (_, None) => {
            return Err(AppError::BadRequest("invitation.invalid"));
        }
        (InvitationState::SignIn | InvitationState::OtherAccount, _) => {
            return Err(AppError::Forbidden);
        }
    };
    state
        .audit
        .record(
            &state.db,
            Entry {
                org: Some(org),
                actor: Actor::User {
                    id: user_id,
                    email: user_email,
                },
                action: "member.joined",
                target: format!("user:{user_id}"),
                client: Some(&client),
                details: serde_json::json!({}),
            },
        )
        .await?;
    Ok(see_other_with_flash(paths::INBOX.path(), "flash.joined"))
}

#[derive(Deserialize)]
pub struct SwitchForm {
    organization: i64,
}

pub async fn switch(
    state: web::Data<AppState>,
    auth: Authenticated,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> Result<HttpResponse, AppError> {
    // The requested id is only a wish: the membership decides.
    let Some(org) = queries::membership_org(&state.db, form.organization, auth.user.id).await?
    else {
        return Err(AppError::NotFound);
    };
    auth.session.set_organization(&state, org).await?;
    Ok(see_other_with_flash(paths::INBOX.path(), "flash.switched"))
}

#[derive(Template)]
#[template(path = "orgs/new.html")]
struct NewOrgPage {
    page: Page,
    name: String,
    error: Option<&'static str>,
}

pub async fn new_org_form(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, AppError> {
    let page = Page::new(&state, &auth.session, "orgs").await?;
    render(&NewOrgPage {
        page,
        name: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct NewOrgForm {
    name: String,
}

pub async fn create_org(
    state: web::Data<AppState>,
    auth: Authenticated,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<NewOrgForm>,
) -> Result<HttpResponse, AppError> {
    let name = match OrgName::parse(&form.name) {
        Ok(name) if queries::name_taken(&state.db, &name).await? => Err("form.org_name_taken"),
        other => other,
    };
    let name = match name {
        Ok(name) => name,
        Err(error) => {
            let page = Page::new(&state, &auth.session, "orgs").await?;
            return render_with_status(
                &NewOrgPage {
                    page,
                    name: form.name,
                    error: Some(error),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let org = queries::create_organization(&txn, &name, auth.user.id).await?;
    txn.commit().await?;
    auth.session.set_organization(&state, org).await?;
    state
        .audit
        .record(
            &state.db,
            Entry {
                org: Some(org),
                actor: Actor::User {
                    id: auth.user.id,
                    email: auth.user.email.clone(),
                },
                action: "organization.created",
                target: format!("organization:{org}"),
                client: Some(&client),
                details: serde_json::json!({}),
            },
        )
        .await?;
    Ok(see_other_with_flash(
        paths::INBOX.path(),
        "flash.org_created",
    ))
}
