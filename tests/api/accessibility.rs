//! Every page a person meets passes axe-core's WCAG 2.0–2.2 A and AA rules in a real Chromium:
//! the rules engine (npm `axe-core`, fetched by ./scripts/test.sh, `LETHE_TEST_AXE_JS`) is
//! injected into each page after it loaded and its violations are reported by rule and element.

use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{arriving, spawn_app};

/// The rule sets checked: WCAG 2.0, 2.1 and 2.2 at levels A and AA.
const WCAG_TAGS: [&str; 6] = [
    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa",
];

/// Runs axe-core on the page the browser shows and returns one line per violation.
pub(crate) async fn violations(browser: &Browser, axe_source: &str) -> Vec<String> {
    browser
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": format!("{axe_source}\nreturn typeof axe;"), "args": []})),
        )
        .await;
    let found = browser
        .call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": r##"
                var done = arguments[arguments.length - 1];
                axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
                  .then(function (result) {
                    done(result.violations.map(function (v) {
                      return v.id + " (" + v.impact + "): " + v.help + " at " +
                        v.nodes.slice(0, 3).map(function (n) { return n.target.join(" "); }).join(" | ");
                    }));
                  })
                  .catch(function (error) { done(["axe failed: " + error]); });
            "##, "args": [WCAG_TAGS]})),
        )
        .await;
    found
        .as_array()
        .unwrap_or_else(|| panic!("axe-core answered no list of violations: {found}"))
        .iter()
        .map(|line| line.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_page_passes_axe_core_in_a_real_browser() {
    let axe_path = std::env::var("LETHE_TEST_AXE_JS")
        .expect("LETHE_TEST_AXE_JS is not set: run the suite with ./scripts/test.sh, which fetches axe-core");
    let axe_source = std::fs::read_to_string(&axe_path).expect("axe-core is readable");
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let (channel, _) = app
        .email_channel(org, "Support", "support@shop.test", None)
        .await;
    let mail = "From: Jana Novák <jana@client.test>\r\nTo: support@shop.test\r\nSubject: Where is my parcel?\r\nMessage-ID: <a11y-1@client.test>\r\n\r\nMy order 4711 has not arrived.\r\n";
    let (conversation_id, _) = app.ingest(arriving(org, Some(channel)), mail).await;
    let customer_id = app.customer_of(conversation_id).await;
    app.login("owner@shop.test").await; // the test's own client checks each page answers
    // The knowledge base and the help centre (src/assist/knowledge/): one public article.
    let article = {
        use lethe::assist::knowledge::model::{self, ArticleInput, Lang, Slug};
        let slug = Slug::parse("a11y-help").expect("slug");
        model::save_settings(&app.state.db, org, Some(&slug), "Help", Lang::En)
            .await
            .unwrap();
        let input = ArticleInput {
            slug: Slug::parse("parcels").expect("slug"),
            category_id: None,
            public: true,
            published: true,
            lang: Lang::En,
            title: "Where is my parcel?".to_owned(),
            body: "Parcels arrive in **three** days.".to_owned(),
        };
        model::create(&app.state.db, org, &input, chrono::Utc::now())
            .await
            .unwrap()
    };

    // A chat channel offering the articles (src/chat/help.rs): its pages without JavaScript.
    let chat = app
        .post_form(
            "/settings/channels/chat/new",
            "/settings/channels/chat",
            &[
                ("name", "Shop chat"),
                ("origins", "https://shop.example"),
                ("help_articles", "yes"),
            ],
        )
        .await;
    assert_eq!(chat.status(), 303, "the chat channel is created");
    let chat_page = app
        .get_text(
            crate::helpers::location(&chat)
                .split('?')
                .next()
                .unwrap_or_default(),
        )
        .await;
    let chat_token = regex::Regex::new(r"/chat/([A-Za-z0-9_-]+)\.js")
        .unwrap()
        .captures(&chat_page)
        .expect("the page shows the snippet")[1]
        .to_owned();

    let browser = Browser::start().await;
    let mut failures = Vec::new();
    // Signed out first: the pages a person meets before signing in.
    for path in ["/login", "/password/forgot"] {
        browser.goto(&app.url(path)).await;
        for violation in violations(&browser, &axe_source).await {
            failures.push(format!("{path}: {violation}"));
        }
    }
    browser.sign_in(&app, "owner@shop.test").await;
    let pages = [
        "/inbox".to_owned(),
        "/inbox?status=closed".to_owned(),
        format!("/conversations/{conversation_id}"),
        "/conversations/new".to_owned(),
        format!("/customers/{customer_id}"),
        format!("/customers/{customer_id}/erase"),
        "/search?q=parcel".to_owned(),
        "/settings/canned-replies".to_owned(),
        "/settings/blocked-senders".to_owned(),
        "/settings/channels".to_owned(),
        "/settings/channels/new".to_owned(),
        format!("/settings/channels/{channel}"),
        "/settings/retention".to_owned(),
        "/settings/privacy".to_owned(),
        "/settings/organization".to_owned(),
        "/settings/api-keys".to_owned(),
        "/settings/backups".to_owned(),
        "/settings/webhooks".to_owned(),
        "/privacy/requests".to_owned(),
        "/settings/team".to_owned(),
        "/audit".to_owned(),
        "/audit/access".to_owned(),
        "/account".to_owned(),
        "/account/security".to_owned(),
        "/orgs/new".to_owned(),
        "/keyboard".to_owned(),
        "/notifications".to_owned(),
        "/settings/sla".to_owned(),
        "/reports".to_owned(),
        "/knowledge".to_owned(),
        "/knowledge?q=parcel".to_owned(),
        "/knowledge/new".to_owned(),
        "/knowledge/categories".to_owned(),
        format!("/knowledge/{article}"),
        format!("/knowledge/{article}/edit"),
        format!("/knowledge/{article}/delete"),
        format!("/conversations/{conversation_id}/knowledge?q=parcel"),
        "/help/a11y-help".to_owned(),
        "/help/a11y-help/search?q=parcel".to_owned(),
        "/help/a11y-help/articles/parcels".to_owned(),
        format!("/chat/{chat_token}/help"),
        format!("/chat/{chat_token}/help?q=parcel"),
        format!("/chat/{chat_token}/help/parcels"),
        "/settings/channels/chat/new".to_owned(),
        "/inbox?sort=sla&sla=overdue".to_owned(),
    ];
    for path in &pages {
        let response = app.get(path).await;
        assert!(
            response.status().is_success(),
            "{path} answers {} to a signed-in owner: the list of pages is out of date",
            response.status()
        );
        browser.goto(&app.url(path)).await;
        for violation in violations(&browser, &axe_source).await {
            failures.push(format!("{path}: {violation}"));
        }
    }
    // The check itself works: an image without a text alternative is caught.
    browser
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": "var img = document.createElement('img'); img.src = '/assets/img/favicon.svg'; document.getElementById('main').appendChild(img);", "args": []})),
        )
        .await;
    let caught = violations(&browser, &axe_source).await;
    assert!(
        caught.iter().any(|v| v.starts_with("image-alt")),
        "axe-core runs and reports a missing alt text: {caught:?}"
    );
    browser.quit().await;
    assert!(
        failures.is_empty(),
        "axe-core found {} WCAG A/AA violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
