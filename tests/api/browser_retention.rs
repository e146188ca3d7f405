//! Retention settings in a real headless Chromium: an admin sets a rule, sees its preview,
//! saves it, runs it, and finds the run in the history.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{arriving, mail, spawn_app};
use lethe::db::entity::conversation;

impl Browser {
    /// Empties an input field.
    async fn clear(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
    }
}

#[tokio::test]
async fn an_admin_sets_previews_saves_and_runs_a_retention_rule_in_a_real_browser() {
    // Arrange: three conversations closed more than a year ago
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    for i in 0..3 {
        let raw = mail(
            "Berta Browser <berta@browser.test>",
            &format!("browser-{i}@browser.test"),
            &format!("Question {i}"),
            &format!("Question number {i}"),
        )
        .undated();
        app.ingest(arriving(org, None), raw).await;
    }
    conversation::Entity::update_many()
        .col_expr(conversation::Column::Status, Expr::val("closed"))
        .col_expr(
            conversation::Column::ClosedAt,
            Expr::val(Utc::now() - Duration::days(400)),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let browser = Browser::start().await;
    browser.sign_in(&app, "owner@shop.test").await;

    // Act 1: the rule for closed conversations, previewed
    browser.goto(&app.url("/settings/retention")).await;
    let row = "form:has(#days-closed_conversations)";
    browser.clear("#days-closed_conversations").await;
    browser.type_into("#days-closed_conversations", "30").await;
    browser
        .click("#action-closed_conversations option[value='delete']")
        .await;
    browser
        .click(&format!(
            "{row} button[formaction='/settings/retention/preview']"
        ))
        .await;

    // Assert: the preview, and nothing saved
    let page = browser
        .wait_until("the preview", |_, page| {
            page.contains("This rule would now:")
        })
        .await;
    assert!(
        page.contains("delete 3 conversations of 1 customers"),
        "{page}"
    );
    assert!(page.contains("Previewed above, not saved yet"));
    assert!(
        lethe::retention::saved_rules(&app.state.db, org)
            .await
            .unwrap()
            .is_empty()
    );

    // Act 2: saved from the same form, which kept the previewed values
    browser
        .click(&format!("{row} button:not([formaction])"))
        .await;
    let page = browser
        .wait_until("the saved rule", |url, page| {
            url.contains("flash=") && page.contains("Remove rule")
        })
        .await;
    assert!(page.contains("Lethe would: delete 3 conversations of 1 customers"));
    let rules = lethe::retention::saved_rules(&app.state.db, org)
        .await
        .unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].after_days(), 30);
    assert_eq!(rules[0].action(), lethe::retention::Action::Delete);

    // Act 3: run now
    browser
        .click("form[action='/settings/retention/run'] button")
        .await;
    browser
        .wait_until("the run started", |_, page| {
            page.contains("Retention run started")
        })
        .await;

    // Assert: the run appears in the history (it runs in the background: reload until done)
    let finished = regex::Regex::new(
        r#"(?s)<tr id="run-\d+">.*?run now.*?delete 3 conversations of 1 customers.*?</tr>"#,
    )
    .unwrap();
    let mut seen = false;
    for _ in 0..100 {
        browser.goto(&app.url("/settings/retention")).await;
        if finished.is_match(&browser.source().await) {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        seen,
        "the run is not in the history: {}",
        browser.source().await
    );
    assert_eq!(
        conversation::Entity::find()
            .filter(conversation::Column::OrganizationId.eq(org.get()))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "the browser reported errors (CSP?): {errors:?}"
    );
    browser.quit().await;
}
