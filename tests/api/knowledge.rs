//! The knowledge base and the public help centre (src/assist/knowledge/): articles written,
//! edited and deleted over the pages with their audit entries, refused forms, search by
//! stemmed words (also from another node on the same database), tenant scope, the help
//! centre's languages, cookies and hidden articles, inserting into a draft without
//! JavaScript, and the organization export and purge.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{TestApp, csrf_of, location, mail, spawn_app, unique_suffix};
use lethe::db::entity::{
    audit_event, draft, knowledge_article, knowledge_category, knowledge_setting, knowledge_variant,
};

/// Posts the article form; returns the answer.
async fn post_article(app: &TestApp, page: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.post_form(page, page, fields).await
}

/// Creates an article over the page; returns its id.
async fn create_article(app: &TestApp, fields: &[(&str, &str)]) -> i64 {
    let response = post_article(app, "/knowledge/new", fields).await;
    assert_eq!(response.status(), 303, "article created");
    let to = location(&response);
    to.trim_start_matches("/knowledge/")
        .split('?')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("article id in {to}"))
}

/// Adds (or rewrites) an article's variant in `language`.
async fn edit_article(app: &TestApp, id: i64, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = format!("/knowledge/{id}/edit");
    post_article(app, &page, fields).await
}

async fn audit_actions(app: &TestApp, target: &str) -> Vec<String> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Target.eq(target))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// An app with an agent and an admin of "Shop", the agent signed in.
async fn shop() -> TestApp {
    let app = spawn_app().await;
    app.create_user("admin@shop.test", "Shop", "owner").await;
    app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("agent@shop.test").await;
    app
}

async fn sign_in_as(app: &TestApp, email: &str) {
    let csrf = csrf_of(&app.get_text("/knowledge").await);
    app.post_with_csrf("/logout", &csrf, &[]).await;
    assert_eq!(app.login(email).await.status(), 303);
}

#[tokio::test]
async fn agents_write_articles_admins_delete_them_and_every_change_is_audited() {
    // Arrange
    let app = shop().await;

    // Act: the agent writes an article in English, then adds German.
    let id = create_article(
        &app,
        &[
            ("slug", "returns"),
            ("language", "en"),
            ("title", "Returning an order"),
            ("body", "Send it **back** within 30 days."),
            ("public", "1"),
        ],
    )
    .await;
    let edited = edit_article(
        &app,
        id,
        &[
            ("slug", "returns"),
            ("language", "de"),
            ("title", "Rücksendung"),
            ("body", "Senden Sie die Ware zurück."),
            ("public", "1"),
            ("published", "1"),
        ],
    )
    .await;

    // Assert
    assert_eq!(edited.status(), 303);
    let page = app.get_text(&format!("/knowledge/{id}?lang=en")).await;
    assert!(page.contains("Returning an order") && page.contains("<strong>back</strong>"));
    let german = app.get_text(&format!("/knowledge/{id}?lang=de")).await;
    assert!(german.contains("Rücksendung"));
    let list = app.get_text("/knowledge?lang=de").await;
    assert!(list.contains("Rücksendung"), "the list filters by language");
    // An agent may not delete.
    let csrf = csrf_of(&page);
    let refused = app
        .post_with_csrf(&format!("/knowledge/{id}/delete"), &csrf, &[])
        .await;
    assert_eq!(refused.status(), 403);
    // The admin confirms and deletes.
    sign_in_as(&app, "admin@shop.test").await;
    let confirm = app.get_text(&format!("/knowledge/{id}/delete")).await;
    assert!(confirm.contains("Returning an order"));
    let deleted = app
        .post_with_csrf(&format!("/knowledge/{id}/delete"), &csrf_of(&confirm), &[])
        .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(app.get(&format!("/knowledge/{id}")).await.status(), 404);
    assert!(
        knowledge_variant::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        audit_actions(&app, &format!("article:{id}")).await,
        [
            "knowledge.article_created",
            "knowledge.article_updated",
            "knowledge.article_deleted"
        ]
    );
}

#[tokio::test]
async fn bad_article_forms_say_what_is_wrong_and_change_nothing() {
    // Arrange
    let app = shop().await;
    let id = create_article(
        &app,
        &[
            ("slug", "taken"),
            ("language", "en"),
            ("title", "First"),
            ("body", "x"),
        ],
    )
    .await;

    // Act and assert
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[
                ("slug", "fresh"),
                ("language", "en"),
                ("title", "  "),
                ("body", "x"),
            ],
            "Give the article a title.",
        ),
        (
            &[
                ("slug", "fresh"),
                ("language", "pl"),
                ("title", "T"),
                ("body", "x"),
            ],
            "Choose one of the languages.",
        ),
        (
            &[
                ("slug", "taken"),
                ("language", "en"),
                ("title", "T"),
                ("body", "x"),
            ],
            "Another article has this address.",
        ),
        (
            &[
                ("slug", "Not A Slug"),
                ("language", "en"),
                ("title", "T"),
                ("body", "x"),
            ],
            "Give an address of 1 to 80",
        ),
        (
            &[
                ("slug", "fresh"),
                ("language", "en"),
                ("title", "T"),
                ("category", "999999"),
            ],
            "Choose one of the categories.",
        ),
    ];
    for (fields, message) in cases {
        let response = post_article(&app, "/knowledge/new", fields).await;
        assert_eq!(response.status(), 422, "{fields:?}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains(message),
            "{message} in the answer to {fields:?}"
        );
    }
    let refused_edit = edit_article(
        &app,
        id,
        &[
            ("slug", "taken"),
            ("language", "en"),
            ("title", ""),
            ("body", "changed"),
        ],
    )
    .await;
    assert_eq!(refused_edit.status(), 422);
    let articles = knowledge_article::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(articles.len(), 1);
    let variants = knowledge_variant::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(variants.len(), 1);
    assert_eq!(
        (variants[0].title.as_str(), variants[0].body.as_str()),
        ("First", "x")
    );
}

#[tokio::test]
async fn search_finds_stemmed_german_and_french_words_and_follows_edits_on_another_node() {
    // Arrange
    let app = shop().await;
    let id = create_article(
        &app,
        &[
            ("slug", "ruecksendung"),
            ("language", "de"),
            ("title", "Rücksendungen"),
            (
                "body",
                "Wir erstatten alle Bestellungen innerhalb von zwei Wochen.",
            ),
        ],
    )
    .await;
    create_article(
        &app,
        &[
            ("slug", "livraison"),
            ("language", "fr"),
            ("title", "Délais de livraison"),
            ("body", "Les colis arrivent en trois jours ouvrés."),
        ],
    )
    .await;

    // Act and assert: stemmed words, other forms.
    let german = app.get_text("/knowledge?q=Bestellung").await;
    assert!(
        german.contains("Rücksendungen"),
        "Bestellung finds Bestellungen"
    );
    assert!(!german.contains("Délais de livraison"));
    let french = app.get_text("/knowledge?q=colis+livraisons").await;
    assert!(
        french.contains("Délais de livraison"),
        "livraisons finds livraison"
    );
    let filtered = app.get_text("/knowledge?q=livraison&lang=de").await;
    assert!(filtered.contains("No article matches."));

    // A second node on the same database sees an edit made on the first.
    let other = app.second_node().await;
    other.login("agent@shop.test").await;
    assert!(
        other
            .get_text("/knowledge?q=Bestellung")
            .await
            .contains("Rücksendungen")
    );
    let edited = edit_article(
        &app,
        id,
        &[
            ("slug", "ruecksendung"),
            ("language", "de"),
            ("title", "Rücksendungen"),
            ("body", "Wir erstatten den Kaufpreis."),
        ],
    )
    .await;
    assert_eq!(edited.status(), 303);
    let after = other.get_text("/knowledge?q=Bestellung").await;
    assert!(
        after.contains("No article matches."),
        "the old word is gone"
    );
    assert!(
        other
            .get_text("/knowledge?q=Kaufpreise")
            .await
            .contains("Rücksendungen")
    );
}

#[tokio::test]
async fn another_organizations_articles_answer_not_found() {
    // Arrange
    let app = shop().await;
    let id = create_article(
        &app,
        &[
            ("slug", "secret"),
            ("language", "en"),
            ("title", "Shop secret"),
            ("body", "x"),
        ],
    )
    .await;
    app.create_user("owner@other.test", "Other", "owner").await;
    let other = app.another_browser();
    other.login("owner@other.test").await;

    // Act and assert
    for path in [
        format!("/knowledge/{id}"),
        format!("/knowledge/{id}/edit"),
        format!("/knowledge/{id}/delete"),
    ] {
        assert_eq!(other.get(&path).await.status(), 404, "{path}");
    }
    let csrf = csrf_of(&other.get_text("/knowledge").await);
    let deleted = other
        .post_with_csrf(&format!("/knowledge/{id}/delete"), &csrf, &[])
        .await;
    assert_eq!(deleted.status(), 404);
    assert!(
        !other
            .get_text("/knowledge?q=secret")
            .await
            .contains("Shop secret")
    );
    assert_eq!(app.get(&format!("/knowledge/{id}")).await.status(), 200);
}

/// A help centre at `/help/{slug}` with a public published article in English and German, an
/// internal one and a draft; returns the slug.
async fn help_centre(app: &TestApp) -> String {
    let slug = format!("shop-{}", unique_suffix().to_lowercase());
    sign_in_as(app, "admin@shop.test").await;
    let saved = app
        .post_form(
            "/knowledge/categories",
            "/knowledge/settings",
            &[
                ("help_slug", &slug),
                ("help_title", "Shop Help"),
                ("default_language", "en"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let id = create_article(
        app,
        &[
            ("slug", "shipping"),
            ("language", "en"),
            ("title", "Shipping times"),
            ("body", "Parcels arrive in three days."),
            ("public", "1"),
            ("published", "1"),
        ],
    )
    .await;
    edit_article(
        app,
        id,
        &[
            ("slug", "shipping"),
            ("language", "de"),
            ("title", "Lieferzeiten"),
            ("body", "Pakete kommen in drei Tagen an."),
            ("public", "1"),
            ("published", "1"),
        ],
    )
    .await;
    create_article(
        app,
        &[
            ("slug", "internal-notes"),
            ("language", "en"),
            ("title", "Internal refund rules"),
            ("body", "Parcels from friends are refunded twice."),
            ("published", "1"),
        ],
    )
    .await;
    create_article(
        app,
        &[
            ("slug", "coming-soon"),
            ("language", "en"),
            ("title", "Draft parcels"),
            ("body", "Parcels draft."),
            ("public", "1"),
        ],
    )
    .await;
    slug
}

#[tokio::test]
async fn the_help_centre_shows_public_published_articles_in_the_visitors_language_without_cookies()
{
    // Arrange
    let app = shop().await;
    let slug = help_centre(&app).await;
    let visitor = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: String, language: &'static str| {
        visitor
            .get(app.url(&path))
            .header("accept-language", language)
            // A stale session cookie would be cleared elsewhere; here nothing is set.
            .header("cookie", "lethe_session=stale")
            .send()
    };

    // Act
    let home = get(format!("/help/{slug}"), "de-DE,de;q=0.9,en;q=0.5")
        .await
        .unwrap();
    let english = get(format!("/help/{slug}/articles/shipping?lang=en"), "de")
        .await
        .unwrap();
    let german = get(
        format!("/help/{slug}/articles/shipping"),
        "fr;q=0.9, de;q=0.8",
    )
    .await
    .unwrap();
    let fallback = get(format!("/help/{slug}/articles/shipping"), "pl")
        .await
        .unwrap();
    let search = get(format!("/help/{slug}/search?q=parcels"), "en")
        .await
        .unwrap();

    // Assert
    for response in [&home, &english, &german, &fallback, &search] {
        assert_eq!(response.status(), 200, "{}", response.url());
        assert!(
            response.headers().get("set-cookie").is_none(),
            "no cookie on {}",
            response.url()
        );
    }
    let home = home.text().await.unwrap();
    assert!(home.contains("Lieferzeiten") && home.contains("Shop Help"));
    assert!(!home.contains("Internal refund rules") && !home.contains("Draft parcels"));
    let english = english.text().await.unwrap();
    assert!(english.contains("Parcels arrive in three days."));
    assert!(english.contains("?lang=de"), "links to the other language");
    assert!(german.text().await.unwrap().contains("Pakete kommen"));
    assert!(
        fallback.text().await.unwrap().contains("Parcels arrive"),
        "the default language"
    );
    let search = search.text().await.unwrap();
    assert!(search.contains("Shipping times"));
    assert!(!search.contains("Internal refund rules") && !search.contains("Draft parcels"));
    for path in [
        format!("/help/{slug}/articles/internal-notes"),
        format!("/help/{slug}/articles/coming-soon"),
        format!("/help/{slug}/articles/nothing"),
        "/help/no-such-centre".to_owned(),
    ] {
        let response = get(path.clone(), "en").await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.headers().get("set-cookie").is_none());
    }
}

#[tokio::test]
async fn an_article_is_inserted_into_the_draft_as_link_or_text_without_javascript() {
    // Arrange
    let app = shop().await;
    let slug = help_centre(&app).await;
    let org = app.org_id("Shop").await;
    let (_, conversation) = app
        .receive(
            org,
            mail(
                "Kim <kim@kunde.test>",
                &format!("k-{}@kunde.test", unique_suffix()),
                "Where is it?",
                "When does my parcel arrive?",
            ),
        )
        .await;
    let page = app
        .get_text(&format!("/conversations/{conversation}"))
        .await;
    assert!(page.contains(&format!("/conversations/{conversation}/knowledge")));

    // Act
    let found = app
        .get_text(&format!(
            "/conversations/{conversation}/knowledge?q=Lieferzeit"
        ))
        .await;
    let csrf = csrf_of(&found);
    let article = knowledge_article::Entity::find()
        .filter(knowledge_article::Column::Slug.eq("shipping"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let action = format!("/conversations/{conversation}/knowledge");
    let id = article.id.to_string();
    let text = app
        .post_with_csrf(
            &action,
            &csrf,
            &[("article", &id), ("lang", "de"), ("mode", "text")],
        )
        .await;
    let link = app
        .post_with_csrf(
            &action,
            &csrf,
            &[("article", &id), ("lang", "en"), ("mode", "link")],
        )
        .await;

    // Assert
    assert!(found.contains("Lieferzeiten") && found.contains("Insert link"));
    assert_eq!(text.status(), 303);
    assert!(location(&text).starts_with(&format!("/conversations/{conversation}?")));
    assert_eq!(link.status(), 303);
    let saved = draft::Entity::find()
        .filter(draft::Column::ConversationId.eq(conversation))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("a draft");
    assert!(
        saved
            .text_body
            .starts_with("Lieferzeiten\n\nPakete kommen in drei Tagen an.")
    );
    assert!(
        saved.text_body.ends_with(&format!(
            "Shipping times: {}/help/{slug}/articles/shipping?lang=en",
            app.address
        )),
        "{}",
        saved.text_body
    );
    assert_eq!(saved.to_addresses, "kim@kunde.test");
    let reopened = app
        .get_text(&format!("/conversations/{conversation}"))
        .await;
    assert!(reopened.contains("Pakete kommen in drei Tagen an."));
}

#[tokio::test]
async fn the_organization_export_holds_the_knowledge_base_and_the_purge_removes_it() {
    // Arrange
    let app = shop().await;
    help_centre(&app).await;
    let created = app
        .post_form(
            "/knowledge/categories",
            "/knowledge/categories",
            &[("name", "Delivery"), ("position", "1")],
        )
        .await;
    assert_eq!(created.status(), 303);
    let org = app.org_id("Shop").await;

    // Act
    let csrf = csrf_of(&app.get_text("/settings/organization").await);
    let export = app
        .post_with_csrf("/settings/organization/export", &csrf, &[])
        .await;
    assert_eq!(export.status(), 200);
    let bytes = export.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let json: serde_json::Value =
        serde_json::from_reader(archive.by_name("organization.json").unwrap()).unwrap();
    lethe::orgs::purge::purge(&app.state, org).await.unwrap();

    // Assert
    let knowledge = &json["knowledge"];
    assert_eq!(knowledge["categories"][0]["name"], "Delivery");
    let articles = knowledge["articles"].as_array().unwrap();
    assert_eq!(articles.len(), 3);
    let shipping = articles.iter().find(|a| a["slug"] == "shipping").unwrap();
    assert_eq!(shipping["variants"].as_array().unwrap().len(), 2);
    assert!(
        knowledge["help_centre"]["slug"]
            .as_str()
            .unwrap()
            .starts_with("shop-")
    );
    assert_eq!(app.count::<knowledge_article::Entity>().await, 0);
    assert_eq!(app.count::<knowledge_variant::Entity>().await, 0);
    assert_eq!(app.count::<knowledge_category::Entity>().await, 0);
    assert_eq!(app.count::<knowledge_setting::Entity>().await, 0);
}
