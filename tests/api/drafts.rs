//! Issue 14, "not losing work, not colliding": reply drafts kept on the server (restored after a
//! restart, deleted when sent, exported, erased, anonymized, kept by retention), undo send (the
//! SMTP server never sees an undone reply), and two agents on one conversation (presence in
//! real browsers; the server asks once before a reply crosses a newer customer message).

use std::process::Stdio;

use chrono::{Duration, Utc};
use lethe::db::entity::{draft, message, outbox, user, webhook_delivery};
use lethe::orgs::OrgId;
use lethe::retention::{Action, Category};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::browser::Browser;
use crate::helpers::{
    AppOptions, PASSWORD, TestApp, arriving, browser_client, channel_form, csrf_of,
    fresh_database_url, json_of, lethe_command, location, mail, post_form_with, spawn_app,
    spawn_app_with, spawn_with_input, test_tmp_root, text_of, traces, unique_suffix,
};
use crate::smtp::SmtpRecorder;

/// Shop's owner, signed in, with a mail channel (sending to `smtp_port` if given).
async fn shop(app: &TestApp, smtp_port: Option<u16>) -> (OrgId, i64) {
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let channel = app
        .email_channel(org, "Support", "support@shop.test", smtp_port)
        .await
        .0;
    app.login("owner@shop.test").await;
    (org, channel)
}

/// A customer mail arriving now; returns its conversation.
async fn customer_writes(app: &TestApp, org: OrgId, channel: i64, body: &str) -> i64 {
    let raw = mail(
        "Ida Brenner <ida@kunde.test>",
        &format!("<ida-{}@kunde.test>", unique_suffix()),
        "Falsche Größe",
        body,
    );
    app.ingest(arriving(org, Some(channel)), raw).await.0
}

async fn save_draft(
    app: &TestApp,
    conversation: i64,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = format!("/conversations/{conversation}");
    app.post_form(&page, &format!("{page}/draft"), fields).await
}

async fn drafts_in(app: &TestApp, conversation: i64) -> Vec<draft::Model> {
    draft::Entity::find()
        .filter(draft::Column::ConversationId.eq(conversation))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// The text of the reply box on a conversation page.
fn reply_box(page: &str) -> String {
    let start = page.find("id=\"reply-text\"").expect("the reply box");
    let open = start + page[start..].find('>').unwrap() + 1;
    let close = open + page[open..].find("</textarea>").unwrap();
    page[open..close].to_owned()
}

// ---- drafts -----------------------------------------------------------------------------

#[tokio::test]
async fn a_draft_is_restored_into_the_reply_box_and_deleted_when_the_reply_is_sent() {
    // Arrange
    let app = spawn_app().await;
    let (org, channel) = shop(&app, Some(1)).await;
    let conversation = customer_writes(&app, org, channel, "Die Schuhe sind zu klein.").await;
    let page = format!("/conversations/{conversation}");

    // Act: what the script sends as the agent types (quiet), then the no-JS button.
    let quiet = save_draft(
        &app,
        conversation,
        &[
            ("text", "Wir tauschen sie gern um"),
            ("cc", "lager@partner.test"),
            ("quiet", "1"),
        ],
    )
    .await;
    assert_eq!(quiet.status(), 204);
    let button = save_draft(
        &app,
        conversation,
        &[
            ("text", "Wir tauschen sie gern um, Größe 39 ist unterwegs."),
            ("to", "ida@kunde.test"),
            ("cc", "lager@partner.test"),
            ("bcc", ""),
        ],
    )
    .await;

    // Assert: one row per agent and conversation, shown again on a fresh page load.
    assert_eq!(button.status(), 303);
    assert!(location(&button).contains("flash=flash.draft_saved"));
    assert_eq!(drafts_in(&app, conversation).await.len(), 1);
    let shown = app.get_text(&page).await;
    assert_eq!(
        reply_box(&shown),
        "Wir tauschen sie gern um, Größe 39 ist unterwegs."
    );
    assert!(
        shown.contains("value=\"lager@partner.test\""),
        "Cc restored"
    );
    assert!(shown.contains("Save draft"), "the no-JS button is there");

    // Another agent has their own box.
    app.create_user("agent@shop.test", "Shop", "agent").await;
    let other = app.another_browser();
    other.login("agent@shop.test").await;
    assert_eq!(reply_box(&other.get_text(&page).await), "");

    // Sending deletes the draft.
    let sent = app
        .post_form(
            &page,
            &format!("{page}/reply"),
            &[
                ("text", "Wir tauschen sie gern um, Größe 39 ist unterwegs."),
                ("to", "ida@kunde.test"),
                ("then", ""),
            ],
        )
        .await;
    assert_eq!(sent.status(), 303);
    assert!(drafts_in(&app, conversation).await.is_empty());
    assert_eq!(reply_box(&app.get_text(&page).await), "");

    // A save from the page before the send (a timer racing it) does not bring it back.
    let seen = seen_of(&shown);
    let late = save_draft(
        &app,
        conversation,
        &[
            ("text", "Wir tauschen sie gern um"),
            ("seen", &seen),
            ("quiet", "1"),
        ],
    )
    .await;
    assert_eq!(late.status(), 204);
    assert!(drafts_in(&app, conversation).await.is_empty());
    let now_seen = seen_of(&app.get_text(&page).await);
    save_draft(
        &app,
        conversation,
        &[("text", "Noch etwas"), ("seen", &now_seen), ("quiet", "1")],
    )
    .await;
    assert_eq!(
        drafts_in(&app, conversation).await.len(),
        1,
        "a new page saves"
    );
}

/// The `seen` field of a conversation page's reply form.
fn seen_of(page: &str) -> String {
    regex::Regex::new(r#"name="seen" value="(\d+)""#)
        .unwrap()
        .captures(page)
        .expect("the seen field")[1]
        .to_owned()
}

#[tokio::test]
async fn a_member_s_drafts_go_when_they_leave_the_organization() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let agent = app.create_user("agent@shop.test", "Shop", "agent").await;
    let conversation = customer_writes(&app, org, channel, "Hallo").await;
    let agent_browser = app.another_browser();
    agent_browser.login("agent@shop.test").await;
    let saved = save_draft(
        &agent_browser,
        conversation,
        &[("text", "Entwurf der Kollegin"), ("quiet", "1")],
    )
    .await;
    assert_eq!(saved.status(), 204);
    save_draft(
        &app,
        conversation,
        &[("text", "Mein Entwurf"), ("quiet", "1")],
    )
    .await;

    let removed = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{agent}/remove"),
            &[],
        )
        .await;

    assert_eq!(removed.status(), 303);
    let left = drafts_in(&app, conversation).await;
    assert_eq!(left.len(), 1, "only the owner's draft is left");
    assert_eq!(left[0].text_body, "Mein Entwurf");
}

#[tokio::test]
async fn a_draft_needs_the_csrf_token_and_an_own_conversation() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let conversation = customer_writes(&app, org, channel, "Hallo").await;
    let forged = app
        .post_with_csrf(
            &format!("/conversations/{conversation}/draft"),
            "forged",
            &[("text", "geheim"), ("quiet", "1")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(drafts_in(&app, conversation).await.is_empty());

    app.create_user("other@elsewhere.test", "Elsewhere", "owner")
        .await;
    let stranger = app.another_browser();
    stranger.login("other@elsewhere.test").await;
    let csrf = csrf_of(&stranger.get_text("/inbox").await);
    let refused = stranger
        .post_with_csrf(
            &format!("/conversations/{conversation}/draft"),
            &csrf,
            &[("text", "fremd"), ("quiet", "1")],
        )
        .await;
    assert_eq!(refused.status(), 404);
    assert!(drafts_in(&app, conversation).await.is_empty());

    // The presence stream and the typing signal are the organization's too.
    let presence = format!("/conversations/{conversation}/presence");
    assert_eq!(stranger.get(&presence).await.status(), 404);
    let typing = format!("/conversations/{conversation}/typing");
    assert_eq!(
        stranger.post_with_csrf(&typing, &csrf, &[]).await.status(),
        404
    );
    assert_eq!(
        app.post_with_csrf(&typing, "forged", &[]).await.status(),
        403
    );
}

#[tokio::test]
async fn a_draft_survives_a_kill_9_of_lethe_serve() {
    // Arrange: the real binary, as in tests/api/durability.rs.
    let tmp = tempfile::Builder::new()
        .prefix("lethe-draft-")
        .tempdir_in(test_tmp_root())
        .unwrap();
    let data_dir = tmp.path().join("data");
    let database_url = fresh_database_url().await;
    let mut command = lethe_command(&data_dir, database_url.as_deref());
    command
        .args([
            "user",
            "create",
            "--email",
            "owner@shop.test",
            "--password-stdin",
            "--org",
            "Shop",
        ])
        .stdout(Stdio::null());
    let mut create = spawn_with_input(&mut command, &format!("{PASSWORD}\n"));
    assert!(create.wait().unwrap().success());
    let mut server = crate::durability::start(&data_dir, &database_url).await;
    let client = browser_client();
    let login = [("email", "owner@shop.test"), ("password", PASSWORD)];
    post_form_with(&client, &server.base, "/login", "/login", &login).await;
    let created = post_form_with(
        &client,
        &server.base,
        "/settings/channels/new",
        "/settings/channels",
        &channel_form(&[]),
    )
    .await;
    assert_eq!(created.status(), 303);
    let channels = text_of(client.get(format!("{}/settings/channels", server.base))).await;
    let token = regex::Regex::new(r"/inbound/email/([A-Za-z0-9_-]{43})")
        .unwrap()
        .captures(&channels)
        .expect("inbound URL")[1]
        .to_owned();
    let customer_mail = "From: Jana Novak <jana@kunde.test>\r\nTo: support@shop.test\r\nSubject: Paket fehlt\r\nMessage-ID: <jana-draft@kunde.test>\r\n\r\nMein Paket ist nicht angekommen.\r\n";
    let stored = json_of(
        client
            .post(format!("{}/inbound/email/{token}", server.base))
            .body(customer_mail),
    )
    .await;
    let conversation = stored["conversation_id"].as_i64().unwrap();
    let page = format!("/conversations/{conversation}");
    let saved = post_form_with(
        &client,
        &server.base,
        &page,
        &format!("{page}/draft"),
        &[
            ("text", "Halb geschriebene Antwort über Ihr Paket"),
            ("quiet", "1"),
        ],
    )
    .await;
    assert_eq!(saved.status(), 204);

    // Act
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut restarted = crate::durability::start(&data_dir, &database_url).await;

    // Assert: a new session on the new process shows the draft.
    let client = browser_client();
    post_form_with(&client, &restarted.base, "/login", "/login", &login).await;
    let shown = text_of(client.get(format!("{}{page}", restarted.base))).await;
    assert_eq!(
        reply_box(&shown),
        "Halb geschriebene Antwort über Ihr Paket"
    );
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}

#[tokio::test]
async fn erasure_leaves_no_byte_of_a_draft_in_the_data_directory() {
    // Arrange
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let suffix = unique_suffix();
    let conversation = customer_writes(&app, org, channel, "Bitte um Rückruf").await;
    let secret = format!("Entwurfstext{suffix} an Frau Brenner");
    let copy = format!("kollegin{suffix}@partner.test");
    let saved = save_draft(
        &app,
        conversation,
        &[("text", &secret), ("cc", &copy), ("quiet", "1")],
    )
    .await;
    assert_eq!(saved.status(), 204);
    let needles = [secret.clone(), copy.clone()];
    if app.database_url.is_none() {
        lethe::db::checkpoint(&app.state.db).await.unwrap();
        assert!(
            !traces(&app.data_dir, &needles).is_empty(),
            "the scan finds the draft before the erasure"
        );
    }

    // Act
    let customer = app.customer_of(conversation).await;
    app.erase(org, customer).await;

    // Assert
    assert_eq!(draft::Entity::find().count(&app.state.db).await.unwrap(), 0);
    if app.database_url.is_none() {
        let found = traces(&app.data_dir, &needles);
        assert!(found.is_empty(), "draft bytes left: {found:#?}");
    }
}

#[tokio::test]
async fn anonymizing_a_conversation_drops_its_drafts_to_the_last_byte() {
    // Arrange
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let suffix = unique_suffix();
    let conversation = customer_writes(&app, org, channel, "Danke").await;
    let secret = format!("Liebe Frau Brenner{suffix}, Ihr Gutschein");
    save_draft(&app, conversation, &[("text", &secret), ("quiet", "1")]).await;
    app.close_days_ago(conversation, 60).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Anonymize)
        .await;
    if app.database_url.is_none() {
        lethe::db::checkpoint(&app.state.db).await.unwrap();
        assert!(!traces(&app.data_dir, &[&secret]).is_empty());
    }

    // Act
    let report = lethe::retention::run_once(&app.state, org, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(
        report
            .category(Category::ClosedConversations)
            .unwrap()
            .conversations,
        1
    );
    assert!(drafts_in(&app, conversation).await.is_empty());
    if app.database_url.is_none() {
        let found = traces(&app.data_dir, &[&secret]);
        assert!(found.is_empty(), "draft bytes left: {found:#?}");
    }
}

#[tokio::test]
async fn the_customer_export_includes_the_drafts_of_their_conversations() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let conversation = customer_writes(&app, org, channel, "Wo ist meine Rechnung?").await;
    save_draft(
        &app,
        conversation,
        &[
            ("text", "Ihre Rechnung hängt an"),
            ("bcc", "ida@kunde.test, buchhaltung@shop-partner.test"),
            ("quiet", "1"),
        ],
    )
    .await;
    let customer = app.customer_of(conversation).await;
    let page = app.get_text(&format!("/customers/{customer}")).await;
    let response = app
        .post_with_csrf(
            &format!("/customers/{customer}/export"),
            &csrf_of(&page),
            &[],
        )
        .await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name("export.json").unwrap(), &mut raw).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let drafts = &json["conversations"][0]["drafts"];
    assert_eq!(drafts[0]["text"], "Ihre Rechnung hängt an", "{json}");
    assert_eq!(
        drafts[0]["bcc"],
        serde_json::json!(["ida@kunde.test"]),
        "only the customer's own address of the blind copies"
    );
}

#[tokio::test]
async fn the_unsent_drafts_rule_deletes_drafts_older_than_its_age() {
    // Arrange
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let old = customer_writes(&app, org, channel, "Alt").await;
    let fresh = customer_writes(&app, org, channel, "Neu").await;
    save_draft(&app, old, &[("text", "vergessen"), ("quiet", "1")]).await;
    save_draft(&app, fresh, &[("text", "gerade eben"), ("quiet", "1")]).await;
    draft::Entity::update_many()
        .col_expr(
            draft::Column::UpdatedAt,
            Expr::val(Utc::now() - Duration::days(31)),
        )
        .filter(draft::Column::ConversationId.eq(old))
        .exec(&app.state.db)
        .await
        .unwrap();
    let settings = app.get_text("/settings/retention").await;
    assert!(
        settings.contains("Unsent drafts"),
        "the category is offered"
    );
    app.save_rule(org, Category::UnsentDrafts, 30, Action::Delete)
        .await;

    // Act
    let preview = lethe::retention::run_once(&app.state, org, true)
        .await
        .unwrap();
    let report = lethe::retention::run_once(&app.state, org, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(preview.category(Category::UnsentDrafts).unwrap().drafts, 1);
    assert_eq!(report.category(Category::UnsentDrafts).unwrap().drafts, 1);
    assert!(drafts_in(&app, old).await.is_empty());
    assert_eq!(drafts_in(&app, fresh).await.len(), 1);
    assert_eq!(
        Category::UnsentDrafts.default_rule().after_days(),
        30,
        "the suggested age"
    );
}

// ---- undo send --------------------------------------------------------------------------

#[tokio::test]
async fn an_undone_reply_is_never_sent_and_its_text_is_back_in_the_box() {
    // Arrange: replies wait ten minutes (far longer than the test).
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_UNDO_SEND_SECONDS".into(), "600".into())],
        ..Default::default()
    })
    .await;
    let (org, channel) = shop(&app, Some(smtp.port)).await;
    crate::webhooks::add_endpoint(&app, "http://127.0.0.1:9/hook", &["message.created"], true)
        .await;
    let conversation = customer_writes(&app, org, channel, "Ist das Paket versichert?").await;
    let page = format!("/conversations/{conversation}");
    let undone_text = format!("Ja, bis 500 Euro {}", unique_suffix());
    let queued = app
        .post_form(
            &page,
            &format!("{page}/reply"),
            &[
                ("text", &undone_text),
                ("to", "ida@kunde.test"),
                ("cc", "versand@partner.test"),
                ("then", ""),
            ],
        )
        .await;
    assert_eq!(queued.status(), 303);
    let reply = message::Entity::find()
        .filter(message::Column::Direction.eq("outbound"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let about_reply = || async {
        webhook_delivery::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.payload.contains(&undone_text))
            .count()
    };
    assert_eq!(about_reply().await, 1, "a webhook delivery waits");
    let shown = app.get_text(&page).await;
    let undo = format!("{page}/messages/{}/undo", reply.id);
    assert!(shown.contains(&undo), "an Undo button on the waiting reply");
    assert!(
        lethe::mail::outbound::run_once(&app.state, Utc::now())
            .await
            .unwrap()
            .sent
            == 0,
        "not due before its delay"
    );

    // Act
    let undone = app.post_form(&page, &undo, &[]).await;

    // Assert
    assert_eq!(undone.status(), 303);
    assert!(location(&undone).contains("flash=flash.reply_undone"));
    assert_eq!(about_reply().await, 0, "the webhook is not told");
    assert_eq!(
        outbox::Entity::find().count(&app.state.db).await.unwrap(),
        0
    );
    assert!(
        message::Entity::find_by_id(reply.id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
    let back = app.get_text(&page).await;
    assert_eq!(reply_box(&back), undone_text);
    assert!(
        back.contains("value=\"versand@partner.test\""),
        "Cc back too"
    );
    assert_eq!(
        app.conversation(conversation).await.first_responded_at,
        None,
        "an undone reply was no first response"
    );
    let later = lethe::mail::outbound::run_once(&app.state, Utc::now() + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(later.sent, 0);

    // A reply sent afterwards reaches the recorder, the undone one never did.
    let sent = app
        .post_form(
            &page,
            &format!("{page}/reply"),
            &[("text", "Ja, das Paket ist versichert."), ("then", "")],
        )
        .await;
    assert_eq!(sent.status(), 303);
    assert!(drafts_in(&app, conversation).await.is_empty());
    assert!(
        app.conversation(conversation)
            .await
            .first_responded_at
            .is_some()
    );
    let too_late = app.post_form(&page, &undo, &[]).await;
    assert_eq!(too_late.status(), 404, "the undone reply is gone");
    let due = lethe::mail::outbound::run_once(&app.state, Utc::now() + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(due.sent, 1, "sent once its delay is over");
    let received = smtp.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert!(received[0].contains("versichert"));
    assert!(!received.iter().any(|m| m.contains(&undone_text)));
}

#[tokio::test]
async fn a_reply_that_is_already_due_cannot_be_undone() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app, Some(1)).await;
    let conversation = customer_writes(&app, org, channel, "Frage").await;
    let page = format!("/conversations/{conversation}");
    app.post_form(
        &page,
        &format!("{page}/reply"),
        &[("text", "Antwort ohne Wartezeit"), ("then", "")],
    )
    .await;
    let reply = message::Entity::find()
        .filter(message::Column::Direction.eq("outbound"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let undo = format!("{page}/messages/{}/undo", reply.id);
    assert!(
        !app.get_text(&page).await.contains(&undo),
        "no Undo button with a delay of 0"
    );
    let refused = app.post_form(&page, &undo, &[]).await;
    assert!(location(&refused).contains("flash=flash.undo_too_late"));
    assert_eq!(
        outbox::Entity::find().count(&app.state.db).await.unwrap(),
        1
    );
}

// ---- collisions -------------------------------------------------------------------------

#[tokio::test]
async fn a_reply_crossing_a_newer_customer_message_is_held_once_for_confirmation() {
    // Arrange: the agent opens the page, then the customer writes again.
    let app = spawn_app().await;
    let (org, channel) = shop(&app, Some(1)).await;
    let conversation = customer_writes(&app, org, channel, "Die Jacke ist zu groß.").await;
    let page = format!("/conversations/{conversation}");
    let opened = app.get_text(&page).await;
    let seen = seen_of(&opened);
    let raw = mail(
        "Ida Brenner <ida@kunde.test>",
        &format!("<ida-again-{}@kunde.test>", unique_suffix()),
        "Re: Falsche Größe",
        "Hat sich erledigt, ich behalte sie.",
    )
    .header("In-Reply-To", &opened_message_id(&app, conversation).await);
    let (again, _) = app.ingest(arriving(org, Some(channel)), raw).await;
    assert_eq!(again, conversation, "the second mail threads");
    let text = "Wir schicken Ihnen Größe M.";

    // Act
    let held = app
        .post_form(
            &page,
            &format!("{page}/reply"),
            &[("text", text), ("seen", &seen), ("then", "")],
        )
        .await;

    // Assert: not sent; the form again, text kept, the new message and a "send anyway".
    assert_eq!(held.status(), 409);
    let body = held.text().await.unwrap();
    assert_eq!(reply_box(&body), text);
    assert!(
        body.contains("Hat sich erledigt"),
        "the new message is shown"
    );
    assert!(body.contains("name=\"send_anyway\""));
    assert_eq!(
        outbox::Entity::find().count(&app.state.db).await.unwrap(),
        0
    );

    // Asked once: "send anyway" sends.
    let csrf = csrf_of(&body);
    let confirmed = app
        .post_with_csrf(
            &format!("{page}/reply"),
            &csrf,
            &[
                ("text", text),
                ("seen", &seen),
                ("send_anyway", "1"),
                ("then", ""),
            ],
        )
        .await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(
        outbox::Entity::find().count(&app.state.db).await.unwrap(),
        1
    );

    // A form that saw the newest message is not held.
    let newest = seen_of(&app.get_text(&page).await);
    let plain = app
        .post_form(
            &page,
            &format!("{page}/reply"),
            &[("text", "Nachtrag"), ("seen", &newest), ("then", "")],
        )
        .await;
    assert_eq!(plain.status(), 303);
}

/// The Message-ID of the conversation's first message.
async fn opened_message_id(app: &TestApp, conversation: i64) -> String {
    message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .message_id_header
}

#[tokio::test]
async fn two_agents_see_each_other_viewing_and_typing_in_real_browsers() {
    // Arrange
    let app = spawn_app().await;
    let (org, channel) = shop(&app, None).await;
    let agent = app.create_user("agent@shop.test", "Shop", "agent").await;
    let owner = user::Entity::find()
        .filter(user::Column::Email.eq("owner@shop.test"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    for (id, name) in [(owner, "Olga Owner"), (agent, "Arne Agent")] {
        user::Entity::update_many()
            .col_expr(user::Column::DisplayName, Expr::val(name))
            .filter(user::Column::Id.eq(id))
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    let conversation = customer_writes(&app, org, channel, "Zwei Leute, eine Frage").await;
    let page = app.url(&format!("/conversations/{conversation}"));
    let olga = Browser::start().await;
    let arne = Browser::start().await;
    for (browser, email) in [(&olga, "owner@shop.test"), (&arne, "agent@shop.test")] {
        browser.sign_in(&app, email).await;
    }

    // Act
    olga.goto(&page).await;
    arne.goto(&page).await;

    // Assert: each sees the other (live, over the presence stream).
    let viewing = |name: &'static str| {
        move |_: &str, source: &str| {
            presence_line(source, "presence-viewing").is_some_and(|line| line.contains(name))
        }
    };
    olga.wait_until("Olga sees Arne", viewing("Arne Agent"))
        .await;
    arne.wait_until("Arne sees Olga", viewing("Olga Owner"))
        .await;

    arne.type_into("#reply-text", "Ich antworte schon").await;
    olga.wait_until("Olga sees Arne typing", |_, source| {
        presence_line(source, "presence-typing").is_some_and(|line| line.contains("Arne Agent"))
    })
    .await;
    // And the script saved Arne's draft on the way.
    for _ in 0..100 {
        if !drafts_in(&app, conversation).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let saved = drafts_in(&app, conversation).await;
    assert_eq!(saved.len(), 1, "the draft was saved as Arne typed");
    assert_eq!(saved[0].text_body, "Ich antworte schon");

    // Arne leaves: Olga no longer sees him viewing.
    arne.goto(&app.url("/inbox")).await;
    olga.wait_until("Arne is gone", |_, source| {
        presence_line(source, "presence-viewing").is_none_or(|line| !line.contains("Arne Agent"))
    })
    .await;
    for browser in [&olga, &arne] {
        let errors = browser.console_errors().await;
        assert!(
            errors.is_empty(),
            "the browser reported errors (CSP?): {errors:?}"
        );
    }
    olga.quit().await;
    arne.quit().await;
}

/// The presence line `id` of a page's source, if shown (not `hidden`).
fn presence_line<'a>(source: &'a str, id: &str) -> Option<&'a str> {
    let start = source.find(&format!("id=\"{id}\""))?;
    let tag_end = start + source[start..].find('>')?;
    if source[start..tag_end].contains("hidden") {
        return None;
    }
    let end = tag_end + source[tag_end..].find("</p>")?;
    Some(&source[tag_end..end])
}
