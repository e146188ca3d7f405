//! Tests of [`super::parse`] on small synthetic messages.

use super::*;

fn ok(raw: &str) -> ParsedMail {
    match parse(raw.as_bytes(), &Limits::default()) {
        Ok(mail) => mail,
        Err(e) => panic!("rejected: {e}"),
    }
}

const SIMPLE: &str = "From: Anna <Anna@Example.DE>\r\n\
To: shop@example.com, \"Bob\" <BOB@example.com>, not-an-address\r\n\
Cc: c@example.com\r\n\
Reply-To: replies@example.de\r\n\
Subject: Re: [#K7F3A] Lieferung\r\n\
Message-ID: <abc.123@example.de>\r\n\
In-Reply-To: <x1@shop.example>\r\n\
References: <x0@shop.example> <x1@shop.example>\r\n\
Date: Tue, 01 Oct 2024 10:00:00 +0200\r\n\
\r\n\
Hallo!\r\n";

#[test]
fn simple_message_fields_are_extracted() {
    let mail = ok(SIMPLE);
    assert_eq!(mail.message_id, "abc.123@example.de");
    assert_eq!(mail.in_reply_to, vec!["x1@shop.example"]);
    assert_eq!(mail.references, vec!["x0@shop.example", "x1@shop.example"]);
    assert_eq!(mail.subject, "Re: [#K7F3A] Lieferung");
    assert_eq!(mail.conversation_token.as_deref(), Some("K7F3A"));
    assert_eq!(mail.from.address, "anna@example.de");
    assert_eq!(mail.from.name.as_deref(), Some("Anna"));
    let to: Vec<_> = mail.to.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(to, vec!["shop@example.com", "bob@example.com"]);
    assert_eq!(mail.cc.len(), 1);
    assert_eq!(
        mail.reply_to.map(|m| m.address).as_deref(),
        Some("replies@example.de")
    );
    assert_eq!(
        mail.date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-10-01T08:00:00+00:00")
    );
    assert_eq!(mail.text, "Hallo!");
    assert_eq!(mail.html, None);
    assert_eq!(mail.kind, MailKind::Normal);
    assert!(mail.notes.is_empty(), "{:?}", mail.notes);
}

#[test]
fn missing_message_id_gets_a_stable_synthetic_one() {
    let raw = "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n";
    let first = ok(raw).message_id;
    let second = ok(raw).message_id;
    assert_eq!(first, second);
    assert!(first.starts_with("synthetic-") && first.ends_with("@lethe.invalid"));
    assert_eq!(
        first.len(),
        "synthetic-".len() + 32 + "@lethe.invalid".len()
    );
    let other = ok("From: a@example.com\r\nSubject: y\r\n\r\nbody\r\n").message_id;
    assert_ne!(first, other);
    let expected = hex::encode(Sha256::digest(raw.as_bytes()));
    assert_eq!(
        first,
        format!("synthetic-{}@lethe.invalid", &expected[..32])
    );
}

#[test]
fn message_id_angle_brackets_are_stripped() {
    let mail = ok("From: a@example.com\r\nMessage-ID:   <id-1@host>  \r\n\r\nx\r\n");
    assert_eq!(mail.message_id, "id-1@host");
}

#[test]
fn encoded_word_subjects_are_decoded() {
    let cases = [
        ("=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "Grüße aus Köln"),
        (
            "=?utf-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=",
            "Grüße aus Köln",
        ),
        ("=?ISO-8859-1?Q?Commande_re=E7ue?=", "Commande reçue"),
        ("=?iso-8859-1?B?Q29tbWFuZGUgcmXndWU=?=", "Commande reçue"),
        (
            "Re: =?UTF-8?Q?Bestellung_?=\r\n =?UTF-8?Q?Nr._42_=E2=82=AC?=",
            "Re: Bestellung Nr. 42 €",
        ),
    ];
    for (encoded, expected) in cases {
        let mail = ok(&format!(
            "From: a@example.com\r\nSubject: {encoded}\r\n\r\nx\r\n"
        ));
        assert_eq!(mail.subject, expected, "{encoded}");
    }
    assert_eq!(ok("From: a@example.com\r\n\r\nx\r\n").subject, "");
}

const ALTERNATIVE: &str = "From: a@example.com\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Plain version\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p onclick=\"x()\">HTML <b>version</b></p><script>bad()</script><img src=\"https://t.example/p.gif\">\r\n\
--b1--\r\n";

#[test]
fn multipart_alternative_gives_text_and_sanitized_html() {
    let mail = ok(ALTERNATIVE);
    assert_eq!(mail.text, "Plain version");
    let html = mail.html.unwrap_or_default();
    assert!(html.contains("<b>version</b>"), "{html}");
    assert!(
        !html.contains("script") && !html.contains("onclick"),
        "{html}"
    );
    assert!(
        html.contains("data-remote-src=\"https://t.example/p.gif\""),
        "{html}"
    );
    assert!(!html.contains(" src="), "{html}");
    assert!(mail.attachments.is_empty());
}

#[test]
fn html_only_message_gets_derived_text_with_paragraphs() {
    let mail = ok(
        "From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Hello &amp; welcome</p><p>Second&nbsp;paragraph</p><script>x()</script></body></html>\r\n",
    );
    assert!(mail.html.is_some());
    assert!(!mail.text.contains('<'), "{:?}", mail.text);
    assert!(mail.text.contains("Hello & welcome"), "{:?}", mail.text);
    assert!(
        mail.text.contains("\n"),
        "paragraph break lost: {:?}",
        mail.text
    );
    assert!(mail.text.contains("Second"), "{:?}", mail.text);
}

const MIXED: &str = "From: a@example.com\r\n\
Content-Type: multipart/mixed; boundary=\"m\"\r\n\
\r\n\
--m\r\n\
Content-Type: multipart/related; boundary=\"r\"\r\n\
\r\n\
--r\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>See <img src=\"cid:logo@shop\"></p>\r\n\
--r\r\n\
Content-Type: image/png\r\n\
Content-ID: <logo@shop>\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--r--\r\n\
--m\r\n\
Content-Type: application/pdf; name=\"ignored.pdf\"\r\n\
Content-Disposition: attachment; filename=\"../../Rechnung 42.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQ=\r\n\
--m\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment\r\n\
\r\n\
raw\r\n\
--m--\r\n";

#[test]
fn mixed_message_with_attachment_and_inline_image() {
    let mail = ok(MIXED);
    let html = mail.html.clone().unwrap_or_default();
    assert!(html.contains("src=\"cid:logo@shop\""), "{html}");
    assert!(mail.text.contains("See"), "{:?}", mail.text);
    assert_eq!(mail.attachments.len(), 3, "{:?}", mail.attachments);

    let image = &mail.attachments[0];
    assert_eq!(image.content_id.as_deref(), Some("logo@shop"));
    assert_eq!(image.content_type, "image/png");
    assert!(image.inline);
    assert_eq!(image.filename, "attachment-1");
    assert_eq!(image.data, b"\x89PNG\r\n\x1a\n");

    let pdf = &mail.attachments[1];
    assert_eq!(pdf.filename, "Rechnung 42.pdf");
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(!pdf.inline);
    assert_eq!(pdf.data, b"%PDF-1.4");

    assert_eq!(mail.attachments[2].filename, "attachment-3");
}

#[test]
fn oversized_attachment_becomes_a_note() {
    let limits = Limits {
        max_message_bytes: 1024 * 1024,
        max_attachment_bytes: 4,
    };
    let mail = parse(MIXED.as_bytes(), &limits).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = mail
        .attachments
        .iter()
        .map(|a| a.filename.as_str())
        .collect();
    assert_eq!(names, vec!["attachment-3"]);
    assert!(
        mail.notes.contains(
            &"Attachment 'Rechnung 42.pdf' (8 bytes) exceeded the 4 bytes limit and was not stored"
                .to_owned()
        ),
        "{:?}",
        mail.notes
    );
}

fn kind_of(headers: &str) -> MailKind {
    ok(&format!("From: shop@example.com\r\n{headers}\r\n\r\nx\r\n")).kind
}

#[test]
fn auto_replies_are_detected() {
    assert_eq!(kind_of("Auto-Submitted: auto-replied"), MailKind::AutoReply);
    assert_eq!(kind_of("Auto-Submitted: no"), MailKind::Normal);
    assert_eq!(kind_of("X-Autoreply: yes"), MailKind::AutoReply);
    assert_eq!(kind_of("X-Autorespond: Out of office"), MailKind::AutoReply);
}

#[test]
fn bulk_mail_is_detected() {
    assert_eq!(kind_of("Precedence: bulk"), MailKind::Bulk);
    assert_eq!(kind_of("Precedence: junk"), MailKind::Bulk);
    assert_eq!(kind_of("Precedence: list"), MailKind::Bulk);
    assert_eq!(kind_of("List-Id: <news.example.com>"), MailKind::Bulk);
    assert_eq!(
        kind_of("List-Unsubscribe: <mailto:u@example.com>"),
        MailKind::Bulk
    );
    assert_eq!(kind_of("Precedence: first-class"), MailKind::Normal);
}

#[test]
fn bounces_are_detected() {
    let report = ok("From: mail-system@example.com\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"x\"\r\n\r\n\
--x\r\nContent-Type: text/plain\r\n\r\nDelivery failed\r\n\
--x\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; a@b.c\r\nAction: failed\r\n\
--x--\r\n");
    assert_eq!(report.kind, MailKind::Bounce);
    let daemon = ok(
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>\r\nAuto-Submitted: auto-replied\r\n\r\nx\r\n",
    );
    assert_eq!(daemon.kind, MailKind::Bounce);
    assert_eq!(
        ok("From: postmaster@example.com\r\n\r\nx\r\n").kind,
        MailKind::Bounce
    );
}

#[test]
fn rejection_reasons() {
    let limits = Limits::default();
    assert_eq!(parse(b"", &limits), Err(RejectReason::Empty));
    assert_eq!(parse(b" \r\n\t", &limits), Err(RejectReason::Empty));
    let small = Limits {
        max_message_bytes: 10,
        max_attachment_bytes: 10,
    };
    assert_eq!(
        parse(SIMPLE.as_bytes(), &small),
        Err(RejectReason::TooLarge {
            bytes: SIMPLE.len(),
            limit: 10
        })
    );
    for garbage in [
        &b"{\"from\": \"a@example.com\", \"subject\": \"hi\"}"[..],
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\x00\x01\x02\x03\xff\xfe",
        b"<html><body>From: a@example.com</body></html>",
        b"just some text\nwithout headers\n",
    ] {
        assert!(
            matches!(parse(garbage, &limits), Err(RejectReason::NotAMessage(_))),
            "{:?}",
            String::from_utf8_lossy(garbage)
        );
    }
    assert_eq!(
        parse(b"Subject: hi\r\nTo: a@example.com\r\n\r\nx", &limits),
        Err(RejectReason::NoSender)
    );
    assert_eq!(
        parse(b"From: not an address\r\nReturn-Path: <>\r\n\r\nx", &limits),
        Err(RejectReason::NoSender)
    );
}

#[test]
fn sender_and_return_path_are_fallbacks_for_from() {
    let mail = ok("Sender: Agent <agent@example.com>\r\nSubject: x\r\n\r\nx");
    assert_eq!(mail.from.address, "agent@example.com");
    let mail = ok("Return-Path: <Bounce@Example.com>\r\nSubject: x\r\n\r\nx");
    assert_eq!(mail.from.address, "bounce@example.com");
}

#[test]
fn reject_reasons_do_not_contain_personal_data() {
    let raw = b"Subject: Anna Mueller anna@example.de\r\nTo: anna@example.de\r\n\r\nsecret";
    let err = parse(raw, &Limits::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(!err.is_empty());
    assert!(
        !err.contains("anna") && !err.contains("Anna") && !err.contains("secret"),
        "{err}"
    );
    let json = br#"{"email": "anna@example.de"}"#;
    let err = parse(json, &Limits::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("this is not an email message"), "{err}");
    assert!(!err.contains("anna"), "{err}");
}

#[test]
fn leading_mbox_from_line_is_tolerated() {
    let mail = ok(
        "From someone@example.com Thu Aug 22 13:17:22 2002\nFrom: a@example.com\nSubject: hi\n\nbody\n",
    );
    assert_eq!(mail.from.address, "a@example.com");
    assert_eq!(mail.subject, "hi");
}

#[test]
fn malformed_mime_is_accepted_best_effort() {
    let broken = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"nope\"\r\n\r\n--other\r\nContent-Type: text/plain\r\n\r\nstill readable\r\n";
    assert!(ok(broken).text.contains("still readable"));
    let bad_charset = "From: a@example.com\r\nContent-Type: text/plain; charset=x-unknown-42\r\n\r\nplain ascii\r\n";
    assert!(ok(bad_charset).text.contains("plain ascii"));
    let bad_base64 = "From: a@example.com\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n";
    let mail = ok(bad_base64);
    assert!(!mail.notes.is_empty() || !mail.text.is_empty(), "{mail:?}");
}
