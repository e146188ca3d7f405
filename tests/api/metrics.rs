//! `/metrics` on its own address (Prometheus text format, read back by the reference parser
//! of `prometheus_client` from PyPI), `/readyz`, and `lethe migrate --dry-run`.

use lethe::db::entity::outbox;
use sea_orm_migration::MigratorTrait;

use crate::helpers::{
    AppOptions, TestApp, arriving, fresh_database_url, lethe_command, location, mail,
    spawn_app_with, test_tmp_root,
};

async fn app_with_metrics() -> TestApp {
    spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_METRICS_LISTEN".into(), "127.0.0.1:0".into())],
        ..Default::default()
    })
    .await
}

async fn scrape(app: &TestApp) -> String {
    let address = app.metrics_address.as_ref().expect("metrics are served");
    let response = reqwest::get(format!("{address}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

/// The samples of `text` as parsed by Prometheus' Python client: "name{labels} value" lines,
/// labels sorted. Panics when the parser refuses the text.
fn parsed(text: &str) -> Vec<String> {
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "prometheus_client refused the text: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn value(samples: &[String], series: &str) -> Option<f64> {
    samples
        .iter()
        .find_map(|s| s.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_apart_from_the_pages_and_hold_no_personal_data() {
    // Arrange
    let app = app_with_metrics().await;
    app.create_user("anna.kowalski@shop.test", "Shop", "owner")
        .await;
    let org = app.org_id("Shop").await;
    let (channel, _) = app
        .email_channel(org, "Support", "support@shop.test", Some(1))
        .await;
    let raw = mail(
        "Jürgen Baumann <juergen.baumann@customer.test>",
        "q1@customer.test",
        "Where is my parcel?",
        "Hello",
    )
    .to("support@shop.test");
    let (conversation, _) = app.ingest(arriving(org, Some(channel)), raw).await;

    // Act
    assert_eq!(
        location(&app.login("anna.kowalski@shop.test").await),
        "/inbox"
    );
    let path = format!("/conversations/{conversation}");
    app.get(&path).await;
    app.get("/conversations/999999").await;
    app.get("/search?q=juergen.baumann%40customer.test").await;
    app.post_form(
        &path,
        &format!("{path}/reply"),
        &[("text", "It is on its way")],
    )
    .await;
    app.get("/no/such/page/juergen").await;
    let text = scrape(&app).await;
    let samples = parsed(&text);

    // Assert
    let requests = |route: &str, method: &str, status: u16| {
        value(
            &samples,
            &format!(
                r#"lethe_http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#
            ),
        )
    };
    assert_eq!(requests("/login", "POST", 303), Some(1.0), "{text}");
    // Twice: once here, once by the reply's form page.
    assert_eq!(requests("/conversations/{id}", "GET", 200), Some(2.0));
    assert_eq!(requests("/conversations/{id}", "GET", 404), Some(1.0));
    assert_eq!(
        requests("/conversations/{id}/reply", "POST", 303),
        Some(1.0)
    );
    assert_eq!(requests("unmatched", "GET", 404), Some(1.0));
    let count = value(
        &samples,
        r#"lethe_http_request_duration_seconds_count{method="GET",route="/conversations/{id}"}"#,
    );
    assert_eq!(count, Some(3.0));
    assert_eq!(value(&samples, "lethe_outbox_depth{}"), Some(1.0));
    assert_eq!(app.count::<outbox::Entity>().await, 1);
    assert!(value(&samples, "lethe_search_queue_depth{}").is_some());
    assert!(value(&samples, r#"lethe_db_pool_connections{state="idle"}"#).is_some());
    assert!(value(&samples, "lethe_db_pool_max_connections{}").unwrap() >= 1.0);
    for secret in [
        "anna",
        "kowalski",
        "juergen",
        "baumann",
        "customer.test",
        "parcel",
    ] {
        assert!(
            !text.to_lowercase().contains(secret),
            "{secret} in the metrics"
        );
    }
    let on_pages = app.get("/metrics").await;
    assert_eq!(on_pages.status(), 404, "not served with the pages");
}

#[tokio::test]
async fn readyz_says_whether_the_schema_is_the_one_this_binary_expects() {
    let app = app_with_metrics().await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);

    lethe::db::Migrator::down(&app.state.db, Some(1))
        .await
        .unwrap();
    let pending = app.get("/readyz").await;
    assert_eq!(pending.status(), 503);
    assert!(pending.text().await.unwrap().contains("lethe migrate"));
    lethe::db::Migrator::up(&app.state.db, None).await.unwrap();
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn migrate_dry_run_lists_what_would_run_and_changes_nothing() {
    let data_dir = tempfile::Builder::new()
        .prefix("lethe-migrate-")
        .tempdir_in(test_tmp_root())
        .unwrap();
    let database_url = fresh_database_url().await;
    let run = move |args: &'static [&'static str]| {
        let mut command = lethe_command(data_dir.path(), database_url.as_deref());
        command.args(args);
        async move {
            let output = tokio::task::spawn_blocking(move || command.output().unwrap())
                .await
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        }
    };
    let all = lethe::db::Migrator::migrations().len();

    let first = run(&["migrate", "--dry-run"]).await;
    assert!(
        first.contains(&format!("{all} migration(s) would run")),
        "{first}"
    );
    assert!(first.contains("m20261122_000001_create_accounts"));
    let again = run(&["migrate", "--dry-run"]).await;
    assert_eq!(first, again, "a dry run changes nothing");
    let applied = run(&["migrate"]).await;
    assert!(applied.contains(&format!("({all} new)")), "{applied}");
    let after = run(&["migrate", "--dry-run"]).await;
    assert!(after.contains("up to date"), "{after}");
}
