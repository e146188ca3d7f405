//! The chat channel (issue 16): set up at `/settings/channels`, a visitor's messages over
//! the widget's endpoints land in the inbox as conversations of that channel, the agent's
//! answer reaches the visitor (fetch and server-sent events), other origins are refused,
//! abuse is refused without storing anything, and "Delete this conversation" erases the
//! visitor's chat through the erasure path, leaving no bytes in the data directory.

use std::time::Duration;

use lethe::db::entity::{conversation, message, privacy_request};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{
    AppOptions, TestApp, location, spawn_app, spawn_app_with, traces, unique_suffix,
};
use crate::smtp::{SmtpRecorder, free_port};

/// An origin allowed to embed the widget in these tests (nothing listens there but in the
/// browser test).
const SHOP: &str = "https://shop.example";

/// A shop with an owner signed in and a chat channel allowing `origins` made on the settings
/// page: its widget token.
async fn shop_with_chat(app: &TestApp, origins: &str) -> String {
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let response = app
        .post_form(
            "/settings/channels/chat/new",
            "/settings/channels/chat",
            &[
                ("name", "Shop chat"),
                ("origins", origins),
                ("colour", "#225588"),
                ("privacy_url", "https://shop.example/privacy"),
                ("greeting_de", "Moin! Was können wir tun?"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "the chat channel is created");
    let page = app
        .get_text(location(&response).split('?').next().unwrap())
        .await;
    let re = regex::Regex::new(r"/chat/([A-Za-z0-9_-]+)\.js").unwrap();
    re.captures(&page).expect("the page shows the snippet")[1].to_owned()
}

fn visitor_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A browser on the shop's page: no cookies, the shop's origin.
fn visitor_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn post_message(app: &TestApp, token: &str, origin: &str, body: Value) -> reqwest::Response {
    visitor_client()
        .post(app.url(&format!("/chat/{token}/messages")))
        .header("Origin", origin)
        .header("Content-Type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn fetch_after(app: &TestApp, token: &str, visitor: &str, after: i64) -> Vec<Value> {
    let response = visitor_client()
        .get(app.url(&format!("/chat/{token}/messages?after={after}")))
        .header("Origin", SHOP)
        .header("Lethe-Visitor", visitor)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_no_cookie(&response);
    let body: Value = response.json().await.unwrap();
    body["messages"].as_array().unwrap().clone()
}

/// Reads the stream until what it sent holds `wanted`.
async fn read_until(stream: &mut reqwest::Response, mut received: String, wanted: &str) -> String {
    while !received.contains(wanted) {
        let chunk = tokio::time::timeout(Duration::from_secs(15), stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("{wanted} arrives on the stream; got {received}"))
            .unwrap()
            .expect("the stream stays open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    received
}

fn assert_no_cookie(response: &reqwest::Response) {
    assert!(
        response.headers().get("set-cookie").is_none(),
        "a chat answer never sets a cookie"
    );
}

async fn messages_stored(app: &TestApp) -> u64 {
    app.count::<message::Entity>().await
}

#[tokio::test]
async fn a_chat_channel_is_set_up_on_the_settings_page_and_bad_origins_are_refused() {
    let app = spawn_app().await;
    let token = shop_with_chat(&app, "https://shop.example\nhttp://127.0.0.1:9000").await;

    let list = app.get_text("/settings/channels").await;
    assert!(
        list.contains("Shop chat"),
        "the list shows the chat channel"
    );
    assert!(list.contains("https://shop.example, http://127.0.0.1:9000"));

    let script = visitor_client()
        .get(app.url(&format!("/chat/{token}.js")))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_no_cookie(&script);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        script.headers()["cross-origin-resource-policy"],
        "cross-origin"
    );
    let js = script.text().await.unwrap();
    assert!(js.len() < 20_000, "small: {} bytes before gzip", js.len());
    assert!(
        js.contains("Moin! Was können wir tun?"),
        "the German greeting"
    );
    assert!(js.contains("Bonjour !"), "the French default greeting");
    assert!(js.contains("#225588"));
    assert!(js.contains("https://shop.example/privacy"));
    assert!(js.contains("getRandomValues"));
    assert!(
        !js.contains("document.cookie"),
        "the widget never touches cookies"
    );

    // Act: an origin with a path, and a wildcard.
    let edit = format!("/settings/channels/chat/{}", channel_id(&app).await);
    let refused = app
        .post_form(
            &edit,
            &edit,
            &[
                ("name", "Shop chat"),
                ("origins", "https://shop.example/shop\nhttps://*.example"),
            ],
        )
        .await;

    // Assert
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("is not scheme://host[:port]"), "{page}");
    let js = visitor_client()
        .get(app.url(&format!("/chat/{token}.js")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("Moin!"), "nothing was changed");
    assert_eq!(
        visitor_client()
            .get(app.url("/chat/no-such-token.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn channel_id(app: &TestApp) -> i64 {
    lethe::db::entity::channel::Entity::find()
        .filter(lethe::db::entity::channel::Column::Kind.eq("chat"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn a_visitor_message_reaches_the_inbox_and_the_agents_answer_reaches_the_visitor_live() {
    // Arrange
    let app = spawn_app().await;
    let token = shop_with_chat(&app, SHOP).await;
    let visitor = visitor_id();

    // The agent's inbox listens for live updates.
    let mut inbox_events = app.client.get(app.url("/events")).send().await.unwrap();
    assert_eq!(inbox_events.status(), 200);

    // Act: the visitor writes.
    let response = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor, "text": "Is the blue teapot in stock?", "website": ""}),
    )
    .await;

    // Assert: stored, answered to the shop's origin only, no cookie.
    assert_eq!(response.status(), 201);
    assert_no_cookie(&response);
    assert_eq!(response.headers()["access-control-allow-origin"], SHOP);
    let first: Value = response.json().await.unwrap();
    let first_id = first["id"].as_i64().unwrap();
    let inbox = app.get_text("/inbox").await;
    assert!(
        inbox.contains("Chat: Is the blue teapot in stock?"),
        "in the inbox"
    );
    let stored = conversation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let told = read_until(
        &mut inbox_events,
        String::new(),
        &format!("{{\"conversation_id\":{}}}", stored.id),
    )
    .await;
    assert!(
        told.contains("event: conversation"),
        "the inbox is told live"
    );
    assert_eq!(stored.channel_id, Some(channel_id(&app).await));
    let key = stored.chat_visitor_key.clone().unwrap();
    assert_ne!(key, visitor, "the visitor id is stored hashed");
    assert!(!key.contains(&visitor));

    // The visitor's stream is open before the agent answers.
    let mut stream = visitor_client()
        .get(app.url(&format!("/chat/{token}/events?after={first_id}")))
        .header("Origin", SHOP)
        .header("Lethe-Visitor", &visitor)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["access-control-allow-origin"], SHOP);
    assert_no_cookie(&stream);

    // Act: the agent starts typing, then answers from the conversation page, with no
    // address typed.
    let path = format!("/conversations/{}", stored.id);
    let page = app.get_text(&path).await;
    assert!(page.contains("Is the blue teapot in stock?"));
    let typing = app.post_form(&path, &format!("{path}/typing"), &[]).await;
    assert_eq!(typing.status(), 204);
    let mut received = read_until(&mut stream, String::new(), "\"typing\":true").await;
    assert!(received.contains("event: typing"));
    assert!(
        !received.contains("Test User"),
        "the visitor is not told who types"
    );
    let reply = app
        .post_form(
            &path,
            &format!("{path}/reply"),
            &[
                ("to", ""),
                ("cc", ""),
                ("bcc", ""),
                ("text", "Yes, three left."),
            ],
        )
        .await;
    assert_eq!(reply.status(), 303, "the answer is accepted");

    // Assert: live over the stream (typing ends), and by fetch after a reconnect.
    received = read_until(&mut stream, received, "Yes, three left.").await;
    received = read_until(&mut stream, received, "\"typing\":false").await;
    assert!(received.contains("event: message"));
    assert!(received.contains("\"from\":\"agent\""));
    let missed = fetch_after(&app, &token, &visitor, first_id).await;
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0]["from"], "agent");
    assert_eq!(missed[0]["text"], "Yes, three left.");
    let all = fetch_after(&app, &token, &visitor, 0).await;
    assert_eq!(all.len(), 2);
    let another = fetch_after(&app, &token, &visitor_id(), 0).await;
    assert!(another.is_empty(), "another visitor sees nothing");

    // The visitor writes again: the same conversation, back in the inbox.
    let again = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor, "text": "I'll take two."}),
    )
    .await;
    assert_eq!(again.status(), 201);
    assert_eq!(app.count::<conversation::Entity>().await, 1);
    let answer = message::Entity::find()
        .filter(message::Column::Direction.eq("outbound"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.delivery_status.as_deref(), Some("chat"));
    let page = app.get_text(&path).await;
    assert!(
        page.contains("shown in the chat"),
        "the page says where it went"
    );
    assert_eq!(
        app.count::<lethe::db::entity::outbox::Entity>().await,
        0,
        "no mail without an address"
    );
}

#[tokio::test]
async fn a_visitor_who_leaves_an_address_gets_the_answer_by_mail_too() {
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    let token = shop_with_chat(&app, SHOP).await;
    let org = app.org_id("Shop").await;
    app.email_channel(org, "Support", "support@shop.test", Some(smtp.port))
        .await;
    let visitor = visitor_id();
    let response = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor, "text": "Please mail me the invoice.", "name": "Rosa Chat",
               "email": "rosa@kunde.test"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let id = conversation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let path = format!("/conversations/{id}");

    let reply = app
        .post_form(
            &path,
            &format!("{path}/reply"),
            &[
                ("to", ""),
                ("cc", ""),
                ("bcc", ""),
                ("text", "Here it comes."),
            ],
        )
        .await;
    assert_eq!(reply.status(), 303);
    lethe::mail::outbound::run_once(&app.state, chrono::Utc::now())
        .await
        .unwrap();

    let mails = smtp.wait_for(1).await;
    assert!(mails[0].contains("rosa@kunde.test"), "{}", mails[0]);
    assert!(mails[0].contains("Here it comes."));
    let shown = fetch_after(&app, &token, &visitor, 0).await;
    assert_eq!(shown.len(), 2, "the widget shows the answer too");

    // The visitor answers the mail: it threads back into the chat's conversation.
    let sent = message::Entity::find()
        .filter(message::Column::Direction.eq("outbound"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let answer = crate::helpers::mail(
        "Rosa Chat <rosa@kunde.test>",
        "rosa-1@kunde.test",
        "Re: invoice",
        "Thanks, got it.",
    )
    .header("In-Reply-To", &format!("<{}>", sent.message_id_header));
    let (threaded, _) = app
        .ingest(crate::helpers::arriving(org, None), answer)
        .await;
    assert_eq!(threaded, id, "the same conversation");
    assert_eq!(app.count::<conversation::Entity>().await, 1);
    let shown = fetch_after(&app, &token, &visitor, 0).await;
    assert_eq!(shown.len(), 3);
    assert_eq!(shown[2]["from"], "visitor");
    assert!(
        shown[2]["text"]
            .as_str()
            .unwrap()
            .contains("Thanks, got it.")
    );
}

#[tokio::test]
async fn other_origins_are_refused_without_cors_headers_and_nothing_is_stored() {
    let app = spawn_app().await;
    let token = shop_with_chat(&app, SHOP).await;
    let visitor = visitor_id();
    let body = json!({"visitor": visitor, "text": "Hello"});

    for origin in ["https://evil.example", "http://shop.example", "null"] {
        let response = post_message(&app, &token, origin, body.clone()).await;
        assert_eq!(response.status(), 403, "{origin}");
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        assert_no_cookie(&response);
    }
    let without_origin = visitor_client()
        .post(app.url(&format!("/chat/{token}/messages")))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(without_origin.status(), 403);
    let fetch = visitor_client()
        .get(app.url(&format!("/chat/{token}/messages?after=0")))
        .header("Origin", "https://evil.example")
        .header("Lethe-Visitor", &visitor)
        .send()
        .await
        .unwrap();
    assert_eq!(fetch.status(), 403);
    let preflight = |origin: &'static str| {
        visitor_client()
            .request(
                reqwest::Method::OPTIONS,
                app.url(&format!("/chat/{token}/messages")),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let allowed = preflight(SHOP).await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(allowed.headers()["access-control-allow-origin"], SHOP);
    let headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(headers.contains("lethe-visitor"), "{headers}");
    // The visitor id is never read from a URL, where a proxy's access log would keep it.
    let in_url = visitor_client()
        .get(app.url(&format!("/chat/{token}/messages?visitor={visitor}&after=0")))
        .header("Origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(in_url.status(), 400);
    let refused = preflight("https://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(messages_stored(&app).await, 0);
    assert_eq!(app.count::<conversation::Entity>().await, 0);
}

#[tokio::test]
async fn oversized_messages_a_filled_honeypot_and_bad_visitor_ids_are_refused_without_storing() {
    let app = spawn_app().await;
    let token = shop_with_chat(&app, SHOP).await;
    let visitor = visitor_id();

    let too_long = "x".repeat(4001);
    let cases = [
        (json!({"visitor": visitor, "text": too_long}), 413),
        (json!({"visitor": visitor, "text": "y".repeat(30_000)}), 413),
        (
            json!({"visitor": visitor, "text": "Buy now", "website": "http://spam.test"}),
            422,
        ),
        (json!({"visitor": "not-a-visitor", "text": "Hello"}), 400),
        (
            json!({"visitor": visitor.to_uppercase(), "text": "Hello"}),
            400,
        ),
        (json!({"visitor": visitor, "text": "   "}), 400),
        (
            json!({"visitor": visitor, "text": "Hello", "email": "not an address"}),
            400,
        ),
    ];
    for (body, status) in cases {
        let response = post_message(&app, &token, SHOP, body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            SHOP,
            "the shop's page may read why"
        );
    }
    let broken = visitor_client()
        .post(app.url(&format!("/chat/{token}/messages")))
        .header("Origin", SHOP)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);

    assert_eq!(messages_stored(&app).await, 0);
    assert_eq!(app.count::<conversation::Entity>().await, 0);
    let fine = "z".repeat(4000);
    let response = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor, "text": fine}),
    )
    .await;
    assert_eq!(response.status(), 201, "the longest message is taken");
}

#[tokio::test]
async fn a_visitor_over_the_chat_rate_limit_is_refused_and_others_are_not() {
    let app = spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_RATE_CHAT_PER_MINUTE".into(), "3".into())],
        ..Default::default()
    })
    .await;
    let token = shop_with_chat(&app, SHOP).await;
    let visitor = visitor_id();
    for n in 0..3 {
        let response = post_message(
            &app,
            &token,
            SHOP,
            json!({"visitor": visitor, "text": format!("Message {n}")}),
        )
        .await;
        assert_eq!(response.status(), 201);
    }

    let over = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor, "text": "One too many"}),
    )
    .await;

    assert_eq!(over.status(), 429);
    assert!(over.headers().get("retry-after").is_some());
    assert_eq!(
        messages_stored(&app).await,
        3,
        "nothing stored over the limit"
    );
    let other = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor_id(), "text": "Hello from another visitor"}),
    )
    .await;
    assert_eq!(other.status(), 201, "the limit is per visitor");
}

#[tokio::test]
async fn deleting_this_conversation_from_the_widget_erases_it_and_leaves_no_bytes() {
    // Arrange
    let app = spawn_app().await;
    let token = shop_with_chat(&app, SHOP).await;
    let org = app.org_id("Shop").await;
    let suffix = unique_suffix();
    let visitor = visitor_id();
    let sentence = format!("My quincejelly{suffix} order never came");
    let name = format!("Zebedee{suffix} Chatwright");
    let address = format!("zc{suffix}@kunde.test");
    let response = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor, "text": sentence, "name": name, "email": address}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let id = conversation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let path = format!("/conversations/{id}");
    let answer = format!("Sorry about the quincejelly{suffix}, we resend it");
    let reply = app
        .post_form(
            &path,
            &format!("{path}/reply"),
            &[("to", ""), ("cc", ""), ("bcc", ""), ("text", &answer)],
        )
        .await;
    assert_eq!(reply.status(), 303);
    let picture = format!("PICTURE-{suffix}-").repeat(40).into_bytes();
    let uploaded = visitor_client()
        .post(app.url(&format!("/chat/{token}/files?name=receipt.png")))
        .header("Origin", SHOP)
        .header("Lethe-Visitor", &visitor)
        .header("Content-Type", "image/png")
        .body(picture)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    lethe::search::indexer::run_once(&app.state).await.unwrap();
    lethe::db::checkpoint(&app.state.db).await.unwrap();
    let search = app
        .get_text(&format!("/search?q=quincejelly{suffix}"))
        .await;
    assert!(
        search.contains(&format!("/conversations/{id}")),
        "found by search"
    );
    let needles = vec![
        format!("quincejelly{suffix}"),
        format!("Zebedee{suffix}"),
        address.clone(),
    ];
    // Files are sealed in the store: the scan cannot see their bytes, the store's files count.
    let sealed_files = crate::helpers::files_under(&app.data_dir.join("attachments")).len();
    assert!(sealed_files > 0, "the picture is in the store");
    if app.database_url.is_none() {
        assert!(
            !traces(&app.data_dir, &needles).is_empty(),
            "the scan finds the chat before"
        );
    }

    // Act
    let deleted = visitor_client()
        .post(app.url(&format!("/chat/{token}/delete")))
        .header("Origin", SHOP)
        .body(json!({"visitor": visitor}).to_string())
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(deleted.status(), 200);
    assert_no_cookie(&deleted);
    let body: Value = deleted.json().await.unwrap();
    assert_eq!(body["deleted"], true);
    assert!(fetch_after(&app, &token, &visitor, 0).await.is_empty());
    assert_eq!(app.count::<conversation::Entity>().await, 0);
    assert_eq!(messages_stored(&app).await, 0);
    assert_eq!(
        app.count::<lethe::db::entity::attachment::Entity>().await,
        0
    );
    assert_eq!(
        crate::helpers::files_under(&app.data_dir.join("attachments")).len(),
        0,
        "the picture's file is gone"
    );
    let request = privacy_request::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("an erasure request is recorded");
    assert_eq!(request.organization_id, org);
    assert_eq!(request.kind, "erasure");
    assert_eq!(request.status, "completed");
    // Verified by holding the visitor id, and the register says so.
    assert!(request.verified_at.is_some(), "{request:?}");
    let verified = lethe::db::entity::audit_event::Entity::find()
        .filter(lethe::db::entity::audit_event::Column::Action.eq("privacy.request_verified"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(verified.len(), 1, "the verification is in the audit log");
    assert_eq!(verified[0].target, request.reference);
    let register = app.get_text("/privacy/requests").await;
    assert!(
        register.contains("data-verification=\"verified\""),
        "{register}"
    );
    if app.database_url.is_none() {
        let found = traces(&app.data_dir, &needles);
        assert!(found.is_empty(), "traces left: {found:#?}");
    }
}

/// A page of the shop on another loopback origin, embedding the widget.
async fn serve_shop_page(
    port: u16,
    lethe: &str,
    token: &str,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src {lethe}; connect-src {lethe}\">\
         </head><body><h1>Teapots</h1><script src=\"{lethe}/chat/{token}.js\" async></script></body></html>"
    );
    let handle = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let page = page.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), handle)
}

async fn run_script(browser: &Browser, script: &str) -> Value {
    browser
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
}

#[tokio::test]
async fn the_widget_stores_nothing_until_opened_and_then_chats_with_the_agent_in_a_real_browser() {
    // Arrange: the shop's page on another origin, allowed by the channel.
    let app = spawn_app().await;
    let shop_port = free_port();
    let shop_origin = format!("http://127.0.0.1:{shop_port}");
    let token = shop_with_chat(&app, &shop_origin).await;
    let (page_url, server) = serve_shop_page(shop_port, &app.address, &token).await;
    let browser = Browser::start().await;

    // Act: the page loads the widget.
    browser.goto(&page_url).await;
    browser
        .wait_until("the chat button", |_, page| {
            page.contains("lethe-chat-open")
        })
        .await;

    // Assert: nothing stored before the visitor opens the chat.
    let stored = run_script(
        &browser,
        "return [document.cookie, localStorage.length, sessionStorage.length];",
    )
    .await;
    assert_eq!(stored, json!(["", 0, 0]), "nothing before opening");

    // Act: open, write, send.
    browser.click("#lethe-chat-open").await;
    browser
        .type_into("#lethe-chat-text", "Do you ship teapots to Vienna?")
        .await;
    browser.click("#lethe-chat-send").await;
    browser
        .wait_until("the message in the widget", |_, page| {
            page.contains("lethe-chat-visitor")
        })
        .await;

    // Assert: the message reached the inbox; the visitor id is in localStorage only.
    let inbox = app.get_text("/inbox").await;
    assert!(
        inbox.contains("Chat: Do you ship teapots to Vienna?"),
        "in the inbox"
    );
    let stored = run_script(
        &browser,
        "return [document.cookie, localStorage.length, sessionStorage.length, localStorage.getItem(localStorage.key(0))];",
    )
    .await;
    assert_eq!(stored[0], "");
    assert_eq!(stored[1], 1);
    assert_eq!(stored[2], 0);
    assert!(
        regex::Regex::new("^[0-9a-f]{32}$")
            .unwrap()
            .is_match(stored[3].as_str().unwrap())
    );

    // Act: the agent answers.
    let id = conversation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let path = format!("/conversations/{id}");
    let reply = app
        .post_form(
            &path,
            &format!("{path}/reply"),
            &[
                ("to", ""),
                ("cc", ""),
                ("bcc", ""),
                ("text", "Yes, within three days."),
            ],
        )
        .await;
    assert_eq!(reply.status(), 303);

    // Assert: the answer shows in the widget without a reload.
    browser
        .wait_until("the agent's answer in the widget", |_, page| {
            page.contains("Yes, within three days.")
        })
        .await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    // The open widget passes axe-core's WCAG A/AA rules.
    let axe_path = std::env::var("LETHE_TEST_AXE_JS")
        .expect("LETHE_TEST_AXE_JS is not set: run the suite with ./scripts/test.sh");
    let axe_source = std::fs::read_to_string(&axe_path).expect("axe-core is readable");
    let found = crate::accessibility::violations(&browser, &axe_source).await;
    assert!(found.is_empty(), "axe-core violations: {found:#?}");
    browser.quit().await;
    server.abort();
}

/// A TCP relay in front of Lethe whose connections the test can cut, as a network drop does:
/// `cut` closes every open connection and drops new ones until `restore`.
struct CuttableLink {
    url: String,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl CuttableLink {
    async fn start(port: u16, target: &str) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let target = target.trim_start_matches("http://").to_owned();
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (is_down, connections) = (down.clone(), open.clone());
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if is_down.load(Ordering::SeqCst) {
                    continue; // dropped: the browser sees the connection fail
                }
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections.lock().unwrap().push(relay.abort_handle());
            }
        });
        CuttableLink {
            url: format!("http://127.0.0.1:{port}"),
            down,
            open,
            accepting,
        }
    }

    fn cut(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for relay in self.open.lock().unwrap().drain(..) {
            relay.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The agent answers conversation `id` through the conversation page.
async fn answer(app: &TestApp, id: i64, text: &str) {
    let path = format!("/conversations/{id}");
    let reply = app
        .post_form(
            &path,
            &format!("{path}/reply"),
            &[("to", ""), ("cc", ""), ("bcc", ""), ("text", text)],
        )
        .await;
    assert_eq!(reply.status(), 303);
}

#[tokio::test]
async fn after_a_network_drop_the_widget_reconnects_and_shows_what_it_missed() {
    // Arrange: the browser reaches Lethe through a link the test can cut; the visitor chats.
    let link_port = free_port();
    let app = spawn_app_with(AppOptions {
        extra_env: vec![(
            "LETHE_BASE_URL".to_owned(),
            format!("http://127.0.0.1:{link_port}"),
        )],
        ..Default::default()
    })
    .await;
    let link = CuttableLink::start(link_port, &app.address).await;
    let shop_port = free_port();
    let shop_origin = format!("http://127.0.0.1:{shop_port}");
    let token = shop_with_chat(&app, &shop_origin).await;
    let (page_url, server) = serve_shop_page(shop_port, &link.url, &token).await;
    let browser = Browser::start().await;
    browser.goto(&page_url).await;
    browser
        .wait_until("the chat button", |_, page| {
            page.contains("lethe-chat-open")
        })
        .await;
    browser.click("#lethe-chat-open").await;
    browser
        .type_into("#lethe-chat-text", "Is the blue teapot back?")
        .await;
    browser.click("#lethe-chat-send").await;
    browser
        .wait_until("the message in the widget", |_, page| {
            page.contains("lethe-chat-visitor")
        })
        .await;
    let id = conversation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    answer(&app, id, "Let me look.").await;
    browser
        .wait_until("the first answer, live", |_, page| {
            page.contains("Let me look.")
        })
        .await;

    // Act: the network drops; the agent answers meanwhile
    link.cut();
    answer(&app, id, "Yes, since Monday.").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let while_down = browser.source().await;
    link.restore();

    // Assert: nothing arrived while the link was down; after it is back the widget
    // reconnects by itself (no reload) and shows the answer it missed, once.
    assert!(
        !while_down.contains("Yes, since Monday."),
        "the link was really down"
    );
    let page = browser
        .wait_until("the missed answer after the drop", |_, page| {
            page.contains("Yes, since Monday.")
        })
        .await;
    assert_eq!(page.matches("Yes, since Monday.").count(), 1, "shown once");
    assert_eq!(page.matches("Let me look.").count(), 1, "not shown twice");
    browser.quit().await;
    server.abort();
    link.accepting.abort();
}

#[tokio::test]
async fn a_chat_marked_as_spam_blocks_its_visitor_and_no_one_else() {
    // Arrange
    let app = spawn_app().await;
    let token = shop_with_chat(&app, SHOP).await;
    let spammer = visitor_id();
    let first = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": spammer, "text": "Cheap watches"}),
    )
    .await;
    assert_eq!(first.status(), 201);
    let id = conversation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let path = format!("/conversations/{id}");
    let page = app.get_text(&path).await;
    assert!(
        page.contains(r#"<option value="visitor">"#),
        "the chat offers the block"
    );

    // Act
    let marked = app
        .post_form(&path, &format!("{path}/spam"), &[("block", "visitor")])
        .await;

    // Assert
    assert_eq!(marked.status(), 303);
    assert_eq!(app.conversation(id).await.status, "spam");
    let before = messages_stored(&app).await;
    let again = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": spammer, "text": "Cheap watches again"}),
    )
    .await;
    assert_eq!(again.status(), 403);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "blocked");
    assert_eq!(messages_stored(&app).await, before, "nothing stored");
    let other = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor_id(), "text": "Where is my parcel?"}),
    )
    .await;
    assert_eq!(other.status(), 201, "other visitors still write");
}

#[tokio::test]
async fn a_chat_is_exported_with_its_customer_and_anonymized_by_retention_like_any_conversation() {
    use lethe::retention::{Action, Category};
    use std::io::Read;
    // Arrange
    let app = spawn_app().await;
    let token = shop_with_chat(&app, SHOP).await;
    let org = app.org_id("Shop").await;
    let visitor = visitor_id();
    let text = "Hello, this is Ottilie Brandauer, please call +49 30 7654321.";
    let posted = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor, "text": text, "name": "Ottilie Brandauer",
               "email": "ottilie@kunde.test"}),
    )
    .await;
    assert_eq!(posted.status(), 201);
    let stored = conversation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();

    // Act: the export of the visitor's customer record.
    let customer_page = format!("/customers/{}", stored.customer_id);
    let page = app.get_text(&customer_page).await;
    let csrf = crate::helpers::csrf_of(&page);
    let export = app
        .post_with_csrf(&format!("{customer_page}/export"), &csrf, &[])
        .await;

    // Assert
    assert_eq!(export.status(), 200);
    let bytes = export.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut json = String::new();
    archive
        .by_name("export.json")
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    assert!(
        json.contains("Ottilie Brandauer, please call"),
        "the chat is exported"
    );
    assert!(json.contains("ottilie@kunde.test"));

    // Act: retention anonymizes closed conversations.
    app.close_days_ago(stored.id, 100).await;
    app.save_rule(org, Category::ClosedConversations, 30, Action::Anonymize)
        .await;
    lethe::retention::run_once(&app.state, org, false)
        .await
        .unwrap();

    // Assert
    let after = app.conversation(stored.id).await;
    assert_eq!(after.chat_visitor_key, None, "the visitor's key goes");
    let message = message::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !message.text_body.contains("Ottilie"),
        "{}",
        message.text_body
    );
    assert!(
        !message.text_body.contains("7654321"),
        "{}",
        message.text_body
    );
    assert!(
        fetch_after(&app, &token, &visitor, 0).await.is_empty(),
        "the widget no longer shows the anonymized chat"
    );
}

#[tokio::test]
async fn outside_business_hours_the_widget_asks_for_an_address_and_refuses_messages_without() {
    use sea_orm::{ActiveModelTrait, Set};
    // Arrange: a team that never works (every day closed), and a channel that answers by
    // mail outside the business hours.
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let org = app.org_id("Shop").await;
    lethe::db::entity::sla_setting::ActiveModel {
        organization_id: Set(org),
        settings: Set(json!({
            "time_zone": "Europe/Berlin",
            "hours": [null, null, null, null, null, null, null],
            "holidays": [],
            "default": {"first_response": null, "resolution": null},
            "rules": [],
            "warn_minutes": null
        })
        .to_string()),
        updated_at: Set(chrono::Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let created = app
        .post_form(
            "/settings/channels/chat/new",
            "/settings/channels/chat",
            &[
                ("name", "Shop chat"),
                ("origins", SHOP),
                ("answer_by_mail_outside_hours", "yes"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let page = app
        .get_text(location(&created).split('?').next().unwrap())
        .await;
    let token = regex::Regex::new(r"/chat/([A-Za-z0-9_-]+)\.js")
        .unwrap()
        .captures(&page)
        .unwrap()[1]
        .to_owned();
    assert!(page.contains("name=\"answer_by_mail_outside_hours\" value=\"yes\" aria-describedby=\"hours-hint\" checked"));

    // Act
    let js = visitor_client()
        .get(app.url(&format!("/chat/{token}.js")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let without = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor_id(), "text": "Anyone there?"}),
    )
    .await;
    let with = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor_id(), "text": "Anyone there?", "email": "night@kunde.test"}),
    )
    .await;

    // Assert
    assert!(
        js.contains("\"closed\":true"),
        "the widget knows the team is away"
    );
    assert!(js.contains("we answer by mail"));
    assert_eq!(without.status(), 400);
    let body: Value = without.json().await.unwrap();
    assert_eq!(body["error"], "email_required");
    assert_eq!(with.status(), 201);
    assert_eq!(messages_stored(&app).await, 1);
}

#[tokio::test]
async fn one_address_is_limited_to_ten_visitors_worth_of_chat_requests() {
    let app = spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_RATE_CHAT_PER_MINUTE".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let token = shop_with_chat(&app, SHOP).await;
    for n in 0..10 {
        let response = post_message(
            &app,
            &token,
            SHOP,
            json!({"visitor": visitor_id(), "text": format!("Visitor {n}")}),
        )
        .await;
        assert_eq!(response.status(), 201, "visitor {n}");
    }

    let eleventh = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor_id(), "text": "A fresh id from the same address"}),
    )
    .await;

    assert_eq!(
        eleventh.status(),
        429,
        "fresh ids do not escape the address limit"
    );
    assert_eq!(messages_stored(&app).await, 10);
}

/// Sends a file of `size` bytes with no declared length (`Transfer-Encoding: chunked`, as a
/// script streaming a file does) and returns the answer's status.
async fn chunked_upload(app: &TestApp, token: &str, visitor: &str, size: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = reqwest::Url::parse(&app.url("/")).unwrap();
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /chat/{token}/files?name=big.png HTTP/1.1\r\nHost: {address}\r\n\
         Origin: {SHOP}\r\nLethe-Visitor: {visitor}\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut sent = 0;
    while sent < size {
        let framed = [
            format!("{:x}\r\n", chunk.len()).as_bytes(),
            &chunk,
            b"\r\n".as_slice(),
        ]
        .concat();
        if stream.write_all(&framed).await.is_err() {
            break; // The server answered and closed: the answer is waiting.
        }
        sent += chunk.len();
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer, got {answer:?}"))
}

#[tokio::test]
async fn pictures_and_pdfs_go_both_ways_and_other_files_are_refused() {
    // Arrange
    let app = spawn_app_with(AppOptions {
        extra_env: vec![("LETHE_MAX_ATTACHMENT_MB".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let token = shop_with_chat(&app, SHOP).await;
    let org = app.org_id("Shop").await;
    let visitor = visitor_id();
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), b"teapot-picture-bytes"].concat();
    let upload =
        |visitor: String, name: &'static str, content_type: &'static str, body: Vec<u8>| {
            visitor_client()
                .post(app.url(&format!("/chat/{token}/files?name={name}")))
                .header("Origin", SHOP)
                .header("Lethe-Visitor", visitor)
                .header("Content-Type", content_type)
                .body(body)
                .send()
        };

    // Act: the visitor sends a picture.
    let sent = upload(visitor.clone(), "teapot.png", "image/png", png.clone())
        .await
        .unwrap();

    // Assert: the agent sees it on the conversation page.
    assert_eq!(sent.status(), 201);
    let id = conversation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let page = app.get_text(&format!("/conversations/{id}")).await;
    assert!(page.contains("teapot.png"), "the agent sees the file");
    assert_eq!(
        app.count::<lethe::db::entity::attachment::Entity>().await,
        1
    );

    // Other kinds and oversized files are refused, nothing stored.
    let program = upload(
        visitor.clone(),
        "setup.exe",
        "application/x-msdownload",
        b"MZ".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(program.status(), 415);
    let page_file = upload(
        visitor.clone(),
        "page.html",
        "text/html",
        b"<script>".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(page_file.status(), 415);
    let huge = upload(
        visitor.clone(),
        "huge.png",
        "image/png",
        vec![7u8; 1_500_000],
    )
    .await
    .unwrap();
    assert_eq!(huge.status(), 413);
    assert_eq!(
        chunked_upload(&app, &token, &visitor, 1_500_000).await,
        413,
        "a file over the limit with no declared length is refused as it arrives"
    );
    let empty = upload(visitor.clone(), "empty.png", "image/png", Vec::new())
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    assert_eq!(
        app.count::<lethe::db::entity::attachment::Entity>().await,
        1
    );
    let staging = app.data_dir.join("attachments").join("tmp");
    let left = std::fs::read_dir(&staging).map_or(0, |files| files.count());
    assert_eq!(left, 0, "no partial file is left in {}", staging.display());

    // The visitor downloads their own picture, byte for byte.
    let shown = fetch_after(&app, &token, &visitor, 0).await;
    let picture = shown[0]["files"][0]["id"].as_i64().unwrap();
    let mine = visitor_client()
        .get(app.url(&format!("/chat/{token}/files/{picture}")))
        .header("Origin", SHOP)
        .header("Lethe-Visitor", &visitor)
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), 200);
    assert_eq!(
        mine.headers()["content-length"],
        png.len().to_string().as_str()
    );
    assert_eq!(mine.bytes().await.unwrap().to_vec(), png);

    // Act: the agent answers with a PDF.
    let owner = lethe::auth::users::find_by_email(
        &app.state.db,
        &lethe::mail::EmailAddress::parse("owner@shop.test").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let pdf = b"%PDF-1.4 invoice-4711 %%EOF".to_vec();
    lethe::mail::outbound::queue_reply_with(
        &app.state,
        org,
        id,
        owner.id,
        "Here is the invoice.",
        lethe::mail::outbound::ReplyExtras {
            attachments: vec![lethe::mail::compose::NewAttachment {
                filename: "invoice.pdf".into(),
                content_type: "application/pdf".into(),
                blob: {
                    // Staged as an upload is: written into the store, then finished.
                    let mut writer = app.state.blobs.writer().unwrap();
                    std::io::Write::write_all(&mut writer, &pdf).unwrap();
                    writer.finish().unwrap()
                },
            }],
            recipients: None,
        },
    )
    .await
    .unwrap()
    .unwrap();

    // Assert: the widget lists it and downloads it; another visitor cannot.
    let messages = fetch_after(&app, &token, &visitor, 0).await;
    let answer = messages
        .iter()
        .find(|m| m["from"] == "agent")
        .expect("the answer");
    assert_eq!(answer["files"][0]["name"], "invoice.pdf");
    let file_id = answer["files"][0]["id"].as_i64().unwrap();
    let got = visitor_client()
        .get(app.url(&format!("/chat/{token}/files/{file_id}")))
        .header("Origin", SHOP)
        .header("Lethe-Visitor", &visitor)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert!(
        got.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(got.bytes().await.unwrap().to_vec(), pdf);
    let stranger = visitor_client()
        .get(app.url(&format!("/chat/{token}/files/{file_id}")))
        .header("Origin", SHOP)
        .header("Lethe-Visitor", visitor_id())
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 404);
}

#[tokio::test]
async fn a_restricted_visitor_s_chat_is_frozen_nobody_answers_or_types_and_new_messages_are_kept() {
    // Arrange: a visitor who left an address writes; an agent works in the same shop.
    let app = spawn_app().await;
    let token = shop_with_chat(&app, SHOP).await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    let visitor = visitor_id();
    let first = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor, "text": "Where is my parcel?", "name": "Rosa Chat",
               "email": "rosa@kunde.test"}),
    )
    .await;
    assert_eq!(first.status(), 201);
    let stored = conversation::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let path = format!("/conversations/{}", stored.id);
    let customer = format!("/customers/{}", stored.customer_id);

    // Act: the owner restricts the visitor's processing.
    let restricted = app
        .post_form(
            &customer,
            &format!("{customer}/restriction"),
            &[("reason", "Accuracy contested (Art. 18)")],
        )
        .await;
    assert_eq!(restricted.status(), 303);

    // Assert: nobody answers, nobody's typing reaches the visitor.
    let csrf = crate::helpers::csrf_of(&app.get_text(&path).await);
    let reply = app
        .post_with_csrf(
            &format!("{path}/reply"),
            &csrf,
            &[("to", ""), ("cc", ""), ("bcc", ""), ("text", "On its way.")],
        )
        .await;
    let typing = app
        .post_with_csrf(&format!("{path}/typing"), &csrf, &[])
        .await;
    for (what, response) in [("reply", reply), ("typing", typing)] {
        assert_eq!(response.status(), 400, "{what} is refused");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("processing of this customer")
        );
    }
    assert!(
        !app.state
            .presence
            .anyone_typing(lethe::inbox::presence::Room {
                org: app.org_id("Shop").await,
                conversation_id: stored.id,
            }),
        "no typing signal is kept"
    );
    let shown = fetch_after(&app, &token, &visitor, 0).await;
    assert_eq!(shown.len(), 1, "no answer reached the widget");
    assert_eq!(shown[0]["from"], "visitor");

    // The visitor writes again: kept (never lost), frozen, out of the agent's sight.
    let before = messages_stored(&app).await;
    let again = post_message(
        &app,
        &token,
        SHOP,
        json!({"visitor": visitor, "text": "Hello? Anyone?"}),
    )
    .await;
    assert_eq!(again.status(), 201);
    assert_eq!(
        messages_stored(&app).await,
        before + 1,
        "the message is kept"
    );
    assert_eq!(
        app.count::<conversation::Entity>().await,
        1,
        "in the same chat"
    );
    let agent = app.another_browser();
    agent.login("agent@shop.test").await;
    let inbox = agent.get_text("/inbox").await;
    assert!(
        !inbox.contains("Where is my parcel?") && !inbox.contains("Hello? Anyone?"),
        "agents don't see a restricted visitor's chat"
    );
    let agent_view = agent.get_text(&path).await;
    assert!(agent_view.contains("restricted-banner"));
    assert!(!agent_view.contains("Hello? Anyone?"));
    let search = agent.get_text("/search?q=parcel").await;
    assert!(!search.contains(&path), "nor find it");
}

/// The Shop's knowledge base for the widget's help (default language German): a public,
/// published article in English and German, an internal one, a draft, and another
/// organization's public article, all about teapots.
async fn teapot_articles(app: &TestApp) {
    use lethe::assist::knowledge::model::{self, ArticleInput, Lang, Slug};
    let article =
        |slug: &str, public: bool, published: bool, lang: Lang, title: &str| ArticleInput {
            slug: Slug::parse(slug).unwrap(),
            category_id: None,
            public,
            published,
            lang,
            title: title.to_owned(),
            body: format!("{title}: rinse the **teapot** with warm water."),
        };
    let db = &app.state.db;
    let now = chrono::Utc::now();
    let shop = app.org_id("Shop").await;
    model::save_settings(db, shop, None, "Help", Lang::De)
        .await
        .unwrap();
    let care = model::create(
        db,
        shop,
        &article(
            "teapot-care",
            true,
            true,
            Lang::En,
            "Caring for your teapot",
        ),
        now,
    )
    .await
    .unwrap();
    let mut german = article("teapot-care", true, true, Lang::De, "Pflege Ihrer Teekanne");
    german.body = "Spülen Sie die Teekanne (teapot) mit warmem Wasser.".to_owned();
    model::update(db, shop, care, &german, now).await.unwrap();
    model::create(
        db,
        shop,
        &article(
            "teapot-internal",
            false,
            true,
            Lang::En,
            "Internal teapot discounts",
        ),
        now,
    )
    .await
    .unwrap();
    model::create(
        db,
        shop,
        &article("teapot-draft", true, false, Lang::En, "Draft teapot recall"),
        now,
    )
    .await
    .unwrap();
    app.create_user("owner@else.test", "Else", "owner").await;
    let other = app.org_id("Else").await;
    model::create(
        db,
        other,
        &article("teapot-else", true, true, Lang::En, "Else teapot guide"),
        now,
    )
    .await
    .unwrap();
}

/// A widget request from the shop's page in a browser that prefers `language`.
async fn widget_get(app: &TestApp, path: &str, language: Option<&str>) -> reqwest::Response {
    let mut request = visitor_client().get(app.url(path)).header("Origin", SHOP);
    if let Some(language) = language {
        request = request.header("Accept-Language", language);
    }
    request.send().await.unwrap()
}

/// No address of another host in a page's `src` or `href` attributes.
fn assert_nothing_from_another_host(page: &str) {
    let outside = regex::Regex::new(r#"(?i)(src|href|action)\s*=\s*"(https?:)?//"#).unwrap();
    assert!(
        !outside.is_match(page),
        "a reference to another host: {page}"
    );
}

#[tokio::test]
async fn the_widget_offers_public_articles_in_the_visitor_s_language_only_when_switched_on() {
    // Arrange: the setting is off by default.
    let app = spawn_app().await;
    let token = shop_with_chat(&app, SHOP).await;
    teapot_articles(&app).await;
    let edit = format!("/settings/channels/chat/{}", channel_id(&app).await);
    let search = format!("/chat/{token}/articles?q=teapot");
    let page = format!("/chat/{token}/help?q=teapot");

    // Off: no articles, in the script, as JSON or as a page.
    assert!(app.get_text(&edit).await.contains("name=\"help_articles\""));
    let js = visitor_client()
        .get(app.url(&format!("/chat/{token}.js")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("\"help\":false"), "off by default");
    assert_eq!(widget_get(&app, &search, None).await.status(), 404);
    assert_eq!(
        widget_get(&app, &format!("/chat/{token}/articles/teapot-care"), None)
            .await
            .status(),
        404
    );
    assert_eq!(widget_get(&app, &page, None).await.status(), 404);
    assert_eq!(
        widget_get(&app, &format!("/chat/{token}/help/teapot-care"), None)
            .await
            .status(),
        404
    );

    // Act: the owner switches it on.
    let saved = app
        .post_form(
            &edit,
            &edit,
            &[
                ("name", "Shop chat"),
                ("origins", SHOP),
                ("help_articles", "yes"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let settings = app.get_text(&edit).await;
    assert!(
        settings.contains(&format!("/chat/{token}/help")),
        "the page without JavaScript"
    );

    // Assert: found by a word, in the visitor's language, the organization's default (German)
    // when the visitor's is missing; internal, draft and other organizations' never.
    let js = visitor_client()
        .get(app.url(&format!("/chat/{token}.js")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("\"help\":true"));
    for (language, title, lang) in [
        (Some("en-GB,en;q=0.9"), "Caring for your teapot", "en"),
        (Some("de"), "Pflege Ihrer Teekanne", "de"),
        (Some("fr"), "Pflege Ihrer Teekanne", "de"),
        (None, "Pflege Ihrer Teekanne", "de"),
    ] {
        let answer = widget_get(&app, &search, language).await;
        assert_eq!(answer.status(), 200, "{language:?}");
        assert_no_cookie(&answer);
        assert_eq!(answer.headers()["access-control-allow-origin"], SHOP);
        let found: Value = answer.json().await.unwrap();
        assert_eq!(
            found,
            json!({"articles": [{"slug": "teapot-care", "title": title, "lang": lang}]}),
            "{language:?}"
        );
    }
    let article: Value = widget_get(
        &app,
        &format!("/chat/{token}/articles/teapot-care"),
        Some("de"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(article["title"], "Pflege Ihrer Teekanne");
    assert!(
        article["text"]
            .as_str()
            .unwrap()
            .contains("Spülen Sie die Teekanne")
    );
    for hidden in ["teapot-internal", "teapot-draft", "teapot-else", "nothing"] {
        let answer = widget_get(&app, &format!("/chat/{token}/articles/{hidden}"), None).await;
        assert_eq!(answer.status(), 404, "{hidden}");
        let answer = widget_get(&app, &format!("/chat/{token}/help/{hidden}"), None).await;
        assert_eq!(answer.status(), 404, "{hidden}");
    }
    let elsewhere = visitor_client()
        .get(app.url(&search))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403, "other origins are refused");

    // The pages without JavaScript: the same, no cookie, nothing from another host.
    let results = widget_get(&app, &page, Some("en")).await;
    assert_eq!(results.status(), 200);
    assert_no_cookie(&results);
    let results = results.text().await.unwrap();
    assert!(results.contains("Caring for your teapot"), "{results}");
    assert!(results.contains(&format!("/chat/{token}/help/teapot-care?lang=en")));
    for hidden in ["Internal teapot", "Draft teapot", "Else teapot", "Teekanne"] {
        assert!(!results.contains(hidden), "{hidden} in {results}");
    }
    assert_nothing_from_another_host(&results);
    let shown = widget_get(
        &app,
        &format!("/chat/{token}/help/teapot-care"),
        Some("fr, de;q=0.5"),
    )
    .await;
    assert_eq!(shown.status(), 200);
    assert_no_cookie(&shown);
    let shown = shown.text().await.unwrap();
    assert!(shown.contains("Pflege Ihrer Teekanne") && shown.contains("lang=\"de\""));
    assert_nothing_from_another_host(&shown);

    // A visitor's search is kept nowhere.
    let unusual = "kettlewobblequery";
    assert_eq!(
        widget_get(&app, &format!("/chat/{token}/articles?q={unusual}"), None)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!({"articles": []})
    );
    widget_get(&app, &format!("/chat/{token}/help?q={unusual}"), None).await;
    if app.database_url.is_none() {
        let found = traces(&app.data_dir, &[unusual]);
        assert!(found.is_empty(), "the search was stored: {found:#?}");
    }
}

#[tokio::test]
async fn a_visitor_finds_and_reads_an_article_in_the_widget_and_still_chats_in_a_real_browser() {
    // Arrange: the shop's page on another origin, the articles offered.
    let app = spawn_app().await;
    let shop_port = free_port();
    let shop_origin = format!("http://127.0.0.1:{shop_port}");
    let token = shop_with_chat(&app, &shop_origin).await;
    teapot_articles(&app).await;
    let edit = format!("/settings/channels/chat/{}", channel_id(&app).await);
    let saved = app
        .post_form(
            &edit,
            &edit,
            &[
                ("name", "Shop chat"),
                ("origins", &shop_origin),
                ("help_articles", "yes"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let (page_url, server) = serve_shop_page(shop_port, &app.address, &token).await;
    let browser = Browser::start().await;
    browser.goto(&page_url).await;
    browser
        .wait_until("the chat button", |_, page| {
            page.contains("lethe-chat-open")
        })
        .await;

    // Act: open, search, open the article.
    browser.click("#lethe-chat-open").await;
    browser.type_into("#lethe-chat-q", "teapot").await;
    browser.click("#lethe-chat-help-search").await;
    browser
        .wait_until("the article found", |_, page| {
            page.contains("lethe-chat-article-link")
        })
        .await;
    browser.click(".lethe-chat-article-link").await;
    browser
        .wait_until("the article in the widget", |_, page| {
            // In the browser's language: English, else the shop's default (German).
            page.contains("rinse the teapot with warm water")
                || page.contains("Spülen Sie die Teekanne")
        })
        .await;

    // Assert: nothing stored by searching and reading; the page passes axe-core.
    let stored = run_script(&browser, "return [document.cookie, sessionStorage.length];").await;
    assert_eq!(stored, json!(["", 0]));
    let axe_path = std::env::var("LETHE_TEST_AXE_JS")
        .expect("LETHE_TEST_AXE_JS is not set: run the suite with ./scripts/test.sh");
    let axe_source = std::fs::read_to_string(&axe_path).expect("axe-core is readable");
    let found = crate::accessibility::violations(&browser, &axe_source).await;
    assert!(found.is_empty(), "axe-core violations: {found:#?}");

    // Act: the visitor still starts a chat.
    browser
        .type_into("#lethe-chat-text", "The teapot article did not help.")
        .await;
    browser.click("#lethe-chat-send").await;
    browser
        .wait_until("the message in the widget", |_, page| {
            page.contains("lethe-chat-visitor")
        })
        .await;
    assert!(
        app.get_text("/inbox")
            .await
            .contains("Chat: The teapot article did not help.")
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.quit().await;
    server.abort();
}
