//! The optional language model (src/assist/llm/): off by default, set up by admins, and no
//! person reaches it — against a local OpenAI-compatible server that records every request
//! it receives (the real providers cannot run here).

use std::sync::{Arc, Mutex};

use lethe::db::entity::{audit_event, draft};
use lethe::orgs::OrgId;
use lethe::privacy::pii::{KnownValue, PiiKind};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, files_holding, location, mail, spawn_app};

/// One request the stub received.
#[derive(Clone, Debug)]
struct Received {
    request_line: String,
    authorization: Option<String>,
    body: String,
}

/// How the stub answers chat completions.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers with every placeholder of the prompt, as a model writing a reply would use them.
    EchoPlaceholders,
    /// 401 to everything.
    RefuseKey,
}

/// A local OpenAI-compatible server: `GET /v1/models` lists `lethe-test`, `POST
/// /v1/chat/completions` answers per [`Behaviour`]; every request is recorded.
struct ModelStub {
    base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl ModelStub {
    async fn start(behaviour: Behaviour) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    log.lock().unwrap().push(request.clone());
                    let (status, body) = answer(behaviour, &request);
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        ModelStub {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            received,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .map(|l| l[name.len() + 1..].trim().to_owned())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    Some(Received {
        request_line: head.lines().next().unwrap_or_default().to_owned(),
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&raw[head_end..]).to_string(),
    })
}

fn answer(behaviour: Behaviour, request: &Received) -> (&'static str, String) {
    if let Behaviour::RefuseKey = behaviour {
        return (
            "401 Unauthorized",
            r#"{"error":{"message":"bad key"}}"#.into(),
        );
    }
    if request.request_line.starts_with("GET /v1/models") {
        return (
            "200 OK",
            r#"{"object":"list","data":[{"id":"lethe-test","object":"model"}]}"#.into(),
        );
    }
    let placeholders: Vec<String> = regex::Regex::new(r"\[[A-Z]+_\d+\]")
        .unwrap()
        .find_iter(&request.body)
        .map(|m| m.as_str().to_owned())
        .collect();
    let reply = format!(
        "Guten Tag,\nwir melden uns bei: {}",
        placeholders.join(" | ")
    );
    let body = serde_json::json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "lethe-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
    });
    ("200 OK", body.to_string())
}

const KEY: &str = "sk-lethe-stub-5d0c1e";

/// The customer's mail: a name, an address, a phone, an IBAN, another person.
const BODY: &str = "Hallo,\n\nich bin Anna Schmidt und warte auf meine Erstattung für Bestellung 100387.\n\
Bitte auf mein Konto DE89 3704 0044 0532 0130 00 überweisen. Sie erreichen mich unter \
+49 151 23456789 oder per Mail an anna.schmidt@example.de.\n\nViele Grüße\nAnna Schmidt";

/// Owner signed in, the model set up and switched on against `stub`; a customer mail.
async fn shop_with_model(stub: &ModelStub) -> (TestApp, OrgId, i64) {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let org = app.org_id("Shop").await;
    let saved = app
        .post_form(
            "/settings/assist",
            "/settings/assist",
            &[
                ("enabled", "yes"),
                ("base_url", &stub.base_url),
                ("model", "lethe-test"),
                ("api_key", KEY),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303, "{}", saved.text().await.unwrap());
    let article = app
        .post_form(
            "/knowledge/new",
            "/knowledge/new",
            &[
                ("slug", "erstattung"),
                ("language", "de"),
                ("title", "Wann kommt meine Erstattung"),
                (
                    "body",
                    "Eine Erstattung dauert 5 bis 7 Werktage nach Eingang.",
                ),
                ("published", "1"),
            ],
        )
        .await;
    assert_eq!(article.status(), 303);
    let (_, conversation) = app
        .receive(
            org,
            mail(
                "Anna Schmidt <anna.schmidt@example.de>",
                "<refund-1@example.de>",
                "Erstattung fehlt",
                BODY,
            ),
        )
        .await;
    (app, org, conversation)
}

async fn press_draft(app: &TestApp, conversation: i64) -> reqwest::Response {
    let page = format!("/conversations/{conversation}");
    app.post_form(&page, &format!("{page}/assist/draft"), &[])
        .await
}

async fn draft_text(app: &TestApp, conversation: i64) -> Option<String> {
    draft::Entity::find()
        .filter(draft::Column::ConversationId.eq(conversation))
        .one(&app.state.db)
        .await
        .unwrap()
        .map(|d| d.text_body)
}

async fn model_calls(app: &TestApp) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("assist.model_called"))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_draft_reaches_the_model_without_personal_data_and_comes_back_with_it() {
    // Arrange
    let stub = ModelStub::start(Behaviour::EchoPlaceholders).await;
    let (app, _, conversation) = shop_with_model(&stub).await;
    let page = app
        .get_text(&format!("/conversations/{conversation}"))
        .await;
    assert!(
        page.contains("/assist/draft"),
        "the draft button is offered"
    );

    // Act
    let drafted = press_draft(&app, conversation).await;

    // Assert: the agent is back on the conversation, the draft holds the real values.
    assert_eq!(drafted.status(), 303);
    assert!(location(&drafted).contains("flash=flash.assist_model_drafted"));
    let text = draft_text(&app, conversation).await.expect("a draft");
    for value in [
        "Anna Schmidt",
        "DE89 3704 0044 0532 0130 00",
        "anna.schmidt@example.de",
    ] {
        assert!(text.contains(value), "{value} restored in {text:?}");
    }
    let shown = app
        .get_text(&format!("/conversations/{conversation}"))
        .await;
    assert!(
        shown.contains("anna.schmidt@example.de"),
        "draft in the box"
    );

    // Assert: what the model received holds no value of the record and no finding.
    let received = stub.received();
    assert_eq!(received.len(), 1, "one call");
    let sent = &received[0];
    assert!(sent.request_line.starts_with("POST /v1/chat/completions"));
    assert_eq!(
        sent.authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    let known = [
        KnownValue::new(PiiKind::Name, "Anna Schmidt"),
        KnownValue::new(PiiKind::Email, "anna.schmidt@example.de"),
    ];
    let findings = lethe::privacy::pii::shared().find(BODY, &known);
    assert!(
        findings.len() >= 4,
        "the mail has personal data: {findings:?}"
    );
    for f in findings {
        let value = &BODY[f.start..f.end];
        assert!(
            !sent.body.contains(value),
            "{value:?} was sent: {}",
            sent.body
        );
    }
    for value in ["Anna", "Schmidt", "23456789", "0532 0130", "example.de"] {
        assert!(
            !sent.body.contains(value),
            "{value:?} was sent: {}",
            sent.body
        );
    }
    assert!(
        sent.body.contains("100387"),
        "the order number is not personal"
    );
    assert!(
        sent.body.contains("5 bis 7 Werktage"),
        "the matching article is sent along: {}",
        sent.body
    );
    assert!(sent.body.contains("[NAME_1]"), "{}", sent.body);

    // Assert: the call is audit-logged, without its text.
    let calls = model_calls(&app).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].target, format!("conversation:{conversation}"));
    let details: serde_json::Value = serde_json::from_str(&calls[0].details).unwrap();
    assert_eq!(details["model"], "lethe-test");
    assert_eq!(details["outcome"], "drafted");
    assert!(details["sent_chars"].as_u64().unwrap() > 100);
    assert!(!calls[0].details.contains("Schmidt") && !calls[0].details.contains("Erstattung"));

    // Assert: the key is sealed at rest and never shown again.
    let settings = app.get_text("/settings/assist").await;
    assert!(!settings.contains(KEY));
    assert!(files_holding(&app.data_dir, KEY, false).is_empty());
}

#[tokio::test]
async fn a_restricted_customer_or_one_who_objected_is_never_sent() {
    // Arrange
    let stub = ModelStub::start(Behaviour::EchoPlaceholders).await;
    let (app, _, conversation) = shop_with_model(&stub).await;
    let customer = app.customer_of(conversation).await;
    let restricted = app
        .post_form(
            &format!("/customers/{customer}"),
            &format!("/customers/{customer}/restriction"),
            &[("reason", "Accuracy contested")],
        )
        .await;
    assert!(restricted.status().is_redirection());

    // Act
    let page = app
        .get_text(&format!("/conversations/{conversation}"))
        .await;
    let pressed = press_draft(&app, conversation).await;

    // Assert
    assert!(!page.contains("/assist/draft"), "no draft button");
    assert!(location(&pressed).contains("flash=flash.assist_model_withheld"));
    assert!(stub.received().is_empty(), "nothing reached the model");
    assert!(draft_text(&app, conversation).await.is_none());
    assert!(model_calls(&app).await.is_empty());
}

#[tokio::test]
async fn the_model_is_off_until_an_admin_sets_it_up_and_bad_settings_change_nothing() {
    // Arrange
    let stub = ModelStub::start(Behaviour::EchoPlaceholders).await;
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let org = app.org_id("Shop").await;
    let (_, conversation) = app
        .receive(
            org,
            mail(
                "kim@example.test",
                "<k1@example.test>",
                "Hi",
                "Hello there.",
            ),
        )
        .await;

    // Act + Assert: off by default.
    let page = app
        .get_text(&format!("/conversations/{conversation}"))
        .await;
    assert!(!page.contains("/assist/draft"));
    let pressed = press_draft(&app, conversation).await;
    assert!(location(&pressed).contains("flash=flash.assist_model_off"));

    // A bad form is shown again with what is wrong, and nothing is saved.
    for (url, model, expected) in [
        ("ftp://127.0.0.1/v1", "m", "without user name"),
        ("https://u:p@llm.example/v1", "m", "without user name"),
        (stub.base_url.as_str(), "", "Enter the model"),
    ] {
        let refused = app
            .post_form(
                "/settings/assist",
                "/settings/assist",
                &[("enabled", "yes"), ("base_url", url), ("model", model)],
            )
            .await;
        assert_eq!(refused.status(), 422);
        let body = refused.text().await.unwrap();
        assert!(body.contains(expected), "{url}: {body}");
    }
    assert!(
        lethe::db::entity::assist_model::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .is_empty()
    );

    // Test answers from the endpoint, with what the form holds.
    let tested = app
        .post_form(
            "/settings/assist",
            "/settings/assist/test",
            &[("base_url", &stub.base_url), ("model", "lethe-test")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(tested.contains("offers this model"), "{tested}");
    let missing = app
        .post_form(
            "/settings/assist",
            "/settings/assist/test",
            &[("base_url", &stub.base_url), ("model", "other-model")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(missing.contains("does not list this model"));
    let refusing = ModelStub::start(Behaviour::RefuseKey).await;
    let refused = app
        .post_form(
            "/settings/assist",
            "/settings/assist/test",
            &[
                ("base_url", &refusing.base_url),
                ("model", "lethe-test"),
                ("api_key", "wrong"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(refused.contains("refused the key"));

    // Agents cannot reach the settings.
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    assert_eq!(agent.get("/settings/assist").await.status(), 403);
}

#[tokio::test]
async fn another_organization_s_conversation_is_not_found_and_a_failing_model_changes_nothing() {
    // Arrange
    let refusing = ModelStub::start(Behaviour::RefuseKey).await;
    let (app, _, conversation) = shop_with_model(&refusing).await;
    let other = app.another_browser();
    other
        .create_user("owner@other.test", "Other", "owner")
        .await;
    other.login("owner@other.test").await;
    let other_page = other.get_text("/settings/assist").await;
    assert!(
        !other_page.contains(&refusing.base_url),
        "settings are per organization"
    );

    // Act
    let foreign = other
        .post_with_csrf(
            &format!("/conversations/{conversation}/assist/draft"),
            &crate::helpers::csrf_of(&other_page),
            &[],
        )
        .await;
    let failed = press_draft(&app, conversation).await;

    // Assert
    assert_eq!(foreign.status(), 404);
    assert!(location(&failed).contains("flash=flash.assist_model_failed"));
    assert!(draft_text(&app, conversation).await.is_none());
    let calls = model_calls(&app).await;
    assert_eq!(calls.len(), 1);
    assert!(calls[0].details.contains("unauthorized"));
}
