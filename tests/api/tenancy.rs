//! DESIGN.md invariant 1: a user of organization A gets 404 for every organization-B URL.
//! Extend `org_b_urls` whenever a route with an organization-data id is added.

use crate::helpers::{TestApp, spawn_app};

/// Every URL that names organization data by id, filled with organization B's ids.
async fn org_b_urls(app: &TestApp) -> Vec<(&'static str, String)> {
    let b_owner = app
        .create_user("owner-b@shop-b.test", "Shop B", "owner")
        .await;
    let b_agent = app
        .create_user("agent-b@shop-b.test", "Shop B", "agent")
        .await;
    let b_org = lethe::orgs::queries::find_by_name(&app.state.db, "Shop B")
        .await
        .unwrap()
        .unwrap()
        .0;
    let email = lethe::mail::EmailAddress::parse("pending-b@shop-b.test").unwrap();
    lethe::orgs::invitations::create(
        &app.state.db,
        b_org,
        &email,
        lethe::orgs::Role::Agent,
        b_owner,
    )
    .await
    .unwrap()
    .unwrap();
    let invitation = lethe::db::entity::invitation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    vec![
        ("POST", format!("/settings/team/members/{b_agent}/role")),
        ("POST", format!("/settings/team/members/{b_agent}/remove")),
        ("POST", format!("/settings/team/members/{b_owner}/remove")),
        (
            "POST",
            format!("/settings/team/invitations/{}/revoke", invitation.id),
        ),
        ("POST", format!("/orgs/switch#{}", b_org.get())),
    ]
}

use sea_orm::EntityTrait;

#[tokio::test]
async fn a_user_of_organization_a_gets_404_for_every_organization_b_url() {
    let app = spawn_app().await;
    app.create_user("owner-a@shop-a.test", "Shop A", "owner")
        .await;
    let urls = org_b_urls(&app).await;
    app.login("owner-a@shop-a.test").await;
    let csrf = crate::helpers::csrf_of(&app.get_text("/settings/team").await);
    for (method, url) in urls {
        assert_eq!(method, "POST");
        let response = match url.split_once('#') {
            Some((path, org)) => {
                app.post_with_csrf(path, &csrf, &[("organization", org)])
                    .await
            }
            None => app.post_with_csrf(&url, &csrf, &[("role", "admin")]).await,
        };
        assert_eq!(response.status(), 404, "{url}");
    }
    // Nothing changed in organization B.
    let members = lethe::orgs::queries::members(
        &app.state.db,
        lethe::orgs::queries::find_by_name(&app.state.db, "Shop B")
            .await
            .unwrap()
            .unwrap()
            .0,
    )
    .await
    .unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().any(|m| m.role == lethe::orgs::Role::Agent));
    assert_eq!(
        lethe::db::entity::invitation::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .len(),
        1
    );
    // And A's pages show nothing of B.
    let team = app.get_text("/settings/team").await;
    assert!(!team.contains("shop-b.test"));
}
