//! A real headless Chromium, driven over the W3C WebDriver protocol through the chromedriver
//! that ./scripts/test.sh starts (`LETHE_TEST_WEBDRIVER_URL`).

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, json_of, spawn_app};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    pub async fn start() -> Self {
        let driver = std::env::var("LETHE_TEST_WEBDRIVER_URL")
            .expect("LETHE_TEST_WEBDRIVER_URL is not set: run the suite with ./scripts/test.sh, which starts chromedriver");
        let http = reqwest::Client::new();
        let profile = tempfile::Builder::new()
            .prefix("chrome-")
            .tempdir_in(crate::helpers::test_tmp_root())
            .unwrap()
            .keep();
        let binary = std::env::var("LETHE_TEST_CHROME_BINARY")
            .unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let response = json_of(http.post(format!("{driver}/session")).json(&capabilities)).await;
        let id = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"))
            .to_owned();
        Self {
            http,
            base: format!("{driver}/session/{id}"),
        }
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        if let Some(error) = response["value"].get("error") {
            panic!("WebDriver {path}: {error} {}", response["value"]["message"]);
        }
        response["value"].clone()
    }

    /// Signs in on the login page as a person would and waits for the inbox.
    pub async fn sign_in(&self, app: &crate::helpers::TestApp, email: &str) {
        self.goto(&app.url("/login")).await;
        self.type_into("#email", email).await;
        self.type_into("#password", PASSWORD).await;
        self.click("form.stack button[type=submit]").await;
        self.wait_until("the inbox", |url, _| url.ends_with("/inbox"))
            .await;
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn find(&self, css: &str) -> String {
        let value = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        value[ELEMENT].as_str().unwrap().to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits (up to 10 s) until the page's URL and source satisfy `ready`: a click that
    /// submits a form returns before the next page has loaded.
    pub async fn wait_until(&self, what: &str, ready: impl Fn(&str, &str) -> bool) -> String {
        for _ in 0..100 {
            let url = self.current_url().await;
            let source = self.source().await;
            if ready(&url, &source) {
                return source;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for: {what} (at {})",
            self.current_url().await
        );
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Console messages the page logged (CSP violations show up here).
    pub async fn console_errors(&self) -> Vec<String> {
        let response: Value = self
            .http
            .post(format!("{}/se/log", self.base))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null);
        response["value"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].to_string())
                    // A 4xx answer on purpose (a wrong password) is not a page error.
                    .filter(|m| {
                        !m.contains(
                            "Failed to load resource: the server responded with a status of 4",
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

#[tokio::test]
async fn an_agent_signs_in_in_a_real_browser_and_manages_the_team() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Kräuterladen", "owner")
        .await;
    let browser = Browser::start().await;

    browser.goto(&app.url("/inbox")).await;
    assert!(
        browser.current_url().await.contains("/login?next="),
        "sent to the login page"
    );
    browser.type_into("#email", "owner@shop.test").await;
    browser.type_into("#password", "wrong password").await;
    browser.click("form.stack button[type=submit]").await;
    browser
        .wait_until("the login error", |_, page| page.contains("not correct"))
        .await;

    browser.type_into("#password", PASSWORD).await;
    browser.click("form.stack button[type=submit]").await;
    let inbox = browser
        .wait_until("back at the inbox", |url, _| url.ends_with("/inbox"))
        .await;
    assert!(inbox.contains("Kräuterladen"));

    browser.goto(&app.url("/settings/team")).await;
    browser
        .type_into("#invite-email", "new.agent@shop.test")
        .await;
    browser
        .click("form[action='/settings/team/invitations'] button[type=submit]")
        .await;
    let page = browser
        .wait_until("the invitation", |_, page| page.contains("/invitations/"))
        .await;
    assert!(
        page.contains("new.agent@shop.test"),
        "the pending invitation is listed"
    );

    browser.click("header form[action='/logout'] button").await;
    let page = browser
        .wait_until("the login page", |url, _| url.contains("/login"))
        .await;
    assert!(page.contains("You are signed out"));
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "the browser reported errors (CSP?): {errors:?}"
    );
    browser.quit().await;
}

#[tokio::test]
async fn an_agent_answers_a_customer_in_a_real_browser_and_the_reply_is_sent() {
    use crate::helpers::arriving;
    let smtp = crate::smtp::SmtpRecorder::start().await;
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let (channel, _) = app
        .email_channel(org, "Support", "support@shop.test", Some(smtp.port))
        .await;
    let customer_mail = "From: Élodie Martin <elodie@client.test>\r\nTo: support@shop.test\r\nSubject: Colis abîmé\r\nMessage-ID: <elodie-1@client.test>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Le colis est arrivé <b>abîmé</b>.</p><script>alert(1)</script><img src=\"https://tracker.example/p.gif\">\r\n";
    app.ingest(arriving(org, Some(channel)), customer_mail)
        .await;

    let browser = Browser::start().await;
    browser.sign_in(&app, "agent@shop.test").await;
    browser
        .click("tr[data-conversation-id] a[href^='/conversations/']")
        .await;
    let page = browser
        .wait_until("the conversation", |url, _| url.contains("/conversations/"))
        .await;
    assert!(page.contains("abîmé"), "the customer's message is shown");
    assert!(
        !page.contains("alert(1)"),
        "no script from the mail reaches the page"
    );
    let loaded = regex::Regex::new(r#"\ssrc="https://tracker"#).unwrap();
    assert!(!loaded.is_match(&page), "remote images are not loaded");
    browser
        .type_into("#reply-text", "Nous vous envoyons un nouveau colis.")
        .await;
    browser.click("form.reply-form button[type=submit]").await;
    browser
        .wait_until("the queued reply", |url, page| {
            url.contains("flash=") && page.contains("Nous vous envoyons un nouveau colis.")
        })
        .await;

    lethe::mail::outbound::run_once(&app.state, chrono::Utc::now())
        .await
        .unwrap();
    let sent = smtp.wait_for(1).await;
    assert!(sent[0].contains("In-Reply-To: <elodie-1@client.test>"));
    assert!(sent[0].contains("elodie@client.test"));
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "the browser reported errors (CSP?): {errors:?}"
    );
    browser.quit().await;
}

#[tokio::test]
async fn files_dropped_onto_the_reply_form_are_sent_with_the_reply_in_a_real_browser() {
    use crate::helpers::arriving;
    use sea_orm::EntityTrait;
    let smtp = crate::smtp::SmtpRecorder::start().await;
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let (channel, _) = app
        .email_channel(org, "Support", "support@shop.test", Some(smtp.port))
        .await;
    let customer_mail = "From: Jan <jan@client.test>\r\nTo: support@shop.test\r\nSubject: Return\r\nMessage-ID: <jan-1@client.test>\r\n\r\nHow do I send it back?\r\n";
    let (conversation_id, _) = app
        .ingest(arriving(org, Some(channel)), customer_mail)
        .await;

    let browser = Browser::start().await;
    browser.sign_in(&app, "agent@shop.test").await;
    browser
        .goto(&app.url(&format!("/conversations/{conversation_id}")))
        .await;
    browser
        .type_into("#reply-text", "Here is your return label.")
        .await;
    // A drop as the browser makes it when a file is dragged from the desktop.
    let chosen = browser
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": r##"
                var form = document.querySelector("form.reply-form");
                var dropped = new DataTransfer();
                dropped.items.add(new File(["%PDF-1.4 return label"], "label.pdf", {type: "application/pdf"}));
                form.dispatchEvent(new DragEvent("dragover", {dataTransfer: dropped, bubbles: true, cancelable: true}));
                form.dispatchEvent(new DragEvent("drop", {dataTransfer: dropped, bubbles: true, cancelable: true}));
                return document.querySelector("#reply-files").files.length;
            "##, "args": []})),
        )
        .await;
    assert_eq!(chosen, json!(1), "the dropped file joined the file field");
    browser.click("form.reply-form button[type=submit]").await;
    browser
        .wait_until("the queued reply", |url, page| {
            url.contains("flash=") && page.contains("Here is your return label.")
        })
        .await;
    let page = browser.source().await;
    assert!(page.contains("label.pdf"), "the file shows under the reply");
    let stored = lethe::db::entity::attachment::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        stored
            .iter()
            .any(|a| a.filename == "label.pdf" && a.content_type == "application/pdf")
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the browser reported errors: {errors:?}");
    browser.quit().await;
}

#[tokio::test]
async fn on_a_phone_no_page_scrolls_sideways_in_a_real_browser() {
    use crate::helpers::arriving;
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let (channel, _) = app
        .email_channel(org, "Support", "support@shop.test", None)
        .await;
    let customer_mail = "From: Aleksandra Wiśniewska-Kowalczyk <aleksandra.wisniewska-kowalczyk@a-rather-long-domain-name.example>\r\nTo: support@shop.test\r\nSubject: My order 4711-0815-2342 arrived damaged and I would like a replacement please\r\nMessage-ID: <phone-1@client.test>\r\n\r\nThe parcel https://tracking.example/very/long/path/that/does/not/break/anywhere/at/all/1234567890 was damaged.\r\n";
    let (conversation_id, _) = app
        .ingest(arriving(org, Some(channel)), customer_mail)
        .await;
    let customer_id = app.customer_of(conversation_id).await;

    let browser = Browser::start().await;
    browser
        .call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": 390, "height": 844})),
        )
        .await;
    browser.sign_in(&app, "agent@shop.test").await;
    app.login("agent@shop.test").await; // the test's own client checks each page renders
    for path in [
        "/inbox".to_owned(),
        format!("/conversations/{conversation_id}"),
        format!("/customers/{customer_id}"),
        "/search?q=parcel".to_owned(),
        "/settings/retention".to_owned(),
        "/settings/channels".to_owned(),
        "/privacy/requests".to_owned(),
        "/audit".to_owned(),
        "/account".to_owned(),
        "/reports".to_owned(),
        "/notifications".to_owned(),
        "/settings/sla".to_owned(),
        "/keyboard".to_owned(),
    ] {
        let answer = app.get(&path).await;
        assert!(
            answer.status().is_success(),
            "{path} answers {}: a page that does not render cannot overflow",
            answer.status()
        );
        browser.goto(&app.url(&path)).await;
        let widths = browser
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": r##"
                    var width = document.documentElement.clientWidth, wide = [];
                    document.querySelectorAll("body *").forEach(function (e) {
                        var box = e.getBoundingClientRect();
                        if (box.right > width + 1 && wide.length < 5) wide.push(e.tagName + "." + e.className + "#" + e.id + " " + Math.round(box.right));
                    });
                    return [document.documentElement.scrollWidth, width, wide.join(", ")];
                "##, "args": []})),
            )
            .await;
        let (scroll, client) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
        assert!(
            client <= 400,
            "{path}: the window is phone-sized ({client} px)"
        );
        assert!(
            scroll <= client,
            "{path} scrolls sideways on a phone: {scroll} px of content in {client} px ({})",
            widths[2]
        );
    }
    browser.quit().await;
}

#[tokio::test]
async fn keyboard_shortcuts_move_open_and_close_in_a_real_browser() {
    use crate::helpers::arriving;
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    app.create_user("agent@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let (channel, _) = app
        .email_channel(org, "Support", "support@shop.test", None)
        .await;
    for n in 0..3 {
        let raw = format!(
            "From: Kunde {n} <k{n}@client.test>\r\nTo: support@shop.test\r\nSubject: Frage {n}\r\nMessage-ID: <keys-{n}@client.test>\r\n\r\nHallo {n}\r\n"
        );
        app.ingest(arriving(org, Some(channel)), raw).await;
    }
    let browser = Browser::start().await;
    browser.sign_in(&app, "agent@shop.test").await;
    let press = |keys: &'static str| {
        let script = format!(
            "var target = document.activeElement || document.body; {} return (document.querySelector('tr.current') || {{getAttribute: function () {{ return null; }}}}).getAttribute('data-conversation-id');",
            keys.chars()
                .map(|k| format!(
                    "target.dispatchEvent(new KeyboardEvent('keydown', {{key: '{k}', bubbles: true}})); target = document.activeElement || document.body;"
                ))
                .collect::<String>()
        );
        browser.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    };
    // j twice: the second row is current; e closes it through the bulk form.
    let current = press("jj").await;
    let id: i64 = current.as_str().unwrap().parse().unwrap();
    press("e").await;
    browser
        .wait_until("the list again", |url, _| url.contains("flash="))
        .await;
    assert_eq!(app.conversation(id).await.status, "closed");
    let open = lethe::db::entity::conversation::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.status == "open")
        .count();
    assert_eq!(open, 2, "only the current row was closed");

    // j, o opens the first row; n goes to the note box; typing there is not a shortcut.
    press("jo").await;
    browser
        .wait_until("a conversation", |url, _| url.contains("/conversations/"))
        .await;
    let focused = browser
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'n', bubbles: true})); var box = document.activeElement; box.dispatchEvent(new KeyboardEvent('keydown', {key: 'g', bubbles: true})); box.dispatchEvent(new KeyboardEvent('keydown', {key: 'i', bubbles: true})); return [box.id, window.location.pathname];", "args": []})),
        )
        .await;
    assert_eq!(focused[0], "note-text");
    assert!(focused[1].as_str().unwrap().starts_with("/conversations/"));
    // ? (not while typing) opens the list of shortcuts.
    let help = browser
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": "var box = document.activeElement; box.dispatchEvent(new KeyboardEvent('keydown', {key: '?', bubbles: true})); var typing = document.getElementById('shortcuts').open; box.blur(); document.body.dispatchEvent(new KeyboardEvent('keydown', {key: '?', bubbles: true})); var dialog = document.getElementById('shortcuts'); return [typing, dialog.open, dialog.textContent.indexOf('Snooze it until tomorrow') >= 0];", "args": []})),
        )
        .await;
    assert_eq!(
        help,
        json!([false, true, true]),
        "? opens the shortcut list, never while typing"
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the browser reported errors: {errors:?}");
    browser.quit().await;
}
