//! Upgrades: a database written by the first released Lethe (the first wave, migrations up to
//! `m20261203_000010`; `tests/fixtures/upgrade-v1`, made by `scripts/upgrade-fixture.sh` with
//! that release's binary) is migrated by this one when it starts, and everything in it is
//! still there: the team signs in, the conversations and their text show, search finds them,
//! the retention rule holds, and the audit chain — re-keyed on the way — verifies.

use lethe::db::entity::{conversation, message};

use crate::helpers::{
    AppOptions, TestApp, fresh_database_url, lethe_command, location, spawn_app_with, test_tmp_root,
};

/// The fixture's instance key: its sealed values and audit chain belong to it.
const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const PASSWORD: &str = "fixture password 2026";

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upgrade-v1")
        .join(name)
}

fn run(command: &mut std::process::Command) {
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "{:?}: {}",
        command,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A database loaded from the fixture of this suite's backend; its URL.
async fn old_database(dir: &std::path::Path) -> String {
    match fresh_database_url().await {
        Some(url) => {
            let sql = fixture("postgres.sql");
            let target = url.clone();
            tokio::task::spawn_blocking(move || {
                run(std::process::Command::new("psql")
                    .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", &target, "-f"])
                    .arg(sql))
            })
            .await
            .unwrap();
            url
        }
        None => {
            let path = dir.join("lethe.db");
            let sql = std::fs::File::open(fixture("sqlite.sql")).unwrap();
            let target = path.clone();
            tokio::task::spawn_blocking(move || {
                run(std::process::Command::new("sqlite3")
                    .arg(&target)
                    .stdin(sql))
            })
            .await
            .unwrap();
            format!("sqlite://{}", path.display())
        }
    }
}

#[tokio::test]
async fn a_database_of_the_first_release_is_migrated_at_start_and_keeps_everything() {
    // Arrange
    let dir = tempfile::Builder::new()
        .prefix("lethe-upgrade-")
        .tempdir_in(test_tmp_root())
        .unwrap();
    let url = old_database(dir.path()).await;
    let mut check = lethe_command(dir.path(), Some(&url));
    check
        .env("LETHE_SECRET_KEY", KEY)
        .args(["migrate", "--dry-run"]);
    let pending = tokio::task::spawn_blocking(move || check.output().unwrap())
        .await
        .unwrap();
    let listed = String::from_utf8_lossy(&pending.stdout).into_owned();
    assert!(
        listed.contains("m20261205_000011_keyed_audit_chain"),
        "{listed}"
    );
    assert!(
        !listed.contains("m20261203_000010"),
        "the fixture has the first release's schema"
    );

    // Act: this binary starts on it
    let app = spawn_app_with(AppOptions {
        extra_env: vec![
            ("LETHE_DATABASE_URL".into(), url.clone()),
            ("LETHE_SECRET_KEY".into(), KEY.into()),
        ],
        ..Default::default()
    })
    .await;

    // Assert
    assert_eq!(app.get("/readyz").await.status(), 200, "no migration left");
    assert_eq!(app.count::<conversation::Entity>().await, 41);
    assert!(app.count::<message::Entity>().await > 41);
    let owner = signed_in(&app, "owner@fixture-shop.test").await;
    let inbox = owner.get_text("/inbox").await;
    assert!(
        inbox.contains("Wo bleibt meine Bestellung 4711?"),
        "the imported mail is listed"
    );
    while lethe::search::indexer::run_once(&app.state).await.unwrap() > 0 {}
    let found = owner.get_text("/search?q=Gie%C3%9Fkanne").await;
    assert!(
        found.contains("Wo bleibt meine Bestellung 4711?"),
        "search finds the old text"
    );
    let retention = owner.get_text("/settings/retention").await;
    assert!(retention.contains("365"), "the retention rule is kept");
    signed_in(&app, "agent@fixture-shop.test").await;

    let mut verify = lethe_command(dir.path(), Some(&url));
    verify
        .env("LETHE_SECRET_KEY", KEY)
        .args(["audit", "verify"]);
    let verified = tokio::task::spawn_blocking(move || verify.output().unwrap())
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert!(
        verified.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(said.contains("intact"), "{said}");
}

async fn signed_in(app: &TestApp, email: &str) -> TestApp {
    let browser = app.another_browser();
    let login = browser.login_with(email, PASSWORD).await;
    assert_eq!(
        location(&login),
        "/inbox",
        "{email} signs in with the old password"
    );
    browser
}
