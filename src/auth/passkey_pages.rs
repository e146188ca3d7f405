//! Passkeys on `/account/security`: the list, adding one (`POST /account/security/passkeys`,
//! with what the browser's `navigator.credentials.create()` returned) and removing one with
//! the password (`POST /account/security/passkeys/{id}/remove`). Also the options each page
//! hands to the browser (the security page, the second step, the sign-in page).
//!
//! Passkeys need JavaScript (the browser API has no form equivalent): the forms are hidden
//! until `assets/js/app.js` finds WebAuthn, and everything else works without it. They need
//! `LETHE_BASE_URL` to name a domain (browsers refuse WebAuthn on an IP address).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use sea_orm::EntityTrait;
use serde::Deserialize;

use super::notices::{self, Notice};
use super::passkeys::{self, Binding, Ceremony, PasskeyError, Registration};
use super::security::render_page;
use super::{enrolment, two_factor, users};
use crate::audit::Actor;
use crate::crypto::webauthn::RelyingParty;
use crate::db::entity::passkey;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::session::SessionState;
use crate::web::{AppError, Authenticated, CsrfForm};

/// This instance as a relying party; None when `LETHE_BASE_URL` names an IP address.
pub fn relying_party(state: &AppState) -> Option<RelyingParty> {
    RelyingParty::from_url(state.config.base_url.as_str())
}

/// A passkey as the security page lists it.
pub struct PasskeyView {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub synced: bool,
}

/// The security page's passkeys: the list, and the options of adding one (JSON, for
/// `app.js`; None when this instance cannot offer passkeys).
pub struct PasskeySection {
    pub passkeys: Vec<PasskeyView>,
    pub options: Option<String>,
}

pub async fn section(state: &AppState, auth: &Authenticated) -> Result<PasskeySection, AppError> {
    let stored = passkeys::of_user(&state.db, auth.user.id).await?;
    let display = if auth.user.display_name.is_empty() {
        &auth.user.email
    } else {
        &auth.user.display_name
    };
    let options = creation_options(
        state,
        &auth.session,
        auth.user.id,
        (&auth.user.email, display),
        &stored,
    );
    let passkeys = stored
        .into_iter()
        .map(|p| PasskeyView {
            id: p.id,
            name: p.name,
            created_at: p.created_at.format("%Y-%m-%d").to_string(),
            last_used_at: p
                .last_used_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            synced: p.backup_eligible,
        })
        .collect();
    Ok(PasskeySection { passkeys, options })
}

/// The options of adding a passkey for `user_id` (named `(email, display name)` in the
/// authenticator), JSON for `app.js`; None when this instance cannot offer passkeys.
pub fn creation_options(
    state: &AppState,
    session: &SessionState,
    user_id: i64,
    (email, display): (&str, &str),
    existing: &[passkey::Model],
) -> Option<String> {
    let rp = relying_party(state)?;
    let session = session.row_id()?;
    let binding = Binding {
        ceremony: Ceremony::Register,
        session: &session,
        user_id: Some(user_id),
    };
    let challenge = binding.issue(&state.sealer, Utc::now());
    let handle = passkeys::user_handle(&state.sealer, user_id);
    let options = passkeys::creation_options(&rp, &challenge, &handle, email, display, existing);
    Some(options.to_string())
}

/// The options of signing with a passkey on the second step (the user's passkeys) or on the
/// sign-in page (`user_id` None: any passkey of this site); None when there is nothing to
/// offer.
pub async fn request_options(
    state: &AppState,
    session: &SessionState,
    user_id: Option<i64>,
) -> Result<Option<String>, AppError> {
    let Some(rp) = relying_party(state) else {
        return Ok(None);
    };
    let allowed = match user_id {
        Some(id) => {
            let stored = passkeys::of_user(&state.db, id).await?;
            if stored.is_empty() {
                return Ok(None);
            }
            stored
        }
        None => Vec::new(),
    };
    // The page has made the session (for its CSRF token) before asking.
    let Some(session) = session.row_id() else {
        return Ok(None);
    };
    let ceremony = if user_id.is_some() {
        Ceremony::SecondStep
    } else {
        Ceremony::SignIn
    };
    let binding = Binding {
        ceremony,
        session: &session,
        user_id,
    };
    let challenge = binding.issue(&state.sealer, Utc::now());
    Ok(Some(
        passkeys::request_options(&rp, &challenge, &allowed).to_string(),
    ))
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    client_data: String,
    #[serde(default)]
    attestation_object: String,
    /// On the security page, the current password: a session alone (a browser left open)
    /// must not be enough to give someone a way in without the password.
    #[serde(default)]
    password: String,
    /// Where to go after the required setup at sign-in.
    #[serde(default)]
    next: Option<String>,
}

impl AddForm {
    pub(super) fn next(&self) -> Option<&str> {
        self.next.as_deref()
    }

    fn registration(&self) -> Registration<'_> {
        Registration {
            client_data: &self.client_data,
            attestation_object: &self.attestation_object,
            name: &self.name,
        }
    }
}

/// A passkey added: its first-factor recovery codes, when it is the account's first factor.
pub(super) struct Added {
    pub recovery_codes: Option<Vec<String>>,
}

/// Checks and stores the passkey the browser made for `user_id` in this session, with the
/// recovery codes when it is the account's first factor; audits it and sends the notice.
/// `Ok(Err(key))`: refused, with the message to show.
pub(super) async fn register(
    state: &web::Data<AppState>,
    session: &SessionState,
    (user_id, email): (i64, &str),
    form: &AddForm,
    client: &ClientInfo,
) -> Result<Result<Added, &'static str>, AppError> {
    let (Some(rp), Some(session)) = (relying_party(state), session.row_id()) else {
        return Err(AppError::NotFound);
    };
    let had_factor = two_factor::has_factor(&state.db, user_id).await?;
    let binding = Binding {
        ceremony: Ceremony::Register,
        session: &session,
        user_id: Some(user_id),
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let now = Utc::now();
    let added = passkeys::register(
        &txn,
        &state.sealer,
        &rp,
        &binding,
        user_id,
        form.registration(),
        now,
    )
    .await;
    let added = match added {
        Ok(added) => added,
        Err(PasskeyError::Database(error)) => return Err(error.into()),
        Err(refused) => {
            tracing::info!(reason = refused.reason(), "a new passkey was refused");
            return Ok(Err(if matches!(refused, PasskeyError::Registered) {
                "security.passkeys.registered"
            } else {
                "security.passkeys.refused"
            }));
        }
    };
    let recovery_codes = if had_factor {
        None
    } else {
        Some(two_factor::replace_recovery_codes(&txn, user_id, now).await?)
    };
    txn.commit().await?;
    let actor = Actor::User {
        id: user_id,
        email: email.to_owned(),
    };
    let details = serde_json::json!({ "passkey": added.id, "synced": added.backup_eligible });
    two_factor::audit_account(
        state,
        user_id,
        actor,
        "passkey.added",
        Some(client),
        details,
    )
    .await?;
    notices::send(state.clone().into_inner(), user_id, Notice::PasskeyAdded);
    Ok(Ok(Added { recovery_codes }))
}

/// `POST /account/security/passkeys`: stores the passkey the browser made. The first factor
/// of an account comes with its recovery codes, shown once.
pub async fn add(
    state: web::Data<AppState>,
    auth: Authenticated,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<HttpResponse, AppError> {
    let address = client.ip.as_deref();
    if state.throttle.is_blocked(&auth.user.email, address) {
        let status = StatusCode::TOO_MANY_REQUESTS;
        return render_page(&state, &auth, Some("login.throttled"), status).await;
    }
    if !users::password_matches(&state.db, auth.user.id, &form.password).await? {
        state.throttle.record_failure(&auth.user.email, address);
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        let key = Some("security.passkeys.password_wrong");
        return render_page(&state, &auth, key, status).await;
    }
    let user = (auth.user.id, auth.user.email.as_str());
    let added = match register(&state, &auth.session, user, &form, &client).await? {
        Ok(added) => added,
        Err(key) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_page(&state, &auth, Some(key), status).await;
        }
    };
    match added.recovery_codes {
        Some(codes) => {
            enrolment::recovery_codes_page(
                &state,
                &auth.session,
                codes,
                paths::ACCOUNT_SECURITY.path().to_owned(),
            )
            .await
        }
        None => Ok(see_other_with_flash(
            paths::ACCOUNT_SECURITY.path(),
            "flash.passkey_added",
        )),
    }
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    password: String,
}

/// `POST /account/security/passkeys/{id}/remove`: with the password.
pub async fn remove(
    state: web::Data<AppState>,
    auth: Authenticated,
    client: ClientInfo,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<RemoveForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let owned = passkey::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|p| p.user_id == auth.user.id)
        .ok_or(AppError::NotFound)?;
    let address = client.ip.as_deref();
    if state.throttle.is_blocked(&auth.user.email, address) {
        let status = StatusCode::TOO_MANY_REQUESTS;
        return render_page(&state, &auth, Some("login.throttled"), status).await;
    }
    if !users::password_matches(&state.db, auth.user.id, &form.password).await? {
        state.throttle.record_failure(&auth.user.email, address);
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render_page(
            &state,
            &auth,
            Some("security.passkeys.remove_refused"),
            status,
        )
        .await;
    }
    let txn = crate::db::begin_write(&state.db).await?;
    passkeys::remove(&txn, auth.user.id, owned.id).await?;
    // Recovery codes belong to the second factor: with the last factor they go too.
    let factor_left = two_factor::has_factor(&txn, auth.user.id).await?;
    if !factor_left {
        two_factor::remove(&txn, auth.user.id).await?;
    }
    txn.commit().await?;
    let actor = Actor::User {
        id: auth.user.id,
        email: auth.user.email.clone(),
    };
    two_factor::audit_account(
        &state,
        auth.user.id,
        actor,
        "passkey.removed",
        Some(&client),
        serde_json::json!({ "passkey": owned.id, "factor_left": factor_left }),
    )
    .await?;
    notices::send(
        state.clone().into_inner(),
        auth.user.id,
        Notice::PasskeyRemoved,
    );
    if !factor_left && two_factor::required_for(&state.db, auth.user.id).await? {
        two_factor::end_sessions(&state.db, auth.user.id).await?;
        return Ok(see_other_with_flash(
            paths::LOGIN.path(),
            "flash.two_factor_removed_required",
        ));
    }
    Ok(see_other_with_flash(
        paths::ACCOUNT_SECURITY.path(),
        "flash.passkey_removed",
    ))
}
