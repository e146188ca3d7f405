//! Retention: rules (page and CLI), dry runs, delete and anonymize, legal hold, tenant
//! isolation, the audit trail, and "deleted means gone" in the raw bytes of the data directory.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::helpers::{TestApp, spawn_app};
use lethe::db::entity::{
    attachment, audit_event, conversation, conversation_tag, customer, customer_email, message,
    retention_rule, tag,
};
use lethe::mail::ingest::{Outcome, Source, ingest_raw};
use lethe::orgs::OrgId;
use lethe::retention::{self, Action, Category, RetentionRule};

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

async fn org_id(app: &TestApp, name: &str) -> OrgId {
    lethe::orgs::queries::find_by_name(&app.state.db, name)
        .await
        .unwrap()
        .unwrap()
        .0
}

struct Person<'a> {
    name: &'a str,
    address: &'a str,
}

/// A customer mail with an attachment; returns the conversation id.
async fn ingest(
    app: &TestApp,
    org: OrgId,
    person: &Person<'_>,
    message_id: &str,
    subject: &str,
    body: &str,
    attachment: &str,
) -> i64 {
    let raw = format!(
        "From: {name} <{address}>\r\nTo: support@shop.test\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Tue, 3 Nov 2020 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--b1\r\nContent-Type: text/plain; name=\"invoice.txt\"\r\nContent-Disposition: attachment; filename=\"invoice.txt\"\r\n\r\n{attachment}\r\n--b1--\r\n",
        name = person.name,
        address = person.address,
    );
    let source = Source {
        org,
        channel_id: None,
        keep_original_date: true,
    };
    match ingest_raw(&app.state, source, raw.into_bytes())
        .await
        .unwrap()
    {
        Outcome::Stored {
            conversation_id, ..
        } => conversation_id,
        other => panic!("not stored: {other:?}"),
    }
}

/// Closes a conversation `days` ago.
async fn close_days_ago(app: &TestApp, conversation_id: i64, days: i64) {
    conversation::Entity::update_many()
        .col_expr(conversation::Column::Status, Expr::val("closed"))
        .col_expr(
            conversation::Column::ClosedAt,
            Expr::val(Utc::now() - Duration::days(days)),
        )
        .filter(conversation::Column::Id.eq(conversation_id))
        .exec(&app.state.db)
        .await
        .unwrap();
}

async fn tag_conversation(app: &TestApp, org: OrgId, conversation_id: i64, name: &str) {
    let tag = tag::Entity::insert(tag::ActiveModel {
        organization_id: Set(org.get()),
        name: Set(name.to_owned()),
        ..Default::default()
    })
    .exec(&app.state.db)
    .await
    .unwrap()
    .last_insert_id;
    conversation_tag::Entity::insert(conversation_tag::ActiveModel {
        conversation_id: Set(conversation_id),
        tag_id: Set(tag),
    })
    .exec_without_returning(&app.state.db)
    .await
    .unwrap();
}

async fn save(app: &TestApp, org: OrgId, category: Category, days: i64, action: Action) {
    retention::save_rule(
        &app.state.db,
        org,
        RetentionRule::new(category, days, action).unwrap(),
    )
    .await
    .unwrap();
}

fn blob_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    files_under(&app.data_dir.join("attachments"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains(".tmp"))
        .collect()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Every file of the data directory that holds `needle`, byte for byte.
fn files_holding(app: &TestApp, needle: &str) -> Vec<String> {
    files_holding_in(&app.data_dir, needle, false)
}

/// Every file under `dir` that holds `needle` (in any letter case if `any_case`: the index
/// keeps words lower-cased).
fn files_holding_in(dir: &std::path::Path, needle: &str, any_case: bool) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap_or_default();
            bytes.windows(needle.len()).any(|window| {
                if any_case {
                    window.eq_ignore_ascii_case(needle.as_bytes())
                } else {
                    window == needle.as_bytes()
                }
            })
        })
        .map(|p| p.display().to_string())
        .collect()
}

fn is_sqlite(app: &TestApp) -> bool {
    app.database_url.is_none()
}

async fn owner_app() -> (TestApp, OrgId) {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = org_id(&app, "Shop").await;
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
        retention_rule::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0,
        "defaults are not applied"
    );

    let short = app
        .post_form(
            "/settings/retention",
            "/settings/retention/rules",
            &[
                ("category", "audit_log"),
                ("after_days", "100"),
                ("action", "delete"),
            ],
        )
        .await;
    assert_eq!(short.status(), 422);
    assert!(short.text().await.unwrap().contains("at least 365 days"));
    let bad_action = app
        .post_form(
            "/settings/retention",
            "/settings/retention/rules",
            &[
                ("category", "closed_conversations"),
                ("after_days", "30"),
                ("action", "shred"),
            ],
        )
        .await;
    assert_eq!(bad_action.status(), 422);
    assert!(
        retention::saved_rules(&app.state.db, org)
            .await
            .unwrap()
            .is_empty()
    );

    let saved = app
        .post_form(
            "/settings/retention",
            "/settings/retention/rules",
            &[
                ("category", "closed_conversations"),
                ("after_days", "30"),
                ("action", "anonymize"),
            ],
        )
        .await;
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
        lethe(app_for_cli)
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
    close_days_ago(&app, old, 400).await;
    close_days_ago(&app, recent, 10).await;
    save(
        &app,
        org,
        Category::ClosedConversations,
        365,
        Action::Delete,
    )
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
    assert_eq!(
        conversation::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        2
    );
    assert_eq!(blob_files(&app).len(), 2, "a dry run deletes nothing");

    let report = retention::run_once(&app.state, org, false).await.unwrap();
    let counts = report.category(Category::ClosedConversations).unwrap();
    assert_eq!(
        (counts.conversations, counts.messages, counts.attachments),
        (1, 1, 1)
    );
    assert!(
        conversation::Entity::find_by_id(old)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        conversation::Entity::find_by_id(recent)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(blob_files(&app).len(), 1, "the old attachment file is gone");
    assert_eq!(
        attachment::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        1
    );

    let again = retention::run_once(&app.state, org, false).await.unwrap();
    assert_eq!(
        again
            .category(Category::ClosedConversations)
            .unwrap()
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
        lethe::audit::verify(&app.state.db).await.unwrap(),
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
    close_days_ago(&app, id, 100).await;
    tag_conversation(&app, org, id, "refund").await;
    let before = conversation::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    save(
        &app,
        org,
        Category::ClosedConversations,
        30,
        Action::Anonymize,
    )
    .await;

    let report = retention::run_once(&app.state, org, false).await.unwrap();
    let counts = report.category(Category::ClosedConversations).unwrap();
    assert_eq!(
        (counts.conversations, counts.customers, counts.attachments),
        (1, 1, 1)
    );

    let after = conversation::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
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
    let pseudonym = customer::Entity::find_by_id(after.customer_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        pseudonym.display_name.starts_with("Customer "),
        "{}",
        pseudonym.display_name
    );
    assert!(
        customer::Entity::find_by_id(before.customer_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        customer_email::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
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
    assert_eq!(
        attachment::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert!(blob_files(&app).is_empty());

    let again = retention::run_once(&app.state, org, false).await.unwrap();
    assert_eq!(
        again
            .category(Category::ClosedConversations)
            .unwrap()
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
    close_days_ago(&app, held, 400).await;
    close_days_ago(&app, by_customer, 400).await;
    save(&app, org, Category::ClosedConversations, 30, Action::Delete).await;
    app.login("owner@shop.test").await;
    let page = format!("/conversations/{held}");
    let missing_reason = app
        .post_form(
            &page,
            &format!("/conversations/{held}/legal-hold"),
            &[("reason", "  ")],
        )
        .await;
    assert_eq!(missing_reason.status(), 400);
    let set = app
        .post_form(
            &page,
            &format!("/conversations/{held}/legal-hold"),
            &[("reason", "Court case 12/2026")],
        )
        .await;
    assert_eq!(set.status(), 303);
    let karl = conversation::Entity::find_by_id(by_customer)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let set_customer = app
        .post_form(
            &page,
            &format!("/customers/{}/legal-hold", karl.customer_id),
            &[("reason", "Tax audit")],
        )
        .await;
    assert_eq!(set_customer.status(), 303);

    let report = retention::run_once(&app.state, org, false).await.unwrap();
    let counts = report.category(Category::ClosedConversations).unwrap();
    assert_eq!((counts.conversations, counts.skipped_legal_hold), (0, 2));
    assert_eq!(
        conversation::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        2
    );
    let logged = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("legal_hold.set"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(logged, 2);

    let release = app
        .post_form(
            &page,
            &format!("/conversations/{held}/legal-hold"),
            &[("release", "1")],
        )
        .await;
    assert_eq!(release.status(), 303);
    let report = retention::run_once(&app.state, org, false).await.unwrap();
    let counts = report.category(Category::ClosedConversations).unwrap();
    assert_eq!((counts.conversations, counts.skipped_legal_hold), (1, 1));
}

#[tokio::test]
async fn another_organizations_data_is_never_touched_and_its_ids_answer_404() {
    let (app, org) = owner_app().await;
    app.create_user("other@else.test", "Elsewhere", "owner")
        .await;
    let other = org_id(&app, "Elsewhere").await;
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
    close_days_ago(&app, mine, 400).await;
    close_days_ago(&app, theirs, 400).await;
    save(&app, org, Category::ClosedConversations, 30, Action::Delete).await;
    save(
        &app,
        org,
        Category::CustomersWithoutConversations,
        1,
        Action::Delete,
    )
    .await;

    retention::run_once(&app.state, org, false).await.unwrap();
    assert!(
        conversation::Entity::find_by_id(mine)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        conversation::Entity::find_by_id(theirs)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_some()
    );
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
    close_days_ago(&app, deleted, 800).await;
    close_days_ago(&app, anonymized, 100).await;
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
    save(&app, org, Category::AnyConversation, 500, Action::Delete).await;
    save(
        &app,
        org,
        Category::ClosedConversations,
        30,
        Action::Anonymize,
    )
    .await;
    save(
        &app,
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
            !files_holding_in(&index_dir, needle, true).is_empty(),
            "{needle} is not in the index files before the run"
        );
    }
    for needle in needles {
        if is_sqlite(&app) {
            lethe::db::checkpoint(&app.state.db).await.unwrap();
            assert!(
                !files_holding(&app, needle).is_empty(),
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
        let hits = files_holding_in(&index_dir, needle, true);
        assert!(hits.is_empty(), "{needle} left in the index: {hits:?}");
    }
    if is_sqlite(&app) {
        for needle in needles {
            let hits = files_holding(&app, needle);
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
            assert!(files_holding(&app, needle).is_empty());
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
    close_days_ago(&app, id, 400).await;
    save(&app, org, Category::ClosedConversations, 30, Action::Delete).await;
    let dry = lethe(&app)
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
    assert!(
        conversation::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_some()
    );
    let run = lethe(&app)
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
    assert!(
        conversation::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
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
        close_days_ago(&app, id, 400).await;
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
    assert_eq!(
        conversation::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        3
    );
    assert!(
        retention::saved_rules(&app.state.db, org)
            .await
            .unwrap()
            .is_empty(),
        "a preview saves nothing"
    );

    save(&app, org, Category::ClosedConversations, 30, Action::Delete).await;
    retention::run_once(&app.state, org, false).await.unwrap();
    let html = app.get_text("/settings/retention").await;
    assert!(
        html.contains("delete 3 conversations of 1 customers"),
        "history shows counts"
    );
    assert!(html.contains("Next scheduled run"));
}
