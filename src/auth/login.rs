//! Pages: `/login`, `/logout`, `/setup/{token}`, `/account`, `/password/forgot`,
//! `/password/reset/{token}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::{password_reset, users};
use crate::audit::{Actor, Entry};
use crate::crypto::verify_password;
use crate::db::entity::{session, user};
use crate::mail::EmailAddress;
use crate::orgs::queries as orgs;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::forms::NoFields;
use crate::web::i18n::Lang;
use crate::web::page::{Page, render_with_status, safe_next, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, Authenticated, CsrfForm, Visitor, render, see_other};

/// Verifying against this hash when the account does not exist keeps the answer time the
/// same, so timing does not tell which addresses have accounts.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::crypto::hash_password("no such account").unwrap_or_default()
});

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    page: Page,
    email: String,
    next: String,
    error: Option<&'static str>,
    setup_open: bool,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if visitor.0.user.is_some() {
        return Ok(see_other(&next));
    }
    let page = Page::new(&state, &visitor.0, "login").await?;
    render(&LoginPage {
        page,
        email: String::new(),
        next,
        error: None,
        setup_open: users::count(&state.db).await? == 0,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next.as_deref());
    let address = client.ip.as_deref();
    let failure = |key: &'static str, status: StatusCode| {
        let state = state.clone();
        let visitor = &visitor;
        let email = form.email.clone();
        let next = next.clone();
        async move {
            let page = Page::new(&state, &visitor.0, "login").await?;
            render_with_status(
                &LoginPage {
                    page,
                    email,
                    next,
                    error: Some(key),
                    setup_open: false,
                },
                status,
            )
        }
    };
    if state.throttle.is_blocked(&form.email, address) {
        return failure("login.throttled", StatusCode::TOO_MANY_REQUESTS).await;
    }
    let found = match EmailAddress::parse(&form.email) {
        Ok(email) => users::find_by_email(&state.db, &email).await?,
        Err(_) => None,
    };
    let password = form.password.clone();
    let stored = found
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let matches = web::block(move || verify_password(&password, &stored))
        .await
        .map_err(AppError::internal)?;
    let Some(user) = found.clone().filter(|_| matches) else {
        state.throttle.record_failure(&form.email, address);
        // A known account's failures show in each of its organizations' logs; an unknown
        // address is recorded under no organization, and never the typed address.
        let (orgs_of_user, target) = match &found {
            Some(user) => (
                orgs::organizations_of(&state.db, user.id).await?,
                format!("user:{}", user.id),
            ),
            None => (Vec::new(), "account".to_owned()),
        };
        let orgs_or_none: Vec<Option<crate::orgs::OrgId>> = if orgs_of_user.is_empty() {
            vec![None]
        } else {
            orgs_of_user.into_iter().map(Some).collect()
        };
        for org in orgs_or_none {
            state
                .audit
                .record(
                    &state.db,
                    Entry {
                        org,
                        actor: Actor::Anonymous,
                        action: "login.failed",
                        target: target.clone(),
                        client: Some(&client),
                        details: serde_json::json!({}),
                    },
                )
                .await?;
        }
        return failure("login.failed", StatusCode::UNAUTHORIZED).await;
    };
    state.throttle.record_success(&form.email);
    let first_org = orgs::first_membership(&state.db, user.id).await?;
    visitor
        .0
        .start_authenticated(&state, user.id, first_org)
        .await?;
    user::Entity::update_many()
        .col_expr(user::Column::LastLoginAt, Utc::now().into())
        .filter(user::Column::Id.eq(user.id))
        .exec(&state.db)
        .await?;
    state
        .audit
        .record(
            &state.db,
            Entry {
                org: first_org,
                actor: Actor::User {
                    id: user.id,
                    email: user.email.clone(),
                },
                action: "login.succeeded",
                target: format!("user:{}", user.id),
                client: Some(&client),
                details: serde_json::json!({}),
            },
        )
        .await?;
    Ok(see_other(&next))
}

pub async fn logout(
    state: web::Data<AppState>,
    visitor: Visitor,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    visitor.0.end(&state).await?;
    Ok(see_other_with_flash(
        paths::LOGIN.path(),
        "flash.logged_out",
    ))
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    page: Page,
    token: String,
    form: SetupForm,
    errors: Vec<&'static str>,
}

#[derive(Deserialize, Default, Clone)]
pub struct SetupForm {
    organization: String,
    display_name: String,
    email: String,
    password: String,
    password_confirm: String,
}

pub async fn setup_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    if !state.setup.matches(&token) || users::count(&state.db).await? > 0 {
        return Err(AppError::NotFound);
    }
    let page = Page::new(&state, &visitor.0, "setup").await?;
    render(&SetupPage {
        page,
        token: token.into_inner(),
        form: SetupForm::default(),
        errors: vec![],
    })
}

pub async fn setup(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<SetupForm>,
) -> Result<HttpResponse, AppError> {
    if !state.setup.matches(&token) || users::count(&state.db).await? > 0 {
        return Err(AppError::NotFound);
    }
    let mut errors = Vec::new();
    let org_name = orgs::OrgName::parse(&form.organization)
        .map_err(|e| errors.push(e))
        .ok();
    let display_name = users::parse_display_name(&form.display_name)
        .map_err(|e| errors.push(e))
        .ok();
    let email = EmailAddress::parse(&form.email)
        .map_err(|_| errors.push("form.email_invalid"))
        .ok();
    let same = form.password == form.password_confirm;
    let password = users::NewPassword::confirmed(&form.password, same, &mut errors);
    let (Some(org_name), Some(display_name), Some(email), Some(password), true) =
        (org_name, display_name, email, password, errors.is_empty())
    else {
        let page = Page::new(&state, &visitor.0, "setup").await?;
        let form = SetupForm {
            password: String::new(),
            password_confirm: String::new(),
            ..form
        };
        return render_with_status(
            &SetupPage {
                page,
                token: token.into_inner(),
                form,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let founds = orgs::Joining::Founds(&org_name);
    let (user, org) = orgs::create_user_in(&txn, &email, &password, &display_name, founds).await?;
    txn.commit().await?;
    state.setup.close();
    visitor
        .0
        .start_authenticated(&state, user.id, Some(org))
        .await?;
    state
        .audit
        .record(
            &state.db,
            Entry {
                org: Some(org),
                actor: Actor::User {
                    id: user.id,
                    email: user.email.clone(),
                },
                action: "setup.completed",
                target: format!("organization:{org}"),
                client: Some(&client),
                details: serde_json::json!({}),
            },
        )
        .await?;
    tracing::info!(organization = %org, "first owner and organization created");
    Ok(see_other_with_flash(paths::INBOX.path(), "flash.welcome"))
}

#[derive(Template)]
#[template(path = "auth/account.html")]
struct AccountPage {
    page: Page,
    display_name: String,
    email: String,
    language: String,
    errors: Vec<&'static str>,
}

impl AccountPage {
    /// The page with the account as stored, and the mistakes of a form just sent.
    async fn of(
        state: &AppState,
        auth: &Authenticated,
        errors: Vec<&'static str>,
    ) -> Result<Self, AppError> {
        Ok(Self {
            page: Page::new(state, &auth.session, "account").await?,
            display_name: auth.user.display_name.clone(),
            email: auth.user.email.clone(),
            language: auth
                .user
                .language
                .map(|l| l.code().to_owned())
                .unwrap_or_default(),
            errors,
        })
    }

    fn language_selected(&self, code: &str) -> bool {
        self.language == code
    }
}

pub async fn account(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, AppError> {
    render(&AccountPage::of(&state, &auth, vec![]).await?)
}

#[derive(Deserialize)]
pub struct ProfileForm {
    display_name: String,
    language: String,
}

pub async fn update_profile(
    state: web::Data<AppState>,
    auth: Authenticated,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = Vec::new();
    let name = users::parse_display_name(&form.display_name)
        .map_err(|e| errors.push(e))
        .ok();
    let language = match form.language.as_str() {
        "" => Ok(None),
        code => Lang::from_code(code)
            .map(Some)
            .ok_or("form.language_invalid"),
    }
    .map_err(|e| errors.push(e))
    .ok();
    let (Some(name), Some(language)) = (name, language) else {
        let page = Page::new(&state, &auth.session, "account").await?;
        return render_with_status(
            &AccountPage {
                page,
                display_name: form.display_name,
                email: auth.user.email.clone(),
                language: form.language,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    user::Entity::update_many()
        .col_expr(user::Column::DisplayName, name.into())
        .col_expr(
            user::Column::Language,
            language.map(|l| l.code().to_owned()).into(),
        )
        .filter(user::Column::Id.eq(auth.user.id))
        .exec(&state.db)
        .await?;
    Ok(see_other_with_flash(paths::ACCOUNT.path(), "flash.saved"))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new_password: String,
    confirm: String,
}

pub async fn change_password(
    state: web::Data<AppState>,
    auth: Authenticated,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let stored = user::Entity::find_by_id(auth.user.id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?
        .password_hash;
    let current = form.current.clone();
    let current_ok = web::block(move || verify_password(&current, &stored))
        .await
        .map_err(AppError::internal)?;
    let mut errors = Vec::new();
    if !current_ok {
        errors.push("form.current_password_wrong");
    }
    let same = form.new_password == form.confirm;
    let new_password = users::NewPassword::confirmed(&form.new_password, same, &mut errors);
    let (Some(new_password), true) = (new_password, errors.is_empty()) else {
        let page = AccountPage::of(&state, &auth, errors).await?;
        return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    users::set_password(&state.db, auth.user.id, &new_password).await?;
    // Other sessions of this user end; this one is replaced by a fresh id.
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(auth.user.id))
        .exec(&state.db)
        .await?;
    let org = auth.session.org.as_ref().map(|o| o.id);
    auth.session
        .start_authenticated(&state, auth.user.id, org)
        .await?;
    state
        .audit
        .record(
            &state.db,
            Entry {
                org: None,
                actor: Actor::User {
                    id: auth.user.id,
                    email: auth.user.email.clone(),
                },
                action: "password.changed",
                target: format!("user:{}", auth.user.id),
                client: Some(&client),
                details: serde_json::json!({}),
            },
        )
        .await?;
    Ok(see_other_with_flash(
        paths::ACCOUNT.path(),
        "flash.password_changed",
    ))
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
    // The same answer whether or not the account exists; throttled like logins.
    if !state.throttle.is_blocked(&form.email, client.ip.as_deref())
        && let Ok(email) = EmailAddress::parse(&form.email)
    {
        state
            .throttle
            .record_failure(&form.email, client.ip.as_deref());
        if let Some(user) = users::find_by_email(&state.db, &email).await? {
            let token = password_reset::create(&state.db, user.id).await?;
            let tr = crate::web::i18n::Tr::new(
                user.language
                    .as_deref()
                    .and_then(Lang::from_code)
                    .unwrap_or(visitor.0.lang),
            );
            let link = state.config.base_url.join(&paths::PASSWORD_RESET.at(token));
            let body = tr.tf(
                "mail.reset_body",
                &[
                    ("link", &link),
                    ("minutes", &password_reset::VALID_FOR_MINUTES.to_string()),
                ],
            );
            if let Err(error) = state
                .mailer
                .send(&email, tr.t("mail.reset_subject"), body)
                .await
            {
                tracing::error!(reason = error.kind(), "password reset mail not sent");
            }
        }
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
    let valid = password_reset::find_valid(&state.db, &token)
        .await?
        .is_some();
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

pub async fn reset(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let Some(reset) = password_reset::find_valid(&state.db, &token).await? else {
        let page = Page::new(&state, &visitor.0, "login").await?;
        return render_with_status(
            &ResetPage {
                page,
                token: token.into_inner(),
                valid: false,
                errors: vec![],
            },
            StatusCode::BAD_REQUEST,
        );
    };
    let mut errors = Vec::new();
    let same = form.new_password == form.confirm;
    let password = users::NewPassword::confirmed(&form.new_password, same, &mut errors);
    let (Some(password), true) = (password, errors.is_empty()) else {
        let page = Page::new(&state, &visitor.0, "login").await?;
        return render_with_status(
            &ResetPage {
                page,
                token: token.into_inner(),
                valid: true,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let txn = crate::db::begin_write(&state.db).await?;
    users::set_password(&txn, reset.user_id, &password).await?;
    password_reset::mark_used(&txn, reset.id).await?;
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(reset.user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let user = user::Entity::find_by_id(reset.user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    state.throttle.record_success(&user.email);
    state
        .audit
        .record(
            &state.db,
            Entry {
                org: None,
                actor: Actor::User {
                    id: user.id,
                    email: user.email,
                },
                action: "password.reset",
                target: format!("user:{}", reset.user_id),
                client: Some(&client),
                details: serde_json::json!({}),
            },
        )
        .await?;
    Ok(see_other_with_flash(
        paths::LOGIN.path(),
        "flash.password_reset",
    ))
}
