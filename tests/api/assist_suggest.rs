//! Suggestions (src/assist/suggest/): computed on this server for the customer's newest
//! message from canned replies and the replies that closed similar conversations; off by
//! default, kept unseen in shadow mode, shown on request; customer data under retention,
//! export and erasure.

use lethe::db::entity::assist_suggestion;
use lethe::orgs::OrgId;
use lethe::retention::{Action, Category};
use lethe::search::indexer::run_once;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{TestApp, arriving, files_holding, location, mail, spawn_app, unique_suffix};

/// An owner signed in, an email channel that can send, a canned reply about returns and a
/// resolved conversation of another customer about a return (answered and closed).
async fn shop() -> (TestApp, OrgId, i64) {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    let channel = app
        .email_channel(
            org,
            "Support",
            "support@shop.test",
            Some(crate::smtp::free_port()),
        )
        .await
        .0;
    app.login("owner@shop.test").await;
    let canned = app
        .post_form(
            "/settings/canned-replies",
            "/settings/canned-replies",
            &[
                ("title", "Rücksendung Etikett"),
                (
                    "body",
                    "Hallo {customer_first_name}, anbei das Rücksendeetikett für Ihre Jacke.",
                ),
            ],
        )
        .await;
    assert_eq!(canned.status(), 303);
    // An internal, published article about returns (and a draft article that never shows).
    for (slug, title, published) in [
        ("ruecksendung", "Rücksendung einer Jacke", "1"),
        ("entwurf", "Rücksendung Entwurf", ""),
    ] {
        let mut fields = vec![
            ("slug", slug),
            ("language", "de"),
            ("title", title),
            (
                "body",
                "So senden Sie eine **Jacke** zurück: Etikett drucken, Paket abgeben.",
            ),
        ];
        if !published.is_empty() {
            fields.push(("published", published));
        }
        let article = app
            .post_form("/knowledge/new", "/knowledge/new", &fields)
            .await;
        assert_eq!(article.status(), 303, "article {slug}");
    }
    // Berta's return, answered and closed: the reply names her and her street.
    let earlier = customer_writes(
        &app,
        org,
        channel,
        "Berta Brandt <berta@kunde.test>",
        "Die Jacke ist zu klein, ich möchte sie zurücksenden. Bestellung 55001.",
    )
    .await;
    let page = format!("/conversations/{earlier}");
    let replied = app
        .post_form(
            &page,
            &format!("{page}/reply"),
            &[
                (
                    "text",
                    "Hallo Berta Brandt, das Rücksendeetikett für Bestellung 55001 ist unterwegs \
                     an Lindenallee 42. Die Erstattung folgt nach Eingang der Jacke.",
                ),
                ("to", "berta@kunde.test"),
                ("then", "closed"),
            ],
        )
        .await;
    assert_eq!(replied.status(), 303);
    (app, org, channel)
}

async fn customer_writes(app: &TestApp, org: OrgId, channel: i64, from: &str, body: &str) -> i64 {
    let raw = mail(
        from,
        &format!("<m-{}@kunde.test>", unique_suffix()),
        "Rücksendung",
        body,
    );
    app.ingest(arriving(org, Some(channel)), raw).await.0
}

async fn set_mode(app: &TestApp, mode: &str) {
    let saved = app
        .post_form(
            "/settings/assist",
            "/settings/assist/suggestions",
            &[("mode", mode)],
        )
        .await;
    assert_eq!(saved.status(), 303, "{mode}");
}

async fn kept(app: &TestApp, conversation: i64) -> Vec<assist_suggestion::Model> {
    assist_suggestion::Entity::find()
        .filter(assist_suggestion::Column::ConversationId.eq(conversation))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// A new customer asks about a return of the same kind.
async fn new_return(app: &TestApp, org: OrgId, channel: i64) -> i64 {
    let id = customer_writes(
        app,
        org,
        channel,
        "Carla Dietz <carla@kunde.test>",
        "Guten Tag, meine Jacke ist leider zu klein. Wie kann ich sie zurücksenden? Bestellung 66002.",
    )
    .await;
    run_once(&app.state).await.unwrap();
    id
}

#[tokio::test]
async fn shown_suggestions_offer_the_canned_reply_and_the_reply_that_solved_a_similar_case() {
    // Arrange
    let (app, org, channel) = shop().await;
    set_mode(&app, "shown").await;
    let conversation = new_return(&app, org, channel).await;
    let page = format!("/conversations/{conversation}");

    // Act
    let html = app.get_text(&page).await;

    // Assert: both kinds, filled for Carla; nothing of Berta.
    let items = kept(&app, conversation).await;
    let canned = items.iter().find(|s| s.kind == "canned").expect("canned");
    let solved = items
        .iter()
        .find(|s| s.kind == "conversation")
        .expect("a similar resolved conversation");
    assert!(canned.text.starts_with("Hallo Carla,"), "{}", canned.text);
    let articles: Vec<_> = items.iter().filter(|s| s.kind == "article").collect();
    assert_eq!(
        articles.len(),
        1,
        "the published article only: {articles:?}"
    );
    assert_eq!(articles[0].title, "Rücksendung einer Jacke");
    assert!(
        articles[0].text.contains("Etikett drucken"),
        "{}",
        articles[0].text
    );
    assert!(solved.text.contains("Carla"), "{}", solved.text);
    assert!(solved.text.contains("66002"), "this order: {}", solved.text);
    for theirs in ["Berta", "Brandt", "Lindenallee", "55001"] {
        assert!(!solved.text.contains(theirs), "{theirs} in {}", solved.text);
    }
    assert!(html.contains("Rücksendeetikett"));
    assert!(html.contains(&format!("/assist/suggestions/{}/insert", solved.id)));

    // Act: insert, then send the suggestion as it is.
    let inserted = app
        .post_form(
            &page,
            &format!("{page}/assist/suggestions/{}/insert", solved.id),
            &[],
        )
        .await;
    assert!(location(&inserted).contains("flash=flash.assist_suggestion_inserted"));
    let with_draft = app.get_text(&page).await;
    assert!(with_draft.contains("Carla"), "draft in the box");
    let sent = app
        .post_form(
            &page,
            &format!("{page}/reply"),
            &[
                ("text", &solved.text),
                ("to", "carla@kunde.test"),
                ("then", ""),
            ],
        )
        .await;
    assert_eq!(sent.status(), 303);

    // Assert: the one sent is used, the canned one ignored; /reports counts them.
    let decided = kept(&app, conversation).await;
    let outcome = |id| {
        decided
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.outcome.clone())
    };
    assert_eq!(outcome(solved.id).as_deref(), Some("used"));
    assert_eq!(outcome(canned.id).as_deref(), Some("ignored"));
    let reports = app.get_text("/reports").await;
    assert!(reports.contains("suggestion-outcomes"), "{reports}");
}

#[tokio::test]
async fn off_by_default_shadow_mode_keeps_but_never_shows_and_restricted_customers_get_none() {
    // Arrange
    let (app, org, channel) = shop().await;
    let conversation = new_return(&app, org, channel).await;
    let page = format!("/conversations/{conversation}");

    // Off: nothing computed or kept.
    app.get_text(&page).await;
    assert!(kept(&app, conversation).await.is_empty());

    // Shadow: kept, not shown, and Insert refuses.
    set_mode(&app, "shadow").await;
    let html = app.get_text(&page).await;
    let items = kept(&app, conversation).await;
    assert!(!items.is_empty());
    assert!(items.iter().all(|s| !s.shown));
    assert!(!html.contains("/assist/suggestions/"));
    let refused = app
        .post_form(
            &page,
            &format!("{page}/assist/suggestions/{}/insert", items[0].id),
            &[],
        )
        .await;
    assert_eq!(refused.status(), 404);

    // A restricted customer's message gets none.
    let other = customer_writes(
        &app,
        org,
        channel,
        "Dora Ebert <dora@kunde.test>",
        "Ich möchte meine Jacke zurücksenden, sie ist zu klein.",
    )
    .await;
    let customer = app.customer_of(other).await;
    app.post_form(
        &format!("/customers/{customer}"),
        &format!("/customers/{customer}/restriction"),
        &[("reason", "Accuracy contested")],
    )
    .await;
    app.get_text(&format!("/conversations/{other}")).await;
    assert!(kept(&app, other).await.is_empty());

    // A bad mode changes nothing.
    let bad = app
        .post_form(
            "/settings/assist",
            "/settings/assist/suggestions",
            &[("mode", "everything")],
        )
        .await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn suggestions_are_exported_anonymized_by_retention_and_erased_with_their_customer() {
    // Arrange
    let (app, org, channel) = shop().await;
    set_mode(&app, "shown").await;
    let conversation = new_return(&app, org, channel).await;
    app.get_text(&format!("/conversations/{conversation}"))
        .await;
    let items = kept(&app, conversation).await;
    assert!(items.len() >= 2);
    let customer = app.customer_of(conversation).await;

    // Export holds them.
    let zip = crate::privacy::export_via_page(&app, customer, false).await;
    let json = crate::privacy::zip_file(&mut crate::privacy::unzip(&zip), "export.json");
    let export: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let exported = export["conversations"][0]["suggestions"]
        .as_array()
        .unwrap();
    assert_eq!(exported.len(), items.len());
    assert!(
        exported
            .iter()
            .any(|s| s["text"].as_str().unwrap().contains("Rücksendeetikett"))
    );

    // Retention (anonymize after 1 day, run as if 2 days later) empties the text.
    app.save_rule(org, Category::AssistSuggestions, 1, Action::Anonymize)
        .await;
    assist_suggestion::Entity::update_many()
        .col_expr(
            assist_suggestion::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(2)),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let report = lethe::retention::run::run_once(&app.state, org, false)
        .await
        .unwrap();
    assert_eq!(
        report.categories["assist_suggestions"].suggestions,
        items.len() as u64
    );
    let after = kept(&app, conversation).await;
    assert!(
        after
            .iter()
            .all(|s| s.text.is_empty() && s.title.is_empty())
    );
    assert_eq!(after.len(), items.len(), "the counts stay for the reports");

    // Erasure removes them with the conversation, and no byte of their text stays.
    set_mode(&app, "shown").await;
    let marker = format!("Marker{}", unique_suffix());
    let again = customer_writes(
        &app,
        org,
        channel,
        "Carla Dietz <carla@kunde.test>",
        &format!("Die Jacke {marker} ist zu klein, bitte Rücksendeetikett schicken."),
    )
    .await;
    app.get_text(&format!("/conversations/{again}")).await;
    assert!(!kept(&app, again).await.is_empty());
    app.erase(org, customer).await;
    assert!(kept(&app, again).await.is_empty());
    assert!(kept(&app, conversation).await.is_empty());
    assert!(
        files_holding(&app.data_dir, "Hallo Carla", false).is_empty(),
        "a suggestion's text outlived the erasure"
    );
}

#[tokio::test]
async fn erasing_the_customer_a_suggestion_came_from_removes_it_from_everyone_else() {
    // Arrange: Carla's suggestion holds the reply that closed Berta's conversation.
    let (app, org, channel) = shop().await;
    set_mode(&app, "shown").await;
    let conversation = new_return(&app, org, channel).await;
    app.get_text(&format!("/conversations/{conversation}"))
        .await;
    let from_berta = kept(&app, conversation)
        .await
        .into_iter()
        .find(|s| s.kind == "conversation")
        .expect("a suggestion from Berta's conversation");
    let berta = app.customer_of(from_berta.source_id).await;

    // Act
    app.erase(org, berta).await;

    // Assert: Carla's other suggestions stay; the one made of Berta's reply is gone.
    let left = kept(&app, conversation).await;
    assert!(left.iter().all(|s| s.kind != "conversation"), "{left:?}");
    assert!(left.iter().any(|s| s.kind == "canned"));
}

/// The customer's newest message of a conversation (what suggestions are made for).
async fn newest_message(app: &TestApp, conversation: i64) -> i64 {
    use lethe::db::entity::message;
    use sea_orm::QueryOrder;
    message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation))
        .filter(message::Column::Direction.eq("inbound"))
        .order_by_desc(message::Column::Id)
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("a customer message")
        .id
}

#[tokio::test]
async fn two_agents_opening_the_page_at_once_keep_one_set() {
    // Arrange
    let (app, org, channel) = shop().await;
    set_mode(&app, "shown").await;
    let conversation = new_return(&app, org, channel).await;
    let page = format!("/conversations/{conversation}");
    let message = newest_message(&app, conversation).await;

    // Act: two views at once, then the slower of two agents, who computed the same set before
    // the first one's was stored, stores it too.
    let (first, second) = tokio::join!(app.get_text(&page), app.get_text(&page));
    let stored = kept(&app, conversation).await;
    assert!(!stored.is_empty(), "suggestions were computed");
    assert!(first.contains("Rücksendeetikett") && second.contains("Rücksendeetikett"));
    let late: Vec<lethe::assist::suggest::compute::Candidate> = stored
        .iter()
        .map(|s| lethe::assist::suggest::compute::Candidate {
            kind: match s.kind.as_str() {
                "canned" => "canned",
                "article" => "article",
                _ => "conversation",
            },
            source_id: s.source_id,
            title: s.title.clone(),
            text: s.text.clone(),
        })
        .collect();
    lethe::assist::suggest::store::keep(
        &app.state.db,
        org,
        conversation,
        message,
        &late,
        true,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    app.get_text(&page).await;

    // Assert: one set, each suggestion once.
    let after = kept(&app, conversation).await;
    assert_eq!(
        after.len(),
        stored.len(),
        "the set was stored twice: {after:?}"
    );
    let mut sources: Vec<(String, i64)> = after
        .iter()
        .map(|s| (s.kind.clone(), s.source_id))
        .collect();
    sources.sort();
    sources.dedup();
    assert_eq!(sources.len(), after.len(), "{after:?}");
}

#[tokio::test]
async fn a_message_without_suggestions_is_not_searched_again_on_every_view() {
    // Arrange: a message nothing matches.
    let (app, org, channel) = shop().await;
    set_mode(&app, "shown").await;
    let erik = |body: &str| {
        mail(
            "Erik Fuchs <erik@kunde.test>",
            &format!("<m-{}@kunde.test>", unique_suffix()),
            "Beleg",
            body,
        )
    };
    let conversation = app
        .ingest(
            arriving(org, Some(channel)),
            erik("Quittung Zahlungsbeleg Überweisung Kontoauszug"),
        )
        .await
        .0;
    run_once(&app.state).await.unwrap();
    let page = format!("/conversations/{conversation}");
    let first = app.get_text(&page).await;
    assert!(kept(&app, conversation).await.is_empty());
    assert!(!first.contains("/assist/suggestions/"));

    // Act: a canned reply that would match now, then the page again.
    let canned = app
        .post_form(
            "/settings/canned-replies",
            "/settings/canned-replies",
            &[
                ("title", "Quittung Zahlungsbeleg"),
                (
                    "body",
                    "Die Quittung und den Zahlungsbeleg zur Überweisung finden Sie im Kontoauszug.",
                ),
            ],
        )
        .await;
    assert_eq!(canned.status(), 303);
    let again = app.get_text(&page).await;

    // Assert: the empty result was remembered with the message, as a found set is: nothing
    // was searched or kept on the second view.
    assert!(kept(&app, conversation).await.is_empty());
    assert!(!again.contains("/assist/suggestions/"));

    // A new customer message is searched afresh and finds the canned reply.
    let next = app
        .ingest(
            arriving(org, Some(channel)),
            erik("Quittung Zahlungsbeleg Überweisung Kontoauszug bitte"),
        )
        .await
        .0;
    run_once(&app.state).await.unwrap();
    app.get_text(&format!("/conversations/{next}")).await;
    let found = kept(&app, next).await;
    assert!(
        found.iter().any(|s| s.kind == "canned"),
        "a fresh message finds the new canned reply: {found:?}"
    );
}
