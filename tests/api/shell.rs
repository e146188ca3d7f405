//! The UI shell: health, security headers, assets, error pages, languages.

use crate::helpers::{location, spawn_app, text_of};

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn pages_carry_strict_security_headers_and_load_nothing_from_other_hosts() {
    let app = spawn_app().await;
    let response = app.get("/login").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"));
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    assert!(headers.get("referrer-policy").is_some());
    // Plain http here: no HSTS.
    assert!(headers.get("strict-transport-security").is_none());
    let html = response.text().await.unwrap();
    let external = regex::Regex::new(r#"(?:src|href|action)="(?:https?:)?//"#).unwrap();
    assert!(
        !external.is_match(&html),
        "the page references another host"
    );
    assert!(!html.contains("<script>"), "inline script");
}

#[tokio::test]
async fn hsts_is_sent_behind_https() {
    let app = crate::helpers::spawn_app_with(crate::helpers::AppOptions {
        extra_env: vec![("LETHE_BASE_URL".into(), "https://support.shop.test".into())],
        ..Default::default()
    })
    .await;
    let response = app.get("/login").await;
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_some()
    );
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn assets_are_served_under_hashed_names_with_long_cache() {
    let app = spawn_app().await;
    let html = app.get_text("/login").await;
    let css = regex::Regex::new(r#"href="(/assets/css/app\.[0-9a-f]{10}\.css)""#).unwrap();
    let path = css.captures(&html).expect("hashed stylesheet link")[1].to_owned();
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("cache-control").unwrap(),
        "public, max-age=31536000, immutable"
    );
    assert!(
        response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(app.get("/assets/css/app.css").await.status(), 404);
}

#[tokio::test]
async fn unknown_pages_get_a_friendly_404_in_the_browsers_language() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/nothing/here"))
        .header("accept-language", "de-DE,de;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Diese Seite gibt es nicht"), "{html}");
    assert!(html.contains("lang=\"de\""));
    let response = app
        .client
        .get(app.url("/nothing/here"))
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Cette page n&#39;existe pas")
    );
}

#[tokio::test]
async fn api_clients_get_json_errors() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/nothing"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 404);
    assert!(body["error"].as_str().unwrap().contains("does not exist"));
}

#[tokio::test]
async fn the_login_page_speaks_english_german_and_french() {
    let app = spawn_app().await;
    for (accept, expected) in [("en", "Sign in"), ("de", "Anmelden"), ("fr", "Connexion")] {
        let request = app.client.get(app.url("/login"));
        let html = text_of(request.header("accept-language", accept)).await;
        assert!(html.contains(expected), "{accept}: {expected}");
    }
}

#[tokio::test]
async fn pages_that_need_a_login_send_visitors_to_it_and_back() {
    let app = spawn_app().await;
    for path in ["/inbox", "/settings/team", "/account"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(
            location(&response),
            format!("/login?next={}", path.replace('/', "%2F"))
        );
    }
}

#[tokio::test]
async fn a_server_error_shows_a_friendly_page_without_internals() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    // Break the database under the running server.
    app.state
        .db
        .execute_unprepared("ALTER TABLE conversations RENAME TO conversations_gone")
        .await
        .unwrap();
    let response = app.get("/inbox").await;
    assert_eq!(response.status(), 500);
    let html = response.text().await.unwrap();
    assert!(html.contains("Something went wrong on our side"));
    for internal in [
        "conversations",
        "sqlx",
        "SELECT",
        "relation",
        "no such table",
    ] {
        assert!(!html.contains(internal), "the page leaks {internal}");
    }
}

#[tokio::test]
async fn the_background_work_of_lethe_serve_runs_from_application_build() {
    // Arrange: an app wired as `lethe serve` is (workers and schedules on)
    let app = crate::helpers::spawn_app_with(crate::helpers::AppOptions {
        background: true,
        ..Default::default()
    })
    .await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let shop = lethe::orgs::queries::find_by_name(&app.state.db, "Shop")
        .await
        .unwrap()
        .unwrap()
        .0;
    let word = format!("quokka{}", crate::helpers::unique_suffix());
    let raw = format!(
        "From: Ann <ann@kunde.test>\r\nTo: support@shop.test\r\nSubject: Where is {word}\r\nMessage-ID: <bg-{word}@kunde.test>\r\nDate: Tue, 3 Nov 2026 10:00:00 +0100\r\n\r\nMy parcel {word} is late.\r\n"
    );
    let source = lethe::mail::ingest::Source {
        org: shop,
        channel_id: None,
        keep_original_date: true,
    };

    // Act: mail arrives; nobody calls the indexer
    lethe::mail::ingest::ingest_raw(&app.state, source, raw.into_bytes())
        .await
        .unwrap();
    app.login("owner@shop.test").await;

    // Assert: the index worker that Application::build started makes it searchable
    let mut found = false;
    for _ in 0..100 {
        let page = app.get_text(&format!("/search?q={word}")).await;
        if page.contains(&format!("Where is {word}")) {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "the background indexer did not index the new mail");
}
