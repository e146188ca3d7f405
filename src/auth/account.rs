//! `/account`: the signed-in user's own page, with its two forms: the profile (display name,
//! language; `/account/profile`) and the password change (`/account/password`, with a notice
//! mail), and the agent's signature under replies (`/account/signature`, placeholders
//! `{agent_name}` and `{shop_name}`, see `mail::signature`). The second factor and sessions are on `/account/security` (`security.rs`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::users;
use crate::audit::Entry;
use crate::db::entity::{session, user};
use crate::inbox::notifications::Kind;
use crate::inbox::notifications::mail::Preferences;
use crate::mail::signature::Signature;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::i18n::Lang;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, Authenticated, CsrfForm, render};

#[derive(Template)]
#[template(path = "auth/account.html")]
struct AccountPage {
    page: Page,
    display_name: String,
    email: String,
    language: String,
    errors: Vec<&'static str>,
    /// The agent's signature as stored (or as typed when the form came back).
    signature: String,
    /// Which notifications also come by mail (src/inbox/notifications/mail.rs).
    mail_preferences: Vec<MailChoice>,
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
            signature: stored_signature(&state.db, auth.user.id).await?,
            mail_preferences: MailChoice::of(state, auth.user.id).await?,
        })
    }

    fn language_selected(&self, code: &str) -> bool {
        self.language == code
    }
}

/// One check box of the notification mail preferences.
struct MailChoice {
    kind: Kind,
    on: bool,
}

impl MailChoice {
    async fn of(state: &AppState, user_id: i64) -> Result<Vec<Self>, AppError> {
        let preferences = user::Entity::find_by_id(user_id)
            .one(&state.db)
            .await?
            .map(|u| Preferences::of(&u))
            .ok_or(AppError::NotFound)?;
        Ok(Kind::ALL
            .into_iter()
            .map(|kind| MailChoice {
                kind,
                on: preferences.wants(kind),
            })
            .collect())
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
                signature: stored_signature(&state.db, auth.user.id).await?,
                mail_preferences: MailChoice::of(&state, auth.user.id).await?,
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

async fn stored_signature(
    db: &sea_orm::DatabaseConnection,
    user_id: i64,
) -> Result<String, AppError> {
    Ok(user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map(|u| u.signature)
        .unwrap_or_default())
}

#[derive(Deserialize)]
pub struct SignatureForm {
    #[serde(default)]
    signature: String,
}

pub async fn save_signature(
    state: web::Data<AppState>,
    auth: Authenticated,
    CsrfForm(form): CsrfForm<SignatureForm>,
) -> Result<HttpResponse, AppError> {
    let signature = match Signature::parse(&form.signature) {
        Ok(signature) => signature,
        Err(error) => {
            let mut page = AccountPage::of(&state, &auth, vec![error]).await?;
            page.signature = form.signature;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    user::Entity::update_many()
        .col_expr(user::Column::Signature, signature.as_str().into())
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
    let current_ok = users::password_matches(&state.db, auth.user.id, &form.current).await?;
    let mut errors = Vec::new();
    if !current_ok {
        errors.push("form.current_password_wrong");
    }
    let same = form.new_password == form.confirm;
    let personal = [auth.user.email.as_str(), auth.user.display_name.as_str()];
    let new_password =
        users::NewPassword::confirmed(&form.new_password, same, &personal, &mut errors);
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
    let target = format!("user:{}", auth.user.id);
    let entry = Entry::by_user(
        None,
        (auth.user.id, auth.user.email.clone()),
        "password.changed",
        target,
        &client,
    );
    state.audit.record(&state.db, entry).await?;
    super::notices::send(
        state.clone().into_inner(),
        auth.user.id,
        super::notices::Notice::PasswordChanged,
    );
    Ok(see_other_with_flash(
        paths::ACCOUNT.path(),
        "flash.password_changed",
    ))
}
