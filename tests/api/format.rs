//! Formatted replies, signatures and forwarding a whole conversation (issue 14): Markdown sent
//! as `multipart/alternative` (inside `multipart/mixed` with files) through the real SMTP
//! recorder and read back by Python's `email` package; the preview without JavaScript; agent
//! and channel signatures with placeholders; an outside party's answer to a forward kept for
//! agents only; the 25 MB limit per message; the customer page's "Write to this customer".

use chrono::Utc;
use lethe::db::entity::{customer, message, outbox};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::compose::{
    Part, anna_asks, binary_file, blob_files, input_value, post_multipart, sha256_hex, shop,
    text_mail,
};
use crate::helpers::{TestApp, arriving, csrf_of, location, mail, spawn_app};
use crate::smtp::SmtpRecorder;

/// The recorded mail as Python's `email` package reads it: the content type of every part in
/// walk order, the headers, the text and HTML parts, and each attachment's name, type and
/// SHA-256.
fn parsed(raw: &str) -> serde_json::Value {
    let script = r#"
import email, email.policy, hashlib, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
out = {"types": [p.get_content_type() for p in m.walk()], "files": [], "text": None,
       "html": None, "headers": {k.lower(): str(v) for k, v in m.items()},
       "alternative_children": None}
for p in m.walk():
    if p.get_content_type() == "multipart/alternative":
        out["alternative_children"] = [c.get_content_type() for c in p.iter_parts()]
    if p.get_content_disposition() == "attachment":
        data = p.get_payload(decode=True)
        out["files"].append([p.get_filename(), p.get_content_type(), hashlib.sha256(data).hexdigest()])
    elif p.get_content_type() == "text/plain" and out["text"] is None:
        out["text"] = p.get_content()
    elif p.get_content_type() == "text/html" and out["html"] is None:
        out["html"] = p.get_content()
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

/// Saves the signed-in agent's signature on `/account`.
async fn set_agent_signature(app: &TestApp, signature: &str) {
    let response = app
        .post_form(
            "/account",
            "/account/signature",
            &[("signature", signature)],
        )
        .await;
    assert_eq!(response.status(), 303);
}

/// Saves a channel's signature and where the agent's goes.
async fn set_channel_signature(app: &TestApp, channel: i64, signature: &str, placement: &str) {
    let page = format!("/settings/channels/{channel}");
    let response = app
        .post_form(
            &page,
            &format!("{page}/signature"),
            &[("signature", signature), ("agent_signature", placement)],
        )
        .await;
    assert_eq!(response.status(), 303);
}

const MARKDOWN: &str = "Hello **Anna**, _sorry_ for the wait.\n\n- the label\n- the invoice\n\n> your words\n\nTrack it [here](https://courier.test/track).\n\n<script>alert('x')</script>";

#[tokio::test]
async fn a_formatted_reply_with_two_files_cc_and_bcc_is_mixed_over_alternative_and_keeps_no_script()
{
    // Arrange: signatures with placeholders; Anna's question.
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    set_agent_signature(&app, "{agent_name}, your helper").await;
    set_channel_signature(&app, channel, "{shop_name} customer care", "below").await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let question_id = message::Entity::find()
        .filter(message::Column::ConversationId.eq(id))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .message_id_header;
    let path = format!("/conversations/{id}");
    let label = binary_file("return-label");
    let invoice = "Rechnung 4711\nÄrger über Umlaute\n".as_bytes().to_vec();

    // Act
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", MARKDOWN),
            Part::Text("to", "anna@customer.test"),
            Part::Text("cc", "Courier Desk <desk@courier.test>"),
            Part::Text("bcc", "owner@private-mail.test"),
            Part::File("files", "label.pdf", "application/pdf", &label),
            Part::File("files", "rechnung.txt", "text/plain", &invoice),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let outcome = lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert_eq!(outcome.sent, 1);
    let sent = smtp.wait_for(1).await.remove(0);
    let mail = parsed(&sent);

    // Assert: the structure.
    assert_eq!(
        mail["types"],
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
    assert_eq!(
        mail["alternative_children"],
        serde_json::json!(["text/plain", "text/html"])
    );
    // Files byte for byte.
    assert_eq!(
        mail["files"],
        serde_json::json!([
            ["label.pdf", "application/pdf", sha256_hex(&label)],
            ["rechnung.txt", "text/plain", sha256_hex(&invoice)],
        ])
    );
    // Headers: Cc yes, Bcc only in the envelope, threaded on Anna's mail.
    let headers = &mail["headers"];
    assert_eq!(headers["cc"], "desk@courier.test");
    assert!(headers.get("bcc").is_none(), "{sent}");
    let without_envelope: String = sent
        .lines()
        .filter(|l| !l.starts_with("X-Recorded-Rcpt"))
        .collect();
    assert!(!without_envelope.contains("owner@private-mail.test"));
    assert!(
        headers["x-recorded-rcpt"]
            .as_str()
            .unwrap()
            .contains("owner@private-mail.test")
    );
    assert_eq!(headers["in-reply-to"], format!("<{question_id}>"));
    assert!(
        headers["references"]
            .as_str()
            .unwrap()
            .contains(&format!("<{question_id}>"))
    );
    let token = app.conversation(id).await.token;
    assert!(
        headers["subject"]
            .as_str()
            .unwrap()
            .contains(&format!("[#{token}]"))
    );
    // The text part: the Markdown as typed, the signatures filled, Anna's mail quoted.
    let text = mail["text"].as_str().unwrap().replace("\r\n", "\n");
    assert!(text.starts_with("Hello **Anna**"), "{text}");
    assert!(
        text.contains("-- \nShop A customer care\nTest User, your helper"),
        "{text}"
    );
    assert!(text.contains(" wrote:\n> It did not arrive."), "{text}");
    // The HTML part: formatted, sanitized, the quote in a block mail clients fold.
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("<strong>Anna</strong>"), "{html}");
    assert!(html.contains("<em>sorry</em>"), "{html}");
    assert!(html.contains("<li>the label</li>"), "{html}");
    assert!(html.contains("<blockquote>"), "{html}");
    assert!(
        html.contains("href=\"https://courier.test/track\""),
        "{html}"
    );
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(html.contains("Shop A customer care"), "{html}");
    assert!(html.contains("class=\"gmail_quote\""), "{html}");
    assert!(html.contains("It did not arrive."), "{html}");

    // The agents' page shows the formatted reply, without the script.
    let page = app.get_text(&path).await;
    assert!(page.contains("<strong>Anna</strong>"), "{page}");
    assert!(!page.contains("<script>alert"), "{page}");
}

#[tokio::test]
async fn the_preview_button_renders_the_reply_without_javascript_and_keeps_what_was_typed() {
    // Arrange
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    set_agent_signature(&app, "{agent_name} at {shop_name}").await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    let page = app.get_text(&path).await;
    assert!(
        page.contains(r#"name="preview""#),
        "a plain submit button, no script"
    );

    // Act: the Preview button of the form.
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", "Your **parcel** left today.\n<script>x()</script>"),
            Part::Text("to", "anna@customer.test"),
            Part::Text("cc", "desk@courier.test"),
            Part::Text("bcc", "owner@private-mail.test"),
            Part::Text("preview", "1"),
        ],
    )
    .await;

    // Assert: rendered server-side, the form as typed, nothing stored or sent.
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("reply-preview"), "{page}");
    assert!(page.contains("<strong>parcel</strong>"), "{page}");
    assert!(
        page.contains("Test User at Shop A"),
        "signature filled: {page}"
    );
    assert!(!page.contains("<script>x()"), "{page}");
    assert!(
        page.contains("Your **parcel** left today."),
        "the typed text stays in the box"
    );
    assert_eq!(input_value(&page, "reply-cc"), "desk@courier.test");
    assert_eq!(input_value(&page, "reply-bcc"), "owner@private-mail.test");
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::Direction.eq("outbound"))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(app.count::<outbox::Entity>().await, 0);
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn signatures_are_filled_and_placed_as_the_channel_says() {
    // Arrange: a channel that can send (the signature is the sending channel's).
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    set_agent_signature(&app, "{agent_name}").await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    let position = |page: &str, needle: &str| page.find(needle).unwrap_or(usize::MAX);

    for (placement, agent_first, agent_shown) in [
        ("below", false, true),
        ("above", true, true),
        ("none", false, false),
    ] {
        // Act
        set_channel_signature(&app, channel, "{shop_name} team", placement).await;
        let page = post_multipart(
            &app,
            &path,
            &format!("{path}/reply"),
            &[Part::Text("text", "Hi"), Part::Text("preview", "1")],
        )
        .await
        .text()
        .await
        .unwrap();

        // Assert: within the preview.
        let start = page.find("reply-preview").expect("a preview");
        let preview = &page[start..];
        let preview = &preview[..preview.find("</section>").expect("its end")];
        let shop = position(preview, "Shop A team");
        let agent = position(preview, "Test User");
        assert!(shop != usize::MAX, "{placement}: {preview}");
        assert_eq!(agent != usize::MAX, agent_shown, "{placement}");
        if agent_shown {
            assert_eq!(agent < shop, agent_first, "{placement}");
        }
    }
    // A bad placement or a too long signature is refused.
    let page = format!("/settings/channels/{channel}");
    let response = app
        .post_form(
            &page,
            &format!("{page}/signature"),
            &[("signature", "x"), ("agent_signature", "sideways")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let long = "x".repeat(2_001);
    let response = app
        .post_form("/account", "/account/signature", &[("signature", &long)])
        .await;
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn a_forwarded_conversations_answer_threads_back_for_agents_only() {
    // Arrange: Anna's mail with a photo, the shop's answer with a file.
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let photo = binary_file("broken-lid");
    let question = text_mail(
        "Anna Berg <anna@customer.test>",
        "whole-1@customer.test",
        "Broken lid",
        "The lid of the kettle is broken.",
    )
    .attachment("image/jpeg", "lid.jpg", &photo);
    let (id, _) = app.ingest(arriving(org, Some(channel)), question).await;
    let path = format!("/conversations/{id}");
    let manual = binary_file("manual");
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", "We asked the maker."),
            Part::File("files", "manual.pdf", "application/pdf", &manual),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    smtp.wait_for(1).await;
    let customers_before = app.count::<customer::Entity>().await;

    // Act 1: forward the whole conversation with a note.
    let response = app
        .post_form(
            &path,
            &format!("{path}/forward"),
            &[
                ("to", "Maker QA <qa@maker.test>"),
                ("note", "Could you replace the lid?"),
            ],
        )
        .await;

    // Assert 1: recorded as a forward, sent with both files and both messages.
    assert_eq!(response.status(), 303);
    assert!(location(&response).contains("flash=flash.forward_queued"));
    let forward = message::Entity::find()
        .filter(message::Column::Kind.eq("forward"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("forward recorded");
    assert_eq!(forward.conversation_id, id);
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    let sent = smtp.wait_for(2).await.remove(1);
    let forwarded = parsed(&sent);
    let token = app.conversation(id).await.token;
    assert_eq!(
        forwarded["headers"]["subject"],
        format!("Fwd: Broken lid [#{token}]")
    );
    assert_eq!(forwarded["headers"]["x-recorded-rcpt"], "qa@maker.test");
    let text = forwarded["text"].as_str().unwrap();
    assert!(text.starts_with("Could you replace the lid?"), "{text}");
    assert!(text.contains("The lid of the kettle is broken."), "{text}");
    assert!(text.contains("We asked the maker."), "{text}");
    assert_eq!(
        forwarded["files"],
        serde_json::json!([
            ["lid.jpg", "image/jpeg", sha256_hex(&photo)],
            ["manual.pdf", "application/pdf", sha256_hex(&manual)],
        ])
    );
    let forward_id = forwarded["headers"]["message-id"]
        .as_str()
        .unwrap()
        .trim_matches(['<', '>'])
        .to_owned();

    // Act 2: the maker answers the forward; later writes again with only the tag.
    let answer = mail(
        "Maker QA <qa@maker.test>",
        "maker-1@maker.test",
        &format!("Re: Fwd: Broken lid [#{token}]"),
        "A new lid ships Monday; the old one was a bad batch.",
    )
    .to("support@shop-a.test")
    .in_reply_to(&forward_id);
    let (answer_conversation, answer_id) = app.ingest(arriving(org, Some(channel)), answer).await;
    let again = mail(
        "qa@maker.test",
        "maker-2@maker.test",
        &format!("Lid [#{token}]"),
        "Tracking number follows.",
    )
    .to("support@shop-a.test");
    let (_, again_id) = app.ingest(arriving(org, Some(channel)), again).await;

    // Assert 2: in the conversation, as notes for the team, not as customer mail.
    assert_eq!(answer_conversation, id);
    for message_id in [answer_id, again_id] {
        let stored = message::Entity::find_by_id(message_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.conversation_id, id);
        assert_eq!(stored.direction, "note");
        assert_eq!(stored.kind, "forward_answer");
    }
    assert_eq!(
        app.count::<customer::Entity>().await,
        customers_before,
        "the maker is not made a customer"
    );
    let page = app.get_text(&path).await;
    assert!(page.contains("Answer to a forward"), "{page}");
    assert!(page.contains("A new lid ships Monday"), "{page}");
    // The reply box still answers Anna, and the reply goes to her, threaded on her mail,
    // quoting nothing of the maker's.
    assert_eq!(input_value(&page, "reply-to"), "anna@customer.test");
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
    let reply = smtp.wait_for(3).await.remove(2);
    let reply = parsed(&reply);
    assert_eq!(reply["headers"]["to"], "anna@customer.test");
    assert_ne!(reply["headers"]["in-reply-to"], "<maker-1@maker.test>");
    assert_ne!(reply["headers"]["in-reply-to"], "<maker-2@maker.test>");
    for part in ["text", "html"] {
        let body = reply[part].as_str().unwrap();
        assert!(!body.contains("bad batch"), "{body}");
        assert!(!body.contains("Tracking number"), "{body}");
    }
    assert_eq!(smtp.messages().len(), 3, "nothing else was sent");
}

#[tokio::test]
async fn a_message_over_25_mb_in_total_is_refused_and_the_typed_text_is_kept() {
    // Arrange: three files of 9 MB, each within the per-file limit, 27 MB together.
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let path = format!("/conversations/{id}");
    let nine = vec![b'z'; 9 * 1024 * 1024];
    let before = blob_files(&app);

    // Act
    let response = post_multipart(
        &app,
        &path,
        &format!("{path}/reply"),
        &[
            Part::Text("text", "All the scans, **attached**."),
            Part::Text("cc", "desk@courier.test"),
            Part::File("files", "scan-1.pdf", "application/pdf", &nine),
            Part::File("files", "scan-2.pdf", "application/pdf", &nine),
            Part::File("files", "scan-3.pdf", "application/pdf", &nine),
        ],
    )
    .await;

    // Assert: a clear message naming the limit, the text and Cc kept, nothing stored.
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("All the scans, **attached**."), "{page}");
    assert!(page.contains("25.0 MB"), "the limit is named: {page}");
    assert!(page.contains("allowed for one message"), "{page}");
    assert!(page.contains("attach the files again"), "{page}");
    assert_eq!(input_value(&page, "reply-cc"), "desk@courier.test");
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
async fn the_customer_page_offers_to_write_to_the_customer_with_the_address_filled_in() {
    // Arrange: a channel that can send.
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let customer_id = app.conversation(id).await.customer_id;

    // Act
    let page = app.get_text(&format!("/customers/{customer_id}")).await;

    // Assert
    let link = regex::Regex::new(r#"href="(/conversations/new\?to=[^"]+)"[^>]*write-to-customer"#)
        .unwrap()
        .captures(&page)
        .map(|c| c[1].replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("no link: {page}"));
    let form = app.get_text(&link).await;
    assert!(csrf_of(&form).len() > 10, "{link}: {form}");
    assert!(form.contains(r#"id="new-to""#), "{link}: {form}");
    assert_eq!(input_value(&form, "new-to"), "anna@customer.test");
}

#[tokio::test]
async fn a_canned_reply_is_inserted_at_the_cursor_without_a_reload_in_a_real_browser() {
    use crate::browser::Browser;
    use serde_json::json;
    // Arrange: a canned reply; the agent has started typing in a real browser.
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let id = anna_asks(&app, org, channel, "Anna Berg <anna@customer.test>").await;
    let created = app
        .post_form(
            "/settings/canned-replies",
            "/settings/canned-replies",
            &[
                ("title", "Label"),
                ("body", "Your label is attached, {customer_first_name}."),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let browser = Browser::start().await;
    browser.sign_in(&app, "owner@shop-a.test").await;
    browser
        .goto(&app.url(&format!("/conversations/{id}")))
        .await;
    browser
        .wait_until("the conversation", |_, page| page.contains("reply-text"))
        .await;
    browser.type_into("#reply-text", "Dear Anna, ").await;
    let script = |code: &str| json!({ "script": code, "args": [] });
    // A mark on this page: it is gone if the page reloads.
    browser
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(script("window.letheMark = 'same page'; return true;")),
        )
        .await;

    // Act
    browser
        .click("form.canned-insert button[type=submit]")
        .await;

    // Assert: the canned text follows what was typed, on the same page.
    let mut value = String::new();
    for _ in 0..100 {
        value = browser
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(script(
                    "return document.getElementById('reply-text').value;",
                )),
            )
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if value.contains("label is attached") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(value, "Dear Anna, Your label is attached, Anna.");
    let mark = browser
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(script("return window.letheMark || null;")),
        )
        .await;
    assert_eq!(mark, json!("same page"), "no reload");
    assert!(!browser.current_url().await.contains("canned="));
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "the browser reported errors (CSP?): {errors:?}"
    );
    browser.quit().await;
}

#[tokio::test]
async fn a_new_conversation_is_formatted_and_signed_and_quotes_nothing() {
    // Arrange
    let app = spawn_app().await;
    let smtp = SmtpRecorder::start().await;
    let (_, channel) = shop(&app, Some(smtp.port)).await;
    set_channel_signature(&app, channel, "{agent_name} for {shop_name}", "none").await;

    // Act
    let response = post_multipart(
        &app,
        "/conversations/new",
        "/conversations/new",
        &[
            Part::Text("channel", &channel.to_string()),
            Part::Text("to", "dora@customer.test"),
            Part::Text("subject", "Your warranty claim"),
            Part::Text("text", "Your kettle is **repaired**."),
        ],
    )
    .await;

    // Assert
    assert_eq!(response.status(), 303);
    lethe::mail::outbound::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    let sent = smtp.wait_for(1).await.remove(0);
    let mail = parsed(&sent);
    assert_eq!(
        mail["types"],
        serde_json::json!(["multipart/alternative", "text/plain", "text/html"]),
        "{sent}"
    );
    let text = mail["text"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(
        text.trim_end(),
        "Your kettle is **repaired**.\n\n-- \nTest User for Shop A"
    );
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("<strong>repaired</strong>"), "{html}");
    assert!(html.contains("Test User for Shop A"), "{html}");
    assert!(!html.contains("gmail_quote"), "nothing to quote: {html}");
}
