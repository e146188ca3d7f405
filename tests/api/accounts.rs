//! Accounts: first-start setup, login, throttling, sessions, CSRF, passwords.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{AppOptions, PASSWORD, csrf_of, location, spawn_app, spawn_app_with, text_of};
use crate::smtp::{SmtpRecorder, unfold_qp};
use lethe::db::entity::{audit_event, organization, session, user};

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("lethe_session="))
        .map(str::to_owned)
}

#[tokio::test]
async fn first_start_setup_link_creates_the_owner_and_organization_once() {
    let app = spawn_app().await;
    let link = app
        .setup_link
        .clone()
        .expect("no users: a setup link is printed");
    let path = link.trim_start_matches(&app.address).to_owned();
    let page = app.get_text(&path).await;
    assert!(page.contains("Set up Lethe"));

    // A bad form shows what is wrong and creates nothing.
    let csrf = csrf_of(&page);
    let response = app
        .post_with_csrf(
            &path,
            &csrf,
            &[
                ("organization", ""),
                ("display_name", "Ana"),
                ("email", "nope"),
                ("password", "short"),
                ("password_confirm", "other"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    for message in [
        "Please enter a name for the organization",
        "not valid",
        "at least 12 characters",
        "not the same",
    ] {
        assert!(html.contains(message), "{message}");
    }
    assert_eq!(app.count::<user::Entity>().await, 0);

    let response = app
        .post_with_csrf(
            &path,
            &csrf,
            &[
                ("organization", "Kräuterladen Berlin"),
                ("display_name", "Ana Owner"),
                ("email", "ana@shop.test"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/inbox"));
    let inbox = app.get_text("/inbox").await;
    assert!(inbox.contains("Kräuterladen Berlin") && inbox.contains("Ana Owner"));

    // The link works once.
    assert_eq!(app.another_browser().get(&path).await.status(), 404);
    assert_eq!(app.count::<organization::Entity>().await, 1);
}

#[tokio::test]
async fn login_with_wrong_password_or_unknown_user_gets_the_same_generic_message() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let wrong = app.login_with("agent@shop.test", "wrong password").await;
    assert_eq!(wrong.status(), 401);
    let wrong = wrong.text().await.unwrap();
    let unknown = app
        .login_with("nobody@shop.test", "wrong password")
        .await
        .text()
        .await
        .unwrap();
    let message = "The email address or the password is not correct.";
    assert!(wrong.contains(message) && unknown.contains(message));
    assert!(
        !unknown.contains("nobody@shop.test") || unknown.contains("value=\"nobody@shop.test\"")
    );
    // The failures are in the audit log (the unknown address's counted, written by the
    // flush), without the typed address.
    app.state.audit.flush_tally(&app.state.db).await.unwrap();
    let failures = audit_event::Entity::find()
        .filter(audit_event::Column::Action.is_in(["login.failed", "login.failed_unknown"]))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(failures.len(), 2);
    assert!(failures.iter().all(|f| !f.target.contains("nobody")));
}

#[tokio::test]
async fn login_is_throttled_per_account_after_repeated_failures() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    for _ in 0..5 {
        assert_eq!(
            app.login_with("agent@shop.test", "wrong password")
                .await
                .status(),
            401
        );
    }
    // Even the right password waits now, from another browser too.
    let other = app.another_browser();
    let blocked = other.login_with("agent@shop.test", PASSWORD).await;
    assert_eq!(blocked.status(), 429);
    assert!(
        blocked
            .text()
            .await
            .unwrap()
            .contains("Too many failed attempts")
    );
    assert_eq!(other.get("/inbox").await.status(), 303, "not signed in");
}

#[tokio::test]
async fn login_rotates_the_session_id_and_sets_a_safe_cookie() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let login_page = app.get("/login").await;
    let anonymous =
        session_cookie(&login_page).expect("the login form starts an anonymous session");
    let response = app
        .post_with_csrf(
            "/login",
            &csrf_of(&login_page.text().await.unwrap()),
            &[
                ("email", "agent@shop.test"),
                ("password", PASSWORD),
                ("next", "/account"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account");
    let authenticated = session_cookie(&response).expect("a new session cookie");
    assert_ne!(anonymous.split(';').next(), authenticated.split(';').next());
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            authenticated.contains(attribute),
            "{attribute} in {authenticated}"
        );
    }
    assert!(!authenticated.contains("Secure"), "plain http in tests");
    // The database holds only the digest of the token.
    let token = authenticated
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("lethe_session=");
    assert!(
        session::Entity::find_by_id(token.to_owned())
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.get("/inbox").await.status(), 200);
}

#[tokio::test]
async fn login_never_redirects_to_another_site() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    // Browsers drop tabs and line breaks from a URL and read `\` as `/`.
    for next in [
        "//evil.example/x",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "https://evil.example/",
    ] {
        let browser = app.another_browser();
        let response = browser
            .post_form(
                "/login",
                "/login",
                &[
                    ("email", "agent@shop.test"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&response), "/inbox", "{next:?}");
        // Signed in already, the login page redirects at once: the same check applies.
        let again = browser.get("/login?next=/%09/evil.example").await;
        assert_eq!(location(&again), "/inbox");
    }
    let response = app
        .post_form(
            "/login",
            "/login",
            &[
                ("email", "agent@shop.test"),
                ("password", PASSWORD),
                ("next", "/search?q=two words"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/search?q=two%20words");
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    app.login("agent@shop.test").await;
    assert_eq!(app.get("/inbox").await.status(), 200);
    let response = app.post_form("/inbox", "/logout", &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.get("/inbox").await.status(), 303);
    assert_eq!(
        session::Entity::find()
            .filter(session::Column::UserId.is_not_null())
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn idle_sessions_expire() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    app.login("agent@shop.test").await;
    let long_ago = chrono::Utc::now() - chrono::Duration::hours(9);
    session::Entity::update_many()
        .col_expr(session::Column::LastSeenAt, long_ago.into())
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        app.get("/inbox").await.status(),
        303,
        "an idle session is over"
    );
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_age_however_busy() {
    // Arrange: a session in use a minute ago but begun longer ago than the maximum age
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    app.login("agent@shop.test").await;
    assert_eq!(app.get("/inbox").await.status(), 200);
    let max_hours = app.state.config.session_max_hours;
    let begun =
        chrono::Utc::now() - chrono::Duration::hours(max_hours) - chrono::Duration::minutes(5);
    session::Entity::update_many()
        .col_expr(session::Column::CreatedAt, begun.into())
        .col_expr(
            session::Column::LastSeenAt,
            (chrono::Utc::now() - chrono::Duration::minutes(1)).into(),
        )
        .exec(&app.state.db)
        .await
        .unwrap();

    // Act
    let response = app.get("/inbox").await;

    // Assert
    assert_eq!(response.status(), 303, "the session is over");
    assert!(location(&response).starts_with("/login"));
}

#[tokio::test]
async fn an_expired_reset_link_is_refused_and_the_password_stays() {
    // Arrange: a reset link whose hour has passed
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    app.post_form(
        "/password/forgot",
        "/password/forgot",
        &[("email", "agent@shop.test")],
    )
    .await;
    let mail = unfold_qp(&smtp.wait_for(1).await[0]);
    let link = reset_link(&mail);
    lethe::db::entity::password_reset::Entity::update_many()
        .col_expr(
            lethe::db::entity::password_reset::Column::ExpiresAt,
            (chrono::Utc::now() - chrono::Duration::minutes(1)).into(),
        )
        .exec(&app.state.db)
        .await
        .unwrap();

    // Act
    let shown = app.get(&link).await;
    let posted = app
        .client
        .post(app.url(&link))
        .form(&[
            ("csrf", "x"),
            ("new_password", "fresh secret 123"),
            ("confirm", "fresh secret 123"),
        ])
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(shown.status(), 400);
    assert!(
        shown
            .text()
            .await
            .unwrap()
            .contains("invalid, expired or was used")
    );
    assert_ne!(posted.status(), 303, "no password is set");
    assert_eq!(
        app.another_browser()
            .login_with("agent@shop.test", "fresh secret 123")
            .await
            .status(),
        401,
        "the new password does not sign in"
    );
    assert_eq!(
        app.another_browser()
            .login_with("agent@shop.test", PASSWORD)
            .await
            .status(),
        303,
        "the old password still does"
    );
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let user_id = app.create_user("agent@shop.test", "Shop", "owner").await;
    app.login("agent@shop.test").await;
    let response = app
        .client
        .post(app.url("/account/profile"))
        .form(&[("display_name", "Hacked"), ("language", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("The form has expired")
    );
    let response = app
        .post_with_csrf(
            "/account/profile",
            "forged",
            &[("display_name", "Hacked"), ("language", "")],
        )
        .await;
    assert_eq!(response.status(), 403);
    let stored = user::Entity::find_by_id(user_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.display_name, "Test User");
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    app.login("agent@shop.test").await;
    let csrf = csrf_of(&app.get_text("/account").await);
    let response = app
        .client
        .post(app.url("/account/profile"))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("csrf", csrf.as_str()),
            ("display_name", "Hacked"),
            ("language", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn oversized_and_malformed_forms_get_clear_answers() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    app.login("agent@shop.test").await;
    let csrf = csrf_of(&app.get_text("/account").await);
    let huge = "x".repeat(300 * 1024);
    let response = app
        .post_with_csrf(
            "/account/profile",
            &csrf,
            &[("display_name", &huge), ("language", "")],
        )
        .await;
    assert_eq!(response.status(), 413);
    assert!(response.text().await.unwrap().contains("too large"));
    let response = app
        .post_with_csrf("/account/profile", &csrf, &[("unexpected", "field")])
        .await;
    assert_eq!(response.status(), 400);
    let response = app
        .post_with_csrf(
            "/account/profile",
            &csrf,
            &[("display_name", ""), ("language", "klingon")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Please enter a name") && html.contains("choose a language"));
}

#[tokio::test]
async fn the_users_language_setting_wins_over_the_browser() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    app.login("agent@shop.test").await;
    let response = app
        .post_form(
            "/account",
            "/account/profile",
            &[("display_name", "Agent"), ("language", "fr")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let request = app.client.get(app.url("/inbox"));
    let html = text_of(request.header("accept-language", "de")).await;
    assert!(
        html.contains("Boîte de réception"),
        "French as set, not the browser's German"
    );
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_signs_out_other_sessions() {
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    app.login("agent@shop.test").await;
    let other = app.another_browser();
    other.login("agent@shop.test").await;
    let wrong = app
        .post_form(
            "/account",
            "/account/password",
            &[
                ("current", "not it"),
                ("new_password", "a brand new secret"),
                ("confirm", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("current password is not correct")
    );
    let ok = app
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
    assert_eq!(ok.status(), 303);
    assert_eq!(
        app.get("/inbox").await.status(),
        200,
        "this session goes on"
    );
    assert_eq!(
        other.get("/inbox").await.status(),
        303,
        "the other session ended"
    );
    let fresh = app.another_browser();
    assert_eq!(
        fresh.login_with("agent@shop.test", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        fresh
            .login_with("agent@shop.test", "a brand new secret")
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn without_smtp_the_reset_page_says_so() {
    let app = spawn_app().await;
    let html = app.get_text("/password/forgot").await;
    assert!(html.contains("no mail server configured"));
    let response = app
        .post_form("/login", "/password/forgot", &[("email", "a@shop.test")])
        .await;
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn password_reset_by_emailed_link_works_once() {
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let response = app
        .post_form(
            "/password/forgot",
            "/password/forgot",
            &[("email", "agent@shop.test")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let same_answer = response.text().await.unwrap();
    let unknown = app
        .post_form(
            "/password/forgot",
            "/password/forgot",
            &[("email", "nobody@shop.test")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        same_answer.contains("If an account exists") && unknown.contains("If an account exists")
    );

    let mail = unfold_qp(&smtp.wait_for(1).await[0]);
    assert!(mail.contains("agent@shop.test"));
    let link = reset_link(&mail);
    assert_eq!(smtp.messages().len(), 1, "no mail for an unknown address");

    let response = app
        .post_form(
            &link,
            &link,
            &[
                ("new_password", "fresh secret 123"),
                ("confirm", "fresh secret 123"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        app.another_browser()
            .login_with("agent@shop.test", "fresh secret 123")
            .await
            .status(),
        303
    );
    let reused = app.get(&link).await;
    assert_eq!(reused.status(), 400);
    assert!(
        reused
            .text()
            .await
            .unwrap()
            .contains("invalid, expired or was used")
    );
}

/// The reset link in a password-reset mail.
fn reset_link(mail: &str) -> String {
    regex::Regex::new(r"/password/reset/[A-Za-z0-9_-]{43}")
        .unwrap()
        .find(mail)
        .expect("reset link")
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn a_common_or_personal_password_is_refused_and_the_old_one_stays() {
    let app = spawn_app().await;
    app.create_user("anna.schmidt@shop.test", "Shop", "owner")
        .await;
    app.login("anna.schmidt@shop.test").await;
    for guessable in ["password1234", "anna.schmidt@shop.test"] {
        let refused = app
            .post_form(
                "/account",
                "/account/password",
                &[
                    ("current", PASSWORD),
                    ("new_password", guessable),
                    ("confirm", guessable),
                ],
            )
            .await;
        assert_eq!(refused.status(), 422, "{guessable}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("too common or too easy to guess"),
            "{guessable}"
        );
    }
    assert_eq!(
        app.another_browser()
            .login_with("anna.schmidt@shop.test", PASSWORD)
            .await
            .status(),
        303,
        "the old password still signs in"
    );
}

#[tokio::test]
async fn reset_links_never_lock_a_login_and_only_the_newest_works_and_only_once() {
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let ask = || {
        app.post_form(
            "/password/forgot",
            "/password/forgot",
            &[("email", "agent@shop.test")],
        )
    };

    // Two links, one after the other: the first is void once the second exists.
    ask().await;
    let first = reset_link(&unfold_qp(&smtp.wait_for(1).await[0]));
    ask().await;
    let second = reset_link(&unfold_qp(&smtp.wait_for(2).await[1]));
    assert_eq!(
        app.get(&first).await.status(),
        400,
        "the older link is void"
    );
    assert_eq!(app.get(&second).await.status(), 200);

    // A password change voids the link still out.
    let browser = app.another_browser();
    browser.login_with("agent@shop.test", PASSWORD).await;
    let changed = browser
        .post_form(
            "/account",
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new_password", "another fresh secret"),
                ("confirm", "another fresh secret"),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    assert_eq!(app.get(&second).await.status(), 400, "the change voided it");

    // More requests than failed logins that block an account: signing in still works.
    for _ in 0..6 {
        ask().await;
    }
    assert_eq!(
        app.another_browser()
            .login_with("agent@shop.test", "another fresh secret")
            .await
            .status(),
        303,
        "asking for links does not lock the account"
    );

    // Five links went out (the throttle held back the rest), each sent after its answer and
    // so in any order, beside the notice of the password change: exactly one link, the
    // newest, still opens.
    let mails = smtp.wait_for(6).await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Subject: Your Lethe password was changed")),
        "the password change sent a notice"
    );
    let links: Vec<String> = mails
        .iter()
        .filter(|mail| mail.contains("/password/reset/"))
        .map(|mail| reset_link(&unfold_qp(mail)))
        .collect();
    assert_eq!(links.len(), 5);
    let mut open = Vec::new();
    for link in &links {
        if app.get(link).await.status() == 200 {
            open.push(link.clone());
        }
    }
    assert_eq!(open.len(), 1, "only the newest link opens");
    let newest = open.remove(0);

    // Submitted twice at once from two browsers: one submission sets the password.
    let (one, two) = (app.another_browser(), app.another_browser());
    let fields = [
        ("new_password", "fresh secret 123"),
        ("confirm", "fresh secret 123"),
    ];
    let (a, b) = tokio::join!(
        one.post_form(&newest, &newest, &fields),
        two.post_form(&newest, &newest, &fields)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 400], "exactly one submission used the link");
}
