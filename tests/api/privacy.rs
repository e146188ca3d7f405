//! Data subject rights: export (everything of the customer, nothing of anyone else), erasure
//! (no trace in the raw bytes of the data directory), deletion receipts without personal
//! data, the request register, tenant isolation and roles, and the command line.

use std::io::{Cursor, Read};
use std::path::Path;

use base64::Engine;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::helpers::{TestApp, location, spawn_app, unique_suffix};
use lethe::db::entity::{
    attachment, audit_event, conversation, conversation_tag, customer, customer_email, message, tag,
};
use lethe::mail::ingest::{Outcome, Source, ingest_raw};
use lethe::orgs::OrgId;

fn lethe(app: &TestApp) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lethe"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LETHE_DATA_DIR", &app.data_dir);
    if let Some(url) = &app.database_url {
        command.env("LETHE_DATABASE_URL", url);
    }
    command
}

/// One inbound email, optionally with an attachment.
fn mail(
    from: &str,
    message_id: &str,
    subject: &str,
    body: &str,
    attachment: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let head = format!(
        "From: {from}\r\nTo: support@shop.test\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Tue, 3 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
    );
    match attachment {
        None => {
            format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").into_bytes()
        }
        Some((name, bytes)) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            let lines: Vec<String> = encoded
                .as_bytes()
                .chunks(76)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            format!(
                "{head}Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n--b0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--b0\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b0--\r\n",
                lines.join("\r\n")
            )
            .into_bytes()
        }
    }
}

async fn org_id(app: &TestApp, name: &str) -> OrgId {
    lethe::orgs::queries::find_by_name(&app.state.db, name)
        .await
        .unwrap()
        .unwrap()
        .0
}

/// Stores a mail; returns (customer id, conversation id).
async fn receive(app: &TestApp, org: OrgId, raw: Vec<u8>) -> (i64, i64) {
    let source = Source {
        org,
        channel_id: None,
        keep_original_date: true,
    };
    let Outcome::Stored {
        conversation_id, ..
    } = ingest_raw(&app.state, source, raw).await.unwrap()
    else {
        panic!("mail not stored");
    };
    let c = conversation::Entity::find_by_id(conversation_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    (c.customer_id, conversation_id)
}

async fn add_note(app: &TestApp, org: OrgId, conversation_id: i64, author: i64, text: &str) {
    lethe::inbox::notes::create(
        &app.state.db,
        org,
        conversation_id,
        author,
        "Owner",
        text,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
}

async fn add_tag(app: &TestApp, org: OrgId, conversation_id: i64, name: &str) {
    let t = tag::ActiveModel {
        organization_id: Set(org.get()),
        name: Set(name.to_owned()),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    conversation_tag::ActiveModel {
        conversation_id: Set(conversation_id),
        tag_id: Set(t.id),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

fn unzip(bytes: &[u8]) -> zip::ZipArchive<Cursor<Vec<u8>>> {
    zip::ZipArchive::new(Cursor::new(bytes.to_vec())).expect("a ZIP")
}

fn zip_file(archive: &mut zip::ZipArchive<Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    archive
        .by_name(name)
        .unwrap_or_else(|_| panic!("{name} in the ZIP"))
        .read_to_end(&mut out)
        .unwrap();
    out
}

async fn export_via_page(app: &TestApp, customer_id: i64, include_notes: bool) -> Vec<u8> {
    let page = app.get_text(&format!("/customers/{customer_id}")).await;
    assert!(page.contains(&format!("/customers/{customer_id}/export")));
    let csrf = crate::helpers::csrf_of(&page);
    let mut fields = vec![];
    if include_notes {
        fields.push(("include_notes", "1"));
    }
    let response = app
        .post_with_csrf(&format!("/customers/{customer_id}/export"), &csrf, &fields)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/zip"
    );
    response.bytes().await.unwrap().to_vec()
}

fn all_messages(export: &serde_json::Value) -> Vec<serde_json::Value> {
    export["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["messages"].as_array().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn export_holds_every_message_of_the_customer_and_nothing_of_anyone_else() {
    // Arrange
    let app = spawn_app().await;
    let owner = app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("other@else.test", "Elsewhere", "owner")
        .await;
    let shop = org_id(&app, "Shop").await;
    let elsewhere = org_id(&app, "Elsewhere").await;
    let invoice: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let (anna, first) = receive(
        &app,
        shop,
        mail(
            "Anna Schmidt <anna@kunde.test>",
            "a1@kunde.test",
            "Bestellung 4711",
            "Wo ist mein Paket?",
            Some(("rechnung.pdf", &invoice)),
        ),
    )
    .await;
    let (_, second) = receive(
        &app,
        shop,
        mail(
            "Anna Schmidt <anna@kunde.test>",
            "a2@kunde.test",
            "Rücksendung",
            "Ich möchte zurückgeben.",
            None,
        ),
    )
    .await;
    receive(
        &app,
        shop,
        mail(
            "Anna Schmidt <anna@kunde.test>",
            "a3@kunde.test",
            "Re: Bestellung 4711",
            "Noch immer nichts.",
            None,
        ),
    )
    .await;
    let (bob, _) = receive(
        &app,
        shop,
        mail(
            "Bob <bob@kunde.test>",
            "b1@kunde.test",
            "Bobs Frage",
            "Bob-secret-body",
            None,
        ),
    )
    .await;
    receive(
        &app,
        elsewhere,
        mail(
            "Anna Schmidt <anna@kunde.test>",
            "e1@kunde.test",
            "Other shop",
            "Elsewhere-secret-body",
            None,
        ),
    )
    .await;
    assert_ne!(anna, bob);
    add_note(&app, shop, first, owner, "Internal: VIP customer").await;
    add_tag(&app, shop, second, "returns").await;
    app.login("owner@shop.test").await;

    // Act
    let without_notes = export_via_page(&app, anna, false).await;
    let with_notes = export_via_page(&app, anna, true).await;

    // Assert
    let mut archive = unzip(&without_notes);
    let json: serde_json::Value =
        serde_json::from_slice(&zip_file(&mut archive, "export.json")).unwrap();
    assert_eq!(json["schema"], "lethe.customer-export");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["customer"]["display_name"], "Anna Schmidt");
    assert_eq!(
        json["customer"]["email_addresses"],
        serde_json::json!(["anna@kunde.test"])
    );
    let messages = all_messages(&json);
    let count_in_db = message::Entity::find()
        .filter(message::Column::OrganizationId.eq(shop.get()))
        .filter(message::Column::Direction.ne("note"))
        .filter(
            message::Column::ConversationId.is_in(
                conversation::Entity::find()
                    .filter(conversation::Column::CustomerId.eq(anna))
                    .all(&app.state.db)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| c.id),
            ),
        )
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(messages.len() as u64, count_in_db);
    assert_eq!(messages.len(), 3);
    for text in [
        "Wo ist mein Paket?",
        "Ich möchte zurückgeben.",
        "Noch immer nichts.",
    ] {
        assert!(
            messages
                .iter()
                .any(|m| m["text"].as_str().unwrap().contains(text)),
            "{text} missing"
        );
    }
    assert!(messages.iter().all(|m| m["direction"] == "inbound"));
    let tagged = json["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == second)
        .unwrap();
    assert_eq!(tagged["tags"], serde_json::json!(["returns"]));
    let with_attachment = messages
        .iter()
        .find(|m| !m["attachments"].as_array().unwrap().is_empty())
        .unwrap();
    let file = with_attachment["attachments"][0]["file"].as_str().unwrap();
    assert_eq!(
        with_attachment["attachments"][0]["filename"],
        "rechnung.pdf"
    );
    assert_eq!(
        zip_file(&mut archive, file),
        invoice,
        "byte-exact attachment"
    );
    let raw = String::from_utf8_lossy(&zip_file(&mut archive, "export.json")).into_owned();
    for foreign in [
        "Bob-secret-body",
        "Bobs Frage",
        "Elsewhere-secret-body",
        "Other shop",
        "VIP customer",
    ] {
        assert!(!raw.contains(foreign), "{foreign} leaked into the export");
    }
    assert_eq!(json["includes_internal_notes"], false);

    let mut archive = unzip(&with_notes);
    let json: serde_json::Value =
        serde_json::from_slice(&zip_file(&mut archive, "export.json")).unwrap();
    let messages = all_messages(&json);
    assert_eq!(messages.len(), 4);
    let note = messages.iter().find(|m| m["direction"] == "note").unwrap();
    assert_eq!(note["internal"], true);
    assert_eq!(note["text"], "Internal: VIP customer");
    assert_eq!(json["includes_internal_notes"], true);

    let exported = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("privacy.exported"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(exported.len(), 2);
    assert!(exported.iter().all(|e| e.target.starts_with("DSR-")));
    assert!(exported.iter().all(|e| !e.details.contains("anna")));
    let register = app.get_text("/privacy/requests").await;
    assert!(
        register.contains(&exported[0].target),
        "the access request is listed"
    );
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    out
}

fn hits(dir: &Path, needles: &[Vec<u8>]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, bytes) in files_under(dir) {
        for needle in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!(
                    "{} holds {:?}",
                    path.display(),
                    String::from_utf8_lossy(needle)
                ));
            }
        }
    }
    found
}

fn on_sqlite(app: &TestApp) -> bool {
    app.database_url.is_none()
}

#[tokio::test]
async fn erased_customer_leaves_no_bytes_in_data_dir() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let shop = org_id(&app, "Shop").await;
    let suffix = unique_suffix();
    let address = format!("zq{suffix}@kunde.test");
    let name = format!("Xylophon{suffix} Quartzberg");
    let sentence = format!("The marmalade{suffix} tastes of forgotten harbours");
    let attachment_bytes = format!("ATTACHMENT-{suffix}-").repeat(50).into_bytes();
    let (customer_id, conversation_id) = receive(
        &app,
        shop,
        mail(
            &format!("{name} <{address}>"),
            &format!("m1-{suffix}@kunde.test"),
            &format!("Question {suffix}"),
            &sentence,
            Some(("unique.bin", &attachment_bytes)),
        ),
    )
    .await;
    receive(
        &app,
        shop,
        mail(
            &format!("{name} <{address}>"),
            &format!("m2-{suffix}@kunde.test"),
            "Second conversation",
            &format!("Again: {sentence}"),
            None,
        ),
    )
    .await;
    let (keeper, _) = receive(
        &app,
        shop,
        mail(
            "Keeper <keeper@kunde.test>",
            "keep@kunde.test",
            "Stays",
            "This customer stays.",
            None,
        ),
    )
    .await;
    let admin = lethe::auth::users::find_by_email(
        &app.state.db,
        &lethe::mail::EmailAddress::parse("admin@shop.test").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    add_note(
        &app,
        shop,
        conversation_id,
        admin.id,
        &format!("Note about {name}"),
    )
    .await;
    add_tag(&app, shop, conversation_id, "vip").await;
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    lethe::db::checkpoint(&app.state.db).await.unwrap();
    let blob_files_before = files_under(&app.data_dir.join("attachments")).len();
    let needles: Vec<Vec<u8>> = vec![
        address.clone().into_bytes(),
        name.clone().into_bytes(),
        name.to_lowercase().into_bytes(),
        format!("Xylophon{suffix}").into_bytes(),
        sentence.clone().into_bytes(),
        format!("marmalade{suffix}").into_bytes(),
        format!("ATTACHMENT-{suffix}").into_bytes(),
    ];
    if on_sqlite(&app) {
        assert!(
            !hits(&app.data_dir, &needles).is_empty(),
            "the scan finds the person before the erasure"
        );
    }
    app.login("admin@shop.test").await;

    // Act
    let confirm = app
        .get_text(&format!("/customers/{customer_id}/erase"))
        .await;
    let csrf = crate::helpers::csrf_of(&confirm);
    let response = app
        .post_with_csrf(&format!("/customers/{customer_id}/erase"), &csrf, &[])
        .await;

    // Assert
    assert_eq!(response.status(), 303);
    let receipt_path = location(&response);
    assert!(
        receipt_path.starts_with("/privacy/receipts/"),
        "{receipt_path}"
    );
    let found = hits(&app.data_dir, &needles);
    assert!(found.is_empty(), "traces left: {found:#?}");
    assert_eq!(
        files_under(&app.data_dir.join("attachments")).len(),
        blob_files_before - 1,
        "the attachment file is gone"
    );
    let db = &app.state.db;
    assert!(
        customer::Entity::find_by_id(customer_id)
            .one(db)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        customer_email::Entity::find()
            .filter(customer_email::Column::Email.eq(address.as_str()))
            .count(db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        conversation::Entity::find()
            .filter(conversation::Column::CustomerId.eq(customer_id))
            .count(db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::TextBody.contains(format!("marmalade{suffix}")))
            .count(db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(attachment::Entity::find().count(db).await.unwrap(), 0);
    assert!(
        customer::Entity::find_by_id(keeper)
            .one(db)
            .await
            .unwrap()
            .is_some()
    );

    let receipt_id = receipt_path
        .trim_start_matches("/privacy/receipts/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let receipt_json = app
        .get_text(&format!("/privacy/receipts/{receipt_id}.json"))
        .await;
    let receipt: serde_json::Value = serde_json::from_str(&receipt_json).unwrap();
    assert_eq!(receipt["schema"], "lethe.deletion-receipt");
    let counts = &receipt["counts"];
    assert_eq!(counts["customers"], 1);
    assert_eq!(counts["email_addresses"], 1);
    assert_eq!(counts["conversations"], 2);
    assert_eq!(counts["messages"], 3);
    assert_eq!(counts["internal_notes"], 1);
    assert_eq!(counts["attachments"], 1);
    assert_eq!(counts["attachment_files"], 1);
    assert_eq!(counts["conversation_tags"], 1);
    let reference = receipt["request_reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("DSR-"));
    let receipt_page = app
        .get_text(&format!("/privacy/receipts/{receipt_id}"))
        .await;
    assert!(receipt_page.contains(&reference));
    for text in [&receipt_json, &receipt_page] {
        for needle in [&address, &name, &sentence, &format!("Xylophon{suffix}")] {
            assert!(
                !text.contains(needle.as_str()),
                "the receipt names the person"
            );
        }
    }
    let erased = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("privacy.erased"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(erased.target, reference);
    let register = app.get_text("/privacy/requests").await;
    assert!(register.contains(&reference));
}

#[tokio::test]
async fn another_organizations_customers_receipts_and_requests_answer_404() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("a@shop.test", "Shop", "owner").await;
    app.create_user("b@other.test", "Other", "owner").await;
    let other = org_id(&app, "Other").await;
    let (theirs, _) = receive(
        &app,
        other,
        mail(
            "Carla <carla@kunde.test>",
            "c1@kunde.test",
            "Hallo",
            "Text",
            None,
        ),
    )
    .await;
    let (erased, _) = receive(
        &app,
        other,
        mail(
            "Dora <dora@kunde.test>",
            "d1@kunde.test",
            "Hallo",
            "Text",
            None,
        ),
    )
    .await;
    let erasure = lethe::privacy::erase::erase(
        &app.state,
        other,
        erased,
        lethe::privacy::erase::Performer {
            user_id: None,
            actor: lethe::audit::Actor::System("test"),
            client: None,
        },
    )
    .await
    .unwrap();
    let request = lethe::privacy::requests::create(
        &app.state.db,
        other,
        lethe::privacy::requests::NewRequest {
            kind: lethe::privacy::requests::Kind::Access,
            received_at: chrono::Utc::now(),
            customer_id: Some(theirs),
            note: String::new(),
        },
    )
    .await
    .unwrap();
    app.login("a@shop.test").await;
    let csrf = crate::helpers::csrf_of(&app.get_text("/privacy/requests").await);

    // Act and assert
    for path in [
        format!("/customers/{theirs}/erase"),
        format!("/privacy/receipts/{}", erasure.receipt_id),
        format!("/privacy/receipts/{}.json", erasure.receipt_id),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }
    for (path, fields) in [
        (format!("/customers/{theirs}/erase"), vec![]),
        (format!("/customers/{theirs}/export"), vec![]),
        (
            format!("/privacy/requests/{}/status", request.id),
            vec![("status", "rejected")],
        ),
    ] {
        let response = app.post_with_csrf(&path, &csrf, &fields).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    assert!(
        customer::Entity::find_by_id(theirs)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_some()
    );
    let untouched = lethe::privacy::requests::find(&app.state.db, other, request.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.status, "open");
}

#[tokio::test]
async fn agents_may_not_export_erase_or_see_the_register() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    let shop = org_id(&app, "Shop").await;
    let (customer_id, _) = receive(
        &app,
        shop,
        mail(
            "Emil <emil@kunde.test>",
            "e1@kunde.test",
            "Hallo",
            "Text",
            None,
        ),
    )
    .await;
    app.login("agent@shop.test").await;
    let customer_page = app.get_text(&format!("/customers/{customer_id}")).await;
    let csrf = crate::helpers::csrf_of(&customer_page);

    // Act and assert
    assert!(
        !customer_page.contains("/erase"),
        "agents see no erase button"
    );
    assert!(
        !customer_page.contains("/export"),
        "agents see no export form"
    );
    for path in [
        "/privacy/requests".to_owned(),
        format!("/customers/{customer_id}/erase"),
    ] {
        assert_eq!(app.get(&path).await.status(), 403, "{path}");
    }
    for (path, fields) in [
        (format!("/customers/{customer_id}/erase"), vec![]),
        (format!("/customers/{customer_id}/export"), vec![]),
        ("/privacy/requests".to_owned(), vec![("kind", "access")]),
    ] {
        assert_eq!(
            app.post_with_csrf(&path, &csrf, &fields).await.status(),
            403,
            "{path}"
        );
    }
    assert!(
        customer::Entity::find_by_id(customer_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_register_computes_due_dates_and_marks_overdue_requests() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = org_id(&app, "Shop").await;
    receive(
        &app,
        shop,
        mail(
            "Fritz <fritz@kunde.test>",
            "f1@kunde.test",
            "Hallo",
            "Text",
            None,
        ),
    )
    .await;
    app.login("owner@shop.test").await;

    // Act
    let old = app
        .post_form(
            "/privacy/requests",
            "/privacy/requests",
            &[
                ("kind", "access"),
                ("received", "2020-01-31"),
                ("customer_email", "fritz@kunde.test"),
                ("note", "by letter"),
            ],
        )
        .await;
    let today = app
        .post_form(
            "/privacy/requests",
            "/privacy/requests",
            &[("kind", "objection"), ("received", "")],
        )
        .await;
    let unknown = app
        .post_form(
            "/privacy/requests",
            "/privacy/requests",
            &[("kind", "access"), ("customer_email", "nobody@kunde.test")],
        )
        .await;

    // Assert
    assert_eq!(old.status(), 303);
    assert_eq!(today.status(), 303);
    assert_eq!(unknown.status(), 400);
    let (open, _) = lethe::privacy::requests::list(&app.state.db, shop)
        .await
        .unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(open[0].kind, "access", "the soonest due first");
    assert_eq!(open[0].due_at.format("%Y-%m-%d").to_string(), "2020-02-29");
    assert!(open[0].customer_id.is_some());
    let page = app.get_text("/privacy/requests").await;
    assert_eq!(page.matches("class=\"overdue\"").count(), 1);
    assert!(page.contains("2020-02-29"));

    let response = app
        .post_form(
            "/privacy/requests",
            &format!("/privacy/requests/{}/status", open[0].id),
            &[("status", "completed")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let (open, closed) = lethe::privacy::requests::list(&app.state.db, shop)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(closed[0].status, "completed");
    assert!(closed[0].handled_by.is_some());
}

#[tokio::test]
async fn cli_erase_without_yes_changes_nothing_and_with_yes_erases() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = org_id(&app, "Shop").await;
    let (customer_id, _) = receive(
        &app,
        shop,
        mail(
            "Gerda <gerda@kunde.test>",
            "g1@kunde.test",
            "Hallo",
            "Gerdas Text",
            Some(("g.txt", b"gerda attachment")),
        ),
    )
    .await;
    let messages_before = message::Entity::find().count(&app.state.db).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export.zip");

    // Act
    let dry = lethe(&app)
        .args([
            "privacy",
            "erase",
            "--org",
            "Shop",
            "--email",
            "Gerda@kunde.test",
        ])
        .output()
        .unwrap();
    let exported = lethe(&app)
        .args([
            "privacy",
            "export",
            "--org",
            "Shop",
            "--email",
            "gerda@kunde.test",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();

    // Assert: the dry run printed the counts and changed nothing
    assert_eq!(
        dry.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(stdout.contains("messages: 1"), "{stdout}");
    assert!(
        customer::Entity::find_by_id(customer_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        message::Entity::find().count(&app.state.db).await.unwrap(),
        messages_before
    );
    assert_eq!(
        audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("privacy.erased"))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let mut archive = unzip(&std::fs::read(&out).unwrap());
    let json: serde_json::Value =
        serde_json::from_slice(&zip_file(&mut archive, "export.json")).unwrap();
    assert_eq!(all_messages(&json).len(), 1);

    // Act: erase for real
    let erased = lethe(&app)
        .args([
            "privacy",
            "erase",
            "--org",
            "Shop",
            "--email",
            "gerda@kunde.test",
            "--yes",
            "--json",
        ])
        .output()
        .unwrap();

    // Assert
    assert!(
        erased.status.success(),
        "{}",
        String::from_utf8_lossy(&erased.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&erased.stdout).unwrap();
    assert_eq!(report["counts"]["messages"], 1);
    assert_eq!(report["counts"]["attachment_files"], 1);
    assert!(
        customer::Entity::find_by_id(customer_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
}
