//! Password reset links: a random token mailed to the user, stored as a digest, valid for one
//! hour and once. `/password/forgot` asks for the address and mails the link;
//! `/password/reset/{token}` is the link's page, which sets the new password.
//!
//! The answer to `/password/forgot` does not tell whether the address has an account: the same
//! page, and the mail goes out after the answer, not during it. Requests are throttled on
//! their own ([`AppState::reset_throttle`]), so asking for links never locks anyone out of
//! signing in. A new link, or any new password, voids the user's older links, and a link is
//! spent by one atomic update, so two submissions cannot both use it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;

use super::users;
use crate::audit::Entry;
use crate::crypto::{random_token, sha256_hex};
use crate::db::entity::password_reset;
use crate::db::entity::{session, user};
use crate::mail::EmailAddress;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::i18n::Lang;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Visitor, render};

pub const VALID_FOR_MINUTES: i64 = 60;

/// Creates a reset for `user_id` and returns the token for the link.
pub async fn create(db: &impl ConnectionTrait, user_id: i64) -> Result<String, AppError> {
    let token = random_token();
    let now = Utc::now();
    // Lock the user's row first (in the caller's transaction), so two requests at once take
    // turns: otherwise neither sees the other's link to void, and both stay valid.
    user::Entity::update_many()
        .col_expr(user::Column::Id, Expr::col(user::Column::Id))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    void_links(db, user_id).await?;
    password_reset::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(sha256_hex(&token)),
        created_at: Set(now),
        expires_at: Set(now + Duration::minutes(VALID_FOR_MINUTES)),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The reset behind `token` if it is unused and unexpired.
pub async fn find_valid(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<password_reset::Model>, AppError> {
    if token.len() > 100 {
        return Ok(None);
    }
    let found = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(sha256_hex(token)))
        .one(db)
        .await?;
    Ok(found.filter(|r| r.used_at.is_none() && r.expires_at > Utc::now()))
}

/// Spends the link: true for the one caller that did, false when it was used (or had
/// expired) in the meantime.
pub async fn spend(db: &impl ConnectionTrait, reset_id: i64) -> Result<bool, sea_orm::DbErr> {
    let now = Utc::now();
    let spent = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, now.into())
        .filter(password_reset::Column::Id.eq(reset_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(spent.rows_affected == 1)
}

/// Voids every unused link of the user (a new link was asked for, or a password was set).
pub async fn void_links(db: &impl ConnectionTrait, user_id: i64) -> Result<(), sea_orm::DbErr> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Utc::now().into())
        .filter(password_reset::Column::UserId.eq(user_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    page: Page,
    mail_configured: bool,
    sent: bool,
}

pub async fn forgot_form(
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, AppError> {
    let page = Page::new(&state, &visitor.0, "login").await?;
    render(&ForgotPage {
        page,
        mail_configured: state.mailer.is_configured(),
        sent: false,
    })
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    if !state.mailer.is_configured() {
        let page = Page::new(&state, &visitor.0, "login").await?;
        return render_with_status(
            &ForgotPage {
                page,
                mail_configured: false,
                sent: false,
            },
            StatusCode::SERVICE_UNAVAILABLE,
        );
    }
    // The same answer, in the same time, whether or not the account exists: the lookup, the
    // link and the mail happen after the answer. Throttled apart from logins, and by the
    // client's address only, so nobody can block the resets of someone else's address.
    let source = format!("reset-from:{}", client.ip.as_deref().unwrap_or("unknown"));
    if !state
        .reset_throttle
        .is_blocked(&source, client.ip.as_deref())
        && let Ok(email) = EmailAddress::parse(&form.email)
    {
        state
            .reset_throttle
            .record_failure(&source, client.ip.as_deref());
        let state = state.clone().into_inner();
        let fallback = visitor.0.lang;
        tokio::spawn(async move {
            if let Err(reason) = send_link(&state, &email, fallback).await {
                tracing::error!(reason, "password reset link not sent");
            }
        });
    }
    let page = Page::new(&state, &visitor.0, "login").await?;
    render(&ForgotPage {
        page,
        mail_configured: true,
        sent: true,
    })
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    page: Page,
    token: String,
    valid: bool,
    errors: Vec<&'static str>,
}

pub async fn reset_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let valid = find_valid(&state.db, &token).await?.is_some();
    let page = Page::new(&state, &visitor.0, "login").await?;
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    render_with_status(
        &ResetPage {
            page,
            token: token.into_inner(),
            valid,
            errors: vec![],
        },
        status,
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    new_password: String,
    confirm: String,
}

/// The link's page again: an unusable link (400), or the form with its mistakes (422).
async fn reset_page(
    state: &AppState,
    visitor: &Visitor,
    token: String,
    valid: bool,
    errors: Vec<&'static str>,
) -> Result<HttpResponse, AppError> {
    let page = Page::new(state, &visitor.0, "login").await?;
    let status = if valid {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::BAD_REQUEST
    };
    render_with_status(
        &ResetPage {
            page,
            token,
            valid,
            errors,
        },
        status,
    )
}

pub async fn reset(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let Some(reset) = find_valid(&state.db, &token).await? else {
        return reset_page(&state, &visitor, token.into_inner(), false, vec![]).await;
    };
    let mut errors = Vec::new();
    let same = form.new_password == form.confirm;
    let user = user::Entity::find_by_id(reset.user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let personal = [user.email.as_str(), user.display_name.as_str()];
    let password = users::NewPassword::confirmed(&form.new_password, same, &personal, &mut errors);
    let (Some(password), true) = (password, errors.is_empty()) else {
        return reset_page(&state, &visitor, token.into_inner(), true, errors).await;
    };
    let txn = crate::db::begin_write(&state.db).await?;
    if !spend(&txn, reset.id).await? {
        // Used by another submission a moment ago: nothing changes.
        return reset_page(&state, &visitor, token.into_inner(), false, vec![]).await;
    }
    users::set_password(&txn, reset.user_id, &password).await?;
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(reset.user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    state.throttle.record_success(&user.email);
    let target = format!("user:{}", reset.user_id);
    let entry = Entry::by_user(
        None,
        (user.id, user.email),
        "password.reset",
        target,
        &client,
    );
    state.audit.record(&state.db, entry).await?;
    Ok(see_other_with_flash(
        paths::LOGIN.path(),
        "flash.password_reset",
    ))
}

/// Makes a link for the account at `email`, if there is one, and mails it.
/// On failure, what failed (never the error's text: it may quote the address).
async fn send_link(
    state: &AppState,
    email: &EmailAddress,
    fallback: Lang,
) -> Result<(), &'static str> {
    let database = |_| "database";
    let user = users::find_by_email(&state.db, email)
        .await
        .map_err(|_| "database")?;
    let Some(user) = user else {
        return Ok(());
    };
    let txn = crate::db::begin_write(&state.db).await.map_err(database)?;
    let token = create(&txn, user.id).await.map_err(|_| "database")?;
    txn.commit().await.map_err(database)?;
    let tr = crate::web::i18n::Tr::new(super::users::mail_language(&user, fallback));
    let link = state.config.base_url.join(&paths::PASSWORD_RESET.at(token));
    let body = tr.tf(
        "mail.reset_body",
        &[("link", &link), ("minutes", &VALID_FOR_MINUTES.to_string())],
    );
    state
        .mailer
        .send(email, tr.t("mail.reset_subject"), body)
        .await
        .map_err(|error| error.kind())
}
