//! The command line, run as an operator runs it: the real binary in a fresh data directory.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::helpers::{
    PASSWORD, fresh_database_url, lethe_command, spawn_with_input, test_tmp_root,
};

struct Env {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Env {
    async fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("lethe-cli-")
            .tempdir_in(test_tmp_root())
            .unwrap();
        Self {
            dir,
            database_url: fresh_database_url().await,
        }
    }

    fn command(&self) -> Command {
        lethe_command(&self.dir.path().join("data"), self.database_url.as_deref())
    }

    fn run(&self, args: &[&str], stdin: &str) -> std::process::Output {
        let mut command = self.command();
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        spawn_with_input(&mut command, stdin)
            .wait_with_output()
            .unwrap()
    }

    async fn db(&self) -> sea_orm::DatabaseConnection {
        let target = match &self.database_url {
            Some(url) => {
                lethe::config::DatabaseTarget::Postgres(lethe::config::Redacted::new(url.clone()))
            }
            None => lethe::config::DatabaseTarget::Sqlite(self.dir.path().join("data/lethe.db")),
        };
        lethe::db::connect(&target, 4).await.unwrap()
    }
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_naming_the_setting() {
    let env = Env::new().await;
    let output = env
        .command()
        .arg("migrate")
        .env("LETHE_LISTEN", "everywhere")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("LETHE_LISTEN"), "{stderr}");
    let output = env
        .command()
        .arg("migrate")
        .env("LETHE_SECRET_KEY", "tooshort")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("LETHE_SECRET_KEY"));
    for (setting, value) in [
        ("LETHE_RATE_API_PER_MINUTE", "0"),
        ("LETHE_SSE_STREAMS_PER_USER", "many"),
        ("LETHE_INSTANCE_AUDIT_DAYS", "1"),
    ] {
        let output = env
            .command()
            .arg("migrate")
            .env(setting, value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{setting}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(setting),
            "{setting}"
        );
    }
}

#[tokio::test]
async fn user_create_from_a_script_makes_a_working_owner() {
    let env = Env::new().await;
    let output = env.run(
        &[
            "user",
            "create",
            "--email",
            "Owner@Shop.test",
            "--password-stdin",
            "--org",
            "Script Shop",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("as owner"));
    // A weak password and a duplicate are refused with a reason.
    let output = env.run(
        &[
            "user",
            "create",
            "--email",
            "x@shop.test",
            "--password-stdin",
            "--org",
            "Script Shop",
            "--role",
            "agent",
        ],
        "short\n",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("12 to 1024"));
    let output = env.run(
        &[
            "user",
            "create",
            "--email",
            "owner@shop.test",
            "--password-stdin",
            "--org",
            "Script Shop",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(output.status.code(), Some(2));
    let db = env.db().await;
    let users = lethe::db::entity::user::Entity::find()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].email, "owner@shop.test");
    assert!(users[0].password_hash.starts_with("$argon2id$"));
    assert!(lethe::crypto::verify_password(
        PASSWORD,
        &users[0].password_hash
    ));
}

#[tokio::test]
async fn audit_verify_names_the_first_altered_or_removed_row() {
    let env = Env::new().await;
    for i in 0..3 {
        let output = env.run(
            &[
                "user",
                "create",
                "--email",
                &format!("u{i}@shop.test"),
                "--password-stdin",
                "--org",
                &format!("Shop {i}"),
            ],
            &format!("{PASSWORD}\n"),
        );
        assert!(output.status.success());
    }
    let output = env.run(&["audit", "verify"], "");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("intact: 3 rows"));

    let db = env.db().await;
    let rows = lethe::db::entity::audit_event::Entity::find()
        .all(&db)
        .await
        .unwrap();
    let second = rows[1].id;
    db.execute_unprepared(&format!(
        "UPDATE audit_events SET target = 'user:999' WHERE id = {second}"
    ))
    .await
    .unwrap();
    let output = env.run(&["audit", "verify"], "");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&format!("row {second}")),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Undo the change, then delete a row instead: the row after it is named.
    let original = &rows[1].target;
    db.execute_unprepared(&format!(
        "UPDATE audit_events SET target = '{original}' WHERE id = {second}"
    ))
    .await
    .unwrap();
    assert!(env.run(&["audit", "verify"], "").status.success());
    db.execute_unprepared(&format!("DELETE FROM audit_events WHERE id = {second}"))
        .await
        .unwrap();
    let output = env.run(&["audit", "verify"], "");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("row {}", rows[2].id)));
}

#[tokio::test]
async fn serve_on_an_empty_data_dir_prints_a_setup_link_creates_a_0600_key_and_answers_healthz() {
    let env = Env::new().await;
    let port = crate::smtp::free_port();
    let mut child = env
        .command()
        .arg("serve")
        .env("LETHE_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut healthy = false;
    for _ in 0..300 {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && response.status() == 200
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy, "lethe serve did not answer /healthz");
    let key = env.dir.path().join("data/instance.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // SIGTERM stops it gracefully.
    unsafe_kill_term(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    let mut stdout = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(stdout.contains("/setup/"), "{stdout}");
}

#[tokio::test]
async fn refusals_counted_by_the_server_are_written_when_it_stops() {
    // Arrange: the minutely flush is off, so only the shutdown writes the counts.
    let env = Env::new().await;
    let port = crate::smtp::free_port();
    let mut child = env
        .command()
        .arg("serve")
        .env("LETHE_LISTEN", format!("127.0.0.1:{port}"))
        .env("LETHE_SCHEDULE_AUDIT_FLUSH", "")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut healthy = false;
    for _ in 0..300 {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await
            && response.status() == 200
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy, "lethe serve did not answer /healthz");
    for _ in 0..3 {
        let refused = client
            .get(format!("{base}/api/v1/privacy/requests"))
            .bearer_auth("lethe_not-a-key")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    }

    // Act
    unsafe_kill_term(child.id());
    let status = child.wait().unwrap();

    // Assert
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    let rows = lethe::db::entity::audit_event::Entity::find()
        .all(&env.db().await)
        .await
        .unwrap();
    let refused: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "api.key_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{rows:?}");
    assert!(
        refused[0].details.contains("\"count\":3"),
        "{}",
        refused[0].details
    );
    assert!(env.run(&["audit", "verify"], "").status.success());
}

fn unsafe_kill_term(pid: u32) {
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
}

#[tokio::test]
async fn a_command_piped_into_a_reader_that_stops_early_ends_without_a_panic() {
    let env = Env::new().await;
    let mut child = env
        .command()
        .args(["privacy", "redact"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the output (far larger than a pipe's buffer) is written,
    // as `lethe privacy redact < big.txt | head` does.
    drop(child.stdout.take());
    let text = "Order 4711 arrived damaged, please call me back.\n".repeat(40_000);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
}

#[tokio::test]
async fn privacy_redact_shows_what_the_detector_catches() {
    let env = Env::new().await;
    let text = "Hallo, ich bin Jürgen Weiß. IBAN DE89 3704 0044 0532 0130 00, Tel. +49 30 1234567, mail juergen@example.de. Bestellung 4711-2235 über 49,90 €.";
    let output = env.run(&["privacy", "redact", "--known", "Weiss"], text);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let redacted = String::from_utf8(output.stdout).unwrap();
    for gone in ["DE89", "1234567", "juergen@example.de", "Weiß"] {
        assert!(!redacted.contains(gone), "{gone} survived: {redacted}");
    }
    for kept in [
        "[IBAN]",
        "[PHONE]",
        "[EMAIL]",
        "[NAME]",
        "4711-2235",
        "49,90",
    ] {
        assert!(redacted.contains(kept), "{kept} missing: {redacted}");
    }
    let output = env.run(
        &["privacy", "redact", "--json"],
        "IBAN DE89370400440532013000 ok",
    );
    let findings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        findings,
        serde_json::json!([{"type": "IBAN", "start": 5, "end": 27}])
    );
}
