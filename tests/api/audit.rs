//! The audit log page: admins only, this organization only, filters and exports.

use crate::helpers::spawn_app;

#[tokio::test]
async fn admins_read_their_organizations_audit_log_and_export_it() {
    let app = spawn_app().await;
    app.create_user("owner@shop-a.test", "Shop A", "owner")
        .await;
    app.create_user("agent@shop-a.test", "Shop A", "agent")
        .await;
    app.create_user("owner@shop-b.test", "Shop B", "owner")
        .await;
    let other = app.another_browser();
    other.login("owner@shop-b.test").await;
    other
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "secret-b@shop-b.test"), ("role", "agent")],
        )
        .await;

    app.login("owner@shop-a.test").await;
    app.post_form(
        "/settings/team",
        "/settings/team/invitations",
        &[("email", "new@shop-a.test"), ("role", "agent")],
    )
    .await;
    let html = app.get_text("/audit").await;
    assert!(html.contains("login.succeeded") && html.contains("member.invited"));
    assert!(
        !html.contains("owner@shop-b.test"),
        "another organization's entries never show"
    );

    let filtered = app.get_text("/audit?action=member").await;
    assert!(filtered.contains("member.invited") && !filtered.contains("login.succeeded"));

    let csv = app.get("/audit?format=csv").await;
    assert_eq!(
        csv.headers().get("content-type").unwrap(),
        "text/csv; charset=utf-8"
    );
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("id,occurred_at,actor,action"));
    assert!(csv.contains("\"member.invited\"") && !csv.contains("shop-b"));
    let json: serde_json::Value = app.get("/audit?format=json").await.json().await.unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .all(|e| e["hash"].as_str().unwrap().len() == 64)
    );

    let bad = app.get("/audit?from=yesterday").await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("2026-05-01"));

    let agent = app.another_browser();
    agent.login("agent@shop-a.test").await;
    assert_eq!(agent.get("/audit").await.status(), 403);
}
