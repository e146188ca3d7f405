//! Passkeys (WebAuthn): added on `/account/security`, used as the second step and to sign in
//! without a password, removed with the password. Over HTTP with a software authenticator
//! (real P-256 keys, `lethe::crypto::webauthn::testing`), and in Chromium with its virtual
//! authenticator (WebDriver's WebAuthn extension). WebAuthn refuses IP addresses, so these
//! apps are configured as `http://localhost:PORT`.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{AppOptions, PASSWORD, TestApp, csrf_of, location, spawn_app_with};
use lethe::crypto::webauthn::testing::{Authenticator, USER_PRESENT};
use lethe::crypto::webauthn::{b64url, from_b64url};
use lethe::db::entity::{audit_event, passkey, recovery_code};

/// An app whose base URL is `http://localhost:PORT` (the port picked before it starts).
async fn localhost_app() -> (TestApp, String) {
    localhost_app_with(AppOptions::default()).await
}

async fn localhost_app_with(mut options: AppOptions) -> (TestApp, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://localhost:{port}");
    options.extra_env.extend([
        ("LETHE_LISTEN".into(), format!("127.0.0.1:{port}")),
        ("LETHE_BASE_URL".into(), origin.clone()),
    ]);
    (spawn_app_with(options).await, origin)
}

/// The passkey options a page hands to the browser (the form's `data-passkey-options`).
fn options_on(html: &str, form_id: &str) -> Value {
    let form = html
        .find(&format!(r#"id="{form_id}""#))
        .unwrap_or_else(|| panic!("no #{form_id} on the page"));
    let start = html[form..].find(r#"data-passkey-options=""#).unwrap() + form + 22;
    let end = html[start..].find('"').unwrap() + start;
    let text = html[start..end]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap()
}

fn challenge_of(options: &Value) -> Vec<u8> {
    from_b64url(options["challenge"].as_str().unwrap()).unwrap()
}

/// Adds a passkey made by `authenticator` for the signed-in user; the answer.
async fn add(app: &TestApp, authenticator: &mut Authenticator, origin: &str) -> reqwest::Response {
    let page = app.get_text("/account/security").await;
    let options = options_on(&page, "add-passkey");
    authenticator.user_handle = from_b64url(options["user"]["id"].as_str().unwrap()).unwrap();
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["attestation"], "none");
    let (client_data, attestation) = authenticator.create(&challenge_of(&options), origin);
    app.post_with_csrf(
        "/account/security/passkeys",
        &csrf_of(&page),
        &[
            ("name", "Work laptop"),
            ("password", PASSWORD),
            ("client_data", &b64url(&client_data)),
            ("attestation_object", &b64url(&attestation)),
        ],
    )
    .await
}

/// Signs with `authenticator` on `page_path` (its form `form_id`) and posts to `action`.
async fn sign(
    app: &TestApp,
    authenticator: &mut Authenticator,
    origin: &str,
    (page_path, form_id, action): (&str, &str, &str),
) -> reqwest::Response {
    let page = app.get_text(page_path).await;
    let options = options_on(&page, form_id);
    let (client_data, auth_data, signature) = authenticator.get(&challenge_of(&options), origin);
    let credential = b64url(&authenticator.credential_id);
    let fields = [
        ("credential_id", credential.as_str()),
        ("client_data", &b64url(&client_data)),
        ("authenticator_data", &b64url(&auth_data)),
        ("signature", &b64url(&signature)),
        ("user_handle", &b64url(&authenticator.user_handle)),
        ("next", "/inbox"),
    ];
    app.post_with_csrf(action, &csrf_of(&page), &fields).await
}

const SECOND_STEP: (&str, &str, &str) = ("/login/2fa", "passkey-step", "/login/2fa/passkey");
const SIGN_IN: (&str, &str, &str) = ("/login", "passkey-sign-in", "/login/passkey");

async fn logout(app: &TestApp) {
    assert_eq!(app.post_form("/inbox", "/logout", &[]).await.status(), 303);
}

async fn actions(app: &TestApp, action: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_passkey_is_a_second_factor_and_signs_in_without_the_password() {
    // Arrange
    let (app, origin) = localhost_app().await;
    let user_id = app.create_user("anna@shop.test", "Shop", "owner").await;
    assert_eq!(location(&app.login("anna@shop.test").await), "/inbox");
    let mut authenticator = Authenticator::p256("localhost");

    // Act: add it
    let added = add(&app, &mut authenticator, &origin).await;

    // Assert: the first factor of the account comes with recovery codes
    assert_eq!(added.status(), 200);
    let page = added.text().await.unwrap();
    assert_eq!(page.matches(r#"<code class="recovery-code">"#).count(), 10);
    let security = app.get_text("/account/security").await;
    assert!(security.contains("Work laptop"), "the passkey is listed");
    assert_eq!(actions(&app, "passkey.added").await.len(), 1);
    let stored = passkey::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].user_id, user_id);
    assert_eq!(
        stored[0].credential_id,
        b64url(&authenticator.credential_id)
    );
    let handle = from_b64url(&stored[0].user_handle).unwrap();
    assert_eq!(
        handle, authenticator.user_handle,
        "the handle the authenticator keeps"
    );
    assert_eq!(handle.len(), 32, "a keyed digest, not the id or address");

    // Act: the password now leads to the second step, which the passkey passes
    logout(&app).await;
    let login = app.login("anna@shop.test").await;
    assert!(
        location(&login).starts_with("/login/2fa"),
        "{}",
        location(&login)
    );
    let step = app.get_text("/login/2fa").await;
    let options = options_on(&step, "passkey-step");
    assert_eq!(
        options["allowCredentials"][0]["id"].as_str(),
        Some(b64url(&authenticator.credential_id).as_str())
    );
    let signed = sign(&app, &mut authenticator, &origin, SECOND_STEP).await;
    assert_eq!(location(&signed), "/inbox");
    assert_eq!(app.get("/inbox").await.status(), 200, "signed in");

    // Act: without the password
    logout(&app).await;
    let options = options_on(&app.get_text("/login").await, "passkey-sign-in");
    assert_eq!(options["userVerification"], "required");
    assert_eq!(options["allowCredentials"], json!([]));
    let signed = sign(&app, &mut authenticator, &origin, SIGN_IN).await;

    // Assert
    assert_eq!(location(&signed), "/inbox");
    assert_eq!(app.get("/inbox").await.status(), 200, "signed in");
    let used = passkey::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.sign_count, 2, "the counter is kept");
    assert!(used.last_used_at.is_some());
}

#[tokio::test]
async fn signatures_that_are_replayed_cloned_foreign_or_unverified_are_refused() {
    // Arrange
    let (app, origin) = localhost_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    let mut authenticator = Authenticator::p256("localhost");
    assert_eq!(add(&app, &mut authenticator, &origin).await.status(), 200);
    logout(&app).await;
    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 401);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("The passkey was not accepted")
        );
    };

    // Act + Assert: another origin (a phishing site relaying the page)
    let phished = sign(
        &app,
        &mut authenticator,
        "http://localhost.evil.example",
        SIGN_IN,
    )
    .await;
    refused(phished).await;

    // a counter that goes back (a cloned authenticator)
    authenticator.count = 10;
    assert_eq!(
        location(&sign(&app, &mut authenticator, &origin, SIGN_IN).await),
        "/inbox"
    );
    logout(&app).await;
    authenticator.count = 3;
    refused(sign(&app, &mut authenticator, &origin, SIGN_IN).await).await;
    let reasons: Vec<String> = actions(&app, "login.failed")
        .await
        .iter()
        .map(|e| e.details.clone())
        .collect();
    assert!(reasons.iter().any(|d| d.contains("counter")), "{reasons:?}");

    // no user verification: good as a second factor, not instead of the password
    authenticator.count = 20;
    authenticator.flags = USER_PRESENT;
    refused(sign(&app, &mut authenticator, &origin, SIGN_IN).await).await;
    app.login("anna@shop.test").await;
    assert_eq!(
        location(&sign(&app, &mut authenticator, &origin, SECOND_STEP).await),
        "/inbox"
    );
    logout(&app).await;

    // a passkey nobody added
    let mut stranger = Authenticator::p256("localhost");
    refused(sign(&app, &mut stranger, &origin, SIGN_IN).await).await;

    // a challenge used once, even by an answer that failed afterwards: the counter is
    // wrong the first time, right the second, and the second is refused all the same
    authenticator.flags |= lethe::crypto::webauthn::testing::USER_VERIFIED;
    let page = app.get_text("/login").await;
    let challenge = challenge_of(&options_on(&page, "passkey-sign-in"));
    let post = |authenticator: &mut Authenticator| {
        let (client_data, auth_data, signature) = authenticator.get(&challenge, &origin);
        let fields = [
            ("credential_id", b64url(&authenticator.credential_id)),
            ("client_data", b64url(&client_data)),
            ("authenticator_data", b64url(&auth_data)),
            ("signature", b64url(&signature)),
        ];
        let csrf = csrf_of(&page);
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_with_csrf("/login/passkey", &csrf, &fields).await
        }
    };
    authenticator.count = 0;
    refused(post(&mut authenticator).await).await;
    authenticator.count = 100;
    refused(post(&mut authenticator).await).await;
    assert_eq!(app.get("/inbox").await.status(), 303, "not signed in");
    let reasons: Vec<String> = actions(&app, "login.failed")
        .await
        .iter()
        .map(|e| e.details.clone())
        .collect();
    assert!(
        reasons.iter().any(|d| d.contains("challenge")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn adding_and_removing_a_passkey_need_the_password_and_the_last_factor_takes_the_codes() {
    // Arrange
    let smtp = crate::smtp::SmtpRecorder::start().await;
    let (app, origin) = localhost_app_with(AppOptions::with_smtp(smtp.url())).await;
    let user_id = app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    let mut first = Authenticator::p256("localhost");
    let mut second = Authenticator::ed25519("localhost");
    let page = app.get_text("/account/security").await;
    let options = options_on(&page, "add-passkey");
    let (client_data, attestation) = first.create(&challenge_of(&options), &origin);
    let without_password = app
        .post_with_csrf(
            "/account/security/passkeys",
            &csrf_of(&page),
            &[
                ("password", "not the password"),
                ("client_data", &b64url(&client_data)),
                ("attestation_object", &b64url(&attestation)),
            ],
        )
        .await;
    assert_eq!(
        without_password.status(),
        422,
        "adding a passkey needs the password"
    );
    assert_eq!(app.count::<passkey::Entity>().await, 0);
    assert_eq!(add(&app, &mut first, &origin).await.status(), 200);
    let again = add(&app, &mut first, &origin).await;
    assert_eq!(again.status(), 422, "the same passkey twice");
    assert!(again.text().await.unwrap().contains("added already"));
    let added = add(&app, &mut second, &origin).await;
    assert_eq!(
        location(&added),
        "/account/security?flash=flash.passkey_added"
    );
    let ids: Vec<i64> = passkey::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids.len(), 2);
    let remove = |id: i64, password: &'static str| {
        let app = &app;
        async move {
            let path = format!("/account/security/passkeys/{id}/remove");
            app.post_form("/account/security", &path, &[("password", password)])
                .await
        }
    };

    // Act + Assert
    let wrong = remove(ids[0], "not the password").await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(app.count::<passkey::Entity>().await, 2, "nothing removed");
    assert_eq!(
        location(&remove(ids[0], PASSWORD).await),
        "/account/security?flash=flash.passkey_removed"
    );
    let codes_left = || async {
        recovery_code::Entity::find()
            .filter(recovery_code::Column::UserId.eq(user_id))
            .all(&app.state.db)
            .await
            .unwrap()
            .len()
    };
    assert_eq!(codes_left().await, 10, "a factor is left: the codes stay");
    assert_eq!(remove(ids[0], PASSWORD).await.status(), 404, "gone already");
    remove(ids[1], PASSWORD).await;
    assert_eq!(app.count::<passkey::Entity>().await, 0);
    assert_eq!(codes_left().await, 0, "no factor left: no codes either");
    assert_eq!(actions(&app, "passkey.removed").await.len(), 2);
    let mails = smtp.wait_for(4).await;
    let subjects: Vec<&str> = mails
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("Subject: ")))
        .collect();
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.contains("A passkey was added"))
            .count(),
        2,
        "{subjects:?}"
    );
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.contains("A passkey was removed"))
            .count(),
        2,
        "{subjects:?}"
    );
    logout(&app).await;
    assert_eq!(
        location(&app.login("anna@shop.test").await),
        "/inbox",
        "the password alone again"
    );
}

#[tokio::test]
async fn an_instance_on_an_ip_address_offers_no_passkeys() {
    let app = crate::helpers::spawn_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    assert!(!app.get_text("/login").await.contains("data-passkey"));
    app.login("anna@shop.test").await;
    let security = app.get_text("/account/security").await;
    assert!(!security.contains("data-passkey"));
    assert!(security.contains("LETHE_BASE_URL"), "the page says why");
}

/// WebDriver's WebAuthn extension: a CTAP2 authenticator built into the browser that keeps
/// discoverable credentials and verifies the user.
async fn virtual_authenticator(browser: &Browser) -> String {
    let options = json!({
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": true,
        "hasUserVerification": true,
        "isUserVerified": true,
    });
    let id = browser
        .call(
            reqwest::Method::POST,
            "/webauthn/authenticator",
            Some(options),
        )
        .await;
    id.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn passkeys_work_in_chromium_with_its_virtual_authenticator() {
    // Arrange
    let (app, origin) = localhost_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    let browser = Browser::start().await;
    let authenticator = virtual_authenticator(&browser).await;
    browser.goto(&format!("{origin}/login")).await;
    browser.type_into("#email", "anna@shop.test").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form.stack button[type=submit]").await;
    browser
        .wait_until("the inbox", |url, _| url.ends_with("/inbox"))
        .await;

    // Act: add a passkey on the security page
    browser.goto(&format!("{origin}/account/security")).await;
    browser.type_into("#passkey-name", "Chromium").await;
    browser.type_into("#passkey-password", PASSWORD).await;
    browser.click("#add-passkey button[type=submit]").await;
    let codes = browser
        .wait_until("the recovery codes", |_, page| {
            page.contains("recovery-code")
        })
        .await;

    // Assert
    assert_eq!(codes.matches(r#"class="recovery-code""#).count(), 10);
    let credentials = browser
        .call(
            reqwest::Method::GET,
            &format!("/webauthn/authenticator/{authenticator}/credentials"),
            None,
        )
        .await;
    assert_eq!(credentials.as_array().unwrap().len(), 1);
    assert_eq!(credentials[0]["isResidentCredential"], true);
    let stored = passkey::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, "Chromium");
    assert_eq!(
        from_b64url(credentials[0]["credentialId"].as_str().unwrap()),
        from_b64url(&stored.credential_id),
        "the browser's credential is the one stored"
    );

    // Act: the second step after the password
    browser.click("header form[action='/logout'] button").await;
    browser
        .wait_until("signed out", |url, _| url.contains("/login"))
        .await;
    browser.type_into("#email", "anna@shop.test").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form.stack button[type=submit]").await;
    browser
        .wait_until("the second step", |url, _| url.contains("/login/2fa"))
        .await;
    browser.click("#passkey-step button[type=submit]").await;
    browser
        .wait_until("the inbox after the passkey", |url, _| {
            url.ends_with("/inbox")
        })
        .await;

    // Act: signing in with the passkey alone
    browser.click("header form[action='/logout'] button").await;
    browser
        .wait_until("signed out", |url, _| url.contains("/login"))
        .await;
    browser.click("#passkey-sign-in button[type=submit]").await;
    let inbox = browser
        .wait_until("the inbox without a password", |url, _| {
            url.ends_with("/inbox")
        })
        .await;

    // Assert
    assert!(inbox.contains("Shop"));
    let used = passkey::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(used.last_used_at.is_some());
    assert_eq!(actions(&app, "login.succeeded").await.len(), 3);
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "the browser reported errors (CSP?): {errors:?}"
    );
    browser.quit().await;
}

#[tokio::test]
async fn reset_2fa_removes_the_passkeys_of_a_lost_device() {
    // Arrange
    let (app, origin) = localhost_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    let mut authenticator = Authenticator::p256("localhost");
    assert_eq!(add(&app, &mut authenticator, &origin).await.status(), 200);

    // Act
    let mut command = app.lethe();
    command.args(["user", "reset-2fa", "--email", "anna@shop.test"]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();

    // Assert
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(app.count::<passkey::Entity>().await, 0);
    assert_eq!(app.count::<recovery_code::Entity>().await, 0);
    assert_eq!(
        location(&app.login("anna@shop.test").await),
        "/inbox",
        "the password alone"
    );
    refused_sign_in(&app, &mut authenticator, &origin).await;
}

async fn refused_sign_in(app: &TestApp, authenticator: &mut Authenticator, origin: &str) {
    logout(app).await;
    let response = sign(app, authenticator, origin, SIGN_IN).await;
    assert_eq!(
        response.status(),
        401,
        "the removed passkey signs in no more"
    );
}

#[tokio::test]
async fn a_passkey_meets_the_organizations_policy_and_can_be_the_factor_it_asks_for() {
    // Arrange: the owner's passkey lets them require a factor of everyone
    let (app, origin) = localhost_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let mut owners = Authenticator::p256("localhost");
    assert_eq!(add(&app, &mut owners, &origin).await.status(), 200);
    let saved = app
        .post_form(
            "/settings/organization",
            "/settings/organization/two-factor",
            &[("policy", "everyone")],
        )
        .await;
    assert!(
        !location(&saved).contains("yourself_first"),
        "{}",
        location(&saved)
    );
    let agent = app.another_browser();

    // Act: the agent, who has no factor, sets up a passkey at sign-in
    let login = agent.login("agent@shop.test").await;
    assert!(
        location(&login).starts_with("/login/2fa"),
        "{}",
        location(&login)
    );
    let setup = agent.get_text("/login/2fa/setup").await;
    let options = options_on(&setup, "add-passkey");
    let agents = Authenticator::p256("localhost");
    let (client_data, attestation) = agents.create(&challenge_of(&options), &origin);
    let done = agent
        .post_with_csrf(
            "/login/2fa/setup/passkey",
            &csrf_of(&setup),
            &[
                ("client_data", &b64url(&client_data)),
                ("attestation_object", &b64url(&attestation)),
                ("next", "/inbox"),
            ],
        )
        .await;

    // Assert
    assert_eq!(done.status(), 200);
    let page = done.text().await.unwrap();
    assert_eq!(page.matches(r#"<code class="recovery-code">"#).count(), 10);
    assert_eq!(agent.get("/inbox").await.status(), 200, "signed in");
    assert_eq!(app.count::<passkey::Entity>().await, 2);
    logout(&agent).await;
    let again = agent.login("agent@shop.test").await;
    assert!(
        location(&again).starts_with("/login/2fa?"),
        "the next sign-in asks for the passkey, not a setup: {}",
        location(&again)
    );
}
