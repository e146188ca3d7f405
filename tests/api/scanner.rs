//! What `scripts/scan.sh` (wapiti, signed in, every page and form) reported, replayed: each
//! finding is either fixed elsewhere or shown here to be harmless with the scanner's own
//! payloads. Wapiti's "LDAP injection" heuristic sends a "match everything" and a "match
//! nothing" payload per parameter and flags the parameter when the two answers differ — which
//! any validation message does. Lethe has no LDAP; here every such payload is refused with a
//! form error (4xx, nothing written) or, in free text, kept verbatim and shown escaped.

use sea_orm::{EntityTrait, PaginatorTrait};

use crate::helpers::{TestApp, spawn_app};
use lethe::db::entity::{
    api_key, channel, invitation, organization_deletion, retention_rule, retention_setting,
};

/// The payloads of wapiti's `ldap` module (data/attacks/ldap.ini), `[NULL]` as a NUL byte.
const PAYLOADS: &[&str] = &[
    "nosuchvalue",
    "(**nosuchvalue**",
    "nosuchvalue))\0",
    "*))\0nosuchvalue",
    "*)(&))\0nosuchvalue",
    ")(nosuchvalue=a))\0nosuchvalue",
    "))\0nosuchvalue",
    ")(objectClass=",
    ")(&))\0nosuchvalue",
    "*",
    "*)(uid=*))(|(uid=*",
];

/// Row counts of everything the scanned forms could create or change.
async fn state_of(app: &TestApp) -> Vec<u64> {
    let db = &app.state.db;
    vec![
        retention_rule::Entity::find().count(db).await.unwrap(),
        retention_setting::Entity::find().count(db).await.unwrap(),
        channel::Entity::find().count(db).await.unwrap(),
        invitation::Entity::find().count(db).await.unwrap(),
        organization_deletion::Entity::find()
            .count(db)
            .await
            .unwrap(),
        api_key::Entity::find().count(db).await.unwrap(),
    ]
}

fn with(
    fields: &[(&'static str, &'static str)],
    name: &str,
    value: &'static str,
) -> Vec<(&'static str, &'static str)> {
    fields
        .iter()
        .map(|&(key, default)| {
            if key == name {
                (key, value)
            } else {
                (key, default)
            }
        })
        .collect()
}

async fn assert_refused(
    app: &TestApp,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
    what: &str,
) {
    // The page first (it may write its defaults), then the form.
    let csrf = crate::helpers::csrf_of(&app.get_text(page).await);
    let before = state_of(app).await;
    let response = app.post_with_csrf(action, &csrf, fields).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(
        status.is_client_error() || status == 200,
        "{what}: answered {status}"
    );
    assert!(
        !body.contains('\0'),
        "{what}: a NUL came back onto the page"
    );
    assert!(!body.to_lowercase().contains("panicked"), "{what}");
    assert_eq!(state_of(app).await, before, "{what}: something was written");
}

#[tokio::test]
async fn scanner_payloads_in_settings_forms_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let retention = [
        ("category", "closed_conversations"),
        ("after_days", "180"),
        ("action", "delete"),
    ];
    let channel = [
        ("name", "Support"),
        ("from_name", "Shop"),
        ("from_address", "support@shop.test"),
        ("imap_host", "imap.shop.test"),
        ("imap_port", "993"),
        ("imap_user", "alice"),
        ("imap_password", "Letm3in_"),
        ("imap_folder", "INBOX"),
        ("imap_move_to", "Archive"),
        ("poll_seconds", "60"),
        ("smtp_host", "smtp.shop.test"),
        ("smtp_port", "587"),
        ("smtp_user", "alice"),
        ("smtp_password", "Letm3in_"),
        ("imap_tls", "tls"),
        ("smtp_tls", "starttls"),
        ("after_fetch", "move"),
    ];
    let validated_channel_fields = [
        "from_address",
        "imap_host",
        "imap_port",
        "imap_tls",
        "poll_seconds",
        "smtp_host",
        "smtp_port",
        "smtp_tls",
        "after_fetch",
    ];
    for &payload in PAYLOADS {
        // "nosuchvalue" is a fine host name; the others are not.
        for field in ["category", "after_days", "action"] {
            for action in ["/settings/retention/rules", "/settings/retention/preview"] {
                let fields = with(&retention, field, payload);
                assert_refused(
                    &app,
                    "/settings/retention",
                    action,
                    &fields,
                    &format!("{action} {field}={payload:?}"),
                )
                .await;
            }
        }
        assert_refused(
            &app,
            "/settings/retention",
            "/settings/retention/schedule",
            &[("schedule", payload)],
            &format!("schedule={payload:?}"),
        )
        .await;
        for field in validated_channel_fields {
            if payload == "nosuchvalue" && field.ends_with("_host") {
                continue;
            }
            let fields = with(&channel, field, payload);
            assert_refused(
                &app,
                "/settings/channels",
                "/settings/channels",
                &fields,
                &format!("channel {field}={payload:?}"),
            )
            .await;
        }
        for (email, role) in [(payload, "agent"), ("new@shop.test", payload)] {
            assert_refused(
                &app,
                "/settings/team",
                "/settings/team/invitations",
                &[("email", email), ("role", role)],
                &format!("invitation {email:?} {role:?}"),
            )
            .await;
        }
        assert_refused(
            &app,
            "/settings/organization",
            "/settings/organization/deletion",
            &[("confirm_name", payload)],
            &format!("deletion confirm_name={payload:?}"),
        )
        .await;
        for (field, value) in [("expires", payload), ("scope_read", payload)] {
            let fields = with(
                &[
                    ("name", "Shop system"),
                    ("scope_read", "yes"),
                    ("expires", ""),
                ],
                field,
                value,
            );
            assert_refused(
                &app,
                "/settings/api-keys",
                "/settings/api-keys",
                &fields,
                &format!("api key {field}={payload:?}"),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn scanner_payloads_in_free_text_are_kept_verbatim_and_shown_escaped() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    for &payload in PAYLOADS {
        // Search and the audit filters: the text is searched for literally and echoed escaped.
        for path in ["/search", "/audit"] {
            let key = if path == "/search" { "q" } else { "actor" };
            let response = app
                .client
                .get(app.url(path))
                .query(&[(key, payload)])
                .send()
                .await
                .unwrap();
            // A query the search cannot read is explained with a 400 (a form error).
            let status = response.status().as_u16();
            assert!(
                matches!(status, 200 | 400),
                "{path} {key}={payload:?}: {status}"
            );
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("<nosuchvalue") && !body.contains("\0"),
                "{path}: {payload:?}"
            );
        }
    }
    // An API key's name is free text: "*" is a name like any other, stored as typed.
    let before = api_key::Entity::find().count(&app.state.db).await.unwrap();
    let response = app
        .post_form(
            "/settings/api-keys",
            "/settings/api-keys",
            &[
                ("name", "*)(uid=*))(|(uid=*"),
                ("scope_read", "yes"),
                ("expires", ""),
            ],
        )
        .await;
    assert!(response.status().is_success() || response.status().is_redirection());
    let keys = api_key::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(keys.len() as u64, before + 1);
    assert!(keys.iter().any(|k| k.name == "*)(uid=*))(|(uid=*"));

    // A NUL is dropped before anything is stored (PostgreSQL would refuse the row outright).
    let response = app
        .post_form(
            "/settings/api-keys",
            "/settings/api-keys",
            &[
                ("name", "Shop\0system"),
                ("scope_read", "yes"),
                ("expires", ""),
            ],
        )
        .await;
    assert!(response.status().is_success() || response.status().is_redirection());
    let keys = api_key::Entity::find().all(&app.state.db).await.unwrap();
    assert!(
        keys.iter().any(|k| k.name == "Shopsystem"),
        "{:?}",
        keys.iter().map(|k| &k.name).collect::<Vec<_>>()
    );
}

/// Wapiti's `methods` module lists every page that answers DELETE, PUT or PATCH differently
/// from GET ("possible interesting methods"). Lethe routes each method it serves explicitly:
/// any other method is "no such page" and does nothing.
#[tokio::test]
async fn other_http_methods_on_pages_answer_not_found_and_change_nothing() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let agent = app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let role_page = format!("/settings/team/members/{agent}/role");
    let before = (
        lethe::db::entity::membership::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap(),
        state_of(&app).await,
    );
    for path in [
        "/inbox",
        "/audit",
        "/settings/team",
        role_page.as_str(),
        "/settings/organization",
        "/settings/retention",
        "/settings/api-keys",
        "/account/security",
    ] {
        for method in ["DELETE", "PUT", "PATCH"] {
            let response = app
                .client
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(path),
                )
                .form(&[("role", "owner")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "{method} {path}");
        }
    }
    let after = (
        lethe::db::entity::membership::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap(),
        state_of(&app).await,
    );
    assert_eq!(after, before);
}
