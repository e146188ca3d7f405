//! People who leave: removing a member from the team forgets them in that organization at
//! once, and deletes their account's personal data when it was their last organization; a
//! user deletes their own account the same way (`POST /account/delete`).
//!
//! - In the organization: their internal notes carry a pseudonym ("Former member 7F3A", one
//!   per removal, no mapping back) instead of their name; the API keys they created are revoked.
//! - Their last organization: the account's sessions, second factors (TOTP, recovery codes,
//!   passkeys) and password reset links are deleted, and the user row keeps only a pseudonym
//!   (name, an address at `lethe.invalid`, no password), so what refers to it — notes,
//!   assignments, the register's "handled by" — names nobody.
//!
//! The audit log names a member as `user:<id>` (what the chain's MACs cover) with the address
//! in `audit_actors`, outside the chain: leaving deletes that row, the pages then show "former
//! member #id", and the chain still verifies. Rows written before migration
//! m20261207_000021 hold the address itself, under the MACs: they keep it until the audit
//! log's retention removes them.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter,
};
use serde::Serialize;

use super::OrgId;
use crate::crypto::{random_token, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::{
    api_key, membership, message, passkey, password_reset, recovery_code, session, totp_factor,
    user,
};

/// What [`forget_member`] did.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Forgotten {
    pub notes: u64,
    pub keys_revoked: u64,
    pub account_deleted: bool,
}

/// A pseudonym such as "Former member 7F3A".
fn pseudonym() -> String {
    let random = sha256_hex(&random_token());
    format!("Former member {}", random[..4].to_ascii_uppercase())
}

/// After the membership row of `user_id` in `org` is gone, inside the same transaction.
pub async fn forget_member(
    db: &impl ConnectionTrait,
    org: OrgId,
    user_id: i64,
) -> Result<Forgotten, DbErr> {
    let name = pseudonym();
    let notes = message::Entity::update_in(org)
        .col_expr(message::Column::FromName, Expr::value(name.clone()))
        .col_expr(message::Column::FromAddress, Expr::value(""))
        .filter(message::Column::AuthorId.eq(user_id))
        .filter(message::Column::Direction.eq("note"))
        .exec(db)
        .await?
        .rows_affected;
    // Their unsent reply drafts: customer data nobody else can send (src/inbox/drafts.rs).
    crate::inbox::drafts::forget_user(db, org, user_id).await?;
    // Their notifications (src/inbox/notifications).
    crate::inbox::notifications::store::forget_user(db, org, user_id).await?;
    // Their private saved views (src/inbox/views.rs).
    crate::inbox::views::forget_user(db, org, user_id).await?;
    let keys_revoked = api_key::Entity::update_in(org)
        .col_expr(api_key::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(api_key::Column::CreatedBy.eq(user_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    let remaining = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .count(db)
        .await?;
    let account_deleted = remaining == 0;
    if account_deleted {
        delete_account_data(db, user_id, &name).await?;
    }
    Ok(Forgotten {
        notes,
        keys_revoked,
        account_deleted,
    })
}

/// Sessions, factors and links go; the user row keeps only `pseudonym`.
async fn delete_account_data(
    db: &impl ConnectionTrait,
    user_id: i64,
    pseudonym: &str,
) -> Result<(), DbErr> {
    session::Entity::delete_many()
        .filter(
            session::Column::UserId
                .eq(user_id)
                .or(session::Column::PendingUserId.eq(user_id)),
        )
        .exec(db)
        .await?;
    totp_factor::Entity::delete_many()
        .filter(totp_factor::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    passkey::Entity::delete_many()
        .filter(passkey::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    password_reset::Entity::delete_many()
        .filter(password_reset::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    // The audit log's rows name the member as `user:<id>`; their address goes.
    crate::audit::forget_actor(db, user_id).await?;
    let address = format!("former-{}@lethe.invalid", &random_token()[..20]).to_ascii_lowercase();
    user::Entity::update_many()
        .col_expr(user::Column::Email, Expr::value(address))
        .col_expr(user::Column::DisplayName, Expr::value(pseudonym))
        // Not a PHC string: no password ever matches it.
        .col_expr(user::Column::PasswordHash, Expr::value("!"))
        .col_expr(user::Column::Language, Expr::value(None::<String>))
        .col_expr(
            user::Column::LastLoginAt,
            Expr::value(None::<chrono::DateTime<Utc>>),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the account data of a user who belongs to no organization (nothing else to leave).
pub async fn forget_account(db: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    delete_account_data(db, user_id, &pseudonym()).await
}

#[derive(serde::Deserialize)]
pub struct DeleteAccountForm {
    password: String,
}

/// `POST /account/delete`: a user deletes their own account, confirmed by their password. It
/// leaves every organization as a removal by an admin would (notes pseudonymized, keys revoked)
/// and then the account's data go; refused while they are the last owner of an organization
/// (it would be left without one: delete or hand over the organization first).
pub async fn delete_own_account(
    state: actix_web::web::Data<crate::state::AppState>,
    auth: crate::web::Authenticated,
    client: crate::web::client::ClientInfo,
    crate::web::CsrfForm(form): crate::web::CsrfForm<DeleteAccountForm>,
) -> Result<actix_web::HttpResponse, crate::web::AppError> {
    use crate::web::AppError;
    let user_id = auth.user.id;
    if !crate::auth::users::password_matches(&state.db, user_id, &form.password).await? {
        return Err(AppError::BadRequest("account.delete.password_wrong"));
    }
    let memberships = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .all(&state.db)
        .await?;
    for m in &memberships {
        if super::Role::parse(&m.role) == Some(super::Role::Owner)
            && super::queries::owner_count(&state.db, m.organization_id).await? <= 1
        {
            return Err(AppError::BadRequest("account.delete.last_owner"));
        }
    }
    // Recorded first, in each organization's log (and once without one for an account in
    // none): the entry names `user:<id>`, and the address beside it goes below.
    let logs: Vec<Option<super::OrgId>> = if memberships.is_empty() {
        vec![None]
    } else {
        memberships
            .iter()
            .map(|m| Some(m.organization_id))
            .collect()
    };
    for org in logs {
        state
            .audit
            .record(
                &state.db,
                crate::audit::Entry::by_user(
                    org,
                    (user_id, auth.user.email.clone()),
                    "account.deleted",
                    format!("user:{user_id}"),
                    &client,
                ),
            )
            .await?;
    }
    for m in &memberships {
        let (change, _) =
            super::queries::remove_and_forget_member(&state.db, m.organization_id, user_id).await?;
        // Another owner left meanwhile: this one stays, and says so.
        if change == super::queries::TeamChange::LastOwner {
            return Err(AppError::BadRequest("account.delete.last_owner"));
        }
    }
    if memberships.is_empty() {
        forget_account(&state.db, user_id).await?;
    }
    Ok(crate::web::page::see_other_with_flash(
        crate::web::paths::LOGIN.path(),
        "flash.account_deleted",
    ))
}
