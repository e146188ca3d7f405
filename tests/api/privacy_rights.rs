//! The rest of the data rights (issue 20): no customer record left behind by a rule, an
//! objection that changes something, verified requesters, the log of who accessed whose data,
//! and the complete answer to an access request.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{TestApp, mail, spawn_app};
use lethe::db::entity::{access_entry, audit_event, customer_email};
use lethe::orgs::OrgId;
use lethe::retention::{self, Action, Category};

async fn owner_app() -> (TestApp, OrgId) {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    (app, org)
}

/// How many address rows customer `id` has.
async fn addresses(app: &TestApp, id: i64) -> u64 {
    customer_email::Entity::find()
        .filter(customer_email::Column::CustomerId.eq(id))
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn audit_actions(app: &TestApp, action: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// `export.json` of an export ZIP.
fn export_json(zip: &[u8]) -> serde_json::Value {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).expect("a ZIP");
    let mut text = String::new();
    archive
        .by_name("export.json")
        .expect("export.json")
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

// ---- no customer record left behind ------------------------------------------------------

#[tokio::test]
async fn a_rule_deleting_a_customer_s_last_conversation_removes_the_customer_record() {
    // Arrange: Anna's only conversation is due; Bob has a second, recent one; Carla's only
    // conversation is due but she has an open access request on file; Dora's is due but she
    // is on legal hold.
    let (app, org) = owner_app().await;
    let (anna, anna_c) = app
        .receive(
            org,
            mail("Anna Alt <anna@alt.test>", "a1@alt.test", "Old", "x"),
        )
        .await;
    let (bob, bob_old) = app
        .receive(
            org,
            mail("Bob Bleib <bob@bleib.test>", "b1@bleib.test", "Old", "x"),
        )
        .await;
    app.receive(
        org,
        mail("Bob Bleib <bob@bleib.test>", "b2@bleib.test", "New", "y"),
    )
    .await;
    let (carla, carla_c) = app
        .receive(
            org,
            mail("Carla Frag <carla@frag.test>", "c1@frag.test", "Old", "x"),
        )
        .await;
    let (dora, dora_c) = app
        .receive(
            org,
            mail("Dora Halt <dora@halt.test>", "d1@halt.test", "Old", "x"),
        )
        .await;
    for id in [anna_c, bob_old, carla_c, dora_c] {
        app.close_days_ago(id, 400).await;
    }
    app.access_request(org, carla).await;
    app.login("owner@shop.test").await;
    let held = app
        .legal_hold(&format!("/customers/{dora}"), &[("reason", "Dispute")])
        .await;
    assert_eq!(held.status(), 303);

    // Act: the page previews the rule, then the saved rule runs
    let preview = app
        .post_form(
            "/settings/retention",
            "/settings/retention/preview",
            &[
                ("category", "closed_conversations"),
                ("after_days", "365"),
                ("action", "delete"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    app.save_rule(org, Category::ClosedConversations, 365, Action::Delete)
        .await;
    let report = retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    assert!(
        preview.contains("remove 1 customer records (name, addresses) left without conversations"),
        "{preview}"
    );
    assert!(
        preview.contains(
            "their customer record (name, email addresses, phone, postal address) goes with it"
        ),
        "the rule page says what happens"
    );
    let counts = report.category(Category::ClosedConversations).unwrap();
    assert_eq!(counts.conversations, 3);
    assert_eq!(counts.customer_records, 1);
    assert!(
        app.find_customer(anna).await.is_none(),
        "Anna's record went"
    );
    assert_eq!(addresses(&app, anna).await, 0);
    assert!(
        app.find_customer(bob).await.is_some(),
        "Bob has a conversation left"
    );
    assert!(
        app.find_customer(carla).await.is_some(),
        "an open request keeps the record"
    );
    assert!(app.find_customer(dora).await.is_some(), "held");
    assert!(app.find_conversation(dora_c).await.is_some(), "held");
    let runs = audit_actions(&app, "retention.run").await;
    assert!(
        runs[0].details.contains("\"customer_records\":1"),
        "{}",
        runs[0].details
    );
}

#[tokio::test]
async fn an_anonymizing_rule_keeps_the_record_of_a_customer_with_an_open_request() {
    // Arrange
    let (app, org) = owner_app().await;
    let (eva, eva_c) = app
        .receive(
            org,
            mail("Eva Eins <eva@eins.test>", "e1@eins.test", "Old", "x"),
        )
        .await;
    let (fritz, fritz_c) = app
        .receive(
            org,
            mail("Fritz Zwei <fritz@zwei.test>", "f1@zwei.test", "Old", "x"),
        )
        .await;
    app.close_days_ago(eva_c, 400).await;
    app.close_days_ago(fritz_c, 400).await;
    app.access_request(org, fritz).await;
    app.save_rule(org, Category::ClosedConversations, 365, Action::Anonymize)
        .await;

    // Act
    let report = retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    let counts = report.category(Category::ClosedConversations).unwrap();
    assert_eq!(counts.conversations, 2);
    assert_eq!(counts.customer_records, 1);
    assert!(app.find_customer(eva).await.is_none());
    assert!(app.find_customer(fritz).await.is_some());
}

// ---- an objection changes something ------------------------------------------------------

/// Posts the objection form of customer `id` with these effects.
async fn object(app: &TestApp, id: i64, text: &str, effects: &[&str]) -> reqwest::Response {
    let page = format!("/customers/{id}");
    let mut fields = vec![("received", ""), ("text", text)];
    for effect in effects {
        fields.push((effect, "1"));
    }
    app.post_form(&page, &format!("{page}/objections"), &fields)
        .await
}

#[tokio::test]
async fn an_objection_stopping_processing_withholds_webhook_content_until_an_admin_lifts_it() {
    use crate::webhooks::{Receiver, add_endpoint, deliver_now};
    // Arrange: a webhook endpoint that asked for message content; Olga's first message is
    // queued before she objects.
    let (app, org) = owner_app().await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let receiver = Receiver::start();
    let (_, secret) = add_endpoint(&app, &receiver.url(), &["message.created"], true).await;
    receiver.set_secrets(&[&secret]);
    let suffix = crate::helpers::unique_suffix();
    let words = format!("Objecting{suffix}");
    let (olga, _) = app
        .receive(
            org,
            mail(
                "Olga <olga@kunde.test>",
                &format!("o1-{suffix}@k.test"),
                "Hi",
                &words,
            ),
        )
        .await;

    // Act: she objects (no non-essential processing); two more messages; an agent tries to lift
    // it; the owner lifts it; one more message.
    let recorded = object(
        &app,
        olga,
        "No profiling, no data to partners",
        &["stop_processing"],
    )
    .await;
    let page = app.get_text(&format!("/customers/{olga}")).await;
    let register = app.get_text("/privacy/requests").await;
    app.receive(
        org,
        mail(
            "Olga <olga@kunde.test>",
            &format!("o2-{suffix}@k.test"),
            "Again",
            &words,
        ),
    )
    .await;
    deliver_now(&app).await;
    let while_in_force = receiver.verified_payloads();
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    let by_agent = agent
        .post_form(
            &format!("/customers/{olga}"),
            &format!("/customers/{olga}/objections/lift"),
            &[],
        )
        .await;
    let lifted = app
        .post_form(
            &format!("/customers/{olga}"),
            &format!("/customers/{olga}/objections/lift"),
            &[],
        )
        .await;
    app.receive(
        org,
        mail(
            "Olga <olga@kunde.test>",
            &format!("o3-{suffix}@k.test"),
            "Third",
            &words,
        ),
    )
    .await;
    deliver_now(&app).await;

    // Assert
    assert_eq!(recorded.status(), 303);
    assert!(page.contains("Objection in force."), "{page}");
    assert!(page.contains("Stop non-essential processing"));
    assert!(register.contains("Stop non-essential processing (no webhook payloads with content)"));
    assert_eq!(while_in_force.len(), 2);
    for payload in &while_in_force {
        assert!(payload["data"].get("content").is_none(), "{payload}");
    }
    for delivery in receiver.deliveries().iter().take(2) {
        assert!(!delivery["body"].as_str().unwrap().contains(&words));
    }
    assert_ne!(by_agent.status(), 303, "only an admin lifts it");
    assert_eq!(lifted.status(), 303);
    let after = receiver.verified_payloads();
    assert_eq!(after.len(), 3);
    assert_eq!(
        after[2]["data"]["content"]["text"].as_str().unwrap().trim(),
        words
    );
    assert_eq!(
        audit_actions(&app, "privacy.objection_lifted").await.len(),
        1
    );
    let recorded = audit_actions(&app, "privacy.request_recorded").await;
    assert!(
        recorded[0].details.contains("stop_processing"),
        "{}",
        recorded[0].details
    );
    assert!(
        !recorded[0].details.contains("profiling"),
        "no text in the audit log"
    );
    let page = app.get_text(&format!("/customers/{olga}")).await;
    assert!(!page.contains("Objection in force."));
}

#[tokio::test]
async fn an_objection_can_anonymize_the_customer_s_closed_conversations_now() {
    // Arrange: two closed conversations (one on legal hold) and an open one
    let (app, org) = owner_app().await;
    let (pia, closed) = app
        .receive(
            org,
            mail(
                "Pia Quast <pia@quast.test>",
                "q1@quast.test",
                "Pia Quast order",
                "Call Pia Quast",
            ),
        )
        .await;
    let (_, held) = app
        .receive(
            org,
            mail("Pia Quast <pia@quast.test>", "q2@quast.test", "Held", "x"),
        )
        .await;
    let (_, open) = app
        .receive(
            org,
            mail("Pia Quast <pia@quast.test>", "q3@quast.test", "Open", "x"),
        )
        .await;
    app.close_days_ago(closed, 1).await;
    app.close_days_ago(held, 1).await;
    app.login("owner@shop.test").await;
    app.legal_hold(&format!("/conversations/{held}"), &[("reason", "Court")])
        .await;

    // Act
    let recorded = object(
        &app,
        pia,
        "Objects to keeping her messages",
        &["anonymize_closed", "exclude_reports"],
    )
    .await;

    // Assert
    assert_eq!(recorded.status(), 303);
    let anonymized = app.conversation(closed).await;
    assert_ne!(
        anonymized.customer_id, pia,
        "moved to a pseudonymous customer"
    );
    assert!(
        !anonymized.subject.contains("Quast"),
        "{}",
        anonymized.subject
    );
    assert_eq!(
        app.conversation(held).await.customer_id,
        pia,
        "held: untouched"
    );
    assert_eq!(
        app.conversation(open).await.customer_id,
        pia,
        "open: untouched"
    );
    assert!(
        app.find_customer(pia).await.is_some(),
        "the objection keeps the record"
    );
    let done = audit_actions(&app, "privacy.objection_anonymized").await;
    assert_eq!(done.len(), 1);
    assert!(
        done[0].details.contains("\"conversations\":1"),
        "{}",
        done[0].details
    );
    assert!(done[0].details.contains("\"skipped_legal_hold\":1"));
    let page = app.get_text(&format!("/customers/{pia}")).await;
    assert!(page.contains("Exclude from reports and assist"), "{page}");
    let effects = page
        .split("class=\"objection-effects\">")
        .nth(1)
        .expect("the objection lists its effects");
    let effects = &effects[..effects.find("</span>").unwrap()];
    assert!(effects.contains("Exclude from reports"), "{effects}");
    assert!(effects.contains("closed conversations now"), "{effects}");
}

// ---- requesters are who they say they are -------------------------------------------------

/// The path of the verification link in a mail.
fn verification_path(mail: &str) -> String {
    let start = mail.find("/privacy/verify/").expect("a verification link");
    mail[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_unverified_request_needs_an_override_and_a_verified_one_does_not() {
    use crate::smtp::{SmtpRecorder, unfold_qp};
    // Arrange: Vera's access and erasure requests are on file; Mallory is another customer
    let smtp = SmtpRecorder::start().await;
    let app =
        crate::helpers::spawn_app_with(crate::helpers::AppOptions::with_smtp(smtp.url())).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let (vera, _) = app
        .receive(
            org,
            mail("Vera <vera@kunde.test>", "v1@kunde.test", "Hi", "x"),
        )
        .await;
    let (mallory, _) = app
        .receive(
            org,
            mail("Mallory <mallory@evil.test>", "m1@evil.test", "Hi", "x"),
        )
        .await;
    app.login("owner@shop.test").await;
    for kind in ["access", "erasure"] {
        let recorded = app
            .post_form(
                "/privacy/requests",
                "/privacy/requests",
                &[("kind", kind), ("customer_email", "vera@kunde.test")],
            )
            .await;
        assert_eq!(recorded.status(), 303);
    }
    let row_of = |customer: i64| {
        let db = app.state.db.clone();
        async move {
            customer_email::Entity::find()
                .filter(customer_email::Column::CustomerId.eq(customer))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let (vera_row, mallory_row) = (row_of(vera).await, row_of(mallory).await);
    let (open, _) = lethe::privacy::requests::list(&app.state.db, org)
        .await
        .unwrap();
    let access = open.iter().find(|r| r.kind == "access").unwrap().clone();
    let erasure = open.iter().find(|r| r.kind == "erasure").unwrap().clone();
    let customer_page = format!("/customers/{vera}");

    // Act 1: export without verification, then with an override reason
    let refused = app
        .post_form(&customer_page, &format!("{customer_page}/export"), &[])
        .await;
    let register_before = app.get_text("/privacy/requests").await;
    let overridden = app
        .post_form(
            &customer_page,
            &format!("{customer_page}/export"),
            &[("override_reason", "Known caller, order number matched")],
        )
        .await;

    // Act 2: a link for the erasure request, to an address not on Vera's record, then to hers
    let foreign = app
        .post_form(
            "/privacy/requests",
            &format!("/privacy/requests/{}/verification", erasure.id),
            &[("email_id", &mallory_row.to_string())],
        )
        .await;
    let sent = app
        .post_form(
            "/privacy/requests",
            &format!("/privacy/requests/{}/verification", erasure.id),
            &[("email_id", &vera_row.to_string())],
        )
        .await;
    // Only the mails to the requester: an export taken between 22:00 and 06:00 UTC also mails
    // the owners (the night-export alert), and this test must not depend on the clock.
    smtp.wait_for(1).await;
    let to_requester = || -> Vec<String> {
        smtp.messages()
            .into_iter()
            .filter(|m| m.starts_with("X-Recorded-Rcpt: vera@kunde.test\r\n"))
            .collect()
    };
    let mails = to_requester();
    assert_eq!(
        mails.len(),
        1,
        "the verification link goes to the requester"
    );
    let link = verification_path(&unfold_qp(&mails[0]));
    let requester = app.another_browser();
    let shown = requester.get(&link).await;
    let confirmed = requester.post_form(&link, &link, &[]).await;
    let again = requester.get(&link).await;
    let confirm_page = app.get_text(&format!("{customer_page}/erase")).await;
    let register_after = app.get_text("/privacy/requests").await;
    let erased = app
        .post_form(
            &format!("{customer_page}/erase"),
            &format!("{customer_page}/erase"),
            &[],
        )
        .await;

    // Assert
    assert_eq!(refused.status(), 409);
    assert!(register_before.contains("data-verification=\"not_verified\""));
    assert_eq!(overridden.status(), 200);
    assert_eq!(
        overridden.headers()["content-type"].to_str().unwrap(),
        "application/zip"
    );
    assert_eq!(
        foreign.status(),
        400,
        "never to an address not on the record"
    );
    assert_eq!(sent.status(), 303);
    assert_eq!(to_requester().len(), 1);
    assert!(mails[0].contains("vera@kunde.test"));
    assert!(!mails[0].contains("mallory@evil.test"));
    assert!(mails[0].contains(&erasure.reference));
    assert_eq!(shown.status(), 200);
    assert_eq!(confirmed.status(), 200);
    assert!(
        confirmed
            .text()
            .await
            .unwrap()
            .contains("your request is confirmed")
    );
    assert_eq!(again.status(), 400, "the link is spent");
    assert!(
        !confirm_page.contains("override_reason"),
        "verified: no override asked"
    );
    assert!(
        register_after.contains("data-verification=\"verified\""),
        "{register_after}"
    );
    assert!(register_after.contains("data-verification=\"overridden\""));
    assert!(register_after.contains("Known caller, order number matched"));
    assert_eq!(erased.status(), 303);
    assert!(app.find_customer(vera).await.is_none());
    let register_erased = app.get_text("/privacy/requests").await;
    assert!(
        !register_erased.contains("Known caller, order number matched"),
        "the override reason goes with the customer"
    );
    assert!(register_erased.contains("data-verification=\"overridden\""));
    let overrides = audit_actions(&app, "privacy.verification_overridden").await;
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0].target, access.reference);
    assert!(!overrides[0].details.contains("Known caller"));
    assert_eq!(
        audit_actions(&app, "privacy.request_verified").await.len(),
        1
    );
    assert_eq!(
        audit_actions(&app, "privacy.verification_sent").await.len(),
        1
    );
}

// ---- access to personal data is logged ----------------------------------------------------

async fn access_entries_of(app: &TestApp, customer_id: i64) -> Vec<access_entry::Model> {
    access_entry::Entity::find()
        .filter(access_entry::Column::CustomerId.eq(customer_id))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn opening_a_customer_s_data_is_logged_shown_to_admins_exported_and_erased_with_them() {
    // Arrange: an agent and Anna's conversation with an attachment, in the search index
    let (app, org) = owner_app().await;
    let agent_id = app.create_user("agent@shop.test", "Shop", "agent").await;
    let (anna, conversation_id) = app
        .receive(
            org,
            mail(
                "Anna Auge <anna@auge.test>",
                "aa1@auge.test",
                "Periscope order",
                "Where?",
            )
            .text_attachment("invoice.txt", "invoice"),
        )
        .await;
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    let attachment_id = lethe::db::entity::attachment::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    app.login("owner@shop.test").await;

    // Act: the agent opens the conversation, the attachment, the customer page, and searches
    for path in [
        format!("/conversations/{conversation_id}"),
        format!("/attachments/{attachment_id}"),
        format!("/customers/{anna}"),
        "/search?q=Periscope".to_owned(),
    ] {
        assert_eq!(agent.get(&path).await.status(), 200, "{path}");
    }
    app.state.access.flush().await;
    let entries = access_entries_of(&app, anna).await;
    let customer_page = app.get_text(&format!("/customers/{anna}")).await;
    let agent_view = agent.get_text(&format!("/customers/{anna}")).await;
    let per_agent = app
        .get_text(&format!("/audit/access?user={agent_id}"))
        .await;
    let agent_refused = agent.get("/audit/access").await;
    let zip = app
        .post_form(
            &format!("/customers/{anna}"),
            &format!("/customers/{anna}/export"),
            &[],
        )
        .await
        .bytes()
        .await
        .unwrap();
    app.state.access.flush().await;
    let exported = export_json(&zip);
    app.erase(org, anna).await;

    // Assert
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["conversation", "attachment", "customer", "search"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(entries.iter().all(|e| e.user_id == Some(agent_id)));
    assert!(
        entries
            .iter()
            .all(|e| e.client.as_deref() == Some("127.0.0.1"))
    );
    assert!(customer_page.contains("Who accessed this record"));
    for label in [
        "opened a conversation",
        "downloaded an attachment",
        "opened the customer page",
        "saw in search results",
    ] {
        assert!(customer_page.contains(label), "{label}");
        assert!(per_agent.contains(label), "{label} on /audit/access");
    }
    assert!(
        !agent_view.contains("Who accessed this record"),
        "admins only"
    );
    assert_eq!(agent_refused.status(), 403);
    let log = exported["access_log"]
        .as_array()
        .expect("access_log in export.json");
    assert!(log.len() >= 4, "{log:?}");
    assert!(log.iter().any(|e| e["what"] == "attachment"));
    assert!(
        access_entries_of(&app, anna).await.is_empty(),
        "erased with the customer"
    );
}

#[tokio::test]
async fn an_access_queued_around_an_erasure_is_not_written_after_it() {
    // Arrange: the owner opens Anna's customer page; the entry is still queued
    let (app, org) = owner_app().await;
    app.login("owner@shop.test").await;
    let (anna, conversation_id) = app
        .receive(
            org,
            mail("Anna <anna@race.test>", "race1@race.test", "Hi", "x"),
        )
        .await;
    assert_eq!(app.get(&format!("/customers/{anna}")).await.status(), 200);

    // Act: erase her at once, and report one more access that was on its way
    app.erase(org, anna).await;
    let user_id = lethe::db::entity::user::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    app.state.access.record(lethe::audit::access::Access {
        org,
        user_id,
        customer_id: Some(anna),
        conversation_id: Some(conversation_id),
        kind: lethe::audit::access::Kind::Conversation,
        client: None,
        at: chrono::Utc::now(),
    });
    app.state.access.flush().await;

    // Assert: nothing names the erased customer
    assert!(access_entries_of(&app, anna).await.is_empty());
    assert_eq!(
        access_entry::Entity::find()
            .filter(access_entry::Column::ConversationId.eq(conversation_id))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn the_access_log_rule_removes_old_entries() {
    // Arrange
    let (app, org) = owner_app().await;
    let (anna, _) = app
        .receive(org, mail("Anna <anna@alt.test>", "al1@alt.test", "Hi", "x"))
        .await;
    app.login("owner@shop.test").await;
    app.get(&format!("/customers/{anna}")).await;
    app.get(&format!("/customers/{anna}")).await;
    app.state.access.flush().await;
    let first = access_entries_of(&app, anna).await[0].id;
    access_entry::Entity::update_many()
        .col_expr(
            access_entry::Column::OccurredAt,
            sea_orm::sea_query::Expr::val(chrono::Utc::now() - chrono::Duration::days(400)),
        )
        .filter(access_entry::Column::Id.eq(first))
        .exec(&app.state.db)
        .await
        .unwrap();
    let page = app.get_text("/settings/retention").await;
    app.save_rule(org, Category::AccessLog, 365, Action::Delete)
        .await;

    // Act
    let report = retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    assert!(page.contains("Access log"));
    assert_eq!(
        report.category(Category::AccessLog).unwrap().access_entries,
        1
    );
    let left = access_entries_of(&app, anna).await;
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].id, first);
    assert!(Category::AccessLog.default_rule().after_days() == 365);
}

#[tokio::test]
async fn owners_are_told_when_one_member_opens_more_customers_an_hour_than_the_limit() {
    use crate::smtp::SmtpRecorder;
    // Arrange: the limit is 2 customers an hour
    let smtp = SmtpRecorder::start().await;
    let mut options = crate::helpers::AppOptions::with_smtp(smtp.url());
    options
        .extra_env
        .push(("LETHE_ACCESS_ALERT_CUSTOMERS_PER_HOUR".into(), "2".into()));
    let app = crate::helpers::spawn_app_with(options).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let agent_id = app.create_user("agent@shop.test", "Shop", "agent").await;
    let org = app.org_id("Shop").await;
    let mut customers = Vec::new();
    for i in 0..4 {
        let (id, _) = app
            .receive(
                org,
                mail(
                    &format!("C{i} <c{i}@many.test>"),
                    &format!("m{i}@many.test"),
                    "Hi",
                    "x",
                ),
            )
            .await;
        customers.push(id);
    }
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;

    // Act: two customers (at the limit), then two more
    for id in &customers[..2] {
        agent.get(&format!("/customers/{id}")).await;
    }
    app.state.access.flush().await;
    let at_limit = audit_actions(&app, "access.unusual_pattern").await.len();
    for id in &customers[2..] {
        agent.get(&format!("/customers/{id}")).await;
    }
    app.state.access.flush().await;
    agent.get(&format!("/customers/{}", customers[0])).await;
    app.state.access.flush().await;

    // Assert
    assert_eq!(at_limit, 0);
    let alerts = audit_actions(&app, "access.unusual_pattern").await;
    assert_eq!(alerts.len(), 1, "once an hour per member");
    assert_eq!(alerts[0].target, format!("user:{agent_id}"));
    let mails = smtp.wait_for(1).await;
    assert!(mails[0].contains("owner@shop.test"));
    assert!(mails[0].contains("Unusual access"));
    assert!(!mails[0].contains("agent@shop.test"), "sent to owners only");
}

// ---- a complete answer to an access request ------------------------------------------------

#[tokio::test]
async fn the_export_answers_an_access_request_completely() {
    use crate::webhooks::{Receiver, add_endpoint, deliver_now};
    use std::io::Read;
    // Arrange: a webhook endpoint that was sent an event about Anna, a retention rule, and an
    // agent who opened her conversation
    let (app, org) = owner_app().await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let receiver = Receiver::start();
    let (_, secret) = add_endpoint(&app, &receiver.url(), &["message.created"], false).await;
    receiver.set_secrets(&[&secret]);
    let (anna, conversation_id) = app
        .receive(
            org,
            mail("Anna Art <anna@art.test>", "art1@art.test", "Hi", "x"),
        )
        .await;
    deliver_now(&app).await;
    app.save_rule(org, Category::ClosedConversations, 365, Action::Anonymize)
        .await;
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    agent
        .get(&format!("/conversations/{conversation_id}"))
        .await;
    app.state.access.flush().await;

    // Act
    let zip = app
        .post_form(
            &format!("/customers/{anna}"),
            &format!("/customers/{anna}/export"),
            &[],
        )
        .await
        .bytes()
        .await
        .unwrap();

    // Assert
    let exported = export_json(&zip);
    let about = &exported["about_processing"];
    assert!(
        about["legal_basis"]
            .as_str()
            .unwrap()
            .contains("Art. 6(1)(b)")
    );
    assert_eq!(about["purposes"].as_array().unwrap().len(), 3);
    let retention = about["retention"][0].as_str().unwrap();
    assert!(
        retention.contains("Closed conversations: anonymize after 365 days"),
        "{retention}"
    );
    assert_eq!(about["recipients"]["team_members"][0], "Test User");
    let systems = about["recipients"]["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 1, "{about}");
    assert_eq!(systems[0]["name"], receiver.url());
    assert_eq!(systems[0]["deliveries"], 1);
    assert_eq!(about["sources"][0]["conversation_id"], conversation_id);
    assert_eq!(about["rights"].as_array().unwrap().len(), 7);
    assert!(
        exported["access_log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["what"] == "conversation")
    );
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut html = String::new();
    archive
        .by_name("README.html")
        .expect("README.html")
        .read_to_string(&mut html)
        .unwrap();
    for needle in [
        "Your rights",
        "Legal basis",
        "after 365 days",
        "Test User",
        receiver.url().as_str(),
        "opened a conversation",
        "Anna Art",
    ] {
        assert!(html.contains(needle), "{needle} in README.html");
    }
}

#[tokio::test]
async fn the_api_asks_for_an_override_of_an_unverified_request_too() {
    // Arrange: an API key, and open access and erasure requests of Uwe, not verified
    let (app, org) = owner_app().await;
    app.login("owner@shop.test").await;
    let created = app
        .post_form(
            "/settings/api-keys",
            "/settings/api-keys",
            &[("name", "dsr"), ("scope_privacy", "yes")],
        )
        .await
        .text()
        .await
        .unwrap();
    let key = regex::Regex::new(r"lethe_[A-Za-z0-9_-]{43}")
        .unwrap()
        .find(&created)
        .expect("the new key")
        .as_str()
        .to_owned();
    let (uwe, _) = app
        .receive(
            org,
            mail("Uwe <uwe@kunde.test>", "u1@kunde.test", "Hi", "x"),
        )
        .await;
    app.access_request(org, uwe).await;
    lethe::privacy::requests::create(
        &app.state.db,
        org,
        lethe::privacy::requests::NewRequest {
            kind: lethe::privacy::requests::Kind::Erasure,
            received_at: chrono::Utc::now(),
            customer_id: Some(uwe),
            note: String::new(),
        },
    )
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String| {
        client
            .request(method, app.url(&path))
            .bearer_auth(&key)
            .send()
    };

    // Act
    let export_refused = call(
        reqwest::Method::GET,
        format!("/api/v1/customers/{uwe}/export"),
    )
    .await
    .unwrap();
    let erase_refused = call(
        reqwest::Method::POST,
        format!("/api/v1/customers/{uwe}/erase"),
    )
    .await
    .unwrap();
    let exported = call(
        reqwest::Method::GET,
        format!("/api/v1/customers/{uwe}/export?override_reason=Signed%20letter"),
    )
    .await
    .unwrap();
    let erased = call(
        reqwest::Method::POST,
        format!("/api/v1/customers/{uwe}/erase?override_reason=Signed%20letter"),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(export_refused.status(), 409);
    assert_eq!(erase_refused.status(), 409);
    assert_eq!(exported.status(), 200);
    assert_eq!(erased.status(), 200);
    assert!(app.find_customer(uwe).await.is_none());
    assert_eq!(
        audit_actions(&app, "privacy.verification_overridden")
            .await
            .len(),
        2
    );
}

// ---- people who leave --------------------------------------------------------------------

#[tokio::test]
async fn a_removed_member_s_notes_keys_sessions_and_account_data_go_at_once() {
    use lethe::db::entity::{api_key, message, user};
    // Arrange: Agnes, an admin of Shop only, wrote a note, created an API key and is signed in
    let (app, org) = owner_app().await;
    let agnes = app.create_user("agnes@shop.test", "Shop", "admin").await;
    let (_, conversation_id) = app
        .receive(
            org,
            mail("Kai <kai@kunde.test>", "k1@kunde.test", "Hi", "x"),
        )
        .await;
    lethe::inbox::notes::create(
        &app.state.db,
        org,
        conversation_id,
        agnes,
        "Agnes Adminova",
        "Checked the order",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let browser = app.another_browser();
    browser.login("agnes@shop.test").await;
    let created = browser
        .post_form(
            "/settings/api-keys",
            "/settings/api-keys",
            &[("name", "agnes"), ("scope_read", "yes")],
        )
        .await;
    assert_eq!(created.status(), 200);
    assert_eq!(browser.get("/inbox").await.status(), 200);
    app.login("owner@shop.test").await;

    // Act
    let removed = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{agnes}/remove"),
            &[],
        )
        .await;

    // Assert
    assert_eq!(removed.status(), 303);
    let note = message::Entity::find()
        .filter(message::Column::AuthorId.eq(agnes))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        note.from_name.starts_with("Former member "),
        "{}",
        note.from_name
    );
    let key = api_key::Entity::find()
        .filter(api_key::Column::CreatedBy.eq(agnes))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(key.revoked_at.is_some());
    let after = browser.get("/inbox").await;
    assert_eq!(after.status(), 303, "her session is gone");
    let account = user::Entity::find_by_id(agnes)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!account.email.contains("agnes"), "{}", account.email);
    assert!(account.display_name.starts_with("Former member "));
    assert_ne!(
        app.another_browser()
            .login("agnes@shop.test")
            .await
            .status(),
        303,
        "no sign-in any more"
    );
    let entries = audit_actions(&app, "member.removed").await;
    assert!(
        entries[0].details.contains("\"account_deleted\":true"),
        "{}",
        entries[0].details
    );
    let conversation = app
        .get_text(&format!("/conversations/{conversation_id}"))
        .await;
    assert!(!conversation.contains("Agnes Adminova"));
    // The audit log: her rows (sign-in, key created) name `user:<id>`, the address is gone,
    // and the chain still verifies.
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.eq(agnes))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(rows.len() >= 2, "{rows:?}");
    let everything = audit_event::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        everything
            .iter()
            .all(|r| !format!("{r:?}").contains("agnes@shop.test")),
        "no audit row holds her address"
    );
    let verified = lethe::audit::verify(&app.state.db, app.state.audit.key())
        .await
        .unwrap();
    assert!(
        matches!(verified, lethe::audit::Verification::Intact { .. }),
        "{verified:?}"
    );
    let log = app.get_text("/audit").await;
    assert!(log.contains(&format!("former member #{agnes}")), "{log}");
    assert!(
        log.contains("owner@shop.test"),
        "members still there show their address"
    );
}

#[tokio::test]
async fn an_organization_s_deletion_is_confirmed_by_a_file_during_the_window_and_a_mail_when_done()
{
    use crate::smtp::SmtpRecorder;
    use lethe::db::entity::organization_deletion;
    // Arrange: the owner of "Gone Shop" schedules its deletion
    let smtp = SmtpRecorder::start().await;
    let app =
        crate::helpers::spawn_app_with(crate::helpers::AppOptions::with_smtp(smtp.url())).await;
    app.create_user("owner@gone.test", "Gone Shop", "owner")
        .await;
    app.login("owner@gone.test").await;
    let scheduled = app
        .post_form(
            "/settings/organization",
            "/settings/organization/deletion",
            &[("confirm_name", "Gone Shop")],
        )
        .await;
    assert_eq!(scheduled.status(), 303);
    let page = app.get_text("/settings/organization").await;

    // Act: the file during the window, then the purge after it
    let receipt = app.get("/settings/organization/deletion/receipt").await;
    let disposition = receipt.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = receipt.text().await.unwrap();
    let row = organization_deletion::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    organization_deletion::Entity::update_many()
        .col_expr(
            organization_deletion::Column::PurgeAfter,
            (chrono::Utc::now() - chrono::Duration::minutes(1)).into(),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let outcome = lethe::jobs::org_purge::run_once(&app.state).await.unwrap();

    // Assert
    assert!(page.contains("/settings/organization/deletion/receipt"));
    assert!(disposition.contains("lethe-deletion-"));
    assert!(text.contains("Gone Shop"), "{text}");
    assert!(
        text.contains(&row.purge_after.format("%Y-%m-%d %H:%M UTC").to_string()),
        "{text}"
    );
    assert_eq!(outcome.purged, 1);
    let mails = smtp.wait_for(1).await;
    assert!(mails[0].contains("owner@gone.test"));
    assert!(mails[0].contains("was deleted"), "{}", mails[0]);
    assert!(mails[0].contains("Gone Shop"));
}

#[tokio::test]
async fn a_user_deletes_their_own_account_unless_they_are_the_last_owner() {
    use lethe::db::entity::{membership, user};
    // Arrange
    let (app, _) = owner_app().await;
    let leaver = app.create_user("leaver@shop.test", "Shop", "admin").await;
    let browser = app.another_browser();
    browser.login("leaver@shop.test").await;
    app.login("owner@shop.test").await;

    // Act
    let wrong = browser
        .post_form("/account", "/account/delete", &[("password", "not it")])
        .await;
    let last_owner = app
        .post_form(
            "/account",
            "/account/delete",
            &[("password", crate::helpers::PASSWORD)],
        )
        .await;
    let deleted = browser
        .post_form(
            "/account",
            "/account/delete",
            &[("password", crate::helpers::PASSWORD)],
        )
        .await;

    // Assert
    assert_eq!(wrong.status(), 400);
    assert_eq!(last_owner.status(), 400);
    assert!(
        last_owner
            .text()
            .await
            .unwrap()
            .contains("last owner of an organization")
    );
    assert_eq!(deleted.status(), 303);
    assert!(crate::helpers::location(&deleted).starts_with("/login"));
    let account = user::Entity::find_by_id(leaver)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!account.email.contains("leaver"));
    assert_eq!(
        membership::Entity::find()
            .filter(membership::Column::UserId.eq(leaver))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(browser.get("/inbox").await.status(), 303, "signed out");
    let entries = audit_actions(&app, "account.deleted").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].organization_id,
        Some(app.org_id("Shop").await),
        "in the organization's own log"
    );
}

#[tokio::test]
async fn an_export_at_night_is_reported_to_the_owners() {
    use chrono::TimeZone;
    use lethe::audit::access::{Access, Kind};
    // Arrange
    let (app, org) = owner_app().await;
    let agent = app.create_user("agent@shop.test", "Shop", "admin").await;
    let (anna, _) = app
        .receive(
            org,
            mail("Anna <anna@nacht.test>", "n1@nacht.test", "Hi", "x"),
        )
        .await;
    let today = chrono::Utc::now().date_naive();
    let at = |hour| chrono::Utc.from_utc_datetime(&today.and_hms_opt(hour, 10, 0).unwrap());
    let export = |hour| Access {
        org,
        user_id: agent,
        customer_id: Some(anna),
        conversation_id: None,
        kind: Kind::Export,
        client: None,
        at: at(hour),
    };

    // Act: one export by day, then one at 03:10 UTC
    app.state.access.record(export(14));
    app.state.access.flush().await;
    let by_day = audit_actions(&app, "access.export_at_night").await.len();
    app.state.access.record(export(3));
    app.state.access.flush().await;

    // Assert
    assert_eq!(by_day, 0);
    let alerts = audit_actions(&app, "access.export_at_night").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].target, format!("user:{agent}"));
}

#[tokio::test]
async fn many_failed_sign_ins_are_reported_to_the_owners_once_per_window() {
    use crate::smtp::SmtpRecorder;
    // Arrange: an owner, an admin, and three agents whose passwords someone guesses (four
    // tries each: under the per-account and per-address throttles, twelve failures in all)
    let smtp = SmtpRecorder::start().await;
    let app =
        crate::helpers::spawn_app_with(crate::helpers::AppOptions::with_smtp(smtp.url())).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("admin@shop.test", "Shop", "admin").await;
    let agents = ["a1@shop.test", "a2@shop.test", "a3@shop.test"];
    for agent in agents {
        app.create_user(agent, "Shop", "agent").await;
    }
    let guesser = app.another_browser();

    // Act
    let mut refused = Vec::new();
    for agent in agents {
        for _ in 0..4 {
            refused.push(guesser.login_with(agent, "a wrong guess").await.status());
        }
    }

    // Assert: every try refused as a wrong password, one alert for the window
    assert!(refused.iter().all(|s| s.as_u16() == 401), "{refused:?}");
    assert_eq!(audit_actions(&app, "login.failed").await.len(), 12);
    let alerts = audit_actions(&app, "login.failed_burst").await;
    assert_eq!(alerts.len(), 1, "one alert per window, not one per try");
    assert_eq!(alerts[0].organization_id, Some(app.org_id("Shop").await));
    assert!(
        alerts[0].details.contains("\"accounts\":3"),
        "{}",
        alerts[0].details
    );
    smtp.wait_for(1).await;
    let to = |address: &str| -> Vec<String> {
        smtp.messages()
            .into_iter()
            .filter(|m| m.starts_with(&format!("X-Recorded-Rcpt: {address}\r\n")))
            .map(|m| crate::smtp::unfold_qp(&m))
            .filter(|m| m.contains("LETHE_ACCESS_ALERT_FAILED_SIGN_INS"))
            .collect()
    };
    let to_owner = to("owner@shop.test");
    assert_eq!(to_owner.len(), 1, "one mail to the owner");
    assert!(
        to_owner[0].contains("accounts at Shop failed"),
        "{}",
        to_owner[0]
    );
    assert!(!to_owner[0].contains("a1@shop.test"), "no account named");
    assert!(to("admin@shop.test").is_empty(), "owners only");
}

// ---- purposes of processing, and the customer's language ---------------------------------

/// `README.html` of an export ZIP.
fn export_readme(zip: &[u8]) -> String {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).expect("a ZIP");
    let mut html = String::new();
    archive
        .by_name("README.html")
        .expect("README.html")
        .read_to_string(&mut html)
        .unwrap();
    html
}

async fn export_zip(app: &TestApp, customer: i64) -> Vec<u8> {
    app.post_form(
        &format!("/customers/{customer}"),
        &format!("/customers/{customer}/export"),
        &[],
    )
    .await
    .bytes()
    .await
    .unwrap()
    .to_vec()
}

#[tokio::test]
async fn admins_set_the_purposes_of_processing_that_every_export_gives() {
    use lethe::db::entity::processing_purpose;
    // Arrange: Lethe's defaults, a customer, an agent
    let (app, org) = owner_app().await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let (customer, _) = app
        .receive(
            org,
            mail("Pia <pia@kunde.test>", "p1@kunde.test", "Hi", "x"),
        )
        .await;
    let defaults = app.get_text("/settings/privacy").await;

    // Act: a purpose without a legal basis and one too long, then a valid list
    let refused = app
        .post_form(
            "/settings/privacy",
            "/settings/privacy/purposes",
            &[
                ("purpose_0", "Invoicing"),
                ("purpose_1", &"x".repeat(301)),
                ("basis_1", "contract"),
            ],
        )
        .await;
    let refused_status = refused.status();
    let refused_page = refused.text().await.unwrap();
    let saved_before = app.count::<processing_purpose::Entity>().await;
    let forged = app
        .client
        .post(app.url("/settings/privacy/purposes"))
        .form(&[
            ("csrf", "forged"),
            ("purpose_0", "Forged"),
            ("basis_0", "consent"),
        ])
        .send()
        .await
        .unwrap();
    let saved = app
        .post_form(
            "/settings/privacy",
            "/settings/privacy/purposes",
            &[
                ("purpose_0", "Sending invoices and order confirmations"),
                ("basis_0", "contract"),
                ("basis_0", "legal_obligation"),
                ("purpose_1", ""),
            ],
        )
        .await;
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    let by_agent = agent.get("/settings/privacy").await;
    let zip = export_zip(&app, customer).await;

    // Assert
    assert!(defaults.contains("Answering your enquiries"), "{defaults}");
    assert!(defaults.contains("nothing is saved yet"), "{defaults}");
    assert_eq!(refused_status, 422);
    assert!(refused_page.contains("Purpose 1: choose at least one legal basis."));
    assert!(refused_page.contains("Purpose 2: at most 300 characters."));
    assert!(
        refused_page.contains("value=\"Invoicing\""),
        "kept as typed"
    );
    assert_eq!(saved_before, 0, "a refused form changes nothing");
    assert_eq!(forged.status(), 403);
    assert_eq!(saved.status(), 303);
    assert_eq!(by_agent.status(), 403);
    assert_eq!(app.count::<processing_purpose::Entity>().await, 1);
    let changed = audit_actions(&app, "privacy.purposes_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].organization_id, Some(org));
    let about = &export_json(&zip)["about_processing"];
    assert_eq!(
        about["purposes"],
        serde_json::json!(["Sending invoices and order confirmations"])
    );
    let bases: Vec<&str> = about["processing"][0]["legal_bases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(bases, ["contract", "legal_obligation"]);
    assert!(
        about["legal_basis"]
            .as_str()
            .unwrap()
            .contains("Art. 6(1)(c)")
    );
    let html = export_readme(&zip);
    assert!(
        html.contains("Sending invoices and order confirmations"),
        "{html}"
    );
    assert!(
        html.contains("Art. 6(1)(b) GDPR, Art. 6(1)(c) GDPR"),
        "{html}"
    );
    assert!(
        !html.contains("Answering your enquiries"),
        "the defaults are replaced"
    );
}

#[tokio::test]
async fn a_german_writing_customer_s_export_readme_is_german() {
    // Arrange: the admin reads English; Jürgen writes German, Emma English
    let (app, org) = owner_app().await;
    app.login("owner@shop.test").await;
    let (juergen, _) = app
        .receive(
            org,
            mail(
                "Jürgen <juergen@kunde.test>",
                "de1@kunde.test",
                "Rücksendung meiner Bestellung",
                "Guten Tag, ich möchte meine Bestellung zurückschicken, weil die Schuhe nicht \
                 passen. Können Sie mir bitte ein Etikett für die Rücksendung schicken? Vielen \
                 Dank und freundliche Grüße",
            ),
        )
        .await;
    let (emma, _) = app
        .receive(
            org,
            mail(
                "Emma <emma@customer.test>",
                "en1@customer.test",
                "Return of my order",
                "Hello, I would like to return my order because the shoes do not fit. Could \
                 you please send me a label for the return? Thank you and kind regards",
            ),
        )
        .await;

    // Act
    let german = export_zip(&app, juergen).await;
    let english = export_zip(&app, emma).await;

    // Assert
    assert_eq!(export_json(&german)["about_processing"]["language"], "de");
    let html = export_readme(&german);
    for needle in [
        "lang=\"de\"",
        "Ihre Daten",
        "Ihre Rechte",
        "Rechtsgrundlage",
        "Beantwortung Ihrer Anfragen",
        "Art. 6 Abs. 1 lit. b DSGVO",
    ] {
        assert!(
            html.contains(needle),
            "{needle} in the German README.html: {html}"
        );
    }
    assert!(!html.contains("GDPR"), "German citations only: {html}");
    assert_eq!(export_json(&english)["about_processing"]["language"], "en");
    assert!(export_readme(&english).contains("Your rights"));
}

#[tokio::test]
async fn a_removed_member_s_name_is_no_longer_found_by_search() {
    // Arrange: Agnes wrote a note; search finds her name
    let (app, org) = owner_app().await;
    let agnes = app.create_user("agnes@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let (_, conversation_id) = app
        .receive(
            org,
            mail(
                "Kai <kai@kunde.test>",
                "k9@kunde.test",
                "Parcel",
                "Where is it?",
            ),
        )
        .await;
    lethe::inbox::notes::create(
        &app.state.db,
        org,
        conversation_id,
        agnes,
        "Agnes Adminova",
        "Checked the parcel with the carrier",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    let before = app.get_text("/search?q=Adminova").await;

    // Act: she leaves the team
    let removed = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{agnes}/remove"),
            &[],
        )
        .await;
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    let after = app.get_text("/search?q=Adminova").await;
    let by_text = app.get_text("/search?q=carrier").await;

    // Assert
    let link = format!("href=\"/conversations/{conversation_id}\"");
    assert!(before.contains(&link), "found by her name before: {before}");
    assert_eq!(removed.status(), 303);
    assert!(
        !after.contains(&link),
        "not found by her name after: {after}"
    );
    assert!(by_text.contains(&link), "the note itself is still found");
}
