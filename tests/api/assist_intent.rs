//! Intents on the conversation page (issue 17): the newest customer message's intent is shown
//! collapsed and offered as a tag by a plain form; nothing for a restricted customer; and an
//! organization's own tagged history teaches its model (in memory) a pattern the starter model
//! does not know, without words that only one conversation holds.

use lethe::assist::intent::{Intent, train};
use lethe::inbox::tags::{TagName, link};
use lethe::orgs::OrgId;

use crate::helpers::{TestApp, csrf_of, mail, spawn_app};

/// An owner of "Laden I", signed in.
async fn shop(app: &TestApp) -> OrgId {
    app.create_user("owner@laden-i.test", "Laden I", "owner")
        .await;
    app.login("owner@laden-i.test").await;
    app.org_id("Laden I").await
}

/// A mail from `from` with this subject and text; (customer id, conversation id).
async fn customer_writes(
    app: &TestApp,
    org: OrgId,
    from: &str,
    subject: &str,
    text: &str,
) -> (i64, i64) {
    let message_id = format!("<{}@kunde.test>", crate::helpers::unique_suffix());
    app.receive(org, mail(from, &message_id, subject, text))
        .await
}

#[tokio::test]
async fn a_german_refund_mail_shows_refund_and_the_button_tags_the_conversation() {
    // Arrange
    let app = spawn_app().await;
    let org = shop(&app).await;
    let (_, id) = customer_writes(
        &app,
        org,
        "jonas@kunde.test",
        "Geld zurück",
        "Hallo, ich habe die Schuhe vor drei Wochen zurückgeschickt und warte immer noch auf die Rückerstattung. Wann bekomme ich mein Geld zurück?\n\nAm 1. März schrieb Laden <info@laden.test>:\n> Ihre Bestellung wurde versandt.",
    )
    .await;

    // Act
    let page = app.get_text(&format!("/conversations/{id}")).await;

    // Assert
    assert!(page.contains("<details id=\"intent\">"), "{page}");
    assert!(page.contains("Intent: Refund"), "{page}");
    assert!(page.contains("name=\"name\" value=\"refund\""), "{page}");

    // Act: the button is a plain form posting the tag.
    let tagged = app
        .post_with_csrf(
            &format!("/conversations/{id}/tags"),
            &csrf_of(&page),
            &[("name", "refund")],
        )
        .await;

    // Assert
    assert!(tagged.status().is_redirection(), "{}", tagged.status());
    let page = app.get_text(&format!("/conversations/{id}")).await;
    assert!(page.contains("<span class=\"tag\">refund</span>"), "{page}");
    assert!(page.contains("Tagged."), "{page}");
    assert!(!page.contains("name=\"name\" value=\"refund\""), "{page}");
}

#[tokio::test]
async fn a_restricted_customers_conversation_shows_no_intent() {
    // Arrange
    let app = spawn_app().await;
    let org = shop(&app).await;
    let (customer, id) = customer_writes(
        &app,
        org,
        "lea@kunde.test",
        "Erstattung",
        "Bitte erstatten Sie mir den Betrag, die Rücksendung ist seit zwei Wochen bei Ihnen.",
    )
    .await;
    assert!(
        app.get_text(&format!("/conversations/{id}"))
            .await
            .contains("id=\"intent\"")
    );
    let restricted = app
        .post_form(
            &format!("/customers/{customer}"),
            &format!("/customers/{customer}/restriction"),
            &[("reason", "Richtigkeit bestritten")],
        )
        .await;
    assert!(
        restricted.status().is_redirection(),
        "{}",
        restricted.status()
    );

    // Act
    let page = app.get_text(&format!("/conversations/{id}")).await;

    // Assert
    assert!(!page.contains("id=\"intent\""), "{page}");
    assert!(!page.contains("Intent:"), "{page}");
}

#[tokio::test]
async fn an_organization_learns_its_own_pattern_and_ignores_a_word_of_one_conversation() {
    // Arrange: seven conversations about the shop's own stamp card, tagged with the German
    // label of "refund"; one of them holds a word no other has, one is a restricted customer's.
    let app = spawn_app().await;
    let org = shop(&app).await;
    let tag = TagName::parse("Rückerstattung").unwrap();
    let wordings = [
        "Meine Stempelkarte ist voll, wie geht es weiter?",
        "Die Stempelkarte hat jetzt zehn Stempel.",
        "Hallo, Stempelkarte voll, bitte um Info.",
        "Ich schicke Ihnen ein Foto meiner vollen Stempelkarte.",
        "Stempelkarte komplett, Xylophonkundin hier.",
        "Was passiert mit einer vollen Stempelkarte?",
        "Meine Stempelkarte ist fertig gestempelt.",
    ];
    let mut restricted_customer = None;
    for (n, text) in wordings.iter().enumerate() {
        let (customer, id) =
            customer_writes(&app, org, &format!("k{n}@kunde.test"), "Stempelkarte", text).await;
        link(&app.state.db, org, id, &tag).await.unwrap();
        restricted_customer = Some(customer);
    }
    let restricted_customer = restricted_customer.unwrap();
    app.post_form(
        &format!("/customers/{restricted_customer}"),
        &format!("/customers/{restricted_customer}/restriction"),
        &[("reason", "Widerspruch")],
    )
    .await;
    let (_, probe) = customer_writes(
        &app,
        org,
        "neu@kunde.test",
        "Frage",
        "Hallo, meine Stempelkarte ist voll.",
    )
    .await;
    let before = app.get_text(&format!("/conversations/{probe}")).await;
    assert!(!before.contains("Intent: Refund"), "{before}");

    // Act
    let outcome = train::run_once(&app.state).await.unwrap();

    // Assert
    assert_eq!(outcome.trained, 1);
    let own = app.state.intents.get(org).expect("a model of its own");
    assert_eq!(
        own.examples[Intent::Refund.index()],
        6,
        "the restricted customer's is left out"
    );
    assert!(own.model.knows("w:stempelkarte"));
    assert!(!own.model.knows("w:xylophonkundin"));
    let after = app.get_text(&format!("/conversations/{probe}")).await;
    assert!(after.contains("Intent: Refund"), "{after}");
    assert!(after.contains("Learnt from your organization"), "{after}");
    // The organization's own tag is the one offered.
    assert!(after.contains("value=\"Rückerstattung\""), "{after}");
}
