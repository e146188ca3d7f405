//! The audit log: the page (admins only, this organization only, IP address and user agent,
//! filters by actor, action and date, CSV and JSON exports), failed logins in the right
//! organizations, a chain anchored at both ends (`lethe audit verify` names removed newest or
//! oldest rows), appends from several processes at once, and retention pruning that keeps the
//! chain verifiable.

use chrono::{Duration, Utc};
use reqwest::redirect::Policy;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::helpers::{
    AppOptions, PASSWORD, TestApp, post_form_with, spawn_app, spawn_app_with, spawn_with_input,
};
use lethe::audit::{Actor, Entry, Verification};
use lethe::db::entity::audit_event;
use lethe::orgs::OrgId;
use lethe::retention::{Action, Category};

async fn verify(app: &TestApp) -> Verification {
    lethe::audit::verify(&app.state.db, app.state.audit.key())
        .await
        .unwrap()
}

async fn record(app: &TestApp, org: Option<OrgId>, action: &'static str) {
    app.state
        .audit
        .record(
            &app.state.db,
            Entry {
                org,
                actor: Actor::System("test"),
                action,
                target: "test".into(),
                client: None,
                details: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
}

async fn rows(app: &TestApp) -> Vec<audit_event::Model> {
    use sea_orm::QueryOrder;
    audit_event::Entity::find()
        .order_by_asc(audit_event::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
}

/// Runs `lethe audit verify` against the app's database, as an operator would.
fn cli_verify(app: &TestApp) -> std::process::Output {
    app.lethe().args(["audit", "verify"]).output().unwrap()
}

/// Signs in with a browser that sends its own User-Agent header.
async fn login_with_agent(app: &TestApp, email: &str, agent: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .user_agent(agent)
        .build()
        .unwrap();
    let response = post_form_with(
        &client,
        &app.address,
        "/login",
        "/login",
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 303);
    client
}

#[tokio::test]
async fn admins_read_their_organizations_audit_log_and_export_it() {
    let app = spawn_app().await;
    app.create_user("owner@shop-a.test", "Shop A", "owner")
        .await;
    app.create_user("agent@shop-a.test", "Shop A", "agent")
        .await;
    app.create_user("owner@shop-b.test", "Shop B", "owner")
        .await;
    let other = app.another_browser();
    other.login("owner@shop-b.test").await;
    other
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "secret-b@shop-b.test"), ("role", "agent")],
        )
        .await;

    app.login("owner@shop-a.test").await;
    app.post_form(
        "/settings/team",
        "/settings/team/invitations",
        &[("email", "new@shop-a.test"), ("role", "agent")],
    )
    .await;
    let html = app.get_text("/audit").await;
    assert!(html.contains("login.succeeded") && html.contains("member.invited"));
    assert!(
        !html.contains("owner@shop-b.test"),
        "another organization's entries never show"
    );

    let filtered = app.get_text("/audit?action=member").await;
    assert!(filtered.contains("member.invited") && !filtered.contains("login.succeeded"));

    let csv = app.get("/audit?format=csv").await;
    assert_eq!(
        csv.headers().get("content-type").unwrap(),
        "text/csv; charset=utf-8"
    );
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("id,occurred_at,actor,action"));
    assert!(csv.contains("\"member.invited\"") && !csv.contains("shop-b"));
    let json: serde_json::Value = app.get("/audit?format=json").await.json().await.unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .all(|e| e["hash"].as_str().unwrap().len() == 64)
    );
    assert!(
        app.get_text("/audit?action=audit.exported")
            .await
            .contains("audit.exported"),
        "exporting the log is itself logged"
    );

    let bad = app.get("/audit?from=yesterday").await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("2026-05-01"));

    let agent = app.another_browser();
    agent.login("agent@shop-a.test").await;
    assert_eq!(agent.get("/audit").await.status(), 403);
}

#[tokio::test]
async fn the_page_shows_ip_and_user_agent_and_filters_by_actor_and_date() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    login_with_agent(&app, "agent@shop.test", "AgentBrowser/7.1 (audit test)").await;
    app.login("owner@shop.test").await;

    // Act
    let all = app.get_text("/audit").await;
    let by_agent = app.get_text("/audit?actor=agent%40shop").await;
    let today = Utc::now().date_naive();
    let tomorrow = (today + Duration::days(1)).format("%Y-%m-%d").to_string();
    let yesterday = (today - Duration::days(1)).format("%Y-%m-%d").to_string();
    let today = today.format("%Y-%m-%d").to_string();
    let from_tomorrow = app.get_text(&format!("/audit?from={tomorrow}")).await;
    let until_yesterday = app.get_text(&format!("/audit?to={yesterday}")).await;
    let only_today = app
        .get_text(&format!("/audit?from={today}&to={today}&action=login"))
        .await;

    // Assert
    assert!(
        all.contains("AgentBrowser/7.1 (audit test)"),
        "the user agent shows"
    );
    assert!(all.contains("127.0.0.1"), "the IP address shows");
    assert!(by_agent.contains("agent@shop.test") && !by_agent.contains("owner@shop.test"));
    for empty in [&from_tomorrow, &until_yesterday] {
        assert!(empty.contains("No entries match.") && !empty.contains("login.succeeded"));
    }
    assert!(only_today.contains("agent@shop.test") && only_today.contains("owner@shop.test"));
}

#[tokio::test]
async fn failed_logins_show_in_each_organization_of_the_account_and_unknown_ones_in_none() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("owner@shop-a.test", "Shop A", "owner")
        .await;
    app.create_user("owner@shop-b.test", "Shop B", "owner")
        .await;
    let both = app.create_user("both@shop.test", "Shop A", "admin").await;
    let shop_b = app.org_id("Shop B").await;
    lethe::orgs::queries::add_member(&app.state.db, shop_b, both, lethe::orgs::Role::Agent)
        .await
        .unwrap();
    let stranger = app.another_browser();

    // Act
    assert_eq!(
        stranger
            .login_with("both@shop.test", "wrong password")
            .await
            .status(),
        401
    );
    assert_eq!(
        stranger
            .login_with("ghost-zx81@nowhere.test", "wrong password")
            .await
            .status(),
        401
    );

    // Assert
    for (owner, org) in [
        ("owner@shop-a.test", "Shop A"),
        ("owner@shop-b.test", "Shop B"),
    ] {
        let browser = app.another_browser();
        browser.login(owner).await;
        let html = browser.get_text("/audit?action=login.failed").await;
        assert!(
            html.contains("login.failed") && html.contains(&format!("user:{both}")),
            "{org} sees the failed login of its member"
        );
    }
    app.state.audit.flush_tally(&app.state.db).await.unwrap();
    let unknown = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("login.failed_unknown"))
        .filter(audit_event::Column::OrganizationId.is_null())
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        unknown.len(),
        1,
        "an unknown address is logged once, under no organization"
    );
    assert!(
        !format!("{unknown:?}").contains("ghost-zx81"),
        "without the typed address"
    );
    assert!(matches!(verify(&app).await, Verification::Intact { .. }));
}

#[tokio::test]
async fn verify_names_removed_newest_and_oldest_rows() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    for action in ["test.one", "test.two", "test.three"] {
        record(&app, Some(org), action).await;
    }
    assert_eq!(verify(&app).await, Verification::Intact { rows: 3 });
    let all = rows(&app).await;
    let newest = all.last().unwrap().clone();
    let oldest = all.first().unwrap().clone();

    // Act: the newest row goes.
    audit_event::Entity::delete_by_id(newest.id)
        .exec(&app.state.db)
        .await
        .unwrap();

    // Assert
    match verify(&app).await {
        Verification::Broken { row_id, reason } => {
            assert_eq!(row_id, newest.id);
            assert!(reason.contains("newest rows were removed"), "{reason}");
        }
        intact => panic!("removing the newest row went unnoticed: {intact:?}"),
    }
    let output = cli_verify(&app);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("row {}", newest.id)) && stderr.contains("newest"),
        "{stderr}"
    );

    // Put it back: intact again. Then the oldest row goes.
    audit_event::ActiveModel::from(newest)
        .insert(&app.state.db)
        .await
        .unwrap();
    assert_eq!(verify(&app).await, Verification::Intact { rows: 3 });
    audit_event::Entity::delete_by_id(oldest.id)
        .exec(&app.state.db)
        .await
        .unwrap();
    match verify(&app).await {
        Verification::Broken { row_id, reason } => {
            assert_eq!(row_id, all[1].id, "the first remaining row is named");
            assert!(reason.contains("oldest rows"), "{reason}");
        }
        intact => panic!("removing the oldest row went unnoticed: {intact:?}"),
    }
}

#[tokio::test]
async fn appends_from_two_logs_at_once_keep_one_chain() {
    // Two `AuditLog`s with their own in-process locks stand for two processes (the server
    // and a CLI command): only the database lock keeps them from forking the chain.
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let other = std::sync::Arc::new(lethe::audit::AuditLog::new(app.state.audit.key().clone()));
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let state = app.state.clone();
        let other = other.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let entry = Entry {
                    org: Some(org),
                    actor: Actor::System("test"),
                    action: "test.concurrent",
                    target: format!("worker:{worker}"),
                    client: None,
                    details: serde_json::json!({}),
                };
                let log = if worker % 2 == 0 {
                    &state.audit
                } else {
                    &*other
                };
                log.record(&state.db, entry).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(verify(&app).await, Verification::Intact { rows: 100 });
}

#[tokio::test]
async fn cli_commands_and_the_server_append_to_one_chain() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    for i in 0..3 {
        app.create_user(&format!("cli{i}@shop.test"), "Shop", "agent")
            .await;
    }
    let mut children = Vec::new();
    for i in 0..3 {
        let mut command = app.lethe();
        command
            .args([
                "user",
                "password",
                "--email",
                &format!("cli{i}@shop.test"),
                "--password-stdin",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        children.push(spawn_with_input(&mut command, &format!("{PASSWORD}\n")));
    }
    let appender = {
        let state = app.state.clone();
        tokio::spawn(async move {
            for _ in 0..150 {
                state
                    .audit
                    .record(
                        &state.db,
                        Entry {
                            org: Some(org),
                            actor: Actor::System("test"),
                            action: "test.server",
                            target: "test".into(),
                            client: None,
                            details: serde_json::json!({}),
                        },
                    )
                    .await
                    .unwrap();
            }
        })
    };
    for child in children {
        let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    appender.await.unwrap();
    assert_eq!(verify(&app).await, Verification::Intact { rows: 153 });
}

/// Moves entries back in time (the content changes, so their hashes no longer match: only
/// entries that pruning removes are moved).
async fn age(app: &TestApp, ids: &[i64], days: i64) {
    let at = Utc::now() - Duration::days(days);
    audit_event::Entity::update_many()
        .col_expr(audit_event::Column::OccurredAt, at.into())
        .filter(audit_event::Column::Id.is_in(ids.iter().copied()))
        .exec(&app.state.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn retention_prunes_old_entries_around_other_organizations_and_failed_logins() {
    // Arrange: A's old entries sit between a failed login of an unknown address (no
    // organization) and B's entries.
    let app = spawn_app().await;
    app.create_user("owner@shop-a.test", "Shop A", "owner")
        .await;
    app.create_user("owner@shop-b.test", "Shop B", "owner")
        .await;
    let a = app.org_id("Shop A").await;
    let b = app.org_id("Shop B").await;
    record(&app, Some(a), "test.a1").await;
    app.another_browser()
        .login_with("nobody@nowhere.test", "wrong password")
        .await;
    app.state.audit.flush_tally(&app.state.db).await.unwrap();
    record(&app, Some(b), "test.b1").await;
    record(&app, Some(a), "test.a2").await;
    record(&app, Some(a), "test.a3").await;
    record(&app, Some(b), "test.b2").await;
    record(&app, Some(a), "test.a4").await;
    let by_action = |all: &[audit_event::Model], action: &str| {
        all.iter().find(|r| r.action == action).unwrap().id
    };
    let all = rows(&app).await;
    let first_a = [
        by_action(&all, "test.a1"),
        by_action(&all, "test.a2"),
        by_action(&all, "test.a3"),
    ];
    age(&app, &first_a, 400).await;
    app.save_rule(a, Category::AuditLog, 365, Action::Delete)
        .await;

    // Act
    let report = lethe::retention::run_once(&app.state, a, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(report.category(Category::AuditLog).unwrap().audit_events, 3);
    let kept = rows(&app).await;
    assert!(
        kept.iter().all(|r| !first_a.contains(&r.id)),
        "A's old entries are gone"
    );
    for action in [
        "login.failed_unknown",
        "test.b1",
        "test.b2",
        "test.a4",
        "audit.pruned",
    ] {
        assert!(kept.iter().any(|r| r.action == action), "{action} stays");
    }
    assert!(matches!(verify(&app).await, Verification::Intact { .. }));
    let output = cli_verify(&app);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A later run takes the next entries, growing the gaps: still verifiable.
    let next: Vec<i64> = kept
        .iter()
        .filter(|r| r.organization_id == Some(a) && r.action == "test.a4")
        .map(|r| r.id)
        .collect();
    age(&app, &next, 400).await;
    let again = lethe::retention::run_once(&app.state, a, false)
        .await
        .unwrap();
    assert_eq!(again.category(Category::AuditLog).unwrap().audit_events, 1);
    assert!(matches!(verify(&app).await, Verification::Intact { .. }));

    // Removing a kept entry by hand is still caught.
    let b1 = by_action(&rows(&app).await, "test.b1");
    app.state
        .db
        .execute_unprepared(&format!("DELETE FROM audit_events WHERE id = {b1}"))
        .await
        .unwrap();
    assert!(matches!(verify(&app).await, Verification::Broken { .. }));
}

#[tokio::test]
async fn actions_the_issue_lists_are_logged_with_ip_and_user_agent() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let agent = app.create_user("agent@shop.test", "Shop", "agent").await;
    let owner = login_with_agent(&app, "owner@shop.test", "OwnerBrowser/1.0").await;
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let owner = owner.clone();
        let address = app.address.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form_with(&owner, &address, "/settings/team", &path, &fields).await
        }
    };

    // Act
    post(
        format!("/settings/team/members/{agent}/role"),
        vec![("role", "admin".into())],
    )
    .await;
    post(
        "/settings/retention/rules".into(),
        vec![
            ("category", "closed_conversations".into()),
            ("after_days", "400".into()),
            ("action", "delete".into()),
        ],
    )
    .await;
    post("/settings/retention/run".into(), vec![]).await;
    post(
        "/settings/api-keys".into(),
        // As a browser sends the form: the read scope is ticked by default.
        vec![
            ("name", "Shop backend".into()),
            ("scope_read", "yes".into()),
        ],
    )
    .await;

    // Assert
    let logged = audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.is_not_null())
        .all(&app.state.db)
        .await
        .unwrap();
    for action in [
        "login.succeeded",
        "member.role_changed",
        "retention.rule_changed",
        "retention.run_requested",
        "api_key.created",
    ] {
        let entry = logged
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{action} is logged"));
        assert_eq!(
            entry.user_agent.as_deref(),
            Some("OwnerBrowser/1.0"),
            "{action}"
        );
        assert_eq!(entry.ip.as_deref(), Some("127.0.0.1"), "{action}");
    }
}

#[tokio::test]
async fn a_new_entry_after_a_head_is_removed_is_refused_and_verify_says_why() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    record(&app, Some(org), "test.one").await;
    app.state
        .db
        .execute_unprepared("DELETE FROM audit_head")
        .await
        .unwrap();
    let refused = app
        .state
        .audit
        .record(
            &app.state.db,
            Entry {
                org: Some(org),
                actor: Actor::System("test"),
                action: "test.two",
                target: "test".into(),
                client: None,
                details: serde_json::json!({}),
            },
        )
        .await;
    assert!(refused.is_err(), "no entry is chained to an unknown head");
    assert!(matches!(
        verify(&app).await,
        Verification::Broken { reason, .. } if reason.contains("head")
    ));
    assert_eq!(rows(&app).await.len(), 1);
}

/// SHA-256 over the row's fields the way the chain was hashed before it was keyed: what
/// someone with write access to the database can compute without the instance key.
fn unkeyed_hash(row: &audit_event::Model) -> String {
    use sha2::{Digest, Sha256};
    let fields = [
        row.prev_hash.clone(),
        row.organization_id
            .map(|v| v.to_string())
            .unwrap_or_default(),
        row.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        row.actor_user_id.map(|v| v.to_string()).unwrap_or_default(),
        row.actor.clone(),
        row.action.clone(),
        row.target.clone(),
        row.ip.clone().unwrap_or_default(),
        row.user_agent.clone().unwrap_or_default(),
        row.details.clone(),
    ];
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Rewrites every row's hash with [`unkeyed_hash`], chaining from the genesis hash, and points
/// the head at the result: a forger's complete, self-consistent chain.
async fn rechain_unkeyed(app: &TestApp) {
    let mut prev = lethe::audit::GENESIS.to_owned();
    for mut row in rows(app).await {
        row.prev_hash = prev.clone();
        row.hash = unkeyed_hash(&row);
        prev = row.hash.clone();
        app.state
            .db
            .execute_unprepared(&format!(
                "UPDATE audit_events SET prev_hash = '{}', hash = '{}' WHERE id = {}",
                row.prev_hash, row.hash, row.id
            ))
            .await
            .unwrap();
        app.state
            .db
            .execute_unprepared(&format!(
                "UPDATE audit_head SET last_id = {}, last_hash = '{}'",
                row.id, row.hash
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_row_rewritten_and_the_chain_recomputed_without_the_key_fails_verify() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    for action in ["test.one", "test.two", "test.three"] {
        record(&app, Some(org), action).await;
    }
    assert_eq!(verify(&app).await, Verification::Intact { rows: 3 });
    let target = rows(&app).await[1].clone();
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE audit_events SET action = 'test.harmless' WHERE id = {}",
            target.id
        ))
        .await
        .unwrap();

    rechain_unkeyed(&app).await;

    let verification = verify(&app).await;
    assert!(
        matches!(verification, Verification::Broken { .. }),
        "a chain recomputed with plain SHA-256 passes: {verification:?}"
    );
    let output = cli_verify(&app);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
}

#[tokio::test]
async fn a_removed_row_hidden_behind_a_forged_anchor_fails_verify() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    for action in ["test.one", "test.two", "test.three"] {
        record(&app, Some(org), action).await;
    }
    let all = rows(&app).await;
    // An anchor says what a legitimate removal would: the row after the gap chains to the
    // removed row's hash, and the kept row before it is the first.
    let (kept, removed, after) = (&all[0], &all[1], &all[2]);
    audit_event::Entity::delete_by_id(removed.id)
        .exec(&app.state.db)
        .await
        .unwrap();
    lethe::db::entity::audit_anchor::ActiveModel {
        row_id: sea_orm::Set(after.id),
        prev_hash: sea_orm::Set(after.prev_hash.clone()),
        kept_hash: sea_orm::Set(kept.hash.clone()),
        removed: sea_orm::Set(1),
        reason: sea_orm::Set("retention".into()),
        mac: sea_orm::Set(Some("0".repeat(64))),
    }
    .insert(&app.state.db)
    .await
    .unwrap();

    match verify(&app).await {
        Verification::Broken { row_id, reason } => {
            assert_eq!(row_id, after.id);
            assert!(reason.contains("removed"), "{reason}");
        }
        intact => panic!("a forged anchor hid a removal: {intact:?}"),
    }
}

#[tokio::test]
async fn a_checkpoint_shows_a_chain_cut_back_with_its_old_head() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    record(&app, Some(org), "test.one").await;
    // The head as it was, saved by someone who will later cut the chain back to it.
    let old_head = app
        .state
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT last_id, last_hash, mac FROM audit_head",
        ))
        .await
        .unwrap()
        .unwrap();
    let (old_id, old_hash, old_mac): (i64, String, Option<String>) = (
        old_head.try_get("", "last_id").unwrap(),
        old_head.try_get("", "last_hash").unwrap(),
        old_head.try_get("", "mac").unwrap(),
    );
    record(&app, Some(org), "test.two").await;
    record(&app, Some(org), "test.three").await;

    // The operator keeps a checkpoint.
    let output = app.lethe().args(["audit", "checkpoint"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let checkpoint_file = app.data_dir.join("checkpoint.json");
    std::fs::write(&checkpoint_file, &output.stdout).unwrap();
    let checkpoint: lethe::audit::Checkpoint = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(checkpoint.row_id, rows(&app).await.last().unwrap().id);
    let verify_against = |app: &TestApp| {
        app.lethe()
            .args(["audit", "verify", "--checkpoint"])
            .arg(&checkpoint_file)
            .output()
            .unwrap()
    };
    assert!(verify_against(&app).status.success());

    // The chain is cut back to the saved head: consistent in itself.
    app.state
        .db
        .execute_unprepared(&format!("DELETE FROM audit_events WHERE id > {old_id}"))
        .await
        .unwrap();
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE audit_head SET last_id = {old_id}, last_hash = '{old_hash}', mac = '{}'",
            old_mac.unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(verify(&app).await, Verification::Intact { rows: 1 });

    let output = verify_against(&app);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cut back"), "{stderr}");

    // A checkpoint that is not one is refused with a clear message.
    std::fs::write(&checkpoint_file, "{}").unwrap();
    let output = verify_against(&app);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--checkpoint"));
}

#[tokio::test]
async fn a_chain_written_before_the_key_is_keyed_once_and_only_when_intact() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    for action in ["test.one", "test.two", "test.three"] {
        record(&app, Some(org), action).await;
    }
    // An old chain: unkeyed hashes and a head without a MAC, as the previous version wrote it.
    rechain_unkeyed(&app).await;
    app.state
        .db
        .execute_unprepared("UPDATE audit_head SET mac = NULL")
        .await
        .unwrap();
    let before = rows(&app).await;

    // A broken old chain is left alone.
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE audit_events SET target = 'changed' WHERE id = {}",
            before[1].id
        ))
        .await
        .unwrap();
    let rekeyed = lethe::audit::rekey(&app.state.db, app.state.audit.key())
        .await
        .unwrap();
    assert_eq!(
        rekeyed,
        lethe::audit::Rekeyed::Broken {
            row_id: before[1].id
        }
    );
    assert_eq!(
        rows(&app).await[2].hash,
        before[2].hash,
        "nothing was rewritten"
    );

    // Intact, it is keyed: verify accepts it, and a second run changes nothing.
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE audit_events SET target = '{}' WHERE id = {}",
            before[1].target, before[1].id
        ))
        .await
        .unwrap();
    let rekeyed = lethe::audit::rekey(&app.state.db, app.state.audit.key())
        .await
        .unwrap();
    assert_eq!(rekeyed, lethe::audit::Rekeyed::Keyed { rows: 3 });
    assert_eq!(verify(&app).await, Verification::Intact { rows: 3 });
    assert_ne!(rows(&app).await[0].hash, before[0].hash);
    assert_eq!(
        lethe::audit::rekey(&app.state.db, app.state.audit.key())
            .await
            .unwrap(),
        lethe::audit::Rekeyed::AlreadyKeyed
    );
    record(&app, Some(org), "test.four").await;
    assert_eq!(verify(&app).await, Verification::Intact { rows: 4 });
}

/// Signs in through a client that sends `X-Forwarded-For: forwarded`; returns the audit row
/// of that login.
async fn login_forwarded_for(app: &TestApp, forwarded: &str) -> audit_event::Model {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", forwarded.parse().unwrap());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    let response = post_form_with(
        &client,
        &app.address,
        "/login",
        "/login",
        &[("email", "owner@shop.test"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 303);
    rows(app)
        .await
        .into_iter()
        .rev()
        .find(|r| r.action == "login.succeeded")
        .expect("the login is recorded")
}

#[tokio::test]
async fn the_client_address_comes_from_trusted_proxies_only_and_from_the_right() {
    // Behind a proxy on loopback the operator declared: the address the proxy appended counts,
    // not the one the client wrote at the left of the header.
    let behind_proxy = spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_TRUSTED_PROXIES".into(), "127.0.0.1/32".into())],
        ..Default::default()
    })
    .await;
    behind_proxy
        .create_user("owner@shop.test", "Shop", "owner")
        .await;
    let row = login_forwarded_for(&behind_proxy, "6.6.6.6, 198.51.100.7").await;
    assert_eq!(row.ip.as_deref(), Some("198.51.100.7"));

    // No proxy declared: the header is the client's own claim and is ignored.
    let direct = spawn_app().await;
    direct.create_user("owner@shop.test", "Shop", "owner").await;
    let row = login_forwarded_for(&direct, "198.51.100.7").await;
    assert_eq!(row.ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn a_forged_chain_with_its_mac_cleared_is_not_keyed_by_the_next_start() {
    // Whoever writes the database rewrites a row, recomputes the old unkeyed chain and clears
    // the head's MAC, as if the chain had never been keyed: the next process to open the
    // database (here `lethe audit verify`) must not key it, and reports it broken.
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    for action in ["test.one", "test.two"] {
        record(&app, Some(org), action).await;
    }
    let target = rows(&app).await[0].clone();
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE audit_events SET action = 'test.harmless' WHERE id = {}",
            target.id
        ))
        .await
        .unwrap();
    rechain_unkeyed(&app).await;
    app.state
        .db
        .execute_unprepared("UPDATE audit_head SET mac = NULL")
        .await
        .unwrap();

    let output = cli_verify(&app);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let again = cli_verify(&app);
    assert_eq!(
        again.status.code(),
        Some(1),
        "still broken after a second start"
    );
    assert!(matches!(verify(&app).await, Verification::Broken { .. }));
}

#[tokio::test]
async fn the_weekly_mail_carries_a_checkpoint_that_verifies_and_reports_a_broken_chain() {
    let smtp = crate::smtp::SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    let org = app.org_id("Shop").await;
    for action in ["test.one", "test.two"] {
        record(&app, Some(org), action).await;
    }

    let outcome = lethe::audit::checkpoint_mail::run_once(&app.state)
        .await
        .unwrap();
    assert_eq!((outcome.emails, outcome.broken), (1, false), "{outcome:?}");
    let mails = smtp.wait_for(1).await;
    let mail = crate::smtp::unfold_qp(&mails[0]);
    assert!(mail.contains("owner@shop.test"), "the owner, not the agent");
    let json_start = mail.find('{').expect("the checkpoint JSON");
    let json_end = mail[json_start..].find('}').expect("end of JSON") + json_start + 1;
    let checkpoint_file = app.data_dir.join("mailed-checkpoint.json");
    std::fs::write(&checkpoint_file, &mail[json_start..json_end]).unwrap();
    let verify_against = |app: &TestApp| {
        app.lethe()
            .args(["audit", "verify", "--checkpoint"])
            .arg(&checkpoint_file)
            .output()
            .unwrap()
    };
    assert!(
        verify_against(&app).status.success(),
        "the mailed checkpoint is a real one"
    );

    // Someone with database access rewrites a row: next week's mail is an alert.
    let target = rows(&app).await[0].clone();
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE audit_events SET action = 'test.harmless' WHERE id = {}",
            target.id
        ))
        .await
        .unwrap();
    let outcome = lethe::audit::checkpoint_mail::run_once(&app.state)
        .await
        .unwrap();
    assert!(outcome.broken, "{outcome:?}");
    let mails = smtp.wait_for(2).await;
    let alert = crate::smtp::unfold_qp(&mails[1]);
    assert!(alert.contains("does not verify"), "{alert}");
    assert!(alert.contains(&target.id.to_string()));
    assert_eq!(verify_against(&app).status.code(), Some(1));
}

#[tokio::test]
async fn with_several_organizations_the_checkpoint_goes_only_to_the_configured_operator() {
    let smtp = crate::smtp::SmtpRecorder::start().await;
    let mut options = AppOptions::with_smtp(smtp.url());
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("owner@else.test", "Elsewhere", "owner")
        .await;
    let outcome = lethe::audit::checkpoint_mail::run_once(&app.state)
        .await
        .unwrap();
    assert!(
        outcome.skipped,
        "no tenant's owner gets the instance's checkpoint: {outcome:?}"
    );

    options
        .extra_env
        .push(("LETHE_AUDIT_CHECKPOINT_TO".into(), "ops@agency.test".into()));
    let operated = spawn_app_with(options).await;
    operated
        .create_user("owner@shop.test", "Shop", "owner")
        .await;
    operated
        .create_user("owner@else.test", "Elsewhere", "owner")
        .await;
    let outcome = lethe::audit::checkpoint_mail::run_once(&operated.state)
        .await
        .unwrap();
    assert_eq!(outcome.emails, 1, "{outcome:?}");
    let mails = smtp.wait_for(1).await;
    assert!(mails[0].contains("ops@agency.test"));
    assert!(!mails[0].contains("owner@"), "only the operator");
}
