//! IMAP polling against the real Dovecot that ./scripts/test.sh starts: import, `\Seen` and
//! move after commit, no re-import, duplicates stored once, UIDVALIDITY changes, failures
//! kept per channel, and precise test-connection results.

use async_imap::Client;
use futures::TryStreamExt;
use lethe::db::entity::{channel as channel_entity, conversation, message};
use lethe::mail::EmailAddress;
use lethe::mail::channel::{self, ImapSettings, NewChannel, Secret, TlsMode};
use lethe::mail::egress::Egress;
use lethe::mail::imap::{self, Stage, poll_once};
use lethe::orgs::OrgId;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio::net::TcpStream;

use crate::helpers::{self, TestApp, spawn_app, unique_suffix};

/// Where the test Dovecot listens; it accepts any user name with one password.
pub struct Dovecot {
    pub host: String,
    pub port: u16,
    pub password: String,
}

pub fn dovecot() -> Dovecot {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests with ./scripts/test.sh, which starts Dovecot")
        })
    };
    Dovecot {
        host: var("LETHE_TEST_IMAP_HOST"),
        port: var("LETHE_TEST_IMAP_PORT").parse().expect("port number"),
        password: var("LETHE_TEST_IMAP_PASSWORD"),
    }
}

/// A mailbox user of its own for each test.
pub fn mailbox_user() -> String {
    format!("t-{}@example.test", unique_suffix())
}

pub fn settings(user: &str) -> ImapSettings {
    let server = dovecot();
    ImapSettings {
        host: server.host,
        port: server.port,
        tls: TlsMode::None,
        user: user.to_owned(),
        secret: Secret::Password(server.password),
        folder: "INBOX".into(),
        move_to: None,
    }
}

/// The test's own IMAP session, to put mail in and look at flags.
pub async fn mailbox(user: &str) -> async_imap::Session<TcpStream> {
    let server = dovecot();
    let tcp = TcpStream::connect((server.host.as_str(), server.port))
        .await
        .expect("connect to Dovecot");
    let mut client = Client::new(tcp);
    client
        .read_response()
        .await
        .expect("greeting")
        .expect("greeting");
    client
        .login(user, &server.password)
        .await
        .map_err(|(e, _)| e)
        .expect("login")
}

pub async fn append(user: &str, folder: &str, raw: &str) {
    let mut session = mailbox(user).await;
    session
        .append(folder, None, None, raw.as_bytes())
        .await
        .expect("APPEND");
    session.logout().await.ok();
}

/// `(uid, seen)` of every message in the folder.
pub async fn folder_state(user: &str, folder: &str) -> Vec<(u32, bool)> {
    let mut session = mailbox(user).await;
    let mailbox = session.select(folder).await.expect("SELECT");
    if mailbox.exists == 0 {
        return Vec::new();
    }
    let fetches: Vec<_> = session
        .fetch("1:*", "(UID FLAGS)")
        .await
        .expect("FETCH")
        .try_collect()
        .await
        .expect("FETCH");
    let mut out: Vec<(u32, bool)> = fetches
        .iter()
        .map(|f| {
            let seen = f
                .flags()
                .any(|flag| matches!(flag, async_imap::types::Flag::Seen));
            (f.uid.expect("uid"), seen)
        })
        .collect();
    out.sort_unstable();
    drop(fetches);
    session.logout().await.ok();
    out
}

/// A customer's mail to the shop's mailbox.
pub fn mail(message_id: &str, subject: &str) -> String {
    helpers::mail(
        &format!("Customer <customer-{message_id}@example.test>"),
        &format!("{message_id}@example.test"),
        subject,
        "Hello, where is my order?",
    )
    .to("shop@example.test")
    .date("Sun, 22 Nov 2026 10:00:00 +0000")
    .to_string()
}

/// A channel of `org` fetching from `user`'s mailbox.
pub async fn imap_channel(app: &TestApp, org: OrgId, imap: ImapSettings) -> channel_entity::Model {
    channel::create(
        &app.state.db,
        &app.state.sealer,
        org,
        NewChannel {
            name: format!("Support {}", unique_suffix()),
            imap: Some(imap),
            smtp: None,
            from_name: "Shop".into(),
            from_address: EmailAddress::parse("shop@example.test").expect("address"),
            aliases: Vec::new(),
            poll_seconds: 60,
            auth: channel::ChannelAuth::Password,
        },
    )
    .await
    .expect("channel")
    .0
}

async fn reload(app: &TestApp, id: i64) -> channel_entity::Model {
    channel_entity::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("channel")
}

async fn conversations(app: &TestApp, org: OrgId) -> u64 {
    conversation::Entity::find()
        .filter(conversation::Column::OrganizationId.eq(org.get()))
        .count(&app.state.db)
        .await
        .expect("count")
}

async fn messages(app: &TestApp, org: OrgId) -> u64 {
    message::Entity::find()
        .filter(message::Column::OrganizationId.eq(org.get()))
        .count(&app.state.db)
        .await
        .expect("count")
}

async fn app_with_org() -> (TestApp, OrgId) {
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    (app, org)
}

#[tokio::test]
async fn appended_mail_becomes_a_conversation_and_is_marked_seen() {
    // Arrange
    let (app, org) = app_with_org().await;
    let user = mailbox_user();
    append(&user, "INBOX", &mail("first-1", "Where is my order?")).await;
    assert_eq!(folder_state(&user, "INBOX").await, vec![(1, false)]);
    let channel = imap_channel(&app, org, settings(&user)).await;

    // Act
    let outcome = poll_once(&app.state, &channel).await.expect("poll");

    // Assert
    assert_eq!(outcome.stored, 1);
    assert_eq!(conversations(&app, org).await, 1);
    assert_eq!(folder_state(&user, "INBOX").await, vec![(1, true)]);
    let stored = reload(&app, channel.id).await;
    assert_eq!(stored.imap_last_uid, 1);
    assert!(stored.last_poll_at.is_some());
    assert_eq!(stored.last_error, None);

    // Polling again imports nothing new (UID 1:* still answers with the last message).
    let again = poll_once(&app.state, &stored).await.expect("poll");
    assert_eq!((again.stored, again.duplicates), (0, 0));
    assert_eq!(messages(&app, org).await, 1);
}

#[tokio::test]
async fn fetched_mail_is_moved_when_a_folder_is_configured() {
    let (app, org) = app_with_org().await;
    let user = mailbox_user();
    let mut session = mailbox(&user).await;
    session.create("Imported").await.expect("CREATE");
    session.logout().await.ok();
    append(&user, "INBOX", &mail("move-1", "Return")).await;
    append(&user, "INBOX", &mail("move-2", "Invoice")).await;
    let mut imap = settings(&user);
    imap.move_to = Some("Imported".into());
    let channel = imap_channel(&app, org, imap).await;

    let outcome = poll_once(&app.state, &channel).await.expect("poll");

    assert_eq!(outcome.stored, 2);
    assert_eq!(folder_state(&user, "INBOX").await, vec![]);
    assert_eq!(folder_state(&user, "Imported").await.len(), 2);
    assert_eq!(conversations(&app, org).await, 2);
}

#[tokio::test]
async fn the_same_mail_appended_twice_is_stored_once() {
    let (app, org) = app_with_org().await;
    let user = mailbox_user();
    let raw = mail("twice-1", "Twice");
    append(&user, "INBOX", &raw).await;
    append(&user, "INBOX", &raw).await;
    let channel = imap_channel(&app, org, settings(&user)).await;

    let outcome = poll_once(&app.state, &channel).await.expect("poll");

    assert_eq!((outcome.stored, outcome.duplicates), (1, 1));
    assert_eq!(messages(&app, org).await, 1);
    // Both are acknowledged: the duplicate is known, so it is safe.
    assert_eq!(
        folder_state(&user, "INBOX").await,
        vec![(1, true), (2, true)]
    );
}

#[tokio::test]
async fn a_wrong_password_is_kept_on_its_channel_and_does_not_stop_another() {
    let (app, org) = app_with_org().await;
    let good_user = mailbox_user();
    append(&good_user, "INBOX", &mail("good-1", "Hello")).await;
    let good = imap_channel(&app, org, settings(&good_user)).await;
    let mut wrong = settings(&mailbox_user());
    wrong.secret = Secret::Password("not-the-password".into());
    let bad = imap_channel(&app, org, wrong).await;

    let (bad_result, good_result) =
        tokio::join!(poll_once(&app.state, &bad), poll_once(&app.state, &good));

    let problem = bad_result.expect_err("wrong password fails");
    assert_eq!(problem.stage, Stage::Auth);
    assert_eq!(good_result.expect("good channel polls").stored, 1);
    let stored = reload(&app, bad.id).await;
    let error = stored.last_error.expect("error stored");
    assert!(error.starts_with("auth: "), "{error}");
    assert!(!error.contains("not-the-password"));
    assert_eq!(reload(&app, good.id).await.last_error, None);

    app.login("admin@shop.test").await;
    let page = app.get_text("/settings/channels").await;
    assert!(page.contains("Login refused"), "{page}");
    assert!(page.contains("the server refused the sign-in"));
}

#[tokio::test]
async fn a_changed_uidvalidity_starts_over_without_duplicating() {
    let (app, org) = app_with_org().await;
    let user = mailbox_user();
    let mut session = mailbox(&user).await;
    session.create("Support").await.expect("CREATE");
    session.logout().await.ok();
    append(&user, "Support", &mail("uv-1", "First")).await;
    let mut imap = settings(&user);
    imap.folder = "Support".into();
    let channel = imap_channel(&app, org, imap).await;
    let first = poll_once(&app.state, &channel).await.expect("poll");
    assert_eq!(first.stored, 1);
    let before = reload(&app, channel.id).await;

    // The folder is recreated: new UIDVALIDITY, UIDs start at 1 again.
    let mut session = mailbox(&user).await;
    session.delete("Support").await.expect("DELETE");
    session.create("Support").await.expect("CREATE");
    session.logout().await.ok();
    append(&user, "Support", &mail("uv-1", "First")).await;
    append(&user, "Support", &mail("uv-2", "Second")).await;
    let second = poll_once(&app.state, &before).await.expect("poll");

    assert!(second.uid_validity_reset);
    assert_eq!((second.stored, second.duplicates), (1, 1));
    assert_eq!(messages(&app, org).await, 2);
    let after = reload(&app, channel.id).await;
    assert_ne!(after.imap_uid_validity, before.imap_uid_validity);
    assert_eq!(after.imap_last_uid, 2);
}

#[tokio::test]
async fn a_message_that_is_not_email_is_left_seen_and_does_not_block_the_rest() {
    let (app, org) = app_with_org().await;
    let user = mailbox_user();
    append(
        &user,
        "INBOX",
        "\u{1}\u{2}binary garbage without headers\r\n",
    )
    .await;
    append(&user, "INBOX", &mail("after-junk", "Real mail")).await;
    let channel = imap_channel(&app, org, settings(&user)).await;

    let outcome = poll_once(&app.state, &channel).await.expect("poll");

    assert_eq!((outcome.stored, outcome.rejected), (1, 1));
    assert_eq!(
        folder_state(&user, "INBOX").await,
        vec![(1, true), (2, true)]
    );
    let stored = reload(&app, channel.id).await;
    assert_eq!(stored.imap_last_uid, 2);
    assert!(
        stored
            .last_error
            .expect("note")
            .starts_with("rejected: 1 message")
    );
}

#[tokio::test]
async fn a_database_failure_acknowledges_nothing_and_the_next_poll_imports_it() {
    let (app, org) = app_with_org().await;
    let user = mailbox_user();
    append(&user, "INBOX", &mail("db-down-1", "Lost?")).await;
    let channel = imap_channel(&app, org, settings(&user)).await;
    let db = &app.state.db;
    db.execute_unprepared("ALTER TABLE messages RENAME TO messages_away")
        .await
        .expect("rename");

    let problem = poll_once(&app.state, &channel)
        .await
        .expect_err("storing fails");

    db.execute_unprepared("ALTER TABLE messages_away RENAME TO messages")
        .await
        .expect("rename back");
    assert_eq!(problem.stage, Stage::Store);
    assert_eq!(folder_state(&user, "INBOX").await, vec![(1, false)]);
    let stored = reload(&app, channel.id).await;
    assert_eq!(stored.imap_last_uid, 0);
    let outcome = poll_once(&app.state, &stored).await.expect("poll");
    assert_eq!(outcome.stored, 1);
    assert_eq!(folder_state(&user, "INBOX").await, vec![(1, true)]);
}

/// The suite's Dovecot is on loopback, which only an operator's setting lets channels reach.
const LOOPBACK: Egress = Egress::new(true);

#[tokio::test]
async fn test_connection_names_the_failing_step() {
    let user = mailbox_user();
    imap::test_connection(&settings(&user), LOOPBACK)
        .await
        .expect("good settings pass");

    let mut wrong_password = settings(&user);
    wrong_password.secret = Secret::Password("wrong".into());
    let problem = imap::test_connection(&wrong_password, LOOPBACK)
        .await
        .expect_err("refused");
    assert_eq!(problem.stage, Stage::Auth);
    assert!(
        problem
            .to_string()
            .starts_with("the server refused the sign-in")
    );

    let mut missing = settings(&user);
    missing.folder = "Nope".into();
    let problem = imap::test_connection(&missing, LOOPBACK)
        .await
        .expect_err("no folder");
    assert_eq!(problem.stage, Stage::Folder);
    assert_eq!(problem.to_string(), "folder \"Nope\" does not exist");

    let mut missing_target = settings(&user);
    missing_target.move_to = Some("Archive".into());
    let problem = imap::test_connection(&missing_target, LOOPBACK)
        .await
        .expect_err("no target folder");
    assert_eq!(problem.to_string(), "folder \"Archive\" does not exist");

    // Dovecot is on loopback: without the operator's setting, the connection is refused.
    let problem = imap::test_connection(&settings(&user), Egress::PUBLIC_ONLY)
        .await
        .expect_err("loopback refused");
    assert_eq!(problem.stage, Stage::Dns);
    assert!(
        problem.to_string().contains("LETHE_ALLOW_PRIVATE_HOSTS"),
        "{problem}"
    );

    let mut unknown_host = settings(&user);
    unknown_host.host = "no-such-host.invalid".into();
    let problem = imap::test_connection(&unknown_host, LOOPBACK)
        .await
        .expect_err("no host");
    assert_eq!(problem.stage, Stage::Dns);
    assert!(problem.to_string().starts_with("could not resolve host"));

    let mut closed_port = settings(&user);
    closed_port.port = crate::smtp::free_port();
    let problem = imap::test_connection(&closed_port, LOOPBACK)
        .await
        .expect_err("nothing listens");
    assert_eq!(problem.stage, Stage::Connect);

    // A plain-text IMAP server is not a TLS server.
    let mut tls = settings(&user);
    tls.tls = TlsMode::Tls;
    let problem = imap::test_connection(&tls, LOOPBACK)
        .await
        .expect_err("no TLS");
    assert_eq!(problem.stage, Stage::Tls);
    assert!(problem.to_string().starts_with("TLS handshake failed"));

    // This Dovecot offers no STARTTLS: refused, and said so.
    let mut starttls = settings(&user);
    starttls.tls = TlsMode::StartTls;
    let problem = imap::test_connection(&starttls, LOOPBACK)
        .await
        .expect_err("no STARTTLS");
    assert_eq!(problem.stage, Stage::Tls);
}

#[tokio::test]
async fn the_poller_picks_channels_whose_interval_has_passed() {
    let (app, org) = app_with_org().await;
    let channel = imap_channel(&app, org, settings(&mailbox_user())).await;
    let now = chrono::Utc::now();
    let due = |list: Vec<channel_entity::Model>| list.iter().any(|c| c.id == channel.id);

    assert!(due(imap::scheduler::due_channels(&app.state.db, now)
        .await
        .expect("due")));
    channel::record_poll(&app.state.db, channel.id, now, None)
        .await
        .expect("record");
    assert!(!due(imap::scheduler::due_channels(&app.state.db, now)
        .await
        .expect("due")));
    let later = now + chrono::Duration::seconds(60);
    assert!(due(imap::scheduler::due_channels(&app.state.db, later)
        .await
        .expect("due")));
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_not_fetched_and_is_left_unread_with_a_note() {
    let app = crate::helpers::spawn_app_with(crate::helpers::AppOptions {
        extra_env: vec![("LETHE_MAX_MESSAGE_MB".into(), "1".into())],
        ..Default::default()
    })
    .await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let user = mailbox_user();
    append(&user, "INBOX", &mail("small-1", "Before")).await;
    // 2 MB of text in a mail: over the 1 MB limit by the server's own count.
    let big = mail("big-1", "Huge").replace(
        "Hello, where is my order?",
        &"0123456789abcdef ".repeat(2 * 1024 * 1024 / 17),
    );
    append(&user, "INBOX", &big).await;
    append(&user, "INBOX", &mail("small-2", "After")).await;
    let channel = imap_channel(&app, org, settings(&user)).await;

    let outcome = poll_once(&app.state, &channel).await.expect("poll");

    assert_eq!(outcome.stored, 2);
    assert_eq!(outcome.too_large.len(), 1);
    assert_eq!(outcome.too_large[0].0, 2);
    assert!(outcome.too_large[0].1 > 1024 * 1024);
    assert_eq!(
        folder_state(&user, "INBOX").await,
        vec![(1, true), (2, false), (3, true)],
        "the big one stays unread on the server"
    );
    let stored = reload(&app, channel.id).await;
    assert_eq!(stored.imap_last_uid, 3);
    let note = stored.last_error.clone().expect("a note");
    assert!(
        note.starts_with("too large: 1 message(s) are over LETHE_MAX_MESSAGE_MB (1.0 MB)")
            && note.contains("UID 2: 2.0 MB"),
        "{note}"
    );
    // The next poll does not fetch it again.
    let again = poll_once(&app.state, &stored).await.expect("poll");
    assert_eq!((again.stored, again.too_large.len()), (0, 0));
    assert_eq!(messages(&app, org).await, 2);
}
