//! Invitations by emailed link: a random token stored as a digest, valid for seven days,
//! one pending invitation per address and organization.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::{OrgId, Role};
use crate::crypto::{random_token, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::{invitation, membership, organization, user};
use crate::mail::EmailAddress;

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
