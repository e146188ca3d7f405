//! Three real `lethe serve` processes behind a real HAProxy (issue 18, "Several nodes"), set
//! up as the README shows: the built binary, each process with its own data directory and
//! port, one PostgreSQL database, one instance key (`LETHE_SECRET_KEY`) and one bucket on the
//! suite's S3-compatible server for the attachments (`LETHE_BLOB_URL`); HAProxy on a
//! loopback port of its own, round robin, checking `/readyz` every second. PostgreSQL only:
//! on SQLite (one node) the tests return at once.
//!
//! An in-process app without workers makes the database and arranges the data; every
//! request and every job of the tests runs in the three processes. They show that mail
//! fetched over IMAP by the node holding the channel's lease shows on every node; that a
//! reply whose sending node is killed (`kill -9`) mid-send reaches the SMTP server once;
//! that a retention run due on three nodes runs once, and one whose node dies mid-run is
//! finished by another with nothing half done; and that search finds a new message on each
//! node.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use lethe::cluster::lease;
use lethe::db::entity::{conversation, message, outbox, retention_run, retention_setting};
use lethe::orgs::OrgId;
use lethe::retention::{self, Action, Category};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::blobs_s3::Bucket;
use crate::helpers::{
    AppOptions, TestApp, arriving, browser_client, lethe_command, mail, post_form_with,
    spawn_app_with, test_tmp_root, text_of, unique_suffix,
};
use crate::search::conversation_links;
use crate::smtp::{SmtpRecorder, free_port};

/// Several nodes need PostgreSQL.
fn on_postgres() -> bool {
    std::env::var("LETHE_TEST_DATABASE").as_deref() == Ok("postgres")
}

/// Polls `check` every 100 ms until it gives a value; panics naming `what` after `seconds`.
async fn eventually<T, F, Fut>(what: &str, seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {seconds} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the nodes share besides the database: the instance key and the attachments' bucket
/// (on the suite's S3 server).
struct Shared {
    key: String,
    bucket: Bucket,
}

/// The database, instance key and bucket the nodes share, made by an in-process app that runs
/// no jobs (the test arranges data and reads the database through it), with an owner of "Shop".
async fn shared_database() -> (TestApp, OrgId, Shared) {
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let bucket = Bucket::new().await;
    let mut extra_env = bucket.env();
    extra_env.push(("LETHE_SECRET_KEY".into(), key.clone()));
    let control = spawn_app_with(AppOptions {
        extra_env,
        ..Default::default()
    })
    .await;
    control
        .create_user("owner@shop.test", "Shop", "owner")
        .await;
    let org = control.org_id("Shop").await;
    (control, org, Shared { key, bucket })
}

/// One `lethe serve` process.
struct Node {
    /// HAProxy's name for it (`n1`…), sent back in `X-Lethe-Node`.
    name: String,
    address: String,
    /// The node id it logged at start (`node id of this process`), as leases and claims
    /// name it.
    id: String,
    child: Child,
    log: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Node {
    fn start(
        name: &str,
        control: &TestApp,
        shared: &Shared,
        base_url: &str,
        env: &[(&str, &str)],
    ) -> Node {
        let tmp = tempfile::Builder::new()
            .prefix("lethe-cluster-")
            .tempdir_in(test_tmp_root())
            .expect("temp dir");
        let log = tmp.path().join("lethe.log");
        let port = free_port();
        let mut command = lethe_command(&tmp.path().join("data"), control.database_url.as_deref());
        command
            .arg("serve")
            .env("LETHE_LISTEN", format!("127.0.0.1:{port}"))
            .env("LETHE_SECRET_KEY", &shared.key)
            .envs(shared.bucket.env())
            .env("LETHE_BASE_URL", base_url)
            .env("LETHE_TRUSTED_PROXIES", "127.0.0.1/32")
            .env("LETHE_UNDO_SEND_SECONDS", "0")
            // Three nodes and the other tests share the suite's PostgreSQL (100 connections).
            .env("LETHE_DATABASE_MAX_CONNECTIONS", "8");
        // scripts/test.sh ends whatever carries its run id, should a test not.
        if let Ok(run) = std::env::var("LETHE_TEST_RUN_ID") {
            command.env("LETHE_TEST_RUN_ID", run);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let file = std::fs::File::create(&log).expect("log file");
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        let child = command.spawn().expect("the lethe binary starts");
        Node {
            name: name.to_owned(),
            address: format!("http://127.0.0.1:{port}"),
            id: String::new(),
            child,
            log,
            _tmp: tmp,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Waits for `/readyz` to answer 200, and reads the node id from the log.
    async fn ready(&mut self) {
        let client = browser_client();
        let url = self.url("/readyz");
        let log = self.log.clone();
        let name = self.name.clone();
        eventually(&format!("node {name} ready"), 90, || {
            let request = client.get(&url).send();
            async move { request.await.ok().filter(|r| r.status() == 200) }
        })
        .await;
        let re = regex::Regex::new(r"node id of this process.*?(node-[0-9a-f]{12})").unwrap();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        self.id = re
            .captures(&text)
            .map(|c| c[1].to_owned())
            .unwrap_or_else(|| panic!("node {name} logged no node id: {text}"));
    }

    /// `kill -9`.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// HAProxy in front of the nodes: round robin, a health check on `/readyz` every second (two
/// failures take a node out, one success puts it back), a refused connection retried on
/// another node, and the answering node's name in `X-Lethe-Node`.
fn haproxy_config(port: u16, nodes: &[Node]) -> String {
    let servers: String = nodes
        .iter()
        .map(|node| {
            let address = node.address.trim_start_matches("http://");
            format!("    server {} {address} check\n", node.name)
        })
        .collect();
    format!(
        "global\n    maxconn 512\n\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    \
         timeout server 60s\n    retries 2\n    option redispatch\n\n\
         frontend lethe\n    bind 127.0.0.1:{port}\n    option forwardfor\n    \
         default_backend nodes\n\n\
         backend nodes\n    balance roundrobin\n    option httpchk GET /readyz\n    \
         http-check expect status 200\n    default-server inter 1s fall 2 rise 1\n    \
         http-response set-header X-Lethe-Node %[srv_name]\n{servers}"
    )
}

struct Haproxy {
    address: String,
    child: Child,
    _tmp: tempfile::TempDir,
}

impl Haproxy {
    fn start(port: u16, nodes: &[Node]) -> Haproxy {
        let tmp = tempfile::Builder::new()
            .prefix("haproxy-")
            .tempdir_in(test_tmp_root())
            .expect("temp dir");
        let config = tmp.path().join("haproxy.cfg");
        std::fs::write(&config, haproxy_config(port, nodes)).expect("config");
        let binary = if std::path::Path::new("/usr/sbin/haproxy").exists() {
            "/usr/sbin/haproxy"
        } else {
            "haproxy"
        };
        let log = std::fs::File::create(tmp.path().join("haproxy.log")).expect("log");
        let mut command = std::process::Command::new(binary);
        // -db: in the foreground, as the test's child.
        command
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        if let Ok(run) = std::env::var("LETHE_TEST_RUN_ID") {
            command.env("LETHE_TEST_RUN_ID", run);
        }
        let child = command
            .spawn()
            .expect("haproxy is installed by scripts/test.sh");
        Haproxy {
            address: format!("http://127.0.0.1:{port}"),
            child,
            _tmp: tmp,
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three nodes and HAProxy, with a browser that goes through HAProxy.
struct Cluster {
    nodes: Vec<Node>,
    haproxy: Haproxy,
    client: reqwest::Client,
}

impl Cluster {
    /// Starts three nodes on `control`'s database, node `i` with `env[i]` besides the shared
    /// settings, then HAProxy once every node is ready.
    async fn start(control: &TestApp, shared: &Shared, env: [&[(&str, &str)]; 3]) -> Cluster {
        let port = free_port();
        let base_url = format!("http://127.0.0.1:{port}");
        let mut nodes: Vec<Node> = env
            .iter()
            .enumerate()
            .map(|(i, env)| Node::start(&format!("n{}", i + 1), control, shared, &base_url, env))
            .collect();
        for node in &mut nodes {
            node.ready().await;
        }
        let ids: BTreeSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids.len(), 3, "each process is a node of its own");
        let haproxy = Haproxy::start(port, &nodes);
        let cluster = Cluster {
            nodes,
            haproxy,
            client: browser_client(),
        };
        // Every node answers through HAProxy.
        let mut seen = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen.len() < 3 {
            match cluster.get("/readyz").await {
                Ok((name, 200, _)) => {
                    seen.insert(name);
                    continue;
                }
                answer => assert!(
                    Instant::now() < deadline,
                    "through HAProxy only {seen:?}, then {answer:?}; HAProxy's log: {}",
                    std::fs::read_to_string(cluster.haproxy._tmp.path().join("haproxy.log"))
                        .unwrap_or_default()
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cluster
    }

    /// `path` through HAProxy: (the answering node's name, status, body).
    async fn get(&self, path: &str) -> Result<(String, u16, String), reqwest::Error> {
        let response = self
            .client
            .get(format!("{}{path}", self.haproxy.address))
            .send()
            .await?;
        let name = response
            .headers()
            .get("x-lethe-node")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let status = response.status().as_u16();
        Ok((name, status, response.text().await?))
    }

    /// Signs the owner of "Shop" in through HAProxy (the session is in the database, so the
    /// cookie serves on every node).
    async fn sign_in(&self) {
        let response = post_form_with(
            &self.client,
            &self.haproxy.address,
            "/login",
            "/login",
            &[
                ("email", "owner@shop.test"),
                ("password", crate::helpers::PASSWORD),
            ],
        )
        .await;
        assert_eq!(response.status(), 303, "signed in through HAProxy");
    }

    /// The node whose id is `id` (a lease holder or claimer names it first).
    fn node_named_by(&mut self, id: &str) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| id.starts_with(n.id.as_str()))
            .unwrap_or_else(|| panic!("{id} is none of the three nodes"))
    }

    /// The conversation ids a search for `q` lists on `node` (asking it directly).
    async fn search_on(&self, node: usize, q: &str) -> Vec<i64> {
        let url = self.nodes[node].url(&format!("/search?q={q}"));
        conversation_links(&text_of(self.client.get(url)).await)
    }
}

/// The node id holding IMAP channel `channel`'s lease now, if any.
async fn imap_holder(control: &TestApp, channel: i64) -> Option<String> {
    lease::holder(&control.state.db, &format!("imap:{channel}"), Utc::now())
        .await
        .unwrap()
}

/// The conversation of `org` with `subject`, if one was stored.
async fn conversation_titled(control: &TestApp, org: OrgId, subject: &str) -> Option<i64> {
    conversation::Entity::find()
        .filter(conversation::Column::OrganizationId.eq(org.get()))
        .filter(conversation::Column::Subject.eq(subject))
        .one(&control.state.db)
        .await
        .unwrap()
        .map(|c| c.id)
}

async fn messages_of(control: &TestApp, org: OrgId) -> Vec<message::Model> {
    message::Entity::find()
        .filter(message::Column::OrganizationId.eq(org.get()))
        .all(&control.state.db)
        .await
        .unwrap()
}

async fn runs_of(control: &TestApp, org: OrgId) -> Vec<retention_run::Model> {
    retention_run::Entity::find()
        .filter(retention_run::Column::OrganizationId.eq(org.get()))
        .order_by_asc(retention_run::Column::Id)
        .all(&control.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn mail_fetched_over_imap_by_the_node_holding_the_lease_shows_in_every_nodes_inbox() {
    if !on_postgres() {
        return; // SQLite is one node.
    }
    // Arrange: a channel fetching from a Dovecot mailbox; three nodes polling
    let (control, org, shared) = shared_database().await;
    let user = crate::imap::mailbox_user();
    let channel = crate::imap::imap_channel(&control, org, crate::imap::settings(&user)).await;
    let cluster = Cluster::start(&control, &shared, [&[], &[], &[]]).await;
    cluster.sign_in().await;
    let subject = format!("Parcel {}", unique_suffix());

    // Act: the customer's mail lands in the mailbox
    let raw = crate::imap::mail(&format!("imap-{}", unique_suffix()), &subject);
    crate::imap::append(&user, "INBOX", &raw).await;

    // Assert: stored once, by the node holding the channel's lease, and marked seen
    let id = eventually("the mail fetched", 40, || {
        conversation_titled(&control, org, &subject)
    })
    .await;
    assert_eq!(messages_of(&control, org).await.len(), 1);
    let holder = imap_holder(&control, channel.id)
        .await
        .expect("one node holds the channel");
    let holders = cluster
        .nodes
        .iter()
        .filter(|n| holder.starts_with(n.id.as_str()))
        .count();
    assert_eq!(holders, 1, "{holder}");
    let seen = eventually("the mail marked seen", 10, || {
        let user = user.clone();
        async move {
            let state = crate::imap::folder_state(&user, "INBOX").await;
            state.iter().all(|(_, seen)| *seen).then_some(state)
        }
    })
    .await;
    assert_eq!(seen.len(), 1);

    // Assert: the inbox through HAProxy, whichever node answers, and on each node directly
    let mut answered = BTreeSet::new();
    for _ in 0..6 {
        let (name, status, html) = cluster.get("/inbox").await.unwrap();
        assert_eq!(status, 200);
        assert!(html.contains(&subject), "node {name}'s inbox lacks it");
        assert!(html.contains(&format!("/conversations/{id}")));
        answered.insert(name);
    }
    assert_eq!(answered.len(), 3, "round robin reached {answered:?}");
    for node in &cluster.nodes {
        let html = text_of(cluster.client.get(node.url("/inbox"))).await;
        assert!(html.contains(&subject), "node {} directly", node.name);
    }

    // Act: the node holding the channel dies (kill -9); another mail arrives
    let mut cluster = cluster;
    let killed = cluster.node_named_by(&holder);
    killed.kill();
    let killed_id = killed.id.clone();
    let killed_at = Instant::now();
    let second = format!("Parcel {}", unique_suffix());
    let raw = crate::imap::mail(&format!("imap-{}", unique_suffix()), &second);
    crate::imap::append(&user, "INBOX", &raw).await;

    // Assert: another node takes the channel over and fetches it (how soon is measured by
    // benches/nodes.sh, not asserted here: the lease's 25 s, then the next try)
    eventually("the second mail fetched", 90, || {
        conversation_titled(&control, org, &second)
    })
    .await;
    let taken_over = killed_at.elapsed();
    let holder = imap_holder(&control, channel.id)
        .await
        .expect("a living node holds the channel");
    assert!(!holder.starts_with(&killed_id));
    assert_eq!(messages_of(&control, org).await.len(), 2);
    eprintln!("IMAP channel taken over, mail fetched {taken_over:?} after the kill");
}

#[tokio::test]
async fn a_reply_whose_sending_node_is_killed_mid_send_reaches_the_smtp_server_once() {
    if !on_postgres() {
        return; // SQLite is one node.
    }
    // Arrange: an SMTP server that holds the first DATA command (before it answers 354), a
    // customer's question, three nodes sending the outbox
    let smtp = SmtpRecorder::start_with(&["--stall-first-data".into(), "120".into()]).await;
    let (control, org, shared) = shared_database().await;
    let (channel, _) = control
        .email_channel(org, "Support", "support@shop.test", Some(smtp.port))
        .await;
    let id = crate::nodes::question(&control, org, channel, 1).await;
    let mut cluster = Cluster::start(&control, &shared, [&[], &[], &[]]).await;
    cluster.sign_in().await;

    // Act: the reply goes in through HAProxy; the node sending it is killed mid-send
    let page = format!("/conversations/{id}");
    let answer = post_form_with(
        &cluster.client,
        &cluster.haproxy.address,
        &page,
        &format!("{page}/reply"),
        &[("text", "Your parcel is on its way")],
    )
    .await;
    assert_eq!(answer.status(), 303);
    let stalled = smtp.dir.join("stalled");
    eventually("a node in the SMTP conversation", 30, || {
        let stalled = stalled.exists();
        async move { stalled.then_some(()) }
    })
    .await;
    let row = outbox::Entity::find()
        .one(&control.state.db)
        .await
        .unwrap()
        .expect("the reply is in the outbox");
    let sender = row.claimed_by.expect("claimed by the node sending it");
    let killed = cluster.node_named_by(&sender);
    killed.kill();
    let killed_name = killed.name.clone();
    let killed_at = Instant::now();

    // Assert: HAProxy routes around the dead node
    for _ in 0..6 {
        let (name, status, _) = cluster.get("/inbox").await.unwrap();
        assert_eq!(status, 200);
        assert_ne!(name, killed_name);
    }

    // Assert: another node sends it once its claim has run out, and nobody sends it again
    let received = eventually("the reply at the SMTP server", 90, || {
        let messages = smtp.messages();
        async move { (!messages.is_empty()).then_some(messages) }
    })
    .await;
    let taken_over = killed_at.elapsed();
    eventually("the outbox empty", 30, || async {
        (control.count::<outbox::Entity>().await == 0).then_some(())
    })
    .await;
    // Two more passes of every sender (they look every 5 s).
    tokio::time::sleep(Duration::from_secs(11)).await;
    let received_later = smtp.messages();
    assert_eq!(
        received_later.len(),
        1,
        "sent {} times",
        received_later.len()
    );
    assert_eq!(received_later, received);
    assert!(received[0].contains("Your parcel is on its way"));
    let reply = messages_of(&control, org)
        .await
        .into_iter()
        .find(|m| m.direction == "outbound")
        .expect("the reply is stored");
    let message_id = reply.message_id_header.trim_matches(['<', '>']);
    assert!(received[0].contains(message_id), "the stored Message-ID");
    assert!(
        taken_over <= lethe::mail::outbound::CLAIM.to_std().unwrap() + Duration::from_secs(20),
        "taken over after {taken_over:?}"
    );
    eprintln!("reply taken over {taken_over:?} after the kill");
}

/// Conversations of `org` closed 400 days ago, one from each of `count` customers, with
/// `word` in each body; their ids.
async fn due_conversations(control: &TestApp, org: OrgId, count: usize, word: &str) -> Vec<i64> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        // Each with a file of its own, which lands in the shared bucket.
        let invoice = format!("%PDF-1.4 invoice {i} {word}").into_bytes();
        let raw = mail(
            &format!("Customer {i} <c{i}@old.test>"),
            &format!("old-{i}.{}@old.test", unique_suffix()),
            &format!("Old order {i}"),
            &format!("about {word} number {i}"),
        )
        .attachment("application/pdf", &format!("invoice-{i}.pdf"), &invoice);
        let (id, _) = control.ingest(arriving(org, None), raw).await;
        control.close_days_ago(id, 400).await;
        ids.push(id);
    }
    ids
}

/// A recent conversation of `org` with `word` in its body, which retention keeps.
async fn kept_conversation(control: &TestApp, org: OrgId, word: &str) -> i64 {
    let raw = mail(
        "Recent Customer <recent@new.test>",
        &format!("new.{}@new.test", unique_suffix()),
        "Recent order",
        &format!("about {word}"),
    );
    control.ingest(arriving(org, None), raw).await.0
}

#[tokio::test]
async fn a_retention_run_due_on_three_nodes_runs_once() {
    if !on_postgres() {
        return; // SQLite is one node.
    }
    // Arrange: due conversations, a rule, and a scheduled time that passed
    let (control, org, shared) = shared_database().await;
    let word = format!("quince{}", unique_suffix());
    let due = due_conversations(&control, org, 30, &word).await;
    let kept = kept_conversation(&control, org, "kept").await;
    control
        .save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    retention::ensure_settings(&control.state.db, org)
        .await
        .unwrap();
    retention_setting::Entity::update_many()
        .col_expr(
            retention_setting::Column::ScheduleCheckedAt,
            Expr::val(Utc::now() - chrono::Duration::days(2)),
        )
        .filter(retention_setting::Column::OrganizationId.eq(org.get()))
        .exec(&control.state.db)
        .await
        .unwrap();

    // Act: three nodes tick at start and every 2 s after
    let every_2s: &[(&str, &str)] = &[("LETHE_SCHEDULE_RETENTION", "*/2 * * * * *")];
    let cluster = Cluster::start(&control, &shared, [every_2s, every_2s, every_2s]).await;
    eventually("a finished run", 60, || async {
        runs_of(&control, org)
            .await
            .iter()
            .any(|r| r.finished_at.is_some())
            .then_some(())
    })
    .await;
    // Three more ticks on each node.
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Assert: one run, which deleted every due conversation once
    let runs = runs_of(&control, org).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].trigger, "schedule");
    assert_eq!(runs[0].error, None);
    let counts: serde_json::Value = serde_json::from_str(&runs[0].counts).unwrap();
    assert_eq!(counts["closed_conversations"]["conversations"], due.len());
    for id in &due {
        assert!(control.find_conversation(*id).await.is_none());
    }
    assert!(control.find_conversation(kept).await.is_some());
    assert!(!retention::lock::is_held(&control.state, org).await);
    assert!(
        shared.bucket.objects().await.is_empty(),
        "the due conversations' files left the shared bucket"
    );
    cluster.sign_in().await;
    for node in 0..3 {
        let gone = eventually("the index purged on every node", 20, || {
            let search = cluster.search_on(node, &word);
            async move { search.await.is_empty().then_some(()) }
        });
        gone.await;
    }
}

// The crash hook exists only in builds with the `test-hooks` feature (scripts/test.sh).
#[cfg(feature = "test-hooks")]
#[tokio::test]
async fn a_node_dying_during_a_retention_run_leaves_it_to_another_that_finishes_it() {
    if !on_postgres() {
        return; // SQLite is one node.
    }
    // Arrange: more due conversations than one batch; node 1 dies right after its first
    // batch commits (`LETHE_TEST_RETENTION_CRASH_AFTER_BATCHES`: abort(), as abrupt as kill -9,
    // at the worst moment); every node ticks every 2 s
    let (control, org, shared) = shared_database().await;
    let word = format!("medlar{}", unique_suffix());
    let count = retention::run::BATCH + 40;
    let due = due_conversations(&control, org, count, &word).await;
    let kept = kept_conversation(&control, org, &word).await;
    assert_eq!(
        shared.bucket.objects().await.len(),
        count,
        "one file per due conversation"
    );
    control
        .save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    retention::ensure_settings(&control.state.db, org)
        .await
        .unwrap();
    let tick: (&str, &str) = ("LETHE_SCHEDULE_RETENTION", "*/2 * * * * *");
    let crashing: &[(&str, &str)] = &[tick, ("LETHE_TEST_RETENTION_CRASH_AFTER_BATCHES", "1")];
    let mut cluster = Cluster::start(&control, &shared, [crashing, &[tick], &[tick]]).await;
    cluster.sign_in().await;

    // Act: the owner starts a run on node 1 (directly, as HAProxy might have sent them)
    let node1 = cluster.nodes[0].address.clone();
    let started = post_form_with(
        &cluster.client,
        &node1,
        "/settings/retention",
        "/settings/retention/run",
        &[],
    )
    .await;
    assert_eq!(started.status(), 303);
    let status = eventually("node 1 dead", 60, || {
        let status = cluster.nodes[0].child.try_wait().unwrap();
        async move { status }
    })
    .await;
    let died_at = Instant::now();

    // Assert: it died mid-run, one batch done
    assert!(!status.success(), "{status:?}");
    let left = control.count::<conversation::Entity>().await as usize;
    assert_eq!(left, count + 1 - retention::run::BATCH);
    let runs = runs_of(&control, org).await;
    assert_eq!(runs.len(), 1);
    assert!(runs[0].finished_at.is_none());

    // Assert: another node resumes it once the dead node's lease ran out, and finishes it
    let runs = eventually("the run resumed and finished", 90, || async {
        let runs = runs_of(&control, org).await;
        (runs.len() == 2 && runs.iter().all(|r| r.finished_at.is_some())).then_some(runs)
    })
    .await;
    let taken_over = died_at.elapsed();
    assert_eq!(runs[0].error.as_deref(), Some(retention::run::INTERRUPTED));
    assert_eq!(runs[1].trigger, "resume");
    assert_eq!(runs[1].error, None);
    let counts: serde_json::Value = serde_json::from_str(&runs[1].counts).unwrap();
    assert_eq!(
        counts["closed_conversations"]["conversations"],
        count - retention::run::BATCH,
        "the resumed run did what the first left, no more"
    );
    for id in &due {
        assert!(control.find_conversation(*id).await.is_none());
    }
    let messages = messages_of(&control, org).await;
    assert_eq!(messages.len(), 1, "no message outlives its conversation");
    assert_eq!(messages[0].conversation_id, kept);
    assert!(!retention::lock::is_held(&control.state, org).await);
    // Each living node's index holds the kept conversation only.
    for node in 1..3 {
        let hits = eventually("the index purged", 20, || {
            let search = cluster.search_on(node, &word);
            async move {
                let hits = search.await;
                (hits.len() <= 1).then_some(hits)
            }
        })
        .await;
        assert_eq!(hits, vec![kept], "node {}", node + 1);
    }
    // The files: the resumed run removed its own; the dead node's batch had committed but not
    // yet removed its files (the worst moment), so those objects wait, referenced by no row,
    // for the orphan sweep — which removes them (here without its hour of grace).
    assert_eq!(
        shared.bucket.objects().await.len(),
        retention::run::BATCH,
        "only the dead node's batch's files are left"
    );
    let swept = retention::sweep::sweep(&control.state, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(swept.orphan_files, retention::run::BATCH as u64);
    assert!(shared.bucket.objects().await.is_empty());
    // Later ticks do nothing more.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(runs_of(&control, org).await.len(), 2);
    eprintln!("retention run resumed and finished {taken_over:?} after the crash");
}

#[tokio::test]
async fn a_new_message_is_found_by_search_on_every_node() {
    if !on_postgres() {
        return; // SQLite is one node.
    }
    // Arrange
    let (control, org, shared) = shared_database().await;
    let (_, token) = control
        .email_channel(org, "Support", "support@shop.test", None)
        .await;
    let cluster = Cluster::start(&control, &shared, [&[], &[], &[]]).await;
    cluster.sign_in().await;
    let word = format!("gooseberry{}", unique_suffix());

    // Act: the mail comes in over HTTP through HAProxy (one node stores it)
    let raw = mail(
        "Customer <c@customer.test>",
        &format!("search.{}@customer.test", unique_suffix()),
        "A question",
        &format!("Is the {word} jam in stock?"),
    );
    let stored = cluster
        .client
        .post(format!("{}/inbound/email/{token}", cluster.haproxy.address))
        .body(raw.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 201);
    let stored_at = Instant::now();
    let id = eventually("stored", 5, || {
        conversation_titled(&control, org, "A question")
    })
    .await;

    // Assert: each node finds it, asked directly
    for node in 0..3 {
        let hits = eventually("found", 10, || {
            let search = cluster.search_on(node, &word);
            async move { Some(search.await).filter(|hits| !hits.is_empty()) }
        })
        .await;
        assert_eq!(hits, vec![id], "node {}", node + 1);
        eprintln!(
            "node {} found it {:?} after it was stored",
            node + 1,
            stored_at.elapsed()
        );
    }
}
