//! Bulk import and the HTTP inbound endpoint, on synthetic and real-world mail.

use std::path::PathBuf;
use std::process::Command;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{arriving, mail, spawn_app};
use lethe::db::entity::{conversation, message};

fn corpus_dir(var: &str) -> PathBuf {
    let dir = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run the suite with ./scripts/test.sh, which fetches the real-mail corpora"));
    PathBuf::from(dir)
}

/// Runs `lethe import <format> <path> --org Shop --json` with `lethe` (`app.lethe()`, perhaps
/// with more settings); returns the counts it prints, asserting success.
fn import_json(mut lethe: Command, format: &str, path: &std::path::Path) -> serde_json::Value {
    let output = lethe
        .args(["import", format])
        .arg(path)
        .args(["--org", "Shop", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

const ANNA: &str = "Anna Schmidt <anna@kunde.test>";

#[tokio::test]
async fn import_eml_counts_imported_duplicates_and_rejected_and_threads_replies() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.eml"),
        mail(
            ANNA,
            "order-1@kunde.test",
            "Wo bleibt meine Bestellung?",
            "Bestellung 4711",
        )
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2.eml"),
        mail(
            ANNA,
            "order-2@kunde.test",
            "Re: Wo bleibt meine Bestellung?",
            "Noch nichts da",
        )
        .in_reply_to("order-1@kunde.test")
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("3.eml"),
        b"{\"this\": \"is json, not mail\"}",
    )
    .unwrap();
    std::fs::write(dir.path().join("4.eml"), b"").unwrap();
    let counts = import_json(app.lethe(), "eml", dir.path());
    assert_eq!(counts["imported"], 2);
    assert_eq!(counts["duplicates"], 0);
    assert_eq!(counts["rejected"], 2);
    let reasons = counts["rejected_reasons"].as_object().unwrap();
    assert!(reasons.keys().any(|r| r.contains("empty")), "{reasons:?}");
    assert!(
        reasons
            .keys()
            .any(|r| r.contains("not an email message") || r.contains("not a message")),
        "{reasons:?}"
    );

    assert_eq!(
        app.count::<conversation::Entity>().await,
        1,
        "the reply threads onto the order"
    );
    let again = import_json(app.lethe(), "eml", dir.path());
    assert_eq!(again["imported"], 0);
    assert_eq!(again["duplicates"], 2);
    assert_eq!(app.count::<message::Entity>().await, 2);
}

#[tokio::test]
async fn import_mbox_reads_every_message() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let dir = tempfile::tempdir().unwrap();
    let mut mbox = String::new();
    for i in 0..25 {
        mbox.push_str(&format!(
            "From anna@kunde.test Tue Nov  3 10:{i:02}:00 2026\n"
        ));
        mbox.push_str(
            &mail(
                ANNA,
                &format!("m{i}@kunde.test"),
                &format!("Frage {i}"),
                "From now on I write here",
            )
            .to_string()
            .replace("\r\n", "\n")
            .replace("\nFrom now", "\n>From now"),
        );
        mbox.push('\n');
    }
    let path = dir.path().join("export.mbox");
    std::fs::write(&path, mbox).unwrap();
    let counts = import_json(app.lethe(), "mbox", &path);
    assert_eq!(counts["imported"], 25);
    let bodies: Vec<String> = message::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text_body)
        .collect();
    assert!(
        bodies.iter().all(|b| b.starts_with("From now")),
        "mbox quoting undone"
    );
}

#[tokio::test]
async fn the_mail_parser_crates_test_messages_import_or_are_rejected_with_a_reason() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let dir = corpus_dir("LETHE_TEST_MAILPARSER_EML_DIR");
    let files = walk(&dir).len() as u64;
    assert!(
        files > 50,
        "expected the crate's test messages in {}",
        dir.display()
    );
    let counts = import_json(app.lethe(), "eml", &dir);
    let total = counts["imported"].as_u64().unwrap()
        + counts["duplicates"].as_u64().unwrap()
        + counts["rejected"].as_u64().unwrap();
    assert_eq!(total, files, "every file is accounted for: {counts}");
    assert!(counts["imported"].as_u64().unwrap() > files / 2, "{counts}");
    let reasons: u64 = counts["rejected_reasons"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        reasons,
        counts["rejected"].as_u64().unwrap(),
        "each rejection has a reason"
    );
}

#[tokio::test]
async fn six_thousand_real_mails_import_and_replies_thread() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let dir = corpus_dir("LETHE_TEST_SPAMASSASSIN_DIR");
    let files = walk(&dir).len() as u64;
    assert!(
        files > 6000,
        "expected the SpamAssassin corpus in {}",
        dir.display()
    );
    let counts = import_json(app.lethe(), "eml", &dir);
    let imported = counts["imported"].as_u64().unwrap();
    let total =
        imported + counts["duplicates"].as_u64().unwrap() + counts["rejected"].as_u64().unwrap();
    assert_eq!(total, files, "{counts}");
    assert!(imported > 5500, "{counts}");
    // Real replies land in the conversations they answer.
    let threaded = conversation::Entity::find()
        .filter(conversation::Column::MessageCount.gt(1))
        .count(&app.state.db)
        .await
        .unwrap();
    assert!(
        threaded > 200,
        "only {threaded} conversations hold more than one message"
    );
    let with_reply_header = message::Entity::find()
        .filter(message::Column::InReplyTo.ne(""))
        .count(&app.state.db)
        .await
        .unwrap();
    assert!(with_reply_header > 1500, "{with_reply_header}");
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.is_file() && !lethe::mail::import::is_skipped(&path) {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn the_inbound_endpoint_answers_2xx_only_for_committed_mail() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let (_, token) = app
        .email_channel(org, "Support", "support@shop.test", None)
        .await;
    let url = app.url(&format!("/inbound/email/{token}"));
    let raw = mail(
        ANNA,
        "pipe-1@kunde.test",
        "Rücksendung",
        "Ich möchte zurücksenden",
    )
    .to_string();
    let first = app
        .client
        .post(&url)
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let body: serde_json::Value = first.json().await.unwrap();
    assert_eq!(body["status"], "stored");
    let again = app.client.post(&url).body(raw).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["status"],
        "duplicate"
    );
    let garbage = app
        .client
        .post(&url)
        .body("no headers at all, just words")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 422);
    let reason = garbage.json::<serde_json::Value>().await.unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!reason.is_empty());
    let wrong = app
        .client
        .post(app.url("/inbound/email/not-a-token"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    assert_eq!(app.count::<message::Entity>().await, 1);
}

#[tokio::test]
async fn an_oversized_attachment_becomes_a_visible_note_not_a_failed_import() {
    use base64::Engine;
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let big = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 1_500_000]);
    let small = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 invoice");
    let raw = format!(
        "From: Anna <anna@kunde.test>\r\nTo: support@shop.test\r\nSubject: Fotos\r\nMessage-ID: <att-1@kunde.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei die Fotos.\r\n--b1\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"huge.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{big}\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"rechnung.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{small}\r\n--b1--\r\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.eml"), raw).unwrap();
    let mut lethe = app.lethe();
    lethe.env("LETHE_MAX_ATTACHMENT_MB", "1");
    let counts = import_json(lethe, "eml", dir.path());
    assert_eq!(counts["imported"], 1);
    let stored = message::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.parse_notes.contains("huge.jpg"),
        "{}",
        stored.parse_notes
    );
    let attachments = lethe::db::entity::attachment::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].filename, "rechnung.pdf");
    assert_eq!(
        app.state.blobs.get(&attachments[0].blob_id).unwrap(),
        b"%PDF-1.4 invoice"
    );
    // Sealed on disk: the bytes are not there in the clear.
    let files: Vec<_> = walk(&app.data_dir.join("attachments"));
    assert_eq!(files.len(), 1);
    assert!(
        !std::fs::read(&files[0])
            .unwrap()
            .windows(8)
            .any(|w| w == b"%PDF-1.4")
    );
}

#[tokio::test]
async fn a_mail_without_reply_headers_threads_by_the_token_in_its_subject() {
    use lethe::mail::ingest::{Outcome, ingest_raw};
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let source = arriving(org, None);
    let (conversation_id, _) = app
        .ingest(
            source,
            mail(ANNA, "t-1@kunde.test", "Umtausch", "Größe M bitte"),
        )
        .await;
    let token = app.conversation(conversation_id).await.token;
    // A customer who writes a new mail but keeps the tag in the subject.
    let follow_up = mail(
        ANNA,
        "t-2@kunde.test",
        &format!("Nochmal wegen Umtausch [#{token}]"),
        "Ist das angekommen?",
    );
    let Outcome::Stored {
        conversation_id: second,
        new_conversation,
        ..
    } = ingest_raw(&app.state, source, follow_up.into())
        .await
        .unwrap()
    else {
        panic!("stored")
    };
    assert_eq!(second, conversation_id);
    assert!(!new_conversation);
    // Another organization's token means nothing here.
    let unrelated = mail(ANNA, "t-3@kunde.test", "Frage [#ZZZZZ]", "Neue Frage");
    let Outcome::Stored {
        new_conversation, ..
    } = ingest_raw(&app.state, source, unrelated.into())
        .await
        .unwrap()
    else {
        panic!("stored")
    };
    assert!(new_conversation);
}
