//! Invitations by emailed link: a random token stored as a digest, valid for seven days,
//! one pending invitation per address and organization. `/invitations/{token}` is the link's
//! page: it joins a signed-in invitee, or creates the invitee's account, with one form.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Deserialize;

use super::{OrgId, Role};
use crate::audit::Entry;
use crate::auth::users;
use crate::crypto::{random_token, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::{invitation, membership, organization, user};
use crate::mail::EmailAddress;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Visitor};

pub const VALID_FOR_DAYS: i64 = 7;

/// Why an invitation was not created.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    AlreadyMember,
    AlreadyInvited,
}

/// Creates an invitation and returns the token for its link.
pub async fn create(
    db: &impl ConnectionTrait,
    org: OrgId,
    email: &EmailAddress,
    role: Role,
    invited_by: i64,
) -> Result<Result<String, Refusal>, sea_orm::DbErr> {
    if let Some(existing) = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
    {
        let member = membership::Entity::find_in(org)
            .filter(membership::Column::UserId.eq(existing.id))
            .one(db)
            .await?;
        if member.is_some() {
            return Ok(Err(Refusal::AlreadyMember));
        }
    }
    let now = Utc::now();
    let pending = invitation::Entity::find_in(org)
        .filter(invitation::Column::Email.eq(email.as_str()))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now))
        .one(db)
        .await?;
    if pending.is_some() {
        return Ok(Err(Refusal::AlreadyInvited));
    }
    let token = random_token();
    invitation::ActiveModel {
        organization_id: Set(org),
        email: Set(email.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        token_hash: Set(sha256_hex(&token)),
        invited_by: Set(Some(invited_by)),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(VALID_FOR_DAYS)),
        accepted_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Ok(token))
}

/// Pending (unaccepted, unexpired) invitations of an organization.
pub async fn pending(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<invitation::Model>, sea_orm::DbErr> {
    invitation::Entity::find_in(org)
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(invitation::Column::CreatedAt)
        .all(db)
        .await
}

/// Deletes a pending invitation of this organization; false if there is none with that id.
pub async fn revoke(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<bool, sea_orm::DbErr> {
    let result = invitation::Entity::delete_in(org)
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// A usable invitation and its organization's name.
pub struct Usable {
    pub invitation: invitation::Model,
    pub org_name: String,
}

pub async fn find_usable(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<Usable>, sea_orm::DbErr> {
    if token.len() > 100 {
        return Ok(None);
    }
    let Some(found) = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(sha256_hex(token)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if found.accepted_at.is_some() || found.expires_at <= Utc::now() {
        return Ok(None);
    }
    let Some(org) = organization::Entity::find_by_id(found.organization_id.get())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Usable {
        invitation: found,
        org_name: org.name,
    }))
}

/// Adds the user to the organization and marks the invitation used.
pub async fn accept(
    db: &impl ConnectionTrait,
    invitation: &invitation::Model,
    user_id: i64,
) -> Result<OrgId, sea_orm::DbErr> {
    let org = invitation.organization_id;
    let role = Role::parse(&invitation.role).unwrap_or(Role::Agent);
    if super::queries::role_in(db, org.get(), user_id)
        .await?
        .is_none()
    {
        super::queries::add_member(db, org, user_id, role).await?;
    }
    invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Utc::now().into())
        .filter(invitation::Column::Id.eq(invitation.id))
        .exec(db)
        .await?;
    Ok(org)
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
    usable: &Option<Usable>,
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
    let usable = find_usable(&state.db, &token).await?;
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
    let usable = find_usable(&state.db, &token).await?;
    let invitation_state = invitation_state(&state, &visitor, &usable).await?;
    let (user_id, user_email, org) = match (invitation_state, usable) {
        (InvitationState::Join, Some(usable)) => {
            let user = visitor.0.user.clone().ok_or(AppError::Forbidden)?;
            let org = accept(&state.db, &usable.invitation, user.id).await?;
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
            let personal = [
                usable.invitation.email.as_str(),
                form.display_name.as_deref().unwrap_or_default(),
            ];
            let password = users::NewPassword::confirmed(given, same, &personal, &mut errors);
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
            let org = accept(&txn, &usable.invitation, user.id).await?;
            txn.commit().await?;
            if crate::auth::two_factor::required_for(&state.db, user.id).await? {
                // The organization requires a second factor: set it up before anything else.
                visitor.0.start_pending(&state, user.id).await?;
                let target = format!("user:{}", user.id);
                let entry = Entry::by_user(
                    Some(org),
                    (user.id, user.email),
                    "member.joined",
                    target,
                    &client,
                );
                state.audit.record(&state.db, entry).await?;
                return Ok(crate::web::see_other(paths::LOGIN_TWO_FACTOR_SETUP.path()));
            }
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
    let target = format!("user:{user_id}");
    let entry = Entry::by_user(
        Some(org),
        (user_id, user_email),
        "member.joined",
        target,
        &client,
    );
    state.audit.record(&state.db, entry).await?;
    Ok(see_other_with_flash(paths::INBOX.path(), "flash.joined"))
}
