//! Saved views (issue 15): an inbox filter with a name, private to its creator or shared with
//! the team, listed in the sidebar with a live count; only the creator or an admin changes
//! or deletes a shared one; a text query counts through the search index; erasing a
//! customer removes the views that name them.

use lethe::db::entity::saved_view;
use lethe::orgs::OrgId;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{TestApp, arriving, location, mail, spawn_app, unique_suffix};

/// "Shop V": its owner (signed in on `app`), two agents (each in their own browser) and the
/// channel.
async fn shop(app: &TestApp) -> (OrgId, i64, TestApp, TestApp) {
    app.create_user("owner@shop-v.test", "Shop V", "owner")
        .await;
    app.create_user("ada@shop-v.test", "Shop V", "agent").await;
    app.create_user("bob@shop-v.test", "Shop V", "agent").await;
    let org = app.org_id("Shop V").await;
    let channel = app
        .email_channel(org, "Support", "support@shop-v.test", None)
        .await
        .0;
    app.login("owner@shop-v.test").await;
    let ada = app.another_browser();
    ada.login("ada@shop-v.test").await;
    let bob = app.another_browser();
    bob.login("bob@shop-v.test").await;
    (org, channel, ada, bob)
}

async fn arrives(app: &TestApp, org: OrgId, channel: i64, from: &str, subject: &str) -> i64 {
    let raw = mail(
        from,
        &format!("{}@sender.test", unique_suffix()),
        subject,
        "Hello, I would like my money back.",
    )
    .to("support@shop-v.test");
    app.ingest(arriving(org, Some(channel)), raw).await.0
}

/// Saves the view of `query` as `name`; the new view's id.
async fn save_view(app: &TestApp, query: &str, name: &str, shared: bool) -> i64 {
    let mut fields = vec![("query", query), ("name", name)];
    if shared {
        fields.push(("shared", "on"));
    }
    let response = app
        .post_form(&format!("/inbox?{query}"), "/inbox/views", &fields)
        .await;
    assert_eq!(response.status(), 303);
    let to = location(&response);
    to.rsplit("view=")
        .next()
        .and_then(|rest| rest.split('&').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no view id in {to}"))
}

async fn counts(app: &TestApp) -> serde_json::Value {
    crate::helpers::json_of(app.client.get(app.url("/inbox/counts"))).await
}

#[tokio::test]
async fn private_views_are_their_creators_and_shared_ones_everyones_with_counts() {
    let app = spawn_app().await;
    let (org, channel, ada, bob) = shop(&app).await;
    let refund = arrives(
        &app,
        org,
        channel,
        "Anna <anna@customer.test>",
        "Refund please",
    )
    .await;
    arrives(&app, org, channel, "Ben <ben@customer.test>", "Refund too").await;
    arrives(&app, org, channel, "Cleo <cleo@customer.test>", "Question").await;
    let path = format!("/conversations/{refund}");
    app.post_form(&path, &format!("{path}/tags"), &[("name", "refund")])
        .await;
    let tag = lethe::db::entity::tag::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;

    let private = save_view(
        &ada,
        &format!("status=open&assignee=all&tag={tag}"),
        "My refunds",
        false,
    )
    .await;
    let shared = save_view(&ada, "status=open&assignee=unassigned", "Team queue", true).await;

    // Ada sees both, with counts, in the sidebar and in the live counts.
    let page = ada.get_text(&format!("/inbox?view={private}")).await;
    assert!(
        page.contains("My refunds") && page.contains("Team queue"),
        "{page}"
    );
    assert!(
        page.contains(&format!("data-folder-count=\"view-{private}\">1<")),
        "{page}"
    );
    assert!(
        page.contains(&format!("data-folder-count=\"view-{shared}\">3<")),
        "{page}"
    );
    let live = counts(&ada).await;
    assert_eq!(live[format!("view-{private}")], 1, "{live}");
    assert_eq!(live[format!("view-{shared}")], 3, "{live}");

    // Bob sees the shared one only, and cannot touch it.
    let page = bob.get_text("/inbox").await;
    assert!(
        page.contains("Team queue") && !page.contains("My refunds"),
        "{page}"
    );
    let live = counts(&bob).await;
    assert!(live.get(format!("view-{private}")).is_none(), "{live}");
    assert_eq!(live[format!("view-{shared}")], 3, "{live}");
    assert_eq!(
        bob.get(&format!("/inbox/views/{private}")).await.status(),
        404
    );
    assert_eq!(
        bob.get(&format!("/inbox/views/{shared}")).await.status(),
        403
    );
    let csrf = crate::helpers::csrf_of(&bob.get_text("/inbox").await);
    let refused = bob
        .post_with_csrf(&format!("/inbox/views/{shared}/delete"), &csrf, &[])
        .await;
    assert_eq!(refused.status(), 403);
    let renamed = bob
        .post_with_csrf(
            &format!("/inbox/views/{shared}"),
            &csrf,
            &[("name", "Mine now")],
        )
        .await;
    assert_eq!(renamed.status(), 403);

    // A count follows the conversations: one more unassigned conversation.
    arrives(&app, org, channel, "Dora <dora@customer.test>", "Another").await;
    assert_eq!(counts(&bob).await[format!("view-{shared}")], 4);

    // Its creator renames and unshares it; then Bob no longer sees it.
    let edit = format!("/inbox/views/{shared}");
    let response = ada
        .post_form(&edit, &edit, &[("name", "Unassigned (Ada)")])
        .await;
    assert_eq!(response.status(), 303);
    assert!(!bob.get_text("/inbox").await.contains("Unassigned (Ada)"));
    assert!(ada.get_text("/inbox").await.contains("Unassigned (Ada)"));

    // An admin may delete a shared view; its creator their private one.
    ada.post_form(&edit, &edit, &[("name", "Team queue"), ("shared", "on")])
        .await;
    let response = app.post_form(&edit, &format!("{edit}/delete"), &[]).await;
    assert_eq!(response.status(), 303);
    let own = format!("/inbox/views/{private}");
    let response = ada.post_form(&own, &format!("{own}/delete"), &[]).await;
    assert_eq!(response.status(), 303);
    assert!(
        saved_view::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_nameless_view_is_refused_and_a_text_view_counts_its_matches() {
    let app = spawn_app().await;
    let (org, channel, ada, _) = shop(&app).await;
    arrives(
        &app,
        org,
        channel,
        "Anna <anna@customer.test>",
        "Broken kettle",
    )
    .await;
    arrives(
        &app,
        org,
        channel,
        "Ben <ben@customer.test>",
        "Kettle again",
    )
    .await;
    arrives(&app, org, channel, "Cleo <cleo@customer.test>", "Question").await;
    lethe::search::indexer::run_once(&app.state).await.unwrap();

    let response = ada
        .post_form(
            "/inbox",
            "/inbox/views",
            &[("query", "status=open"), ("name", "  ")],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        response.text().await.unwrap().contains("a name"),
        "the reason is shown"
    );
    assert!(
        saved_view::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .is_empty()
    );

    let kettles = save_view(&ada, "status=open&assignee=all&q=kettle", "Kettles", false).await;
    let by_anna = save_view(
        &ada,
        "status=open&assignee=all&q=from:anna@customer.test",
        "Anna",
        false,
    )
    .await;
    let live = counts(&ada).await;
    assert_eq!(live[format!("view-{kettles}")], 2, "{live}");
    assert_eq!(live[format!("view-{by_anna}")], 1, "{live}");
    let page = ada
        .get_text(&format!(
            "/inbox?status=open&assignee=all&q=kettle&view={kettles}"
        ))
        .await;
    assert_eq!(page.matches("data-conversation-id=").count(), 2, "{page}");

    // Erasing Anna takes the view that names her with it.
    let anna = app
        .customer_of(
            lethe::db::entity::conversation::Entity::find()
                .filter(lethe::db::entity::conversation::Column::Subject.eq("Broken kettle"))
                .one(&app.state.db)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await;
    app.erase(org, anna).await;
    let left = || async {
        saved_view::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.id)
            .collect::<Vec<i64>>()
    };
    assert_eq!(left().await, vec![kettles]);

    // Deleting Ben the way retention does (the one deleting owner, crate::records) takes the
    // view naming him too.
    let by_ben = save_view(
        &ada,
        "status=open&assignee=all&q=from:ben@customer.test",
        "Ben",
        true,
    )
    .await;
    let ben = app
        .customer_of(
            lethe::db::entity::conversation::Entity::find()
                .filter(lethe::db::entity::conversation::Column::Subject.eq("Kettle again"))
                .one(&app.state.db)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await;
    assert_eq!(left().await, vec![kettles, by_ben]);
    let _removed = lethe::records::delete_customers(&app.state.db, org, &[ben], &app.state.journal)
        .await
        .unwrap();
    assert_eq!(left().await, vec![kettles]);

    // Ada leaves: her private view goes with her; a shared one stays the team's.
    let shared = save_view(&ada, "status=pending&assignee=all", "Pending", true).await;
    let ada_id = ada_user_id(&app).await;
    let response = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{ada_id}/remove"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(left().await, vec![shared]);
}

async fn ada_user_id(app: &TestApp) -> i64 {
    lethe::db::entity::user::Entity::find()
        .filter(lethe::db::entity::user::Column::Email.eq("ada@shop-v.test"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id
}
