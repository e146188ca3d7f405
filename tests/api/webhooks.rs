//! Outgoing webhooks, end to end: endpoints set up through `/settings/webhooks`, events
//! queued with the changes that cause them, and every delivery verified by a real peer — a
//! receiver using the `standardwebhooks` package from PyPI (scripts/webhook_receiver.py).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use chrono::{Duration, Utc};
use lethe::db::entity::{audit_event, customer, webhook_delivery, webhook_endpoint};
use lethe::orgs::OrgId;
use lethe::webhooks::deliver;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use crate::helpers::{
    AppOptions, TestApp, location, mail, spawn_app, spawn_app_with, test_tmp_root, traces,
    unique_suffix,
};
use crate::smtp::SmtpRecorder;

/// The receiver: a Python process verifying with `standardwebhooks`, recording to a file
/// (also used by privacy_rights.rs).
pub(crate) struct Receiver {
    child: Option<Child>,
    port: u16,
    secrets: PathBuf,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

fn python() -> String {
    std::env::var("LETHE_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn receiver_script() -> String {
    std::env::var("LETHE_TEST_WEBHOOK_RECEIVER").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/webhook_receiver.py").to_owned()
    })
}

impl Receiver {
    pub(crate) fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("webhook-receiver-")
            .tempdir_in(test_tmp_root())
            .unwrap();
        let mut receiver = Receiver {
            child: None,
            port: 0,
            secrets: dir.path().join("secrets"),
            out: dir.path().join("deliveries.jsonl"),
            _dir: dir,
        };
        receiver.run(0);
        receiver
    }

    /// Starts the process on `port` (0: a free one) and waits for it to listen.
    fn run(&mut self, port: u16) {
        let mut child = Command::new(python())
            .arg(receiver_script())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--secrets")
            .arg(&self.secrets)
            .arg("--out")
            .arg(&self.out)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the webhook receiver (python3 with standardwebhooks)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("receiver did not start: {line:?}"));
        self.port = address.rsplit(':').next().unwrap().parse().unwrap();
        self.child = Some(child);
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/lethe", self.port)
    }

    pub(crate) fn set_secrets(&self, secrets: &[&str]) {
        std::fs::write(&self.secrets, secrets.join("\n")).unwrap();
    }

    /// Stops the process (the port refuses connections until `restart`).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.run(self.port);
    }

    /// Every request it received, in order.
    pub(crate) fn deliveries(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The payloads, each checked to have been verified by standardwebhooks.
    pub(crate) fn verified_payloads(&self) -> Vec<Value> {
        self.deliveries()
            .into_iter()
            .map(|d| {
                assert_eq!(d["verified"], true, "not verified: {d}");
                serde_json::from_str(d["body"].as_str().unwrap()).unwrap()
            })
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An owner of "Shop", signed in.
async fn shop(app: &TestApp) -> OrgId {
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    app.org_id("Shop").await
}

/// Adds an endpoint through the form; returns its id and secret.
pub(crate) async fn add_endpoint(
    app: &TestApp,
    url: &str,
    events: &[&str],
    content: bool,
) -> (i64, String) {
    let mut fields = vec![("url", url), ("active", "yes")];
    for event in events {
        fields.push(("events", event));
    }
    if content {
        fields.push(("include_content", "yes"));
    }
    let response = app
        .post_form("/settings/webhooks", "/settings/webhooks", &fields)
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let re = regex::Regex::new(r#"data-endpoint="(\d+)">(whsec_[A-Za-z0-9+/=]+)<"#).unwrap();
    let found = re.captures(&html).expect("the new secret is shown");
    (found[1].parse().unwrap(), found[2].to_owned())
}

const ALL_EVENTS: [&str; 8] = [
    "conversation.created",
    "message.created",
    "conversation.status_changed",
    "conversation.assigned",
    "customer.erased",
    "retention.run_finished",
    "privacy_request.created",
    "conversation.merged",
];

pub(crate) async fn deliver_now(app: &TestApp) -> deliver::Outcome {
    deliver::run_once(&app.state, Utc::now()).await.unwrap()
}

#[tokio::test]
async fn webhook_deliveries_are_signed_so_standardwebhooks_verifies_them() {
    // Arrange
    let app = spawn_app().await;
    let org = shop(&app).await;
    let receiver = Receiver::start();
    let (endpoint_id, secret) = add_endpoint(&app, &receiver.url(), &ALL_EVENTS, false).await;
    receiver.set_secrets(&[&secret]);
    let suffix = unique_suffix();

    // Act
    let (_, conversation_id) = app
        .receive(
            org,
            mail(
                "Anna Schmidt <anna@kunde.test>",
                &format!("w1-{suffix}@kunde.test"),
                &format!("Order {suffix} late"),
                &format!("Where is my parcel {suffix}?"),
            ),
        )
        .await;
    let page = format!("/conversations/{conversation_id}");
    let response = app
        .post_form(&page, &format!("{page}/status"), &[("status", "pending")])
        .await;
    assert_eq!(response.status(), 303);
    let outcome = deliver_now(&app).await;

    // Assert
    assert_eq!(outcome.delivered, 3, "{outcome:?}");
    let deliveries = receiver.deliveries();
    let payloads = receiver.verified_payloads();
    let types: Vec<&str> = payloads
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "conversation.created",
            "message.created",
            "conversation.status_changed"
        ]
    );
    for (delivery, payload) in deliveries.iter().zip(&payloads) {
        assert!(
            delivery["headers"]["webhook-id"]
                .as_str()
                .unwrap()
                .starts_with("msg_")
        );
        assert_eq!(delivery["content_type"], "application/json");
        assert_eq!(payload["data"]["conversation_id"], conversation_id);
        // Ids and fields that name nobody; no content unless asked for.
        assert!(payload["data"].get("content").is_none(), "{payload}");
        let body = delivery["body"].as_str().unwrap();
        assert!(
            !body.contains(&suffix) && !body.contains("anna@kunde.test"),
            "{body}"
        );
    }
    assert_eq!(payloads[2]["data"]["status"], "pending");
    let log = app
        .get_text(&format!("/settings/webhooks/{endpoint_id}"))
        .await;
    assert!(log.contains("delivered") && log.contains("200"), "{log}");
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("webhook.created"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_the_events_later_in_order() {
    // Arrange
    let app = spawn_app().await;
    let org = shop(&app).await;
    let mut receiver = Receiver::start();
    let (_, secret) = add_endpoint(
        &app,
        &receiver.url(),
        &["conversation.created", "message.created"],
        false,
    )
    .await;
    receiver.set_secrets(&[&secret]);
    receiver.stop();
    let suffix = unique_suffix();
    let first = format!("d1-{suffix}@kunde.test");
    let mut message_ids = Vec::new();
    for (i, id) in [
        first.clone(),
        format!("d2-{suffix}@kunde.test"),
        format!("d3-{suffix}@kunde.test"),
    ]
    .iter()
    .enumerate()
    {
        let mut raw = mail(
            "Kunde <k@kunde.test>",
            id,
            "Parcel",
            &format!("Message {i}"),
        );
        if i > 0 {
            raw = raw.in_reply_to(&first);
        }
        let (_, message_id) = app.ingest(crate::helpers::imported(org), raw).await;
        message_ids.push(message_id);
    }

    // Act: the receiver is down, then back.
    let down = deliver_now(&app).await;
    receiver.restart();
    let soon = deliver::run_once(&app.state, Utc::now()).await.unwrap();
    let later = deliver::run_once(&app.state, Utc::now() + Duration::hours(2))
        .await
        .unwrap();

    // Assert
    assert_eq!(down.delivered, 0);
    assert_eq!(down.failed, 1, "the rest wait behind the first: {down:?}");
    assert_eq!(
        soon.delivered, 0,
        "the first is backing off and the rest wait: {soon:?}"
    );
    assert_eq!(later.delivered, 4, "{later:?}");
    let payloads = receiver.verified_payloads();
    let types: Vec<&str> = payloads
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "conversation.created",
            "message.created",
            "message.created",
            "message.created"
        ]
    );
    let delivered_ids: Vec<i64> = payloads[1..]
        .iter()
        .map(|p| p["data"]["message_id"].as_i64().unwrap())
        .collect();
    assert_eq!(delivered_ids, message_ids);
    let pending = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq("pending"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(pending, 0);
}

#[tokio::test]
async fn a_restricted_customers_content_is_never_sent() {
    // Arrange
    let app = spawn_app().await;
    let org = shop(&app).await;
    let receiver = Receiver::start();
    let (_, secret) = add_endpoint(&app, &receiver.url(), &["message.created"], true).await;
    receiver.set_secrets(&[&secret]);
    let suffix = unique_suffix();
    let open_words = format!("Ordinary{suffix}");
    let frozen_words = format!("Frozen{suffix}");
    app.receive(
        org,
        mail(
            "Other <other@kunde.test>",
            &format!("o-{suffix}@kunde.test"),
            "Hi",
            &open_words,
        ),
    )
    .await;
    let (restricted, conversation_id) = app
        .receive(
            org,
            mail(
                "Rita <rita@kunde.test>",
                &format!("r1-{suffix}@kunde.test"),
                "Hi",
                &frozen_words,
            ),
        )
        .await;

    // Act: restricted after the first of her events was queued, before it was sent.
    let page = format!("/customers/{restricted}");
    let response = app
        .post_form(
            &page,
            &format!("{page}/restriction"),
            &[("reason", "disputed")],
        )
        .await;
    assert_eq!(response.status(), 303);
    app.receive(
        org,
        mail(
            "Rita <rita@kunde.test>",
            &format!("r2-{suffix}@kunde.test"),
            "Again",
            &frozen_words,
        )
        .in_reply_to(&format!("r1-{suffix}@kunde.test")),
    )
    .await;
    deliver_now(&app).await;

    // Assert
    let deliveries = receiver.deliveries();
    let payloads = receiver.verified_payloads();
    assert_eq!(payloads.len(), 3);
    assert_eq!(
        payloads[0]["data"]["content"]["text"]
            .as_str()
            .unwrap()
            .trim(),
        open_words
    );
    for (delivery, payload) in deliveries.iter().zip(&payloads).skip(1) {
        assert_eq!(payload["data"]["conversation_id"], conversation_id);
        assert!(payload["data"].get("content").is_none(), "{payload}");
        assert!(!delivery["body"].as_str().unwrap().contains(&frozen_words));
    }
}

#[tokio::test]
async fn a_merged_duplicates_queued_events_follow_the_kept_customers_restriction() {
    // Arrange: one person writing from two addresses, one event queued for each record
    let app = spawn_app().await;
    let org = shop(&app).await;
    let receiver = Receiver::start();
    let (_, secret) = add_endpoint(&app, &receiver.url(), &["message.created"], true).await;
    receiver.set_secrets(&[&secret]);
    let suffix = unique_suffix();
    let words = format!("Private{suffix}");
    let (kept, _) = app
        .receive(
            org,
            mail(
                "Mia <mia@kunde.test>",
                &format!("k-{suffix}@kunde.test"),
                "Hi",
                "Hello",
            ),
        )
        .await;
    let (duplicate, _) = app
        .receive(
            org,
            mail(
                "Mia <mia.work@firma.test>",
                &format!("d-{suffix}@firma.test"),
                "Hi",
                &words,
            ),
        )
        .await;

    // Act: merge the duplicate into the kept record, then restrict it
    let confirm = app
        .get_text(&format!(
            "/customers/{kept}/merge?email=mia.work%40firma.test"
        ))
        .await;
    let merged = app
        .post_with_csrf(
            &format!("/customers/{kept}/merge"),
            &crate::helpers::csrf_of(&confirm),
            &[("other", &duplicate.to_string())],
        )
        .await;
    assert_eq!(merged.status(), 303);
    let page = format!("/customers/{kept}");
    let restricted = app
        .post_form(
            &page,
            &format!("{page}/restriction"),
            &[("reason", "disputed")],
        )
        .await;
    assert_eq!(restricted.status(), 303);
    deliver_now(&app).await;

    // Assert: the duplicate's event went out without its content
    let deliveries = receiver.deliveries();
    assert_eq!(receiver.verified_payloads().len(), 2);
    for delivery in &deliveries {
        assert!(
            !delivery["body"].as_str().unwrap().contains(&words),
            "{delivery}"
        );
    }
}

#[tokio::test]
async fn a_private_or_loopback_webhook_url_is_refused_unless_private_hosts_are_allowed() {
    // Arrange: the suite allows private hosts; this app does not.
    let app = spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_ALLOW_PRIVATE_HOSTS".into(), "false".into())],
        ..Default::default()
    })
    .await;
    shop(&app).await;

    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
    ] {
        // Act
        let response = app
            .post_form(
                "/settings/webhooks",
                "/settings/webhooks",
                &[
                    ("url", url),
                    ("events", "message.created"),
                    ("active", "yes"),
                ],
            )
            .await;

        // Assert
        assert_eq!(response.status(), 422, "{url}");
        let html = response.text().await.unwrap();
        assert!(html.contains("LETHE_ALLOW_PRIVATE_HOSTS"), "{url}: {html}");
    }
    assert_eq!(app.count::<webhook_endpoint::Entity>().await, 0);
}

#[tokio::test]
async fn bad_webhook_forms_say_what_is_wrong_and_change_nothing() {
    // Arrange
    let app = spawn_app().await;
    shop(&app).await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("url", ""), ("events", "message.created")],
            "Enter the URL",
        ),
        (
            &[
                ("url", "ftp://shop.example/x"),
                ("events", "message.created"),
            ],
            "must start with http",
        ),
        (
            &[
                ("url", "https://user:pw@shop.example/x"),
                ("events", "message.created"),
            ],
            "not a valid URL",
        ),
        (&[("url", "http://127.0.0.1:9/x")], "at least one event"),
    ];
    for (fields, message) in cases {
        // Act
        let response = app
            .post_form("/settings/webhooks", "/settings/webhooks", fields)
            .await;

        // Assert
        assert_eq!(response.status(), 422, "{fields:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{fields:?}: {html}");
    }
    assert_eq!(app.count::<webhook_endpoint::Entity>().await, 0);
    // Agents cannot see or change webhooks.
    app.create_user("agent@shop.test", "Shop", "agent").await;
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    assert_eq!(agent.get("/settings/webhooks").await.status(), 403);
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_during_the_overlap() {
    // Arrange
    let app = spawn_app().await;
    let org = shop(&app).await;
    let receiver = Receiver::start();
    let (endpoint_id, old) = add_endpoint(&app, &receiver.url(), &["message.created"], false).await;

    // Act
    let page = format!("/settings/webhooks/{endpoint_id}");
    let response = app.post_form(&page, &format!("{page}/rotate"), &[]).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let new = regex::Regex::new(r#"<code class="copy">(whsec_[A-Za-z0-9+/=]+)<"#)
        .unwrap()
        .captures(&html)
        .expect("the new secret is shown")[1]
        .to_owned();
    receiver.set_secrets(&[&old, &new]);
    app.receive(
        org,
        mail(
            "K <k@kunde.test>",
            &format!("rot-{}@kunde.test", unique_suffix()),
            "Hi",
            "Hello",
        ),
    )
    .await;
    deliver_now(&app).await;

    // Assert
    assert_ne!(old, new);
    assert!(html.contains("previous secret also signs"), "{html}");
    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        deliveries[0]["verified_by"],
        serde_json::json!([true, true])
    );
    let signature = deliveries[0]["headers"]["webhook-signature"]
        .as_str()
        .unwrap();
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    // After the overlap only the new secret signs.
    let sealer = &app.state.sealer;
    let endpoint = webhook_endpoint::Entity::find_by_id(endpoint_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let later = lethe::webhooks::endpoints::SigningSecrets::of(
        sealer,
        &endpoint,
        Utc::now() + Duration::hours(25),
    )
    .unwrap()
    .signature_header("msg_x", 1, b"{}");
    assert_eq!(later.split(' ').count(), 1);
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_switched_off_and_admins_are_told() {
    // Arrange
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    let org = shop(&app).await;
    let mut receiver = Receiver::start();
    let (endpoint_id, secret) =
        add_endpoint(&app, &receiver.url(), &["message.created"], false).await;
    receiver.set_secrets(&[&secret]);
    receiver.stop();
    app.receive(
        org,
        mail(
            "K <k@kunde.test>",
            &format!("f-{}@kunde.test", unique_suffix()),
            "Hi",
            "Hello",
        ),
    )
    .await;

    // Act
    let now = Utc::now();
    deliver::run_once(&app.state, now).await.unwrap();
    let outcome = deliver::run_once(&app.state, now + Duration::days(3) + Duration::minutes(1))
        .await
        .unwrap();

    // Assert
    assert_eq!(outcome.disabled_endpoints, 1, "{outcome:?}");
    let endpoint = webhook_endpoint::Entity::find_by_id(endpoint_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!endpoint.active && endpoint.disabled_at.is_some());
    let list = app.get_text("/settings/webhooks").await;
    assert!(
        list.contains(&format!("webhook-disabled-{endpoint_id}")),
        "{list}"
    );
    assert!(list.contains("failed for three days"), "{list}");
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("webhook.disabled"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    let mails = smtp.wait_for(1).await;
    let notice = mails
        .iter()
        .find(|m| m.contains("webhook endpoint"))
        .unwrap_or_else(|| panic!("no notice mail: {mails:#?}"));
    assert!(
        notice.starts_with("X-Recorded-Rcpt: owner@shop.test"),
        "{notice}"
    );
    // The events are kept: switched on again, the endpoint gets them.
    receiver.restart();
    let page = format!("/settings/webhooks/{endpoint_id}");
    let response = app
        .post_form(
            &page,
            &page,
            &[
                ("url", &receiver.url()),
                ("events", "message.created"),
                ("active", "yes"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let outcome = deliver::run_once(&app.state, Utc::now() + Duration::days(4))
        .await
        .unwrap();
    assert_eq!(outcome.delivered, 1, "{outcome:?}");
    assert_eq!(receiver.verified_payloads().len(), 1);
}

#[tokio::test]
async fn resend_delivers_the_same_event_again() {
    // Arrange
    let app = spawn_app().await;
    let org = shop(&app).await;
    let receiver = Receiver::start();
    let (endpoint_id, secret) =
        add_endpoint(&app, &receiver.url(), &["message.created"], false).await;
    receiver.set_secrets(&[&secret]);
    app.receive(
        org,
        mail(
            "K <k@kunde.test>",
            &format!("rs-{}@kunde.test", unique_suffix()),
            "Hi",
            "Hello",
        ),
    )
    .await;
    deliver_now(&app).await;
    let delivery = webhook_delivery::Entity::find()
        .order_by_asc(webhook_delivery::Column::Id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();

    // Act
    let page = format!("/settings/webhooks/{endpoint_id}");
    let response = app
        .post_form(
            &page,
            &format!("{page}/deliveries/{}/resend", delivery.id),
            &[],
        )
        .await;
    deliver_now(&app).await;

    // Assert
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with(&page));
    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(
        deliveries[0]["headers"]["webhook-id"],
        deliveries[1]["headers"]["webhook-id"]
    );
    assert!(deliveries.iter().all(|d| d["verified"] == true));
}

#[tokio::test]
async fn erasure_deletes_queued_webhook_payloads_and_log_entries_about_the_customer() {
    // Arrange
    let app = spawn_app().await;
    let org = shop(&app).await;
    let mut receiver = Receiver::start();
    let (_, secret) = add_endpoint(&app, &receiver.url(), &ALL_EVENTS, true).await;
    receiver.set_secrets(&[&secret]);
    let suffix = unique_suffix();
    let sentence = format!("Zanzibar{suffix} lighthouse");
    let (customer_id, _) = app
        .receive(
            org,
            mail(
                "Erna <erna@kunde.test>",
                &format!("e1-{suffix}@kunde.test"),
                &format!("Subject{suffix}"),
                &sentence,
            ),
        )
        .await;
    // One delivered (in the log), one still queued.
    deliver_now(&app).await;
    receiver.stop();
    app.receive(
        org,
        mail(
            "Erna <erna@kunde.test>",
            &format!("e2-{suffix}@kunde.test"),
            "Again",
            &format!("Again {sentence}"),
        ),
    )
    .await;
    deliver_now(&app).await;
    let about_her = || {
        webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::CustomerId.eq(customer_id))
            .count(&app.state.db)
    };
    assert!(about_her().await.unwrap() >= 3);

    // Act
    app.erase(org, customer_id).await;
    lethe::db::checkpoint(&app.state.db).await.unwrap();

    // Assert
    assert_eq!(about_her().await.unwrap(), 0);
    assert!(
        customer::Entity::find_by_id(customer_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
    let left = webhook_delivery::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        left.iter()
            .all(|d| d.event_type == "customer.erased" && !d.payload.contains(&suffix)),
        "{left:?}"
    );
    if app.database_url.is_none() {
        let found = traces(
            &app.data_dir,
            &[sentence.as_bytes(), format!("Subject{suffix}").as_bytes()],
        );
        assert!(found.is_empty(), "traces left: {found:#?}");
    }
}

/// Signs `body` as the shop would, with the `standardwebhooks` package: the headers
/// (id, timestamp, signature) for `timestamp` (Unix seconds).
fn signed_by_python(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &str,
) -> (String, String, String) {
    let output = Command::new(python())
        .args([
            "-c",
            "import sys; from datetime import datetime, timezone; \
             from standardwebhooks.webhooks import Webhook; \
             print(Webhook(sys.argv[1]).sign(sys.argv[2], \
             datetime.fromtimestamp(int(sys.argv[3]), tz=timezone.utc), sys.argv[4].encode()))",
            secret,
            id,
            &timestamp.to_string(),
            body,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        id.to_owned(),
        timestamp.to_string(),
        String::from_utf8(output.stdout).unwrap().trim().to_owned(),
    )
}

async fn post_signed(
    app: &TestApp,
    url: &str,
    (id, timestamp, signature): &(String, String, String),
    body: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp)
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| format!("{e} ({})", app.address))
        .unwrap()
}

#[tokio::test]
async fn a_signed_inbound_contact_form_creates_a_conversation_and_replays_are_refused() {
    // Arrange
    let app = spawn_app().await;
    let org = shop(&app).await;
    let response = app
        .post_form("/settings/webhooks", "/settings/webhooks/inbound", &[])
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let grab = |id: &str| {
        regex::Regex::new(&format!(r#"id="{id}">([^<]+)<"#))
            .unwrap()
            .captures(&html)
            .unwrap_or_else(|| panic!("{id} shown"))[1]
            .to_owned()
    };
    let url = grab("new-inbound-url");
    let path = &url[url.find("/inbound/webhooks/").unwrap()..];
    let url = app.url(path);
    let secret = grab("new-inbound-secret");
    let suffix = unique_suffix();
    let body = serde_json::json!({
        "type": "contact_form.submitted",
        "data": {
            "email": "maria@kunde.test",
            "name": "Maria Muster",
            "subject": format!("Frage {suffix}"),
            "text": "Wann kommt meine Bestellung?",
        }
    })
    .to_string();
    let now = Utc::now().timestamp();
    let id = format!("msg_{suffix}");

    // Act
    let accepted = post_signed(
        &app,
        &url,
        &signed_by_python(&secret, &id, now, &body),
        &body,
    )
    .await;
    let replayed = post_signed(
        &app,
        &url,
        &signed_by_python(&secret, &id, now, &body),
        &body,
    )
    .await;
    let stale = post_signed(
        &app,
        &url,
        &signed_by_python(&secret, &format!("{id}-old"), now - 600, &body),
        &body,
    )
    .await;
    let forged = post_signed(
        &app,
        &url,
        &signed_by_python(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            &format!("{id}-forged"),
            now,
            &body,
        ),
        &body,
    )
    .await;
    let tampered = post_signed(
        &app,
        &url,
        &signed_by_python(&secret, &format!("{id}-t"), now, &body),
        &body.replace("Maria", "Mallory"),
    )
    .await;
    let unknown = post_signed(
        &app,
        &app.url("/inbound/webhooks/not-a-token"),
        &signed_by_python(&secret, &format!("{id}-u"), now, &body),
        &body,
    )
    .await;

    // Assert
    assert_eq!(accepted.status(), 201);
    let stored: Value = accepted.json().await.unwrap();
    let conversation = app
        .conversation(stored["conversation_id"].as_i64().unwrap())
        .await;
    assert_eq!(conversation.organization_id, org);
    assert_eq!(conversation.subject, format!("Frage {suffix}"));
    assert_eq!(replayed.status(), 409);
    assert_eq!(stale.status(), 401);
    assert_eq!(forged.status(), 401);
    assert_eq!(tampered.status(), 401);
    assert_eq!(unknown.status(), 404);
    let conversations = lethe::db::entity::conversation::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        conversations, 1,
        "only the accepted request made a conversation"
    );
}

#[tokio::test]
async fn the_webhook_worker_started_by_lethe_workers_sends_on_its_own() {
    // Arrange: only the webhook worker runs in the background.
    let app = spawn_app_with(AppOptions {
        background: true,
        extra_env: vec![("LETHE_WORKERS".into(), "webhooks".into())],
        ..Default::default()
    })
    .await;
    let org = shop(&app).await;
    let receiver = Receiver::start();
    let (_, secret) = add_endpoint(&app, &receiver.url(), &["message.created"], false).await;
    receiver.set_secrets(&[&secret]);

    // Act
    app.receive(
        org,
        mail(
            "K <k@kunde.test>",
            &format!("bg-{}@kunde.test", unique_suffix()),
            "Hi",
            "Hello",
        ),
    )
    .await;

    // Assert
    for _ in 0..100 {
        if !receiver.deliveries().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(receiver.verified_payloads().len(), 1);
}
