//! Organization and membership queries. Everything about one organization takes its
//! [`OrgId`], which only the session, the database and the command line produce.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set, Statement,
};

use super::{OrgId, Role};
use crate::auth::users::{self, NewPassword};
use crate::db::InOrg;
use crate::db::entity::{membership, organization, session, user};
use crate::mail::EmailAddress;
use crate::web::AppError;

/// An organization's name: 1 to 100 characters, trimmed, no control characters.
pub struct OrgName(String);

impl OrgName {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err("form.org_name_required");
        }
        if trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control) {
            return Err("form.org_name_invalid");
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Creates an organization with `owner` as its first owner.
pub async fn create_organization(
    db: &impl ConnectionTrait,
    name: &OrgName,
    owner: i64,
) -> Result<OrgId, sea_orm::DbErr> {
    let org = organization::ActiveModel {
        name: Set(name.as_str().to_owned()),
        created_at: Set(Utc::now()),
        two_factor_policy: Set(crate::auth::two_factor::Policy::Off.as_str().to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    add_member(db, OrgId::from_db(org.id), owner, Role::Owner).await?;
    Ok(OrgId::from_db(org.id))
}

/// The organization a new user joins.
pub enum Joining<'a> {
    /// A new organization of this name, with the user as its owner.
    Founds(&'a OrgName),
    /// An existing organization, in this role.
    Joins(OrgId, Role),
}

impl<'a> Joining<'a> {
    /// The organization called `name` in `role` when there is one, else a new one of that
    /// name (as `lethe user create` decides).
    pub async fn by_name(
        db: &impl ConnectionTrait,
        name: &'a OrgName,
        role: Role,
    ) -> Result<Self, AppError> {
        Ok(match find_by_name(db, name.as_str()).await? {
            Some((org, _)) => Self::Joins(org, role),
            None => Self::Founds(name),
        })
    }
}

/// Creates a user with their membership: in a new organization they own, or in an existing
/// one. The one way the command line, the setup page and the tests make users; give it a
/// transaction to make it one step.
pub async fn create_user_in(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
    password: &NewPassword,
    display_name: &str,
    joining: Joining<'_>,
) -> Result<(user::Model, OrgId), AppError> {
    let user = users::create(db, email, password, display_name).await?;
    let org = match joining {
        Joining::Founds(name) => create_organization(db, name, user.id).await?,
        Joining::Joins(org, role) => {
            add_member(db, org, user.id, role).await?;
            org
        }
    };
    Ok((user, org))
}

pub async fn find_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<(OrgId, String)>, sea_orm::DbErr> {
    Ok(organization::Entity::find()
        .filter(organization::Column::Name.eq(name.trim()))
        .one(db)
        .await?
        .map(|o| (OrgId::from_db(o.id), o.name)))
}

pub async fn name_taken(db: &impl ConnectionTrait, name: &OrgName) -> Result<bool, sea_orm::DbErr> {
    Ok(find_by_name(db, name.as_str()).await?.is_some())
}

pub async fn add_member(
    db: &impl ConnectionTrait,
    org: OrgId,
    user_id: i64,
    role: Role,
) -> Result<(), sea_orm::DbErr> {
    membership::ActiveModel {
        organization_id: Set(org),
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The user's first organization (by id), for a fresh session.
pub async fn first_membership(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<OrgId>, sea_orm::DbErr> {
    Ok(membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .order_by_asc(membership::Column::OrganizationId)
        .one(db)
        .await?
        .map(|m| m.organization_id))
}

/// Every organization the user is a member of, by id.
pub async fn organizations_of(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<OrgId>, sea_orm::DbErr> {
    Ok(membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .order_by_asc(membership::Column::OrganizationId)
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.organization_id)
        .collect())
}

/// The organization `requested` (an id from a form), if the user is a member of it.
pub async fn membership_org(
    db: &impl ConnectionTrait,
    requested: i64,
    user_id: i64,
) -> Result<Option<OrgId>, AppError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(requested))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .map(|m| m.organization_id))
}

/// The user's role in `org`, if a member. This is how a requested organization id (from a
/// form) is checked before the session switches to it.
pub async fn role_in(
    db: &impl ConnectionTrait,
    org_id: i64,
    user_id: i64,
) -> Result<Option<Role>, sea_orm::DbErr> {
    Ok(membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(org_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .and_then(|m| Role::parse(&m.role)))
}

/// A member, as the team page shows them.
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

/// The organization's members (admins and owners first, then by name): one query, the
/// memberships joined with their users.
pub async fn members(db: &impl ConnectionTrait, org: OrgId) -> Result<Vec<Member>, sea_orm::DbErr> {
    let query = Query::select()
        .column((user::Entity, user::Column::Id))
        .column((user::Entity, user::Column::Email))
        .column((user::Entity, user::Column::DisplayName))
        .column((membership::Entity, membership::Column::Role))
        .from(membership::Entity)
        .inner_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::Id))
                .equals((membership::Entity, membership::Column::UserId)),
        )
        .and_where(
            Expr::col((membership::Entity, membership::Column::OrganizationId)).eq(org.get()),
        )
        .order_by((user::Entity, user::Column::Id), Order::Asc)
        .to_owned();
    let mut out = Vec::new();
    for row in db.query_all(&query).await? {
        let role: String = row.try_get("", "role")?;
        out.push(Member {
            user_id: row.try_get("", "id")?,
            email: row.try_get("", "email")?,
            display_name: row.try_get("", "display_name")?,
            role: Role::parse(&role).unwrap_or(Role::Agent),
        });
    }
    out.sort_by(|a, b| {
        b.role
            .cmp(&a.role)
            .then_with(|| a.display_name.cmp(&b.display_name))
    });
    Ok(out)
}

/// Why a team change was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TeamChange {
    Done,
    NotAMember,
    /// The organization would be left without an owner.
    LastOwner,
}

pub(crate) async fn owner_count(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<u64, sea_orm::DbErr> {
    membership::Entity::find_in(org)
        .filter(membership::Column::Role.eq(Role::Owner.as_str()))
        .count(db)
        .await
}

pub async fn change_role(
    db: &DatabaseConnection,
    org: OrgId,
    user_id: i64,
    role: Role,
) -> Result<TeamChange, sea_orm::DbErr> {
    let txn = lock_team(db, org).await?;
    let Some(current) = role_in(&txn, org.get(), user_id).await? else {
        return Ok(TeamChange::NotAMember);
    };
    if current == Role::Owner && role != Role::Owner && owner_count(&txn, org).await? <= 1 {
        return Ok(TeamChange::LastOwner);
    }
    membership::Entity::update_in(org)
        .col_expr(membership::Column::Role, role.as_str().into())
        .filter(membership::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(TeamChange::Done)
}

/// A write transaction that holds the organization's team still: SQLite's immediate
/// transaction excludes every other writer, PostgreSQL locks the organization row. So two
/// owners demoting or removing each other at once cannot both pass the last-owner check.
async fn lock_team(
    db: &DatabaseConnection,
    org: OrgId,
) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    let txn = crate::db::begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM organizations WHERE id = $1 FOR UPDATE",
            [org.get().into()],
        ))
        .await?;
    }
    Ok(txn)
}

/// Removes a member; their sessions in this organization lose it at the next request, and
/// what is theirs is forgotten (src/orgs/leaving.rs).
pub async fn remove_member(
    db: &DatabaseConnection,
    org: OrgId,
    user_id: i64,
) -> Result<TeamChange, sea_orm::DbErr> {
    Ok(remove_and_forget_member(db, org, user_id).await?.0)
}

/// [`remove_member`], and what was forgotten of the member (src/orgs/leaving.rs).
pub async fn remove_and_forget_member(
    db: &DatabaseConnection,
    org: OrgId,
    user_id: i64,
) -> Result<(TeamChange, super::leaving::Forgotten), sea_orm::DbErr> {
    let nothing = super::leaving::Forgotten::default();
    let txn = lock_team(db, org).await?;
    let Some(current) = role_in(&txn, org.get(), user_id).await? else {
        return Ok((TeamChange::NotAMember, nothing));
    };
    if current == Role::Owner && owner_count(&txn, org).await? <= 1 {
        return Ok((TeamChange::LastOwner, nothing));
    }
    membership::Entity::delete_in(org)
        .filter(membership::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    // What they had read (src/inbox/unread.rs) goes with them.
    crate::db::entity::conversation_read::Entity::delete_in(org)
        .filter(crate::db::entity::conversation_read::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    session::Entity::update_in(org)
        .col_expr(session::Column::OrganizationId, Option::<i64>::None.into())
        .filter(session::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    let forgotten = super::leaving::forget_member(&txn, org, user_id).await?;
    txn.commit().await?;
    Ok((TeamChange::Done, forgotten))
}
