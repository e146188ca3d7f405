//! SLA targets (issue 15): the settings page refuses what does not parse, conversations get
//! due times in business time, pages show time left or overdue, the inbox sorts and filters
//! by it, the first agent reply meets the first response, tag rules override the default,
//! and the admins are mailed once before a breach, without customer content.

use chrono::{DateTime, Duration, Utc};
use lethe::db::entity::{audit_event, conversation, sla_setting};
use lethe::orgs::OrgId;
use lethe::sla;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{
    AppOptions, TestApp, arriving, mail, spawn_app, spawn_app_with, unique_suffix,
};
use crate::smtp::SmtpRecorder;

const SETTINGS: &str = "/settings/sla";

/// An owner of "Shop S" (signed in) and its channel.
async fn shop(app: &TestApp) -> (OrgId, i64) {
    shop_sending(app, None).await
}

/// [`shop`] with a channel that sends through the SMTP recorder on `smtp_port`.
async fn shop_sending(app: &TestApp, smtp_port: Option<u16>) -> (OrgId, i64) {
    app.create_user("owner@shop-s.test", "Shop S", "owner")
        .await;
    let org = app.org_id("Shop S").await;
    let channel = app
        .email_channel(org, "Support", "support@shop-s.test", smtp_port)
        .await
        .0;
    app.login("owner@shop-s.test").await;
    (org, channel)
}

/// The settings form: open every day 00:00–23:59 UTC (so business time is almost wall
/// time), with `changes` on top.
fn form(changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = vec![
        ("time_zone".into(), "UTC".into()),
        ("first_response".into(), "2h".into()),
        ("resolution".into(), "8h".into()),
        ("rules".into(), "tag:vip | 30m | -".into()),
    ];
    for day in 0..7 {
        fields.push((format!("open_{day}"), "on".into()));
        fields.push((format!("from_{day}"), "00:00".into()));
        fields.push((format!("to_{day}"), "23:59".into()));
    }
    for (key, value) in changes {
        fields.retain(|(k, _)| k != key);
        fields.push(((*key).to_owned(), (*value).to_owned()));
    }
    fields
}

async fn save(app: &TestApp, changes: &[(&str, &str)]) -> reqwest::Response {
    let fields = form(changes);
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    app.post_form(SETTINGS, SETTINGS, &borrowed).await
}

/// A mail from a customer on the channel; the conversation's id.
async fn arrives(app: &TestApp, org: OrgId, channel: i64, subject: &str) -> i64 {
    let raw = mail(
        "Carla Customer <carla@customer.test>",
        &format!("{}@sender.test", unique_suffix()),
        subject,
        "My secret order number is 4711.",
    )
    .to("support@shop-s.test");
    app.ingest(arriving(org, Some(channel)), raw).await.0
}

/// Moves a conversation's start into the past and recomputes its due times.
async fn started_ago(app: &TestApp, org: OrgId, id: i64, minutes: i64) {
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::CreatedAt,
            Expr::val(Utc::now() - Duration::minutes(minutes)),
        )
        .filter(conversation::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .unwrap();
    sla::compute(&app.state.db, org, &[id]).await.unwrap();
}

/// Whether each target of a conversation was met as of `now`, decided as the reports decide
/// (`sla::met`): `None` without a target or while undecided.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    first_response_met: Option<bool>,
    resolution_met: Option<bool>,
}

fn outcome(c: &conversation::Model, now: DateTime<Utc>) -> Outcome {
    let closed = c.closed_at.filter(|_| c.status == "closed");
    Outcome {
        first_response_met: sla::met(c.first_response_due_at, c.first_responded_at, now),
        resolution_met: sla::met(c.resolution_due_at, closed, now),
    }
}

fn minutes_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_minutes()
}

/// The ids of the conversations the inbox lists under `query`, in order.
async fn listed(app: &TestApp, query: &str) -> Vec<i64> {
    let page = app.get_text(&format!("/inbox?{query}")).await;
    page.split("data-conversation-id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn bad_settings_are_refused_by_field_and_nothing_is_saved() {
    let app = spawn_app().await;
    let (org, _) = shop(&app).await;
    assert_eq!(app.get(SETTINGS).await.status(), 200);

    for (changes, reason) in [
        (vec![("time_zone", "Mars/Olympus_Mons")], "Time zone"),
        (
            vec![("from_2", "18:00"), ("to_2", "09:00")],
            "Business hours",
        ),
        (vec![("from_0", "nine")], "Business hours"),
        (vec![("holidays", "2026-02-30")], "Holidays"),
        (vec![("first_response", "soon")], "First response"),
        (vec![("rules", "channel:Nowhere | 1h | -")], "Rules"),
    ] {
        let response = save(&app, &changes).await;
        assert_eq!(response.status(), 400, "{changes:?}");
        let body = response.text().await.unwrap();
        assert!(body.contains(reason), "{changes:?}: {body}");
    }
    assert_eq!(app.count::<sla_setting::Entity>().await, 0);

    let response = save(&app, &[("holidays", "2026-12-25\n2026-12-26")]).await;
    assert_eq!(response.status(), 303);
    let (settings, _) = sla::settings_of(&app.state.db, org).await.unwrap().unwrap();
    assert_eq!(settings.default.first_response, Some(120));
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("sla.settings_changed"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    let page = app.get_text(SETTINGS).await;
    assert!(page.contains("2026-12-26"), "{page}");
    assert!(page.contains("tag:vip | 30m | -"), "{page}");

    // Agents cannot see or change it.
    app.create_user("agent@shop-s.test", "Shop S", "agent")
        .await;
    let agent = app.another_browser();
    agent.login("agent@shop-s.test").await;
    assert_eq!(agent.get(SETTINGS).await.status(), 403);
}

#[tokio::test]
async fn a_conversation_gets_due_times_shown_on_its_page_and_row() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    // Before any target: no SLA.
    let before = arrives(&app, org, channel, "Before").await;
    assert_eq!(app.conversation(before).await.sla_next_due_at, None);
    let page = app.get_text(&format!("/conversations/{before}")).await;
    assert!(!page.contains("data-sla="), "{page}");

    assert_eq!(save(&app, &[]).await.status(), 303);
    // The settings change reached the open conversation.
    let earlier = app.conversation(before).await;
    assert!(earlier.first_response_due_at.is_some());

    let id = arrives(&app, org, channel, "Where is my parcel").await;
    let c = app.conversation(id).await;
    let first = c.first_response_due_at.expect("first response due");
    let resolution = c.resolution_due_at.expect("resolution due");
    // Two and eight business hours (plus at most the minute the calendar is closed).
    assert!((120..=122).contains(&minutes_between(c.created_at, first)));
    assert!((480..=482).contains(&minutes_between(c.created_at, resolution)));
    assert_eq!(c.sla_next_due_at, Some(first));

    let page = app.get_text(&format!("/conversations/{id}")).await;
    assert!(page.contains("data-sla=\"on_track\""), "{page}");
    assert!(page.contains("First response:"), "{page}");
    assert!(
        page.contains("due in 1 h 5") || page.contains("due in 2 h"),
        "{page}"
    );
    let inbox = app.get_text("/inbox").await;
    let row = inbox
        .split(&format!("data-conversation-id=\"{id}\""))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("row");
    assert!(row.contains("data-sla=\"on_track\""), "{row}");
    assert!(row.contains("due in"), "{row}");
}

#[tokio::test]
async fn past_the_deadline_it_is_overdue_and_the_first_reply_decides_the_first_response() {
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app().await;
    let (org, channel) = shop_sending(&app, Some(smtp.port)).await;
    assert_eq!(
        save(&app, &[]).await.status(),
        303,
        "the settings are saved"
    );
    let late = arrives(&app, org, channel, "Late one").await;
    let on_time = arrives(&app, org, channel, "Quick one").await;
    started_ago(&app, org, late, 3 * 60).await;

    let page = app.get_text(&format!("/conversations/{late}")).await;
    assert!(page.contains("data-sla=\"overdue\""), "{page}");
    assert!(
        page.contains("overdue 5") || page.contains("overdue 1 h"),
        "{page}"
    );
    assert_eq!(listed(&app, "sla=overdue").await, vec![late]);
    assert_eq!(listed(&app, "sla=on_track").await, vec![on_time]);
    assert!(listed(&app, "sla=due_soon").await.is_empty());

    // A note is no response.
    let path = format!("/conversations/{on_time}");
    app.post_form(
        &path,
        &format!("{path}/notes"),
        &[("text", "Checking the warehouse")],
    )
    .await;
    assert_eq!(app.conversation(on_time).await.first_responded_at, None);
    let now = Utc::now();
    assert_eq!(
        outcome(&app.conversation(on_time).await, now),
        Outcome::default()
    );
    for id in [late, on_time] {
        let path = format!("/conversations/{id}");
        let response = app
            .post_form(&path, &format!("{path}/reply"), &[("text", "On its way.")])
            .await;
        assert_eq!(response.status(), 303);
    }
    let now = Utc::now();
    let answered = app.conversation(on_time).await;
    assert!(answered.first_responded_at.is_some());
    // The next deadline is the resolution now.
    assert_eq!(answered.sla_next_due_at, answered.resolution_due_at);
    assert_eq!(
        outcome(&answered, now),
        Outcome {
            first_response_met: Some(true),
            resolution_met: None,
        }
    );
    let late_model = app.conversation(late).await;
    assert_eq!(outcome(&late_model, now).first_response_met, Some(false));
    let page = app.get_text(&format!("/conversations/{on_time}")).await;
    assert!(page.contains("Resolution:"), "{page}");

    // Closed, its deadlines are over: the Closed folder holds it, no SLA filter or order does.
    let path = format!("/conversations/{late}");
    let response = app
        .post_form(&path, &format!("{path}/status"), &[("status", "closed")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(listed(&app, "status=closed").await, vec![late]);
    assert!(listed(&app, "status=closed&sla=overdue").await.is_empty());
    assert!(listed(&app, "status=closed&sort=sla").await.is_empty());
}

#[tokio::test]
async fn a_tag_rule_overrides_the_default_and_no_target_means_no_sla() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    assert_eq!(
        save(&app, &[]).await.status(),
        303,
        "the settings are saved"
    );
    let id = arrives(&app, org, channel, "VIP question").await;
    let c = app.conversation(id).await;
    assert!((120..=122).contains(&minutes_between(
        c.created_at,
        c.first_response_due_at.unwrap()
    )));

    let path = format!("/conversations/{id}");
    let response = app
        .post_form(&path, &format!("{path}/tags"), &[("name", "VIP")])
        .await;
    assert_eq!(response.status(), 303);
    let c = app.conversation(id).await;
    assert!((30..=31).contains(&minutes_between(
        c.created_at,
        c.first_response_due_at.unwrap()
    )));
    // The rule gives no resolution time: the default's stays.
    assert!((480..=482).contains(&minutes_between(c.created_at, c.resolution_due_at.unwrap())));

    // Only the tag rule left: an untagged conversation has no SLA.
    save(&app, &[("first_response", ""), ("resolution", "")]).await;
    let plain = arrives(&app, org, channel, "Plain question").await;
    let c = app.conversation(plain).await;
    assert_eq!(
        (
            c.first_response_due_at,
            c.resolution_due_at,
            c.sla_next_due_at
        ),
        (None, None, None)
    );
    assert_eq!(
        outcome(&c, Utc::now() + Duration::days(30)),
        Outcome::default()
    );
}

#[tokio::test]
async fn the_inbox_sorts_by_the_soonest_deadline() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let no_sla = arrives(&app, org, channel, "Before targets").await;
    assert_eq!(
        save(&app, &[]).await.status(),
        303,
        "the settings are saved"
    );
    // The settings change recomputed it; take it out of the SLA again for this test.
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::SlaNextDueAt,
            Expr::val(Option::<DateTime<Utc>>::None),
        )
        .filter(conversation::Column::Id.eq(no_sla))
        .exec(&app.state.db)
        .await
        .unwrap();
    let newest = arrives(&app, org, channel, "Newest").await;
    let oldest = arrives(&app, org, channel, "Oldest").await;
    let middle = arrives(&app, org, channel, "Middle").await;
    started_ago(&app, org, oldest, 150).await;
    started_ago(&app, org, middle, 30).await;

    assert_eq!(listed(&app, "sort=sla").await, vec![oldest, middle, newest]);
    // The default order is by activity and keeps every conversation.
    assert_eq!(listed(&app, "").await.len(), 4);
    assert_eq!(
        listed(&app, "sort=sla&sla=on_track").await,
        vec![middle, newest]
    );
}

#[tokio::test]
async fn admins_are_mailed_once_before_a_breach_without_customer_content() {
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    let (org, channel) = shop(&app).await;
    save(
        &app,
        &[("warn_minutes", "60"), ("time_zone", "Europe/Berlin")],
    )
    .await;
    let id = arrives(&app, org, channel, "Parcel lost").await;
    let calm = arrives(&app, org, channel, "Not yet due").await;
    // Due in about 30 minutes: inside the warning window.
    started_ago(&app, org, id, 90).await;

    let first = sla::warn::run_once(&app.state, Utc::now()).await.unwrap();
    assert_eq!(first.warned, 1, "{first:?}");
    let again = sla::warn::run_once(&app.state, Utc::now()).await.unwrap();
    assert_eq!(again.warned, 0, "{again:?}");
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let notice = crate::smtp::unfold_qp(&mails[0]);
    assert!(
        notice.starts_with("X-Recorded-Rcpt: owner@shop-s.test"),
        "{notice}"
    );
    assert!(notice.contains(&format!("/conversations/{id}")), "{notice}");
    assert!(notice.contains("first response"), "{notice}");
    // The due time as the team reads its clock: in the organization's time zone.
    let due = app
        .conversation(id)
        .await
        .first_response_due_at
        .expect("a due time")
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string();
    assert!(notice.contains(&due), "{due} in {notice}");
    for secret in ["Parcel lost", "4711", "carla", "Carla"] {
        assert!(!notice.contains(secret), "{secret} in {notice}");
    }
    assert!(
        app.conversation(id)
            .await
            .first_response_warned_at
            .is_some()
    );
    assert!(
        app.conversation(calm)
            .await
            .first_response_warned_at
            .is_none()
    );
}
