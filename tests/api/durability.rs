//! DESIGN.md invariant 2 with the real binary: a reply queued while the SMTP server is down
//! survives a `kill -9` of `lethe serve` and is delivered, once, after the restart.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::{
    PASSWORD, browser_client, csrf_of, fresh_database_url, location, test_tmp_root,
};
use crate::smtp::{SmtpRecorder, free_port};

struct Server {
    child: Child,
    base: String,
}

fn lethe(data_dir: &std::path::Path, database_url: &Option<String>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lethe"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LETHE_DATA_DIR", data_dir);
    if let Some(url) = database_url {
        command.env("LETHE_DATABASE_URL", url);
    }
    command
}

async fn start(data_dir: &std::path::Path, database_url: &Option<String>) -> Server {
    let port = free_port();
    let mut child = lethe(data_dir, database_url)
        .arg("serve")
        .env("LETHE_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return Server { child, base };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("lethe serve did not become ready");
}

async fn form(
    client: &reqwest::Client,
    base: &str,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let html = client
        .get(format!("{base}{page}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&html);
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    client
        .post(format!("{base}{action}"))
        .form(&all)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_queued_reply_survives_kill_9_and_is_delivered_once_after_restart() {
    let tmp = tempfile::Builder::new()
        .prefix("lethe-kill-")
        .tempdir_in(test_tmp_root())
        .unwrap();
    let data_dir = tmp.path().join("data");
    let database_url = fresh_database_url().await;
    let mut create = lethe(&data_dir, &database_url)
        .args([
            "user",
            "create",
            "--email",
            "owner@shop.test",
            "--password-stdin",
            "--org",
            "Shop",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    create
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(create.wait().unwrap().success());

    let mut smtp = SmtpRecorder::start().await;
    smtp.stop();
    let mut server = start(&data_dir, &database_url).await;
    let base = server.base.clone();
    let client = browser_client();
    form(
        &client,
        &base,
        "/login",
        "/login",
        &[("email", "owner@shop.test"), ("password", PASSWORD)],
    )
    .await;
    let port = smtp.port.to_string();
    let created = form(
        &client,
        &base,
        "/settings/channels/new",
        "/settings/channels",
        &[
            ("name", "Support"),
            ("from_name", "Shop Support"),
            ("from_address", "support@shop.test"),
            ("imap_host", ""),
            ("imap_port", "993"),
            ("imap_tls", "tls"),
            ("imap_user", ""),
            ("imap_password", ""),
            ("imap_folder", "INBOX"),
            ("after_fetch", "seen"),
            ("imap_move_to", ""),
            ("poll_seconds", "60"),
            ("smtp_host", "127.0.0.1"),
            ("smtp_port", &port),
            ("smtp_tls", "none"),
            ("smtp_user", ""),
            ("smtp_password", ""),
        ],
    )
    .await;
    assert_eq!(created.status(), 303, "{}", created.text().await.unwrap());
    let channels = client
        .get(format!("{base}/settings/channels"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = regex::Regex::new(r"/inbound/email/([A-Za-z0-9_-]{43})")
        .unwrap()
        .captures(&channels)
        .expect("inbound URL on the channel page")[1]
        .to_owned();

    let customer_mail = "From: Jana Novak <jana@kunde.test>\r\nTo: support@shop.test\r\nSubject: Paket fehlt\r\nMessage-ID: <jana-1@kunde.test>\r\n\r\nMein Paket ist nicht angekommen.\r\n";
    let stored: serde_json::Value = client
        .post(format!("{base}/inbound/email/{token}"))
        .body(customer_mail)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conversation = stored["conversation_id"].as_i64().unwrap();
    let page = format!("/conversations/{conversation}");
    let reply = form(
        &client,
        &base,
        &page,
        &format!("{page}/reply"),
        &[("text", "Ihr Paket ist unterwegs."), ("then", "")],
    )
    .await;
    assert_eq!(reply.status(), 303);
    assert!(location(&reply).contains("flash="), "the page says queued");

    // The server dies at once; the SMTP server was down anyway.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    smtp.resume().await;
    let mut restarted = start(&data_dir, &database_url).await;

    // The first attempt failed before the kill, so the retry comes after its backoff (30 s).
    let mut delivered = Vec::new();
    for _ in 0..90 {
        delivered = smtp.messages();
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        delivered.len(),
        1,
        "the reply was delivered after the restart"
    );
    let mail = &delivered[0];
    assert!(mail.contains("Ihr Paket ist unterwegs."));
    assert!(mail.contains("In-Reply-To: <jana-1@kunde.test>"), "{mail}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.messages().len(), 1, "delivered once");
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}
