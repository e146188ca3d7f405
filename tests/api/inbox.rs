//! The inbox pages: the list with its filters and keyset pagination, the conversation page
//! (escaped text, sanitized HTML, attachments), replies through the outbox to a real SMTP
//! server, notes, triage, tags, canned replies, live events and the tenant scope.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use chrono::{TimeZone, Utc};
use lethe::db::entity::{conversation, message, outbox};
use lethe::orgs::OrgId;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::helpers::{Mail, TestApp, arriving, csrf_of, location, mail, spawn_app};
use crate::smtp::SmtpRecorder;

/// An owner of "Shop A" (signed in) and a channel, sending through `smtp_port` if given.
async fn shop(app: &TestApp, smtp_port: Option<u16>) -> (OrgId, i64) {
    app.create_user("owner@shop-a.test", "Shop A", "owner")
        .await;
    let org = app.org_id("Shop A").await;
    let channel = channel(app, org, smtp_port).await;
    app.login("owner@shop-a.test").await;
    (org, channel)
}

async fn channel(app: &TestApp, org: OrgId, smtp_port: Option<u16>) -> i64 {
    app.email_channel(org, "Support", "support@shop-a.test", smtp_port)
        .await
        .0
}

/// A plain-text mail to Shop A's channel.
fn text_mail(from: &str, message_id: &str, subject: &str, body: &str) -> Mail {
    mail(from, message_id, subject, body)
        .to("support@shop-a.test")
        .date("Mon, 23 Nov 2026 10:00:00 +0000")
}

/// Stores a mail arriving on `channel`; returns (conversation id, message id).
async fn ingest(app: &TestApp, org: OrgId, channel: i64, raw: impl Into<Vec<u8>>) -> (i64, i64) {
    app.ingest(arriving(org, Some(channel)), raw).await
}

async fn new_conversation(app: &TestApp, org: OrgId, channel: i64, n: usize) -> i64 {
    ingest(
        app,
        org,
        channel,
        text_mail(
            &format!("Customer {n} <customer{n}@customer.test>"),
            &format!("q{n}.{}@customer.test", crate::helpers::unique_suffix()),
            &format!("Question number {n}"),
            "Where is my parcel?",
        ),
    )
    .await
    .0
}

/// Anna Berg's mail "Where is my order" with Message-ID `message_id`; returns its conversation.
async fn anna_asks_where_her_order_is(
    app: &TestApp,
    org: OrgId,
    channel: i64,
    message_id: &str,
) -> i64 {
    let from = "Anna Berg <anna@customer.test>";
    let question = text_mail(from, message_id, "Where is my order", "It did not arrive.");
    ingest(app, org, channel, question).await.0
}

/// The conversation ids listed on an inbox page, in order.
fn listed(html: &str) -> Vec<i64> {
    regex::Regex::new(r#"data-conversation-id="(\d+)""#)
        .unwrap()
        .captures_iter(html)
        .map(|c| c[1].parse().unwrap())
        .collect()
}

fn next_link(html: &str) -> Option<String> {
    regex::Regex::new(r#"<a href="([^"]+)" rel="next">"#)
        .unwrap()
        .captures(html)
        .map(|c| unescape(&c[1]))
}

/// Undoes the HTML escaping of an attribute value (askama writes `&#38;` for `&`).
fn unescape(value: &str) -> String {
    value
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
}

/// Text as askama escapes it into a page.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn the_inbox_lists_by_status_assignee_and_tag() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let first = new_conversation(&app, org, channel, 1).await;
    let second = new_conversation(&app, org, channel, 2).await;
    let third = new_conversation(&app, org, channel, 3).await;
    let me = lethe::orgs::queries::members(&app.state.db, org)
        .await
        .unwrap()[0]
        .user_id;

    let page = conversation_path(first);
    let set_pending = app
        .post_form(&page, &format!("{page}/status"), &[("status", "pending")])
        .await;
    assert_eq!(set_pending.status(), 303);
    assert!(location(&set_pending).contains("flash=flash.status_changed"));
    let path = conversation_path(second);
    let assigned = app
        .post_form(
            &path,
            &format!("{path}/assignee"),
            &[("assignee", &me.to_string())],
        )
        .await;
    assert_eq!(assigned.status(), 303);
    let path = conversation_path(third);
    let tagged = app
        .post_form(&path, &format!("{path}/tags"), &[("name", "Refund")])
        .await;
    assert_eq!(tagged.status(), 303);
    let tag = lethe::db::entity::tag::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((tag.organization_id, tag.name.as_str()), (org, "Refund"));

    let open = app.get_text("/inbox").await;
    assert_eq!(listed(&open), vec![third, second], "open, newest first");
    assert!(open.contains("Customer 3") && open.contains("Question number 3"));
    assert!(open.contains("Refund"), "tags are shown on the row");
    let pending = app.get_text("/inbox?status=pending").await;
    assert_eq!(listed(&pending), vec![first]);
    assert_eq!(
        listed(&app.get_text("/inbox?assignee=mine").await),
        vec![second]
    );
    assert_eq!(
        listed(&app.get_text("/inbox?assignee=unassigned").await),
        vec![third]
    );
    assert_eq!(
        listed(&app.get_text(&format!("/inbox?tag={}", tag.id)).await),
        vec![third]
    );
    assert_eq!(
        listed(
            &app.get_text(&format!("/inbox?channel={channel}&status=open"))
                .await
        ),
        vec![third, second]
    );
    assert!(listed(&app.get_text("/inbox?channel=999999").await).is_empty());
}

fn conversation_path(id: i64) -> String {
    format!("/conversations/{id}")
}

#[tokio::test]
async fn the_keyset_cursor_walks_every_conversation_exactly_once_in_activity_order() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let mut ids = Vec::new();
    for n in 0..120 {
        ids.push(new_conversation(&app, org, channel, n).await);
    }
    // Many conversations share an activity time, so the id must break ties.
    for (i, id) in ids.iter().enumerate() {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
            + chrono::Duration::microseconds(1_500_000 * (i as i64 % 7));
        conversation::Entity::update_many()
            .col_expr(conversation::Column::LastActivityAt, at.into())
            .filter(conversation::Column::Id.eq(*id))
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    let expected: Vec<i64> = conversation::Entity::find()
        .filter(conversation::Column::OrganizationId.eq(org.get()))
        .order_by_desc(conversation::Column::LastActivityAt)
        .order_by_desc(conversation::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();

    let mut seen = Vec::new();
    let mut next = Some("/inbox".to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let html = app.get_text(&path).await;
        let rows = listed(&html);
        assert!(rows.len() <= 50, "a page holds at most 50 rows");
        seen.extend(rows);
        next = next_link(&html);
        if let Some(link) = &next {
            assert!(
                link.contains("before="),
                "keyset cursor, not an offset: {link}"
            );
            assert!(!link.contains("offset") && !link.contains("page="));
        }
        pages += 1;
        assert!(pages < 10, "the walk ends");
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen, expected,
        "every conversation once, by activity then id"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 120);
    // A malformed cursor is the first page, not an error.
    assert_eq!(app.get("/inbox?before=nonsense").await.status(), 200);
}

#[tokio::test]
async fn the_conversation_page_escapes_text_sanitizes_html_and_serves_attachments() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let (conversation_id, _) = ingest(
        &app,
        org,
        channel,
        text_mail(
            "Anna Berg <anna@customer.test>",
            "text-1@customer.test",
            "Order 4711",
            "Is <b>this</b> bold? & more",
        ),
    )
    .await;
    let attachment = b"%PDF-1.4 invoice 4711 \x00\x01\x02".to_vec();
    let html_mail = format!(
        "From: Anna Berg <anna@customer.test>\r\nTo: support@shop-a.test\r\n\
         Subject: Re: Order 4711\r\nMessage-ID: <html-1@customer.test>\r\n\
         In-Reply-To: <text-1@customer.test>\r\nDate: Mon, 23 Nov 2026 10:05:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n\
         --mixed\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain version\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>Hello <b>team</b></p><script>alert('pwned')</script>\
         <img src=\"https://tracker.test/pixel.gif\" alt=\"t\">\r\n--alt--\r\n\
         --mixed\r\nContent-Type: application/pdf; name=\"invoice 4711.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"invoice 4711.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--mixed--\r\n",
        base64::engine::general_purpose::STANDARD.encode(&attachment)
    );
    let (same, html_message) = ingest(&app, org, channel, html_mail.into_bytes()).await;
    assert_eq!(same, conversation_id, "threaded by In-Reply-To");

    let response = app.get(&conversation_path(conversation_id)).await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&escaped("Is <b>this</b> bold? & more")),
        "text escaped"
    );
    assert!(page.contains("<p>Hello <b>team</b></p>"), "HTML shown");
    assert!(!page.contains("<script>alert") && !page.contains("pwned"));
    assert!(
        !page.contains(" src=\"https://tracker.test"),
        "no remote image loads"
    );
    assert!(page.contains("data-remote-src=\"https://tracker.test/pixel.gif\""));
    assert!(page.contains(&format!("?remote_images={html_message}")));
    assert!(page.contains("Anna Berg"));

    // Remote images for that one message, with a CSP that allows them for this response only.
    let response = app
        .get(&format!(
            "{}?remote_images={html_message}",
            conversation_path(conversation_id)
        ))
        .await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("img-src 'self' data: https: http:"), "{csp}");
    assert!(csp.contains("script-src 'self'"));
    let page = response.text().await.unwrap();
    assert!(page.contains(" src=\"https://tracker.test/pixel.gif\""));
    assert!(!page.contains("data-remote-src"));
    assert!(!page.contains("pwned"));

    // The attachment downloads with its bytes and safe headers.
    let link = regex::Regex::new(r#"href="(/attachments/\d+)""#)
        .unwrap()
        .captures(&page)
        .map(|c| c[1].to_owned())
        .expect("attachment link");
    let download = app.get(&link).await;
    assert_eq!(download.status(), 200);
    let headers = download.headers().clone();
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename*=UTF-8''invoice%204711.pdf"
    );
    // Streamed from the store with its length announced (browsers show progress).
    assert_eq!(
        headers["content-length"],
        attachment.len().to_string().as_str()
    );
    assert_eq!(download.bytes().await.unwrap().to_vec(), attachment);

    // The customer page lists the conversation and the address.
    let customer_id = app.conversation(conversation_id).await.customer_id;
    let customer = app.get_text(&format!("/customers/{customer_id}")).await;
    assert!(customer.contains("anna@customer.test"));
    assert!(customer.contains(&conversation_path(conversation_id)));
}

#[tokio::test]
async fn inline_images_of_a_multipart_related_mail_show_in_the_thread() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let png: &[u8] = b"\x89PNG\r\n\x1a\n photo of the broken parcel";
    let mail = format!(
        "From: Anna Berg <anna@customer.test>\r\nTo: support@shop-a.test\r\n\
         Subject: Damaged parcel\r\nMessage-ID: <related-1@customer.test>\r\n\
         Date: Mon, 23 Nov 2026 10:05:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n\
         --rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>See the photo:</p><img src=\"cid:parcel.1@customer.test\" alt=\"parcel\">\
         <img src=\"cid:not-attached@customer.test\" alt=\"missing\">\r\n\
         --rel\r\nContent-Type: image/png; name=\"parcel.png\"\r\n\
         Content-ID: <parcel.1@customer.test>\r\nContent-Disposition: inline; filename=\"parcel.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--rel--\r\n",
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    let (conversation_id, _) = ingest(&app, org, channel, mail.into_bytes()).await;

    let page = app.get_text(&conversation_path(conversation_id)).await;
    let source = regex::Regex::new(r#"<img src="(/attachments/\d+)" alt="parcel""#)
        .unwrap()
        .captures(&page)
        .map(|c| c[1].to_owned())
        .unwrap_or_else(|| panic!("the cid: image points at its attachment: {page}"));
    assert!(
        page.contains(r#"src="cid:not-attached@customer.test""#),
        "a cid: naming no attachment stays (it loads nothing)"
    );
    let image = app.get(&source).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(image.bytes().await.unwrap().to_vec(), png);
}

#[tokio::test]
async fn notes_never_create_outbox_rows_and_never_reach_the_smtp_server() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = new_conversation(&app, org, channel, 1).await;
    let path = conversation_path(id);

    let response = app
        .post_form(
            &path,
            &format!("{path}/notes"),
            &[("text", "Customer called, <VIP>")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).contains("flash=flash.note_added"));
    let empty = app
        .post_form(&path, &format!("{path}/notes"), &[("text", "   ")])
        .await;
    assert_eq!(empty.status(), 422);

    let note = message::Entity::find()
        .filter(message::Column::Direction.eq("note"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("note stored");
    assert!(note.message_id_header.starts_with("note."));
    assert!(note.message_id_header.ends_with("@lethe.invalid"));
    assert_eq!(app.count::<outbox::Entity>().await, 0);
    let outcome = lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert_eq!(outcome, Default::default());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(smtp.messages().is_empty(), "a note is never sent");
    let page = app.get_text(&path).await;
    assert!(page.contains("message-note"));
    assert!(page.contains(&escaped("Customer called, <VIP>")));
}

#[tokio::test]
async fn a_reply_is_sent_threaded_and_the_customers_answer_lands_in_the_same_conversation() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks_where_her_order_is(&app, org, channel, "cust-1@customer.test").await;
    let path = conversation_path(id);

    let response = app
        .post_form(
            &path,
            &format!("{path}/reply"),
            &[("text", "It is on its way."), ("then", "pending")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).contains("flash=flash.reply_queued"));
    // Queued means: the message and its outbox row are committed.
    let reply = message::Entity::find()
        .filter(message::Column::Direction.eq("outbound"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("reply stored");
    assert_eq!(reply.delivery_status.as_deref(), Some("queued"));
    let rows = outbox::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].message_id, reply.id);
    assert_eq!(app.conversation(id).await.status, "pending");
    assert!(app.get_text(&path).await.contains("Queued"));

    let outcome = lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert_eq!(outcome.sent, 1);
    let sent = smtp.wait_for(1).await.remove(0);
    let token = app.conversation(id).await.token;
    assert!(
        sent.contains("In-Reply-To: <cust-1@customer.test>"),
        "{sent}"
    );
    assert!(
        sent.contains("References: <cust-1@customer.test>"),
        "{sent}"
    );
    assert!(sent.contains(&format!("[#{token}]")), "{sent}");
    assert!(sent.contains("It is on its way."));
    let page = app.get_text(&path).await;
    assert!(page.contains("delivery-sent"));

    // The customer answers the reply: same conversation, reopened.
    let answer = text_mail(
        "Anna Berg <anna@customer.test>",
        "cust-2@customer.test",
        "Re: Where is my order",
        "Thanks!",
    )
    .header("In-Reply-To", &format!("<{}>", reply.message_id_header));
    let (answered, _) = ingest(&app, org, channel, answer).await;
    assert_eq!(answered, id);
    assert_eq!(app.conversation(id).await.status, "open");
    assert_eq!(app.count::<conversation::Entity>().await, 1);
}

#[tokio::test]
async fn a_reply_goes_to_the_customer_never_to_the_sender_of_a_bounce_or_auto_reply() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks_where_her_order_is(&app, org, channel, "anna-1@customer.test").await;
    // After her mail: her autoresponder, then a bounce, both threaded onto the conversation.
    let auto_reply = text_mail(
        "Anna's Office <out-of-office@customer.test>",
        "ooo-1@customer.test",
        "Abwesenheitsnotiz: Where is my order",
        "I am away until Monday.",
    )
    .header("In-Reply-To", "<anna-1@customer.test>")
    .header("Auto-Submitted", "auto-replied");
    assert_eq!(ingest(&app, org, channel, auto_reply).await.0, id);
    let bounce = text_mail(
        "Mail Delivery System <MAILER-DAEMON@mx.customer.test>",
        "bounce-1@mx.customer.test",
        "Undelivered Mail Returned to Sender",
        "This is the mail system. Your message could not be delivered.",
    )
    .header("In-Reply-To", "<anna-1@customer.test>")
    .header("Auto-Submitted", "auto-generated");
    assert_eq!(ingest(&app, org, channel, bounce).await.0, id);
    let kinds: Vec<String> = message::Entity::find()
        .filter(message::Column::ConversationId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k != "normal").count(),
        2,
        "{kinds:?}"
    );

    let path = conversation_path(id);
    app.post_form(
        &path,
        &format!("{path}/reply"),
        &[("text", "It left today.")],
    )
    .await;
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    let sent = smtp.wait_for(1).await.remove(0);
    assert!(sent.contains("To: anna@customer.test"), "{sent}");
    assert!(!sent.to_lowercase().contains("mailer-daemon"), "{sent}");
    assert!(!sent.contains("out-of-office@"), "{sent}");
}

#[tokio::test]
async fn a_conversation_of_automatic_mail_only_refuses_a_reply_with_a_clear_message() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let (id, _) = ingest(
        &app,
        org,
        channel,
        text_mail(
            "Mail Delivery System <MAILER-DAEMON@mx.elsewhere.test>",
            "bounce-2@mx.elsewhere.test",
            "Undelivered Mail Returned to Sender",
            "Your message could not be delivered.",
        )
        .header("Auto-Submitted", "auto-generated"),
    )
    .await;
    let path = conversation_path(id);
    let response = app
        .post_form(&path, &format!("{path}/reply"), &[("text", "Hello?")])
        .await;
    assert_eq!(response.status(), 409);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("a reply would answer a machine"),
        "the page says why"
    );
    assert_eq!(app.count::<outbox::Entity>().await, 0);
}

#[tokio::test]
async fn a_reply_queued_before_a_restriction_is_held_until_the_restriction_is_lifted() {
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = new_conversation(&app, org, channel, 1).await;
    let path = conversation_path(id);
    app.post_form(
        &path,
        &format!("{path}/reply"),
        &[("text", "Your refund is on its way")],
    )
    .await;
    let customer = format!("/customers/{}", app.conversation(id).await.customer_id);
    let restriction = format!("{customer}/restriction");
    app.post_form(
        &customer,
        &restriction,
        &[("reason", "The customer contests the accuracy of the data")],
    )
    .await;

    let now = Utc::now();
    let outcome = lethe::mail::outbound::run_once(&app.state, now)
        .await
        .unwrap();
    assert_eq!((outcome.held, outcome.sent), (1, 0));
    let later = lethe::mail::outbound::run_once(&app.state, now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        (later.held, later.sent),
        (1, 0),
        "still held while restricted"
    );
    assert!(smtp.messages().is_empty(), "nothing was sent");
    assert_eq!(
        app.count::<outbox::Entity>().await,
        1,
        "the reply is kept, not dropped"
    );

    app.post_form(&customer, &restriction, &[("lift", "1")])
        .await;
    let outcome = lethe::mail::outbound::run_once(&app.state, now + chrono::Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(outcome.sent, 1);
    let sent = smtp.wait_for(1).await;
    assert!(sent[0].contains("Your refund is on its way"));
}

#[tokio::test]
async fn with_the_smtp_server_down_a_reply_retries_shows_the_error_and_is_delivered_later() {
    let app = spawn_app().await;
    let mut smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = new_conversation(&app, org, channel, 1).await;
    let path = conversation_path(id);
    smtp.stop();

    app.post_form(&path, &format!("{path}/reply"), &[("text", "First answer")])
        .await;
    let now = Utc::now();
    let outcome = lethe::mail::outbound::run_once(&app.state, now)
        .await
        .unwrap();
    assert_eq!(outcome.retrying, 1);
    let reply = message::Entity::find()
        .filter(message::Column::Direction.eq("outbound"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.delivery_status.as_deref(), Some("retrying"));
    let error = reply
        .delivery_error
        .clone()
        .expect("the server's error is kept");
    assert_eq!(app.count::<outbox::Entity>().await, 1);
    let page = app.get_text(&path).await;
    assert!(page.contains("Retrying"));
    assert!(page.contains("delivery-error"));
    assert!(
        page.contains(&escaped(&error)),
        "the error is visible: {error}"
    );

    smtp.resume().await;
    let outcome = lethe::mail::outbound::run_once(&app.state, now + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(outcome.sent, 1);
    assert_eq!(smtp.wait_for(1).await.len(), 1);
    assert_eq!(app.count::<outbox::Entity>().await, 0);
}

#[tokio::test]
async fn a_failed_reply_can_be_retried_from_the_page() {
    let app = spawn_app().await;
    let mut smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = new_conversation(&app, org, channel, 1).await;
    let path = conversation_path(id);
    smtp.stop();
    app.post_form(&path, &format!("{path}/reply"), &[("text", "Answer")])
        .await;
    let mut at = Utc::now();
    for _ in 0..lethe::mail::outbound::MAX_ATTEMPTS {
        lethe::mail::outbound::run_once(&app.state, at)
            .await
            .unwrap();
        at += chrono::Duration::days(1);
    }
    let page = app.get_text(&path).await;
    assert!(page.contains("delivery-failed"));
    assert!(page.contains("Retry now"));
    let reply_id = message::Entity::find()
        .filter(message::Column::Direction.eq("outbound"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let response = app
        .post_form(&path, &format!("{path}/messages/{reply_id}/retry"), &[])
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).contains("flash=flash.retry_queued"));
    let queued = message::Entity::find_by_id(reply_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.delivery_status.as_deref(), Some("queued"));
    assert_eq!(
        queued.delivery_error, None,
        "the failed attempt's answer is not shown under a queued badge"
    );
    assert!(!app.get_text(&path).await.contains("delivery-error"));
    smtp.resume().await;
    let outcome = lethe::mail::outbound::run_once(&app.state, at)
        .await
        .unwrap();
    assert_eq!(outcome.sent, 1);
    smtp.wait_for(1).await;
}

#[tokio::test]
async fn a_reply_without_an_smtp_channel_or_text_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let id = new_conversation(&app, org, channel, 1).await;
    let path = conversation_path(id);
    let response = app
        .post_form(&path, &format!("{path}/reply"), &[("text", "Hello there")])
        .await;
    assert_eq!(response.status(), 409);
    let page = response.text().await.unwrap();
    assert!(page.contains("No channel can send mail"));
    assert!(page.contains("Settings → Channels"));
    assert!(page.contains("Hello there"), "the draft is kept");
    let response = app
        .post_form(&path, &format!("{path}/reply"), &[("text", "  ")])
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Please write a reply first.")
    );
    assert_eq!(app.count::<outbox::Entity>().await, 0);
}

#[tokio::test]
async fn canned_replies_fill_their_placeholders_into_the_reply_box() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let (id, _) = ingest(
        &app,
        org,
        channel,
        text_mail(
            "Anna Maria Berg <anna@customer.test>",
            "refund-1@customer.test",
            "Refund",
            "Money back please",
        ),
    )
    .await;
    let created = app
        .post_form(
            "/settings/canned-replies",
            "/settings/canned-replies",
            &[
                ("title", "Refund sent"),
                (
                    "body",
                    "Hello {customer_first_name} ({customer_name}), refund for [#{ticket}] is on its way. {agent_name}",
                ),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let canned = lethe::db::entity::canned_reply::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let invalid = app
        .post_form(
            "/settings/canned-replies",
            "/settings/canned-replies",
            &[("title", ""), ("body", "x")],
        )
        .await;
    assert_eq!(invalid.status(), 422);

    let token = app.conversation(id).await.token;
    let page = app
        .get_text(&format!("{}?canned={}", conversation_path(id), canned.id))
        .await;
    let expected =
        format!("Hello Anna (Anna Maria Berg), refund for [#{token}] is on its way. Test User");
    assert!(page.contains(&format!(">{expected}</textarea>")), "{page}");

    // Edit and delete.
    let edit = format!("/settings/canned-replies/{}", canned.id);
    let updated = app
        .post_form(
            &edit,
            &edit,
            &[("title", "Refund"), ("body", "Hi {customer_name}")],
        )
        .await;
    assert_eq!(updated.status(), 303);
    assert!(
        app.get_text("/settings/canned-replies")
            .await
            .contains("Hi {customer_name}")
    );
    let deleted = app.post_form(&edit, &format!("{edit}/delete"), &[]).await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(
        app.count::<lethe::db::entity::canned_reply::Entity>().await,
        0
    );

    // Agents use canned replies but do not manage them.
    app.create_user("agent@shop-a.test", "Shop A", "agent")
        .await;
    let agent = app.another_browser();
    agent.login("agent@shop-a.test").await;
    assert_eq!(agent.get("/settings/canned-replies").await.status(), 403);
}

#[tokio::test]
async fn status_assignee_and_tags_change_and_are_checked() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let id = new_conversation(&app, org, channel, 1).await;
    let path = conversation_path(id);

    app.post_form(&path, &format!("{path}/status"), &[("status", "closed")])
        .await;
    let closed = app.conversation(id).await;
    assert_eq!(closed.status, "closed");
    assert!(closed.closed_at.is_some());
    app.post_form(&path, &format!("{path}/status"), &[("status", "open")])
        .await;
    assert!(app.conversation(id).await.closed_at.is_none());
    let bad = app
        .post_form(&path, &format!("{path}/status"), &[("status", "deleted")])
        .await;
    assert_eq!(bad.status(), 400);

    // Someone outside the organization cannot be assigned.
    let outsider = app
        .create_user("other@shop-b.test", "Shop B", "owner")
        .await;
    let refused = app
        .post_form(
            &path,
            &format!("{path}/assignee"),
            &[("assignee", &outsider.to_string())],
        )
        .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(app.conversation(id).await.assignee_id, None);
    let agent = app
        .create_user("agent@shop-a.test", "Shop A", "agent")
        .await;
    app.post_form(
        &path,
        &format!("{path}/assignee"),
        &[("assignee", &agent.to_string())],
    )
    .await;
    assert_eq!(app.conversation(id).await.assignee_id, Some(agent));
    app.post_form(&path, &format!("{path}/assignee"), &[("assignee", "")])
        .await;
    assert_eq!(app.conversation(id).await.assignee_id, None);

    // Tags: added by name (twice is once), removed again.
    for _ in 0..2 {
        app.post_form(&path, &format!("{path}/tags"), &[("name", " Urgent ")])
            .await;
    }
    let tags = lethe::db::entity::tag::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].name, "Urgent");
    assert_eq!(
        app.count::<lethe::db::entity::conversation_tag::Entity>()
            .await,
        1
    );
    let removed = app
        .post_form(&path, &format!("{path}/tags/{}/remove", tags[0].id), &[])
        .await;
    assert_eq!(removed.status(), 303);
    assert_eq!(
        app.count::<lethe::db::entity::conversation_tag::Entity>()
            .await,
        0
    );
}

/// Reads the event stream until `needle` appears (or a few seconds pass); returns the text.
async fn read_stream_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !text.contains(needle) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    text
}

#[tokio::test]
async fn the_event_stream_carries_the_own_organizations_events_only() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    app.create_user("owner@shop-b.test", "Shop B", "owner")
        .await;
    let org_b = app.org_id("Shop B").await;
    let channel_b = self::channel(&app, org_b, None).await;

    let mut stream = app.get("/events").await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let other = new_conversation(&app, org_b, channel_b, 1).await;
    let own = new_conversation(&app, org, channel, 2).await;
    let needle = format!("\"conversation_id\":{own}}}");
    let text = read_stream_until(&mut stream, &needle).await;
    assert!(text.contains("event: conversation"), "{text}");
    assert!(text.contains(&needle), "{text}");
    assert!(
        !text.contains(&format!("\"conversation_id\":{other}}}")),
        "another organization's event leaked: {text}"
    );
    // Without a session the stream is not available.
    let anonymous = crate::helpers::browser_client()
        .get(app.url("/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
}

#[tokio::test]
async fn an_agent_of_another_organization_gets_404_for_every_inbox_url() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    // Organization A's data.
    let raw = "From: Anna <anna@customer.test>\r\nTo: support@shop-a.test\r\nSubject: Secret\r\n\
         Message-ID: <secret-1@customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nPrivate\r\n--b\r\n\
         Content-Type: application/pdf; name=\"a.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"a.pdf\"\r\n\r\nPDFDATA\r\n--b--\r\n";
    let (a_conversation, a_message) = ingest(&app, org, channel, raw.as_bytes().to_vec()).await;
    let a = app.conversation(a_conversation).await;
    let a_attachment = lethe::db::entity::attachment::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("attachment stored")
        .id;
    let path = conversation_path(a_conversation);
    app.post_form(&path, &format!("{path}/tags"), &[("name", "Secret")])
        .await;
    let a_tag = lethe::db::entity::tag::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    app.post_form(
        "/settings/canned-replies",
        "/settings/canned-replies",
        &[("title", "A"), ("body", "A's text")],
    )
    .await;
    let a_canned = lethe::db::entity::canned_reply::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;

    // An agent of organization B, with a conversation of B's own.
    app.create_user("owner@shop-b.test", "Shop B", "owner")
        .await;
    app.create_user("agent@shop-b.test", "Shop B", "agent")
        .await;
    let org_b = app.org_id("Shop B").await;
    let channel_b = self::channel(&app, org_b, None).await;
    let b_conversation = new_conversation(&app, org_b, channel_b, 9).await;
    let b = app.another_browser();
    b.login("agent@shop-b.test").await;
    let csrf = csrf_of(&b.get_text("/inbox").await);

    for url in [
        format!("/conversations/{a_conversation}"),
        format!("/conversations/{a_conversation}?remote_images={a_message}"),
        format!("/customers/{}", a.customer_id),
        format!("/attachments/{a_attachment}"),
        format!("/settings/canned-replies/{a_canned}"),
        format!("/conversations/{b_conversation}?canned={a_canned}"),
    ] {
        assert_eq!(b.get(&url).await.status(), 404, "GET {url}");
    }
    let fields = [
        ("text", "intrusion"),
        ("then", ""),
        ("status", "closed"),
        ("assignee", ""),
        ("name", "hacked"),
        ("title", "hacked"),
        ("body", "hacked"),
    ];
    for url in [
        format!("/conversations/{a_conversation}/reply"),
        format!("/conversations/{a_conversation}/notes"),
        format!("/conversations/{a_conversation}/status"),
        format!("/conversations/{a_conversation}/assignee"),
        format!("/conversations/{a_conversation}/tags"),
        format!("/conversations/{a_conversation}/tags/{a_tag}/remove"),
        format!("/conversations/{b_conversation}/tags/{a_tag}/remove"),
        format!("/conversations/{a_conversation}/messages/{a_message}/retry"),
        format!("/conversations/{b_conversation}/messages/{a_message}/retry"),
        format!("/settings/canned-replies/{a_canned}"),
        format!("/settings/canned-replies/{a_canned}/delete"),
    ] {
        let response = b.post_with_csrf(&url, &csrf, &fields).await;
        assert_eq!(response.status(), 404, "POST {url}");
    }
    // Nothing of organization A changed.
    let after = app.conversation(a_conversation).await;
    assert_eq!(after, a);
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::ConversationId.eq(a_conversation))
            .count(&app.state.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        lethe::db::entity::canned_reply::Entity::find_by_id(a_canned)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .body,
        "A's text"
    );
    assert_eq!(
        app.count::<lethe::db::entity::conversation_tag::Entity>()
            .await,
        1
    );
    // And B's inbox does not list A's conversation.
    assert_eq!(listed(&b.get_text("/inbox").await), vec![b_conversation]);
}
