//! Settings → Channels: forms with their validation, sealed passwords that are never shown
//! again, audit entries, the test buttons against the real Dovecot, deletion, and 404 for
//! another organization's channels.

use lethe::db::entity::{audit_event, channel as channel_entity};
use lethe::mail::channel;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{AppOptions, TestApp, channel_form, location, spawn_app, spawn_app_with};
use crate::imap::{imap_channel, mailbox_user, settings};

const IMAP_SECRET_MARK: &str = "imap-pw-Zq81";
const SMTP_SECRET_MARK: &str = "smtp-pw-Xv42";

async fn admin_app() -> TestApp {
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    app.login("admin@shop.test").await;
    app
}

/// The channel form for IMAP on 127.0.0.1:`port` as `imap_user` and SMTP on smtp.shop.test.
fn full_form<'a>(imap_user: &'a str, port: &'a str) -> Vec<(&'a str, &'a str)> {
    channel_form(&[
        ("imap_host", "127.0.0.1"),
        ("imap_port", port),
        ("imap_tls", "none"),
        ("imap_user", imap_user),
        ("imap_password", IMAP_SECRET_MARK),
        ("poll_seconds", "120"),
        ("smtp_host", "smtp.shop.test"),
        ("smtp_user", "support@shop.test"),
        ("smtp_password", SMTP_SECRET_MARK),
    ])
}

async fn only_channel(app: &TestApp) -> channel_entity::Model {
    let all = channel_entity::Entity::find()
        .all(&app.state.db)
        .await
        .expect("query");
    assert_eq!(all.len(), 1, "exactly one channel");
    all.into_iter().next().expect("channel")
}

#[tokio::test]
async fn an_admin_creates_a_channel_whose_passwords_are_sealed_and_never_shown() {
    let app = admin_app().await;

    let response = app
        .post_form(
            "/settings/channels/new",
            "/settings/channels",
            &full_form("user@example.test", "1143"),
        )
        .await;

    assert_eq!(response.status().as_u16(), 303);
    let stored = only_channel(&app).await;
    assert!(location(&response).starts_with(&format!("/settings/channels/{}", stored.id)));
    let sealed = stored.imap_password_sealed.clone().expect("sealed");
    assert!(!sealed.contains(IMAP_SECRET_MARK));
    let sealed_smtp = stored.smtp_password_sealed.clone().expect("sealed");
    assert!(!sealed_smtp.contains(SMTP_SECRET_MARK));
    let opened = channel::imap_settings(&stored, &app.state.sealer)
        .expect("opens")
        .expect("imap");
    assert!(opened.secret == channel::Secret::Password(IMAP_SECRET_MARK.into()));

    let edit = app
        .get_text(&format!("/settings/channels/{}", stored.id))
        .await;
    assert!(edit.contains("Support"));
    assert!(!edit.contains(IMAP_SECRET_MARK) && !edit.contains(SMTP_SECRET_MARK));
    assert!(edit.contains("/inbound/email/"));
    let list = app.get_text("/settings/channels").await;
    assert!(list.contains("127.0.0.1:1143"));

    let audit = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("channel.created"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("audit entry");
    let audit_text = format!("{audit:?}");
    assert!(!audit_text.contains(IMAP_SECRET_MARK) && !audit_text.contains(SMTP_SECRET_MARK));
}

#[tokio::test]
async fn an_empty_password_field_keeps_the_stored_password() {
    let app = admin_app().await;
    app.post_form(
        "/settings/channels/new",
        "/settings/channels",
        &full_form("user@example.test", "1143"),
    )
    .await;
    let stored = only_channel(&app).await;
    let edit_url = format!("/settings/channels/{}", stored.id);
    let mut fields = full_form("user@example.test", "1143");
    fields.retain(|(k, _)| *k != "imap_password" && *k != "smtp_password");
    fields.retain(|(k, _)| *k != "name");
    fields.push(("name", "Renamed"));
    fields.push(("imap_password", ""));
    fields.push(("smtp_password", ""));

    let response = app.post_form(&edit_url, &edit_url, &fields).await;

    assert_eq!(response.status().as_u16(), 303);
    let after = only_channel(&app).await;
    assert_eq!(after.name, "Renamed");
    let imap = channel::imap_settings(&after, &app.state.sealer)
        .expect("opens")
        .expect("imap");
    assert!(imap.secret == channel::Secret::Password(IMAP_SECRET_MARK.into()));
    let smtp = channel::smtp_settings(&after, &app.state.sealer)
        .expect("opens")
        .expect("smtp");
    assert!(smtp.secret == Some(channel::Secret::Password(SMTP_SECRET_MARK.into())));
    assert!(
        audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("channel.updated"))
            .one(&app.state.db)
            .await
            .expect("query")
            .is_some()
    );
}

#[tokio::test]
async fn a_bad_form_is_shown_again_with_its_mistakes_and_changes_nothing() {
    let app = admin_app().await;
    let mut fields = full_form("user@example.test", "99999");
    fields.retain(|(k, _)| !matches!(*k, "from_address" | "poll_seconds" | "imap_password"));
    fields.push(("from_address", "not an address"));
    fields.push(("poll_seconds", "5"));
    fields.push(("imap_password", ""));

    let response = app
        .post_form("/settings/channels/new", "/settings/channels", &fields)
        .await;

    assert_eq!(response.status().as_u16(), 422);
    let page = response.text().await.expect("body");
    assert!(page.contains("The sender address is not a valid email address."));
    assert!(page.contains("The IMAP port must be a number from 1 to 65535."));
    assert!(page.contains("The fetch interval must be a number of seconds from 30 to 86400."));
    assert!(page.contains("Enter the IMAP password."));
    assert!(!page.contains(SMTP_SECRET_MARK), "passwords are not echoed");
    assert!(
        channel_entity::Entity::find()
            .all(&app.state.db)
            .await
            .expect("query")
            .is_empty()
    );
}

#[tokio::test]
async fn agents_cannot_open_channel_settings() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("agent@shop.test").await;

    assert_eq!(app.get("/settings/channels").await.status().as_u16(), 403);
}

#[tokio::test]
async fn the_test_buttons_say_exactly_what_failed() {
    let app = admin_app().await;
    let org = app.org_id("Shop").await;
    let mut wrong = settings(&mailbox_user());
    wrong.secret = channel::Secret::Password("wrong-password".into());
    let bad = imap_channel(&app, org, wrong).await;
    let mut missing = settings(&mailbox_user());
    missing.folder = "Nope".into();
    let no_folder = imap_channel(&app, org, missing).await;
    let good = imap_channel(&app, org, settings(&mailbox_user())).await;
    let url = |id: i64, what: &str| format!("/settings/channels/{id}{what}");

    let page = app
        .post_form(&url(bad.id, ""), &url(bad.id, "/test-imap"), &[])
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("Login refused"), "{page}");
    assert!(page.contains("the server refused the sign-in"));

    let page = app
        .post_form(
            &url(no_folder.id, ""),
            &url(no_folder.id, "/test-imap"),
            &[],
        )
        .await
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("folder &quot;Nope&quot; does not exist")
            || page.contains("folder &#34;Nope&#34; does not exist"),
        "{page}"
    );

    let page = app
        .post_form(&url(good.id, ""), &url(good.id, "/test-imap"), &[])
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("Connected and signed in successfully."));

    // No SMTP server configured on this channel: the button says so.
    let page = app
        .post_form(&url(good.id, ""), &url(good.id, "/test-smtp"), &[])
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("This channel has no SMTP server."));
}

#[tokio::test]
async fn deleting_a_channel_needs_confirmation() {
    let app = admin_app().await;
    let org = app.org_id("Shop").await;
    let created = imap_channel(&app, org, settings(&mailbox_user())).await;
    let edit = format!("/settings/channels/{}", created.id);
    let delete = format!("{edit}/delete");

    let refused = app.post_form(&edit, &delete, &[]).await;
    assert_eq!(refused.status().as_u16(), 422);
    assert!(
        channel::find(&app.state.db, org, created.id)
            .await
            .expect("q")
            .is_some()
    );

    let done = app.post_form(&edit, &delete, &[("confirm", "yes")]).await;
    assert_eq!(done.status().as_u16(), 303);
    assert!(
        channel::find(&app.state.db, org, created.id)
            .await
            .expect("q")
            .is_none()
    );
    assert!(
        audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("channel.deleted"))
            .one(&app.state.db)
            .await
            .expect("query")
            .is_some()
    );
}

#[tokio::test]
async fn another_organizations_channel_ids_answer_404_on_every_channel_url() {
    let app = admin_app().await;
    app.create_user("owner-b@shop-b.test", "Shop B", "owner")
        .await;
    let org_b = app.org_id("Shop B").await;
    let theirs = imap_channel(&app, org_b, settings(&mailbox_user())).await;
    let id = theirs.id;
    let form = full_form("user@example.test", "1143");

    let get = app.get(&format!("/settings/channels/{id}")).await;
    assert_eq!(get.status().as_u16(), 404);
    for (action, fields) in [
        (format!("/settings/channels/{id}"), form.clone()),
        (
            format!("/settings/channels/{id}/delete"),
            vec![("confirm", "yes")],
        ),
        (format!("/settings/channels/{id}/test-imap"), vec![]),
        (format!("/settings/channels/{id}/test-smtp"), vec![]),
    ] {
        let response = app.post_form("/settings/channels", &action, &fields).await;
        assert_eq!(response.status().as_u16(), 404, "{action}");
    }
    let unchanged = channel::find(&app.state.db, org_b, id)
        .await
        .expect("query")
        .expect("still there");
    assert_eq!(unchanged, theirs);
}

#[tokio::test]
async fn channels_cannot_reach_inside_the_network_unless_the_operator_allows_it() {
    // The operator did not allow private hosts: a shop admin's channel settings cannot make
    // the server connect to its own loopback (the suite's Dovecot) or a metadata address.
    let app = spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_ALLOW_PRIVATE_HOSTS".into(), "false".into())],
        ..Default::default()
    })
    .await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    app.login("admin@shop.test").await;
    let org = app.org_id("Shop").await;
    let loopback = imap_channel(&app, org, settings(&mailbox_user())).await;
    let mut metadata_settings = settings(&mailbox_user());
    metadata_settings.host = "169.254.169.254".into();
    let metadata = imap_channel(&app, org, metadata_settings).await;
    let url = |id: i64, what: &str| format!("/settings/channels/{id}{what}");

    for (channel, address) in [(&loopback, "127.0.0.1"), (&metadata, "169.254.169.254")] {
        let page = app
            .post_form(&url(channel.id, ""), &url(channel.id, "/test-imap"), &[])
            .await
            .text()
            .await
            .expect("body");
        assert!(
            page.contains(address) && page.contains("LETHE_ALLOW_PRIVATE_HOSTS=true"),
            "{page}"
        );
        assert!(!page.contains("Connected and signed in successfully."));
    }

    // The poller is refused the same way, and says so in the channel's last error.
    let outcome = lethe::mail::imap::poll_once(&app.state, &loopback).await;
    assert!(outcome.is_err(), "{outcome:?}");
    let stored = channel_entity::Entity::find_by_id(loopback.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("LETHE_ALLOW_PRIVATE_HOSTS")),
        "{:?}",
        stored.last_error
    );
}
