//! `/account/security/two-factor`: setting up the second factor. The page shows the secret as
//! base32 text, as an `otpauth://` URI and as a QR code of it drawn here as inline SVG (no
//! image from another host), and asks for a
//! current code to confirm; the confirmation answers with the ten recovery codes, shown once.
//! The same page serves the enrolment a policy asks for at sign-in (`second_step.rs`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::notices::{self, Notice};
use super::{passkey_pages, two_factor};
use crate::audit::Actor;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::page::{Page, render_with_status, see_other};
use crate::web::paths;
use crate::web::session::SessionState;
use crate::web::{AppError, Authenticated, CsrfForm};

#[derive(Template)]
#[template(path = "auth/enrolment.html")]
struct EnrolmentPage {
    page: Page,
    secret: String,
    uri: String,
    /// The URI as a QR code: an inline SVG made here (no image from anywhere else).
    qr: Option<String>,
    /// Where the confirmation is posted.
    action: &'static str,
    next: String,
    error: Option<&'static str>,
    /// At sign-in, because the organization requires it.
    required: bool,
    /// At sign-in, the options of adding a passkey instead (JSON, for `app.js`).
    passkey_options: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/recovery_codes.html")]
struct RecoveryCodesPage {
    page: Page,
    codes: Vec<String>,
    continue_to: String,
}

/// The enrolment page of `user_id` (its secret made when there is none yet); the security
/// page instead when the user has a factor already.
#[allow(clippy::too_many_arguments)]
pub(super) async fn enrolment_page(
    state: &AppState,
    session: &SessionState,
    user_id: i64,
    account: &str,
    action: &'static str,
    next: String,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let Some(secret) = two_factor::enrolment_secret(&state.db, &state.sealer, user_id).await?
    else {
        return Ok(see_other(paths::ACCOUNT_SECURITY.path()));
    };
    let uri = secret.otpauth_uri(two_factor::ISSUER, account);
    let required = action == paths::LOGIN_TWO_FACTOR_SETUP.path();
    let page = Page::new(state, session, "account").await?;
    let passkey_options = if required {
        passkey_pages::creation_options(state, session, user_id, (account, account), &[])
    } else {
        None
    };
    let page = EnrolmentPage {
        page,
        qr: qr_svg(&uri),
        uri,
        secret: group(&secret.to_base32()),
        action,
        next,
        error,
        required,
        passkey_options,
    };
    render_with_status(&page, status)
}

/// `text` as a QR code in an inline SVG element. Its markup is the crate's own (the text is
/// only in the modules' pattern), so it is safe to put in the page unescaped.
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen("<svg ", r#"<svg role="img" aria-hidden="true" "#, 1))
}

/// The base32 secret in groups of four, easier to type.
fn group(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The ten new recovery codes, shown this once.
pub(super) async fn recovery_codes_page(
    state: &AppState,
    session: &SessionState,
    codes: Vec<String>,
    continue_to: String,
) -> Result<HttpResponse, AppError> {
    let page = RecoveryCodesPage {
        page: Page::new(state, session, "account").await?,
        codes,
        continue_to,
    };
    render_with_status(&page, StatusCode::OK)
}

/// Audits a new factor in each of the user's organizations and mails the notice.
pub(super) async fn record_enabled(
    state: &web::Data<AppState>,
    user_id: i64,
    email: String,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let actor = Actor::User { id: user_id, email };
    let details = serde_json::json!({ "recovery_codes": two_factor::RECOVERY_CODES });
    two_factor::audit_account(
        state,
        user_id,
        actor,
        "two_factor.enabled",
        Some(client),
        details,
    )
    .await?;
    notices::send(state.clone().into_inner(), user_id, Notice::FactorAdded);
    Ok(())
}

/// `GET /account/security/two-factor`.
pub async fn enrol_form(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, AppError> {
    let action = paths::ACCOUNT_TWO_FACTOR.path();
    enrolment_page(
        &state,
        &auth.session,
        auth.user.id,
        &auth.user.email,
        action,
        String::new(),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    code: String,
    #[serde(default)]
    next: Option<String>,
}

impl ConfirmForm {
    pub(super) fn code(&self) -> &str {
        &self.code
    }

    pub(super) fn next(&self) -> Option<&str> {
        self.next.as_deref()
    }
}

/// `POST /account/security/two-factor`: confirms with a current code.
pub async fn confirm(
    state: web::Data<AppState>,
    auth: Authenticated,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let confirmed = two_factor::confirm(
        &state.db,
        &state.sealer,
        auth.user.id,
        &form.code,
        Utc::now(),
    )
    .await?;
    let Some(codes) = confirmed else {
        if two_factor::has_totp(&state.db, auth.user.id).await? {
            return Ok(see_other(paths::ACCOUNT_SECURITY.path()));
        }
        return enrolment_page(
            &state,
            &auth.session,
            auth.user.id,
            &auth.user.email,
            paths::ACCOUNT_TWO_FACTOR.path(),
            String::new(),
            Some("security.code_wrong"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    record_enabled(&state, auth.user.id, auth.user.email.clone(), &client).await?;
    recovery_codes_page(
        &state,
        &auth.session,
        codes,
        paths::ACCOUNT_SECURITY.path().to_owned(),
    )
    .await
}
