//! Sealed backups, run as an operator runs them (`lethe backup …` against a live server):
//! an erased person stays erased after a restore (the byte scan of the erasure tests, on the
//! restored directory and the backup directory), a backup taken under a write load restores
//! to a consistent state, an altered or cut backup is refused, prune deletes only expired
//! backups, and bad settings stop start-up.
//!
//! On PostgreSQL the database is not in the backup (it is the operator's pg_dump): a restore
//! there brings back the attachment store and replays the journal against the database.

use std::path::{Path, PathBuf};
use std::process::Output;

use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement};

use crate::helpers::{
    AppOptions, TestApp, files_under, lethe_command, mail, spawn_app_with, traces, unique_suffix,
};
use lethe::db::entity::{attachment, conversation, customer, message};
use lethe::retention::{Action, Category};

/// An app whose backups (and erasure journal) go to its own `backups/` directory.
async fn app_with_backups(extra: &[(&str, &str)]) -> (TestApp, tempfile::TempDir) {
    let backups = tempfile::Builder::new()
        .prefix("lethe-backups-")
        .tempdir_in(crate::helpers::test_tmp_root())
        .unwrap();
    let mut extra_env = vec![(
        "LETHE_BACKUP_DIR".to_owned(),
        backups.path().display().to_string(),
    )];
    extra_env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let app = spawn_app_with(AppOptions {
        extra_env,
        ..Default::default()
    })
    .await;
    (app, backups)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `lethe backup ARGS` on the app's data directory and database, with its backup directory.
fn backup_cli(app: &TestApp, backups: &Path, args: &[&str]) -> Output {
    app.lethe()
        .env("LETHE_BACKUP_DIR", backups)
        .arg("backup")
        .args(args)
        .output()
        .unwrap()
}

/// Takes a backup with the command line while the app serves; returns its file.
async fn create_backup(app: &TestApp, backups: &Path) -> PathBuf {
    let mut command = app.lethe();
    command
        .env("LETHE_BACKUP_DIR", backups)
        .args(["backup", "create", "--json"]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    PathBuf::from(created["path"].as_str().unwrap())
}

/// A fresh, not yet existing data directory (beside the app's).
fn fresh_data_dir(app: &TestApp) -> PathBuf {
    app.data_dir
        .parent()
        .unwrap()
        .join(format!("restored-{}", unique_suffix()))
}

/// `lethe backup restore FILE --yes --json` into `data_dir`, with the app's key file and
/// database (PostgreSQL: the operator restored it already).
async fn restore(app: &TestApp, backups: &Path, file: &Path, data_dir: &Path) -> Output {
    let mut command = lethe_command(data_dir, app.database_url.as_deref());
    command
        .env("LETHE_BACKUP_DIR", backups)
        .args(["backup", "restore"])
        .arg(file)
        .arg("--key-file")
        .arg(app.data_dir.join("instance.key"))
        .args(["--yes", "--json"]);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

async fn connect_restored(app: &TestApp, data_dir: &Path) -> sea_orm::DatabaseConnection {
    let target = match &app.database_url {
        Some(url) => {
            lethe::config::DatabaseTarget::Postgres(lethe::config::Redacted::new(url.clone()))
        }
        None => lethe::config::DatabaseTarget::Sqlite(data_dir.join("lethe.db")),
    };
    lethe::db::connect(&target, 4).await.unwrap()
}

fn on_sqlite(app: &TestApp) -> bool {
    app.database_url.is_none()
}

fn blob_path(data_dir: &Path, blob_id: &str) -> PathBuf {
    data_dir
        .join("attachments")
        .join(&blob_id[..2])
        .join(blob_id)
}

#[tokio::test]
async fn an_erased_customer_stays_erased_after_a_restore_with_no_byte_left() {
    // Arrange: a customer with an attachment, another one a retention rule will delete, and
    // one who stays; a backup taken while the server runs.
    let (app, backups) = app_with_backups(&[]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = app.org_id("Shop").await;
    let suffix = unique_suffix();
    let address = format!("zq{suffix}@kunde.test");
    let name = format!("Xylophon{suffix} Quartzberg");
    let sentence = format!("The marmalade{suffix} tastes of forgotten harbours");
    let attachment_bytes = format!("ATTACHMENT-{suffix}-").repeat(50).into_bytes();
    let (erased, _) = app
        .receive(
            shop,
            mail(
                &format!("{name} <{address}>"),
                &format!("m1-{suffix}@kunde.test"),
                &format!("Question {suffix}"),
                &sentence,
            )
            .attachment("application/octet-stream", "unique.bin", &attachment_bytes),
        )
        .await;
    let old_name = format!("Oboe{suffix} Vintersund");
    let (_, expired) = app
        .receive(
            shop,
            mail(
                &format!("{old_name} <old{suffix}@kunde.test>"),
                &format!("m2-{suffix}@kunde.test"),
                "Old order",
                &format!("My old parcel{suffix} never came"),
            ),
        )
        .await;
    let keeper_name = format!("Keeper{suffix}");
    let (keeper, _) = app
        .receive(
            shop,
            mail(
                &format!("{keeper_name} <keeper{suffix}@kunde.test>"),
                &format!("m3-{suffix}@kunde.test"),
                "Stays",
                "This customer stays.",
            ),
        )
        .await;
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    let backup = create_backup(&app, backups.path()).await;
    let blob_files = files_under(&app.data_dir.join("attachments")).len();
    assert_eq!(blob_files, 1);

    // Act: erase one customer, let retention delete another, then restore the older backup.
    let erasure = app.erase(shop, erased).await;
    app.close_days_ago(expired, 400).await;
    app.save_rule(shop, Category::ClosedConversations, 365, Action::Delete)
        .await;
    lethe::retention::run::run_with(
        &app.state,
        shop,
        lethe::retention::run::RunOptions {
            dry_run: false,
            trigger: "cli",
            actor: lethe::audit::Actor::System("test"),
        },
    )
    .await
    .unwrap();
    assert!(app.find_conversation(expired).await.is_none());
    let restored_dir = fresh_data_dir(&app);
    let output = restore(&app, backups.path(), &backup, &restored_dir).await;

    // Assert
    assert!(output.status.success(), "{}", text(&output));
    let needles: Vec<Vec<u8>> = vec![
        address.clone().into_bytes(),
        name.clone().into_bytes(),
        name.to_lowercase().into_bytes(),
        format!("Xylophon{suffix}").into_bytes(),
        sentence.clone().into_bytes(),
        format!("marmalade{suffix}").into_bytes(),
        format!("ATTACHMENT-{suffix}").into_bytes(),
        format!("parcel{suffix}").into_bytes(),
    ];
    let found = traces(&restored_dir, &needles);
    assert!(
        found.is_empty(),
        "traces in the restored directory: {found:#?}"
    );
    let found = traces(backups.path(), &needles);
    assert!(
        found.is_empty(),
        "traces in the backup directory: {found:#?}"
    );
    assert!(
        files_under(&restored_dir.join("attachments")).is_empty(),
        "the erased customer's attachment file is not restored"
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        result["result"]["replayed"]["entries"].as_u64().unwrap() >= 2,
        "the erasure and the retention deletion are replayed: {result}"
    );
    let db = connect_restored(&app, &restored_dir).await;
    assert!(
        customer::Entity::find_by_id(erased)
            .one(&db)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        conversation::Entity::find_by_id(expired)
            .one(&db)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        customer::Entity::find_by_id(keeper)
            .one(&db)
            .await
            .unwrap()
            .is_some()
    );
    if on_sqlite(&app) {
        assert!(
            !traces(&restored_dir, &[keeper_name.as_bytes()]).is_empty(),
            "the restored database holds the customer who stayed"
        );
    }
    // The erasure's receipt says by when the backup holding the person expires.
    app.login("owner@shop.test").await;
    let receipt: serde_json::Value = app
        .get(&format!("/privacy/receipts/{}.json", erasure.receipt_id))
        .await
        .json()
        .await
        .unwrap();
    let expires = receipt["backups_expire_by"].as_str().expect("expiry shown");
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    let days = (expires.to_utc() - chrono::Utc::now()).num_days();
    assert!((29..=30).contains(&days), "{days}");
}

#[tokio::test]
async fn a_customer_merged_and_erased_after_a_backup_does_not_come_back_as_the_duplicate() {
    // Arrange: two records of one person in the backup; after it, they are merged and the
    // kept record is erased.
    let (app, backups) = app_with_backups(&[]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = app.org_id("Shop").await;
    let suffix = unique_suffix();
    let (kept, _) = app
        .receive(
            shop,
            mail(
                &format!("Mira{suffix} Kowalczyk <mira{suffix}@kunde.test>"),
                &format!("k-{suffix}@kunde.test"),
                "Order",
                &format!("First question {suffix}"),
            ),
        )
        .await;
    let work_address = format!("mira.work{suffix}@firma.test");
    let (duplicate, _) = app
        .receive(
            shop,
            mail(
                &format!("Mira{suffix} K. <{work_address}>"),
                &format!("d-{suffix}@kunde.test"),
                "Invoice",
                &format!("Second question lighthouse{suffix}"),
            ),
        )
        .await;
    let backup = create_backup(&app, backups.path()).await;
    app.login("owner@shop.test").await;
    let confirm = app
        .get_text(&format!(
            "/customers/{kept}/merge?email={}",
            work_address.replace('@', "%40")
        ))
        .await;
    let csrf = crate::helpers::csrf_of(&confirm);
    let merged = app
        .post_with_csrf(
            &format!("/customers/{kept}/merge"),
            &csrf,
            &[("other", &duplicate.to_string())],
        )
        .await;
    assert_eq!(merged.status(), 303);

    // Act
    app.erase(shop, kept).await;
    let restored_dir = fresh_data_dir(&app);
    let output = restore(&app, backups.path(), &backup, &restored_dir).await;

    // Assert
    assert!(output.status.success(), "{}", text(&output));
    let needles = [
        format!("Mira{suffix}"),
        work_address.clone(),
        format!("lighthouse{suffix}"),
    ];
    let found = traces(&restored_dir, &needles);
    assert!(
        found.is_empty(),
        "traces in the restored directory: {found:#?}"
    );
    let db = connect_restored(&app, &restored_dir).await;
    for id in [kept, duplicate] {
        assert!(
            customer::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_backup_taken_during_writes_restores_to_a_consistent_state() {
    // Arrange: a writer storing mail with attachments for as long as the backup runs.
    let (app, backups) = app_with_backups(&[]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = app.org_id("Shop").await;
    for i in 0..20 {
        app.receive(
            shop,
            mail(
                &format!("Before {i} <before{i}@kunde.test>"),
                &format!("before-{i}-{}@kunde.test", unique_suffix()),
                "Before",
                "Written before the backup.",
            )
            .attachment(
                "application/octet-stream",
                "a.bin",
                format!("before {i}").as_bytes(),
            ),
        )
        .await;
    }
    let committed_before: i64 = attachment::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .max()
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (state, stop) = (app.state.clone(), stop.clone());
        tokio::spawn(async move {
            let mut written = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let raw = mail(
                    &format!("Load {written} <load{written}@kunde.test>"),
                    &format!("load-{written}-{}@kunde.test", unique_suffix()),
                    "During",
                    "Written while the backup runs.",
                )
                .attachment(
                    "application/octet-stream",
                    "b.bin",
                    format!("during {written} {}", unique_suffix()).as_bytes(),
                );
                crate::helpers::ingest_into(&state, crate::helpers::imported(shop), raw).await;
                written += 1;
            }
            written
        })
    };

    // Act
    let backup = create_backup(&app, backups.path()).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    let restored_dir = fresh_data_dir(&app);
    let output = restore(&app, backups.path(), &backup, &restored_dir).await;

    // Assert
    assert!(written > 0, "the writer wrote while the backup ran");
    assert!(output.status.success(), "{}", text(&output));
    let db = connect_restored(&app, &restored_dir).await;
    let attachments = attachment::Entity::find().all(&db).await.unwrap();
    let conversations = conversation::Entity::find().all(&db).await.unwrap().len();
    let messages = message::Entity::find().all(&db).await.unwrap().len();
    assert!(
        conversations >= 20 && messages >= 20,
        "{conversations} {messages}"
    );
    // Every attachment the restored database refers to has its file (on PostgreSQL, whose
    // database is live here, those committed before the backup started).
    let missing: Vec<i64> = attachments
        .iter()
        .filter(|a| on_sqlite(&app) || a.id <= committed_before)
        .filter(|a| !blob_path(&restored_dir, &a.blob_id).exists())
        .map(|a| a.id)
        .collect();
    assert!(missing.is_empty(), "attachments without files: {missing:?}");
    if on_sqlite(&app) {
        assert_eq!(
            conversations, messages,
            "one message per conversation: no half-written mail"
        );
        assert_eq!(attachments.len(), messages, "one attachment per message");
        let check = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(check.try_get_by_index::<String>(0).unwrap(), "ok");
        let broken = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA foreign_key_check",
            ))
            .await
            .unwrap();
        assert!(broken.is_empty(), "foreign keys hold");
    }
    let verify = lethe_command(&restored_dir, app.database_url.as_deref())
        .args(["index", "verify"])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
}

#[tokio::test]
async fn an_altered_or_truncated_backup_is_refused_by_verify_and_restore() {
    // Arrange
    let (app, backups) = app_with_backups(&[]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = app.org_id("Shop").await;
    app.receive(
        shop,
        mail(
            "Anna <anna@kunde.test>",
            &format!("a-{}@kunde.test", unique_suffix()),
            "Hello",
            "Some text",
        )
        .attachment("application/octet-stream", "a.bin", &[7u8; 200_000]),
    )
    .await;
    let backup = create_backup(&app, backups.path()).await;
    let file = backup.display().to_string();
    let intact = backup_cli(&app, backups.path(), &["verify", &file]);
    assert!(intact.status.success(), "{}", text(&intact));
    assert!(text(&intact).contains("backup intact"), "{}", text(&intact));
    let bytes = std::fs::read(&backup).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "flipped",
            {
                let mut b = bytes.clone();
                let middle = b.len() / 2;
                b[middle] ^= 0x40;
                b
            },
            "altered",
        ),
        (
            "truncated",
            bytes[..bytes.len() - 100].to_vec(),
            "truncated",
        ),
        (
            "cut at a chunk",
            bytes[..bytes.len() / 3].to_vec(),
            "truncated",
        ),
    ];
    for (case, altered, says) in cases {
        let path = backups
            .path()
            .join(format!("{}-{case}.bin", unique_suffix()));
        std::fs::write(&path, &altered).unwrap();
        let shown = path.display().to_string();

        // Act
        let verify = backup_cli(&app, backups.path(), &["verify", &shown]);
        let restored_dir = fresh_data_dir(&app);
        let restored = restore(&app, backups.path(), &path, &restored_dir).await;

        // Assert
        assert_eq!(verify.status.code(), Some(1), "{case}: {}", text(&verify));
        assert!(text(&verify).contains(says), "{case}: {}", text(&verify));
        assert_eq!(
            restored.status.code(),
            Some(1),
            "{case}: {}",
            text(&restored)
        );
        assert!(
            text(&restored).contains(says),
            "{case}: {}",
            text(&restored)
        );
        assert!(
            !restored_dir.exists() || files_under(&restored_dir).is_empty(),
            "{case}: nothing is left of a refused restore"
        );
    }
    // Another instance key is named as the wrong key, and a non-empty directory is refused.
    let other = lethe_command(&fresh_data_dir(&app), app.database_url.as_deref())
        .env("LETHE_SECRET_KEY", "ab".repeat(32))
        .args(["backup", "verify", &file])
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(1));
    assert!(text(&other).contains("wrong key"), "{}", text(&other));
    let occupied = restore(&app, backups.path(), &backup, &app.data_dir).await;
    assert_eq!(occupied.status.code(), Some(1));
    assert!(
        text(&occupied).contains(&app.data_dir.display().to_string())
            && text(&occupied).contains("not empty"),
        "{}",
        text(&occupied)
    );
}

#[tokio::test]
async fn a_backup_sealed_with_lethe_backup_key_opens_only_with_that_key() {
    // Arrange
    let backup_key = "cd".repeat(32);
    let (app, backups) = app_with_backups(&[("LETHE_BACKUP_KEY", &backup_key)]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = app.org_id("Shop").await;
    let (customer_id, _) = app
        .receive(
            shop,
            mail(
                "Carla <carla@kunde.test>",
                &format!("c-{}@kunde.test", unique_suffix()),
                "Hi",
                "Text",
            ),
        )
        .await;
    let mut command = app.lethe();
    command
        .env("LETHE_BACKUP_DIR", backups.path())
        .env("LETHE_BACKUP_KEY", &backup_key)
        .args(["backup", "create", "--json"]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let file = created["path"].as_str().unwrap().to_owned();

    // Act
    let without = backup_cli(&app, backups.path(), &["verify", &file]);
    let with = app
        .lethe()
        .env("LETHE_BACKUP_KEY", &backup_key)
        .args(["backup", "verify", &file])
        .output()
        .unwrap();
    let restored_dir = fresh_data_dir(&app);
    let mut command = lethe_command(&restored_dir, app.database_url.as_deref());
    command
        .env("LETHE_BACKUP_DIR", backups.path())
        .env("LETHE_BACKUP_KEY", &backup_key)
        .args(["backup", "restore", &file, "--yes", "--key-file"])
        .arg(app.data_dir.join("instance.key"));
    let restored = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();

    // Assert
    assert_eq!(without.status.code(), Some(1));
    assert!(
        text(&without).contains("wrong key") && text(&without).contains("LETHE_BACKUP_KEY"),
        "{}",
        text(&without)
    );
    assert!(with.status.success(), "{}", text(&with));
    assert!(restored.status.success(), "{}", text(&restored));
    let db = connect_restored(&app, &restored_dir).await;
    assert!(
        customer::Entity::find_by_id(customer_id)
            .one(&db)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn prune_and_the_scheduled_job_remove_only_expired_backups() {
    // Arrange: backups 8 and 6 days old under a 7-day limit.
    let (app, backups) = app_with_backups(&[("LETHE_BACKUP_KEEP_DAYS", "7")]).await;
    let backup = create_backup(&app, backups.path()).await;
    let name_at = |days: i64| {
        lethe::backup::files::file_name(chrono::Utc::now() - chrono::Duration::days(days))
    };
    let (old, young) = (name_at(8), name_at(6));
    std::fs::copy(&backup, backups.path().join(&old)).unwrap();
    std::fs::copy(&backup, backups.path().join(&young)).unwrap();

    // Act
    let pruned = app
        .lethe()
        .env("LETHE_BACKUP_DIR", backups.path())
        .env("LETHE_BACKUP_KEEP_DAYS", "7")
        .args(["backup", "prune", "--json"])
        .output()
        .unwrap();

    // Assert
    assert!(pruned.status.success(), "{}", text(&pruned));
    let pruned: serde_json::Value = serde_json::from_slice(&pruned.stdout).unwrap();
    assert_eq!(pruned["removed"], serde_json::json!([old]));
    assert_eq!(pruned["kept"], 2);
    assert!(backups.path().join(&young).exists());
    let listed = backup_cli(&app, backups.path(), &["list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // The scheduled job takes a backup and deletes what expired since.
    std::fs::copy(&backup, backups.path().join(name_at(30))).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let outcome = lethe::backup::create::run_once(&app.state).await.unwrap();
    assert_eq!(outcome.expired_removed, 1);
    let names: Vec<String> = lethe::backup::files::list(backups.path(), 7)
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&outcome.backup) && names.contains(&young));
}

#[tokio::test]
async fn bad_backup_settings_stop_start_up_naming_the_setting() {
    let dir = tempfile::Builder::new()
        .prefix("lethe-cli-")
        .tempdir_in(crate::helpers::test_tmp_root())
        .unwrap();
    let data = dir.path().join("data");
    let backups = dir.path().join("backups").display().to_string();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("LETHE_BACKUP_KEEP_DAYS", "91")],
            "LETHE_BACKUP_KEEP_DAYS",
        ),
        (&[("LETHE_BACKUP_KEEP_DAYS", "0")], "LETHE_BACKUP_KEEP_DAYS"),
        (
            &[("LETHE_BACKUP_KEEP_DAYS", "a month")],
            "LETHE_BACKUP_KEEP_DAYS",
        ),
        (
            &[("LETHE_BACKUP_DIR", "relative/backups")],
            "LETHE_BACKUP_DIR",
        ),
        (&[("LETHE_BACKUP_KEY", "short")], "LETHE_BACKUP_KEY"),
        (
            &[("LETHE_BACKUP_SCHEDULE", "0 30 2 * * *")],
            "LETHE_BACKUP_SCHEDULE",
        ),
        (
            &[
                ("LETHE_BACKUP_DIR", &backups),
                ("LETHE_BACKUP_SCHEDULE", "nightly"),
            ],
            "LETHE_BACKUP_SCHEDULE",
        ),
    ];
    for (settings, named) in cases {
        let mut command = lethe_command(&data, None);
        command.arg("migrate");
        for (key, value) in *settings {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{settings:?}: {}",
            text(&output)
        );
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(named),
            "{settings:?}: {}",
            text(&output)
        );
    }
    std::fs::create_dir_all(&data).unwrap();
    let fine = lethe_command(&data, None)
        .arg("migrate")
        .env("LETHE_BACKUP_DIR", &backups)
        .env("LETHE_BACKUP_KEEP_DAYS", "90")
        .output()
        .unwrap();
    assert!(fine.status.success(), "{}", text(&fine));
}

#[tokio::test]
async fn deletions_are_journaled_with_ids_and_times_only() {
    let (app, backups) = app_with_backups(&[]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = app.org_id("Shop").await;
    let (customer_id, conversation_id) = app
        .receive(
            shop,
            mail(
                "Berta Beispiel <berta@kunde.test>",
                &format!("b-{}@kunde.test", unique_suffix()),
                "Hello",
                "Text",
            ),
        )
        .await;

    app.erase(shop, customer_id).await;

    let journal =
        std::fs::read_to_string(backups.path().join(lethe::backup::journal::FILE)).unwrap();
    let entries: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 1, "{journal}");
    assert_eq!(entries[0]["kind"], "customers");
    assert_eq!(entries[0]["ids"], serde_json::json!([customer_id]));
    assert_eq!(
        entries[0]["conversations"],
        serde_json::json!([conversation_id])
    );
    assert!(!journal.contains("berta") && !journal.contains("Berta"));
    let mut keys: Vec<&String> = entries[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["at", "conversations", "ids", "kind", "org"]);
}

#[tokio::test]
async fn the_owner_of_a_single_shop_install_schedules_backups_and_takes_one_now() {
    let (app, backups) = app_with_backups(&[]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.create_user("admin@shop.test", "Shop", "admin").await;
    let admin = app.another_browser();
    admin.login("admin@shop.test").await;
    assert_eq!(admin.get("/settings/backups").await.status(), 403);
    app.login("owner@shop.test").await;
    let page = app.get_text("/settings/backups").await;
    assert!(page.contains("No backup yet"));
    assert!(
        page.contains("value=\"daily\" checked"),
        "daily at 02:30 UTC by default"
    );

    // The hourly job follows the owner's schedule: weekly, Sunday 23:30 UTC.
    let saved = app
        .post_form(
            "/settings/backups",
            "/settings/backups/schedule",
            &[("frequency", "weekly"), ("weekday", "6"), ("hour", "23")],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let bad = app
        .post_form(
            "/settings/backups",
            "/settings/backups/schedule",
            &[("frequency", "daily"), ("weekday", "0"), ("hour", "25")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("Choose an hour from 0 to 23")
    );
    use chrono::TimeZone;
    let monday_night = chrono::Utc
        .with_ymd_and_hms(2026, 12, 7, 23, 30, 0)
        .unwrap();
    let sunday_night = chrono::Utc
        .with_ymd_and_hms(2026, 12, 13, 23, 30, 0)
        .unwrap();
    assert!(
        lethe::backup::schedule::run_if_due(&app.state, monday_night)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        lethe::backup::files::list(backups.path(), 30)
            .unwrap()
            .is_empty()
    );
    let taken = lethe::backup::schedule::run_if_due(&app.state, sunday_night)
        .await
        .unwrap()
        .expect("due on Sunday at 23");
    assert!(backups.path().join(&taken.backup).exists());
    let page = app.get_text("/settings/backups").await;
    assert!(page.contains(&taken.backup));
    assert!(page.contains("value=\"weekly\" checked"));

    // "Back up now" takes one in the background.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let now = app
        .post_form("/settings/backups", "/settings/backups/now", &[])
        .await;
    assert_eq!(now.status(), 303);
    let mut listed = 0;
    for _ in 0..600 {
        listed = lethe::backup::files::list(backups.path(), 30)
            .unwrap()
            .len();
        if listed == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed, 2, "the requested backup was written");
    let actions: Vec<String> = lethe::db::entity::audit_event::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"backup.schedule_changed".to_owned()));
    assert!(actions.contains(&"backup.requested".to_owned()));

    // With a second organization, backups are the operator's alone.
    app.create_user("other@else.test", "Elsewhere", "owner")
        .await;
    assert_eq!(app.get("/settings/backups").await.status(), 400);
}

#[tokio::test]
async fn an_operator_schedule_wins_over_the_page() {
    let (app, _backups) = app_with_backups(&[("LETHE_BACKUP_SCHEDULE", "0 15 4 * * *")]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let page = app.get_text("/settings/backups").await;
    assert!(page.contains("LETHE_BACKUP_SCHEDULE = 0 15 4 * * *"));
    assert!(!page.contains("name=\"frequency\""));
    let refused = app
        .post_form(
            "/settings/backups",
            "/settings/backups/schedule",
            &[("frequency", "off"), ("weekday", "0"), ("hour", "1")],
        )
        .await;
    assert_eq!(refused.status(), 409);
}

#[tokio::test]
async fn a_draft_the_retention_rule_deleted_after_a_backup_stays_deleted_after_a_restore() {
    // Arrange: an agent's unsent draft in the backup, then old enough for the rule.
    let (app, backups) = app_with_backups(&[]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = app.org_id("Shop").await;
    let suffix = unique_suffix();
    let (_, conversation_id) = app
        .receive(
            shop,
            mail(
                &format!("Ida <ida{suffix}@kunde.test>"),
                &format!("i-{suffix}@kunde.test"),
                "Delivery",
                "Where is it?",
            ),
        )
        .await;
    app.login("owner@shop.test").await;
    let page = format!("/conversations/{conversation_id}");
    let draft_text = format!("Half-written answer marmalade{suffix}");
    let saved = app
        .post_form(&page, &format!("{page}/draft"), &[("text", &draft_text)])
        .await;
    assert_eq!(saved.status(), 303);
    let backup = create_backup(&app, backups.path()).await;
    app.state
        .db
        .execute_unprepared("UPDATE drafts SET updated_at = '2020-01-01 00:00:00+00:00'")
        .await
        .unwrap();
    app.save_rule(shop, Category::UnsentDrafts, 30, Action::Delete)
        .await;
    let report = lethe::retention::run_once(&app.state, shop, false)
        .await
        .unwrap();
    assert_eq!(report.category(Category::UnsentDrafts).unwrap().drafts, 1);

    // Act
    let restored_dir = fresh_data_dir(&app);
    let output = restore(&app, backups.path(), &backup, &restored_dir).await;

    // Assert: the restore replayed the deletion.
    assert!(output.status.success(), "{}", text(&output));
    let db = connect_restored(&app, &restored_dir).await;
    let left = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM drafts".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(left, 0);
    let found = traces(&restored_dir, &[format!("marmalade{suffix}")]);
    assert!(
        found.is_empty(),
        "traces in the restored directory: {found:#?}"
    );
}

#[tokio::test]
async fn conversations_merged_after_a_backup_stay_gone_when_retention_deleted_the_merged_one() {
    // Arrange: two conversations of one customer in the backup; after it, one is merged into
    // the other, which retention then deletes.
    let (app, backups) = app_with_backups(&[]).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = app.org_id("Shop").await;
    let suffix = unique_suffix();
    let from = format!("Ola <ola{suffix}@kunde.test>");
    let (_, kept) = app
        .receive(
            shop,
            mail(&from, &format!("o1-{suffix}@kunde.test"), "Order", "Where?"),
        )
        .await;
    let (_, merged) = app
        .receive(
            shop,
            mail(
                &from,
                &format!("o2-{suffix}@kunde.test"),
                "Invoice",
                &format!("The invoice please, quokka{suffix}"),
            ),
        )
        .await;
    // A third, open conversation keeps the customer record (retention deletes only the
    // merged conversation).
    app.receive(
        shop,
        mail(
            &from,
            &format!("o3-{suffix}@kunde.test"),
            "Refund",
            "Refund?",
        ),
    )
    .await;
    let backup = create_backup(&app, backups.path()).await;
    app.login("owner@shop.test").await;
    let page = format!("/conversations/{kept}");
    let response = app
        .post_form(
            &page,
            &format!("{page}/merge"),
            &[("ids", &merged.to_string())],
        )
        .await;
    assert_eq!(response.status(), 303);
    app.close_days_ago(kept, 400).await;
    app.save_rule(shop, Category::ClosedConversations, 365, Action::Delete)
        .await;
    lethe::retention::run_once(&app.state, shop, false)
        .await
        .unwrap();
    assert!(app.find_conversation(kept).await.is_none());

    // Act
    let restored_dir = fresh_data_dir(&app);
    let output = restore(&app, backups.path(), &backup, &restored_dir).await;

    // Assert: the merge was replayed before the deletion, so neither came back.
    assert!(output.status.success(), "{}", text(&output));
    let db = connect_restored(&app, &restored_dir).await;
    for id in [kept, merged] {
        assert!(
            conversation::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .is_none(),
            "conversation {id} came back"
        );
    }
    let found = traces(&restored_dir, &[format!("quokka{suffix}")]);
    assert!(
        found.is_empty(),
        "traces in the restored directory: {found:#?}"
    );
}
