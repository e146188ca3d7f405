//! DESIGN.md invariant 2 with the real binary: a reply queued while the SMTP server is down
//! survives a `kill -9` of `lethe serve` and is delivered, once, after the restart.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::helpers::{
    PASSWORD, browser_client, channel_form, fresh_database_url, json_of, lethe_command, location,
    post_form_with, spawn_with_input, test_tmp_root, text_of,
};
use crate::smtp::{SmtpRecorder, free_port};

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

pub(crate) async fn start(data_dir: &std::path::Path, database_url: &Option<String>) -> Server {
    let port = free_port();
    let mut child = lethe_command(data_dir, database_url.as_deref())
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

#[tokio::test]
async fn a_queued_reply_survives_kill_9_and_is_delivered_once_after_restart() {
    let tmp = tempfile::Builder::new()
        .prefix("lethe-kill-")
        .tempdir_in(test_tmp_root())
        .unwrap();
    let data_dir = tmp.path().join("data");
    let database_url = fresh_database_url().await;
    let mut command = lethe_command(&data_dir, database_url.as_deref());
    command
        .args([
            "user",
            "create",
            "--email",
            "owner@shop.test",
            "--password-stdin",
            "--org",
            "Shop",
        ])
        .stdout(Stdio::null());
    let mut create = spawn_with_input(&mut command, &format!("{PASSWORD}\n"));
    assert!(create.wait().unwrap().success());

    let mut smtp = SmtpRecorder::start().await;
    smtp.stop();
    let mut server = start(&data_dir, &database_url).await;
    let base = server.base.clone();
    let client = browser_client();
    post_form_with(
        &client,
        &base,
        "/login",
        "/login",
        &[("email", "owner@shop.test"), ("password", PASSWORD)],
    )
    .await;
    let port = smtp.port.to_string();
    let created = post_form_with(
        &client,
        &base,
        "/settings/channels/new",
        "/settings/channels",
        &channel_form(&[
            ("smtp_host", "127.0.0.1"),
            ("smtp_port", &port),
            ("smtp_tls", "none"),
        ]),
    )
    .await;
    assert_eq!(created.status(), 303, "{}", created.text().await.unwrap());
    let channels = text_of(client.get(format!("{base}/settings/channels"))).await;
    let token = regex::Regex::new(r"/inbound/email/([A-Za-z0-9_-]{43})")
        .unwrap()
        .captures(&channels)
        .expect("inbound URL on the channel page")[1]
        .to_owned();

    let customer_mail = "From: Jana Novak <jana@kunde.test>\r\nTo: support@shop.test\r\nSubject: Paket fehlt\r\nMessage-ID: <jana-1@kunde.test>\r\n\r\nMein Paket ist nicht angekommen.\r\n";
    let inbound = client.post(format!("{base}/inbound/email/{token}"));
    let stored = json_of(inbound.body(customer_mail)).await;
    let conversation = stored["conversation_id"].as_i64().unwrap();
    let page = format!("/conversations/{conversation}");
    let reply = post_form_with(
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
