//! Erasure in a real headless Chromium (the WebDriver helpers of `browser.rs`): an admin opens
//! a customer, goes through the confirmation step, and the customer is gone.

use sea_orm::EntityTrait;

use crate::browser::Browser;
use crate::helpers::{PASSWORD, spawn_app};
use lethe::db::entity::customer;
use lethe::mail::ingest::{Outcome, Source, ingest_raw};

#[tokio::test]
async fn an_admin_erases_a_customer_through_the_confirmation_step_in_a_real_browser() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    let org = lethe::orgs::queries::find_by_name(&app.state.db, "Shop")
        .await
        .unwrap()
        .unwrap()
        .0;
    let raw = "From: Erika Mustermann <erika@kunde.test>\r\nTo: support@shop.test\r\nSubject: Bitte alles löschen\r\nMessage-ID: <erika-1@kunde.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBitte löschen Sie meine Daten.\r\n";
    let Outcome::Stored {
        conversation_id, ..
    } = ingest_raw(
        &app.state,
        Source {
            org,
            channel_id: None,
            keep_original_date: false,
        },
        raw.as_bytes().to_vec(),
    )
    .await
    .unwrap()
    else {
        panic!("mail not stored");
    };
    let customer_id = lethe::db::entity::conversation::Entity::find_by_id(conversation_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .customer_id;
    let browser = Browser::start().await;
    browser.goto(&app.url("/login")).await;
    browser.type_into("#email", "admin@shop.test").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form.stack button[type=submit]").await;
    browser
        .wait_until("the inbox", |url, _| url.ends_with("/inbox"))
        .await;

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
    assert!(
        customer::Entity::find_by_id(customer_id)
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "the browser reported errors (CSP?): {errors:?}"
    );
    browser.quit().await;
}
