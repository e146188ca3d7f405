//! Triage on the inbox (issue 15): snoozing (until a time or the customer's answer, back
//! marked), spam with blocked senders and its retention category, and bulk actions on the
//! ticked rows of the list — all over HTTP as a browser sends them, without JavaScript.

use chrono::{Duration, Local, Utc};
use lethe::db::entity::{blocked_sender, conversation, conversation_tag};
use lethe::inbox::snooze;
use lethe::orgs::OrgId;
use lethe::retention::{Action, Category};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{TestApp, arriving, csrf_of, location, mail, spawn_app, traces};

/// An owner of "Shop T" (signed in) and its channel.
async fn shop(app: &TestApp) -> (OrgId, i64) {
    app.create_user("owner@shop-t.test", "Shop T", "owner")
        .await;
    let org = app.org_id("Shop T").await;
    let channel = app
        .email_channel(org, "Support", "support@shop-t.test", None)
        .await
        .0;
    app.login("owner@shop-t.test").await;
    (org, channel)
}

/// A mail from `from` on the channel; (conversation id, message id).
async fn arrives(
    app: &TestApp,
    org: OrgId,
    channel: i64,
    from: &str,
    subject: &str,
) -> (i64, String) {
    let message_id = format!("{}@sender.test", crate::helpers::unique_suffix());
    let raw =
        mail(from, &message_id, subject, "Hello, where is my parcel?").to("support@shop-t.test");
    (
        app.ingest(arriving(org, Some(channel)), raw).await.0,
        message_id,
    )
}

/// The ids of the conversations the inbox lists under `query`.
async fn listed(app: &TestApp, query: &str) -> Vec<i64> {
    let page = app.get_text(&format!("/inbox?{query}")).await;
    page.split("data-conversation-id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

async fn status_of(app: &TestApp, id: i64) -> String {
    app.conversation(id).await.status
}

#[tokio::test]
async fn a_snoozed_conversation_leaves_the_open_folder_and_comes_back_marked() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let (id, _) = arrives(&app, org, channel, "Anna <anna@customer.test>", "Parcel").await;
    let page = format!("/conversations/{id}");

    // Bad input is refused with a reason and changes nothing.
    for (until, at, reason) in [
        ("custom", "next tuesday", "like 2026-12-24 09:00"),
        ("custom", "2001-01-01T10:00", "That time has passed"),
        ("forever", "", "how long to snooze"),
    ] {
        let response = app
            .post_form(
                &page,
                &format!("{page}/snooze"),
                &[("until", until), ("at", at)],
            )
            .await;
        assert_eq!(response.status(), 400, "{until} {at}");
        assert!(
            response.text().await.unwrap().contains(reason),
            "{until} {at}"
        );
        assert_eq!(status_of(&app, id).await, "open");
    }

    let in_two_days = (Local::now() + Duration::days(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let response = app
        .post_form(
            &page,
            &format!("{page}/snooze"),
            &[("until", "custom"), ("at", &in_two_days)],
        )
        .await;
    assert_eq!(response.status(), 303);
    let snoozed = app.conversation(id).await;
    assert_eq!(snoozed.status, "snoozed");
    let until = snoozed.snoozed_until.expect("a time");
    assert!(until > Utc::now() + Duration::hours(47) && until < Utc::now() + Duration::hours(49));

    assert!(!listed(&app, "status=open").await.contains(&id));
    let folder = app.get_text("/inbox?status=snoozed").await;
    assert!(listed(&app, "status=snoozed").await.contains(&id));
    assert!(folder.contains("Snoozed until"));
    assert!(app.get_text(&page).await.contains("Snoozed until"));

    // Not due yet: the job leaves it; once due, it is back, open and marked.
    assert_eq!(snooze::wake_due(&app.state, Utc::now()).await.unwrap(), 0);
    assert_eq!(status_of(&app, id).await, "snoozed");
    let later = Utc::now() + Duration::days(3);
    assert_eq!(snooze::wake_due(&app.state, later).await.unwrap(), 1);
    assert_eq!(status_of(&app, id).await, "open");
    let inbox = app.get_text("/inbox?status=open").await;
    assert!(listed(&app, "status=open").await.contains(&id));
    assert!(inbox.contains("Back from snooze"));

    // Triaging it clears the mark.
    let response = app
        .post_form(&page, &format!("{page}/status"), &[("status", "pending")])
        .await;
    assert_eq!(response.status(), 303);
    assert!(app.conversation(id).await.woke_at.is_none());
    assert!(
        !app.get_text("/inbox?status=pending")
            .await
            .contains("Back from snooze")
    );
}

#[tokio::test]
async fn snoozed_until_the_answer_comes_back_when_the_customer_writes() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let (id, first) = arrives(&app, org, channel, "Ben <ben@customer.test>", "Refund").await;
    let page = format!("/conversations/{id}");
    let response = app
        .post_form(&page, &format!("{page}/snooze"), &[("until", "answer")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(status_of(&app, id).await, "snoozed");
    assert!(
        app.get_text(&page)
            .await
            .contains("until the customer answers")
    );
    // No time passes it.
    let far = Utc::now() + Duration::days(400);
    assert_eq!(snooze::wake_due(&app.state, far).await.unwrap(), 0);

    let answer = mail(
        "Ben <ben@customer.test>",
        &format!("{}@sender.test", crate::helpers::unique_suffix()),
        "Re: Refund",
        "Any news?",
    )
    .to("support@shop-t.test")
    .in_reply_to(&first);
    let (threaded, _) = app.ingest(arriving(org, Some(channel)), answer).await;
    assert_eq!(threaded, id);
    let back = app.conversation(id).await;
    assert_eq!(back.status, "open");
    assert!(back.snoozed_until.is_none());
}

#[tokio::test]
async fn spam_leaves_the_inbox_and_blocked_senders_go_straight_to_spam() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let (id, first) = arrives(
        &app,
        org,
        channel,
        "Spammer <deals@spam.example>",
        "Cheap watches",
    )
    .await;
    let page = format!("/conversations/{id}");

    let response = app
        .post_form(&page, &format!("{page}/spam"), &[("block", "elsewhere")])
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(status_of(&app, id).await, "open");

    let response = app
        .post_form(&page, &format!("{page}/spam"), &[("block", "address")])
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/inbox?"));
    let marked = app.conversation(id).await;
    assert_eq!(marked.status, "spam");
    assert!(marked.closed_at.is_some(), "marking records when");
    assert!(!listed(&app, "status=open").await.contains(&id));
    assert!(listed(&app, "status=spam").await.contains(&id));
    let blocked = app.get_text("/settings/blocked-senders").await;
    assert!(blocked.contains("data-pattern=\"deals@spam.example\""));

    // Their next mail, threaded or new, does not reopen anything or reach the inbox.
    let again = mail(
        "deals@spam.example",
        "again.1@spam.example",
        "Re: Cheap watches",
        "Still cheap",
    )
    .to("support@shop-t.test")
    .in_reply_to(&first);
    let (threaded, _) = app.ingest(arriving(org, Some(channel)), again).await;
    assert_eq!(threaded, id);
    assert_eq!(status_of(&app, id).await, "spam");
    let (fresh, _) = arrives(&app, org, channel, "deals@spam.example", "New offer").await;
    assert_eq!(status_of(&app, fresh).await, "spam");
    // Someone else at that domain still reaches the inbox...
    let (colleague, _) = arrives(&app, org, channel, "info@spam.example", "Question").await;
    assert_eq!(status_of(&app, colleague).await, "open");

    // ...until the admin blocks the whole domain (with its subdomains) on the settings page.
    let response = app
        .post_form(
            "/settings/blocked-senders",
            "/settings/blocked-senders",
            &[("pattern", "not a domain")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("a domain such as example.com")
    );
    assert_eq!(app.count::<blocked_sender::Entity>().await, 1);
    let response = app
        .post_form(
            "/settings/blocked-senders",
            "/settings/blocked-senders",
            &[("pattern", "@Spam.Example")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let (sub, _) = arrives(&app, org, channel, "x@mail.spam.example", "Offer").await;
    assert_eq!(status_of(&app, sub).await, "spam");

    // Unblocking lets their mail in again.
    for row in blocked_sender::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
    {
        let response = app
            .post_form(
                "/settings/blocked-senders",
                &format!("/settings/blocked-senders/{}/delete", row.id),
                &[],
            )
            .await;
        assert_eq!(response.status(), 303);
    }
    let (welcome, _) = arrives(&app, org, channel, "deals@spam.example", "Sorry").await;
    assert_eq!(status_of(&app, welcome).await, "open");

    // "Not spam" is the status form.
    let response = app
        .post_form(&page, &format!("{page}/status"), &[("status", "open")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(status_of(&app, id).await, "open");
}

#[tokio::test]
async fn agents_mark_spam_but_only_admins_keep_the_block_list() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    app.create_user("agent@shop-t.test", "Shop T", "agent")
        .await;
    let agent = app.another_browser();
    agent.login("agent@shop-t.test").await;
    assert_eq!(agent.get("/settings/blocked-senders").await.status(), 403);
    let (id, _) = arrives(&app, org, channel, "bot@spam.example", "Win").await;
    let page = format!("/conversations/{id}");
    let response = agent
        .post_form(&page, &format!("{page}/spam"), &[("block", "domain")])
        .await;
    assert_eq!(response.status(), 303);
    let rows = blocked_sender::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].pattern, "@spam.example");
}

#[tokio::test]
async fn the_spam_rule_deletes_old_spam_only_and_erasure_removes_a_blocked_address() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let (old_spam, _) = arrives(&app, org, channel, "old@junk.example", "Old junk").await;
    let (new_spam, _) = arrives(&app, org, channel, "new@junk.example", "New junk").await;
    let (old_closed, _) =
        arrives(&app, org, channel, "Carla <carla@customer.test>", "Thanks").await;
    for (id, block) in [(old_spam, "address"), (new_spam, "")] {
        let page = format!("/conversations/{id}");
        let response = app
            .post_form(&page, &format!("{page}/spam"), &[("block", block)])
            .await;
        assert_eq!(response.status(), 303);
    }
    // Marked 40 days ago (spam keeps when it was marked in closed_at).
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::ClosedAt,
            sea_orm::sea_query::Expr::val(Utc::now() - Duration::days(40)),
        )
        .filter(conversation::Column::Id.eq(old_spam))
        .exec(&app.state.db)
        .await
        .unwrap();
    app.close_days_ago(old_closed, 40).await;

    // The retention page offers the category, and its rule can only delete.
    let settings = app.get_text("/settings/retention").await;
    assert!(settings.contains("Conversations marked as spam"));
    let refused = app
        .post_form(
            "/settings/retention",
            "/settings/retention/rules",
            &[
                ("category", "spam"),
                ("after_days", "30"),
                ("action", "anonymize"),
            ],
        )
        .await;
    assert_ne!(refused.status(), 303);
    app.save_rule(org, Category::Spam, 30, Action::Delete).await;
    let report = lethe::retention::run_once(&app.state, org, false)
        .await
        .unwrap();
    assert_eq!(report.category(Category::Spam).unwrap().conversations, 1);
    assert!(app.find_conversation(old_spam).await.is_none());
    assert!(app.find_conversation(new_spam).await.is_some());
    assert!(
        app.find_conversation(old_closed).await.is_some(),
        "closed is not spam"
    );

    // The customer behind the blocked address sees the block in their export; erasing them
    // removes it (their address is theirs), leaving no byte of it behind.
    let (again, _) = arrives(&app, org, channel, "old@junk.example", "Junk again").await;
    assert_eq!(status_of(&app, again).await, "spam");
    let customer = app.customer_of(again).await;
    let customer_page = format!("/customers/{customer}");
    let response = app
        .post_form(&customer_page, &format!("{customer_page}/export"), &[])
        .await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut raw = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("export.json").unwrap(), &mut raw).unwrap();
    let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        json["customer"]["blocked_as_spam"],
        serde_json::json!(["old@junk.example"])
    );
    app.erase(org, customer).await;
    assert_eq!(app.count::<blocked_sender::Entity>().await, 0);
    if app.database_url.is_none() {
        assert_eq!(
            traces(&app.data_dir, &["old@junk.example"]),
            Vec::<String>::new()
        );
    }
}

#[tokio::test]
async fn bulk_actions_change_the_ticked_conversations_of_this_organization_only() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let from = format!("Customer {n} <c{n}@customer.test>");
        ids.push(
            arrives(&app, org, channel, &from, &format!("Question {n}"))
                .await
                .0,
        );
    }
    // Another organization's conversation, whose id a forged form may carry.
    app.create_user("owner@other.test", "Other", "owner").await;
    let other_org = app.org_id("Other").await;
    let other_channel = app
        .email_channel(other_org, "Other", "support@other.test", None)
        .await
        .0;
    let raw = mail(
        "z@customer.test",
        "other.1@customer.test",
        "Theirs",
        "Hello",
    )
    .to("support@other.test");
    let (theirs, _) = app
        .ingest(arriving(other_org, Some(other_channel)), raw)
        .await;
    let owner_id = lethe::db::entity::user::Entity::find()
        .filter(lethe::db::entity::user::Column::Email.eq("owner@shop-t.test"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    app.tag_conversation(org, ids[2], "vip").await;
    let tag_id = lethe::db::entity::tag::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;

    let inbox = app.get_text("/inbox").await;
    assert!(inbox.contains("action=\"/inbox/bulk\""));
    assert!(inbox.contains(&format!("name=\"ids\" value=\"{}\"", ids[0])));
    let csrf = csrf_of(&inbox);
    let post = |fields: Vec<(&'static str, String)>| {
        let mut all = vec![
            ("csrf", csrf.clone()),
            ("back", "/inbox?status=open".to_owned()),
        ];
        all.extend(fields);
        app.client.post(app.url("/inbox/bulk")).form(&all).send()
    };
    let id = |n: usize| ("ids", ids[n].to_string());

    // Nothing ticked, or an unknown action: refused, nothing changed.
    let response = post(vec![("action", "status:closed".into())])
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = post(vec![id(0), ("action", "explode".into())])
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(status_of(&app, ids[0]).await, "open");

    let response = post(vec![
        id(0),
        id(1),
        ("ids", theirs.to_string()),
        ("action", "status:closed".into()),
    ])
    .await
    .unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/inbox?status=open"));
    assert_eq!(status_of(&app, ids[0]).await, "closed");
    assert_eq!(status_of(&app, ids[1]).await, "closed");
    assert_eq!(status_of(&app, ids[2]).await, "open");
    assert_eq!(
        status_of(&app, theirs).await,
        "open",
        "another organization's"
    );

    let response = post(vec![id(0), id(2), ("action", format!("assign:{owner_id}"))])
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(app.conversation(ids[0]).await.assignee_id, Some(owner_id));
    assert_eq!(app.conversation(ids[1]).await.assignee_id, None);
    assert_eq!(app.conversation(ids[2]).await.assignee_id, Some(owner_id));

    let db = &app.state.db;
    let tagged = |conversation_id: i64| async move {
        conversation_tag::Entity::find()
            .filter(conversation_tag::Column::ConversationId.eq(conversation_id))
            .all(db)
            .await
            .unwrap()
            .len()
    };
    let response = post(vec![
        id(0),
        id(1),
        id(2),
        ("ids", theirs.to_string()),
        ("action", format!("tag_add:{tag_id}")),
    ])
    .await
    .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        (
            tagged(ids[0]).await,
            tagged(ids[2]).await,
            tagged(theirs).await
        ),
        (1, 1, 0)
    );
    let response = post(vec![id(0), ("action", format!("tag_remove:{tag_id}"))])
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!((tagged(ids[0]).await, tagged(ids[1]).await), (0, 1));

    let response = post(vec![id(1), ("action", "snooze:tomorrow".into())])
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let snoozed = app.conversation(ids[1]).await;
    assert_eq!(snoozed.status, "snoozed");
    assert!(snoozed.snoozed_until.is_some_and(|t| t > Utc::now()));

    let response = post(vec![id(2), ("action", "spam".into())]).await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(status_of(&app, ids[2]).await, "spam");

    let audit = app.get_text("/audit").await;
    assert!(audit.contains("conversations.bulk_changed"));
}

/// The class attribute of conversation `id`'s row in the list at `query`.
async fn row_class(app: &TestApp, query: &str, id: i64) -> String {
    let page = app.get_text(&format!("/inbox?{query}")).await;
    let marker = format!("data-conversation-id=\"{id}\" class=\"");
    let start = page.find(&marker).expect("the row is listed") + marker.len();
    page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_new_customer_message_is_unread_per_agent_until_opened_and_rows_show_preview_and_wait() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    app.create_user("agent@shop-t.test", "Shop T", "agent")
        .await;
    let agent = app.another_browser();
    agent.login("agent@shop-t.test").await;
    let (id, first) = arrives(&app, org, channel, "Dora <dora@customer.test>", "Size").await;
    let page = format!("/conversations/{id}");

    assert!(row_class(&app, "status=open", id).await.contains("unread"));
    let inbox = app.get_text("/inbox").await;
    assert!(
        inbox.contains("Hello, where is my parcel?"),
        "a preview of the last message"
    );
    assert!(inbox.contains("waiting 0 min") || inbox.contains("waiting 1 min"));

    // Opening it reads it for this agent only.
    assert_eq!(app.get(&page).await.status(), 200);
    assert!(!row_class(&app, "status=open", id).await.contains("unread"));
    assert!(
        row_class(&agent, "status=open", id)
            .await
            .contains("unread")
    );

    // An internal note is not a customer message: still read, still waiting.
    let response = app
        .post_form(
            &page,
            &format!("{page}/notes"),
            &[("text", "Checking the warehouse")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(!row_class(&app, "status=open", id).await.contains("unread"));
    assert!(app.get_text("/inbox").await.contains("waiting "));

    // "Mark as unread" brings the bold back; so does the customer writing again.
    let response = app.post_form(&page, &format!("{page}/unread"), &[]).await;
    assert_eq!(response.status(), 303);
    assert!(row_class(&app, "status=open", id).await.contains("unread"));
    assert_eq!(app.get(&page).await.status(), 200);
    assert!(!row_class(&app, "status=open", id).await.contains("unread"));
    let again = mail(
        "Dora <dora@customer.test>",
        &format!("{}@sender.test", crate::helpers::unique_suffix()),
        "Re: Size",
        "Also, do you have it in blue?",
    )
    .to("support@shop-t.test")
    .in_reply_to(&first);
    app.ingest(arriving(org, Some(channel)), again).await;
    assert!(row_class(&app, "status=open", id).await.contains("unread"));
    assert!(
        app.get_text("/inbox")
            .await
            .contains("Also, do you have it in blue?")
    );

    // Erasing the customer takes what anyone had read of the conversation with it.
    let customer = app.customer_of(id).await;
    app.erase(org, customer).await;
    assert_eq!(
        app.count::<lethe::db::entity::conversation_read::Entity>()
            .await,
        0
    );
}

#[tokio::test]
async fn folders_count_open_mine_unassigned_pending_snoozed_spam_and_each_channel() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let from = format!("Customer {n} <f{n}@customer.test>");
        ids.push(
            arrives(&app, org, channel, &from, &format!("Folder {n}"))
                .await
                .0,
        );
    }
    let owner_id = app.conversation(ids[0]).await.assignee_id;
    assert_eq!(owner_id, None);
    let inbox = app.get_text("/inbox").await;
    let csrf = csrf_of(&inbox);
    let bulk = |ids: Vec<i64>, action: String| {
        let mut all = vec![("csrf", csrf.clone()), ("action", action)];
        all.extend(ids.into_iter().map(|id| ("ids", id.to_string())));
        app.client.post(app.url("/inbox/bulk")).form(&all).send()
    };
    let me = lethe::db::entity::user::Entity::find()
        .filter(lethe::db::entity::user::Column::Email.eq("owner@shop-t.test"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    bulk(vec![ids[0]], format!("assign:{me}")).await.unwrap();
    bulk(vec![ids[1]], "status:pending".into()).await.unwrap();
    bulk(vec![ids[2]], "snooze:answer".into()).await.unwrap();
    bulk(vec![ids[3]], "spam".into()).await.unwrap();

    let counts: serde_json::Value = app.get("/inbox/counts").await.json().await.unwrap();
    assert_eq!(counts["open"], 2);
    assert_eq!(counts["mine"], 1);
    assert_eq!(counts["unassigned"], 1);
    assert_eq!(counts["pending"], 1);
    assert_eq!(counts["snoozed"], 1);
    assert_eq!(counts["spam"], 1);
    assert_eq!(counts[format!("channel-{channel}")], 2);

    // The page shows the same, the current folder marked, each a link to its list.
    let page = app.get_text("/inbox?status=snoozed&assignee=all").await;
    assert!(page.contains("data-folder-count=\"open\">2<"));
    assert!(page.contains("data-folder-count=\"spam\">1<"));
    assert!(page.contains("aria-current=\"page\" data-folder=\"snoozed\""));
    assert_eq!(
        page.matches("aria-current=\"page\" data-folder=").count(),
        1
    );
    let channel_link = format!("channel={channel}\" data-folder=\"channel-{channel}\"");
    assert!(page.contains(&channel_link));
    assert_eq!(
        listed(&app, "status=open&assignee=mine").await,
        vec![ids[0]]
    );
}

#[tokio::test]
async fn the_keyboard_shortcuts_are_listed_on_their_page_and_in_every_page_s_dialog() {
    let app = spawn_app().await;
    shop(&app).await;
    let list = app.get_text("/keyboard").await;
    for shortcut in [
        "Go to the search box",
        "Next conversation",
        "Snooze it until tomorrow",
        "Write an internal note",
    ] {
        assert!(list.contains(shortcut), "/keyboard lists {shortcut:?}");
    }
    let inbox = app.get_text("/inbox").await;
    assert!(
        inbox.contains("href=\"/keyboard\""),
        "the footer links to the list, for pages without JavaScript"
    );
    assert!(
        inbox.contains("<dialog id=\"shortcuts\""),
        "the dialog ? opens is on the page"
    );
    let dialog = inbox
        .split("<dialog id=\"shortcuts\"")
        .nth(1)
        .unwrap_or_default();
    assert!(
        dialog
            .split("</dialog>")
            .next()
            .unwrap_or_default()
            .contains("Snooze it until tomorrow"),
        "the dialog holds the list"
    );
    // Signed out, there is no list: the shortcuts are for agents.
    let signed_out = app.another_browser();
    let login = signed_out.get_text("/login").await;
    assert!(!login.contains("<dialog id=\"shortcuts\""));
    let refused = signed_out.get("/keyboard").await;
    assert_eq!(refused.status(), 303);
    assert!(location(&refused).starts_with("/login"));
}
