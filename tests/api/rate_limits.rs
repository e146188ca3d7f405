//! Rate limits (`LETHE_RATE_*`, `LETHE_SSE_STREAMS_PER_USER`): over a limit a request answers
//! 429 with `Retry-After` and writes nothing; limits are kept per client address (an
//! IPv6 client per /64), per channel token, per API key and per organization, per user.
//! Refusals that used to write one audit row each are counted and written as one row per
//! source; audit rows under no organization are pruned after `LETHE_INSTANCE_AUDIT_DAYS`
//! with the chain still verifiable. Each test sets low limits in its own app's settings.

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{AppOptions, TestApp, csrf_of, mail, spawn_app_with};
use lethe::audit::Verification;
use lethe::db::entity::{audit_event, message, password_reset, session};

async fn app_with(settings: &[(&str, &str)]) -> TestApp {
    let mut extra_env: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // Lets a test speak for several client addresses through X-Forwarded-For.
    extra_env.push(("LETHE_TRUSTED_PROXIES".into(), "127.0.0.1/32".into()));
    spawn_app_with(AppOptions {
        extra_env,
        ..Default::default()
    })
    .await
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("whole seconds")
}

/// Asserts a 429 with a Retry-After of at least one second.
fn assert_limited(response: &reqwest::Response) {
    assert_eq!(response.status(), 429);
    assert!(retry_after(response) >= 1);
}

async fn audit_rows(app: &TestApp) -> u64 {
    audit_event::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn verify(app: &TestApp) -> Verification {
    lethe::audit::verify(&app.state.db, app.state.audit.key())
        .await
        .unwrap()
}

fn key_on(html: &str) -> String {
    regex::Regex::new(r"lethe_[A-Za-z0-9_-]{43}")
        .unwrap()
        .find(html)
        .expect("the new key is on the page")
        .as_str()
        .to_owned()
}

/// Creates an API key with every scope, as the admin signed in to `browser`.
async fn key_of(browser: &TestApp, name: &str) -> String {
    let response = browser
        .post_form(
            "/settings/api-keys",
            "/settings/api-keys",
            &[
                ("name", name),
                ("scope_read", "yes"),
                ("scope_write", "yes"),
                ("scope_privacy", "yes"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    key_on(&response.text().await.unwrap())
}

async fn api_get(app: &TestApp, key: &str, from: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url("/api/v1/privacy/requests"))
        .bearer_auth(key)
        .header("x-forwarded-for", from)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn login_posts_over_the_address_limit_get_429_and_create_no_session_and_no_audit_row() {
    // Arrange
    let app = app_with(&[("LETHE_RATE_LOGIN_PER_MINUTE", "3")]).await;
    let user = app.create_user("agent@shop.test", "Shop", "owner").await;
    for _ in 0..3 {
        let wrong = app.login_with("agent@shop.test", "wrong password").await;
        assert_eq!(wrong.status(), 401);
    }
    let rows_before = audit_rows(&app).await;

    // Act: the right password, one post too many.
    let refused = app.login("agent@shop.test").await;

    // Assert
    assert_limited(&refused);
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = refused.text().await.unwrap();
    assert!(page.contains("Too many requests"), "{page}");
    let signed_in = session::Entity::find()
        .filter(session::Column::UserId.eq(user))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(signed_in, 0, "no session was created");
    assert_eq!(
        audit_rows(&app).await,
        rows_before,
        "no audit row was added"
    );
    app.state.audit.flush_tally(&app.state.db).await.unwrap();
    assert_eq!(audit_rows(&app).await, rows_before, "nor counted for later");
    // Another address still signs in.
    let other = app.another_browser();
    let form = other.get_text("/login").await;
    let response = other
        .client
        .post(other.url("/login"))
        .header("x-forwarded-for", "198.51.100.20")
        .form(&[
            ("csrf", csrf_of(&form).as_str()),
            ("email", "agent@shop.test"),
            ("password", crate::helpers::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn password_reset_requests_over_the_address_limit_get_429_and_store_no_link() {
    let app = app_with(&[("LETHE_RATE_PASSWORD_RESET_PER_MINUTE", "2")]).await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    // (Without mail the page has no form; the session's token is the login form's.)
    let csrf = csrf_of(&app.get_text("/login").await);
    let ask = || app.post_with_csrf("/password/forgot", &csrf, &[("email", "agent@shop.test")]);
    for _ in 0..2 {
        assert_ne!(ask().await.status(), 429);
    }

    let refused = ask().await;

    assert_limited(&refused);
    assert_eq!(
        password_reset::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    // Only posts are counted: the form itself still opens.
    assert_eq!(app.get("/password/forgot").await.status(), 200);
}

#[tokio::test]
async fn inbound_mail_is_limited_per_channel_token_and_per_address_and_a_refused_mail_is_not_stored()
 {
    // Arrange
    let app = app_with(&[("LETHE_RATE_INBOUND_PER_MINUTE", "2")]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let (_, token_a) = app
        .email_channel(org, "Support", "support@shop.test", None)
        .await;
    let (_, token_b) = app
        .email_channel(org, "Sales", "sales@shop.test", None)
        .await;
    let post = |token: &str, from: &str, n: u32| {
        let raw = mail(
            "anna@customer.test",
            &format!("<limit-{n}@customer.test>"),
            "Order",
            "Where is my parcel?",
        );
        reqwest::Client::new()
            .post(app.url(&format!("/inbound/email/{token}")))
            .header("x-forwarded-for", from)
            .body(Vec::<u8>::from(raw))
            .send()
    };
    for n in 0..2 {
        assert_eq!(post(&token_a, "192.0.2.1", n).await.unwrap().status(), 201);
    }

    // Act
    let same_token_same_address = post(&token_a, "192.0.2.1", 10).await.unwrap();
    let same_token_other_address = post(&token_a, "192.0.2.2", 11).await.unwrap();
    let other_token_same_address = post(&token_b, "192.0.2.1", 12).await.unwrap();
    let other_token_other_address = post(&token_b, "192.0.2.3", 13).await.unwrap();

    // Assert
    assert_limited(&same_token_same_address);
    assert!(
        same_token_same_address.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = same_token_same_address.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert_limited(&same_token_other_address);
    assert_limited(&other_token_same_address);
    assert_eq!(other_token_other_address.status(), 201);
    assert_eq!(
        message::Entity::find().count(&app.state.db).await.unwrap(),
        3,
        "the refused mails were not stored"
    );
}

#[tokio::test]
async fn an_api_key_over_its_limit_gets_429_while_other_keys_and_organizations_go_on() {
    // Arrange: a key may make 2 calls, an organization 3.
    let app = app_with(&[
        ("LETHE_RATE_API_PER_MINUTE", "2"),
        ("LETHE_RATE_API_ORG_PER_MINUTE", "3"),
    ])
    .await;
    app.create_user("admin@shop-a.test", "Shop A", "owner")
        .await;
    app.create_user("admin@shop-b.test", "Shop B", "owner")
        .await;
    app.login("admin@shop-a.test").await;
    let a1 = key_of(&app, "A1").await;
    let a2 = key_of(&app, "A2").await;
    let shop_b = app.another_browser();
    shop_b.login("admin@shop-b.test").await;
    let b = key_of(&shop_b, "B").await;
    for _ in 0..2 {
        assert_eq!(api_get(&app, &a1, "192.0.2.1").await.status(), 200);
    }
    let rows_before = audit_rows(&app).await;

    // Act
    let a1_over = api_get(&app, &a1, "192.0.2.1").await;
    let a1_elsewhere = api_get(&app, &a1, "192.0.2.9").await;
    let a2_first = api_get(&app, &a2, "192.0.2.1").await;
    let a2_over_org = api_get(&app, &a2, "192.0.2.1").await;
    let b_first = api_get(&app, &b, "192.0.2.1").await;

    // Assert
    assert_limited(&a1_over);
    // An RFC 9457 problem document (src/web/error.rs).
    assert_eq!(
        a1_over.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = a1_over.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Too many requests")
    );
    assert_limited(&a1_elsewhere);
    assert_eq!(
        a2_first.status(),
        200,
        "another key of the organization has its own budget"
    );
    assert_limited(&a2_over_org);
    assert_eq!(b_first.status(), 200, "another organization is not held up");
    // Only the two calls that went through were recorded.
    assert_eq!(audit_rows(&app).await, rows_before + 2);
}

#[tokio::test]
async fn searches_are_limited_per_user() {
    let app = app_with(&[("LETHE_RATE_SEARCH_PER_MINUTE", "2")]).await;
    app.create_user("one@shop.test", "Shop", "owner").await;
    app.create_user("two@shop.test", "Shop", "agent").await;
    app.login("one@shop.test").await;
    for _ in 0..2 {
        assert_eq!(app.get("/search?q=parcel").await.status(), 200);
    }

    let refused = app.get("/search?q=parcel").await;

    assert_limited(&refused);
    assert!(refused.text().await.unwrap().contains("Too many requests"));
    let colleague = app.another_browser();
    colleague.login("two@shop.test").await;
    assert_eq!(colleague.get("/search?q=parcel").await.status(), 200);
}

#[tokio::test]
async fn the_channel_test_buttons_are_limited_per_organization() {
    let app = app_with(&[("LETHE_RATE_TEST_BUTTON_PER_MINUTE", "1")]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("owner@other.test", "Other", "owner").await;
    let org = app.org_id("Shop").await;
    let other_org = app.org_id("Other").await;
    let (channel, _) = app
        .email_channel(org, "Support", "support@shop.test", None)
        .await;
    let (other_channel, _) = app
        .email_channel(other_org, "Support", "support@other.test", None)
        .await;
    app.login("owner@shop.test").await;
    let page = format!("/settings/channels/{channel}");
    let first = app
        .post_form(&page, &format!("{page}/test-imap"), &[])
        .await;
    assert_eq!(first.status(), 200);

    let second = app
        .post_form(&page, &format!("{page}/test-smtp"), &[])
        .await;

    assert_limited(&second);
    let other = app.another_browser();
    other.login("owner@other.test").await;
    let page = format!("/settings/channels/{other_channel}");
    let theirs = other
        .post_form(&page, &format!("{page}/test-imap"), &[])
        .await;
    assert_eq!(theirs.status(), 200);
}

#[tokio::test]
async fn a_user_opens_at_most_the_cap_of_event_streams_and_a_closed_one_frees_a_slot() {
    // Arrange
    let app = app_with(&[("LETHE_SSE_STREAMS_PER_USER", "2")]).await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    app.create_user("colleague@shop.test", "Shop", "agent")
        .await;
    app.login("agent@shop.test").await;
    let first = app.get("/events").await;
    let second = app.get("/events").await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );

    // Act
    let third = app.get("/events").await;

    // Assert
    assert_limited(&third);
    let colleague = app.another_browser();
    colleague.login("colleague@shop.test").await;
    assert_eq!(colleague.get("/events").await.status(), 200);
    // Closing one stream frees its slot (as soon as the server sees the client go).
    drop(first);
    let mut reopened = None;
    for _ in 0..120 {
        let attempt = app.get("/events").await;
        if attempt.status() == 200 {
            reopened = Some(attempt);
            break;
        }
        assert_eq!(attempt.status(), 429);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(reopened.is_some(), "a slot was freed");
    assert_limited(&app.get("/events").await);
    drop(second);
}

#[tokio::test]
async fn ten_refused_api_keys_from_one_network_become_one_audit_row_with_count_ten() {
    // Arrange
    let app = app_with(&[]).await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let rows_before = audit_rows(&app).await;

    // Act
    for i in 0..10 {
        let bogus = format!("lethe_{i:0>43}");
        // Every address of one /64 is one source.
        let from = format!("2001:db8:7:7:{i:x}::1");
        assert_eq!(api_get(&app, &bogus, &from).await.status(), 401);
    }
    assert_eq!(api_get(&app, "nonsense", "192.0.2.50").await.status(), 401);
    assert_eq!(
        audit_rows(&app).await,
        rows_before,
        "nothing is written per refusal"
    );
    let written = app.state.audit.flush_tally(&app.state.db).await.unwrap();

    // Assert
    assert_eq!(written, 2);
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("api.key_refused"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let v6 = rows
        .iter()
        .find(|r| r.ip.as_deref() == Some("2001:db8:7:7::/64"))
        .expect("one row for the /64");
    assert_eq!(v6.organization_id, None);
    let details: serde_json::Value = serde_json::from_str(&v6.details).unwrap();
    assert_eq!(details["count"], 10);
    assert_eq!(details["source"], "2001:db8:7:7::/64");
    assert_eq!(details["reasons"]["unknown"], 10);
    assert!(details["first_at"].as_str().unwrap() <= details["last_at"].as_str().unwrap());
    // A second flush has nothing to write.
    assert_eq!(app.state.audit.flush_tally(&app.state.db).await.unwrap(), 0);
    assert!(matches!(verify(&app).await, Verification::Intact { .. }));
}

#[tokio::test]
async fn failed_logins_of_unknown_addresses_become_one_row_per_source_without_the_address() {
    // Arrange
    let app = app_with(&[]).await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let browser = app.another_browser();

    // Act
    for i in 0..4 {
        let response = browser
            .login_with(&format!("ghost-{i}@nowhere.test"), "wrong password")
            .await;
        assert_eq!(response.status(), 401);
    }
    app.state.audit.flush_tally(&app.state.db).await.unwrap();

    // Assert
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("login.failed_unknown"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.organization_id, None);
    let details: serde_json::Value = serde_json::from_str(&row.details).unwrap();
    assert_eq!(details["count"], 4);
    assert_eq!(details["source"], "127.0.0.1");
    assert!(
        !format!("{row:?}").contains("ghost"),
        "never the typed address"
    );
    assert_eq!(row.user_agent, None);
    assert!(matches!(verify(&app).await, Verification::Intact { .. }));
}

async fn record_in(app: &TestApp, org: lethe::orgs::OrgId) {
    let entry = lethe::audit::Entry {
        org: Some(org),
        actor: lethe::audit::Actor::System("test"),
        action: "test.org",
        target: "test".into(),
        client: None,
        details: serde_json::json!({}),
    };
    app.state.audit.record(&app.state.db, entry).await.unwrap();
}

#[tokio::test]
async fn instance_audit_rows_older_than_the_setting_are_pruned_and_the_chain_still_verifies() {
    // Arrange: old rows under no organization, between an organization's rows.
    let app = app_with(&[]).await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    record_in(&app, org).await;
    for from in ["192.0.2.1", "192.0.2.2"] {
        let response = reqwest::Client::new()
            .get(app.url("/api/v1/privacy/requests"))
            .header("x-forwarded-for", from)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        app.state.audit.flush_tally(&app.state.db).await.unwrap();
        record_in(&app, org).await;
    }
    let all = audit_event::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    audit_event::Entity::update_many()
        .col_expr(
            audit_event::Column::OccurredAt,
            (Utc::now() - Duration::days(400)).into(),
        )
        .filter(audit_event::Column::OrganizationId.is_null())
        .exec(&app.state.db)
        .await
        .unwrap();
    let instance_rows = all.iter().filter(|r| r.organization_id.is_none()).count() as u64;
    assert!(instance_rows >= 2);

    // Act
    let outcome = lethe::jobs::cleanup::run_once(&app.state).await.unwrap();

    // Assert
    assert_eq!(outcome.instance_audit_events, instance_rows);
    let kept = audit_event::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        kept.iter()
            .filter(|r| r.action == "api.key_refused")
            .count(),
        0
    );
    assert_eq!(
        kept.iter().filter(|r| r.action == "test.org").count(),
        3,
        "an organization's rows are its retention's to prune"
    );
    let pruned = kept
        .iter()
        .find(|r| r.action == "audit.pruned")
        .expect("the pruning is recorded");
    assert_eq!(pruned.organization_id, None);
    assert!(
        pruned
            .details
            .contains(&format!("\"removed\":{instance_rows}")),
        "{}",
        pruned.details
    );
    assert!(matches!(verify(&app).await, Verification::Intact { .. }));
    let output = app.lethe().args(["audit", "verify"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Nothing else is due: a second run removes and writes nothing.
    let again = lethe::jobs::cleanup::run_once(&app.state).await.unwrap();
    assert_eq!(again.instance_audit_events, 0);
    assert_eq!(
        audit_event::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        kept.len() as u64
    );
}
