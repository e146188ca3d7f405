//! Erasure in a real headless Chromium (the WebDriver helpers of `browser.rs`): an admin opens
//! a customer, goes through the confirmation step, and the customer is gone.

use crate::browser::Browser;
use crate::helpers::{arriving, mail, spawn_app};

#[tokio::test]
async fn an_admin_erases_a_customer_through_the_confirmation_step_in_a_real_browser() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let raw = mail(
        "Erika Mustermann <erika@kunde.test>",
        "erika-1@kunde.test",
        "Bitte alles löschen",
        "Bitte löschen Sie meine Daten.",
    )
    .undated();
    let (conversation_id, _) = app.ingest(arriving(org, None), raw).await;
    let customer_id = app.customer_of(conversation_id).await;
    let browser = Browser::start().await;
    browser.sign_in(&app, "admin@shop.test").await;

    // Act
    browser
        .goto(&app.url(&format!("/customers/{customer_id}")))
        .await;
    browser.click("a.erase-link").await;
    let confirm = browser
        .wait_until("the confirmation page", |url, _| url.ends_with("/erase"))
        .await;
    browser.click("form.erase-form button[type=submit]").await;
    let receipt = browser
        .wait_until("the deletion receipt", |url, _| {
            url.contains("/privacy/receipts/")
        })
        .await;
    browser
        .goto(&app.url(&format!("/customers/{customer_id}")))
        .await;
    let gone = browser
        .wait_until("the customer page", |_, page| page.contains("</html>"))
        .await;

    // Assert
    assert!(
        confirm.contains("Erika Mustermann"),
        "the confirmation names the customer"
    );
    assert!(
        confirm.contains(r#"<tr data-category="conversations"><td>Conversations</td><td class="count">1</td></tr>"#),
        "the confirmation shows the counts"
    );
    assert!(
        receipt.contains("DSR-"),
        "the receipt names the request reference"
    );
    assert!(!receipt.contains("Erika"), "the receipt names nobody");
    assert!(!gone.contains("Erika"), "the customer page is gone");
    assert!(gone.contains("This page does not exist"));
    assert!(app.find_customer(customer_id).await.is_none());
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "the browser reported errors (CSP?): {errors:?}"
    );
    browser.quit().await;
}
