//! Notifications and @mentions (issue 15): assigned to me (conversation page, bulk action,
//! REST API), a customer answered in my conversation, I was mentioned in a note — in the app
//! (the bell, `/notifications`, the event stream) and by mail as each member chose, never
//! with customer content; rows go with the erased customer, the member who leaves, and read
//! ones with the cleanup job. All over HTTP as a browser sends it, without JavaScript.

use chrono::{Duration, Utc};
use lethe::db::entity::{notification, user};
use lethe::orgs::OrgId;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::api::{api, create_key};
use crate::helpers::{
    AppOptions, TestApp, arriving, mail, spawn_app, spawn_app_with, traces, unique_suffix,
};
use crate::smtp::{SmtpRecorder, unfold_qp};

/// "Shop N": the owner Olga (signed in on `app`), the agents Bea and Carl (each signed in on
/// a browser of their own), and an email channel.
struct Team {
    org: OrgId,
    channel: i64,
    olga: i64,
    bea: i64,
    carl: i64,
    bea_browser: TestApp,
    carl_browser: TestApp,
}

async fn named(app: &TestApp, id: i64, name: &str) {
    user::Entity::update_many()
        .col_expr(user::Column::DisplayName, name.into())
        .filter(user::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .unwrap();
}

async fn team(app: &TestApp) -> Team {
    let olga = app.create_user("olga@shop-n.test", "Shop N", "owner").await;
    let bea = app.create_user("bea@shop-n.test", "Shop N", "agent").await;
    let carl = app.create_user("carl@shop-n.test", "Shop N", "agent").await;
    named(app, olga, "Olga Owner").await;
    named(app, bea, "Bea Berg").await;
    named(app, carl, "Carl Cole").await;
    let org = app.org_id("Shop N").await;
    let channel = app
        .email_channel(org, "Support", "support@shop-n.test", None)
        .await
        .0;
    app.login("olga@shop-n.test").await;
    let bea_browser = app.another_browser();
    bea_browser.login("bea@shop-n.test").await;
    let carl_browser = app.another_browser();
    carl_browser.login("carl@shop-n.test").await;
    Team {
        org,
        channel,
        olga,
        bea,
        carl,
        bea_browser,
        carl_browser,
    }
}

/// A customer's mail on the team's channel: (conversation id, its Message-ID).
async fn arrives(app: &TestApp, team: &Team, subject: &str, body: &str) -> (i64, String) {
    let message_id = format!("{}@customer.test", unique_suffix());
    let raw = mail(
        "Anna Ahlgren <anna@customer.test>",
        &message_id,
        subject,
        body,
    )
    .to("support@shop-n.test");
    let (id, _) = app
        .ingest(arriving(team.org, Some(team.channel)), raw)
        .await;
    (id, message_id)
}

/// The customer answers in the conversation started by `first`.
async fn answers(app: &TestApp, team: &Team, first: &str, body: &str) -> i64 {
    let raw = mail(
        "Anna Ahlgren <anna@customer.test>",
        &format!("{}@customer.test", unique_suffix()),
        "Re: it",
        body,
    )
    .to("support@shop-n.test")
    .in_reply_to(first);
    app.ingest(arriving(team.org, Some(team.channel)), raw)
        .await
        .0
}

async fn assign(browser: &TestApp, id: i64, to: i64) {
    let page = format!("/conversations/{id}");
    let response = browser
        .post_form(
            &page,
            &format!("{page}/assignee"),
            &[("assignee", &to.to_string())],
        )
        .await;
    assert_eq!(response.status(), 303);
}

/// The unread count the bell in the page header shows.
async fn bell(browser: &TestApp) -> u64 {
    let page = browser.get_text("/inbox").await;
    let count = page
        .split("data-bell-count>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("a bell on the page");
    count.trim().parse().expect("a number")
}

async fn rows_of(app: &TestApp, user: i64) -> Vec<notification::Model> {
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_assignment_by_another_member_notifies_the_assignee_only() {
    // Arrange
    let app = spawn_app().await;
    let team = team(&app).await;
    let (first, _) = arrives(&app, &team, "Parcel", "Where is it?").await;
    let (second, _) = arrives(&app, &team, "Refund", "Money back?").await;
    let (third, _) = arrives(&app, &team, "Invoice", "Wrong VAT").await;

    // Act: Olga assigns on the conversation page, to herself too; again to Bea (no change)
    assign(&app, first, team.bea).await;
    assign(&app, first, team.bea).await;
    assign(&app, second, team.olga).await;

    // Assert
    assert_eq!(bell(&team.bea_browser).await, 1);
    assert_eq!(bell(&app).await, 0, "nobody is told about their own action");
    assert_eq!(bell(&team.carl_browser).await, 0);
    let list = team.bea_browser.get_text("/notifications").await;
    assert!(
        list.contains("Olga Owner assigned a conversation to you"),
        "{list}"
    );
    assert!(list.contains(&format!("href=\"/conversations/{first}\"")));
    assert!(
        list.contains("Parcel"),
        "the subject is joined for the list"
    );
    assert!(rows_of(&app, team.olga).await.is_empty());

    // Act: the bulk action gives two to Carl; Carl assigning one to himself tells nobody
    let response = app
        .post_form(
            "/inbox",
            "/inbox/bulk",
            &[
                ("ids", &second.to_string()),
                ("ids", &third.to_string()),
                ("action", &format!("assign:{}", team.carl)),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(bell(&team.carl_browser).await, 2);
    assign(&team.carl_browser, first, team.carl).await;
    assert_eq!(bell(&team.carl_browser).await, 2);

    // Act: through the REST API with Olga's key, back to Bea
    let key = create_key(&app, "Backend").await;
    let response = api(
        &app,
        Some(&key),
        reqwest::Method::PUT,
        &format!("/api/v1/conversations/{third}/assignee"),
    )
    .json(&serde_json::json!({ "assignee_id": team.bea }))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(bell(&team.bea_browser).await, 2);
    assert!(rows_of(&app, team.olga).await.is_empty());
}

#[tokio::test]
async fn a_customer_mail_into_an_assigned_conversation_notifies_the_assignee() {
    // Arrange
    let app = spawn_app().await;
    let team = team(&app).await;
    let (id, first) = arrives(&app, &team, "Parcel", "Where is it?").await;
    let (unassigned, other_first) = arrives(&app, &team, "Other", "Hello").await;
    assert_eq!(
        bell(&team.bea_browser).await,
        0,
        "a new conversation tells nobody"
    );
    assign(&app, id, team.bea).await;
    team.bea_browser
        .get_text(&format!("/conversations/{id}"))
        .await;
    assert_eq!(bell(&team.bea_browser).await, 0, "opening it read it");

    // Act
    assert_eq!(answers(&app, &team, &first, "Any news?").await, id);
    assert_eq!(
        answers(&app, &team, &other_first, "Hello?").await,
        unassigned
    );

    // Assert
    assert_eq!(bell(&team.bea_browser).await, 1);
    let list = team.bea_browser.get_text("/notifications").await;
    assert!(
        list.contains("The customer answered in your conversation"),
        "{list}"
    );
    let rows = rows_of(&app, team.bea).await;
    let answered: Vec<_> = rows.iter().filter(|n| n.kind == "answered").collect();
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].conversation_id, id);
    assert_eq!(answered[0].actor_id, None);
    assert_eq!(bell(&team.carl_browser).await, 0);
    assert_eq!(bell(&app).await, 0);
}

#[tokio::test]
async fn a_mention_in_a_note_notifies_the_mentioned_member_and_not_others() {
    // Arrange
    let app = spawn_app().await;
    let team = team(&app).await;
    let (id, _) = arrives(&app, &team, "Parcel", "Where is it?").await;
    let page = format!("/conversations/{id}");

    // Act: Olga mentions Bea (by first name), herself, an unknown word, and an address
    let response = app
        .post_form(
            &page,
            &format!("{page}/notes"),
            &[(
                "text",
                "@bea please check with the carrier. @OlgaOwner will call. @nobody, write to carl@shop-n.test",
            )],
        )
        .await;
    assert_eq!(response.status(), 303);

    // Assert
    assert_eq!(bell(&team.bea_browser).await, 1);
    assert_eq!(
        bell(&team.carl_browser).await,
        0,
        "an address is no mention"
    );
    assert_eq!(bell(&app).await, 0, "mentioning oneself tells nobody");
    let list = team.bea_browser.get_text("/notifications").await;
    assert!(
        list.contains("Olga Owner mentioned you in a note"),
        "{list}"
    );
    let shown = app.get_text(&page).await;
    assert!(
        shown.contains("<mark class=\"mention\">@bea</mark>"),
        "the mention is highlighted"
    );
    assert!(shown.contains("<mark class=\"mention\">@OlgaOwner</mark>"));
    assert!(!shown.contains("<mark class=\"mention\">@nobody"));
    assert!(shown.contains("@nobody"), "an unknown @word stays text");

    // Act: Bea mentions Carl by the local part of his address through the REST API's notes
    // too would go the same way; here by the page, and by his name without spaces
    let response = team
        .bea_browser
        .post_form(
            &page,
            &format!("{page}/notes"),
            &[("text", "Thanks! cc @carl and @CarlCole")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        bell(&team.carl_browser).await,
        1,
        "one notification per note"
    );
    assert_eq!(bell(&app).await, 0);

    // The autocomplete's list: the team's names for a signed-in member, nothing without.
    let members: serde_json::Value = team
        .carl_browser
        .get("/mentions/members")
        .await
        .json()
        .await
        .unwrap();
    let handles: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["BeaBerg", "CarlCole", "OlgaOwner"]);
    assert!(
        !members.to_string().contains("@shop-n.test"),
        "no addresses"
    );
    let anonymous = crate::helpers::browser_client()
        .get(app.url("/mentions/members"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
}

#[tokio::test]
async fn notifications_are_marked_read_one_by_one_or_all_at_once() {
    // Arrange: three for Bea, one for Carl
    let app = spawn_app().await;
    let team = team(&app).await;
    let mut ids = Vec::new();
    for subject in ["One", "Two", "Three"] {
        let (id, _) = arrives(&app, &team, subject, "Hello").await;
        assign(&app, id, team.bea).await;
        ids.push(id);
    }
    let (carls, _) = arrives(&app, &team, "Four", "Hello").await;
    assign(&app, carls, team.carl).await;
    assert_eq!(bell(&team.bea_browser).await, 3);
    let carls_notification = rows_of(&app, team.carl).await[0].id;
    let beas = rows_of(&app, team.bea).await;

    // Act: one read; someone else's answers 404 and changes nothing
    let response = team
        .bea_browser
        .post_form(
            "/notifications",
            &format!("/notifications/{}/read", beas[0].id),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(bell(&team.bea_browser).await, 2);
    let response = team
        .bea_browser
        .post_form(
            "/notifications",
            &format!("/notifications/{carls_notification}/read"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(bell(&team.carl_browser).await, 1);

    // Act: opening a conversation reads its notification
    team.bea_browser
        .get_text(&format!("/conversations/{}", beas[1].conversation_id))
        .await;
    assert_eq!(bell(&team.bea_browser).await, 1);
    let count: serde_json::Value = team
        .bea_browser
        .get("/notifications/count")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count["unread"], 1);

    // Act: all read
    let response = team
        .bea_browser
        .post_form("/notifications", "/notifications/read", &[])
        .await;
    assert_eq!(response.status(), 303);

    // Assert
    assert_eq!(bell(&team.bea_browser).await, 0);
    assert_eq!(bell(&team.carl_browser).await, 1);
    let list = team.bea_browser.get_text("/notifications").await;
    assert!(!list.contains("Mark as read"), "{list}");
    assert_eq!(
        rows_of(&app, team.bea).await.len(),
        3,
        "read ones stay listed"
    );
}

#[tokio::test]
async fn read_notifications_go_after_30_days_and_a_leaving_member_takes_theirs() {
    // Arrange
    let app = spawn_app().await;
    let team = team(&app).await;
    let (id, _) = arrives(&app, &team, "Parcel", "Where is it?").await;
    let (other, _) = arrives(&app, &team, "Refund", "Money?").await;
    assign(&app, id, team.bea).await;
    assign(&app, other, team.bea).await;
    assign(&app, id, team.carl).await;
    let beas = rows_of(&app, team.bea).await;
    notification::Entity::update_many()
        .col_expr(
            notification::Column::ReadAt,
            Some(Utc::now() - Duration::days(31)).into(),
        )
        .filter(notification::Column::Id.eq(beas[0].id))
        .exec(&app.state.db)
        .await
        .unwrap();

    // Act
    let outcome = lethe::jobs::cleanup::run_once(&app.state).await.unwrap();

    // Assert: the old read one went, the unread one stayed
    assert_eq!(outcome.notifications, 1);
    let left = rows_of(&app, team.bea).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, beas[1].id);

    // Act: Carl leaves the team
    let response = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{}/remove", team.carl),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(rows_of(&app, team.carl).await.is_empty());
    assert_eq!(rows_of(&app, team.bea).await.len(), 1);
}

#[tokio::test]
async fn mails_follow_each_members_choice_and_carry_no_customer_content() {
    // Arrange
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    let team = team(&app).await;
    let suffix = unique_suffix();
    let subject = format!("Broken kettle {suffix}");
    let body = format!("The lid of my kettle {suffix} cracked");
    let (id, first) = arrives(&app, &team, &subject, &body).await;
    let (other, _) = arrives(&app, &team, "Second", "Hello").await;
    // The account page shows the defaults: assigned and mentioned on, answered off.
    let account = team.carl_browser.get_text("/account").await;
    assert!(
        account.contains("name=\"assigned\" value=\"on\" checked"),
        "{account}"
    );
    assert!(account.contains("name=\"answered\" value=\"on\">"));
    assert!(account.contains("name=\"mentioned\" value=\"on\" checked"));
    // Carl wants no mail at all (every box unticked).
    let response = team
        .carl_browser
        .post_form("/account", "/account/notifications", &[])
        .await;
    assert_eq!(response.status(), 303);
    assert!(
        !team
            .carl_browser
            .get_text("/account")
            .await
            .contains("value=\"on\" checked")
    );

    // Act: Carl gets one (no mail), then Bea (a mail), in this order
    assign(&app, other, team.carl).await;
    assign(&app, id, team.bea).await;

    // Assert
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1, "Carl's choice is respected");
    let sent = unfold_qp(&mails[0]);
    assert!(sent.contains("bea@shop-n.test"), "{sent}");
    assert!(sent.contains("Olga Owner assigned conversation"), "{sent}");
    assert!(sent.contains(&format!("/conversations/{id}")), "{sent}");
    for secret in [
        subject.as_str(),
        body.as_str(),
        "anna@customer.test",
        "Anna",
        "Ahlgren",
    ] {
        assert!(!sent.contains(secret), "{secret:?} in the mail: {sent}");
    }

    // Act: the customer answers; Bea has "answered" off by default, then turns it on
    answers(&app, &team, &first, &format!("Still broken {suffix}")).await;
    let response = team
        .bea_browser
        .post_form(
            "/account",
            "/account/notifications",
            &[("assigned", "on"), ("answered", "on")],
        )
        .await;
    assert_eq!(response.status(), 303);
    answers(&app, &team, &first, &format!("Hello again {suffix}")).await;

    // Assert: one mail more, for the second answer, again without the customer's words
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2);
    let sent = unfold_qp(&mails[1]);
    assert!(
        sent.contains("A customer answered in conversation"),
        "{sent}"
    );
    for secret in [
        subject.as_str(),
        "Hello again",
        "Still broken",
        "anna@customer.test",
        "Anna",
    ] {
        assert!(!sent.contains(secret), "{secret:?} in the mail: {sent}");
    }

    // Act: mentions are off for Bea now; on (by default) for Olga
    let page = format!("/conversations/{id}");
    team.bea_browser
        .post_form(&page, &format!("{page}/notes"), &[("text", "@olga look")])
        .await;
    app.post_form(&page, &format!("{page}/notes"), &[("text", "@bea look")])
        .await;
    let mails = smtp.wait_for(3).await;
    assert_eq!(mails.len(), 3, "Bea turned mentions off");
    let sent = unfold_qp(&mails[2]);
    assert!(sent.contains("olga@shop-n.test"), "{sent}");
    assert!(sent.contains("Bea Berg mentioned you"), "{sent}");
    assert!(!sent.contains("look"), "no note text: {sent}");
}

#[tokio::test]
async fn erasing_the_customer_removes_the_notifications_about_them() {
    // Arrange
    let app = spawn_app().await;
    let team = team(&app).await;
    let suffix = unique_suffix();
    let subject = format!("Quince{suffix}");
    let (id, first) = arrives(&app, &team, &subject, &format!("Marrow{suffix}")).await;
    assign(&app, id, team.bea).await;
    answers(&app, &team, &first, "Any news?").await;
    let page = format!("/conversations/{id}");
    app.post_form(
        &page,
        &format!("{page}/notes"),
        &[("text", "@carl see this")],
    )
    .await;
    assert_eq!(app.count::<notification::Entity>().await, 3);
    assert!(
        team.bea_browser
            .get_text("/notifications")
            .await
            .contains(&subject)
    );
    let customer = app.customer_of(id).await;
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    lethe::db::checkpoint(&app.state.db).await.unwrap();

    // Act
    app.erase(team.org, customer).await;

    // Assert
    assert_eq!(app.count::<notification::Entity>().await, 0);
    assert_eq!(bell(&team.bea_browser).await, 0);
    assert_eq!(bell(&team.carl_browser).await, 0);
    assert!(
        !team
            .bea_browser
            .get_text("/notifications")
            .await
            .contains(&subject)
    );
    if app.database_url.is_none() {
        let found = traces(
            &app.data_dir,
            &[subject.as_bytes(), format!("Marrow{suffix}").as_bytes()],
        );
        assert!(found.is_empty(), "left behind: {found:?}");
    }
    assert_eq!(
        notification::Entity::find()
            .filter(notification::Column::ConversationId.eq(id))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}

/// Reads the event stream until `needle` appears (or a few seconds pass); returns the text.
async fn read_stream_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !text.contains(needle) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    text
}

#[tokio::test]
async fn the_event_stream_carries_the_bell_count_to_the_notified_member_only() {
    // Arrange
    let app = spawn_app().await;
    let team = team(&app).await;
    let (first, _) = arrives(&app, &team, "Parcel", "Where is it?").await;
    let (second, _) = arrives(&app, &team, "Refund", "Money?").await;
    let (third, _) = arrives(&app, &team, "Invoice", "Which address?").await;
    let (fourth, _) = arrives(&app, &team, "Size", "Too small").await;
    let mut beas = team.bea_browser.get("/events").await;
    let mut carls = team.carl_browser.get("/events").await;
    assert_eq!(beas.headers()["content-type"], "text/event-stream");

    // Act: Bea's count goes 1, 2 before Carl's does, so a leak would reach Carl first.
    assign(&app, first, team.bea).await;
    assign(&app, third, team.bea).await;
    assign(&app, second, team.carl).await;
    assign(&app, fourth, team.carl).await;

    // Assert
    let counts = |text: &str| -> Vec<String> {
        text.split("event: notification\ndata: ")
            .skip(1)
            .map(|rest| rest.split('\n').next().unwrap_or_default().to_owned())
            .collect()
    };
    let text = read_stream_until(&mut beas, "\"unread\":2}").await;
    assert_eq!(
        counts(&text),
        ["{\"unread\":1}", "{\"unread\":2}"],
        "{text}"
    );
    let text = read_stream_until(&mut carls, "\"unread\":2}").await;
    assert_eq!(
        counts(&text),
        ["{\"unread\":1}", "{\"unread\":2}"],
        "only Carl's own counts reached Carl: {text}"
    );
}

#[tokio::test]
async fn a_restricted_customer_s_conversation_leaves_an_agent_s_notification_list() {
    let app = spawn_app().await;
    let team = team(&app).await;
    let (id, _) = arrives(&app, &team, "Parcel 4711", "Where is it?").await;
    assign(&app, id, team.bea).await;
    assert!(
        team.bea_browser
            .get_text("/notifications")
            .await
            .contains("Parcel 4711")
    );

    let customer = format!("/customers/{}", app.conversation(id).await.customer_id);
    let restricted = app
        .post_form(
            &customer,
            &format!("{customer}/restriction"),
            &[("reason", "The customer contests the accuracy of the data")],
        )
        .await;
    assert_eq!(restricted.status(), 303);
    let list = team.bea_browser.get_text("/notifications").await;
    assert!(
        !list.contains("Parcel 4711"),
        "hidden from the agent, as in the inbox"
    );
    assert!(!list.contains(&format!("/conversations/{id}\"")));
}
