//! The API's contract, checked by a real peer: schemathesis (PyPI; installed by
//! scripts/test.sh) reads the live `/api/v1/openapi.json` of an instance with data and a key
//! holding every scope, calls every operation with generated valid and invalid input, and
//! fails on any 5xx answer or any answer that does not match the document.

use std::process::Command;

use crate::api::create_key;
use crate::helpers::{AppOptions, mail, spawn_app_with};

/// Examples per operation and phase: enough to reach every status, small enough to stay
/// under two minutes.
const MAX_EXAMPLES: &str = "25";

fn python() -> String {
    std::env::var("LETHE_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    // Arrange: an organization with a sending channel, customers, conversations, tags, a
    // note, and a key with every scope (no rate limit in the way).
    let app = spawn_app_with(AppOptions {
        extra_env: vec![
            ("LETHE_RATE_API_PER_MINUTE".into(), "1000000".into()),
            ("LETHE_RATE_API_ORG_PER_MINUTE".into(), "1000000".into()),
        ],
        ..Default::default()
    })
    .await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("admin@shop.test").await;
    let key = create_key(&app, "Contract").await;
    let org = app.org_id("Shop").await;
    app.email_channel(org, "Support", "support@shop.test", Some(2525))
        .await;
    for i in 1..=5 {
        let (_, id) = app
            .receive(
                org,
                mail(
                    &format!("customer{i}@example.test"),
                    &format!("<c{i}@example.test>"),
                    "Order question",
                    "Where is my parcel?",
                ),
            )
            .await;
        app.tag_conversation(org, id, &format!("orders-{i}")).await;
    }
    let url = app.url("/api/v1/openapi.json");
    let document: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let auth = format!("Authorization: Bearer {key}");

    // Act: schemathesis in a blocking thread, so this test's runtime keeps serving it; in the
    // test's own temporary directory, where its `.schemathesis/` cache goes (not the checkout).
    let workdir = app.data_dir.parent().unwrap().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .current_dir(workdir)
            .args(["-m", "schemathesis.cli", "run", &url])
            .args(["--header", &auth])
            .args(["--checks", "not_a_server_error,response_schema_conformance"])
            .args(["--max-examples", MAX_EXAMPLES])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--seed", "20261208"])
            // One worker: hypothesis is not thread-safe in every Python (an AST recursion error).
            .args(["--workers", "1"])
            .args(["--request-timeout", "20"])
            .args(["--suppress-health-check", "all"])
            .args(["--generation-database", "none"])
            .args(["--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .expect("schemathesis runs (scripts/test.sh installs it)")
    })
    .await
    .unwrap();

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    // Every operation of the document was tested.
    assert!(
        stdout.contains(&format!("{operations} selected / {operations} total"))
            && stdout.contains(&format!("Tested: {operations}")),
        "not every operation was tested:\n{stdout}"
    );
}
