//! Organizations, roles, invitations and switching.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{AppOptions, PASSWORD, location, spawn_app, spawn_app_with};
use crate::smtp::{SmtpRecorder, unfold_qp};
use lethe::db::entity::{invitation, membership};

fn invite_link(html: &str) -> String {
    regex::Regex::new(r"/invitations/[A-Za-z0-9_-]{43}")
        .unwrap()
        .find(html)
        .expect("invitation link on the page")
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn an_admin_invites_by_link_and_the_invitee_creates_an_account() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let response = app
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "New.Agent@Shop.test"), ("role", "agent")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("This server sends no email"),
        "without SMTP the page hands out the link"
    );
    let link = invite_link(&html);

    // A duplicate invitation is refused with a message.
    let duplicate = app
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "new.agent@shop.test"), ("role", "agent")],
        )
        .await;
    assert_eq!(duplicate.status(), 422);
    assert!(
        duplicate
            .text()
            .await
            .unwrap()
            .contains("pending invitation already")
    );

    let invitee = app.another_browser();
    let page = invitee.get_text(&link).await;
    assert!(page.contains("You are invited to join Shop"));
    let bad = invitee
        .post_form(
            &link,
            &link,
            &[
                ("display_name", "New Agent"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let response = invitee
        .post_form(
            &link,
            &link,
            &[
                ("display_name", "New Agent"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(invitee.get_text("/inbox").await.contains("New Agent"));
    // Agents do not manage the team.
    assert_eq!(invitee.get("/settings/team").await.status(), 403);
    // The link is used up.
    assert_eq!(app.another_browser().get(&link).await.status(), 400);
}

#[tokio::test]
async fn an_invitation_is_mailed_when_smtp_is_configured() {
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions {
        smtp_url: Some(smtp.url()),
        ..Default::default()
    })
    .await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let response = app
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "helper@shop.test"), ("role", "admin")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let mail = unfold_qp(&smtp.wait_for(1).await[0]);
    assert!(mail.contains("helper@shop.test") && mail.contains("Auto-Submitted: auto-generated"));
    invite_link(&mail);
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let html = app
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "late@shop.test"), ("role", "agent")],
        )
        .await
        .text()
        .await
        .unwrap();
    let link = invite_link(&html);
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::ExpiresAt,
            (chrono::Utc::now() - chrono::Duration::hours(1)).into(),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let invitee = app.another_browser();
    let page = invitee.get(&link).await;
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("invalid, expired"));
    let response = invitee
        .post_form(
            "/login",
            &link,
            &[
                ("display_name", "Late"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn an_existing_user_signs_in_to_accept_and_can_switch_organizations() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop A", "owner").await;
    app.create_user("other@shop.test", "Shop B", "owner").await;
    app.login("owner@shop.test").await;
    let link = invite_link(
        &app.post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "other@shop.test"), ("role", "admin")],
        )
        .await
        .text()
        .await
        .unwrap(),
    );

    let invitee = app.another_browser();
    assert!(invitee.get_text(&link).await.contains("Sign in to accept"));
    invitee.login("other@shop.test").await;
    let response = invitee.post_form(&link, &link, &[]).await;
    assert_eq!(response.status(), 303);
    let inbox = invitee.get_text("/inbox").await;
    assert!(
        inbox.contains("Shop A") && inbox.contains("Shop B"),
        "the switcher lists both"
    );

    let shop_b = lethe::orgs::queries::find_by_name(&invitee.state.db, "Shop B")
        .await
        .unwrap()
        .unwrap()
        .0;
    let response = invitee
        .post_form(
            "/inbox",
            "/orgs/switch",
            &[("organization", &shop_b.get().to_string())],
        )
        .await;
    assert_eq!(response.status(), 303);
    let html = invitee.get_text("/settings/team").await;
    assert!(
        html.contains("other@shop.test") && !html.contains("owner@shop.test"),
        "now working in Shop B"
    );
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed_or_demoted() {
    let app = spawn_app().await;
    let owner = app.create_user("owner@shop.test", "Shop", "owner").await;
    let agent = app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let demote = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{owner}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(demote.status(), 409);
    assert!(demote.text().await.unwrap().contains("at least one owner"));
    let remove = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{owner}/remove"),
            &[],
        )
        .await;
    assert_eq!(remove.status(), 409);
    let roles: Vec<String> = membership::Entity::find()
        .filter(membership::Column::UserId.eq(owner))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.role)
        .collect();
    assert_eq!(roles, vec!["owner"]);

    // With a second owner, the first may step down.
    assert_eq!(
        app.post_form(
            "/settings/team",
            &format!("/settings/team/members/{agent}/role"),
            &[("role", "owner")]
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        app.post_form(
            "/settings/team",
            &format!("/settings/team/members/{owner}/role"),
            &[("role", "admin")]
        )
        .await
        .status(),
        303
    );
}

#[tokio::test]
async fn admins_cannot_make_owners_and_removed_members_lose_access() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let admin = app.create_user("admin@shop.test", "Shop", "admin").await;
    let agent = app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("admin@shop.test").await;
    assert_eq!(
        app.post_form(
            "/settings/team",
            &format!("/settings/team/members/{agent}/role"),
            &[("role", "owner")]
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.post_form(
            "/settings/team",
            &format!("/settings/team/members/{admin}/role"),
            &[("role", "owner")]
        )
        .await
        .status(),
        403
    );

    let agent_browser = app.another_browser();
    agent_browser.login("agent@shop.test").await;
    assert_eq!(agent_browser.get("/inbox").await.status(), 200);
    let response = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{agent}/remove"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    let response = agent_browser.get("/inbox").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/orgs/new", "no organization left");
}

#[tokio::test]
async fn a_user_can_create_another_organization() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let taken = app
        .post_form("/orgs/new", "/orgs/new", &[("name", "Shop")])
        .await;
    assert_eq!(taken.status(), 422);
    assert!(taken.text().await.unwrap().contains("exists already"));
    let response = app
        .post_form("/orgs/new", "/orgs/new", &[("name", "Second Shop")])
        .await;
    assert_eq!(response.status(), 303);
    let team = app.get_text("/settings/team").await;
    assert!(team.contains("Second Shop"));
}
