//! Composing (issue 14): files attached to replies and notes (multipart form, no JavaScript),
//! sent as MIME parts, shown and downloadable, limited with a clear error that keeps the
//! text, and reached by export and erasure.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;

use chrono::Utc;
use lethe::db::entity::{attachment, message, outbox};
use lethe::orgs::OrgId;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{
    AppOptions, Mail, TestApp, arriving, csrf_of, files_under, location, mail, spawn_app,
    spawn_app_with, traces, unique_suffix,
};
use crate::smtp::SmtpRecorder;

pub(crate) async fn shop(app: &TestApp, smtp_port: Option<u16>) -> (OrgId, i64) {
    app.create_user("owner@shop-a.test", "Shop A", "owner")
        .await;
    let org = app.org_id("Shop A").await;
    let channel = app
        .email_channel(org, "Support", "support@shop-a.test", smtp_port)
        .await
        .0;
    let login = app.login("owner@shop-a.test").await;
    assert_eq!(location(&login), "/inbox", "signed in");
    (org, channel)
}

/// A plain-text mail to Shop A's channel.
pub(crate) fn text_mail(from: &str, message_id: &str, subject: &str, body: &str) -> Mail {
    mail(from, message_id, subject, body)
        .to("support@shop-a.test")
        .date("Mon, 23 Nov 2026 10:00:00 +0000")
}

/// Anna's question; returns its conversation.
pub(crate) async fn anna_asks(app: &TestApp, org: OrgId, channel: i64, from: &str) -> i64 {
    let question = text_mail(
        from,
        &format!("q-{}@customer.test", unique_suffix()),
        "Where is my order",
        "It did not arrive.",
    );
    app.ingest(arriving(org, Some(channel)), question).await.0
}

/// A field of a multipart form: text, or a file (name, content type, bytes).
pub(crate) enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a str, &'a [u8]),
}

/// Posts a `multipart/form-data` body as a browser does, with the CSRF token of `form_page`.
pub(crate) async fn post_multipart(
    app: &TestApp,
    form_page: &str,
    action: &str,
    parts: &[Part<'_>],
) -> reqwest::Response {
    let csrf = csrf_of(&app.get_text(form_page).await);
    let boundary = format!("----lethe{}", unique_suffix());
    let mut body = Vec::new();
    let mut text_part = |name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    text_part("csrf", &csrf);
    for part in parts {
        match part {
            Part::Text(name, value) => text_part(name, value),
            Part::File(..) => {}
        }
    }
    for part in parts {
        if let Part::File(name, filename, content_type, bytes) = part {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    app.client
        .post(format!("{}{action}", app.address))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("POST")
}

/// Bytes no text encoding keeps by accident: every byte value, then a marker.
pub(crate) fn binary_file(marker: &str) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    bytes.extend_from_slice(marker.as_bytes());
    bytes
}

/// The recorded mail as Python's `email` package reads it: every part's content type, then
/// each attachment's file name and SHA-256, and the text part, as JSON.
pub(crate) fn parsed_by_python(raw: &str) -> serde_json::Value {
    let script = r#"
import email, email.policy, hashlib, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
out = {"types": [p.get_content_type() for p in m.walk()], "files": [], "text": None,
       "headers": {k.lower(): str(v) for k, v in m.items()}}
for p in m.walk():
    if p.get_content_disposition() == "attachment":
        data = p.get_payload(decode=True)
        out["files"].append([p.get_filename(), p.get_content_type(), hashlib.sha256(data).hexdigest()])
    elif p.get_content_type() == "text/plain" and out["text"] is None:
        out["text"] = p.get_content()
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(raw.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python could not parse: {raw}");
    serde_json::from_slice(&output.stdout).unwrap()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub(crate) fn blob_files(app: &TestApp) -> BTreeSet<PathBuf> {
    let dir = app.data_dir.join("attachments");
    if !dir.exists() {
        return BTreeSet::new();
    }
    files_under(&dir).into_iter().collect()
}

#[tokio::test]
async fn a_reply_with_two_attachments_is_sent_as_mime_parts_and_they_download_from_the_thread() {
    // Arrange
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    let label = binary_file("return-label");
    let invoice = "Rechnung 4711\nÄrger über Umlaute\n".as_bytes().to_vec();
    let page = app.get_text(&path).await;
    assert!(
        page.contains(r#"enctype="multipart/form-data""#),
        "the reply form takes files without JavaScript"
    );

    // Act
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", "Here is your return label."),
            Part::Text("then", ""),
            Part::File("files", "Rücksendeetikett.pdf", "application/pdf", &label),
            Part::File("files", "rechnung.txt", "text/plain", &invoice),
        ],
    )
    .await;

    // Assert: queued with two attachment rows in the same commit.
    assert_eq!(response.status(), 303);
    assert!(location(&response).contains("flash=flash.reply_queued"));
    let reply = message::Entity::find()
        .filter(message::Column::Direction.eq("outbound"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("reply stored");
    let rows = attachment::Entity::find()
        .filter(attachment::Column::MessageId.eq(reply.id))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut names: Vec<&str> = rows.iter().map(|r| r.filename.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Rücksendeetikett.pdf", "rechnung.txt"]);
    assert_eq!(
        outbox::Entity::find().count(&app.state.db).await.unwrap(),
        1
    );
    // Stored sealed: the store holds no plain copy.
    assert!(traces(&app.data_dir.join("attachments"), &[b"return-label"]).is_empty());

    // Shown under the reply, downloadable byte for byte.
    let page = app.get_text(&path).await;
    for row in &rows {
        assert!(page.contains(&format!("/attachments/{}", row.id)), "{page}");
        let downloaded = app.get(&format!("/attachments/{}", row.id)).await;
        assert_eq!(downloaded.status(), 200);
        let expected: &[u8] = if row.filename == "rechnung.txt" {
            &invoice
        } else {
            &label
        };
        assert_eq!(downloaded.bytes().await.unwrap().as_ref(), expected);
    }

    // Sent as multipart/mixed: the text and HTML parts, then the two files, bytes identical.
    let outcome = lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert_eq!(outcome.sent, 1);
    let sent = smtp.wait_for(1).await.remove(0);
    let parsed = parsed_by_python(&sent);
    assert_eq!(
        parsed["types"],
        serde_json::json!([
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "application/pdf",
            "text/plain"
        ]),
        "{sent}"
    );
    assert!(
        parsed["text"]
            .as_str()
            .unwrap()
            .starts_with("Here is your return label.\r\n\r\nOn "),
        "the reply, then the quoted question: {sent}"
    );
    assert_eq!(
        parsed["files"],
        serde_json::json!([
            [
                "Rücksendeetikett.pdf",
                "application/pdf",
                sha256_hex(&label)
            ],
            ["rechnung.txt", "text/plain", sha256_hex(&invoice)],
        ])
    );
    let token = app.conversation(id).await.token;
    assert!(
        parsed["headers"]["subject"]
            .as_str()
            .unwrap()
            .contains(&format!("[#{token}]"))
    );
    assert!(
        parsed["headers"]["in-reply-to"]
            .as_str()
            .unwrap()
            .contains("q-")
    );
}

#[tokio::test]
async fn a_reply_without_files_is_text_and_html_without_a_mixed_part() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");

    // A browser sends an empty file part when no file was chosen.
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", "No files this time."),
            Part::File("files", "", "application/octet-stream", b""),
        ],
    )
    .await;

    assert_eq!(response.status(), 303);
    assert_eq!(app.count::<attachment::Entity>().await, 0);
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    let parsed = parsed_by_python(&smtp.wait_for(1).await.remove(0));
    assert_eq!(
        parsed["types"],
        serde_json::json!(["multipart/alternative", "text/plain", "text/html"])
    );
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_with_its_name_and_the_typed_text_is_kept() {
    // Arrange: one file may have 1 MB.
    let app = spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_MAX_ATTACHMENT_MB".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    let small = binary_file("small-one");
    let big = vec![b'x'; 1024 * 1024 + 1];
    let before = blob_files(&app);

    for (action, text) in [
        ("reply", "Dear Anna, the label is attached."),
        ("notes", "Label for the team."),
    ] {
        // Act
        let response = post_multipart(
            &app,
            &path,
            &format!("{path}/{action}"),
            &[
                Part::Text("text", text),
                Part::File("files", "small.bin", "application/octet-stream", &small),
                Part::File("files", "huge-scan.pdf", "application/pdf", &big),
            ],
        )
        .await;

        // Assert
        assert_eq!(response.status(), 422, "{action}");
        let page = response.text().await.unwrap();
        assert!(page.contains(text), "the typed text is kept: {page}");
        assert!(page.contains("huge-scan.pdf"), "the file is named");
        assert!(page.contains("1.0 MB"), "the limit is named");
        assert!(page.contains("attach the files again"), "{page}");
    }
    // Nothing stored: no message, no attachment row, no file, nothing queued or sent.
    assert_eq!(app.count::<attachment::Entity>().await, 0);
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::Direction.ne("inbound"))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(app.count::<outbox::Entity>().await, 0);
    assert_eq!(blob_files(&app), before);
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn a_note_with_files_shows_them_and_nothing_is_sent() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    let photo = binary_file("damaged-parcel");

    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/notes"),
        &[
            Part::Text("text", "Photo from the warehouse."),
            Part::File("files", "parcel.jpg", "image/jpeg", &photo),
        ],
    )
    .await;

    assert_eq!(response.status(), 303);
    let note = message::Entity::find()
        .filter(message::Column::Direction.eq("note"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("note stored");
    let row = attachment::Entity::find()
        .filter(attachment::Column::MessageId.eq(note.id))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("attachment row of the note");
    assert_eq!(row.filename, "parcel.jpg");
    assert_eq!(row.content_type, "image/jpeg");
    assert!(
        app.get_text(&path)
            .await
            .contains(&format!("/attachments/{}", row.id))
    );
    let downloaded = app.get(&format!("/attachments/{}", row.id)).await;
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), &photo[..]);
    assert_eq!(app.count::<outbox::Entity>().await, 0);
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn outgoing_attachments_are_exported_and_erasure_leaves_no_file_or_trace_of_them() {
    // Arrange: a reply and a note, each with a file only this customer's conversation has.
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let suffix = unique_suffix();
    let id = anna_asks(
        &app,
        org,
        channel,
        &format!("Zora{suffix} Quill <zora{suffix}@customer.test>"),
    )
    .await;
    let path = format!("/conversations/{id}");
    let before = blob_files(&app);
    let label = binary_file(&format!("LABEL-{suffix}"));
    let memo = format!("MEMO-{suffix} internal").into_bytes();
    let reply_file = format!("label-{suffix}.pdf");
    let note_file = format!("memo-{suffix}.txt");
    let reply_text = format!("Your label, Zora{suffix}.");
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", &reply_text),
            Part::File("files", &reply_file, "application/pdf", &label),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/notes"),
        &[
            Part::Text("text", "See the memo."),
            Part::File("files", &note_file, "text/plain", &memo),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    smtp.wait_for(1).await;
    assert_eq!(blob_files(&app).len(), before.len() + 2);
    let customer_id = app.conversation(id).await.customer_id;

    // Act 1: export, notes included.
    let page = app.get_text(&format!("/customers/{customer_id}")).await;
    let response = app
        .post_with_csrf(
            &format!("/customers/{customer_id}/export"),
            &csrf_of(&page),
            &[("include_notes", "1")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let zip_bytes = response.bytes().await.unwrap().to_vec();

    // Assert 1: both files are in the archive, byte for byte.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut found = BTreeSet::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let name = file.name().unwrap().to_string();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        if name.ends_with(&reply_file) {
            assert_eq!(bytes, label);
            found.insert("reply");
        }
        if name.ends_with(&note_file) {
            assert_eq!(bytes, memo);
            found.insert("note");
        }
    }
    assert_eq!(found, BTreeSet::from(["note", "reply"]));

    // Act 2: erase the customer.
    let confirm = app
        .get_text(&format!("/customers/{customer_id}/erase"))
        .await;
    let response = app
        .post_with_csrf(
            &format!("/customers/{customer_id}/erase"),
            &csrf_of(&confirm),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);

    // Assert 2: rows and sealed files gone, no trace of names or text in the data directory.
    assert_eq!(app.count::<attachment::Entity>().await, 0);
    assert_eq!(blob_files(&app), before, "the sealed files are removed");
    lethe::db::checkpoint(&app.state.db).await.unwrap();
    if app.database_url.is_none() {
        let needles = [
            reply_file.clone(),
            note_file.clone(),
            reply_text.clone(),
            format!("LABEL-{suffix}"),
            format!("MEMO-{suffix}"),
        ];
        let left = traces(&app.data_dir, &needles);
        assert!(left.is_empty(), "traces left: {left:#?}");
    }
}

/// The value of the `<input>` with this id on a page.
pub(crate) fn input_value(page: &str, id: &str) -> String {
    let pattern = format!(r#"<input[^>]*id="{id}"[^>]*value="([^"]*)""#);
    regex::Regex::new(&pattern)
        .unwrap()
        .captures(page)
        .map(|c| c[1].replace("&#x40;", "@").replace("&#64;", "@"))
        .unwrap_or_else(|| panic!("no input {id}"))
}

#[tokio::test]
async fn a_reply_goes_to_to_cc_and_bcc_and_bcc_is_only_in_the_envelope() {
    // Arrange
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    assert_eq!(
        input_value(&app.get_text(&path).await, "reply-to"),
        "anna@customer.test",
        "To starts with the last person who wrote"
    );

    // Act
    let response = app
        .post_form(
            &path,
            &format!("{path}/reply"),
            &[
                ("text", "Copying the courier."),
                ("to", "Anna Berg <anna@customer.test>"),
                (
                    "cc",
                    "Courier Desk <desk@courier.test>; second@courier.test",
                ),
                ("bcc", "owner@private-mail.test"),
            ],
        )
        .await;

    // Assert: stored on the reply.
    assert_eq!(response.status(), 303);
    let reply = message::Entity::find()
        .filter(message::Column::Direction.eq("outbound"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("reply stored");
    assert_eq!(reply.to_addresses, "anna@customer.test");
    assert_eq!(reply.cc_addresses, "desk@courier.test, second@courier.test");
    assert_eq!(reply.bcc_addresses, "owner@private-mail.test");

    // Sent to all four; Cc in the headers, Bcc in none.
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    let sent = smtp.wait_for(1).await.remove(0);
    let parsed = parsed_by_python(&sent);
    let headers = &parsed["headers"];
    let envelope = headers["x-recorded-rcpt"].as_str().unwrap();
    for address in [
        "anna@customer.test",
        "desk@courier.test",
        "second@courier.test",
        "owner@private-mail.test",
    ] {
        assert!(envelope.contains(address), "{envelope}");
    }
    assert_eq!(headers["to"], "anna@customer.test");
    assert_eq!(headers["cc"], "desk@courier.test, second@courier.test");
    assert!(headers.get("bcc").is_none(), "{sent}");
    let without_envelope: String = sent
        .lines()
        .filter(|l| !l.starts_with("X-Recorded-Rcpt"))
        .collect();
    assert!(
        !without_envelope.contains("owner@private-mail.test"),
        "{sent}"
    );
    let token = app.conversation(id).await.token;
    assert!(
        headers["subject"]
            .as_str()
            .unwrap()
            .contains(&format!("[#{token}]"))
    );
    assert!(headers.get("in-reply-to").is_some());

    // Anna's own export shows the reply, but not whom it was copied to blindly.
    let customer_id = app.conversation(id).await.customer_id;
    let page = app.get_text(&format!("/customers/{customer_id}")).await;
    let zip_bytes = app
        .post_with_csrf(
            &format!("/customers/{customer_id}/export"),
            &csrf_of(&page),
            &[],
        )
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut exported = String::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut text = String::new();
        if file.read_to_string(&mut text).is_ok() {
            exported.push_str(&text);
        }
    }
    assert!(exported.contains("Copying the courier."));
    assert!(
        !exported.contains("owner@private-mail.test"),
        "a Bcc recipient is not shown to the customer"
    );
}

#[tokio::test]
async fn reply_all_prefills_cc_from_the_last_customer_mail_without_the_shops_own_addresses() {
    // Arrange: the channel answers for an alias too; Anna wrote to both and copied others.
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    lethe::db::entity::channel::Entity::update_many()
        .col_expr(
            lethe::db::entity::channel::Column::Aliases,
            sea_orm::sea_query::Expr::val("returns@shop-a.test"),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let question = mail(
        "Anna Berg <anna@customer.test>",
        "all-1@customer.test",
        "Broken kettle",
        "It leaks.",
    )
    .to("support@shop-a.test, Returns <RETURNS@shop-a.test>, Ben <ben@customer.test>")
    .header(
        "Cc",
        "carla@customer.test, support@shop-a.test, anna@customer.test",
    )
    .date("Mon, 23 Nov 2026 10:00:00 +0000");
    let (id, _) = app.ingest(arriving(org, Some(channel)), question).await;
    let path = format!("/conversations/{id}");

    // Act
    let plain = app.get_text(&path).await;
    let all = app.get_text(&format!("{path}?reply_all=1")).await;

    // Assert
    assert!(plain.contains("reply_all=1"), "the page offers reply-all");
    assert_eq!(input_value(&plain, "reply-cc"), "");
    assert_eq!(input_value(&all, "reply-to"), "anna@customer.test");
    assert_eq!(
        input_value(&all, "reply-cc"),
        "ben@customer.test, carla@customer.test"
    );
}

#[tokio::test]
async fn bad_or_own_addresses_are_named_and_nothing_is_queued() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    let text = "Please find the tracking number below.";

    for (to, cc, bcc, expected) in [
        (
            "anna@customer.test",
            "courier@, ok@courier.test",
            "not an address",
            vec![
                "“courier@” in Cc is not a valid email address.",
                "“not an address” in Bcc is not a valid email address.",
            ],
        ),
        ("", "", "", vec!["Please enter at least one address in To."]),
        (
            "anna@customer.test",
            "Support@shop-a.test",
            "",
            vec!["“support@shop-a.test” is one of this shop's own addresses"],
        ),
    ] {
        let response = app
            .post_form(
                &path,
                &format!("{path}/reply"),
                &[("text", text), ("to", to), ("cc", cc), ("bcc", bcc)],
            )
            .await;
        assert_eq!(response.status(), 422, "{to} / {cc} / {bcc}");
        let page = response.text().await.unwrap();
        for sentence in expected {
            assert!(
                page.replace("&#39;", "'").contains(sentence),
                "{sentence}: {page}"
            );
        }
        assert!(page.contains(text), "the text is kept");
        assert_eq!(input_value(&page, "reply-cc"), cc, "the typed Cc is kept");
    }
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::Direction.eq("outbound"))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(app.count::<outbox::Entity>().await, 0);
}

#[tokio::test]
async fn a_new_conversation_is_sent_threaded_and_the_customers_answer_lands_in_it() {
    // Arrange
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    assert!(app.get_text("/inbox").await.contains("/conversations/new"));
    let form = app
        .get_text("/conversations/new?to=dora%40customer.test")
        .await;
    assert_eq!(input_value(&form, "new-to"), "dora@customer.test");
    let manual = b"%PDF-1.4 manual".to_vec();

    // Act
    let response = post_multipart(
        &app,
        "/conversations/new",
        "/conversations/new",
        &[
            Part::Text("channel", &channel.to_string()),
            Part::Text("to", "Dora Ek <dora@customer.test>"),
            Part::Text("cc", "partner@customer.test"),
            Part::Text("subject", "Your warranty claim"),
            Part::Text("text", "We received your kettle and will repair it."),
            Part::File("files", "manual.pdf", "application/pdf", &manual),
        ],
    )
    .await;

    // Assert: customer, conversation, message, attachment and outbox row in one go.
    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert!(
        target.contains("flash=flash.conversation_started"),
        "{target}"
    );
    let id: i64 = target
        .trim_start_matches("/conversations/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let conversation = app.conversation(id).await;
    assert_eq!(conversation.subject, "Your warranty claim");
    assert_eq!(conversation.channel_id, Some(channel));
    let emails =
        lethe::inbox::customers::primary_email(&app.state.db, org, conversation.customer_id)
            .await
            .unwrap();
    assert_eq!(emails.as_deref(), Some("dora@customer.test"));
    let first = message::Entity::find()
        .filter(message::Column::ConversationId.eq(id))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.direction, "outbound");
    assert_eq!(first.cc_addresses, "partner@customer.test");
    assert_eq!(app.count::<attachment::Entity>().await, 1);
    assert_eq!(app.count::<outbox::Entity>().await, 1);
    let page = app.get_text(&format!("/conversations/{id}")).await;
    assert!(page.contains("We received your kettle"));

    // Sent with the ticket tag and Lethe's Message-ID.
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    let sent = smtp.wait_for(1).await.remove(0);
    let parsed = parsed_by_python(&sent);
    let headers = &parsed["headers"];
    assert_eq!(
        headers["subject"],
        format!("Your warranty claim [#{}]", conversation.token)
    );
    assert_eq!(headers["to"], "dora@customer.test");
    assert_eq!(headers["cc"], "partner@customer.test");
    assert!(
        headers["message-id"]
            .as_str()
            .unwrap()
            .contains(&first.message_id_header)
    );
    assert_eq!(parsed["files"][0][2].as_str().unwrap(), sha256_hex(&manual));

    // The customer's answer threads into it.
    let answer = text_mail(
        "Dora Ek <dora@customer.test>",
        "dora-answer@customer.test",
        "Re: Your warranty claim",
        "Thank you!",
    )
    .header("In-Reply-To", &format!("<{}>", first.message_id_header));
    let (answered, _) = app.ingest(arriving(org, Some(channel)), answer).await;
    assert_eq!(answered, id);
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::ConversationId.eq(id))
            .count(&app.state.db)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn a_new_conversation_with_mistakes_names_them_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (_, channel) = shop(&app, Some(smtp.port)).await;

    let response = app
        .post_form(
            "/conversations/new",
            "/conversations/new",
            &[
                ("channel", &channel.to_string()),
                ("to", "dora@customer, support@shop-a.test"),
                ("subject", ""),
                ("text", "Draft I do not want to lose."),
            ],
        )
        .await;

    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("“dora@customer” in To is not a valid email address."));
    assert!(page.contains("Please enter a subject."));
    assert!(page.contains("Draft I do not want to lose."));
    assert_eq!(
        app.count::<lethe::db::entity::conversation::Entity>().await,
        0
    );
    assert_eq!(app.count::<outbox::Entity>().await, 0);

    // Own addresses are refused, naming the address.
    let response = app
        .post_form(
            "/conversations/new",
            "/conversations/new",
            &[
                ("channel", &channel.to_string()),
                ("to", "support@shop-a.test"),
                ("subject", "Loop"),
                ("text", "To myself."),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("“support@shop-a.test” is one of this shop")
    );
    assert_eq!(
        app.count::<lethe::db::entity::conversation::Entity>().await,
        0
    );
}

#[tokio::test]
async fn no_new_conversation_is_started_with_a_restricted_customer() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let first = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let anna = app.customer_of(first).await;
    let restricted = app
        .post_form(
            &format!("/customers/{anna}"),
            &format!("/customers/{anna}/restriction"),
            &[("reason", "disputes the accuracy")],
        )
        .await;
    assert_eq!(restricted.status(), 303);

    let response = app
        .post_form(
            "/conversations/new",
            "/conversations/new",
            &[
                ("channel", &channel.to_string()),
                ("to", "anna@customer.test"),
                ("subject", "Ein Angebot"),
                ("text", "Darf ich Ihnen etwas zeigen?"),
            ],
        )
        .await;

    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("is restricted"));
    assert_eq!(
        app.count::<lethe::db::entity::conversation::Entity>().await,
        1
    );
    assert_eq!(app.count::<outbox::Entity>().await, 0);
}

#[tokio::test]
async fn a_multipart_form_without_the_right_csrf_token_is_refused_and_stores_nothing() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let boundary = "----lethe-csrf";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nforged\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nforged reply\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nforged file\r\n--{boundary}--\r\n"
    );

    for action in ["reply", "notes"] {
        let response = app
            .client
            .post(format!("{}/conversations/{id}/{action}", app.address))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{action}");
    }
    assert_eq!(app.count::<attachment::Entity>().await, 0);
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::Direction.ne("inbound"))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_message_is_forwarded_with_its_files_recorded_on_the_conversation_and_replies_stay_with_the_customer()
 {
    // Arrange: Anna's mail with a photo.
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let photo = binary_file("broken-lid");
    let question = text_mail(
        "Anna Berg <anna@customer.test>",
        "fwd-1@customer.test",
        "Broken lid",
        "The lid of the kettle is broken.",
    )
    .attachment("image/jpeg", "lid.jpg", &photo);
    let (id, anna_message) = app.ingest(arriving(org, Some(channel)), question).await;
    let path = format!("/conversations/{id}");
    let action = format!("{path}/messages/{anna_message}/forward");

    // A bad address is named, nothing queued.
    let response = app
        .post_form(
            &path,
            &action,
            &[("to", "supplier@"), ("note", "Please check.")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("“supplier@” in To is not a valid email address."));
    assert!(page.contains("Please check."), "the note is kept");
    assert_eq!(app.count::<outbox::Entity>().await, 0);

    // Act
    let response = app
        .post_form(
            &path,
            &action,
            &[
                ("to", "Supplier QA <qa@supplier.test>"),
                ("note", "Can you replace this lid?"),
            ],
        )
        .await;

    // Assert: recorded on the conversation as a forward, sent with the file.
    assert_eq!(response.status(), 303);
    assert!(location(&response).contains("flash=flash.forward_queued"));
    let forward = message::Entity::find()
        .filter(message::Column::Kind.eq("forward"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("forward recorded");
    assert_eq!(forward.conversation_id, id);
    assert_eq!(forward.to_addresses, "qa@supplier.test");
    let page = app.get_text(&path).await;
    assert!(page.contains("Forwarded"), "shown as a forward");
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    let sent = smtp.wait_for(1).await.remove(0);
    let parsed = parsed_by_python(&sent);
    let headers = &parsed["headers"];
    let token = app.conversation(id).await.token;
    assert_eq!(headers["subject"], format!("Fwd: Broken lid [#{token}]"));
    assert_eq!(headers["to"], "qa@supplier.test");
    assert_eq!(headers["x-recorded-rcpt"], "qa@supplier.test");
    let text = parsed["text"].as_str().unwrap();
    assert!(text.starts_with("Can you replace this lid?"), "{text}");
    assert!(text.contains("The lid of the kettle is broken."));
    assert!(text.contains("anna@customer.test"));
    assert_eq!(
        parsed["files"],
        serde_json::json!([["lid.jpg", "image/jpeg", sha256_hex(&photo)]])
    );

    // A reply afterwards still goes to Anna, threaded on her mail, not on the forward.
    let response = app
        .post_form(
            &path,
            &format!("{path}/reply"),
            &[("text", "A new lid is on its way.")],
        )
        .await;
    assert_eq!(response.status(), 303);
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    let reply = smtp.wait_for(2).await.remove(1);
    let parsed = parsed_by_python(&reply);
    assert_eq!(parsed["headers"]["to"], "anna@customer.test");
    assert_eq!(parsed["headers"]["in-reply-to"], "<fwd-1@customer.test>");
}

/// Random bytes: no run of them appears by chance in a sealed file or a mail.
fn random_file(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for byte in &mut bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = (state >> 24) as u8;
    }
    bytes
}

#[tokio::test]
async fn a_ten_megabyte_attachment_is_sealed_in_chunks_as_it_arrives_and_sent_byte_identical() {
    // Arrange
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    let scan = random_file(10 * 1024 * 1024);
    let before = blob_files(&app);

    // Act 1: a form that comes back (a bad Cc address) after the file was sealed.
    let refused = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", "The scan of your receipt."),
            Part::Text("to", "anna@customer.test"),
            Part::Text("cc", "nope@"),
            Part::File(
                "files",
                "receipt-scan.bin",
                "application/octet-stream",
                &scan,
            ),
        ],
    )
    .await;

    // Assert 1: shown again with the text; the sealed upload is gone from the data directory.
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("The scan of your receipt.")
    );
    assert_eq!(blob_files(&app), before, "no staged or stored file is left");

    // Act 2: the same reply, addressed right.
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", "The scan of your receipt."),
            Part::Text("to", "anna@customer.test"),
            Part::File(
                "files",
                "receipt-scan.bin",
                "application/octet-stream",
                &scan,
            ),
        ],
    )
    .await;

    // Assert 2: one file in the store, sealed as a chunked stream (not one seal of the whole
    // file), named by its content, nothing left in the staging directory.
    assert_eq!(response.status(), 303);
    let row = attachment::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("attachment row");
    assert_eq!(row.size, 10 * 1024 * 1024);
    let added: Vec<PathBuf> = blob_files(&app).difference(&before).cloned().collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert!(added[0].ends_with(&row.blob_id), "{added:?}");
    let mut head = [0u8; 8];
    std::fs::File::open(&added[0])
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    assert!(
        lethe::crypto::stream::is_sealed_stream(&head),
        "stored in sealed chunks"
    );
    assert!(
        traces(
            &app.data_dir.join("attachments"),
            &[&scan[5_000_000..5_000_032]]
        )
        .is_empty()
    );

    // Assert 3: the mail carries the file byte for byte, as Python's email package reads it.
    let outcome = lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert_eq!(outcome.sent, 1);
    let sent = smtp.wait_for(1).await.remove(0);
    let parsed = parsed_by_python(&sent);
    assert_eq!(
        parsed["types"],
        serde_json::json!([
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "application/octet-stream"
        ])
    );
    assert_eq!(
        parsed["files"],
        serde_json::json!([[
            "receipt-scan.bin",
            "application/octet-stream",
            sha256_hex(&scan)
        ]])
    );
    assert!(
        !sent.contains("LETHE-ATTACHMENT-"),
        "no placeholder is left"
    );
}

#[tokio::test]
async fn a_damaged_attachment_file_stops_the_send_before_the_smtp_server_sees_anything() {
    // Arrange: a queued reply whose stored file was altered on disk.
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", "Your label."),
            Part::File(
                "files",
                "label.bin",
                "application/octet-stream",
                &random_file(300_000),
            ),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let file = blob_files(&app).into_iter().next().expect("stored file");
    let mut raw = std::fs::read(&file).unwrap();
    let middle = raw.len() / 2;
    raw[middle] ^= 0x01;
    std::fs::write(&file, raw).unwrap();

    // Act
    let outcome = lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();

    // Assert: not sent, kept for another attempt; the server never saw a part of it.
    assert_eq!(outcome.sent, 0);
    assert_eq!(outcome.retrying, 1);
    assert_eq!(app.count::<outbox::Entity>().await, 1);
    assert!(smtp.messages().is_empty());
}
