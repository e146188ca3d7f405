//! Reports (issue 15): figures for a known data set by day and by week, per agent, tag and
//! channel; SVG charts and CSV downloads; anonymized and deleted conversations still count,
//! once, and leave no trace of the person; an objection leaves a customer out until lifted;
//! bad periods and agents are refused.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use lethe::db::entity::{audit_event, conversation, message};
use lethe::orgs::OrgId;
use lethe::retention::{Action, Category};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::helpers::{TestApp, arriving, csrf_of, mail, spawn_app, traces, unique_suffix};

/// A moment of March 2026 in the server's zone (the zone reports count days in).
fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    // Reports count in the organization's time zone: UTC until it sets one (/settings/sla).
    Utc.with_ymd_and_hms(2026, 3, day, hour, minute, 0)
        .earliest()
        .unwrap()
}

struct Shop {
    org: OrgId,
    support: i64,
    sales: i64,
    xavier: i64,
    owner: i64,
}

/// "Shop R" with an owner (signed in), an agent Xavier, channels Support and Sales.
async fn shop(app: &TestApp) -> Shop {
    let owner = app
        .create_user("owner@shop-r.test", "Shop R", "owner")
        .await;
    let xavier = app
        .create_user("xavier@shop-r.test", "Shop R", "agent")
        .await;
    for (id, name) in [(owner, "Olive Owner"), (xavier, "Xavier Agent")] {
        lethe::db::entity::user::Entity::update_many()
            .col_expr(
                lethe::db::entity::user::Column::DisplayName,
                Expr::val(name),
            )
            .filter(lethe::db::entity::user::Column::Id.eq(id))
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    let org = app.org_id("Shop R").await;
    let support = app
        .email_channel(org, "Support", "support@shop-r.test", None)
        .await
        .0;
    let sales = app
        .email_channel(org, "Sales", "sales@shop-r.test", None)
        .await
        .0;
    app.login("owner@shop-r.test").await;
    Shop {
        org,
        support,
        sales,
        xavier,
        owner,
    }
}

/// One conversation as it happened: a customer mail on `channel` at `created`, an agent's
/// reply at `answered`, closed at `closed`, assigned to `assignee`, with `tags` (added on the
/// page). The times are written into the rows (as if it had happened then) and the report
/// facts recomputed, as the events would have.
struct Story<'a> {
    who: &'a str,
    channel: i64,
    created: DateTime<Utc>,
    answered: Option<DateTime<Utc>>,
    closed: Option<DateTime<Utc>>,
    assignee: Option<i64>,
    tags: &'a [&'a str],
}

async fn happened(app: &TestApp, shop: &Shop, story: Story<'_>) -> i64 {
    let suffix = unique_suffix();
    let raw = mail(
        &format!(
            "{} <{}{suffix}@kunde.test>",
            story.who,
            story.who.to_lowercase()
        ),
        &format!("{suffix}@kunde.test"),
        "Where is my parcel?",
        "Hello, where is my parcel?",
    )
    .to("support@shop-r.test");
    let (id, _) = app
        .ingest(arriving(shop.org, Some(story.channel)), raw)
        .await;
    let path = format!("/conversations/{id}");
    for tag in story.tags {
        app.post_form(&path, &format!("{path}/tags"), &[("name", tag)])
            .await;
    }
    let db = &app.state.db;
    message::Entity::update_many()
        .col_expr(message::Column::CreatedAt, Expr::val(story.created))
        .filter(message::Column::ConversationId.eq(id))
        .exec(db)
        .await
        .unwrap();
    if let Some(answered) = story.answered {
        message::ActiveModel {
            organization_id: Set(shop.org),
            conversation_id: Set(id),
            direction: Set("outbound".into()),
            kind: Set("normal".into()),
            message_id_header: Set(format!("reply-{suffix}@shop-r.test")),
            in_reply_to: Set(String::new()),
            references_header: Set(String::new()),
            from_name: Set("Shop R".into()),
            from_address: Set("support@shop-r.test".into()),
            to_addresses: Set(String::new()),
            cc_addresses: Set(String::new()),
            subject: Set("Re: Where is my parcel?".into()),
            text_body: Set("It is on its way.".into()),
            html_body: Set(None),
            parse_notes: Set(String::new()),
            author_id: Set(story.assignee),
            delivery_status: Set(Some("sent".into())),
            delivery_error: Set(None),
            sent_at: Set(Some(answered)),
            created_at: Set(answered),
            bcc_addresses: Set(String::new()),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    let last_activity = story.closed.or(story.answered).unwrap_or(story.created);
    conversation::Entity::update_many()
        .col_expr(conversation::Column::CreatedAt, Expr::val(story.created))
        .col_expr(
            conversation::Column::LastActivityAt,
            Expr::val(last_activity),
        )
        .col_expr(
            conversation::Column::Status,
            Expr::val(if story.closed.is_some() {
                "closed"
            } else {
                "open"
            }),
        )
        .col_expr(conversation::Column::ClosedAt, Expr::val(story.closed))
        .col_expr(conversation::Column::AssigneeId, Expr::val(story.assignee))
        .filter(conversation::Column::Id.eq(id))
        .exec(db)
        .await
        .unwrap();
    lethe::reports::facts::refresh(db, shop.org, &[id])
        .await
        .unwrap();
    id
}

/// The known data set (see the figures asserted below); the conversation ids c1..c5.
async fn known_data(app: &TestApp, shop: &Shop) -> Vec<i64> {
    let stories = [
        // c1: Support, billing, Xavier; answered in 1 h, closed in 4 h.
        Story {
            who: "Anna",
            channel: shop.support,
            created: at(2, 9, 0),
            answered: Some(at(2, 10, 0)),
            closed: Some(at(2, 13, 0)),
            assignee: Some(shop.xavier),
            tags: &["billing"],
        },
        // c2: Support, billing + shipping, Xavier; answered in 2 h, closed in 24 h.
        Story {
            who: "Bert",
            channel: shop.support,
            created: at(3, 10, 0),
            answered: Some(at(3, 12, 0)),
            closed: Some(at(4, 10, 0)),
            assignee: Some(shop.xavier),
            tags: &["billing", "shipping"],
        },
        // c3: Sales, untagged, unassigned; answered in 30 min, still open.
        Story {
            who: "Cleo",
            channel: shop.sales,
            created: at(3, 15, 0),
            answered: Some(at(3, 15, 30)),
            closed: None,
            assignee: None,
            tags: &[],
        },
        // c4: Sales, shipping, the owner; never answered, closed in 24 h.
        Story {
            who: "Dora",
            channel: shop.sales,
            created: at(9, 8, 0),
            answered: None,
            closed: Some(at(10, 8, 0)),
            assignee: Some(shop.owner),
            tags: &["shipping"],
        },
        // c5: Support, unassigned; created before the period, closed in it after 4 days.
        Story {
            who: "Emil",
            channel: shop.support,
            created: Utc.with_ymd_and_hms(2026, 2, 26, 9, 0, 0).unwrap(),
            answered: None,
            closed: Some(at(2, 9, 0)),
            assignee: None,
            tags: &[],
        },
    ];
    let mut ids = Vec::new();
    for story in stories {
        ids.push(happened(app, shop, story).await);
    }
    ids
}

const PERIOD: &str = "from=2026-03-02&to=2026-03-15";

/// A CSV document as rows of fields (RFC 4180 quoting).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// A CSV table keyed by its first column: header name → value.
async fn csv_table(app: &TestApp, query: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let response = app.get(&format!("/reports.csv?{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    let disposition = response
        .headers()
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"lethe-report-"),
        "{disposition}"
    );
    let rows = parse_csv(&response.text().await.unwrap());
    let header = rows[0].clone();
    rows[1..]
        .iter()
        .map(|r| {
            (
                r[0].clone(),
                header.iter().cloned().zip(r.iter().cloned()).collect(),
            )
        })
        .collect()
}

fn get<'a>(table: &'a BTreeMap<String, BTreeMap<String, String>>, row: &str, col: &str) -> &'a str {
    table
        .get(row)
        .unwrap_or_else(|| panic!("no row {row:?} in {table:?}"))
        .get(col)
        .unwrap_or_else(|| panic!("no column {col:?}"))
}

/// The rows of a table on the page: label → (new, closed).
fn page_rows(html: &str, table_id: &str) -> BTreeMap<String, (String, String)> {
    let section = html
        .split(&format!("id=\"table-{table_id}\""))
        .nth(1)
        .unwrap()
        .split("</section>")
        .next()
        .unwrap();
    section
        .split("<tr><th scope=\"row\">")
        .skip(1)
        .map(|row| {
            let label = row.split("</th>").next().unwrap().to_owned();
            let counts: Vec<String> = row
                .split("<td class=\"count\">")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap().to_owned())
                .collect();
            (label, (counts[0].clone(), counts[1].clone()))
        })
        .collect()
}

fn total(html: &str, id: &str) -> String {
    html.split(&format!("id=\"{id}\">"))
        .nth(1)
        .unwrap()
        .split("</dd>")
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_known_data_set_gives_known_figures_by_day_week_agent_tag_and_channel() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    known_data(&app, &shop).await;

    // Totals on the page.
    let page = app.get_text(&format!("/reports?{PERIOD}")).await;
    assert_eq!(total(&page, "total-new"), "4");
    assert_eq!(total(&page, "total-closed"), "4");
    // First responses 30 min, 1 h, 2 h: median 1 h, p90 2 h.
    assert_eq!(
        total(&page, "total-first-response"),
        "median 1 h 0 min · p90 2 h 0 min"
    );
    // Resolutions 4 h, 24 h, 24 h, 4 d: median 1 d, p90 4 d.
    assert_eq!(
        total(&page, "total-resolution"),
        "median 1 d 0 h · p90 4 d 0 h"
    );
    // No SLA outcome recorded: no figure.
    assert_eq!(total(&page, "total-sla-first-response"), "—");

    // By day (CSV, seconds).
    let days = csv_table(&app, &format!("table=volume&{PERIOD}&group=day")).await;
    assert_eq!(days.len(), 14, "every day of the period has a row");
    assert_eq!(get(&days, "2026-03-02", "new"), "1");
    assert_eq!(get(&days, "2026-03-02", "closed"), "2");
    assert_eq!(get(&days, "2026-03-02", "resolution_median_s"), "14400");
    assert_eq!(get(&days, "2026-03-02", "resolution_p90_s"), "345600");
    assert_eq!(get(&days, "2026-03-03", "new"), "2");
    assert_eq!(get(&days, "2026-03-03", "first_response_median_s"), "1800");
    assert_eq!(get(&days, "2026-03-03", "first_response_p90_s"), "7200");
    assert_eq!(get(&days, "2026-03-04", "closed"), "1");
    assert_eq!(get(&days, "2026-03-05", "new"), "0");
    assert_eq!(get(&days, "2026-03-05", "first_response_median_s"), "");
    assert_eq!(get(&days, "2026-03-09", "new"), "1");
    assert_eq!(get(&days, "2026-03-10", "closed"), "1");
    assert_eq!(get(&days, "2026-03-10", "sla_resolution_pct"), "");

    // By week (Monday first).
    let weeks = csv_table(&app, &format!("table=volume&{PERIOD}&group=week")).await;
    assert_eq!(
        weeks.keys().collect::<Vec<_>>(),
        ["2026-03-02", "2026-03-09"]
    );
    assert_eq!(get(&weeks, "2026-03-02", "new"), "3");
    assert_eq!(get(&weeks, "2026-03-02", "closed"), "3");
    assert_eq!(get(&weeks, "2026-03-02", "first_response_median_s"), "3600");
    assert_eq!(get(&weeks, "2026-03-09", "new"), "1");
    assert_eq!(get(&weeks, "2026-03-09", "resolution_median_s"), "86400");

    // Per agent, tag and channel.
    let agents = csv_table(&app, &format!("table=agents&{PERIOD}")).await;
    assert_eq!(get(&agents, "Xavier Agent", "new"), "2");
    assert_eq!(get(&agents, "Xavier Agent", "closed"), "2");
    assert_eq!(
        get(&agents, "Xavier Agent", "first_response_median_s"),
        "3600"
    );
    assert_eq!(get(&agents, "Xavier Agent", "first_response_p90_s"), "7200");
    assert_eq!(get(&agents, "Olive Owner", "new"), "1");
    assert_eq!(get(&agents, "Olive Owner", "first_response_median_s"), "");
    assert_eq!(get(&agents, "Unassigned", "new"), "1");
    assert_eq!(get(&agents, "Unassigned", "closed"), "1");
    let tags = csv_table(&app, &format!("table=tags&{PERIOD}")).await;
    assert_eq!(tags.len(), 2);
    assert_eq!(get(&tags, "billing", "new"), "2");
    assert_eq!(get(&tags, "billing", "closed"), "2");
    assert_eq!(get(&tags, "shipping", "new"), "2");
    assert_eq!(get(&tags, "shipping", "resolution_median_s"), "86400");
    let channels = csv_table(&app, &format!("table=channels&{PERIOD}")).await;
    assert_eq!(get(&channels, "Support", "new"), "2");
    assert_eq!(get(&channels, "Support", "closed"), "3");
    assert_eq!(get(&channels, "Sales", "new"), "2");
    assert_eq!(get(&channels, "Sales", "closed"), "1");
    let hours = csv_table(&app, &format!("table=hours&{PERIOD}")).await;
    assert_eq!(get(&hours, "monday", "09"), "1");
    assert_eq!(get(&hours, "monday", "08"), "1");
    assert_eq!(get(&hours, "tuesday", "15"), "1");

    // The page's tables say what the downloads say.
    for (id, csv) in [
        ("agents", &agents),
        ("tags", &tags),
        ("channels", &channels),
    ] {
        let rows = page_rows(&page, id);
        assert_eq!(rows.len(), csv.len(), "{id}");
        for (label, (new, closed)) in rows {
            assert_eq!(get(csv, &label, "new"), new, "{id} {label}");
            assert_eq!(get(csv, &label, "closed"), closed, "{id} {label}");
        }
    }

    // Charts: inline SVG with a title and a description, no script, nothing from elsewhere.
    assert!(page.contains("<svg"));
    assert!(page.contains("role=\"img\""));
    assert!(page.contains(
        "<title id=\"chart-volume-title\">New and closed conversations per day, 2026-03-02 to 2026-03-15</title>"
    ));
    assert!(page.contains("<desc id=\"chart-volume-desc\">Bar chart: 4 new and 4 closed"));
    assert!(page.contains("<title id=\"chart-hours-title\">Busiest hours"));
    assert!(!page.contains("<script>"));
    assert!(!page.contains("src=\"http"));
}

#[tokio::test]
async fn events_on_the_pages_keep_the_figures_up_to_date() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    // A channel that can send (nothing listens on the port: the reply stays queued).
    let mailing = app
        .email_channel(shop.org, "Mailing", "mailing@shop-r.test", Some(9))
        .await
        .0;
    let raw = mail(
        "Fay <fay@kunde.test>",
        "fay1@kunde.test",
        "Refund",
        "My refund?",
    )
    .to("mailing@shop-r.test");
    let (id, _) = app.ingest(arriving(shop.org, Some(mailing)), raw).await;
    let path = format!("/conversations/{id}");
    let replied = app
        .post_form(&path, &format!("{path}/reply"), &[("text", "On its way")])
        .await;
    assert_eq!(replied.status(), 303, "{}", replied.text().await.unwrap());
    app.post_form(&path, &format!("{path}/tags"), &[("name", "refund")])
        .await;
    app.post_form(
        &path,
        &format!("{path}/assignee"),
        &[("assignee", &shop.xavier.to_string())],
    )
    .await;
    app.post_form(&path, &format!("{path}/status"), &[("status", "closed")])
        .await;

    let agents = csv_table(&app, "table=agents").await;
    assert_eq!(get(&agents, "Xavier Agent", "new"), "1");
    assert_eq!(get(&agents, "Xavier Agent", "closed"), "1");
    assert_ne!(get(&agents, "Xavier Agent", "first_response_median_s"), "");
    let tags = csv_table(&app, "table=tags").await;
    assert_eq!(get(&tags, "refund", "new"), "1");

    // Reopening clears the close.
    app.post_form(&path, &format!("{path}/status"), &[("status", "open")])
        .await;
    let channels = csv_table(&app, "table=channels").await;
    assert_eq!(get(&channels, "Mailing", "new"), "1");
    assert_eq!(get(&channels, "Mailing", "closed"), "0");
    // Spam is not support work.
    app.post_form(&path, &format!("{path}/spam"), &[("block", "")])
        .await;
    assert!(csv_table(&app, "table=channels").await.is_empty());
}

#[tokio::test]
async fn anonymized_and_erased_conversations_still_count_once_and_leave_no_trace() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    let ids = known_data(&app, &shop).await;
    let before = csv_table(&app, &format!("table=volume&{PERIOD}")).await;
    let bert = app.customer_of(ids[1]).await;

    // Anonymized by a retention rule (every closed conversation is months old).
    app.save_rule(
        shop.org,
        Category::ClosedConversations,
        1,
        Action::Anonymize,
    )
    .await;
    lethe::retention::run_once(&app.state, shop.org, false)
        .await
        .unwrap();
    assert_ne!(
        app.customer_of(ids[1]).await,
        bert,
        "the conversation was anonymized (moved to a pseudonymous customer)"
    );
    assert_eq!(
        csv_table(&app, &format!("table=volume&{PERIOD}")).await,
        before,
        "anonymized conversations count as before"
    );

    // Cleo (c3, open) is erased: her conversation is gone, its numbers stay, once.
    let cleo = app.customer_of(ids[2]).await;
    let record = app.find_customer(cleo).await.unwrap();
    let address = lethe::db::entity::customer_email::Entity::find()
        .filter(lethe::db::entity::customer_email::Column::CustomerId.eq(cleo))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .email;
    let needles = [
        address.clone().into_bytes(),
        record.display_name.clone().into_bytes(),
    ];
    let confirm = app.get_text(&format!("/customers/{cleo}/erase")).await;
    let erased = app
        .post_with_csrf(&format!("/customers/{cleo}/erase"), &csrf_of(&confirm), &[])
        .await;
    assert_eq!(erased.status(), 303);
    assert!(app.find_conversation(ids[2]).await.is_none());
    if app.database_url.is_none() {
        let found = traces(&app.data_dir, &needles);
        assert!(found.is_empty(), "traces left: {found:#?}");
    }
    assert_eq!(
        csv_table(&app, &format!("table=volume&{PERIOD}")).await,
        before,
        "the erased conversation counts as before, once"
    );
    let page = app.get_text(&format!("/reports?{PERIOD}")).await;
    assert_eq!(total(&page, "total-new"), "4");
    assert!(!page.contains(&address) && !page.contains("Cleo"));

    // Deleted by retention too: still once.
    app.save_rule(shop.org, Category::AnyConversation, 1, Action::Delete)
        .await;
    lethe::retention::run_once(&app.state, shop.org, false)
        .await
        .unwrap();
    assert!(app.find_conversation(ids[0]).await.is_none());
    assert_eq!(
        csv_table(&app, &format!("table=volume&{PERIOD}")).await,
        before,
        "deleted conversations count as before"
    );
}

async fn totals(app: &TestApp) -> (String, String) {
    let html = app.get_text(&format!("/reports?{PERIOD}")).await;
    (total(&html, "total-new"), total(&html, "total-closed"))
}

#[tokio::test]
async fn an_objection_leaves_the_customer_out_until_an_admin_lifts_it() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    let ids = known_data(&app, &shop).await;
    let bert = app.customer_of(ids[1]).await;
    let page = format!("/customers/{bert}");
    assert_eq!(totals(&app).await, ("4".into(), "4".into()));

    let recorded = app
        .post_form(
            &page,
            &format!("{page}/objections"),
            &[
                ("received", "2026-03-20"),
                ("text", "No profiling, please"),
                ("exclude_reports", "on"),
            ],
        )
        .await;
    assert_eq!(recorded.status(), 303);
    assert_eq!(totals(&app).await, ("3".into(), "3".into()));
    let tags = csv_table(&app, &format!("table=tags&{PERIOD}")).await;
    assert_eq!(get(&tags, "billing", "new"), "1");

    let lifted = app
        .post_form(&page, &format!("{page}/objections/lift"), &[])
        .await;
    assert_eq!(lifted.status(), 303);
    assert_eq!(totals(&app).await, ("4".into(), "4".into()));

    let actions: Vec<audit_event::Model> = audit_event::Entity::find()
        .filter(
            audit_event::Column::Action
                .is_in(["privacy.request_recorded", "privacy.objection_lifted"]),
        )
        .order_by_asc(audit_event::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(actions.len(), 2);
    assert!(actions[0].details.contains("exclude_reports"));
    assert!(actions[0].details.contains("\"excluded_from_reports\":1"));
    assert!(actions[1].details.contains("\"restored_to_reports\":1"));
}

#[tokio::test]
async fn bad_periods_are_refused_naming_the_field_and_agents_are_refused() {
    let app = spawn_app().await;
    let _shop = shop(&app).await;
    for (query, field) in [
        (
            "from=2026-03-10&to=2026-03-01",
            "The field “from” must not be after “to”",
        ),
        ("from=last+week", "The field “from” must be a date"),
        ("to=2026-02-31", "The field “to” must be a date"),
        ("group=month", "The field “group”"),
    ] {
        for path in ["/reports", "/reports.csv"] {
            let url = if path == "/reports.csv" {
                format!("{path}?table=volume&{query}")
            } else {
                format!("{path}?{query}")
            };
            let response = app.get(&url).await;
            assert_eq!(response.status(), 400, "{url}");
            let body = response.text().await.unwrap();
            assert!(body.contains(field), "{url}: {body}");
        }
    }
    let response = app.get("/reports.csv?table=people").await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("The field “table”"));

    // Reports compare members: admins and owners only.
    let agent = app.another_browser();
    agent.login("xavier@shop-r.test").await;
    assert_eq!(agent.get("/reports").await.status(), 403);
    assert_eq!(agent.get("/reports.csv?table=agents").await.status(), 403);
    assert!(!agent.get_text("/inbox").await.contains("href=\"/reports\""));
    assert!(app.get_text("/inbox").await.contains("href=\"/reports\""));
}

#[tokio::test]
async fn the_sla_hit_rate_counts_met_and_missed_deadlines_and_days_follow_the_organization_s_zone()
{
    let app = spawn_app().await;
    let shop = shop(&app).await;
    // First response within 1 h of business time, every hour of every day, in Tokyo.
    let mut fields: Vec<(String, String)> = vec![
        ("time_zone".into(), "Asia/Tokyo".into()),
        ("first_response".into(), "1h".into()),
        ("resolution".into(), "8h".into()),
        ("rules".into(), String::new()),
    ];
    for day in 0..7 {
        fields.push((format!("open_{day}"), "on".into()));
        fields.push((format!("from_{day}"), "00:00".into()));
        fields.push((format!("to_{day}"), "23:59".into()));
    }
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let saved = app
        .post_form("/settings/sla", "/settings/sla", &borrowed)
        .await;
    assert_eq!(saved.status(), 303, "the SLA settings are saved");
    let stories = [
        // Answered after 30 min: met.
        (at(2, 1, 0), Some(at(2, 1, 30))),
        // Answered after 3 h: missed.
        (at(3, 1, 0), Some(at(3, 4, 0))),
        // Never answered, long past its deadline: missed.
        (at(4, 1, 0), None),
    ];
    let mut ids = Vec::new();
    for (created, answered) in stories {
        let id = happened(
            &app,
            &shop,
            Story {
                who: "Dora",
                channel: shop.support,
                created,
                answered,
                closed: None,
                assignee: None,
                tags: &[],
            },
        )
        .await;
        lethe::sla::compute(&app.state.db, shop.org, &[id])
            .await
            .unwrap();
        if let Some(answered) = answered {
            // What sending the reply records (src/mail/outbound.rs).
            lethe::sla::first_reply(&app.state.db, id, answered)
                .await
                .unwrap();
        }
        let due = app.conversation(id).await.first_response_due_at;
        assert_eq!(due, Some(created + Duration::hours(1)), "due an hour later");
        ids.push(id);
    }
    lethe::reports::facts::refresh(&app.state.db, shop.org, &ids)
        .await
        .unwrap();
    let page = app.get_text(&format!("/reports?{PERIOD}")).await;
    assert_eq!(total(&page, "total-sla-first-response"), "33 %");
    // 01:00 UTC is 10:00 in Tokyo: the busiest hour is counted in the organization's zone.
    let hours = app
        .get_text(&format!("/reports.csv?table=hours&{PERIOD}"))
        .await;
    let mut lines = hours.lines();
    let head: Vec<&str> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|f| f.trim_matches('"'))
        .collect();
    let column = |name: &str| {
        head.iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name} in {hours}"))
    };
    let (ten, one) = (column("10"), column("01"));
    let sum = |index: usize| -> u64 {
        hours
            .lines()
            .skip(1)
            .map(|line| {
                let field = line.split(',').nth(index).unwrap();
                field.trim_matches('"').parse::<u64>().unwrap()
            })
            .sum()
    };
    assert_eq!(
        sum(ten),
        3,
        "all three started at 10:00 Tokyo time: {hours}"
    );
    assert_eq!(sum(one), 0, "none at 01:00, their UTC hour: {hours}");
}
