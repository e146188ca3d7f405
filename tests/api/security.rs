//! The second factor (TOTP and recovery codes), the second step of signing in, the owner's
//! policy, the sessions list, `lethe user reset-2fa` and notice mails — through the real
//! server over HTTP, as a browser uses them, with codes computed here from the secret the
//! enrolment page shows.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{AppOptions, PASSWORD, TestApp, location, spawn_app, spawn_app_with};
use crate::smtp::SmtpRecorder;
use lethe::crypto::totp::{TotpSecret, step_of};
use lethe::db::entity::audit_event;

/// The test's authenticator app: the secret from the enrolment page, and the newest step it
/// gave a code for (the server takes each step once).
struct Authenticator {
    secret: TotpSecret,
    last: Option<i64>,
}

impl Authenticator {
    /// A code the server has not seen, valid for at least 30 seconds.
    async fn fresh_code(&mut self) -> String {
        loop {
            let now = step_of(chrono::Utc::now().timestamp());
            let step = self.last.map_or(now, |last| (last + 1).max(now));
            if step <= now + 1 {
                self.last = Some(step);
                return self.secret.code_at_step(step).to_string();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// A code of a step the server accepted already.
    fn used_code(&self) -> String {
        self.secret
            .code_at_step(self.last.expect("a code was used"))
            .to_string()
    }
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).expect("start marker") + start.len();
    let to = html[from..].find(end).expect("end marker") + from;
    &html[from..to]
}

fn recovery_codes_on(html: &str) -> Vec<String> {
    regex::Regex::new(r#"<code class="recovery-code">([a-z0-9-]+)</code>"#)
        .unwrap()
        .captures_iter(html)
        .map(|c| c[1].to_owned())
        .collect()
}

/// Sets up a second factor for the signed-in user of `app` on `/account/security`; the
/// authenticator and the recovery codes shown.
async fn enrol(app: &TestApp) -> (Authenticator, Vec<String>) {
    let page = app.get_text("/account/security/two-factor").await;
    let secret = between(&page, r#"<code id="totp-secret">"#, "</code>");
    let uri = between(&page, r#"<code id="totp-uri" class="break">"#, "</code>");
    assert!(uri.starts_with("otpauth://totp/Lethe:"), "{uri}");
    assert!(uri.contains(&format!("secret={}", secret.replace(' ', ""))));
    assert!(
        page.contains(r#"<div class="qr" id="totp-qr"><svg "#),
        "a QR code drawn in the page"
    );
    let mut authenticator = Authenticator {
        secret: TotpSecret::from_base32(secret).expect("a base32 secret"),
        last: None,
    };
    let code = authenticator.fresh_code().await;
    let confirmed = app
        .post_form(
            "/account/security/two-factor",
            "/account/security/two-factor",
            &[("code", &code)],
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    let codes = recovery_codes_on(&confirmed.text().await.unwrap());
    assert_eq!(codes.len(), 10, "ten recovery codes are shown once");
    (authenticator, codes)
}

async fn logout(app: &TestApp) {
    let response = app.post_form("/inbox", "/logout", &[]).await;
    assert_eq!(response.status(), 303);
}

async fn second_step(app: &TestApp, code: &str) -> reqwest::Response {
    app.post_form(
        "/login/2fa",
        "/login/2fa",
        &[("code", code), ("next", "/inbox")],
    )
    .await
}

async fn audit_actions(app: &TestApp, action: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn signing_in_with_a_second_factor_needs_a_code_from_the_secret_shown() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    let (mut authenticator, _) = enrol(&app).await;
    assert!(
        app.get_text("/account/security")
            .await
            .contains("Unused recovery codes: 10")
    );
    logout(&app).await;

    // Act: the password alone
    let after_password = app.login("anna@shop.test").await;

    // Assert: half signed in, the second step and nothing else
    assert_eq!(after_password.status(), 303);
    assert!(location(&after_password).starts_with("/login/2fa"));
    let inbox = app.get("/inbox").await;
    assert_eq!(inbox.status(), 303);
    assert_eq!(location(&inbox), "/login/2fa?next=%2Finbox");
    assert_eq!(app.get("/account/security").await.status(), 303);
    let api = app.get("/api/v1/customers?email=x@y.test").await;
    assert_eq!(api.status(), 401);
    assert!(app.get_text("/login/2fa").await.contains("recovery codes"));

    // A wrong code is refused and counted
    let wrong = second_step(&app, "000000").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("not correct"));
    assert_eq!(app.get("/inbox").await.status(), 303);

    // The right code signs in and goes on to `next`
    let code = authenticator.fresh_code().await;
    let right = second_step(&app, &code).await;
    assert_eq!(right.status(), 303);
    assert_eq!(location(&right), "/inbox");
    assert_eq!(app.get("/inbox").await.status(), 200);

    // The same code twice is refused
    logout(&app).await;
    app.login("anna@shop.test").await;
    let again = second_step(&app, &authenticator.used_code()).await;
    assert_eq!(again.status(), 401);
    assert_eq!(app.get("/inbox").await.status(), 303);
    let failed = audit_actions(&app, "login.failed").await;
    assert!(
        failed.iter().any(|e| e.details.contains("second_factor")),
        "a failed code is in the audit log"
    );
    assert_eq!(audit_actions(&app, "two_factor.enabled").await.len(), 1);
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_only() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    let (_, codes) = enrol(&app).await;
    logout(&app).await;

    // Act
    app.login("anna@shop.test").await;
    let first = second_step(&app, &codes[3].to_uppercase()).await;
    logout(&app).await;
    app.login("anna@shop.test").await;
    let second = second_step(&app, &codes[3]).await;

    // Assert
    assert_eq!(first.status(), 303);
    assert_eq!(second.status(), 401);
    assert_eq!(app.get("/inbox").await.status(), 303);
    assert_eq!(second_step(&app, &codes[4]).await.status(), 303);
    assert_eq!(app.get("/inbox").await.status(), 200);
    assert!(
        app.get_text("/account/security")
            .await
            .contains("Unused recovery codes: 8")
    );
    assert_eq!(
        audit_actions(&app, "two_factor.recovery_code_used")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn the_second_factor_is_stored_sealed_and_the_codes_as_digests() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;

    // Act
    let (authenticator, codes) = enrol(&app).await;

    // Assert
    use lethe::db::entity::{recovery_code, totp_factor};
    let factor = totp_factor::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let secret = authenticator.secret.to_base32();
    assert!(!factor.secret_sealed.contains(&secret));
    let stored = recovery_code::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    for code in &codes {
        assert!(
            !stored
                .iter()
                .any(|r| r.code_hash.contains(&code.replace('-', "")))
        );
    }
}

#[tokio::test]
async fn removing_the_second_factor_needs_the_password() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    enrol(&app).await;

    // Act
    let wrong = app
        .post_form(
            "/account/security",
            "/account/security/two-factor/remove",
            &[("password", "not my password"), ("code", "")],
        )
        .await;
    let nothing = app
        .post_form(
            "/account/security",
            "/account/security/two-factor/remove",
            &[("password", ""), ("code", "")],
        )
        .await;
    let right = app
        .post_form(
            "/account/security",
            "/account/security/two-factor/remove",
            &[("password", PASSWORD), ("code", "")],
        )
        .await;

    // Assert
    assert_eq!(wrong.status(), 422);
    assert_eq!(nothing.status(), 422);
    assert_eq!(right.status(), 303);
    assert!(
        app.get_text("/account/security")
            .await
            .contains("No second factor is set up")
    );
    logout(&app).await;
    let login = app.login("anna@shop.test").await;
    assert_eq!(
        location(&login),
        "/inbox",
        "the password alone signs in again"
    );
    assert_eq!(audit_actions(&app, "two_factor.removed").await.len(), 1);
}

#[tokio::test]
async fn an_owner_policy_sends_a_member_without_a_factor_to_enrolment() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let page = app.get_text("/settings/organization").await;
    assert!(page.contains(r#"value="everyone""#));
    let signed_in_agent = app.another_browser();
    signed_in_agent.login("agent@shop.test").await;
    assert_eq!(signed_in_agent.get("/inbox").await.status(), 200);

    // An owner without a factor cannot require one of others.
    let refused = app
        .post_form(
            "/settings/organization",
            "/settings/organization/two-factor",
            &[("policy", "admins")],
        )
        .await;
    assert!(location(&refused).contains("flash=flash.two_factor_yourself_first"));
    assert!(
        audit_actions(&app, "organization.two_factor_policy")
            .await
            .is_empty()
    );
    assert_eq!(signed_in_agent.get("/inbox").await.status(), 200);
    enrol(&app).await;

    // Act
    let saved = app
        .post_form(
            "/settings/organization",
            "/settings/organization/two-factor",
            &[("policy", "everyone")],
        )
        .await;
    let agent = app.another_browser();
    let login = agent.login("agent@shop.test").await;

    // Assert: the agent reaches only the enrolment
    assert_eq!(saved.status(), 303);
    let recorded = audit_actions(&app, "organization.two_factor_policy").await;
    assert_eq!(recorded.len(), 1);
    assert!(
        recorded[0].details.contains(r#""sessions_ended":1"#),
        "{}",
        recorded[0].details
    );
    // The agent who was signed in without a factor is signed out, not left working.
    let ended = signed_in_agent.get("/inbox").await;
    assert_eq!(ended.status(), 303);
    assert!(
        location(&ended).starts_with("/login"),
        "{}",
        location(&ended)
    );
    assert!(location(&login).starts_with("/login/2fa"));
    let step = agent.get(&location(&login)).await;
    assert_eq!(step.status(), 303);
    assert!(location(&step).starts_with("/login/2fa/setup"));
    let inbox = agent.get("/inbox").await;
    assert_eq!(inbox.status(), 303);
    assert_eq!(location(&inbox), "/login/2fa?next=%2Finbox");
    assert_eq!(agent.get("/settings/team").await.status(), 303);
    let setup = agent.get_text("/login/2fa/setup?next=/inbox").await;
    assert!(setup.contains("requires a second factor"));
    let secret = between(&setup, r#"<code id="totp-secret">"#, "</code>");
    let mut authenticator = Authenticator {
        secret: TotpSecret::from_base32(secret).unwrap(),
        last: None,
    };
    let wrong = agent
        .post_form(
            "/login/2fa/setup",
            "/login/2fa/setup",
            &[("code", "123456"), ("next", "/inbox")],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let code = authenticator.fresh_code().await;
    let done = agent
        .post_form(
            "/login/2fa/setup",
            "/login/2fa/setup",
            &[("code", &code), ("next", "/inbox")],
        )
        .await;
    assert_eq!(done.status(), 200);
    assert_eq!(recovery_codes_on(&done.text().await.unwrap()).len(), 10);
    assert_eq!(agent.get("/inbox").await.status(), 200);
    // The owner signs in with their factor too.
    logout(&app).await;
    let owner = app.login("owner@shop.test").await;
    assert!(location(&owner).starts_with("/login/2fa"));
    assert_eq!(app.get("/inbox").await.status(), 303);
}

#[tokio::test]
async fn the_sessions_list_shows_both_sessions_and_ending_one_signs_that_client_out() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    let phone = app.another_browser();
    phone.login("anna@shop.test").await;

    // Act
    let page = app.get_text("/account/security").await;
    let rows: Vec<&str> = page.split(r#"<tr class="session""#).skip(1).collect();
    let other = rows
        .iter()
        .find(|row| !row.starts_with(r#" aria-current="true""#))
        .expect("the other session");
    let action = between(other, r#"action=""#, r#"""#).to_owned();
    let ended = app.post_form("/account/security", &action, &[]).await;

    // Assert
    assert_eq!(rows.len(), 2, "two sessions are listed");
    assert_eq!(page.matches("This session").count(), 1);
    assert!(page.contains("127.0.0.1"));
    assert_eq!(ended.status(), 303);
    let phone_inbox = phone.get("/inbox").await;
    assert_eq!(phone_inbox.status(), 303);
    assert!(location(&phone_inbox).starts_with("/login"));
    assert_eq!(app.get("/inbox").await.status(), 200);
    let page = app.get_text("/account/security").await;
    assert_eq!(page.matches(r#"<tr class="session""#).count(), 1);
    // Ending this session signs out.
    let mine = between(&page, r#"<tr class="session""#, "</tr>");
    let action = between(mine, r#"action=""#, r#"""#).to_owned();
    let out = app.post_form("/account/security", &action, &[]).await;
    assert_eq!(out.status(), 303);
    assert!(location(&out).starts_with("/login"));
    assert_eq!(app.get("/inbox").await.status(), 303);
}

#[tokio::test]
async fn reset_2fa_removes_the_factor_ends_the_sessions_and_is_audited() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    enrol(&app).await;

    // Act
    let output = app
        .lethe()
        .args(["user", "reset-2fa", "--email", "anna@shop.test"])
        .output()
        .unwrap();

    // Assert
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("second factor removed"));
    assert_eq!(app.get("/inbox").await.status(), 303, "the session ended");
    let login = app.login("anna@shop.test").await;
    assert_eq!(location(&login), "/inbox", "no second step any more");
    let logged = audit_actions(&app, "two_factor.reset").await;
    assert_eq!(logged.len(), 1);
    assert!(logged[0].actor.contains("cli"), "{}", logged[0].actor);
    let unknown = app
        .lethe()
        .args(["user", "reset-2fa", "--email", "nobody@shop.test"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}

#[tokio::test]
async fn notice_mails_tell_of_a_new_password_factor_and_api_key() {
    // Arrange
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;

    // Act
    let changed = app
        .post_form(
            "/account",
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new_password", "a brand new secret"),
                ("confirm", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    smtp.wait_for(1).await;
    let (authenticator, codes) = enrol(&app).await;
    smtp.wait_for(2).await;
    let key = app
        .post_form(
            "/settings/api-keys",
            "/settings/api-keys",
            &[("name", "Backend"), ("scope_read", "yes")],
        )
        .await;
    assert_eq!(key.status(), 200);
    let key_page = key.text().await.unwrap();
    let messages = smtp.wait_for(3).await;

    // Assert
    assert!(messages.iter().all(|m| m.contains("anna@shop.test")));
    assert!(messages[0].contains("Subject: Your Lethe password was changed"));
    assert!(messages[1].contains("Subject: A second factor was added"));
    assert!(messages[2].contains("Subject: A new API key was created"));
    let secret = authenticator.secret.to_base32();
    let api_key = regex::Regex::new(r"lethe_[A-Za-z0-9_-]{43}")
        .unwrap()
        .find(&key_page)
        .unwrap()
        .as_str()
        .to_owned();
    for message in &messages {
        assert!(!message.contains("a brand new secret"));
        assert!(!message.contains(&secret));
        assert!(!message.contains(&api_key));
        assert!(codes.iter().all(|c| !message.contains(c.as_str())));
    }
}

#[tokio::test]
async fn failed_codes_count_in_the_login_throttle_of_the_account() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    let (mut authenticator, _) = enrol(&app).await;
    logout(&app).await;
    app.login("anna@shop.test").await;

    // Act
    for _ in 0..5 {
        assert_eq!(second_step(&app, "000000").await.status(), 401);
    }
    let code = authenticator.fresh_code().await;
    let blocked = second_step(&app, &code).await;

    // Assert: even the right code waits, and so does the password from another browser
    assert_eq!(blocked.status(), 429);
    assert_eq!(app.get("/inbox").await.status(), 303);
    let other = app.another_browser();
    assert_eq!(other.login("anna@shop.test").await.status(), 429);
}

#[tokio::test]
async fn a_half_signed_in_session_waits_ten_minutes_for_the_second_step() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("anna@shop.test", "Shop", "owner").await;
    app.login("anna@shop.test").await;
    enrol(&app).await;
    logout(&app).await;
    app.login("anna@shop.test").await;
    assert_eq!(app.get("/login/2fa").await.status(), 200);

    // Act
    use lethe::db::entity::session;
    use sea_orm::sea_query::Expr;
    session::Entity::update_many()
        .col_expr(
            session::Column::CreatedAt,
            Expr::val(chrono::Utc::now() - chrono::Duration::minutes(11)),
        )
        .filter(session::Column::PendingUserId.is_not_null())
        .exec(&app.state.db)
        .await
        .unwrap();
    let late = app.get("/login/2fa").await;

    // Assert: back to the password
    assert_eq!(late.status(), 303);
    assert_eq!(location(&late), "/login");
    let inbox = app.get("/inbox").await;
    assert_eq!(inbox.status(), 303);
    assert!(location(&inbox).starts_with("/login?next="));
}

#[tokio::test]
async fn removing_a_required_factor_signs_out_everywhere_and_the_next_sign_in_sets_up_a_new_one() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let (mut authenticator, _) = enrol(&app).await;
    let saved = app
        .post_form(
            "/settings/organization",
            "/settings/organization/two-factor",
            &[("policy", "admins")],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let other_device = app.another_browser();
    other_device.login("owner@shop.test").await;
    let code = authenticator.fresh_code().await;
    second_step(&other_device, &code).await;
    assert_eq!(other_device.get("/inbox").await.status(), 200);

    let removed = app
        .post_form(
            "/account/security",
            "/account/security/two-factor/remove",
            &[("password", crate::helpers::PASSWORD), ("code", "")],
        )
        .await;
    assert_eq!(removed.status(), 303);
    assert!(
        location(&removed).starts_with("/login"),
        "{}",
        location(&removed)
    );
    for browser in [&app, &other_device] {
        let inbox = browser.get("/inbox").await;
        assert!(
            location(&inbox).starts_with("/login"),
            "signed out everywhere"
        );
    }
    let again = app.login("owner@shop.test").await;
    let step = app.get(&location(&again)).await;
    assert!(
        location(&step).starts_with("/login/2fa/setup"),
        "{}",
        location(&step)
    );
}
