//! Search, end to end: mail stored through the real ingest path, the queue drained by the
//! indexer, and results read from `/search` as an agent's browser sees them.

use std::collections::BTreeMap;
use std::path::Path;

use lethe::app::Application;
use lethe::config::Config;
use lethe::db::entity::{conversation, message};
use lethe::mail::ingest::Source;
use lethe::orgs::OrgId;
use lethe::search::indexer::run_once;
use lethe::state::AppState;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use crate::helpers::{
    self, AppOptions, TestApp, browser_client, files_holding, imported, ingest_into,
    post_form_with, spawn_app, spawn_app_with, test_tmp_root, text_of,
};

const MARCH: &str = "Tue, 03 Mar 2026 10:00:00 +0000";

/// A plain-text mail with a Message-ID of its own.
fn mail(from: &str, subject: &str, body: &str) -> Vec<u8> {
    mail_dated(from, subject, body, MARCH)
}

fn mail_dated(from: &str, subject: &str, body: &str, date: &str) -> Vec<u8> {
    let message_id = format!("{}@customer.test", uuid::Uuid::new_v4());
    helpers::mail(from, &message_id, subject, body)
        .date(date)
        .into()
}

/// A mail with a PDF attachment.
fn mail_with_attachment(from: &str, subject: &str, body: &str) -> Vec<u8> {
    let message_id = format!("{}@customer.test", uuid::Uuid::new_v4());
    helpers::mail(from, &message_id, subject, body)
        .date(MARCH)
        .attachment(
            "application/pdf",
            "invoice.pdf",
            b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n",
        )
        .into()
}

async fn store(state: &AppState, org: OrgId, raw: Vec<u8>) -> (i64, i64) {
    ingest_into(state, imported(org), raw).await
}

fn encode(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// The conversation ids `/search?q=` lists (sorted), asserting a 200.
async fn hits(app: &TestApp, q: &str) -> Vec<i64> {
    let response = app.get(&format!("/search?q={}", encode(q))).await;
    assert_eq!(response.status(), 200, "query {q:?}");
    let html = response.text().await.unwrap();
    conversation_links(&html)
}

pub(crate) fn conversation_links(html: &str) -> Vec<i64> {
    let re = regex::Regex::new(r#"<h2><a href="/conversations/(\d+)">"#).unwrap();
    let mut ids: Vec<i64> = re
        .captures_iter(html)
        .map(|c| c[1].parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// An owner of "Shop A", signed in.
async fn shop_a(app: &TestApp) -> (OrgId, i64) {
    let user = app
        .create_user("owner@shop-a.test", "Shop A", "owner")
        .await;
    app.login("owner@shop-a.test").await;
    (app.org_id("Shop A").await, user)
}

#[tokio::test]
async fn org_b_never_sees_org_a_documents_whatever_the_query() {
    // Arrange
    let app = spawn_app().await;
    let (org_a, _) = shop_a(&app).await;
    let b = app.another_browser();
    b.create_user("owner@shop-b.test", "Shop B", "owner").await;
    b.login("owner@shop-b.test").await;
    let org_b = app.org_id("Shop B").await;
    let (a1, _) = store(
        &app.state,
        org_a,
        mail_with_attachment(
            "Anna Müller <anna@kunde.test>",
            "Refund for ORD-2026-000123",
            "Secret alpha: please refund order ORD-2026-000123, it arrived broken.",
        ),
    )
    .await;
    let (b1, _) = store(
        &app.state,
        org_b,
        mail(
            "Bert <bert@kunde.test>",
            "Delivery question",
            "Where is my refund? beta",
        ),
    )
    .await;
    run_once(&app.state).await.unwrap();

    // Act / Assert
    for q in [
        "secret",
        "alpha",
        "refund",
        "\"secret alpha\"",
        "ORD-2026-000123",
        "000123",
        "anna@kunde.test",
        "from:anna@kunde.test",
        "Müller",
        "mueller",
        "has:attachment",
        "status:open",
        "to:support@shop.test",
        "channel:email",
        "direction:inbound",
        "after:2000-01-01",
        "-zzz",
        "refund -beta",
    ] {
        let seen = hits(&b, q).await;
        assert!(
            !seen.contains(&a1),
            "org B saw org A's conversation for {q:?}"
        );
    }
    assert_eq!(hits(&b, "refund").await, vec![b1]);
    assert_eq!(hits(&app, "refund").await, vec![a1]);
    assert_eq!(hits(&app, "beta").await, Vec::<i64>::new());

    // Index segments that hold one organization's documents only (each drain commits its
    // own) are scoped as strictly as shared ones.
    let (a2, _) = store(
        &app.state,
        org_a,
        mail(
            "Anna <anna@kunde.test>",
            "Refund again",
            "Secret alpha refund, second try.",
        ),
    )
    .await;
    run_once(&app.state).await.unwrap();
    let (b2, _) = store(
        &app.state,
        org_b,
        mail(
            "Bert <bert@kunde.test>",
            "Refund again",
            "Still no refund. beta",
        ),
    )
    .await;
    run_once(&app.state).await.unwrap();
    for q in ["refund", "secret", "-zzz", "status:open", "channel:email"] {
        let seen = hits(&b, q).await;
        assert!(
            !seen.contains(&a1) && !seen.contains(&a2),
            "org B saw org A's conversation for {q:?}"
        );
        let seen = hits(&app, q).await;
        assert!(
            !seen.contains(&b1) && !seen.contains(&b2),
            "org A saw org B's conversation for {q:?}"
        );
    }
    let mut both_a = vec![a1, a2];
    both_a.sort_unstable();
    let mut both_b = vec![b1, b2];
    both_b.sort_unstable();
    assert_eq!(hits(&app, "refund").await, both_a);
    assert_eq!(hits(&b, "refund").await, both_b);
    assert_eq!(hits(&app, "status:open").await, both_a);
}

#[tokio::test]
async fn each_operator_of_the_query_language_filters_as_documented() {
    // Arrange
    let app = spawn_app().await;
    let (org, user) = shop_a(&app).await;
    let (c1, _) = store(
        &app.state,
        org,
        mail_dated(
            "Anna Schmidt <anna@kunde.test>",
            "Late delivery of my parcel",
            "The late delivery is annoying. Tracking JJD0001234567.",
            "Mon, 02 Feb 2026 10:00:00 +0000",
        ),
    )
    .await;
    let (support, _) = app
        .email_channel(org, "Support Desk", "support@shop.test", None)
        .await;
    let source = Source {
        channel_id: Some(support),
        ..imported(org)
    };
    let (c2, _) = app
        .ingest(
            source,
            mail_dated(
                "Bob Brown <bob@kunde.test>",
                "Delivery was late",
                "Delivery came late but fine. Spam free text.",
                "Wed, 01 Apr 2026 10:00:00 +0000",
            ),
        )
        .await;
    let (c3, _) = store(
        &app.state,
        org,
        mail_with_attachment(
            "Cleo <cleo@kunde.test>",
            "Invoice attached",
            "Here is the invoice for my delivery.",
        ),
    )
    .await;
    run_once(&app.state).await.unwrap();
    // Tag, status and assignee through the agent's pages; the triggers queue the changes.
    let page = format!("/conversations/{c1}");
    let r = app
        .post_form(&page, &format!("{page}/tags"), &[("name", "refund")])
        .await;
    assert_eq!(r.status(), 303);
    let page2 = format!("/conversations/{c2}");
    let r = app
        .post_form(&page2, &format!("{page2}/status"), &[("status", "closed")])
        .await;
    assert_eq!(r.status(), 303);
    let r = app
        .post_form(
            &page2,
            &format!("{page2}/assignee"),
            &[("assignee", &user.to_string())],
        )
        .await;
    assert_eq!(r.status(), 303);
    run_once(&app.state).await.unwrap();

    // Act / Assert
    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("delivery", vec![c1, c2, c3]),
        ("late delivery", vec![c1, c2]),
        ("\"late delivery\"", vec![c1]),
        ("delivery -late", vec![c3]),
        ("delivery -\"late delivery\"", vec![c2, c3]),
        ("from:anna@kunde.test", vec![c1]),
        ("from:bob", vec![c2]),
        ("to:support@shop.test delivery", vec![c1, c2, c3]),
        ("tag:refund", vec![c1]),
        ("-tag:refund delivery", vec![c2, c3]),
        ("status:closed", vec![c2]),
        ("status:open delivery", vec![c1, c3]),
        ("assignee:me", vec![c2]),
        ("assignee:none delivery", vec![c1, c3]),
        // Every channel is an email channel; a named one is found by its name too.
        ("channel:email late", vec![c1, c2]),
        ("channel:\"support desk\"", vec![c2]),
        ("-channel:\"Support Desk\" late", vec![c1]),
        ("channel:webchat", vec![]),
        ("has:attachment", vec![c3]),
        ("before:2026-03-01", vec![c1]),
        ("after:2026-03-01 late", vec![c2]),
        ("direction:inbound invoice", vec![c3]),
        ("direction:outbound", vec![]),
        ("JJD0001234567", vec![c1]),
    ];
    for (q, expected) in cases {
        let mut expected = expected;
        expected.sort_unstable();
        assert_eq!(hits(&app, q).await, expected, "query {q:?}");
    }
    // Sorting and highlighting.
    let html = app.get_text("/search?q=delivery&sort=newest").await;
    assert!(html.contains("<mark>"), "snippets are highlighted");
    assert!(html.contains("href=\"/conversations/"));
}

#[tokio::test]
async fn accents_spellings_and_word_forms_match_in_every_language() {
    // Arrange
    let app = spawn_app().await;
    let (org, _) = shop_a(&app).await;
    let texts = [
        (
            "en",
            "Refund requested",
            "I returned the shoes and I am still waiting for the refunds of both orders.",
        ),
        (
            "de",
            "Rücksendung der Bestellung",
            "Ich habe die Bestellungen zurückgeschickt und warte auf die Erstattung. Grüße, Jürgen Müller aus Düsseldorf, Schloßallee 7",
        ),
        (
            "fr",
            "Remboursement de ma commande",
            "J'ai retourné les chaussures et j'attends toujours les remboursements de mes commandes. Léa à Genève",
        ),
        (
            "es",
            "Devolución del pedido",
            "He devuelto las zapatillas y todavía espero los reembolsos de mis pedidos. Íñigo de Málaga",
        ),
        (
            "it",
            "Rimborso dell'ordine",
            "Ho restituito le scarpe e sto ancora aspettando i rimborsi dei miei ordini. Niccolò da Città di Castello",
        ),
        (
            "nl",
            "Terugbetaling van mijn bestelling",
            "Ik heb de schoenen teruggestuurd en wacht nog steeds op de terugbetalingen van mijn bestellingen.",
        ),
    ];
    let mut conversations = BTreeMap::new();
    for (lang, subject, body) in texts {
        let (c, _) = store(
            &app.state,
            org,
            mail(&format!("{lang} <{lang}@kunde.test>"), subject, body),
        )
        .await;
        conversations.insert(lang, c);
    }
    run_once(&app.state).await.unwrap();

    // Act / Assert
    let cases = [
        ("en", "refund"),
        ("en", "returning"),
        ("de", "Rücksendungen"),
        ("de", "rucksendung"),
        ("de", "bestellung"),
        ("de", "mueller"),
        ("de", "muller"),
        ("de", "Duesseldorf"),
        ("de", "schlossallee"),
        ("de", "jurgen"),
        ("fr", "remboursement"),
        ("fr", "retourne"),
        ("fr", "geneve"),
        ("fr", "commande"),
        ("es", "reembolso"),
        ("es", "devolucion"),
        ("es", "inigo"),
        ("es", "malaga"),
        ("it", "rimborso"),
        ("it", "ordine"),
        ("it", "niccolo"),
        ("it", "citta"),
        ("nl", "terugbetaling"),
        ("nl", "bestelling"),
    ];
    for (lang, q) in cases {
        let found = hits(&app, q).await;
        assert!(
            found.contains(&conversations[lang]),
            "{q:?} should find the {lang} conversation, found {found:?}"
        );
    }
}

/// A config on an existing data directory and database.
fn config_for(data_dir: &Path, database_url: Option<&str>) -> Config {
    let mut env = BTreeMap::new();
    env.insert("LETHE_LISTEN".to_owned(), "127.0.0.1:0".to_owned());
    env.insert("LETHE_DATA_DIR".to_owned(), data_dir.display().to_string());
    if let Some(url) = database_url {
        env.insert("LETHE_DATABASE_URL".to_owned(), url.to_owned());
    }
    crate::helpers::without_background(&mut env);
    Config::from_sources(None, &env).unwrap()
}

#[tokio::test]
async fn changes_committed_while_the_indexer_is_down_are_indexed_at_the_next_start() {
    // Arrange: the first app stores mail, and "crashes" before its indexer runs.
    let app = spawn_app().await;
    let (org, _) = shop_a(&app).await;
    let (c1, _) = store(
        &app.state,
        org,
        mail(
            "Dora <dora@kunde.test>",
            "Umbrella",
            "My pinkumbrella order",
        ),
    )
    .await;
    assert_eq!(hits(&app, "pinkumbrella").await, Vec::<i64>::new());

    // Act: a new application on the same data directory and database.
    let restarted = Application::build(config_for(&app.data_dir, app.database_url.as_deref()))
        .await
        .unwrap();
    let state = restarted.state.clone();
    let address = format!("http://127.0.0.1:{}", restarted.port);
    tokio::spawn(restarted.server);
    // (This index was never committed: the new application built it from the database
    // before serving; an index with a position reads the change log from there.)
    run_once(&state).await.unwrap();

    // Assert
    let client = browser_client();
    post_form_with(
        &client,
        &address,
        "/login",
        "/login",
        &[
            ("email", "owner@shop-a.test"),
            ("password", crate::helpers::PASSWORD),
        ],
    )
    .await;
    let html = text_of(client.get(format!("{address}/search?q=pinkumbrella"))).await;
    assert_eq!(conversation_links(&html), vec![c1]);
}

fn lethe_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    app.lethe()
        .env("LETHE_LOG", "error")
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn index_verify_after_rebuild_is_clean_and_reports_a_removed_document() {
    // Arrange: mail stored, index built by the command line (the app has not written).
    let app = spawn_app().await;
    let (org, _) = shop_a(&app).await;
    let mut messages = Vec::new();
    for i in 0..5 {
        let (_, m) = store(
            &app.state,
            org,
            mail("Eve <eve@kunde.test>", &format!("Question {i}"), "Hello"),
        )
        .await;
        messages.push(m);
    }
    let rebuild = lethe_cli(&app, &["index", "rebuild"]);
    assert!(rebuild.status.success(), "{rebuild:?}");
    assert!(String::from_utf8_lossy(&rebuild.stdout).contains("5 documents"));
    let verify = lethe_cli(&app, &["index", "verify"]);
    assert!(verify.status.success(), "{verify:?}");

    // Act: one document disappears from the index.
    let index = app.state.search.clone();
    let removed = messages[2];
    tokio::task::spawn_blocking(move || {
        index.delete_messages(&[removed]).unwrap();
        index.commit().unwrap();
    })
    .await
    .unwrap();
    let verify = lethe_cli(&app, &["index", "verify"]);

    // Assert
    assert_eq!(verify.status.code(), Some(1), "{verify:?}");
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(out.contains("missing from index: 1"), "{out}");
    assert!(out.contains(&removed.to_string()), "{out}");
}

#[tokio::test]
async fn index_commands_are_refused_while_a_server_runs_the_indexer_even_with_its_writer_closed() {
    // Arrange: the server's indexer runs; it indexes a message, then closes its idle writer.
    let app = spawn_app_with(AppOptions {
        background: true,
        extra_env: vec![("LETHE_WORKERS".into(), "index".into())],
        ..Default::default()
    })
    .await;
    let (org, _) = shop_a(&app).await;
    let (conversation, _) = store(
        &app.state,
        org,
        mail("Eve <eve@kunde.test>", "Quokkaparcel", "Hello"),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while hits(&app, "quokkaparcel").await.is_empty() || app.state.search.writer_is_open() {
        assert!(
            std::time::Instant::now() < deadline,
            "the indexer neither indexed the message nor closed its idle writer"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Act
    let rebuild = lethe_cli(&app, &["index", "rebuild"]);

    // Assert: refused, and the server's index still answers.
    assert_eq!(rebuild.status.code(), Some(1), "{rebuild:?}");
    let said = String::from_utf8_lossy(&rebuild.stderr);
    assert!(said.contains("stop it first"), "{said}");
    assert_eq!(hits(&app, "quokkaparcel").await, vec![conversation]);
}

fn index_holds(dir: &Path, needle: &str) -> bool {
    !files_holding(dir, needle, true).is_empty()
}

#[tokio::test]
async fn deleted_text_leaves_no_bytes_in_the_index_files() {
    // Arrange: an index with an uncompressed document store, so that raw bytes tell.
    let tmp = tempfile::Builder::new()
        .prefix("lethe-test-")
        .tempdir_in(test_tmp_root())
        .unwrap();
    let data_dir = tmp.path().join("data");
    let database_url = crate::helpers::fresh_database_url().await;
    let index_dir = data_dir.join("index");
    drop(
        lethe::search::SearchIndex::open_with(
            &index_dir,
            lethe::search::SearchOptions {
                compress_store: false,
                writer_threads: 1,
                writer_memory: 20_000_000,
            },
        )
        .unwrap(),
    );
    let state = AppState::open(config_for(&data_dir, database_url.as_deref()))
        .await
        .unwrap();
    let name = lethe::orgs::queries::OrgName::parse("Shop A").unwrap();
    let (_, org) = lethe::orgs::queries::create_user_in(
        &state.db,
        &lethe::mail::EmailAddress::parse("owner@shop-a.test").unwrap(),
        &lethe::auth::users::NewPassword::parse(crate::helpers::PASSWORD, &[]).unwrap(),
        "Owner",
        lethe::orgs::queries::Joining::Founds(&name),
    )
    .await
    .unwrap();
    let secret = "Xylophonequark7731";
    let (doomed, _) = store(
        &state,
        org,
        mail(
            "Fritz <fritz@kunde.test>",
            &format!("About {secret}"),
            &format!("My secret word is {secret}, please forget it."),
        ),
    )
    .await;
    let (kept, kept_message) = store(
        &state,
        org,
        mail("Gina <gina@kunde.test>", "Other", "Keepme text stays."),
    )
    .await;
    run_once(&state).await.unwrap();
    assert!(
        index_holds(&index_dir, secret),
        "the check must see stored text"
    );

    // Act: the conversation is deleted (as erasure does); the indexer purges.
    conversation::Entity::delete_by_id(doomed)
        .exec(&state.db)
        .await
        .unwrap();
    run_once(&state).await.unwrap();

    // Assert
    assert!(
        !index_holds(&index_dir, secret),
        "deleted text is still on disk"
    );
    assert!(index_holds(&index_dir, "Keepme"));
    let ids = state.search.all_message_ids(Some(org)).unwrap();
    assert_eq!(ids, vec![kept_message]);
    let _ = kept;

    // An edit (anonymization) also purges the old text.
    message::ActiveModel {
        id: Set(kept_message),
        text_body: Set("[redacted] text stays.".to_owned()),
        ..Default::default()
    }
    .update(&state.db)
    .await
    .unwrap();
    run_once(&state).await.unwrap();
    assert!(
        !index_holds(&index_dir, "Keepme"),
        "edited text is still on disk"
    );
}

#[tokio::test]
async fn malformed_queries_get_a_400_page_that_explains_the_mistake() {
    // Arrange
    let app = spawn_app().await;
    shop_a(&app).await;

    // Act / Assert
    for (q, explanation) in [
        ("foo:bar", "is not a filter"),
        ("from:", "needs a value"),
        ("before:yesterday", "needs a date written like 2026-05-01"),
        ("status:maybe", "must be open, pending or closed"),
        ("\"unclosed phrase", "A quotation mark is not closed"),
        ("has:pictures", "only knows has:attachment"),
        ("assignee:bob", "must be me, none or a user number"),
    ] {
        let response = app.get(&format!("/search?q={}", encode(q))).await;
        assert_eq!(response.status(), 400, "{q:?}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(explanation),
            "{q:?} should explain {explanation:?}"
        );
        assert!(
            html.contains("How to search"),
            "the help is shown with the error"
        );
    }
    let long = "word ".repeat(400);
    let response = app.get(&format!("/search?q={}", encode(&long))).await;
    assert_eq!(response.status(), 400);
    let help = app.get("/search").await;
    assert_eq!(help.status(), 200);
    let html = help.text().await.unwrap();
    for operator in [
        "from:",
        "tag:",
        "status:",
        "assignee:me",
        "has:attachment",
        "before:",
    ] {
        assert!(html.contains(operator), "help lists {operator}");
    }
    assert!(html.contains(r#"<form role="search" action="/search" method="get""#));
    assert!(html.contains(r#"id="search-q""#));
    let bad_page = app.get("/search?q=refund&page=abc&sort=nonsense").await;
    assert_eq!(bad_page.status(), 200);
}

#[tokio::test]
async fn results_are_paginated_and_sorted_by_relevance_or_date() {
    // Arrange: 25 conversations, one of them with the word three times.
    let app = spawn_app().await;
    let (org, _) = shop_a(&app).await;
    let mut dated = Vec::new();
    for i in 0..25u32 {
        let body = if i == 3 {
            "lantern lantern lantern".to_owned()
        } else {
            format!("a lantern and other things number {i}")
        };
        let date = format!("{:02} Jan 2026 10:00:00 +0000", i + 1);
        let (c, _) = store(
            &app.state,
            org,
            mail_dated(
                "Hal <hal@kunde.test>",
                &format!("Item {i}"),
                &body,
                &format!("Thu, {date}"),
            ),
        )
        .await;
        dated.push(c);
    }
    run_once(&app.state).await.unwrap();

    // Act
    let first = app.get_text("/search?q=lantern").await;
    let second = app.get_text("/search?q=lantern&page=2").await;
    let newest = app.get_text("/search?q=lantern&sort=newest").await;

    // Assert
    let first_ids = conversation_links(&first);
    assert_eq!(first_ids.len(), 20);
    assert_eq!(conversation_links(&second).len(), 5);
    assert!(first.contains("25 matching conversations"));
    assert!(first.contains("page=2"), "a link to the next page");
    let first_hit = regex::Regex::new(r#"<h2><a href="/conversations/(\d+)">"#).unwrap();
    let top = |html: &str| -> i64 { first_hit.captures(html).unwrap()[1].parse().unwrap() };
    assert_eq!(top(&first), dated[3], "best match first");
    assert_eq!(top(&newest), dated[24], "newest first");
}

#[tokio::test]
async fn matches_of_one_conversation_are_counted_together_wherever_they_sit_in_the_index() {
    // Arrange: conversation X's messages interleaved with Y's, and one indexed later (its
    // own index segment).
    let app = spawn_app().await;
    let (org, _) = shop_a(&app).await;
    let reply = |id: &str, parent: Option<&str>, body: &str| -> Vec<u8> {
        let message_id = format!("{id}@customer.test");
        let mail =
            helpers::mail("Anna <anna@kunde.test>", &message_id, "Broken lamp", body).date(MARCH);
        match parent {
            Some(p) => mail.in_reply_to(&format!("{p}@customer.test")),
            None => mail,
        }
        .into()
    };
    let (x, _) = store(&app.state, org, reply("x1", None, "The lamp is broken.")).await;
    let (y, _) = store(
        &app.state,
        org,
        mail("Bert <bert@kunde.test>", "Lamp", "My lamp flickers."),
    )
    .await;
    let (x_again, _) = store(
        &app.state,
        org,
        reply("x2", Some("x1"), "Lamp still broken."),
    )
    .await;
    run_once(&app.state).await.unwrap();
    let (x_third, _) = store(
        &app.state,
        org,
        reply("x3", Some("x2"), "Any news on the lamp?"),
    )
    .await;
    run_once(&app.state).await.unwrap();
    assert_eq!(
        (x_again, x_third),
        (x, x),
        "the replies are threaded into X"
    );

    // Act: a scored query, a date-sorted one and a filter-only one (both unscored).
    let mut both = vec![x, y];
    both.sort_unstable();
    for q in ["lamp", "lamp&sort=newest", "from:anna@kunde.test"] {
        let html = app.get_text(&format!("/search?q={q}")).await;

        // Assert
        let expected = if q.starts_with("from:") {
            vec![x]
        } else {
            both.clone()
        };
        assert_eq!(conversation_links(&html), expected, "{q}");
        assert!(
            html.contains("3 matching messages"),
            "{q}: X's three messages, once"
        );
        let conversations = if expected.len() == 1 {
            "1 matching conversation"
        } else {
            "2 matching conversations"
        };
        assert!(html.contains(conversations), "{q}: {conversations}");
    }
}

#[tokio::test]
async fn a_backlog_of_many_batches_is_drained_completely_and_committed() {
    // Arrange: a message, a backlog of 12,000 queue rows (three batches, more than one
    // commit's worth of work for deleted messages), and another message behind it.
    let app = spawn_app().await;
    let (org, _) = shop_a(&app).await;
    let (before, _) = store(
        &app.state,
        org,
        mail("Ella <ella@kunde.test>", "Kettle", "The kettle leaks."),
    )
    .await;
    let sql = format!(
        "INSERT INTO search_queue (organization_id, message_id, conversation_id, op) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000) \
         SELECT {}, 900000000 + i, NULL, 'message.delete' FROM n",
        org.get()
    );
    sea_orm::ConnectionTrait::execute_unprepared(&app.state.db, &sql)
        .await
        .unwrap();
    let (after, _) = store(
        &app.state,
        org,
        mail("Finn <finn@kunde.test>", "Kettle", "My kettle leaks too."),
    )
    .await;

    // Act
    let drained = run_once(&app.state).await.unwrap();

    // Assert
    assert!(drained >= 12_002, "drained {drained} rows");
    let left: i64 = sea_orm::ConnectionTrait::query_one_raw(
        &app.state.db,
        sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM search_queue",
        ),
    )
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap();
    assert_eq!(left, 0, "the queue is empty");
    let mut both = vec![before, after];
    both.sort_unstable();
    assert_eq!(hits(&app, "kettle").await, both);
}

/// The conversation ids `/search` lists, in the page's order.
fn ordered_links(html: &str) -> Vec<i64> {
    let re = regex::Regex::new(r#"<h2><a href="/conversations/(\d+)">"#).unwrap();
    re.captures_iter(html)
        .map(|c| c[1].parse().unwrap())
        .collect()
}

#[tokio::test]
async fn the_pages_of_a_query_come_from_one_grouping_until_the_index_changes() {
    // Arrange: 45 conversations with the word, a minute apart; every third has it twice.
    let app = spawn_app().await;
    let (org, _) = shop_a(&app).await;
    let mut by_date = Vec::new();
    for i in 0..45u32 {
        let body = if i % 3 == 0 {
            "lantern lantern".to_owned()
        } else {
            format!("a lantern and other things number {i}")
        };
        let (c, _) = store(
            &app.state,
            org,
            mail_dated(
                "Hal <hal@kunde.test>",
                &format!("Item {i}"),
                &body,
                &format!("Thu, 01 Jan 2026 10:{i:02}:00 +0000"),
            ),
        )
        .await;
        by_date.push(c);
    }
    run_once(&app.state).await.unwrap();
    let before = app.state.search.answer_counts();

    // Act: three pages in each order.
    let mut newest = Vec::new();
    let mut relevance = Vec::new();
    for page in 1..=3 {
        let html = app
            .get_text(&format!("/search?q=lantern&sort=newest&page={page}"))
            .await;
        assert!(html.contains("45 matching conversations"), "page {page}");
        newest.extend(ordered_links(&html));
        relevance.extend(ordered_links(
            &app.get_text(&format!("/search?q=lantern&page={page}"))
                .await,
        ));
    }
    let after = app.state.search.answer_counts();

    // Assert: each order grouped once, its other pages read from that grouping, and the
    // pages together are the whole order, each conversation once.
    assert_eq!(after.grouped - before.grouped, 2, "{before:?} → {after:?}");
    assert_eq!(after.cached - before.cached, 4, "{before:?} → {after:?}");
    let mut expected_newest = by_date.clone();
    expected_newest.reverse();
    assert_eq!(newest, expected_newest, "newest first across the pages");
    let twice: Vec<i64> = by_date.iter().step_by(3).copied().collect();
    let mut best = relevance[..15].to_vec();
    best.sort_unstable();
    assert_eq!(best, twice, "the conversations with the word twice first");
    assert_eq!(
        relevance[..15],
        twice.iter().rev().copied().collect::<Vec<_>>(),
        "equal scores newest first"
    );
    let mut all = relevance.clone();
    all.sort_unstable();
    assert_eq!(all, by_date, "every conversation once");

    // Act: new mail is indexed (a new index generation).
    let (latest, _) = store(
        &app.state,
        org,
        mail_dated(
            "Ida <ida@kunde.test>",
            "Another lantern",
            "my lantern",
            "Thu, 01 Jan 2026 11:00:00 +0000",
        ),
    )
    .await;
    run_once(&app.state).await.unwrap();
    let html = app.get_text("/search?q=lantern&sort=newest&page=1").await;

    // Assert: the earlier grouping no longer answers.
    assert_eq!(ordered_links(&html)[0], latest);
    assert!(html.contains("46 matching conversations"));
    assert_eq!(app.state.search.answer_counts().grouped - after.grouped, 1);
}
