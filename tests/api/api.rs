//! API keys (created by admins, shown once, stored as a digest, revocable) and the JSON API
//! under /api/v1/: the key's organization only (another's ids answer 404), 401 for a wrong or
//! revoked key, erasure refused on legal hold with the reason, and every call audit-logged.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{TestApp, csrf_of, imported, mail, spawn_app};
use lethe::db::entity::{api_key, audit_event};
use lethe::orgs::OrgId;

pub(crate) fn key_on(html: &str) -> String {
    regex::Regex::new(r"lethe_[A-Za-z0-9_-]{43}")
        .unwrap()
        .find(html)
        .expect("the new key is on the page")
        .as_str()
        .to_owned()
}

/// Stores a mail from `from` in `org`; returns its customer's id.
async fn customer_of_mail(app: &TestApp, org: OrgId, from: &str, message_id: &str) -> i64 {
    let raw = mail(from, message_id, "Hello", "Please help.");
    let (conversation_id, _) = app.ingest(imported(org), raw).await;
    app.customer_of(conversation_id).await
}

/// Signs in as `email` (an admin) and creates a key named `name`; returns the key.
/// Creates a key with every scope and no expiry.
pub(crate) async fn create_key(app: &TestApp, name: &str) -> String {
    create_key_with(
        app,
        &[
            ("name", name),
            ("scope_read", "yes"),
            ("scope_write", "yes"),
            ("scope_privacy", "yes"),
        ],
    )
    .await
}

pub(crate) async fn create_key_with(app: &TestApp, form: &[(&str, &str)]) -> String {
    let response = app
        .post_form("/settings/api-keys", "/settings/api-keys", form)
        .await;
    assert_eq!(response.status(), 200);
    key_on(&response.text().await.unwrap())
}

/// A plain HTTP client: no cookies.
pub(crate) fn api(
    app: &TestApp,
    key: Option<&str>,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new().request(method, app.url(path));
    match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}

pub(crate) async fn get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    api(app, Some(key), reqwest::Method::GET, path)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn post_json(
    app: &TestApp,
    key: &str,
    path: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    api(app, Some(key), reqwest::Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn actions_by_api(app: &TestApp, org: OrgId) -> Vec<String> {
    audit_event::Entity::find()
        .filter(audit_event::Column::OrganizationId.eq(org.get()))
        .filter(audit_event::Column::Actor.contains("(API key lethe_"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn an_admin_creates_a_key_that_is_shown_once_and_stored_as_a_digest() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "admin").await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("admin@shop.test").await;

    // Act
    let key = create_key(&app, "Shop backend").await;

    // Assert
    let list = app.get_text("/settings/api-keys").await;
    assert!(list.contains("Shop backend") && list.contains(&key[..14]));
    assert!(!list.contains(&key), "the key is shown only once");
    let stored = api_key::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.token_hash, lethe::crypto::sha256_hex(&key));
    assert!(
        !format!("{stored:?}").contains(&key[14..]),
        "only the digest is stored"
    );
    let logged = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("api_key.created"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(logged, 1);
    let empty = app
        .post_form(
            "/settings/api-keys",
            "/settings/api-keys",
            &[("name", "  ")],
        )
        .await;
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("Give the key a name"));
    assert_eq!(app.count::<api_key::Entity>().await, 1);

    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    assert_eq!(agent.get("/settings/api-keys").await.status(), 403);
    let csrf = csrf_of(&agent.get_text("/inbox").await);
    assert_eq!(
        agent
            .post_with_csrf("/settings/api-keys", &csrf, &[("name", "Mine")])
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn a_key_reaches_its_organization_only_and_another_organizations_ids_answer_404() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("admin@shop-a.test", "Shop A", "owner")
        .await;
    app.create_user("admin@shop-b.test", "Shop B", "owner")
        .await;
    let a = app.org_id("Shop A").await;
    let b = app.org_id("Shop B").await;
    let anna = customer_of_mail(&app, a, "Anna <anna@kunde.test>", "a1@kunde.test").await;
    let bea = customer_of_mail(&app, b, "Bea <bea@kunde.test>", "b1@kunde.test").await;
    app.login("admin@shop-a.test").await;
    let key = create_key(&app, "Backend A").await;

    // Act
    let found = get(&app, &key, "/api/v1/customers?email=ANNA%40kunde.test").await;
    let other = get(&app, &key, "/api/v1/customers?email=bea%40kunde.test").await;
    let own_export = get(&app, &key, &format!("/api/v1/customers/{anna}/export")).await;
    let export_b = get(&app, &key, &format!("/api/v1/customers/{bea}/export")).await;
    let erase_b = api(
        &app,
        Some(&key),
        reqwest::Method::POST,
        &format!("/api/v1/customers/{bea}/erase"),
    )
    .send()
    .await
    .unwrap();

    // Assert
    assert_eq!(found.status(), 200);
    assert!(found.headers().get("set-cookie").is_none(), "no cookie");
    for answer in [&found, &other, &own_export, &export_b] {
        assert_eq!(
            answer.headers().get("cache-control").unwrap(),
            "no-store",
            "{}",
            answer.url()
        );
    }
    let body: serde_json::Value = found.json().await.unwrap();
    assert_eq!(body["customers"][0]["id"], anna);
    assert_eq!(
        body["customers"][0]["email_addresses"][0],
        "anna@kunde.test"
    );
    let body: serde_json::Value = other.json().await.unwrap();
    assert_eq!(body["customers"].as_array().unwrap().len(), 0);
    assert_eq!(own_export.status(), 200);
    assert_eq!(own_export.headers()["content-type"], "application/zip");
    let zip_bytes = own_export.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
    assert!(archive.by_name("export.json").is_ok());
    for refused in [export_b, erase_b] {
        assert_eq!(refused.status(), 404);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["status"], 404);
        assert!(body["error"].is_string());
    }
    assert!(
        app.find_customer(bea).await.is_some(),
        "the other organization's customer is untouched"
    );
    let logged = actions_by_api(&app, a).await;
    for action in ["api.customers_looked_up", "privacy.exported"] {
        assert!(logged.iter().any(|l| l == action), "{action} in {logged:?}");
    }
    assert_eq!(
        audit_event::Entity::find()
            .filter(audit_event::Column::OrganizationId.eq(b.get()))
            .filter(audit_event::Column::Actor.contains("API key"))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_missing_wrong_or_revoked_key_gets_401() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let helper = app.create_user("helper@shop.test", "Shop", "admin").await;
    let org = app.org_id("Shop").await;
    app.login("admin@shop.test").await;
    let key = create_key(&app, "Backend").await;
    assert_eq!(
        get(&app, &key, "/api/v1/privacy/requests").await.status(),
        200
    );

    // Act + Assert: no key, a wrong key.
    let none = api(&app, None, reqwest::Method::GET, "/api/v1/privacy/requests")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(body["status"], 401);
    let wrong = format!("lethe_{}", "x".repeat(43));
    assert_eq!(
        get(&app, &wrong, "/api/v1/privacy/requests").await.status(),
        401
    );
    // A session cookie is no API key.
    assert_eq!(app.get("/api/v1/privacy/requests").await.status(), 401);

    // Revoked.
    let stored = api_key::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let revoke = app
        .post_form(
            "/settings/api-keys",
            &format!("/settings/api-keys/{}/revoke", stored.id),
            &[],
        )
        .await;
    assert_eq!(revoke.status(), 303);
    assert_eq!(
        get(&app, &key, "/api/v1/privacy/requests").await.status(),
        401
    );
    assert!(app.get_text("/settings/api-keys").await.contains("revoked"));
    app.state.audit.flush_tally(&app.state.db).await.unwrap();
    let refused = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("api.key_refused"))
        .filter(audit_event::Column::OrganizationId.eq(org.get()))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the refused revoked key is logged in its organization");
    assert!(refused.details.contains("revoked"));
    assert!(
        audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("api_key.revoked"))
            .count(&app.state.db)
            .await
            .unwrap()
            == 1
    );

    // A key whose creator is no longer an admin stops working.
    let helper_browser = app.another_browser();
    helper_browser.login("helper@shop.test").await;
    let helper_key = create_key(&helper_browser, "Helper script").await;
    assert_eq!(
        get(&app, &helper_key, "/api/v1/privacy/requests")
            .await
            .status(),
        200
    );
    app.set_role(helper, "agent").await;
    assert_eq!(
        get(&app, &helper_key, "/api/v1/privacy/requests")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn erasure_through_the_api_is_refused_on_legal_hold_with_the_reason() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let held = customer_of_mail(&app, org, "Held <held@kunde.test>", "h1@kunde.test").await;
    app.login("admin@shop.test").await;
    let key = create_key(&app, "Backend").await;
    app.legal_hold(
        &format!("/customers/{held}"),
        &[("reason", "Tax audit 2026")],
    )
    .await;
    let path = format!("/api/v1/customers/{held}/erase");

    // Act
    let refused = api(&app, Some(&key), reqwest::Method::POST, &path)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(refused.status(), 409);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["reason"], "Tax audit 2026");
    assert!(body["error"].as_str().unwrap().contains("legal hold"));
    assert!(app.find_customer(held).await.is_some());
    app.legal_hold(&format!("/customers/{held}"), &[("release", "1")])
        .await;
    let erased = api(&app, Some(&key), reqwest::Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 200);
    let body: serde_json::Value = erased.json().await.unwrap();
    assert!(body["receipt_id"].as_i64().is_some());
    assert_eq!(body["counts"]["customers"], 1);
    assert!(app.find_customer(held).await.is_none());
    let logged = actions_by_api(&app, org).await;
    for action in ["api.erase_refused", "privacy.erased"] {
        assert!(logged.iter().any(|l| l == action), "{action} in {logged:?}");
    }
}

#[tokio::test]
async fn privacy_requests_are_recorded_and_listed_through_the_api() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    customer_of_mail(&app, org, "Carla <carla@kunde.test>", "c1@kunde.test").await;
    app.login("admin@shop.test").await;
    let key = create_key(&app, "Backend").await;

    // Act
    let created = post_json(
        &app,
        &key,
        "/api/v1/privacy/requests",
        serde_json::json!({ "kind": "access", "received": "2026-11-02", "customer_email": "carla@kunde.test" }),
    )
    .await;
    let bad_kind = post_json(
        &app,
        &key,
        "/api/v1/privacy/requests",
        serde_json::json!({ "kind": "everything" }),
    )
    .await;
    let not_json = api(
        &app,
        Some(&key),
        reqwest::Method::POST,
        "/api/v1/privacy/requests",
    )
    .body("kind=access")
    .send()
    .await
    .unwrap();
    let listed = get(&app, &key, "/api/v1/privacy/requests").await;

    // Assert
    assert_eq!(created.status(), 201);
    let request: serde_json::Value = created.json().await.unwrap();
    let reference = request["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("DSR-"));
    assert!(
        request["due_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-02")
    );
    assert_eq!(bad_kind.status(), 400);
    let body: serde_json::Value = bad_kind.json().await.unwrap();
    assert_eq!(body["status"], 400);
    assert_eq!(not_json.status(), 400);
    let listed: serde_json::Value = listed.json().await.unwrap();
    assert!(
        listed["open"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["reference"] == reference.as_str())
    );
    assert!(
        app.get_text("/privacy/requests").await.contains(&reference),
        "the register shows it"
    );
    let logged = actions_by_api(&app, org).await;
    for action in ["privacy.request_recorded", "api.privacy_requests_listed"] {
        assert!(logged.iter().any(|l| l == action), "{action} in {logged:?}");
    }
}

#[tokio::test]
async fn a_key_does_only_what_its_scopes_allow_and_nothing_after_its_last_day() {
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let anna = customer_of_mail(&app, org, "Anna <anna@kunde.test>", "a1@kunde.test").await;
    app.login("admin@shop.test").await;

    // A fresh form offers read only; a key needs at least one scope and a last day after today.
    let page = app.get_text("/settings/api-keys").await;
    assert!(
        page.contains(r#"name="scope_read" value="yes" checked"#),
        "{page}"
    );
    assert!(!page.contains(r#"name="scope_privacy" value="yes" checked"#));
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    for (form, message) in [
        (vec![("name", "None")], "Choose at least one scope."),
        (
            vec![
                ("name", "Old"),
                ("scope_read", "yes"),
                ("expires", yesterday.as_str()),
            ],
            "The last day must be a date after today",
        ),
        (
            vec![("name", "Bad"), ("scope_read", "yes"), ("expires", "soon")],
            "The last day must be a date after today",
        ),
    ] {
        let refused = app
            .post_form("/settings/api-keys", "/settings/api-keys", &form)
            .await;
        assert_eq!(refused.status(), 422);
        assert!(refused.text().await.unwrap().contains(message), "{message}");
    }
    assert_eq!(
        api_key::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .len(),
        0,
        "nothing was created"
    );

    // A read-only key reads, and is refused what needs write or privacy, with the reason.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let reader = create_key_with(
        &app,
        &[
            ("name", "Reader"),
            ("scope_read", "yes"),
            ("expires", &tomorrow),
        ],
    )
    .await;
    let found = get(&app, &reader, "/api/v1/customers?email=anna%40kunde.test").await;
    assert_eq!(found.status(), 200);
    let export = get(&app, &reader, &format!("/api/v1/customers/{anna}/export")).await;
    assert_eq!(export.status(), 403);
    let body: serde_json::Value = export.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("privacy scope"),
        "{body}"
    );
    let erase = api(
        &app,
        Some(&reader),
        reqwest::Method::POST,
        &format!("/api/v1/customers/{anna}/erase"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(erase.status(), 403);
    let record = post_json(
        &app,
        &reader,
        "/api/v1/privacy/requests",
        serde_json::json!({ "kind": "access", "customer_id": anna }),
    )
    .await;
    assert_eq!(record.status(), 403);
    // Rights before format: a body it cannot parse changes nothing about the answer.
    let malformed = api(
        &app,
        Some(&reader),
        reqwest::Method::POST,
        "/api/v1/privacy/requests",
    )
    .header("content-type", "application/json")
    .body("{not json")
    .send()
    .await
    .unwrap();
    assert_eq!(malformed.status(), 403);
    assert!(
        lethe::db::entity::customer::Entity::find_by_id(anna)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_some(),
        "nothing was erased"
    );
    let page = app.get_text("/settings/api-keys").await;
    assert!(
        page.contains(&format!("<td>read</td>\n    <td>{tomorrow}</td>")),
        "{page}"
    );

    // After its last day the key is refused, and the refusal is recorded.
    api_key::Entity::update_many()
        .col_expr(
            api_key::Column::ExpiresAt,
            sea_orm::sea_query::Expr::val(Some(chrono::Utc::now() - chrono::Duration::minutes(1))),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let expired = get(&app, &reader, "/api/v1/customers?email=anna%40kunde.test").await;
    assert_eq!(expired.status(), 401);
    app.state.audit.flush_tally(&app.state.db).await.unwrap();
    let refusal = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("api.key_refused"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(refusal.iter().any(|r| r.details.contains("expired")));
    assert!(
        app.get_text("/settings/api-keys")
            .await
            .contains("(expired)")
    );
}

#[tokio::test]
async fn an_api_body_over_64_kib_is_refused_by_its_length_before_it_is_read() {
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    app.login("admin@shop.test").await;
    let key = create_key(&app, "Backend").await;
    let note = "x".repeat(100 * 1024);
    let response = post_json(
        &app,
        &key,
        "/api/v1/privacy/requests",
        serde_json::json!({ "kind": "access", "note": note }),
    )
    .await;
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 413);
    assert_eq!(
        lethe::db::entity::privacy_request::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}
