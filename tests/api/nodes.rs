//! Several nodes on one database (issue 18): two servers share the database (each with its
//! own data directory, as on two machines), and work that must happen once happens once —
//! a queued reply reaches the SMTP server once, a webhook event the receiver once, a
//! retention run happens once, and a lease one node holds is refused to the other until it
//! expires. And every node sees every change: live updates reach agents on the other node
//! (PostgreSQL `LISTEN/NOTIFY`), and each node's search index follows the change log.

use chrono::{Duration, Utc};
use lethe::cluster::lease;
use lethe::db::entity::{outbox, retention_run, retention_setting, webhook_delivery};
use lethe::orgs::OrgId;
use lethe::retention::{self, Action, Category};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{
    TestApp, arriving, csrf_of, imported, location, mail, spawn_app, traces, unique_suffix,
};
use crate::smtp::SmtpRecorder;
use crate::webhooks::{Receiver, add_endpoint};

/// An owner of "Shop" with a channel sending through `smtp_port`; signed in on both nodes.
async fn shop_on_two_nodes(smtp_port: Option<u16>) -> (TestApp, TestApp, OrgId, i64) {
    let a = spawn_app().await;
    a.create_user("owner@shop.test", "Shop", "owner").await;
    let org = a.org_id("Shop").await;
    let (channel, _) = a
        .email_channel(org, "Support", "support@shop.test", smtp_port)
        .await;
    let b = a.second_node().await;
    assert_ne!(a.state.leases.node(), b.state.leases.node());
    a.login("owner@shop.test").await;
    b.login("owner@shop.test").await;
    (a, b, org, channel)
}

/// A customer's question arriving on `channel`; returns its conversation.
pub(crate) async fn question(app: &TestApp, org: OrgId, channel: i64, n: usize) -> i64 {
    let raw = mail(
        &format!("Customer {n} <c{n}@customer.test>"),
        &format!("q{n}.{}@customer.test", unique_suffix()),
        &format!("Question {n}"),
        "Where is my parcel?",
    )
    .to("support@shop.test");
    app.ingest(arriving(org, Some(channel)), raw).await.0
}

#[tokio::test]
async fn two_nodes_sending_the_outbox_together_send_each_reply_once() {
    // Arrange: replies queued through both nodes' pages
    let smtp = SmtpRecorder::start().await;
    let (a, b, org, channel) = shop_on_two_nodes(Some(smtp.port)).await;
    let replies = 8;
    for n in 0..replies {
        let id = question(&a, org, channel, n).await;
        let node = if n % 2 == 0 { &a } else { &b };
        let page = format!("/conversations/{id}");
        let text = format!("Answer number {n}");
        let response = node
            .post_form(&page, &format!("{page}/reply"), &[("text", text.as_str())])
            .await;
        assert_eq!(response.status(), 303);
    }
    assert_eq!(a.count::<outbox::Entity>().await, replies as u64);

    // Act: both nodes' senders run at the same moment, then again
    let now = Utc::now();
    let (first, second) = tokio::join!(
        lethe::mail::outbound::run_once(&a.state, now),
        lethe::mail::outbound::run_once(&b.state, now)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    let (again_a, again_b) = tokio::join!(
        lethe::mail::outbound::run_once(&a.state, now),
        lethe::mail::outbound::run_once(&b.state, now)
    );

    // Assert: every reply reached the SMTP server exactly once
    assert_eq!(first.sent + second.sent, replies, "{first:?} {second:?}");
    assert_eq!(again_a.unwrap().sent + again_b.unwrap().sent, 0);
    smtp.wait_for(replies).await;
    let received = smtp.messages();
    assert_eq!(received.len(), replies);
    for n in 0..replies {
        let copies = received
            .iter()
            .filter(|m| m.contains(&format!("Answer number {n}")))
            .count();
        assert_eq!(copies, 1, "reply {n} was sent {copies} times");
    }
    assert_eq!(a.count::<outbox::Entity>().await, 0);
}

#[tokio::test]
async fn a_reply_claimed_by_a_node_that_died_is_sent_by_the_other_once_the_claim_runs_out() {
    // Arrange: node A claimed a reply and died before sending it (its claim stays behind)
    let smtp = SmtpRecorder::start().await;
    let (a, b, org, channel) = shop_on_two_nodes(Some(smtp.port)).await;
    let id = question(&a, org, channel, 1).await;
    let page = format!("/conversations/{id}");
    a.post_form(&page, &format!("{page}/reply"), &[("text", "On its way")])
        .await;
    let now = Utc::now();
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::ClaimedBy,
            Expr::val(a.state.leases.node().to_string()),
        )
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::val(now + lethe::mail::outbound::CLAIM),
        )
        .exec(&a.state.db)
        .await
        .unwrap();

    // Act / Assert: node B leaves it while the claim lasts, and sends it after
    let during = lethe::mail::outbound::run_once(&b.state, now)
        .await
        .unwrap();
    assert_eq!(during.sent, 0);
    let after = now + lethe::mail::outbound::CLAIM + Duration::seconds(1);
    let later = lethe::mail::outbound::run_once(&b.state, after)
        .await
        .unwrap();
    assert_eq!(later.sent, 1);
    assert_eq!(smtp.wait_for(1).await.len(), 1);
}

#[tokio::test]
async fn two_nodes_running_the_webhook_queue_together_deliver_each_event_once() {
    // Arrange: events queued by changes made on both nodes
    let (a, b, org, _) = shop_on_two_nodes(None).await;
    let receiver = Receiver::start();
    let (_, secret) = add_endpoint(&a, &receiver.url(), &["conversation.created"], false).await;
    receiver.set_secrets(&[&secret]);
    let events = 6;
    for n in 0..events {
        let node = if n % 2 == 0 { &a } else { &b };
        node.receive(
            org,
            mail(
                &format!("Customer {n} <c{n}@customer.test>"),
                &format!("w{n}.{}@customer.test", unique_suffix()),
                &format!("Order {n}"),
                "Late?",
            ),
        )
        .await;
    }
    assert_eq!(a.count::<webhook_delivery::Entity>().await, events as u64);

    // Act
    let now = Utc::now();
    let (first, second) = tokio::join!(
        lethe::webhooks::deliver::run_once(&a.state, now),
        lethe::webhooks::deliver::run_once(&b.state, now)
    );
    let (first, second) = (first.unwrap(), second.unwrap());

    // Assert
    assert_eq!(
        first.delivered + second.delivered,
        events,
        "{first:?} {second:?}"
    );
    let payloads = receiver.verified_payloads();
    assert_eq!(payloads.len(), events);
    let mut ids: Vec<String> = receiver
        .deliveries()
        .iter()
        .map(|d| d["headers"]["webhook-id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events, "each event once");
    let pending = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq("pending"))
        .count(&a.state.db)
        .await
        .unwrap();
    assert_eq!(pending, 0);
}

#[tokio::test]
async fn a_lease_held_by_one_node_is_refused_to_the_other_and_taken_over_when_it_expires() {
    // Arrange
    let a = spawn_app().await;
    let b = a.second_node().await;
    let name = "imap:4711";

    // Act: node A takes it
    let held = a
        .state
        .leases
        .try_take(&a.state.db, name)
        .await
        .unwrap()
        .expect("a free lease is taken");

    // Assert: refused to node B, and to other work on node A, while it lasts
    assert!(
        b.state
            .leases
            .try_take(&b.state.db, name)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        a.state
            .leases
            .try_take(&a.state.db, name)
            .await
            .unwrap()
            .is_none()
    );
    let now = Utc::now();
    let holder = lease::holder(&a.state.db, name, now).await.unwrap();
    assert_eq!(holder.as_deref(), Some(held.holder()));
    assert!(held.holder().starts_with(a.state.leases.node().as_str()));
    assert!(
        b.state
            .leases
            .try_take_at(&b.state.db, name, now + lease::TTL - Duration::seconds(2))
            .await
            .unwrap()
            .is_none(),
        "not before it expires"
    );

    // Act: node A dies (its lease is no longer renewed); its time runs out
    let expired = now + lease::TTL + Duration::seconds(1);
    let taken = b
        .state
        .leases
        .try_take_at(&b.state.db, name, expired)
        .await
        .unwrap()
        .expect("an expired lease is taken over");

    // Assert: node B holds it; node A's late release does not free it
    assert!(taken.holder().starts_with(b.state.leases.node().as_str()));
    held.release().await;
    let holder = lease::holder(&a.state.db, name, Utc::now()).await.unwrap();
    assert_eq!(holder.as_deref(), Some(taken.holder()));
    taken.release().await;
    assert_eq!(
        lease::holder(&a.state.db, name, Utc::now()).await.unwrap(),
        None
    );
    assert!(
        a.state
            .leases
            .try_take(&a.state.db, name)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_retention_run_due_on_both_nodes_at_the_same_moment_runs_once() {
    // Arrange: due data, a rule, and a scheduled time that has passed
    let a = spawn_app().await;
    a.create_user("owner@shop.test", "Shop", "owner").await;
    let org = a.org_id("Shop").await;
    let raw = mail(
        "Old Customer <old@customer.test>",
        &format!("old.{}@customer.test", unique_suffix()),
        "Old order",
        "from long ago",
    )
    .date("Tue, 3 Nov 2020 10:00:00 +0100");
    let (id, _) = a.ingest(imported(org), raw).await;
    a.close_days_ago(id, 400).await;
    a.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    retention::ensure_settings(&a.state.db, org).await.unwrap();
    retention_setting::Entity::update_many()
        .col_expr(
            retention_setting::Column::ScheduleCheckedAt,
            Expr::val(Utc::now() - Duration::days(2)),
        )
        .filter(retention_setting::Column::OrganizationId.eq(org.get()))
        .exec(&a.state.db)
        .await
        .unwrap();
    let b = a.second_node().await;

    // Act: both nodes' scheduler ticks at the same moment, then again
    let (on_a, on_b) = tokio::join!(
        retention::tick::scheduled_tick(&a.state),
        retention::tick::scheduled_tick(&b.state)
    );
    let (again_a, again_b) = tokio::join!(
        retention::tick::scheduled_tick(&a.state),
        retention::tick::scheduled_tick(&b.state)
    );

    // Assert: one run, recorded once, and the data gone
    assert_eq!(on_a.unwrap() + on_b.unwrap(), 1);
    assert_eq!(again_a.unwrap() + again_b.unwrap(), 0);
    let runs = retention_run::Entity::find()
        .filter(retention_run::Column::OrganizationId.eq(org.get()))
        .all(&a.state.db)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].trigger, "schedule");
    assert_eq!(runs[0].error, None);
    assert!(a.find_conversation(id).await.is_none());
    assert!(!retention::lock::is_held(&b.state, org).await);
}

#[tokio::test]
async fn a_retention_run_on_one_node_is_refused_on_the_other() {
    // Arrange
    let a = spawn_app().await;
    a.create_user("owner@shop.test", "Shop", "owner").await;
    let org = a.org_id("Shop").await;
    a.save_rule(org, Category::ClosedConversations, 30, Action::Delete)
        .await;
    let b = a.second_node().await;
    b.login("owner@shop.test").await;

    // Act: node A runs
    let lock = retention::lock::RunLock::acquire(&a.state, org)
        .await
        .unwrap();

    // Assert: node B refuses, on its page and in its runner
    assert!(retention::lock::is_held(&b.state, org).await);
    assert!(matches!(
        retention::run_once(&b.state, org, false).await,
        Err(retention::RetentionError::AlreadyRunning)
    ));
    let busy = b
        .post_form("/settings/retention", "/settings/retention/run", &[])
        .await;
    assert!(crate::helpers::location(&busy).contains("retention_run_busy"));
    lock.release(&a.state).await;
    assert!(retention::run_once(&b.state, org, false).await.is_ok());
}

#[tokio::test]
async fn a_scheduled_job_runs_on_one_node_per_scheduled_time() {
    // Arrange
    let a = spawn_app().await;
    let b = a.second_node().await;
    let job = lethe::jobs::Scheduled::Cleanup;
    assert!(job.once_per_cluster());
    assert!(!lethe::jobs::Scheduled::AuditFlush.once_per_cluster());

    // Act: node A runs it (its lease kept until it expires)
    let lease = a
        .state
        .leases
        .try_take(&a.state.db, &job.lease_name())
        .await
        .unwrap()
        .unwrap();
    lease.keep_until_expiry().await;

    // Assert: node B, firing a moment later, skips this time; the next time is free
    assert!(
        b.state
            .leases
            .try_take(&b.state.db, &job.lease_name())
            .await
            .unwrap()
            .is_none()
    );
    let next = Utc::now() + lease::TTL + Duration::seconds(1);
    assert!(
        b.state
            .leases
            .try_take_at(&b.state.db, &job.lease_name(), next)
            .await
            .unwrap()
            .is_some()
    );
}

/// Reads a server-sent-event stream until `needle` arrives (or 5 s pass); what was read.
async fn read_stream_until(response: &mut reqwest::Response, needle: &str) -> String {
    read_stream_for(response, needle, 5).await
}

/// Reads a stream until `needle` arrives or `seconds` pass; what was read.
async fn read_stream_for(response: &mut reqwest::Response, needle: &str, seconds: u64) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !text.contains(needle) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    text
}

/// Rows left in the search change log.
async fn log_rows(app: &TestApp) -> i64 {
    sea_orm::ConnectionTrait::query_one_raw(
        &app.state.db,
        sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM search_queue",
        ),
    )
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}

/// The conversation ids `/search?q=` lists on a node.
async fn search_hits(app: &TestApp, q: &str) -> Vec<i64> {
    let response = app.get(&format!("/search?q={q}")).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let re = regex::Regex::new(r#"<h2><a href="/conversations/(\d+)">"#).unwrap();
    re.captures_iter(&html)
        .map(|c| c[1].parse().unwrap())
        .collect()
}

#[tokio::test]
async fn an_agent_on_one_node_sees_a_message_that_arrived_through_the_other_at_once() {
    // Arrange: an agent's inbox page on node B listens
    let (a, b, org, channel) = shop_on_two_nodes(None).await;
    if a.database_url.is_none() {
        return; // SQLite is one node: its events stay in the process.
    }
    let mut stream = b.get("/events").await;
    assert_eq!(stream.status(), 200);
    let mut stream_a = a.get("/events").await;
    assert_eq!(stream_a.status(), 200);

    // Act: a customer's mail arrives through node A
    let id = question(&a, org, channel, 1).await;

    // Assert: node B's agent hears of it; node A's agents once (not again from the database)
    let needle = format!("\"conversation_id\":{id}}}");
    let text = read_stream_until(&mut stream, &needle).await;
    assert!(text.contains(&needle), "node B heard: {text:?}");
    let text_a = read_stream_for(&mut stream_a, "never", 2).await;
    assert_eq!(
        text_a.matches(&needle).count(),
        1,
        "node A heard: {text_a:?}"
    );
}

#[tokio::test]
async fn a_node_whose_listening_connection_dropped_tells_its_agents_to_refetch_and_listens_again() {
    // Arrange
    let (a, b, org, channel) = shop_on_two_nodes(None).await;
    if a.database_url.is_none() {
        return; // SQLite is one node.
    }
    let mut stream = b.get("/events").await;
    assert_eq!(stream.status(), 200);

    // Act: the database drops every listening connection
    sea_orm::ConnectionTrait::execute_unprepared(
        &a.state.db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await
    .unwrap();

    // Assert: node B's agents are told to refetch, and later changes reach them again
    let text = read_stream_until(&mut stream, "event: conversation\ndata: {}").await;
    assert!(text.contains("event: conversation\ndata: {}"), "{text:?}");
    let id = question(&a, org, channel, 2).await;
    let needle = format!("\"conversation_id\":{id}}}");
    let text = read_stream_until(&mut stream, &needle).await;
    assert!(text.contains(&needle), "node B heard: {text:?}");
}

#[tokio::test]
async fn a_message_stored_through_one_node_is_found_by_search_on_the_other() {
    // Arrange: a message before node B starts (B builds its index from the database), and
    // one after
    let a = spawn_app().await;
    a.create_user("owner@shop.test", "Shop", "owner").await;
    let org = a.org_id("Shop").await;
    let word = format!("quokka{}", unique_suffix());
    let (_, before) = a
        .receive(
            org,
            mail(
                "Ann <ann@customer.test>",
                &format!("b.{}@customer.test", unique_suffix()),
                "Parcel",
                &format!("Where is my {word}?"),
            ),
        )
        .await;
    lethe::search::indexer::run_once(&a.state).await.unwrap();
    let b = a.second_node().await;
    b.login("owner@shop.test").await;
    assert_eq!(search_hits(&b, &word).await, vec![before], "built at start");

    // Act: a message stored through node A; node A's indexer runs first
    let (_, after) = a
        .receive(
            org,
            mail(
                "Bob <bob@customer.test>",
                &format!("a.{}@customer.test", unique_suffix()),
                "Parcel too",
                &format!("My {word} is late."),
            ),
        )
        .await;
    lethe::search::indexer::run_once(&a.state).await.unwrap();

    // Assert: the change waits in the log for node B, whose index finds it; then the log
    // is pruned
    assert!(log_rows(&a).await > 0, "kept until node B has it");
    lethe::search::indexer::run_once(&b.state).await.unwrap();
    let mut both = vec![before, after];
    both.sort_unstable();
    let mut found = search_hits(&b, &word).await;
    found.sort_unstable();
    assert_eq!(found, both);
    assert_eq!(log_rows(&a).await, 0, "pruned once both nodes passed");
}

#[tokio::test]
async fn a_node_gone_longer_than_the_stale_time_no_longer_holds_the_log_and_rebuilds_when_back() {
    // Arrange: node B built its index (and said where it is), and is seen last long ago
    let a = spawn_app().await;
    a.create_user("owner@shop.test", "Shop", "owner").await;
    let org = a.org_id("Shop").await;
    a.receive(
        org,
        mail(
            "Di <di@customer.test>",
            &format!("f.{}@customer.test", unique_suffix()),
            "First",
            "An earlier question.",
        ),
    )
    .await;
    let b = a.second_node().await;
    b.login("owner@shop.test").await;
    let aged = sea_orm::ConnectionTrait::execute_unprepared(
        &a.state.db,
        &format!(
            "UPDATE search_nodes SET seen_at = '2020-01-01 00:00:00+00' WHERE node = '{}'",
            b.state.leases.node()
        ),
    )
    .await
    .unwrap();
    assert_eq!(aged.rows_affected(), 1, "node B said where it is");
    let word = format!("wombat{}", unique_suffix());
    let (_, id) = a
        .receive(
            org,
            mail(
                "Cy <cy@customer.test>",
                &format!("s.{}@customer.test", unique_suffix()),
                "Gone",
                &format!("The {word} left."),
            ),
        )
        .await;

    // Act: node A passes the change and prunes it; node B comes back
    lethe::search::indexer::run_once(&a.state).await.unwrap();
    assert_eq!(log_rows(&a).await, 0, "node B no longer holds the log");
    lethe::search::indexer::run_once(&b.state).await.unwrap();

    // Assert: node B rebuilt its index and finds the change it never read
    assert_eq!(search_hits(&b, &word).await, vec![id]);
}

#[tokio::test]
async fn a_customer_erased_through_one_node_leaves_no_byte_in_the_other_nodes_index() {
    // Arrange: both nodes have indexed the customer's mail
    let (a, b, org, _) = shop_on_two_nodes(None).await;
    let suffix = unique_suffix();
    let address = format!("zq{suffix}@kunde.test");
    let name = format!("Xylophon{suffix} Quartzberg");
    let sentence = format!("The marmalade{suffix} tastes of forgotten harbours");
    let (customer_id, conversation_id) = a
        .receive(
            org,
            mail(
                &format!("{name} <{address}>"),
                &format!("m1-{suffix}@kunde.test"),
                &format!("Question {suffix}"),
                &sentence,
            ),
        )
        .await;
    lethe::search::indexer::run_once(&a.state).await.unwrap();
    lethe::search::indexer::run_once(&b.state).await.unwrap();
    assert_eq!(
        search_hits(&b, &format!("marmalade{suffix}")).await,
        vec![conversation_id],
        "node B has indexed it"
    );
    let needles: Vec<Vec<u8>> = vec![
        address.clone().into_bytes(),
        name.clone().into_bytes(),
        name.to_lowercase().into_bytes(),
        format!("xylophon{suffix}").into_bytes(),
        sentence.clone().into_bytes(),
        format!("marmalade{suffix}").into_bytes(),
    ];

    // Act: erased through node A; node B's indexer runs
    let confirm = a.get_text(&format!("/customers/{customer_id}/erase")).await;
    let response = a
        .post_with_csrf(
            &format!("/customers/{customer_id}/erase"),
            &csrf_of(&confirm),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/privacy/receipts/"));
    lethe::search::indexer::run_once(&b.state).await.unwrap();

    // Assert: no byte of the person in either node's index
    for node in [&a, &b] {
        let found = traces(&node.data_dir.join("index"), &needles);
        assert!(found.is_empty(), "traces left: {found:#?}");
    }
    assert!(
        search_hits(&b, &format!("marmalade{suffix}"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_agent_on_one_node_sees_who_views_and_types_on_the_other() {
    // Arrange: the owner's conversation page on node A; another agent signed in on node B
    let (a, b, org, channel) = shop_on_two_nodes(None).await;
    if a.database_url.is_none() {
        return; // SQLite is one node.
    }
    a.create_user("agent@shop.test", "Shop", "agent").await;
    let agent = b.another_browser();
    agent.login("agent@shop.test").await;
    let id = question(&a, org, channel, 1).await;
    let presence = format!("/conversations/{id}/presence");
    let mut on_a = a.get(&presence).await;
    assert_eq!(on_a.status(), 200);

    // Act / Assert: the agent opens the page on node B, and types
    let on_b = agent.get(&presence).await;
    assert_eq!(on_b.status(), 200);
    let viewing = "\"viewing\":[\"Test User\"]";
    let text = read_stream_until(&mut on_a, viewing).await;
    assert!(text.contains(viewing), "node A shows: {text:?}");
    let page = agent.get_text(&format!("/conversations/{id}")).await;
    let typed = agent
        .post_with_csrf(&format!("/conversations/{id}/typing"), &csrf_of(&page), &[])
        .await;
    assert!(typed.status().is_success(), "{}", typed.status());
    let typing = "\"typing\":[\"Test User\"]";
    let text = read_stream_until(&mut on_a, typing).await;
    assert!(text.contains(typing), "node A shows: {text:?}");
    drop(on_b); // node B kept its viewer open until here
}

#[tokio::test]
async fn an_erasure_held_back_by_an_older_running_transaction_says_the_index_is_not_purged_yet() {
    // Arrange: the customer's mail is indexed; another connection's transaction began before
    // the erasure and is still open (a long report, a stuck client)
    let app = spawn_app().await;
    let Some(url) = app.database_url.clone() else {
        return; // SQLite has one writer: no transaction runs beside the erasure's.
    };
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let suffix = unique_suffix();
    let sentence = format!("The quincepaste{suffix} arrived broken");
    let (customer_id, _) = app
        .receive(
            org,
            mail(
                &format!("Quentin{suffix} Holdback <qh{suffix}@kunde.test>"),
                &format!("h1-{suffix}@kunde.test"),
                "Broken",
                &sentence,
            ),
        )
        .await;
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    let other = sea_orm::Database::connect(url.as_str()).await.unwrap();
    let older = sea_orm::TransactionTrait::begin(&other).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&older, "SELECT txid_current()")
        .await
        .unwrap();

    // Act
    let erasure = app.erase(org, customer_id).await;

    // Assert: the receipt does not claim what has not happened yet...
    assert_eq!(erasure.incomplete, vec!["search_index"]);
    let needles = vec![format!("quincepaste{suffix}").into_bytes()];
    assert!(
        !traces(&app.data_dir.join("index"), &needles).is_empty(),
        "the index still holds the text while the older transaction runs"
    );
    // ...and once that transaction ends, the indexer removes the text.
    older.rollback().await.unwrap();
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    let found = traces(&app.data_dir.join("index"), &needles);
    assert!(found.is_empty(), "traces left: {found:#?}");
}
