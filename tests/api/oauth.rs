//! Mailboxes that sign in with OAuth2, against real servers: the suite's token server
//! (scripts/oauth_provider.py, standing in for Microsoft Entra and Google), the suite's
//! Dovecot checking bearer tokens at it (XOAUTH2), and an SMTP server that requires AUTH
//! XOAUTH2. The sign-in runs in Chromium; refresh before expiry, refresh after a refusal, a
//! revoked grant ("sign in again", a notice mail, mail waiting in the mailbox) and the
//! checks on the way back (PKCE, state bound to the admin) are driven over HTTP.

use std::time::Duration;

use chrono::Utc;
use lethe::db::entity::{audit_event, channel as channel_entity, message};
use lethe::mail::imap::{Stage, poll_once};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{
    AppOptions, TestApp, browser_client, channel_form, location, spawn_app_with, text_of, traces,
    unique_suffix,
};
use crate::imap::{append, dovecot, folder_state, mail, mailbox_user};
use crate::smtp::SmtpRecorder;

/// The suite's OAuth2 server.
fn provider() -> String {
    std::env::var("LETHE_TEST_OAUTH_URL").unwrap_or_else(|_| {
        panic!("LETHE_TEST_OAUTH_URL is not set: run the tests with ./scripts/test.sh")
    })
}

async fn provider_admin(path: &str, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", provider()))
        .json(&body)
        .send()
        .await
        .expect("provider answers");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// Registers an app at the provider: its client id (the secret is "secret-" + id).
async fn register_app(access_ttl_seconds: u32) -> String {
    let client_id = format!("app-{}", unique_suffix());
    provider_admin(
        "/admin/clients",
        json!({
            "client_id": client_id,
            "client_secret": format!("secret-{client_id}"),
            "access_ttl": access_ttl_seconds,
        }),
    )
    .await;
    client_id
}

/// How many codes and refresh tokens the provider exchanged for this app.
async fn grants(client_id: &str) -> (u64, u64) {
    let stats: serde_json::Value =
        reqwest::get(format!("{}/admin/stats?client_id={client_id}", provider()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    (
        stats["code_grants"].as_u64().unwrap(),
        stats["refresh_grants"].as_u64().unwrap(),
    )
}

/// Every token the provider ever issued to `user`.
async fn tokens_of(user: &str) -> Vec<String> {
    let answer: serde_json::Value =
        reqwest::get(format!("{}/admin/tokens?username={user}", provider()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    answer["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

async fn admin_app(options: AppOptions) -> TestApp {
    let app = spawn_app_with(options).await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    app.login("admin@shop.test").await;
    app
}

/// Creates an OAuth2 channel on the form ("generic" provider at the suite's token server),
/// fetching from `user`'s mailbox at Dovecot and sending through `smtp_port`.
async fn oauth_channel(app: &TestApp, client_id: &str, user: &str, smtp_port: u16) -> i64 {
    let server = dovecot();
    let port = server.port.to_string();
    let smtp_port = smtp_port.to_string();
    let secret = format!("secret-{client_id}");
    let auth_url = format!("{}/authorize", provider());
    let token_url = format!("{}/token", provider());
    let mut fields = channel_form(&[
        ("imap_host", server.host.as_str()),
        ("imap_port", port.as_str()),
        ("imap_tls", "none"),
        ("imap_user", user),
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", smtp_port.as_str()),
        ("smtp_tls", "none"),
        ("smtp_user", user),
    ]);
    fields.extend([
        ("auth_method", "oauth2"),
        ("oauth_provider", "generic"),
        ("oauth_client_id", client_id),
        ("oauth_client_secret", secret.as_str()),
        ("oauth_auth_url", auth_url.as_str()),
        ("oauth_token_url", token_url.as_str()),
        (
            "oauth_scopes",
            "IMAP.AccessAsUser.All SMTP.Send offline_access",
        ),
    ]);
    let response = app
        .post_form("/settings/channels/new", "/settings/channels", &fields)
        .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let channel = channel_entity::Entity::find()
        .filter(channel_entity::Column::ImapUser.eq(user))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("created");
    assert_eq!(channel.auth_method, "oauth2");
    assert!(channel.imap_password_sealed.is_none());
    channel.id
}

/// The sign-in as the admin's browser makes it, without a browser: the start link, the
/// provider's page (Allow, as `user`), the callback. Returns the callback's answer.
async fn sign_in_over_http(app: &TestApp, channel_id: i64, user: &str) -> reqwest::Response {
    let start = app
        .get(&format!("/settings/channels/{channel_id}/oauth/start"))
        .await;
    assert_eq!(start.status(), 303);
    let authorize = url::Url::parse(&location(&start)).unwrap();
    let query: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    let mut form: Vec<(&str, &str)> = [
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
    ]
    .iter()
    .map(|k| (*k, query[*k].as_str()))
    .collect();
    form.extend([("username", user), ("decision", "allow")]);
    let provider_answer = browser_client()
        .post(format!("{}/authorize", provider()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(provider_answer.status(), 302);
    let callback = location(&provider_answer);
    assert!(callback.starts_with(&app.url("/settings/channels/oauth/callback")));
    app.client.get(callback).send().await.unwrap()
}

async fn channel(app: &TestApp, id: i64) -> channel_entity::Model {
    channel_entity::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

async fn inbound_messages(app: &TestApp) -> u64 {
    message::Entity::find()
        .filter(message::Column::Direction.eq("inbound"))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_signs_a_mailbox_in_with_oauth2_in_a_real_browser_and_mail_flows_both_ways() {
    let smtp =
        SmtpRecorder::start_with(&["--xoauth2".into(), format!("{}/introspect", provider())]).await;
    let app = admin_app(AppOptions::default()).await;
    let client_id = register_app(3600).await;
    let user = mailbox_user();
    let id = oauth_channel(&app, &client_id, &user, smtp.port).await;
    let page = app.get_text(&format!("/settings/channels/{id}")).await;
    assert!(page.contains("Not signed in yet"));
    assert!(page.contains(&app.url("/settings/channels/oauth/callback")));

    let browser = Browser::start().await;
    browser.sign_in(&app, "admin@shop.test").await;
    browser
        .goto(&app.url(&format!("/settings/channels/{id}")))
        .await;
    browser.click("#oauth-sign-in").await;
    let at_provider = browser
        .wait_until("the provider's sign-in page", |url, _| {
            url.starts_with(&provider())
        })
        .await;
    assert!(at_provider.contains("IMAP.AccessAsUser.All"));
    let authorize = browser.current_url().await;
    assert!(authorize.contains("code_challenge_method=S256"));
    assert!(at_provider.contains(&user), "login_hint names the mailbox");
    browser.click("#allow").await;
    let back = browser
        .wait_until("back on the channel page", |url, page| {
            url.contains(&format!("/settings/channels/{id}")) && page.contains("Signed in since")
        })
        .await;
    assert!(back.contains("The channel is signed in"));
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the browser reported errors: {errors:?}");
    browser.quit().await;
    assert_eq!(grants(&client_id).await, (1, 0));

    // IMAP: XOAUTH2 at Dovecot.
    append(&user, "INBOX", &mail("oauth-1", "Wo ist meine Bestellung?")).await;
    let stored = channel(&app, id).await;
    let outcome = poll_once(&app.state, &stored)
        .await
        .expect("poll with a token");
    assert_eq!(outcome.stored, 1);
    assert_eq!(folder_state(&user, "INBOX").await, vec![(1, true)]);

    // SMTP: AUTH XOAUTH2 at a server that takes nothing else.
    let conversation = message::Entity::find()
        .filter(message::Column::MessageIdHeader.eq("oauth-1@example.test"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .conversation_id;
    let path = format!("/conversations/{conversation}");
    let response = app
        .post_form(
            &path,
            &format!("{path}/reply"),
            &[("text", "Sie ist unterwegs.")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let sent = lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert_eq!(sent.sent, 1);
    let received = smtp.wait_for(1).await;
    assert!(received[0].contains(&format!("X-Recorded-Auth: {user}")));
    assert!(received[0].contains("Sie ist unterwegs."));

    // The test buttons sign in the same way.
    for button in ["test-imap", "test-smtp"] {
        let page = text_of(
            app.client
                .post(app.url(&format!("/settings/channels/{id}/{button}")))
                .form(&[(
                    "csrf",
                    crate::helpers::csrf_of(
                        &app.get_text(&format!("/settings/channels/{id}")).await,
                    ),
                )]),
        )
        .await;
        assert!(
            page.contains("Connected and signed in successfully"),
            "{button}"
        );
    }

    // Nothing of any token is readable in the stored data.
    let tokens = tokens_of(&user).await;
    assert!(tokens.len() >= 2);
    let stored = channel(&app, id).await;
    for column in [
        &stored.oauth_refresh_token_sealed,
        &stored.oauth_access_token_sealed,
        &stored.oauth_client_secret_sealed,
    ] {
        let column = column.as_deref().expect("stored sealed");
        assert!(tokens.iter().all(|t| !column.contains(t.as_str())));
        assert!(!column.contains(&client_id));
    }
    let mut needles = tokens.clone();
    needles.push(format!("secret-{client_id}"));
    assert_eq!(traces(&app.data_dir, &needles), Vec::<String>::new());
    assert!(
        audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("channel.signed_in"))
            .count(&app.state.db)
            .await
            .unwrap()
            == 1
    );
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire_and_after_a_refusal_and_a_revoked_grant_asks_to_sign_in_again()
 {
    let system_mail = SmtpRecorder::start().await;
    let app = admin_app(AppOptions::with_smtp(system_mail.url())).await;
    // Tokens live 100 s: less than the 120 s margin, so every use refreshes first.
    let short_lived = register_app(100).await;
    let user = mailbox_user();
    let id = oauth_channel(&app, &short_lived, &user, 9).await;
    let signed_in = sign_in_over_http(&app, id, &user).await;
    assert_eq!(signed_in.status(), 303);
    assert!(location(&signed_in).contains("flash=flash.channel_signed_in"));
    poll_once(&app.state, &channel(&app, id).await)
        .await
        .expect("poll");
    assert_eq!(
        grants(&short_lived).await,
        (1, 1),
        "refreshed before expiry"
    );

    // A long-lived token the server stops accepting early (a 401): refreshed once, retried.
    let app_id = register_app(3600).await;
    let other = mailbox_user();
    let id = oauth_channel(&app, &app_id, &other, 9).await;
    sign_in_over_http(&app, id, &other).await;
    poll_once(&app.state, &channel(&app, id).await)
        .await
        .expect("poll");
    assert_eq!(
        grants(&app_id).await,
        (1, 0),
        "a fresh token is used as it is"
    );
    provider_admin("/admin/expire", json!({ "username": other })).await;
    append(&other, "INBOX", &mail("after-expiry", "Frage")).await;
    let outcome = poll_once(&app.state, &channel(&app, id).await)
        .await
        .expect("refreshed after the refusal");
    assert_eq!(outcome.stored, 1);
    assert_eq!(grants(&app_id).await, (1, 1));

    // Revoked at the provider: the poll fails at the OAuth step, the channel says so, the
    // admins are told, and mail waits in the mailbox.
    provider_admin("/admin/revoke", json!({ "username": other })).await;
    append(&other, "INBOX", &mail("while-revoked", "Noch eine Frage")).await;
    let problem = poll_once(&app.state, &channel(&app, id).await)
        .await
        .expect_err("revoked");
    assert_eq!(problem.stage, Stage::Token);
    let revoked = channel(&app, id).await;
    assert_eq!(revoked.oauth_problem.as_deref(), Some("revoked"));
    assert!(revoked.oauth_refresh_token_sealed.is_none());
    let page = app.get_text(&format!("/settings/channels/{id}")).await;
    assert!(page.contains("no longer accepts the sign-in"));
    let notices = system_mail.wait_for(1).await;
    assert!(notices[0].contains("must be signed in again"));
    assert_eq!(
        folder_state(&other, "INBOX").await,
        vec![(1, true), (2, false)],
        "the new mail is left unread on the server"
    );
    // A reply written meanwhile waits in the outbox, its attempts not counted.
    let conversation = message::Entity::find()
        .filter(message::Column::MessageIdHeader.eq("after-expiry@example.test"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .conversation_id;
    let path = format!("/conversations/{conversation}");
    app.post_form(&path, &format!("{path}/reply"), &[("text", "Gleich.")])
        .await;
    let sent = lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert_eq!((sent.sent, sent.failed, sent.held), (0, 0, 1));
    let waiting = lethe::db::entity::outbox::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("still in the outbox");
    assert_eq!(waiting.attempts, 0);
    assert!(waiting.last_error.unwrap().contains("sign in again"));
    // The poller leaves a revoked channel alone until someone signs in again.
    let due = lethe::mail::imap::scheduler::due_channels(
        &app.state.db,
        Utc::now() + chrono::Duration::days(1),
    )
    .await
    .unwrap();
    assert!(due.iter().all(|c| c.id != id));

    sign_in_over_http(&app, id, &other).await;
    let outcome = poll_once(&app.state, &channel(&app, id).await)
        .await
        .expect("signed in again");
    assert_eq!(outcome.stored, 1);
    assert_eq!(inbound_messages(&app).await, 2);
    assert_eq!(channel(&app, id).await.oauth_problem, None);
}

#[tokio::test]
async fn a_sign_in_comes_back_only_to_the_admin_who_started_it_and_a_refused_code_changes_nothing()
{
    let app = admin_app(AppOptions::default()).await;
    let client_id = register_app(3600).await;
    let user = mailbox_user();
    let id = oauth_channel(&app, &client_id, &user, 9).await;

    // Another admin of the same shop follows the first admin's callback link: refused.
    let start = app
        .get(&format!("/settings/channels/{id}/oauth/start"))
        .await;
    let authorize = url::Url::parse(&location(&start)).unwrap();
    let state: String = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    app.create_user("second@shop.test", "Shop", "admin").await;
    let second = app.another_browser();
    second.login("second@shop.test").await;
    let foreign = callback(&second, "code=x&state=", &state, "").await;
    assert_eq!(foreign.status(), 400);
    let tampered = callback(&app, "code=x&state=", &state, "A").await;
    assert_eq!(tampered.status(), 400);

    // The admin's own link with a code the provider refuses (PKCE verifier mismatch).
    let refused = callback(&app, "code=not-a-code&state=", &state, "").await;
    assert_eq!(refused.status(), 303);
    assert!(location(&refused).contains("flash=flash.channel_oauth_failed"));
    let stored = channel(&app, id).await;
    assert!(stored.oauth_refresh_token_sealed.is_none());
    assert!(stored.last_error.unwrap().contains("invalid_grant"));

    // "Deny" at the provider: nothing changes.
    let denied = callback(&app, "error=access_denied&state=", &state, "").await;
    assert!(location(&denied).contains("flash=flash.channel_oauth_denied"));
    assert_eq!(grants(&client_id).await, (0, 0));
    // The poller does not try a channel that was never signed in.
    let due = lethe::mail::imap::scheduler::due_channels(&app.state.db, Utc::now())
        .await
        .unwrap();
    assert!(due.iter().all(|c| c.id != id));
}

/// Comes back to the callback as `app`'s browser, with `before` + the state + `after` as query.
async fn callback(app: &TestApp, before: &str, state: &str, after: &str) -> reqwest::Response {
    let state: String = url::form_urlencoded::byte_serialize(state.as_bytes()).collect();
    app.get(&format!(
        "/settings/channels/oauth/callback?{before}{state}{after}"
    ))
    .await
}

#[tokio::test]
async fn the_microsoft_preset_fills_in_the_servers_and_sends_the_admin_to_microsoft_with_pkce() {
    let app = admin_app(AppOptions::default()).await;
    let mut fields = channel_form(&[
        ("imap_user", "support@shop.example"),
        ("imap_port", ""),
        ("smtp_port", ""),
    ]);
    fields.extend([
        ("auth_method", "oauth2"),
        ("oauth_provider", "microsoft"),
        ("oauth_client_id", "11111111-2222-3333-4444-555555555555"),
        ("oauth_client_secret", "entra-secret-value"),
    ]);
    let response = app
        .post_form("/settings/channels/new", "/settings/channels", &fields)
        .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let stored = channel_entity::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.imap_host.as_deref(), Some("outlook.office365.com"));
    assert_eq!(stored.imap_port, 993);
    assert_eq!(stored.smtp_host.as_deref(), Some("smtp.office365.com"));
    assert_eq!(stored.smtp_port, 587);
    assert_eq!(stored.smtp_tls, "starttls");
    assert!(
        !stored
            .oauth_client_secret_sealed
            .clone()
            .unwrap()
            .contains("entra-secret-value")
    );

    let start = app
        .get(&format!("/settings/channels/{}/oauth/start", stored.id))
        .await;
    let url = url::Url::parse(&location(&start)).unwrap();
    assert_eq!(url.host_str(), Some("login.microsoftonline.com"));
    assert_eq!(url.path(), "/organizations/oauth2/v2.0/authorize");
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    assert_eq!(
        query["redirect_uri"],
        app.url("/settings/channels/oauth/callback")
    );
    assert!(query["scope"].contains("https://outlook.office.com/IMAP.AccessAsUser.All"));
    assert!(query["scope"].contains("offline_access"));
    assert_eq!(query["login_hint"], "support@shop.example");
    // Not signed in: Test IMAP names the OAuth step, and nothing is fetched.
    let page = text_of(
        app.client
            .post(app.url(&format!("/settings/channels/{}/test-imap", stored.id)))
            .form(&[(
                "csrf",
                crate::helpers::csrf_of(
                    &app.get_text(&format!("/settings/channels/{}", stored.id))
                        .await,
                ),
            )]),
    )
    .await;
    assert!(page.contains("OAuth2 sign-in"), "the failing step is named");
    assert!(page.contains("not signed in with OAuth2 yet"));

    // A token URL that is not https (and not this machine) is refused with a reason.
    let mut bad = fields.clone();
    bad.push(("oauth_token_url", "http://login.example.com/token"));
    let response = app
        .post_form("/settings/channels/new", "/settings/channels", &bad)
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("must be https://"));
}

#[tokio::test]
async fn a_reply_goes_out_from_the_alias_the_customer_wrote_to_and_the_shops_own_mail_is_not_stored()
 {
    let smtp = SmtpRecorder::start().await;
    let app = admin_app(AppOptions::default()).await;
    let user = mailbox_user();
    let server = dovecot();
    let port = server.port.to_string();
    let smtp_port = smtp.port.to_string();
    let mut fields = channel_form(&[
        ("imap_host", server.host.as_str()),
        ("imap_port", port.as_str()),
        ("imap_tls", "none"),
        ("imap_user", user.as_str()),
        ("imap_password", server.password.as_str()),
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", smtp_port.as_str()),
        ("smtp_tls", "none"),
    ]);
    fields.push(("aliases", "returns@shop.test, Rechnung@shop.test"));
    let response = app
        .post_form("/settings/channels/new", "/settings/channels", &fields)
        .await;
    assert_eq!(response.status(), 303);
    let stored = channel_entity::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.aliases, "returns@shop.test, rechnung@shop.test");

    let to_alias = "From: Kim Kunde <kim@customer.test>\r\nTo: returns@shop.test\r\nSubject: Retoure\r\nMessage-ID: <alias-1@customer.test>\r\n\r\nIch schicke es zurueck.\r\n";
    append(&user, "INBOX", to_alias).await;
    // A loop: the shop's own address writing to its alias.
    let own = "From: Shop <support@shop.test>\r\nTo: returns@shop.test\r\nSubject: Weiterleitung\r\nMessage-ID: <own-1@shop.test>\r\n\r\nweitergeleitet\r\n";
    append(&user, "INBOX", own).await;
    let outcome = poll_once(&app.state, &stored).await.unwrap();
    assert_eq!((outcome.stored, outcome.duplicates), (1, 1));
    assert_eq!(
        folder_state(&user, "INBOX").await,
        vec![(1, true), (2, true)]
    );
    assert_eq!(inbound_messages(&app).await, 1);

    let conversation = message::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .conversation_id;
    let path = format!("/conversations/{conversation}");
    app.post_form(
        &path,
        &format!("{path}/reply"),
        &[("text", "Danke, erhalten.")],
    )
    .await;
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    let sent = smtp.wait_for(1).await;
    let from = sent[0]
        .lines()
        .find(|l| l.starts_with("From:"))
        .unwrap()
        .to_owned();
    assert!(from.contains("<returns@shop.test>"), "{from}");

    // The reply comes back through the mailbox (a copy in the inbox): stored once.
    let copy = sent[0]
        .split_once("\r\n")
        .map(|(_, rest)| rest.to_owned())
        .unwrap();
    append(&user, "INBOX", &copy).await;
    let outcome = poll_once(&app.state, &channel(&app, stored.id).await)
        .await
        .unwrap();
    assert_eq!((outcome.stored, outcome.duplicates), (0, 1));
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation))
            .count(&app.state.db)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn with_imap_idle_mail_arrives_without_waiting_for_the_poll_interval() {
    let app = admin_app(AppOptions {
        extra_env: vec![("LETHE_WORKERS".into(), "imap".into())],
        ..Default::default()
    })
    .await;
    let org = app.org_id("Shop").await;
    let user = mailbox_user();
    let mut settings = crate::imap::settings(&user);
    settings.folder = "INBOX".into();
    let created = crate::imap::imap_channel(&app, org, settings).await;
    // Poll only once a day: whatever arrives sooner came through IDLE.
    channel_entity::Entity::update_many()
        .col_expr(channel_entity::Column::PollSeconds, 86_400.into())
        .filter(channel_entity::Column::Id.eq(created.id))
        .exec(&app.state.db)
        .await
        .unwrap();
    let page_path = format!("/settings/channels/{}", created.id);
    let mut idling = false;
    for _ in 0..150 {
        if app
            .get_text(&page_path)
            .await
            .contains("Mail arrives at once")
        {
            idling = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        idling,
        "the channel page says that the IDLE connection is open"
    );
    assert_eq!(app.state.idle.idling(), 1);

    for n in 1..=3 {
        append(&user, "INBOX", &mail(&format!("idle-{n}"), "Sofort?")).await;
        let mut arrived = false;
        for _ in 0..100 {
            if inbound_messages(&app).await == n {
                arrived = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            arrived,
            "mail {n} arrived through IDLE, long before the daily poll"
        );
    }
    assert!(!app.state.idle.left_to_poller(created.id));
}
