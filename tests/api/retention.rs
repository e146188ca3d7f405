//! Retention: rules (page and CLI), dry runs, delete and anonymize, legal hold, tenant
//! isolation, the audit trail, and "deleted means gone" in the raw bytes of the data directory.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::helpers::{
    Mail, TestApp, arriving, files_holding, files_under, imported, mail, spawn_app,
};
use lethe::db::entity::{
    attachment, audit_event, conversation, conversation_tag, customer, customer_email, message,
    retention_rule, retention_run, retention_setting,
};
use lethe::orgs::OrgId;
use lethe::retention::run::CategoryCounts;
use lethe::retention::{self, Action, Category, RetentionRule};

struct Person<'a> {
    name: &'a str,
    address: &'a str,
}

/// A customer mail of 3 Nov 2020 with an attachment, imported; returns the conversation id.
async fn ingest(
    app: &TestApp,
    org: OrgId,
    person: &Person<'_>,
    message_id: &str,
    subject: &str,
    body: &str,
    attachment: &str,
) -> i64 {
    let from = format!("{} <{}>", person.name, person.address);
    let raw = mail(&from, message_id, subject, body)
        .date("Tue, 3 Nov 2020 10:00:00 +0100")
        .text_attachment("invoice.txt", attachment);
    app.ingest(imported(org), raw).await.0
}

/// Runs the organization's rules (not dry); returns what they did in `category`.
async fn run_for(app: &TestApp, org: OrgId, category: Category) -> CategoryCounts {
    let report = retention::run_once(&app.state, org, false).await.unwrap();
    report.category(category).unwrap().clone()
}

/// Posts the rule form of the retention page: `action` for `category` after `days` days.
async fn post_rule(app: &TestApp, category: &str, days: &str, action: &str) -> reqwest::Response {
    let rule = [
        ("category", category),
        ("after_days", days),
        ("action", action),
    ];
    app.post_form("/settings/retention", "/settings/retention/rules", &rule)
        .await
}

fn blob_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    let dir = app.data_dir.join("attachments");
    if !dir.exists() {
        return Vec::new();
    }
    files_under(&dir)
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains(".tmp"))
        .collect()
}

fn is_sqlite(app: &TestApp) -> bool {
    app.database_url.is_none()
}

async fn owner_app() -> (TestApp, OrgId) {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    (app, org)
}

#[tokio::test]
async fn rules_are_validated_on_the_page_and_on_the_command_line() {
    let (app, org) = owner_app().await;
    app.login("owner@shop.test").await;

    let page = app.get_text("/settings/retention").await;
    assert!(
        page.contains("Suggested default, not applied"),
        "defaults shown"
    );
    assert_eq!(
        app.count::<retention_rule::Entity>().await,
        0,
        "defaults are not applied"
    );

    let short = post_rule(&app, "audit_log", "100", "delete").await;
    assert_eq!(short.status(), 422);
    assert!(short.text().await.unwrap().contains("at least 365 days"));
    let bad_action = post_rule(&app, "closed_conversations", "30", "shred").await;
    assert_eq!(bad_action.status(), 422);
    assert!(
        retention::saved_rules(&app.state.db, org)
            .await
            .unwrap()
            .is_empty()
    );

    let saved = post_rule(&app, "closed_conversations", "30", "anonymize").await;
    assert_eq!(saved.status(), 303);
    let rules = retention::saved_rules(&app.state.db, org).await.unwrap();
    assert_eq!(
        rules,
        vec![RetentionRule::new(Category::ClosedConversations, 30, Action::Anonymize).unwrap()]
    );
    let changed = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("retention.rule_changed"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(changed, 1, "the change is audit-logged");

    let app_for_cli = &app;
    let cli = |args: &[&str]| {
        app_for_cli
            .lethe()
            .args(["retention", "rules", "set", "--org", "Shop"])
            .args(args)
            .output()
            .unwrap()
    };
    let short = cli(&[
        "--category",
        "audit_log",
        "--after-days",
        "100",
        "--action",
        "delete",
    ]);
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("--after-days"));
    let bad = cli(&[
        "--category",
        "attachments",
        "--after-days",
        "30",
        "--action",
        "shred",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--action"));
    let ok = cli(&[
        "--category",
        "audit_log",
        "--after-days",
        "400",
        "--action",
        "delete",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        retention::saved_rules(&app.state.db, org)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn agents_are_refused_the_retention_settings_and_legal_hold() {
    let (app, org) = owner_app().await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    let conversation = ingest(
        &app,
        org,
        &Person {
            name: "Ann Example",
            address: "ann@example.test",
        },
        "a1@example.test",
        "Hello",
        "Hi",
        "file",
    )
    .await;
    app.login("agent@shop.test").await;
    assert_eq!(app.get("/settings/retention").await.status(), 403);
    let csrf = crate::helpers::csrf_of(&app.get_text("/inbox").await);
    let hold = app
        .post_with_csrf(
            &format!("/conversations/{conversation}/legal-hold"),
            &csrf,
            &[("reason", "lawsuit")],
        )
        .await;
    assert_eq!(hold.status(), 403);
    let nav = app.get_text("/inbox").await;
    assert!(
        !nav.contains("/settings/retention"),
        "no nav entry for agents"
    );
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_a_delete_run_removes_old_closed_conversations_and_files() {
    let (app, org) = owner_app().await;
    let old = ingest(
        &app,
        org,
        &Person {
            name: "Olga Old",
            address: "olga@old.test",
        },
        "old-1@old.test",
        "Old order",
        "Where is my parcel?",
        "old invoice 1111",
    )
    .await;
    let recent = ingest(
        &app,
        org,
        &Person {
            name: "Nina New",
            address: "nina@new.test",
        },
        "new-1@new.test",
        "New order",
        "Where is my parcel now?",
        "new invoice 2222",
    )
    .await;
    app.close_days_ago(old, 400).await;
    app.close_days_ago(recent, 10).await;
    app.save_rule(org, Category::ClosedConversations, 365, Action::Delete)
        .await;
    assert_eq!(blob_files(&app).len(), 2);

    let dry = retention::run::run_with(
        &app.state,
        org,
        retention::run::RunOptions {
            dry_run: true,
            trigger: "cli",
            actor: lethe::audit::Actor::System("test"),
        },
    )
    .await
    .unwrap();
    let counts = dry.category(Category::ClosedConversations).unwrap();
    assert_eq!(
        (counts.conversations, counts.customers, counts.attachments),
        (1, 1, 1)
    );
    assert_eq!(app.count::<conversation::Entity>().await, 2);
    assert_eq!(blob_files(&app).len(), 2, "a dry run deletes nothing");

    let counts = run_for(&app, org, Category::ClosedConversations).await;
    assert_eq!(
        (counts.conversations, counts.messages, counts.attachments),
        (1, 1, 1)
    );
    assert!(app.find_conversation(old).await.is_none());
    assert!(app.find_conversation(recent).await.is_some());
    assert_eq!(blob_files(&app).len(), 1, "the old attachment file is gone");
    assert_eq!(app.count::<attachment::Entity>().await, 1);

    assert_eq!(
        run_for(&app, org, Category::ClosedConversations)
            .await
            .conversations,
        0,
        "idempotent"
    );
    let runs = audit_event::Entity::find()
        .filter(audit_event::Column::Action.is_in(["retention.run", "retention.dry_run"]))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(runs, 3, "every run is audit-logged");
    assert!(matches!(
        lethe::audit::verify(&app.state.db, app.state.audit.key())
            .await
            .unwrap(),
        lethe::audit::Verification::Intact { .. }
    ));
}

#[tokio::test]
async fn anonymization_replaces_personal_data_and_keeps_status_tags_timestamps_and_counts() {
    let (app, org) = owner_app().await;
    let person = Person {
        name: "Bertrande Vaucanson",
        address: "b.vaucanson@anon-mail.test",
    };
    let id = ingest(
        &app,
        org,
        &person,
        "anon-1@anon-mail.test",
        "Refund for Bertrande Vaucanson",
        "Hello, this is Bertrande Vaucanson. Please refund to my IBAN DE89 3704 0044 0532 0130 00 or write to b.vaucanson@anon-mail.test, phone +49 30 1234567. I live at Lindenstraße 12, 10115 Berlin.",
        "attached receipt",
    )
    .await;
    app.close_days_ago(id, 100).await;
    app.tag_conversation(org, id, "refund").await;
    let before = app.conversation(id).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Anonymize)
        .await;

    let counts = run_for(&app, org, Category::ClosedConversations).await;
    assert_eq!(
        (counts.conversations, counts.customers, counts.attachments),
        (1, 1, 1)
    );

    let after = app.conversation(id).await;
    assert_eq!(after.status, "closed");
    assert_eq!(after.created_at, before.created_at);
    assert_eq!(after.last_activity_at, before.last_activity_at);
    assert_eq!(after.closed_at, before.closed_at);
    assert_eq!(after.message_count, before.message_count);
    assert_eq!(after.channel_id, before.channel_id);
    assert_ne!(
        after.customer_id, before.customer_id,
        "a new pseudonymous customer"
    );
    assert!(!after.subject.contains("Vaucanson"), "{}", after.subject);
    let tags = conversation_tag::Entity::find()
        .filter(conversation_tag::Column::ConversationId.eq(id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(tags, 1, "tags stay");
    let pseudonym = app.find_customer(after.customer_id).await.unwrap();
    assert!(
        pseudonym.display_name.starts_with("Customer "),
        "{}",
        pseudonym.display_name
    );
    assert!(app.find_customer(before.customer_id).await.is_none());
    assert_eq!(app.count::<customer_email::Entity>().await, 0);
    let messages = message::Entity::find()
        .filter(message::Column::ConversationId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    let all_text = format!(
        "{} {} {} {} {} {} {}",
        m.subject,
        m.text_body,
        m.html_body.clone().unwrap_or_default(),
        m.from_name,
        m.from_address,
        m.to_addresses,
        m.message_id_header
    );
    for secret in [
        "Bertrande",
        "Vaucanson",
        "vaucanson",
        "anon-mail.test",
        "DE89",
        "0532 0130",
        "1234567",
        "Lindenstraße 12",
    ] {
        assert!(!all_text.contains(secret), "{secret} left in {all_text}");
    }
    assert!(
        m.text_body.contains("[IBAN]") && m.text_body.contains("[EMAIL]"),
        "{}",
        m.text_body
    );
    assert_eq!(app.count::<attachment::Entity>().await, 0);
    assert!(blob_files(&app).is_empty());

    assert_eq!(
        run_for(&app, org, Category::ClosedConversations)
            .await
            .conversations,
        0,
        "anonymized once"
    );
}

#[tokio::test]
async fn legal_hold_is_set_by_admins_and_retention_skips_and_reports_it() {
    let (app, org) = owner_app().await;
    let held = ingest(
        &app,
        org,
        &Person {
            name: "Hilde Held",
            address: "hilde@held.test",
        },
        "held-1@held.test",
        "Dispute",
        "I dispute this",
        "evidence",
    )
    .await;
    let by_customer = ingest(
        &app,
        org,
        &Person {
            name: "Karl Kept",
            address: "karl@kept.test",
        },
        "kept-1@kept.test",
        "Other",
        "Please keep",
        "evidence two",
    )
    .await;
    app.close_days_ago(held, 400).await;
    app.close_days_ago(by_customer, 400).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    app.login("owner@shop.test").await;
    let page = format!("/conversations/{held}");
    let missing_reason = app.legal_hold(&page, &[("reason", "  ")]).await;
    assert_eq!(missing_reason.status(), 400);
    let set = app
        .legal_hold(&page, &[("reason", "Court case 12/2026")])
        .await;
    assert_eq!(set.status(), 303);
    let karl = app.conversation(by_customer).await;
    let set_customer = app
        .post_form(
            &page,
            &format!("/customers/{}/legal-hold", karl.customer_id),
            &[("reason", "Tax audit")],
        )
        .await;
    assert_eq!(set_customer.status(), 303);

    let counts = run_for(&app, org, Category::ClosedConversations).await;
    assert_eq!((counts.conversations, counts.skipped_legal_hold), (0, 2));
    assert_eq!(app.count::<conversation::Entity>().await, 2);
    let logged = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("legal_hold.set"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(logged, 2);

    let release = app.legal_hold(&page, &[("release", "1")]).await;
    assert_eq!(release.status(), 303);
    let counts = run_for(&app, org, Category::ClosedConversations).await;
    assert_eq!((counts.conversations, counts.skipped_legal_hold), (1, 1));
}

#[tokio::test]
async fn another_organizations_data_is_never_touched_and_its_ids_answer_404() {
    let (app, org) = owner_app().await;
    app.create_user("other@else.test", "Elsewhere", "owner")
        .await;
    let other = app.org_id("Elsewhere").await;
    let mine = ingest(
        &app,
        org,
        &Person {
            name: "Mia Mine",
            address: "mia@mine.test",
        },
        "m-1@mine.test",
        "Mine",
        "mine",
        "a",
    )
    .await;
    let theirs = ingest(
        &app,
        other,
        &Person {
            name: "Theo Theirs",
            address: "theo@theirs.test",
        },
        "t-1@theirs.test",
        "Theirs",
        "theirs",
        "b",
    )
    .await;
    app.close_days_ago(mine, 400).await;
    app.close_days_ago(theirs, 400).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    app.save_rule(
        org,
        Category::CustomersWithoutConversations,
        1,
        Action::Delete,
    )
    .await;

    retention::run_once(&app.state, org, false).await.unwrap();
    assert!(app.find_conversation(mine).await.is_none());
    assert!(app.find_conversation(theirs).await.is_some());
    assert_eq!(blob_files(&app).len(), 1);

    app.login("owner@shop.test").await;
    let hold = app
        .post_form(
            "/inbox",
            &format!("/conversations/{theirs}/legal-hold"),
            &[("reason", "x")],
        )
        .await;
    assert_eq!(hold.status(), 404);
}

#[tokio::test]
async fn deleted_and_anonymized_customers_leave_no_bytes_in_the_data_directory() {
    let (app, org) = owner_app().await;
    let gone = Person {
        name: "Quirinus Zapfenstreich",
        address: "quirinus.zapf@zapfmail-unique.test",
    };
    let sentence = "The violet heron counts marbles under Zapfenbrook bridge";
    let deleted = ingest(
        &app,
        org,
        &gone,
        "zapf-1@zapfmail-unique.test",
        "Zapfenstreich order",
        sentence,
        "Zapfenstreich attachment payload",
    )
    .await;
    let anon = Person {
        name: "Ottilie Wrenfeather",
        address: "ottilie.w@wrenpost-unique.test",
    };
    let anonymized = ingest(
        &app,
        org,
        &anon,
        "wren-1@wrenpost-unique.test",
        "Question from Ottilie Wrenfeather",
        "Please write to ottilie.w@wrenpost-unique.test or pay back to DE89370400440532013000. Regards, Ottilie Wrenfeather",
        "Wrenfeather attachment payload",
    )
    .await;
    app.close_days_ago(deleted, 800).await;
    app.close_days_ago(anonymized, 100).await;
    // any_conversation deletes what is older than 500 days; closed ones older than 30 are anonymized.
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::LastActivityAt,
            Expr::val(Utc::now() - Duration::days(800)),
        )
        .filter(conversation::Column::Id.eq(deleted))
        .exec(&app.state.db)
        .await
        .unwrap();
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::LastActivityAt,
            Expr::val(Utc::now() - Duration::days(100)),
        )
        .filter(conversation::Column::Id.eq(anonymized))
        .exec(&app.state.db)
        .await
        .unwrap();
    app.save_rule(org, Category::AnyConversation, 500, Action::Delete)
        .await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Anonymize)
        .await;
    app.save_rule(
        org,
        Category::CustomersWithoutConversations,
        1,
        Action::Delete,
    )
    .await;

    let needles = [
        "Zapfenstreich",
        "quirinus",
        "zapfmail-unique",
        "violet heron counts marbles",
        "Wrenfeather",
        "Ottilie",
        "wrenpost-unique",
        "DE89370400440532013000",
    ];
    // The mails are in the search index (as the running server's indexer puts them there),
    // and the scan sees their stored text in its files: it can fail. (Words that are only
    // indexed, like the sender's address, live in the compressed term dictionary, which a
    // merge rewrites without the words no live document has.)
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    let index_dir = app.data_dir.join("index");
    let stored_in_index = [
        "Zapfenstreich",
        "violet heron counts marbles",
        "Wrenfeather",
        "Ottilie",
        "wrenpost-unique",
        "DE89370400440532013000",
    ];
    for needle in stored_in_index {
        assert!(
            !files_holding(&index_dir, needle, true).is_empty(),
            "{needle} is not in the index files before the run"
        );
    }
    for needle in needles {
        if is_sqlite(&app) {
            lethe::db::checkpoint(&app.state.db).await.unwrap();
            assert!(
                !files_holding(&app.data_dir, needle, false).is_empty(),
                "{needle} is not in the data directory before the run"
            );
        }
    }

    // Act: a run with no server running (nothing else drains the search queue).
    let report = retention::run_once(&app.state, org, false).await.unwrap();
    assert_eq!(
        report
            .category(Category::AnyConversation)
            .unwrap()
            .conversations,
        1
    );
    assert_eq!(
        report
            .category(Category::ClosedConversations)
            .unwrap()
            .conversations,
        1
    );

    for needle in needles {
        let hits = files_holding(&index_dir, needle, true);
        assert!(hits.is_empty(), "{needle} left in the index: {hits:?}");
    }
    if is_sqlite(&app) {
        for needle in needles {
            let hits = files_holding(&app.data_dir, needle, false);
            assert!(hits.is_empty(), "{needle} found in {hits:?}");
        }
    } else {
        // PostgreSQL: the rows are gone or rewritten (reclaiming dead tuples is VACUUM's,
        // the operator's job).
        let mut text = String::new();
        for m in message::Entity::find().all(&app.state.db).await.unwrap() {
            text.push_str(&format!("{m:?}"));
        }
        for c in conversation::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
        {
            text.push_str(&format!("{c:?}"));
        }
        for c in customer::Entity::find().all(&app.state.db).await.unwrap() {
            text.push_str(&format!("{c:?}"));
        }
        for e in customer_email::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
        {
            text.push_str(&format!("{e:?}"));
        }
        for a in attachment::Entity::find().all(&app.state.db).await.unwrap() {
            text.push_str(&format!("{a:?}"));
        }
        for needle in needles {
            assert!(!text.contains(needle), "{needle} left in the database");
        }
        for needle in ["Zapfenstreich attachment", "Wrenfeather attachment"] {
            assert!(files_holding(&app.data_dir, needle, false).is_empty());
        }
    }
    assert!(blob_files(&app).is_empty(), "attachment files removed");
}

#[tokio::test]
async fn the_cli_runs_retention_and_prints_json_counts_per_category() {
    let (app, org) = owner_app().await;
    let id = ingest(
        &app,
        org,
        &Person {
            name: "Cli Person",
            address: "cli@person.test",
        },
        "cli-1@person.test",
        "CLI",
        "cli",
        "c",
    )
    .await;
    app.close_days_ago(id, 400).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    let dry = app
        .lethe()
        .args(["retention", "run", "--org", "Shop", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(json[0]["dry_run"], true);
    assert_eq!(
        json[0]["categories"]["closed_conversations"]["conversations"],
        1
    );
    assert!(app.find_conversation(id).await.is_some());
    let run = app
        .lethe()
        .args(["retention", "run", "--json"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        json[0]["categories"]["closed_conversations"]["conversations"],
        1
    );
    assert!(app.find_conversation(id).await.is_none());
}

#[tokio::test]
async fn the_settings_page_previews_saved_and_proposed_rules_and_lists_runs() {
    let (app, org) = owner_app().await;
    for i in 0..3 {
        let id = ingest(
            &app,
            org,
            &Person {
                name: "Pia Preview",
                address: "pia@preview.test",
            },
            &format!("p-{i}@preview.test"),
            &format!("Q{i}"),
            "hi",
            &format!("file {i}"),
        )
        .await;
        app.close_days_ago(id, 400).await;
    }
    app.login("owner@shop.test").await;
    let proposal = app
        .post_form(
            "/settings/retention",
            "/settings/retention/preview",
            &[
                ("category", "closed_conversations"),
                ("after_days", "30"),
                ("action", "anonymize"),
            ],
        )
        .await;
    assert_eq!(proposal.status(), 200);
    let html = proposal.text().await.unwrap();
    assert!(
        html.contains("anonymize 3 conversations of 1 customers, deleting 3 attachments"),
        "{html}"
    );
    assert_eq!(app.count::<conversation::Entity>().await, 3);
    assert!(
        retention::saved_rules(&app.state.db, org)
            .await
            .unwrap()
            .is_empty(),
        "a preview saves nothing"
    );

    app.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    retention::run_once(&app.state, org, false).await.unwrap();
    let html = app.get_text("/settings/retention").await;
    assert!(
        html.contains("delete 3 conversations of 1 customers"),
        "history shows counts"
    );
    assert!(html.contains("Next scheduled run"));
}

// ---- helpers for the tests below ----------------------------------------------------------

/// A plain mail of today with one attachment.
fn mail_with_attachment(from: &str, message_id: &str, subject: &str, attachment: &str) -> Mail {
    mail(from, message_id, subject, "See the attached file.")
        .undated()
        .text_attachment("scan.txt", attachment)
}

async fn set_last_activity_days_ago(app: &TestApp, conversation_id: i64, days: i64) {
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::LastActivityAt,
            Expr::val(Utc::now() - Duration::days(days)),
        )
        .filter(conversation::Column::Id.eq(conversation_id))
        .exec(&app.state.db)
        .await
        .unwrap();
}

async fn set_schedule_checked_at(app: &TestApp, org: OrgId, at: chrono::DateTime<Utc>) {
    retention::ensure_settings(&app.state.db, org)
        .await
        .unwrap();
    retention_setting::Entity::update_many()
        .col_expr(retention_setting::Column::ScheduleCheckedAt, Expr::val(at))
        .filter(retention_setting::Column::OrganizationId.eq(org.get()))
        .exec(&app.state.db)
        .await
        .unwrap();
}

async fn schedule_checked_at(app: &TestApp, org: OrgId) -> chrono::DateTime<Utc> {
    retention::ensure_settings(&app.state.db, org)
        .await
        .unwrap()
        .schedule_checked_at
        .unwrap()
}

async fn audit_count(app: &TestApp, action: &str) -> u64 {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn runs_of(app: &TestApp, org: OrgId) -> Vec<retention_run::Model> {
    retention_run::Entity::find()
        .filter(retention_run::Column::OrganizationId.eq(org.get()))
        .order_by_asc(retention_run::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
}

/// Waits (up to 60 s) until the organization has `n` finished runs; a background run (the
/// "run now" button, a starting server) ends when it ends.
async fn wait_for_finished_runs(app: &TestApp, org: OrgId, n: usize) -> Vec<retention_run::Model> {
    for _ in 0..600 {
        let runs = runs_of(app, org).await;
        if runs.iter().filter(|r| r.finished_at.is_some()).count() >= n {
            return runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no finished retention run: {:?}", runs_of(app, org).await);
}

/// Sets a file's modification time `hours` back, as if that much time had passed.
fn age_file(path: &std::path::Path, hours: u64) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(hours * 3600);
    std::fs::File::options()
        .append(true)
        .open(path)
        .unwrap()
        .set_modified(then)
        .unwrap();
}

fn blob_path(app: &TestApp, id: &str) -> std::path::PathBuf {
    app.data_dir.join("attachments").join(&id[..2]).join(id)
}

fn encode(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// The conversation ids the search page lists for `q`.
async fn search_hits(app: &TestApp, q: &str) -> Vec<i64> {
    let html = app.get_text(&format!("/search?q={}", encode(q))).await;
    let re = regex::Regex::new(r#"<h2><a href="/conversations/(\d+)">"#).unwrap();
    re.captures_iter(&html)
        .map(|c| c[1].parse().unwrap())
        .collect()
}

// ---- legal hold in the pages --------------------------------------------------------------

#[tokio::test]
async fn admins_put_a_conversation_and_a_customer_on_legal_hold_from_their_pages_and_lift_it() {
    // Arrange
    let (app, org) = owner_app().await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    let id = ingest(
        &app,
        org,
        &Person {
            name: "Hanna Hold",
            address: "hanna@hold.test",
        },
        "hold-page-1@hold.test",
        "Dispute about order 4711",
        "I dispute this charge.",
        "evidence",
    )
    .await;
    let customer_id = app.customer_of(id).await;
    let conversation_page = format!("/conversations/{id}");
    let customer_page = format!("/customers/{customer_id}");
    let conversation_form = format!(r#"action="/conversations/{id}/legal-hold""#);
    let customer_form = format!(r#"action="/customers/{customer_id}/legal-hold""#);
    app.login("owner@shop.test").await;
    let page = app.get_text(&conversation_page).await;
    assert!(page.contains("This conversation is not on legal hold."));
    assert!(page.contains(&conversation_form), "the page has the form");
    let page = app.get_text(&customer_page).await;
    assert!(page.contains("This customer is not on legal hold."));
    assert!(page.contains(&customer_form), "the page has the form");

    // Act: both put on hold from their pages
    let set = app
        .legal_hold(
            &conversation_page,
            &[("reason", "Court case 12-2026 (Landgericht)")],
        )
        .await;
    assert_eq!(set.status(), 303);
    let set = app
        .legal_hold(&customer_page, &[("reason", "Tax audit 2026")])
        .await;
    assert_eq!(set.status(), 303);

    // Assert: both pages show the hold and its reason
    let page = app.get_text(&conversation_page).await;
    assert!(page.contains("On legal hold."), "{page}");
    assert!(page.contains("Court case 12-2026 (Landgericht)"));
    assert!(page.contains("The customer is on legal hold:"));
    assert!(page.contains("Tax audit 2026"));
    assert!(page.contains("Lift the legal hold"));
    let page = app.get_text(&customer_page).await;
    assert!(page.contains("On legal hold."));
    assert!(page.contains("Tax audit 2026"));
    // An agent sees the hold, but gets no form.
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    let page = agent.get_text(&conversation_page).await;
    assert!(page.contains("Court case 12-2026 (Landgericht)"));
    assert!(!page.contains(&conversation_form));
    assert!(page.contains("Only admins and owners can set or lift a legal hold."));
    let page = agent.get_text(&customer_page).await;
    assert!(page.contains("Tax audit 2026"));
    assert!(!page.contains(&customer_form));
    // Retention says so.
    app.close_days_ago(id, 400).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    let counts = run_for(&app, org, Category::ClosedConversations).await;
    assert_eq!((counts.conversations, counts.skipped_legal_hold), (0, 1));

    // Act: both lifted from their pages
    let lift = app
        .legal_hold(&conversation_page, &[("release", "1")])
        .await;
    assert_eq!(lift.status(), 303);
    let lift = app.legal_hold(&customer_page, &[("release", "1")]).await;
    assert_eq!(lift.status(), 303);

    // Assert
    let page = app.get_text(&conversation_page).await;
    assert!(page.contains("This conversation is not on legal hold."));
    assert!(!page.contains("Court case 12-2026"));
    assert!(!page.contains("The customer is on legal hold:"));
    let page = app.get_text(&customer_page).await;
    assert!(page.contains("This customer is not on legal hold."));
    assert_eq!(audit_count(&app, "legal_hold.set").await, 2);
    assert_eq!(audit_count(&app, "legal_hold.released").await, 2);
    let counts = run_for(&app, org, Category::ClosedConversations).await;
    assert_eq!((counts.conversations, counts.skipped_legal_hold), (1, 0));
}

// ---- crash safety and the schedule ------------------------------------------------------

#[tokio::test]
async fn two_runs_never_overlap_and_a_scheduled_time_that_finds_one_running_is_not_lost() {
    // Arrange: a rule with due data, and a scheduled time that has passed
    let (app, org) = owner_app().await;
    let id = ingest(
        &app,
        org,
        &Person {
            name: "Lena Lock",
            address: "lena@lock.test",
        },
        "lock-1@lock.test",
        "Locked",
        "lock",
        "l",
    )
    .await;
    app.close_days_ago(id, 400).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    let two_days_ago = Utc::now() - Duration::days(2);
    set_schedule_checked_at(&app, org, two_days_ago).await;
    app.login("owner@shop.test").await;

    // Act: another run holds the lock
    let lock = retention::lock::RunLock::acquire(&app.state, org)
        .await
        .unwrap();

    // Assert: no second run starts, here or in another process
    assert!(matches!(
        retention::run_once(&app.state, org, false).await,
        Err(retention::RetentionError::AlreadyRunning)
    ));
    let cli = app
        .lethe()
        .args(["retention", "run", "--org", "Shop"])
        .output()
        .unwrap();
    assert!(!cli.status.success());
    assert!(
        String::from_utf8_lossy(&cli.stderr).contains("in progress"),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(matches!(
        retention::lock::RunLock::acquire(&app.state, org).await,
        Err(retention::lock::LockError::Held)
    ));
    assert_eq!(
        retention::tick::scheduled_tick(&app.state).await.unwrap(),
        0
    );
    assert_eq!(
        schedule_checked_at(&app, org).await.timestamp(),
        two_days_ago.timestamp(),
        "the scheduled time is not used up"
    );
    let page = app.get_text("/settings/retention").await;
    assert!(page.contains("running…"));
    assert!(page.contains("<button type=\"submit\" disabled>Run now</button>"));
    let busy = app
        .post_form("/settings/retention", "/settings/retention/run", &[])
        .await;
    assert!(crate::helpers::location(&busy).contains("retention_run_busy"));
    assert!(app.find_conversation(id).await.is_some(), "nothing ran");

    // Act: the other run ends
    lock.release(&app.state).await;

    // Assert: the next tick takes the scheduled time up, once
    assert_eq!(
        retention::tick::scheduled_tick(&app.state).await.unwrap(),
        1
    );
    assert!(app.find_conversation(id).await.is_none());
    assert!(schedule_checked_at(&app, org).await > Utc::now() - Duration::minutes(5));
    assert_eq!(
        retention::tick::scheduled_tick(&app.state).await.unwrap(),
        0
    );
    let runs = runs_of(&app, org).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger, "schedule");
    assert!(
        !app.get_text("/settings/retention")
            .await
            .contains("running…")
    );
}

#[tokio::test]
async fn a_run_missed_while_the_server_was_down_happens_when_it_starts() {
    // Arrange: data due, and the server was down over the last scheduled times
    let (app, org) = owner_app().await;
    let id = ingest(
        &app,
        org,
        &Person {
            name: "Max Missed",
            address: "max@missed.test",
        },
        "missed-1@missed.test",
        "Missed",
        "missed",
        "m",
    )
    .await;
    app.close_days_ago(id, 400).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    set_schedule_checked_at(&app, org, Utc::now() - Duration::days(2)).await;
    assert!(runs_of(&app, org).await.is_empty());

    // Act: `lethe serve` starts
    let port = crate::smtp::free_port();
    let mut server = app
        .lethe()
        .arg("serve")
        .env("LETHE_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runs = wait_for_finished_runs(&app, org, 1).await;
    let _ = server.kill();
    let _ = server.wait();

    // Assert
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger, "schedule");
    assert_eq!(runs[0].error, None);
    assert!(app.find_conversation(id).await.is_none());
    app.login("owner@shop.test").await;
    let page = app.get_text("/settings/retention").await;
    assert!(page.contains(&format!("<tr id=\"run-{}\">", runs[0].id)));
    assert!(page.contains("<td>schedule</td>"), "{page}");
}

// The crash hook exists only in builds with the `test-hooks` feature (scripts/test.sh).
#[cfg(feature = "test-hooks")]
#[tokio::test]
async fn a_run_interrupted_by_a_crash_is_resumed_and_the_files_it_left_behind_are_swept() {
    // Arrange: more due conversations than one batch, each with its own attachment file
    let (app, org) = owner_app().await;
    let due = retention::run::BATCH + 40;
    for i in 0..due {
        let raw = mail_with_attachment(
            &format!("Customer {i} <c{i}@crash.test>"),
            &format!("crash-{i}@crash.test"),
            &format!("Order {i}"),
            &format!("scan number {i}"),
        );
        let (conversation, _) = app.ingest(arriving(org, None), raw).await;
        app.close_days_ago(conversation, 400).await;
    }
    let raw = mail_with_attachment(
        "Kept <kept@crash.test>",
        "crash-kept@crash.test",
        "Recent",
        "recent scan",
    );
    let (kept, _) = app.ingest(arriving(org, None), raw).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    assert_eq!(blob_files(&app).len(), due + 1);

    // Act: the command-line run dies right after its first batch committed
    let crashed = app
        .lethe()
        .env("LETHE_TEST_RETENTION_CRASH_AFTER_BATCHES", "1")
        .args(["retention", "run", "--org", "Shop"])
        .output()
        .unwrap();

    // Assert: what the crash left behind
    assert!(!crashed.status.success(), "the run was killed");
    let left = app.count::<conversation::Entity>().await;
    assert_eq!(left as usize, due + 1 - retention::run::BATCH);
    assert_eq!(
        blob_files(&app).len(),
        due + 1,
        "the batch's files were not removed yet"
    );
    let runs = runs_of(&app, org).await;
    assert_eq!(runs.len(), 1);
    assert!(runs[0].finished_at.is_none());
    // A file an ingest is writing right now: no row refers to it yet.
    let in_flight = app
        .state
        .blobs
        .put(b"an attachment being received")
        .unwrap();
    // The files left behind grow older than the sweep's safe age.
    for file in blob_files(&app) {
        if !file.ends_with(&in_flight) {
            age_file(&file, 2);
        }
    }

    // The dead process's lease on the organization runs out (`lethe::cluster::lease::TTL`
    // after its last renewal; moved on here rather than waited for).
    lethe::db::entity::lease::Entity::update_many()
        .col_expr(
            lethe::db::entity::lease::Column::ExpiresAt,
            Expr::val(Utc::now() - Duration::seconds(1)),
        )
        .exec(&app.state.db)
        .await
        .unwrap();

    // Act: the next scheduler tick (the one at start) resumes the run
    assert_eq!(
        retention::tick::scheduled_tick(&app.state).await.unwrap(),
        1
    );

    // Assert
    let remaining: Vec<i64> = conversation::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(remaining, vec![kept]);
    let files = blob_files(&app);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(blob_path(&app, &in_flight).exists(), "the young file stays");
    let runs = runs_of(&app, org).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].error.as_deref(), Some("interrupted"));
    assert!(runs[0].finished_at.is_some());
    assert_eq!(runs[1].trigger, "resume");
    assert_eq!(runs[1].error, None);
    let counts: serde_json::Value = serde_json::from_str(&runs[1].counts).unwrap();
    assert_eq!(
        counts["closed_conversations"]["conversations"],
        due - retention::run::BATCH
    );
    assert_eq!(
        retention::tick::scheduled_tick(&app.state).await.unwrap(),
        0
    );
    app.login("owner@shop.test").await;
    let page = app.get_text("/settings/retention").await;
    assert!(
        page.contains("Interrupted: the server stopped during the run"),
        "the error column says so"
    );
    assert!(page.contains("resumed after an interruption"));
}

#[tokio::test]
async fn the_sweep_removes_only_old_unreferenced_files_and_never_one_an_ingest_reuses() {
    // Arrange
    let (app, org) = owner_app().await;
    let raw = mail_with_attachment(
        "Ref <ref@sweep.test>",
        "sweep-1@sweep.test",
        "Referenced",
        "referenced scan",
    );
    app.ingest(arriving(org, None), raw).await;
    let referenced = blob_files(&app);
    assert_eq!(referenced.len(), 1);
    let orphan = app.state.blobs.put(b"left by a crash").unwrap();
    let reused = app.state.blobs.put(b"the same invoice again").unwrap();
    for file in blob_files(&app) {
        age_file(&file, 2);
    }

    // Act: an ingest stores the same content again (before its row commits), then a sweep
    assert_eq!(
        app.state.blobs.put(b"the same invoice again").unwrap(),
        reused
    );
    let swept = retention::sweep::run_once(&app.state).await.unwrap();

    // Assert
    assert_eq!(swept.orphan_files, 1);
    assert!(!blob_path(&app, &orphan).exists());
    assert!(blob_path(&app, &reused).exists(), "the reused file stays");
    assert!(referenced[0].exists(), "a referenced file stays");
}

// ---- the categories ---------------------------------------------------------------------

#[tokio::test]
async fn the_attachments_rule_deletes_old_attachments_and_keeps_their_messages() {
    // Arrange: an old message with an attachment (dated 2020), a recent one, and an old one
    // on legal hold
    let (app, org) = owner_app().await;
    let old = ingest(
        &app,
        org,
        &Person {
            name: "Alma Attach",
            address: "alma@attach.test",
        },
        "att-1@attach.test",
        "Old invoice",
        "Here is my old invoice.",
        "old invoice content",
    )
    .await;
    let held = ingest(
        &app,
        org,
        &Person {
            name: "Hugo Held",
            address: "hugo@attach.test",
        },
        "att-2@attach.test",
        "Held invoice",
        "Held.",
        "held invoice content",
    )
    .await;
    let raw = mail_with_attachment(
        "Rita Recent <rita@attach.test>",
        "att-3@attach.test",
        "New invoice",
        "recent invoice content",
    );
    let (recent, _) = app.ingest(arriving(org, None), raw).await;
    app.login("owner@shop.test").await;
    app.legal_hold(&format!("/conversations/{held}"), &[("reason", "Dispute")])
        .await;
    app.save_rule(org, Category::Attachments, 180, Action::Delete)
        .await;
    assert!(
        app.get_text(&format!("/conversations/{old}"))
            .await
            .contains("invoice.txt")
    );

    // Act
    let report = retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    let counts = report.category(Category::Attachments).unwrap();
    assert_eq!((counts.attachments, counts.skipped_legal_hold), (1, 1));
    assert_eq!(blob_files(&app).len(), 2, "the old file is gone");
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::ConversationId.eq(old))
            .count(&app.state.db)
            .await
            .unwrap(),
        1,
        "the message stays"
    );
    let page = app.get_text(&format!("/conversations/{old}")).await;
    assert!(page.contains("Here is my old invoice."));
    assert!(!page.contains("invoice.txt"), "the attachment is gone");
    assert!(
        app.get_text(&format!("/conversations/{held}"))
            .await
            .contains("invoice.txt")
    );
    assert!(
        app.get_text(&format!("/conversations/{recent}"))
            .await
            .contains("scan.txt")
    );
    assert_eq!(
        run_for(&app, org, Category::Attachments).await.attachments,
        0
    );
}

#[tokio::test]
async fn internal_notes_are_anonymized_and_later_deleted_by_their_rule() {
    // Arrange: a customer's conversation with an internal note written on the page
    let (app, org) = owner_app().await;
    let id = ingest(
        &app,
        org,
        &Person {
            name: "Ludwig Quastenberg",
            address: "ludwig.quastenberg@notes-unique.test",
        },
        "note-1@notes-unique.test",
        "Refund",
        "Please refund me.",
        "receipt",
    )
    .await;
    app.login("owner@shop.test").await;
    let added = app
        .post_form(
            &format!("/conversations/{id}"),
            &format!("/conversations/{id}/notes"),
            &[(
                "text",
                "Called Ludwig Quastenberg on +49 171 2345678: refund to DE89 3704 0044 0532 0130 00, confirmation to ludwig.quastenberg@notes-unique.test",
            )],
        )
        .await;
    assert_eq!(added.status(), 303);
    let note = message::Entity::find()
        .filter(message::Column::Direction.eq("note"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    message::Entity::update_many()
        .col_expr(
            message::Column::CreatedAt,
            Expr::val(Utc::now() - Duration::days(400)),
        )
        .filter(message::Column::Id.eq(note.id))
        .exec(&app.state.db)
        .await
        .unwrap();
    app.save_rule(org, Category::InternalNotes, 30, Action::Anonymize)
        .await;

    // Act
    let report = retention::run_once(&app.state, org, false).await.unwrap();

    // Assert: the note is rewritten, the customer's own message is not a note
    assert_eq!(report.category(Category::InternalNotes).unwrap().notes, 1);
    let rewritten = message::Entity::find_by_id(note.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    for secret in ["Ludwig", "Quastenberg", "2345678", "DE89", "notes-unique"] {
        assert!(
            !rewritten.text_body.contains(secret),
            "{secret} left in {}",
            rewritten.text_body
        );
    }
    for placeholder in ["[NAME]", "[PHONE]", "[IBAN]", "[EMAIL]"] {
        assert!(
            rewritten.text_body.contains(placeholder),
            "{}",
            rewritten.text_body
        );
    }
    let page = app.get_text(&format!("/conversations/{id}")).await;
    assert!(page.contains("Please refund me."));
    assert!(page.contains("Called [NAME]"));
    assert_eq!(
        run_for(&app, org, Category::InternalNotes).await.notes,
        0,
        "once"
    );

    // Act: the rule is changed to delete
    app.save_rule(org, Category::InternalNotes, 30, Action::Delete)
        .await;
    let report = retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    assert_eq!(report.category(Category::InternalNotes).unwrap().notes, 1);
    assert!(
        message::Entity::find_by_id(note.id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::ConversationId.eq(id))
            .count(&app.state.db)
            .await
            .unwrap(),
        1,
        "the customer's message stays"
    );
}

#[tokio::test]
async fn any_conversation_anonymizes_open_conversations_by_their_last_activity() {
    // Arrange: an open conversation inactive for 400 days, and an active one
    let (app, org) = owner_app().await;
    let stale = ingest(
        &app,
        org,
        &Person {
            name: "Siegfried Stalemate",
            address: "siegfried@stale-unique.test",
        },
        "any-1@stale-unique.test",
        "Question from Siegfried Stalemate",
        "Siegfried Stalemate here, call me on 0171 2345678.",
        "s",
    )
    .await;
    let active = ingest(
        &app,
        org,
        &Person {
            name: "Agathe Active",
            address: "agathe@active.test",
        },
        "any-2@active.test",
        "Active question",
        "Agathe here.",
        "a",
    )
    .await;
    set_last_activity_days_ago(&app, stale, 400).await;
    set_last_activity_days_ago(&app, active, 2).await;
    app.save_rule(org, Category::AnyConversation, 365, Action::Anonymize)
        .await;

    // Act
    let report = retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    let counts = report.category(Category::AnyConversation).unwrap();
    assert_eq!((counts.conversations, counts.customers), (1, 1));
    let after = app.conversation(stale).await;
    assert_eq!(after.status, "open", "the status stays");
    assert!(!after.subject.contains("Siegfried"), "{}", after.subject);
    let m = message::Entity::find()
        .filter(message::Column::ConversationId.eq(stale))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!m.text_body.contains("Stalemate") && !m.text_body.contains("2345678"));
    assert!(m.from_name.starts_with("Customer "), "{}", m.from_name);
    let untouched = message::Entity::find()
        .filter(message::Column::ConversationId.eq(active))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(untouched.text_body.contains("Agathe"));
    assert_eq!(
        run_for(&app, org, Category::AnyConversation)
            .await
            .conversations,
        0
    );
}

#[tokio::test]
async fn customers_without_conversations_are_anonymized_once() {
    // Arrange: a customer record whose only conversation is gone
    let (app, org) = owner_app().await;
    let id = ingest(
        &app,
        org,
        &Person {
            name: "Kunigunde Leftover",
            address: "kunigunde@leftover-unique.test",
        },
        "left-1@leftover-unique.test",
        "Hi",
        "hi",
        "k",
    )
    .await;
    let customer_id = app.customer_of(id).await;
    conversation::Entity::delete_by_id(id)
        .exec(&app.state.db)
        .await
        .unwrap();
    app.customer_created_days_ago(customer_id, 400).await;
    app.save_rule(
        org,
        Category::CustomersWithoutConversations,
        30,
        Action::Anonymize,
    )
    .await;
    // A closed request about her whose note names her.
    let request = lethe::privacy::requests::create(
        &app.state.db,
        org,
        lethe::privacy::requests::NewRequest {
            kind: lethe::privacy::requests::Kind::Access,
            received_at: chrono::Utc::now(),
            customer_id: Some(customer_id),
            note: "Kunigunde Leftover called".into(),
        },
    )
    .await
    .unwrap();
    lethe::privacy::requests::close(
        &app.state.db,
        org,
        request.id,
        lethe::privacy::requests::Status::Completed,
        None,
    )
    .await
    .unwrap();

    // Act
    let report = retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    assert_eq!(
        report
            .category(Category::CustomersWithoutConversations)
            .unwrap()
            .customers,
        1
    );
    let record = app.find_customer(customer_id).await.unwrap();
    assert!(
        record.display_name.starts_with("Customer "),
        "{}",
        record.display_name
    );
    assert_eq!(
        customer_email::Entity::find()
            .filter(customer_email::Column::CustomerId.eq(customer_id))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    let request = lethe::db::entity::privacy_request::Entity::find_by_id(request.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.note, "", "the request's note named her");
    app.login("owner@shop.test").await;
    let page = app.get_text(&format!("/customers/{customer_id}")).await;
    assert!(!page.contains("Kunigunde") && !page.contains("leftover-unique"));
    assert_eq!(
        run_for(&app, org, Category::CustomersWithoutConversations)
            .await
            .customers,
        0,
        "anonymized once"
    );
}

#[tokio::test]
async fn anonymization_rewrites_html_bodies_and_clears_threading_headers() {
    // Arrange: a multipart/alternative mail, part of a thread
    let (app, org) = owner_app().await;
    let raw = "From: Ottokar Brennessel <ottokar@brennessel-unique.test>\r\nTo: support@shop.test\r\nSubject: Retoure\r\nMessage-ID: <reply-2.ottokar@brennessel-unique.test>\r\nIn-Reply-To: <order-4711.ottokar@brennessel-unique.test>\r\nReferences: <order-4711.ottokar@brennessel-unique.test> <ack-1.ottokar@brennessel-unique.test>\r\nDate: Tue, 3 Nov 2020 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo, hier ist Ottokar Brennessel. Rufen Sie mich an: +49 30 9876543.\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hallo, hier ist <b>Ottokar</b> Brennessel.</p><p>Rufen Sie mich an: +49 30 9876543 oder <a href=\"mailto:ottokar@brennessel-unique.test\">ottokar@brennessel-unique.test</a>.</p><p>Gr&uuml;&szlig;e, Ottokar</p></body></html>\r\n--alt--\r\n";
    let (id, message_id) = app.ingest(imported(org), raw).await;
    let before = message::Entity::find_by_id(message_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        before
            .html_body
            .as_deref()
            .unwrap_or_default()
            .contains("Brennessel")
    );
    assert!(before.in_reply_to.contains("brennessel-unique"));
    assert!(before.references_header.contains("brennessel-unique"));
    app.close_days_ago(id, 100).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Anonymize)
        .await;

    // Act
    retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    let after = message::Entity::find_by_id(message_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let html = after.html_body.clone().unwrap_or_default();
    for secret in ["Ottokar", "Brennessel", "brennessel-unique", "9876543"] {
        assert!(!html.contains(secret), "{secret} left in the HTML: {html}");
        assert!(
            !after.text_body.contains(secret),
            "{secret} left in the text"
        );
        assert!(!after.message_id_header.contains(secret));
    }
    assert!(
        html.contains("[NAME]") && html.contains("[PHONE]"),
        "{html}"
    );
    assert!(html.contains("<p>"), "still HTML: {html}");
    assert_eq!(after.in_reply_to, "");
    assert_eq!(after.references_header, "");
    app.login("owner@shop.test").await;
    let page = app.get_text(&format!("/conversations/{id}")).await;
    assert!(!page.contains("Brennessel") && page.contains("[NAME]"));
}

#[tokio::test]
async fn after_anonymization_search_no_longer_finds_the_old_name_but_finds_the_rewritten_text() {
    // Arrange: an indexed conversation that search finds by the customer's name
    let (app, org) = owner_app().await;
    let id = ingest(
        &app,
        org,
        &Person {
            name: "Wendelin Quackenbusch",
            address: "wendelin@quack-unique.test",
        },
        "search-1@quack-unique.test",
        "Umbrella broken",
        "My umbrella arrived broken. Wendelin Quackenbusch",
        "u",
    )
    .await;
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    app.login("owner@shop.test").await;
    assert_eq!(search_hits(&app, "Quackenbusch").await, vec![id]);
    assert_eq!(search_hits(&app, "Wendelin").await, vec![id]);
    app.close_days_ago(id, 100).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Anonymize)
        .await;

    // Act
    retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    assert!(search_hits(&app, "Quackenbusch").await.is_empty());
    assert!(search_hits(&app, "Wendelin").await.is_empty());
    assert!(search_hits(&app, "quack-unique").await.is_empty());
    assert_eq!(
        search_hits(&app, "umbrella").await,
        vec![id],
        "re-indexed, not only removed"
    );
}

#[tokio::test]
async fn more_than_one_batch_is_anonymized_and_counted_in_one_run() {
    // Arrange: 2.5 batches of generated conversations, all inactive for 400 days
    let (app, org) = owner_app().await;
    let n = retention::run::BATCH as u64 * 2 + 50;
    lethe::demo::generate(
        &app.state.db,
        org,
        lethe::demo::DemoOptions {
            conversations: n,
            seed: 7,
        },
    )
    .await
    .unwrap();
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::LastActivityAt,
            Expr::val(Utc::now() - Duration::days(400)),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let customers = app.count::<customer::Entity>().await;
    app.save_rule(org, Category::AnyConversation, 365, Action::Anonymize)
        .await;

    // Act
    let report = retention::run_once(&app.state, org, false).await.unwrap();

    // Assert
    let counts = report.category(Category::AnyConversation).unwrap();
    assert_eq!(counts.conversations, n);
    assert_eq!(counts.customers, customers);
    let messages = app.count::<message::Entity>().await;
    assert_eq!(counts.messages, messages);
    let left = conversation::Entity::find()
        .filter(Expr::cust("anonymized_at IS NULL"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(
        run_for(&app, org, Category::AnyConversation)
            .await
            .conversations,
        0
    );
}

// ---- the settings page ------------------------------------------------------------------

#[tokio::test]
async fn the_run_now_button_runs_the_saved_rules_and_the_history_shows_it() {
    // Arrange
    let (app, org) = owner_app().await;
    let id = ingest(
        &app,
        org,
        &Person {
            name: "Nora Now",
            address: "nora@now.test",
        },
        "now-1@now.test",
        "Now",
        "now",
        "n",
    )
    .await;
    app.close_days_ago(id, 400).await;
    app.login("owner@shop.test").await;
    post_rule(&app, "closed_conversations", "30", "delete").await;

    // Act
    let started = app
        .post_form("/settings/retention", "/settings/retention/run", &[])
        .await;

    // Assert
    assert_eq!(started.status(), 303);
    assert!(crate::helpers::location(&started).contains("retention_run_started"));
    let runs = wait_for_finished_runs(&app, org, 1).await;
    assert_eq!(runs[0].trigger, "manual");
    assert!(app.find_conversation(id).await.is_none());
    let page = app.get_text("/settings/retention").await;
    let row = regex::Regex::new(&format!(r#"(?s)<tr id="run-{}">.*?</tr>"#, runs[0].id)).unwrap();
    let row = row.find(&page).expect("the run is in the history").as_str();
    assert!(row.contains("run now"), "{row}");
    assert!(
        row.contains("delete 1 conversations of 1 customers"),
        "{row}"
    );
    let audit = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("retention.run"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    // Rows name members by id (`user:<id>`); the address is beside the chain.
    let owner = lethe::db::entity::user::Entity::find()
        .filter(lethe::db::entity::user::Column::Email.eq("owner@shop.test"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(audit.actor_user_id, Some(owner.id), "by the admin");
    assert!(
        app.get_text("/audit?action=retention.run")
            .await
            .contains("owner@shop.test"),
        "the log page names the admin"
    );
}

#[tokio::test]
async fn the_schedule_is_changed_on_the_page_audit_logged_and_the_next_run_shown_in_server_time() {
    // Arrange
    let (app, org) = owner_app().await;
    app.login("owner@shop.test").await;

    // Act: a bad schedule, then a good one (Mondays at 04:15 server time)
    let bad = app
        .post_form(
            "/settings/retention",
            "/settings/retention/schedule",
            &[("schedule", "99 * * * *")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("five cron fields"));
    assert_eq!(
        retention::ensure_settings(&app.state.db, org)
            .await
            .unwrap()
            .schedule,
        retention::DEFAULT_SCHEDULE,
        "a bad schedule changes nothing"
    );
    let saved = app
        .post_form(
            "/settings/retention",
            "/settings/retention/schedule",
            &[("schedule", " 15 4 * * 1 ")],
        )
        .await;

    // Assert
    assert_eq!(saved.status(), 303);
    assert_eq!(
        retention::ensure_settings(&app.state.db, org)
            .await
            .unwrap()
            .schedule,
        "15 4 * * 1"
    );
    let audit = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("retention.schedule_changed"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert!(format!("{:?}", audit[0]).contains("15 4 * * 1"));
    let page = app.get_text("/settings/retention").await;
    assert!(page.contains(r#"value="15 4 * * 1""#));
    // The next Monday 04:15 in server time, worked out here independently.
    use chrono::{Datelike, Local, TimeZone, Timelike};
    let now = Local::now();
    let expected = (0..=7)
        .filter_map(|d| {
            let day = now.date_naive() + Duration::days(d);
            let at = Local
                .from_local_datetime(&day.and_hms_opt(4, 15, 0).unwrap())
                .earliest()?;
            (day.weekday() == chrono::Weekday::Mon && at > now).then_some(at)
        })
        .next()
        .unwrap();
    let shown = regex::Regex::new(r#"<time id="next-run" datetime="([^"]+)">([^<]+)</time>"#)
        .unwrap()
        .captures(&page)
        .expect("the next run is shown")
        .iter()
        .map(|m| m.unwrap().as_str().to_owned())
        .collect::<Vec<_>>();
    let at = chrono::DateTime::parse_from_rfc3339(&shown[1]).unwrap();
    assert_eq!(at.timestamp(), expected.timestamp());
    assert!(shown[2].starts_with(&expected.format("%Y-%m-%d 04:15").to_string()));
    assert_eq!(expected.hour(), 4);
}

#[tokio::test]
async fn a_rule_removed_on_the_page_no_longer_applies_and_the_removal_is_audit_logged() {
    // Arrange
    let (app, org) = owner_app().await;
    let id = ingest(
        &app,
        org,
        &Person {
            name: "Rolf Removed",
            address: "rolf@removed.test",
        },
        "rem-1@removed.test",
        "Removed",
        "r",
        "r",
    )
    .await;
    app.close_days_ago(id, 400).await;
    app.login("owner@shop.test").await;
    post_rule(&app, "closed_conversations", "30", "delete").await;
    assert!(
        app.get_text("/settings/retention")
            .await
            .contains("Remove rule")
    );

    // Act
    let removed = app
        .post_form(
            "/settings/retention",
            "/settings/retention/rules/remove",
            &[("category", "closed_conversations")],
        )
        .await;

    // Assert
    assert_eq!(removed.status(), 303);
    assert!(
        retention::saved_rules(&app.state.db, org)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(audit_count(&app, "retention.rule_removed").await, 1);
    let page = app.get_text("/settings/retention").await;
    assert!(!page.contains("Remove rule"));
    assert!(page.contains("No rule is saved yet"));
    let report = retention::run_once(&app.state, org, false).await.unwrap();
    assert!(report.category(Category::ClosedConversations).is_none());
    assert!(app.find_conversation(id).await.is_some());
    let unknown = app
        .post_form(
            "/settings/retention",
            "/settings/retention/rules/remove",
            &[("category", "everything")],
        )
        .await;
    assert_eq!(unknown.status(), 400);
}
