//! DESIGN.md invariant 1: a user of organization A gets 404 for every organization-B URL the
//! app has. When a route with an organization-data id is added, add it to `org_b_urls`.

use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::helpers::{TestApp, arriving, channel_form, csrf_of, spawn_app};
use lethe::db::entity::{attachment, canned_reply, conversation, invitation, message, tag};
use lethe::mail::channel::{NewChannel, SmtpSettings, TlsMode};

/// Every URL that names organization data by id, filled with organization B's ids.
async fn org_b_urls(app: &TestApp) -> Vec<(&'static str, String)> {
    let b_owner = app
        .create_user("owner-b@shop-b.test", "Shop B", "owner")
        .await;
    let b_agent = app
        .create_user("agent-b@shop-b.test", "Shop B", "agent")
        .await;
    let b_org = app.org_id("Shop B").await;
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
    let invitation = invitation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let smtp = SmtpSettings {
        host: "127.0.0.1".into(),
        port: 9,
        tls: TlsMode::None,
        user: None,
        secret: None,
    };
    let (channel, _) = lethe::mail::channel::create(
        &app.state.db,
        &app.state.sealer,
        b_org,
        NewChannel {
            name: "B support".into(),
            imap: None,
            smtp: Some(smtp),
            from_name: "B".into(),
            from_address: lethe::mail::EmailAddress::parse("support@shop-b.test").unwrap(),
            aliases: Vec::new(),
            poll_seconds: 60,
            auth: lethe::mail::channel::ChannelAuth::Password,
        },
    )
    .await
    .unwrap();
    let raw = "From: Kunde B <kunde@b.test>\r\nTo: support@shop-b.test\r\nSubject: Geheim B\r\nMessage-ID: <b-1@b.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nNur fuer B\r\n--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"b.pdf\"\r\n\r\n%PDF B\r\n--x--\r\n";
    let source = arriving(b_org, Some(channel.id));
    let (conversation_id, _) = app.ingest(source, raw).await;
    let conversation = app.conversation(conversation_id).await;
    let attachment = attachment::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let reply = lethe::mail::outbound::queue_reply(
        &app.state,
        b_org,
        conversation_id,
        b_owner,
        "Antwort B",
    )
    .await
    .unwrap()
    .unwrap();
    let tag = tag::ActiveModel {
        organization_id: Set(b_org),
        name: Set("vip".into()),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let canned = canned_reply::ActiveModel {
        organization_id: Set(b_org),
        title: Set("B".into()),
        body: Set("Hallo".into()),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let erased_raw = "From: Weg B <weg@b.test>\r\nTo: support@shop-b.test\r\nSubject: Weg\r\nMessage-ID: <b-2@b.test>\r\n\r\nBitte loeschen\r\n";
    let (erased_conversation, _) = app.ingest(source, erased_raw).await;
    let erased_customer = app.customer_of(erased_conversation).await;
    let erasure = app.erase(b_org, erased_customer).await;
    let request = app.access_request(b_org, conversation.customer_id).await;
    let key = lethe::api::keys::create(
        &app.state.db,
        b_org,
        b_owner,
        &lethe::api::keys::KeyName::parse("B key").unwrap(),
        lethe::api::scopes::Scopes::chosen(true, true, true).unwrap(),
        None,
    )
    .await
    .unwrap();
    let c = conversation.id;
    let customer = conversation.customer_id;
    vec![
        ("GET", format!("/customers/{customer}/erase")),
        ("GET", format!("/privacy/receipts/{}", erasure.receipt_id)),
        (
            "GET",
            format!("/privacy/receipts/{}.json", erasure.receipt_id),
        ),
        ("POST", format!("/customers/{customer}/erase")),
        ("POST", format!("/customers/{customer}/export")),
        ("POST", format!("/customers/{customer}/legal-hold")),
        ("POST", format!("/customers/{customer}/merge")),
        ("POST", format!("/customers/{customer}/objections")),
        ("POST", format!("/customers/{customer}/rectify")),
        ("POST", format!("/customers/{customer}/restriction")),
        ("POST", format!("/conversations/{c}/legal-hold")),
        ("POST", format!("/privacy/requests/{}/status", request.id)),
        ("POST", format!("/settings/api-keys/{}/revoke", key.row.id)),
        ("GET", format!("/conversations/{c}")),
        ("GET", format!("/customers/{}", conversation.customer_id)),
        ("GET", format!("/attachments/{}", attachment.id)),
        ("GET", format!("/settings/channels/{}", channel.id)),
        ("GET", format!("/settings/canned-replies/{}", canned.id)),
        ("POST", format!("/conversations/{c}/reply")),
        ("POST", format!("/conversations/{c}/notes")),
        ("POST", format!("/conversations/{c}/status")),
        ("POST", format!("/conversations/{c}/assignee")),
        ("POST", format!("/conversations/{c}/tags")),
        ("POST", format!("/conversations/{c}/tags/{}/remove", tag.id)),
        (
            "POST",
            format!("/conversations/{c}/messages/{}/retry", reply.id),
        ),
        ("POST", format!("/settings/channels/{}", channel.id)),
        ("POST", format!("/settings/channels/{}/delete", channel.id)),
        (
            "POST",
            format!("/settings/channels/{}/test-imap", channel.id),
        ),
        (
            "POST",
            format!("/settings/channels/{}/test-smtp", channel.id),
        ),
        ("POST", format!("/settings/canned-replies/{}", canned.id)),
        (
            "POST",
            format!("/settings/canned-replies/{}/delete", canned.id),
        ),
        ("POST", format!("/settings/team/members/{b_agent}/role")),
        ("POST", format!("/settings/team/members/{b_agent}/remove")),
        ("POST", format!("/settings/team/members/{b_owner}/remove")),
        (
            "POST",
            format!("/settings/team/invitations/{}/revoke", invitation.id),
        ),
        ("POST", "/orgs/switch".to_owned()),
    ]
}

/// A superset of every form's fields, so no request fails on a missing field before the
/// organization check has answered.
fn every_field<'a>(csrf: &'a str, b_org: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut fields = vec![
        ("csrf", csrf),
        ("organization", b_org),
        ("role", "admin"),
        ("text", "x"),
        ("then", ""),
        ("status", "closed"),
        ("assignee", ""),
        ("title", "x"),
        ("body", "x"),
        ("confirm", "yes"),
        ("reason", "x"),
        ("other", "1"),
        ("received", "2026-11-02"),
        ("include_notes", "1"),
    ];
    fields.extend(channel_form(&[
        ("name", "x"),
        ("from_name", "x"),
        ("from_address", "x@a.test"),
    ]));
    fields
}

#[tokio::test]
async fn a_user_of_organization_a_gets_404_for_every_organization_b_url() {
    let app = spawn_app().await;
    app.create_user("owner-a@shop-a.test", "Shop A", "owner")
        .await;
    let urls = org_b_urls(&app).await;
    let b_org = app.org_id("Shop B").await;
    let before = (
        app.count::<message::Entity>().await,
        conversation::Entity::find()
            .one(&app.state.db)
            .await
            .unwrap(),
    );
    app.login("owner-a@shop-a.test").await;
    let csrf = csrf_of(&app.get_text("/settings/team").await);
    let b_org_id = b_org.get().to_string();
    let fields = every_field(&csrf, &b_org_id);
    for (method, url) in &urls {
        let response = match *method {
            "GET" => app.get(url).await,
            _ => app
                .client
                .post(app.url(url))
                .form(&fields)
                .send()
                .await
                .unwrap(),
        };
        assert_eq!(response.status(), 404, "{method} {url}");
    }
    // Nothing changed in organization B.
    let members = lethe::orgs::queries::members(&app.state.db, b_org)
        .await
        .unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().any(|m| m.role == lethe::orgs::Role::Agent));
    assert_eq!(app.count::<invitation::Entity>().await, 1);
    let after = (
        app.count::<message::Entity>().await,
        conversation::Entity::find()
            .one(&app.state.db)
            .await
            .unwrap(),
    );
    assert_eq!(before, after);
    let keys = lethe::db::entity::api_key::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        keys.iter().all(|k| k.revoked_at.is_none()),
        "B's API key is not revoked"
    );
    let frozen = lethe::db::entity::customer::Entity::find()
        .filter(sea_orm::sea_query::Expr::cust(
            "legal_hold_reason IS NOT NULL OR restricted_at IS NOT NULL",
        ))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(frozen, 0, "no hold or restriction was put on B's customer");
    assert_eq!(
        lethe::mail::channel::list(&app.state.db, b_org)
            .await
            .unwrap()
            .len(),
        1
    );
    // And A's pages show nothing of B.
    for page in [
        "/settings/team",
        "/inbox",
        "/inbox?status=closed",
        "/settings/channels",
        "/settings/canned-replies",
        "/audit",
        "/search?q=Geheim",
    ] {
        let html = app.get_text(page).await;
        assert!(
            !html.contains("shop-b.test") && !html.contains("Geheim B"),
            "{page} shows organization B's data"
        );
    }
}
