//! Attachments in an S3-compatible bucket (issue 18, `LETHE_BLOB_URL`): two nodes share the
//! files, the bucket holds only sealed bytes, erasure and the orphan sweep delete objects, and
//! a bucket that cannot be used stops start-up naming the setting. Against a real
//! S3-compatible server: moto in server mode, started by scripts/test.sh
//! (`LETHE_TEST_S3_ENDPOINT`).

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use lethe::db::entity::{attachment, message};
use object_store::ObjectStore;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::compose::{binary_file, parsed_by_python, sha256_hex, shop, text_mail};
use crate::helpers::{
    AppOptions, arriving, files_under, lethe_command, spawn_app_with, unique_suffix,
};
use crate::smtp::SmtpRecorder;

fn endpoint() -> String {
    std::env::var("LETHE_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("LETHE_TEST_S3_ENDPOINT is not set: run the tests with ./scripts/test.sh")
    })
}

/// A fresh bucket on the test server.
pub(crate) struct Bucket {
    name: String,
    store: object_store::aws::AmazonS3,
}

impl Bucket {
    pub(crate) async fn new() -> Self {
        let name = format!("lethe-{}", unique_suffix());
        let created = reqwest::Client::new()
            .put(format!("{}/{name}", endpoint()))
            .send()
            .await
            .expect("the S3 test server answers");
        assert!(created.status().is_success(), "bucket created: {created:?}");
        let store = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&name)
            .with_region("us-east-1")
            .with_endpoint(endpoint())
            .with_allow_http(true)
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .build()
            .unwrap();
        Self { name, store }
    }

    /// The settings of a node keeping its files under `files/` in this bucket.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        [
            ("LETHE_BLOB_URL", format!("s3://{}/files", self.name)),
            ("AWS_ENDPOINT_URL", endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Every object of the bucket: its key and its bytes.
    pub(crate) async fn objects(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let metas: Vec<_> = self.store.list(None).collect().await;
        for meta in metas {
            let meta = meta.unwrap();
            let bytes = self
                .store
                .get(&meta.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            out.push((meta.location.to_string(), bytes.to_vec()));
        }
        out
    }
}

fn options(bucket: &Bucket) -> AppOptions {
    AppOptions {
        extra_env: bucket.env(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_file_received_on_one_node_downloads_and_is_forwarded_through_another_and_the_bucket_holds_it_sealed()
 {
    // Arrange: node A takes Anna's mail with a photo; node B shares the database and bucket.
    let bucket = Bucket::new().await;
    let smtp = SmtpRecorder::start().await;
    let a = spawn_app_with(options(&bucket)).await;
    let (org, channel) = shop(&a, Some(smtp.port)).await;
    let b = a.second_node_with(bucket.env()).await;
    b.login("owner@shop-a.test").await;
    let marker = format!("PHOTO-OF-LID-{}", unique_suffix());
    let photo = binary_file(&marker);
    let question = text_mail(
        "Anna Berg <anna@customer.test>",
        &format!("lid-{}@customer.test", unique_suffix()),
        "Broken lid",
        "The lid of the kettle is broken.",
    )
    .attachment("image/jpeg", "lid.jpg", &photo);
    let (id, anna_message) = a.ingest(arriving(org, Some(channel)), question).await;
    let row = attachment::Entity::find()
        .filter(attachment::Column::MessageId.eq(anna_message))
        .one(&a.state.db)
        .await
        .unwrap()
        .expect("the attachment row");

    // Act 1: node B serves the file.
    let downloaded = b.get(&format!("/attachments/{}", row.id)).await;

    // Assert 1: byte for byte.
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), photo.as_slice());

    // Act 2: node B forwards the message with its file, and sends it.
    let path = format!("/conversations/{id}");
    let response = b
        .post_form(
            &path,
            &format!("{path}/messages/{anna_message}/forward"),
            &[
                ("to", "qa@supplier.test"),
                ("note", "Can you replace this lid?"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let outcome = lethe::mail::outbound::run_once(&b.state, Utc::now())
        .await
        .unwrap();

    // Assert 2: sent with the file, bytes identical.
    assert_eq!(outcome.sent, 1);
    let sent = smtp.wait_for(1).await.remove(0);
    assert_eq!(
        parsed_by_python(&sent)["files"],
        serde_json::json!([["lid.jpg", "image/jpeg", sha256_hex(&photo)]])
    );
    let forward = message::Entity::find()
        .filter(message::Column::Kind.eq("forward"))
        .one(&b.state.db)
        .await
        .unwrap();
    assert!(forward.is_some());

    // Assert 3: the bucket holds the file under its name, sealed; no node keeps a copy.
    let objects = bucket.objects().await;
    assert_eq!(
        objects
            .iter()
            .map(|(key, _)| key.clone())
            .collect::<Vec<_>>(),
        [format!("files/{}/{}", &row.blob_id[..2], row.blob_id)]
    );
    for (key, body) in &objects {
        assert!(
            !body.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{key} holds plaintext"
        );
        assert!(!body.windows(512).any(|w| w == &photo[..512]), "{key}");
    }
    for node in [&a, &b] {
        assert!(
            files_under(&node.data_dir.join("attachments")).is_empty(),
            "nothing left in {}",
            node.data_dir.display()
        );
    }
}

#[tokio::test]
async fn erasing_the_customer_removes_the_object_from_the_bucket() {
    // Arrange
    let bucket = Bucket::new().await;
    let app = spawn_app_with(options(&bucket)).await;
    let (org, channel) = shop(&app, None).await;
    let invoice = binary_file(&format!("INVOICE-{}", unique_suffix()));
    let mail = text_mail(
        "Zora Quill <zora@customer.test>",
        &format!("inv-{}@customer.test", unique_suffix()),
        "My invoice",
        "Attached.",
    )
    .attachment("application/pdf", "invoice.pdf", &invoice);
    let (id, _) = app.ingest(arriving(org, Some(channel)), mail).await;
    assert_eq!(bucket.objects().await.len(), 1);
    let customer = app.customer_of(id).await;

    // Act
    app.erase(org, customer).await;

    // Assert
    assert!(bucket.objects().await.is_empty(), "the object is deleted");
}

#[tokio::test]
async fn the_orphan_sweep_deletes_an_old_unreferenced_object_and_keeps_a_fresh_or_referenced_one() {
    // Arrange: a referenced object, an orphan, and (seconds later) a fresh orphan.
    let bucket = Bucket::new().await;
    let app = spawn_app_with(options(&bucket)).await;
    let (org, channel) = shop(&app, None).await;
    let mail = text_mail(
        "Anna Berg <anna@customer.test>",
        &format!("ref-{}@customer.test", unique_suffix()),
        "Receipt",
        "Attached.",
    )
    .attachment("application/pdf", "receipt.pdf", &binary_file("receipt"));
    app.ingest(arriving(org, Some(channel)), mail).await;
    let blobs = app.state.blobs.clone();
    let orphan = tokio::task::spawn_blocking(move || blobs.put(b"left by a crash").unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let blobs = app.state.blobs.clone();
    let fresh = tokio::task::spawn_blocking(move || blobs.put(b"about to be referenced").unwrap())
        .await
        .unwrap();
    assert_eq!(bucket.objects().await.len(), 3);
    // An equal file is not uploaded again while its object is young (a new upload would be
    // sealed afresh: other bytes).
    let body = |objects: Vec<(String, Vec<u8>)>| {
        objects
            .into_iter()
            .find(|(key, _)| key.ends_with(&fresh))
            .map(|(_, body)| body)
    };
    let before = body(bucket.objects().await);
    let blobs = app.state.blobs.clone();
    let again = tokio::task::spawn_blocking(move || blobs.put(b"about to be referenced").unwrap())
        .await
        .unwrap();
    assert_eq!(again, fresh);
    assert_eq!(body(bucket.objects().await), before, "stored once");

    // Act: a sweep that takes objects older than two seconds.
    let swept = lethe::retention::sweep::sweep(&app.state, Duration::from_secs(2))
        .await
        .unwrap();

    // Assert
    assert_eq!(swept.orphan_files, 1);
    let keys: Vec<String> = bucket.objects().await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.ends_with(&orphan)),
        "the orphan is gone"
    );
    assert!(
        keys.iter().any(|k| k.ends_with(&fresh)),
        "the fresh file stays"
    );
}

#[tokio::test]
async fn a_blob_url_that_cannot_be_used_stops_start_up_naming_the_setting() {
    // A malformed URL is refused by the configuration.
    let bucket = Bucket::new().await;
    for bad in [
        "s3:/no-bucket",
        "https://bucket/prefix",
        "s3://u:p@bucket/x",
    ] {
        let mut env: std::collections::BTreeMap<String, String> =
            bucket.env().into_iter().collect();
        env.insert("LETHE_BLOB_URL".into(), bad.into());
        let error = lethe::config::Config::from_sources(None, &env).unwrap_err();
        assert!(
            error.to_string().starts_with("LETHE_BLOB_URL:"),
            "{bad}: {error}"
        );
    }

    // A bucket that does not exist, or credentials it refuses: `lethe serve` stops, names
    // the setting, and does not panic.
    let tmp = tempfile::tempdir().unwrap();
    for (name, value) in [
        (
            "LETHE_BLOB_URL",
            format!("s3://missing-{}/files", unique_suffix()),
        ),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()),
    ] {
        let data_dir = tmp.path().join(unique_suffix());
        let mut command = lethe_command(&data_dir, None);
        command.arg("serve").env("LETHE_LISTEN", "127.0.0.1:0");
        for (key, default) in bucket.env() {
            command.env(&key, if key == name { value.clone() } else { default });
        }
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::task::spawn_blocking(move || command.output().unwrap()),
        )
        .await
        .expect("start-up stops in time")
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}: {stderr}");
        assert!(stderr.contains("LETHE_BLOB_URL"), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn a_file_larger_than_a_part_is_uploaded_in_parts_and_reads_back_whole() {
    // Arrange
    let bucket = Bucket::new().await;
    let app = spawn_app_with(options(&bucket)).await;
    let content: Vec<u8> = (0..lethe::mail::blobs::s3::PART as u32 + 1_500_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let expected = content.clone();
    let blobs = app.state.blobs.clone();

    // Act
    let read_back = tokio::task::spawn_blocking(move || {
        let id = blobs.put(&content).unwrap();
        (blobs.get(&id).unwrap(), blobs.verify(&id).unwrap())
    })
    .await
    .unwrap();

    // Assert
    assert_eq!(read_back.1, expected.len() as u64);
    assert!(read_back.0 == expected, "read back byte for byte");
    let objects = bucket.objects().await;
    assert_eq!(objects.len(), 1);
    assert!(
        objects[0].1.len() > lethe::mail::blobs::s3::PART,
        "one object of several parts"
    );
}
