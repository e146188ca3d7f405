//! A real headless Chromium, driven over the W3C WebDriver protocol through the chromedriver
//! that ./scripts/test.sh starts (`LETHE_TEST_WEBDRIVER_URL`).

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app};

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
        let response: Value = http
            .post(format!("{driver}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"))
            .to_owned();
        Self {
            http,
            base: format!("{driver}/session/{id}"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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

    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
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
    assert!(browser.text(".errors").await.contains("not correct"));

    browser.type_into("#password", PASSWORD).await;
    browser.click("form.stack button[type=submit]").await;
    assert!(
        browser.current_url().await.ends_with("/inbox"),
        "back where the agent wanted to go"
    );
    assert!(browser.source().await.contains("Kräuterladen"));

    browser.goto(&app.url("/settings/team")).await;
    browser
        .type_into("#invite-email", "new.agent@shop.test")
        .await;
    browser.click("form.row button[type=submit]").await;
    let page = browser.source().await;
    assert!(
        page.contains("new.agent@shop.test"),
        "the pending invitation is listed"
    );
    assert!(
        page.contains("/invitations/"),
        "without SMTP the link is shown to hand over"
    );

    browser.click("header form[action='/logout'] button").await;
    let mut signed_out = false;
    for _ in 0..50 {
        if browser.current_url().await.contains("/login") {
            signed_out = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(signed_out, "logout leads to the login page");
    assert!(browser.text(".flash").await.contains("signed out"));
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "the browser reported errors (CSP?): {errors:?}"
    );
    browser.quit().await;
}
