//! The REST API's resources over HTTP with real keys: conversations (the inbox's filters and
//! cursor, triage), messages (notes, replies), customers (create, read, rectify), the
//! directory lists; scopes (a read key cannot write), tenancy (another organization's ids
//! answer 404), restriction (listed, not processed), problem documents, and the public
//! OpenAPI document and its page.

use crate::api::{actions_by_api, api, create_key, create_key_with, get, key_on, post_json};
use crate::helpers::{AppOptions, TestApp, mail, post_form_with, spawn_app, spawn_app_with};
use lethe::orgs::OrgId;

async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.unwrap()
}

async fn put_json(
    app: &TestApp,
    key: &str,
    path: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    api(app, Some(key), reqwest::Method::PUT, path)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// An owner of "Shop" signed in, a key with every scope, and the organization.
async fn shop() -> (TestApp, String, OrgId) {
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    app.login("admin@shop.test").await;
    let key = create_key(&app, "Backend").await;
    let org = app.org_id("Shop").await;
    (app, key, org)
}

fn ids(body: &serde_json::Value) -> Vec<i64> {
    body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn conversations_are_listed_with_the_inboxs_filters_a_text_query_and_a_cursor() {
    // Arrange: 52 open conversations, one of them tagged and about a parcel, one closed.
    let (app, key, org) = shop().await;
    let mut all = Vec::new();
    for i in 0..52 {
        let subject = if i == 7 { "Parcel missing" } else { "Question" };
        let body = if i == 7 {
            "Where is my parcel?"
        } else {
            "Hello there."
        };
        let (_, id) = app
            .receive(
                org,
                mail(
                    &format!("c{i}@example.test"),
                    &format!("<m{i}@example.test>"),
                    subject,
                    body,
                ),
            )
            .await;
        all.push(id);
    }
    let tagged = all[7];
    app.tag_conversation(org, tagged, "vip").await;
    let closed = all[3];
    let response = put_json(
        &app,
        &key,
        &format!("/api/v1/conversations/{closed}/status"),
        serde_json::json!({ "status": "closed" }),
    )
    .await;
    assert_eq!(response.status(), 200);
    lethe::search::indexer::settle(&app.state).await.unwrap();

    // Act: the first page, then the next through the cursor.
    let first = json(get(&app, &key, "/api/v1/conversations").await).await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = json(
        get(
            &app,
            &key,
            &format!("/api/v1/conversations?cursor={cursor}"),
        )
        .await,
    )
    .await;

    // Assert: 51 open ones over two pages, none twice, the closed one not among them.
    assert_eq!(ids(&first).len(), 50);
    assert_eq!(ids(&second).len(), 1);
    assert!(second["next_cursor"].is_null());
    let mut seen: Vec<i64> = ids(&first).into_iter().chain(ids(&second)).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 51);
    assert!(!seen.contains(&closed));
    let closed_list = json(get(&app, &key, "/api/v1/conversations?status=closed").await).await;
    assert_eq!(ids(&closed_list), vec![closed]);
    // The tag filter and the text query find the one conversation.
    let tags = json(get(&app, &key, "/api/v1/tags").await).await;
    let vip = tags["tags"][0]["id"].as_i64().unwrap();
    let by_tag = json(get(&app, &key, &format!("/api/v1/conversations?tag={vip}")).await).await;
    assert_eq!(ids(&by_tag), vec![tagged]);
    assert_eq!(by_tag["conversations"][0]["tags"][0]["name"], "vip");
    let by_text = json(get(&app, &key, "/api/v1/conversations?q=parcel").await).await;
    assert_eq!(ids(&by_text), vec![tagged]);
    let bad = get(&app, &key, "/api/v1/conversations?cursor=nonsense").await;
    assert_eq!(bad.status(), 400);
    let actions = actions_by_api(&app, org).await;
    assert!(actions.iter().any(|a| a == "api.conversations_listed"));
    assert!(actions.iter().any(|a| a == "api.status_changed"));
}

#[tokio::test]
async fn a_conversation_is_triaged_noted_and_answered_through_the_api() {
    // Arrange
    let (app, key, org) = shop().await;
    let agent = app.create_user("agent@shop.test", "Shop", "agent").await;
    let stranger = app
        .create_user("other@elsewhere.test", "Elsewhere", "owner")
        .await;
    app.email_channel(org, "Support", "support@shop.test", Some(2525))
        .await;
    let (_, id) = app
        .receive(
            org,
            mail(
                "anna@example.test",
                "<a1@example.test>",
                "Refund",
                "Please refund.",
            ),
        )
        .await;
    let base = format!("/api/v1/conversations/{id}");

    // Act + Assert: assignee (a member; not someone of another organization), tags.
    let assigned = put_json(
        &app,
        &key,
        &format!("{base}/assignee"),
        serde_json::json!({ "assignee_id": agent }),
    )
    .await;
    assert_eq!(assigned.status(), 200);
    assert_eq!(json(assigned).await["assignee_id"], agent);
    assert_eq!(app.conversation(id).await.assignee_id, Some(agent));
    let refused = put_json(
        &app,
        &key,
        &format!("{base}/assignee"),
        serde_json::json!({ "assignee_id": stranger }),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let tagged = post_json(
        &app,
        &key,
        &format!("{base}/tags"),
        serde_json::json!({ "name": "refund" }),
    )
    .await;
    assert_eq!(tagged.status(), 200);
    let tag_id = json(tagged).await["tags"][0]["id"].as_i64().unwrap();
    let untagged = api(
        &app,
        Some(&key),
        reqwest::Method::DELETE,
        &format!("{base}/tags/{tag_id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(untagged.status(), 200);
    assert_eq!(json(untagged).await["tags"], serde_json::json!([]));

    // A note and a reply (queued in the outbox, status set afterwards).
    let note = post_json(
        &app,
        &key,
        &format!("{base}/notes"),
        serde_json::json!({ "text": "Checked the order." }),
    )
    .await;
    assert_eq!(note.status(), 201);
    assert_eq!(json(note).await["direction"], "note");
    let empty = post_json(
        &app,
        &key,
        &format!("{base}/notes"),
        serde_json::json!({ "text": "  " }),
    )
    .await;
    assert_eq!(empty.status(), 400);
    let reply = post_json(
        &app,
        &key,
        &format!("{base}/replies"),
        serde_json::json!({ "text": "Refunded today.", "then": "pending" }),
    )
    .await;
    assert_eq!(reply.status(), 202);
    let reply = json(reply).await;
    assert_eq!(reply["direction"], "outbound");
    assert!(
        reply["to"][0]
            .as_str()
            .unwrap()
            .contains("anna@example.test"),
        "{reply}"
    );
    assert_eq!(app.conversation(id).await.status, "pending");
    assert_eq!(
        app.count::<lethe::db::entity::outbox::Entity>().await,
        1,
        "the reply waits in the outbox"
    );
    let messages = json(get(&app, &key, &format!("{base}/messages")).await).await;
    let directions: Vec<&str> = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, ["inbound", "note", "outbound"]);
    let actions = actions_by_api(&app, org).await;
    for action in [
        "api.assignee_changed",
        "api.tag_added",
        "api.tag_removed",
        "api.note_added",
        "api.reply_queued",
        "api.messages_read",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_read_key_cannot_write_and_another_organizations_key_gets_404() {
    // Arrange
    let (app, _, org) = shop().await;
    let read_only = create_key_with(&app, &[("name", "Reports"), ("scope_read", "yes")]).await;
    let (_, id) = app
        .receive(
            org,
            mail("anna@example.test", "<a1@example.test>", "Hi", "Hello."),
        )
        .await;
    // The owner of another organization signs in (in a browser of their own) and makes a key.
    app.create_user("owner@other.test", "Other", "owner").await;
    let theirs = crate::helpers::browser_client();
    let login = [
        ("email", "owner@other.test"),
        ("password", crate::helpers::PASSWORD),
    ];
    post_form_with(&theirs, &app.address, "/login", "/login", &login).await;
    let form = [
        ("name", "Theirs"),
        ("scope_read", "yes"),
        ("scope_write", "yes"),
    ];
    let page = post_form_with(
        &theirs,
        &app.address,
        "/settings/api-keys",
        "/settings/api-keys",
        &form,
    )
    .await;
    let other_key = key_on(&page.text().await.unwrap());

    // Act + Assert: reading works, writing answers 403 naming the scope.
    assert_eq!(
        get(&app, &read_only, &format!("/api/v1/conversations/{id}"))
            .await
            .status(),
        200
    );
    let note = post_json(
        &app,
        &read_only,
        &format!("/api/v1/conversations/{id}/notes"),
        serde_json::json!({ "text": "x" }),
    )
    .await;
    assert_eq!(note.status(), 403);
    assert_eq!(note.headers()["content-type"], "application/problem+json");
    let problem = json(note).await;
    assert_eq!(problem["status"], 403);
    assert_eq!(problem["code"], "api.error.needs_write");
    let created = post_json(
        &app,
        &read_only,
        "/api/v1/customers",
        serde_json::json!({ "display_name": "A", "email": "a@example.test" }),
    )
    .await;
    assert_eq!(created.status(), 403);
    // The other organization's key sees nothing of this one.
    for path in [
        format!("/api/v1/conversations/{id}"),
        format!("/api/v1/conversations/{id}/messages"),
        format!("/api/v1/customers/{}", app.customer_of(id).await),
    ] {
        let response = get(&app, &other_key, &path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let theirs = json(get(&app, &other_key, "/api/v1/conversations").await).await;
    assert_eq!(theirs["conversations"], serde_json::json!([]));
    let status = put_json(
        &app,
        &other_key,
        &format!("/api/v1/conversations/{id}/status"),
        serde_json::json!({ "status": "closed" }),
    )
    .await;
    assert_eq!(status.status(), 404);
    assert_eq!(app.conversation(id).await.status, "open");
}

#[tokio::test]
async fn a_restricted_customers_conversation_is_listed_but_nothing_is_done_with_it() {
    // Arrange
    let (app, key, org) = shop().await;
    let (customer, id) = app
        .receive(
            org,
            mail("anna@example.test", "<a1@example.test>", "Hi", "Hello."),
        )
        .await;
    let restricted = app
        .post_form(
            &format!("/customers/{customer}"),
            &format!("/customers/{customer}/restriction"),
            &[("reason", "Accuracy contested")],
        )
        .await;
    assert!(
        restricted.status().is_redirection(),
        "{}",
        restricted.status()
    );

    // Act
    let listed = json(get(&app, &key, "/api/v1/conversations").await).await;
    let messages = get(&app, &key, &format!("/api/v1/conversations/{id}/messages")).await;
    let note = post_json(
        &app,
        &key,
        &format!("/api/v1/conversations/{id}/notes"),
        serde_json::json!({ "text": "x" }),
    )
    .await;
    let status = put_json(
        &app,
        &key,
        &format!("/api/v1/conversations/{id}/status"),
        serde_json::json!({ "status": "closed" }),
    )
    .await;

    // Assert
    assert_eq!(listed["conversations"][0]["restricted"], true);
    assert_eq!(messages.status(), 409);
    let problem = json(messages).await;
    assert_eq!(problem["code"], "privacy.restrict.refused");
    assert_eq!(problem["reason"], "Accuracy contested");
    assert_eq!(note.status(), 409);
    assert_eq!(status.status(), 409);
    assert_eq!(app.conversation(id).await.status, "open");
}

#[tokio::test]
async fn customers_are_created_read_and_rectified_through_the_api() {
    // Arrange
    let (app, key, org) = shop().await;

    // Act: create, create again with the same address, read, rectify.
    let created = post_json(
        &app,
        &key,
        "/api/v1/customers",
        serde_json::json!({ "display_name": "Anna Schmidt", "email": "Anna@Example.test", "phone": "+49 30 1234567" }),
    )
    .await;
    assert_eq!(created.status(), 201);
    let created = json(created).await;
    let id = created["id"].as_i64().unwrap();
    let again = post_json(
        &app,
        &key,
        "/api/v1/customers",
        serde_json::json!({ "display_name": "Someone", "email": "anna@example.test" }),
    )
    .await;
    let read = json(get(&app, &key, &format!("/api/v1/customers/{id}")).await).await;
    let rectified = api(&app, Some(&key), reqwest::Method::PATCH, &format!("/api/v1/customers/{id}"))
        .json(&serde_json::json!({ "display_name": "Anna Meier", "email_addresses": ["anna.meier@example.test"], "phone": "" }))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(
        created["email_addresses"],
        serde_json::json!(["anna@example.test"])
    );
    assert_eq!(again.status(), 409);
    assert_eq!(read["display_name"], "Anna Schmidt");
    assert_eq!(read["phone"], "+49 30 1234567");
    assert_eq!(rectified.status(), 200);
    let rectified = json(rectified).await;
    assert_eq!(rectified["display_name"], "Anna Meier");
    assert_eq!(
        rectified["email_addresses"],
        serde_json::json!(["anna.meier@example.test"])
    );
    assert!(rectified["phone"].is_null());
    let found = json(
        get(
            &app,
            &key,
            "/api/v1/customers?email=anna.meier@example.test",
        )
        .await,
    )
    .await;
    assert_eq!(found["customers"][0]["id"], id);
    // Rectification is logged as the UI logs it: the fields' names, no value, the key.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let entry = lethe::db::entity::audit_event::Entity::find()
        .filter(lethe::db::entity::audit_event::Column::OrganizationId.eq(org.get()))
        .filter(lethe::db::entity::audit_event::Column::Action.eq("privacy.rectified"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("privacy.rectified entry");
    let details = entry.details.to_string();
    assert!(
        details.contains("name") && details.contains("email_addresses"),
        "{details}"
    );
    assert!(
        !details.contains("Meier") && !details.contains("Schmidt"),
        "{details}"
    );
    assert!(details.contains("api_key"), "{details}");
    let actions = actions_by_api(&app, org).await;
    assert!(actions.iter().any(|a| a == "api.customer_created"));
}

#[tokio::test]
async fn errors_are_problem_documents_and_the_rate_limit_answers_429_with_retry_after() {
    // Arrange
    let app = spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_RATE_API_PER_MINUTE".into(), "3".into())],
        ..Default::default()
    })
    .await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    app.login("admin@shop.test").await;
    let key = create_key(&app, "Backend").await;

    // Act
    let missing = get(&app, &key, "/api/v1/conversations/999999").await;
    let bad_json = post_json(
        &app,
        &key,
        "/api/v1/customers",
        serde_json::json!({ "nope": 1 }),
    )
    .await;
    let _third = get(&app, &key, "/api/v1/tags").await;
    let limited = get(&app, &key, "/api/v1/tags").await;

    // Assert
    for (response, status) in [(missing, 404), (bad_json, 400)] {
        assert_eq!(response.status(), status);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem = json(response).await;
        assert_eq!(problem["type"], "about:blank");
        assert_eq!(problem["status"], status);
        assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(problem["detail"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(problem["error"], problem["detail"]);
    }
    assert_eq!(limited.status(), 429);
    assert!(
        limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(
        limited.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(json(limited).await["status"], 429);
}

#[tokio::test]
async fn the_openapi_document_and_its_page_are_public_and_name_every_operation() {
    // Arrange
    let app = spawn_app().await;

    // Act: no key, no session.
    let doc = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap();
    let page = reqwest::get(app.url("/api/docs")).await.unwrap();

    // Assert
    assert_eq!(doc.status(), 200);
    let doc: serde_json::Value = doc.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/conversations",
        "/api/v1/conversations/{id}",
        "/api/v1/conversations/{id}/status",
        "/api/v1/conversations/{id}/assignee",
        "/api/v1/conversations/{id}/tags",
        "/api/v1/conversations/{id}/tags/{tag_id}",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/conversations/{id}/replies",
        "/api/v1/conversations/{id}/notes",
        "/api/v1/customers",
        "/api/v1/customers/{id}",
        "/api/v1/customers/{id}/export",
        "/api/v1/customers/{id}/erase",
        "/api/v1/privacy/requests",
        "/api/v1/tags",
        "/api/v1/users",
        "/api/v1/channels",
        "/api/v1/retention/runs",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert_eq!(
        doc["paths"]["/api/v1/conversations"]["get"]["responses"]["404"]["content"]["application/problem+json"]
            ["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/v1/conversations/{id}/replies"));
    assert!(html.contains("ConversationJson"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("https://"), "nothing from another host");
}

async fn post_once(
    app: &TestApp,
    key: &str,
    idempotency_key: &str,
    path: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    api(app, Some(key), reqwest::Method::POST, path)
        .header("Idempotency-Key", idempotency_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_post_with_an_idempotency_key_runs_once_per_api_key_and_replays_its_answer() {
    // Arrange
    let (app, key, org) = shop().await;
    let second_key = create_key(&app, "Second").await;
    let (_, id) = app
        .receive(
            org,
            mail("anna@example.test", "<a1@example.test>", "Hi", "Hello."),
        )
        .await;
    let customer = serde_json::json!({ "display_name": "Ben", "email": "ben@example.test" });
    let notes = format!("/api/v1/conversations/{id}/notes");
    let note = serde_json::json!({ "text": "Called back." });

    // Act
    let first = post_once(
        &app,
        &key,
        "create-ben",
        "/api/v1/customers",
        customer.clone(),
    )
    .await;
    let again = post_once(
        &app,
        &key,
        "create-ben",
        "/api/v1/customers",
        customer.clone(),
    )
    .await;
    let other_body = post_once(
        &app,
        &key,
        "create-ben",
        "/api/v1/customers",
        serde_json::json!({ "display_name": "Ben", "email": "ben2@example.test" }),
    )
    .await;
    let note_a = post_once(&app, &key, "note-1", &notes, note.clone()).await;
    let note_b = post_once(&app, &key, "note-1", &notes, note.clone()).await;
    let note_other_key = post_once(&app, &second_key, "note-1", &notes, note.clone()).await;
    let bad_key = post_once(&app, &key, "", &notes, note.clone()).await;

    // Assert: one customer, the same answer twice, the replay marked.
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = json(first).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json(again).await, first);
    assert_eq!(app.count::<lethe::db::entity::customer::Entity>().await, 2);
    assert_eq!(other_body.status(), 422);
    assert_eq!(
        other_body.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(
        json(other_body).await["code"],
        "api.error.idempotency_mismatch"
    );
    // One note per API key: the key is the caller's, not the organization's.
    assert_eq!(note_a.status(), 201);
    let note_a = json(note_a).await;
    assert_eq!(json(note_b).await["id"], note_a["id"]);
    assert_eq!(note_other_key.status(), 201);
    assert_ne!(json(note_other_key).await["id"], note_a["id"]);
    assert_eq!(bad_key.status(), 400);
    // What is kept holds ids only, no personal data.
    use sea_orm::EntityTrait;
    let stored = lethe::db::entity::api_idempotency::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    for row in stored {
        assert!(
            !row.resource.contains("ben") && !row.resource.contains("Called"),
            "{row:?}"
        );
    }
    let actions = actions_by_api(&app, org).await;
    assert_eq!(actions.iter().filter(|a| *a == "api.replayed").count(), 2);
}

#[tokio::test]
async fn a_replayed_answer_shows_the_record_as_it_is_now_so_an_erased_customer_is_gone() {
    // Arrange: a customer created with a key, then erased.
    let (app, key, _) = shop().await;
    let body = serde_json::json!({ "display_name": "Cleo", "email": "cleo@example.test" });
    let created =
        json(post_once(&app, &key, "cleo", "/api/v1/customers", body.clone()).await).await;
    let id = created["id"].as_i64().unwrap();
    let erased = post_once(
        &app,
        &key,
        "erase-cleo",
        &format!("/api/v1/customers/{id}/erase"),
        serde_json::json!(null),
    )
    .await;
    assert_eq!(erased.status(), 200);
    let receipt = json(erased).await;

    // Act
    let replayed_create = post_once(&app, &key, "cleo", "/api/v1/customers", body).await;
    let replayed_erase = api(
        &app,
        Some(&key),
        reqwest::Method::POST,
        &format!("/api/v1/customers/{id}/erase"),
    )
    .header("Idempotency-Key", "erase-cleo")
    .body("null")
    .send()
    .await
    .unwrap();

    // Assert
    assert_eq!(replayed_create.status(), 404);
    assert_eq!(replayed_erase.status(), 200);
    assert_eq!(
        json(replayed_erase).await["receipt_id"],
        receipt["receipt_id"]
    );
}

#[tokio::test]
async fn the_cleanup_job_forgets_idempotency_keys_after_24_hours() {
    // Arrange: a note made with a key, its record aged past its expiry.
    use sea_orm::{EntityTrait, PaginatorTrait};
    let (app, key, org) = shop().await;
    let (_, id) = app
        .receive(
            org,
            mail("anna@example.test", "<a1@example.test>", "Hi", "Hello."),
        )
        .await;
    let notes = format!("/api/v1/conversations/{id}/notes");
    let made = post_once(
        &app,
        &key,
        "n-1",
        &notes,
        serde_json::json!({ "text": "One." }),
    )
    .await;
    assert_eq!(made.status(), 201);
    let past = chrono::Utc::now() - chrono::Duration::hours(25);
    lethe::db::entity::api_idempotency::Entity::update_many()
        .col_expr(
            lethe::db::entity::api_idempotency::Column::ExpiresAt,
            sea_orm::sea_query::Expr::val(past),
        )
        .exec(&app.state.db)
        .await
        .unwrap();

    // Act
    let outcome = lethe::jobs::cleanup::run_once(&app.state).await.unwrap();

    // Assert: the record is gone, and the key makes a new note again.
    assert_eq!(outcome.idempotency_keys, 1);
    let left = lethe::db::entity::api_idempotency::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let again = post_once(
        &app,
        &key,
        "n-1",
        &notes,
        serde_json::json!({ "text": "One." }),
    )
    .await;
    assert_eq!(again.status(), 201);
    assert!(again.headers().get("idempotent-replayed").is_none());
}
