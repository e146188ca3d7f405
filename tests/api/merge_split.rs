//! Merging conversations of one customer and splitting a message off (issue 15), over HTTP as
//! a browser sends the forms, with mail delivered through the real ingest path: the merged
//! conversation shows every message in date order, its old URL and token lead to it, mail
//! answering either lands in it, search finds it; refusals change nothing; a split message
//! takes its replies with it; the audit log shows both.

use lethe::db::entity::{conversation, conversation_alias, conversation_tag, message};
use lethe::mail::parse::format_token_tag;
use lethe::orgs::OrgId;
use lethe::search::indexer::run_once;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{TestApp, arriving, csrf_of, imported, location, mail, spawn_app};

/// An owner of "Shop M" (signed in) and its channel.
async fn shop(app: &TestApp) -> (OrgId, i64) {
    app.create_user("owner@shop-m.test", "Shop M", "owner")
        .await;
    let org = app.org_id("Shop M").await;
    let channel = app
        .email_channel(org, "Support", "support@shop-m.test", None)
        .await
        .0;
    app.login("owner@shop-m.test").await;
    (org, channel)
}

/// A mail from `from` arriving now on the channel; (conversation id, Message-ID).
async fn arrives(
    app: &TestApp,
    org: OrgId,
    channel: i64,
    from: &str,
    subject: &str,
    body: &str,
) -> (i64, String) {
    let message_id = format!("{}@sender.test", crate::helpers::unique_suffix());
    let raw = mail(from, &message_id, subject, body).to("support@shop-m.test");
    (
        app.ingest(arriving(org, Some(channel)), raw).await.0,
        message_id,
    )
}

/// The ids of the messages of conversation `id`.
async fn messages_of(app: &TestApp, id: i64) -> Vec<i64> {
    message::Entity::find()
        .filter(message::Column::ConversationId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// The conversation ids `/search?q=` links to.
async fn search_hits(app: &TestApp, q: &str) -> Vec<i64> {
    let html = app.get_text(&format!("/search?q={q}")).await;
    let re = regex::Regex::new(r#"href="/conversations/(\d+)""#).unwrap();
    let mut ids: Vec<i64> = re
        .captures_iter(&html)
        .map(|c| c[1].parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Posts the inbox's bulk form with these rows ticked and this action.
async fn bulk(app: &TestApp, ids: &[i64], action: &str) -> reqwest::Response {
    let csrf = csrf_of(&app.get_text("/inbox").await);
    let mut fields: Vec<(&str, String)> = vec![("csrf", csrf), ("action", action.to_owned())];
    fields.extend(ids.iter().map(|id| ("ids", id.to_string())));
    app.client
        .post(app.url("/inbox/bulk"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn merging_on_the_page_moves_everything_and_later_mail_lands_in_the_merged_one() {
    let app = spawn_app().await;
    let (org, _) = shop(&app).await;
    let anna = "Anna Berg <anna@customer.test>";
    // Two conversations whose messages interleave in time.
    let first = mail(
        anna,
        "a1@customer.test",
        "Parcel",
        "Where is my zebraparcel?",
    )
    .date("Sun, 1 Nov 2026 10:00:00 +0000");
    let (_, parcel) = app.receive(org, first).await;
    let second = mail(
        anna,
        "b1@customer.test",
        "Invoice",
        "Please send the invoice.",
    )
    .date("Mon, 2 Nov 2026 10:00:00 +0000");
    let (customer, invoice) = app.receive(org, second).await;
    let third = mail(
        anna,
        "a2@customer.test",
        "Re: Parcel",
        "Still no parcel, sadly.",
    )
    .date("Tue, 3 Nov 2026 10:00:00 +0000")
    .in_reply_to("a1@customer.test");
    let (_, threaded) = app.receive(org, third).await;
    assert_eq!(threaded, parcel);
    app.tag_conversation(org, parcel, "late").await;
    app.tag_conversation(org, invoice, "billing").await;
    let old_token = app.conversation(parcel).await.token;
    // The agent opened the parcel conversation, never the invoice one.
    app.get_text(&format!("/conversations/{parcel}")).await;

    let page = format!("/conversations/{invoice}");
    let html = app.get_text(&page).await;
    assert!(html.contains(&format!("action=\"/conversations/{invoice}/merge\"")));
    assert!(html.contains(&format!("name=\"ids\" value=\"{parcel}\"")));
    let response = app
        .post_form(
            &page,
            &format!("{page}/merge"),
            &[("ids", &parcel.to_string())],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with(&page));

    // One conversation: every message, both tags, the old one gone.
    assert!(app.find_conversation(parcel).await.is_none());
    let merged = app.conversation(invoice).await;
    assert_eq!(merged.message_count, 3);
    assert_eq!(merged.customer_id, customer);
    assert_eq!(messages_of(&app, invoice).await.len(), 3);
    let tags = conversation_tag::Entity::find()
        .filter(conversation_tag::Column::ConversationId.eq(invoice))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(tags.len(), 2);
    // In date order on the page.
    let html = app.get_text(&page).await;
    let at = |text: &str| html.find(text).unwrap_or_else(|| panic!("{text} shown"));
    assert!(at("zebraparcel") < at("send the invoice"));
    assert!(at("send the invoice") < at("Still no parcel"));

    // The old URL leads to the merged conversation; not in another organization.
    let response = app.get(&format!("/conversations/{parcel}")).await;
    assert_eq!(response.status(), 301);
    assert_eq!(location(&response), page);
    let other = app.another_browser();
    other
        .create_user("owner@other-m.test", "Other M", "owner")
        .await;
    other.login("owner@other-m.test").await;
    assert_eq!(
        other
            .get(&format!("/conversations/{parcel}"))
            .await
            .status(),
        404
    );

    // Later mail by the old token, and answering an old message, lands in the merged one.
    let by_token = mail(
        anna,
        "a3@customer.test",
        &format!("Re: Parcel {}", format_token_tag(&old_token)),
        "Any news?",
    );
    assert_eq!(app.ingest(imported(org), by_token).await.0, invoice);
    let by_reply = mail(anna, "a4@customer.test", "Re: Parcel", "Hello again.")
        .in_reply_to("a2@customer.test");
    assert_eq!(app.ingest(imported(org), by_reply).await.0, invoice);

    // Search finds the old conversation's words under the merged one only.
    run_once(&app.state).await.unwrap();
    assert_eq!(search_hits(&app, "zebraparcel").await, vec![invoice]);

    let audit = app.get_text("/audit").await;
    assert!(audit.contains("conversations.merged"));

    // Erasing Anna takes the alias with her conversation.
    assert_eq!(app.count::<conversation_alias::Entity>().await, 1);
    app.erase(org, customer).await;
    assert_eq!(app.count::<conversation_alias::Entity>().await, 0);
}

#[tokio::test]
async fn a_bulk_merge_goes_into_the_oldest_ticked_conversation() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let anna = "Anna Berg <anna@customer.test>";
    let mut ids = Vec::new();
    for n in 0..3 {
        let subject = format!("Question {n}");
        let body = format!("Question number {n}.");
        ids.push(arrives(&app, org, channel, anna, &subject, &body).await.0);
    }
    let inbox = app.get_text("/inbox").await;
    assert!(inbox.contains("<option value=\"merge\">"));

    let response = bulk(&app, &[ids[2], ids[0], ids[1]], "merge").await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/inbox"));
    assert!(app.find_conversation(ids[1]).await.is_none());
    assert!(app.find_conversation(ids[2]).await.is_none());
    assert_eq!(messages_of(&app, ids[0]).await.len(), 3);
    let html = app.get_text(&format!("/conversations/{}", ids[0])).await;
    let at = |text: &str| html.find(text).unwrap_or_else(|| panic!("{text} shown"));
    assert!(at("Question number 0.") < at("Question number 1."));
    assert!(at("Question number 1.") < at("Question number 2."));
    let response = app.get(&format!("/conversations/{}", ids[2])).await;
    assert_eq!(response.status(), 301);
    assert_eq!(location(&response), format!("/conversations/{}", ids[0]));
    let audit = app.get_text("/audit").await;
    assert!(audit.contains("conversations.merged"));
}

#[tokio::test]
async fn merging_other_customers_spam_or_a_restricted_customer_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let anna = "Anna Berg <anna@customer.test>";
    let (a1, _) = arrives(&app, org, channel, anna, "Parcel", "Where?").await;
    let (a2, _) = arrives(&app, org, channel, anna, "Invoice", "Invoice?").await;
    let (a3, _) = arrives(&app, org, channel, anna, "Refund", "Refund?").await;
    let (ben, _) = arrives(&app, org, channel, "Ben <ben@customer.test>", "Hi", "Hi").await;
    let page = format!("/conversations/{a1}");
    let merge = |ids: Vec<i64>| {
        let page = page.clone();
        let app = &app;
        async move {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            let fields: Vec<(&str, &str)> = ids.iter().map(|id| ("ids", id.as_str())).collect();
            app.post_form(&page, &format!("{page}/merge"), &fields)
                .await
        }
    };
    let all_there = || async {
        for id in [a1, a2, a3, ben] {
            assert!(app.find_conversation(id).await.is_some(), "{id} kept");
        }
        assert_eq!(messages_of(&app, a1).await.len(), 1);
        assert_eq!(app.count::<conversation_alias::Entity>().await, 0);
    };

    // Nothing ticked.
    let response = merge(vec![]).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("at least two"));
    // Another customer's, on the page and in bulk.
    let response = merge(vec![ben]).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("same customer"));
    assert_eq!(bulk(&app, &[a1, ben], "merge").await.status(), 400);
    all_there().await;
    // Another organization's id answers "not found".
    app.create_user("owner@other-m.test", "Other M", "owner")
        .await;
    let other_org = app.org_id("Other M").await;
    let raw = mail(anna, "theirs@customer.test", "Theirs", "Hello");
    let (theirs, _) = app.ingest(imported(other_org), raw).await;
    assert_eq!(merge(vec![theirs]).await.status(), 404);
    assert!(app.find_conversation(theirs).await.is_some());
    // Spam.
    assert_eq!(bulk(&app, &[a2], "spam").await.status(), 303);
    let response = merge(vec![a2]).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("spam"));
    all_there().await;
    // A restricted customer.
    let customer = app.customer_of(a1).await;
    let restricted = app
        .post_form(
            &format!("/customers/{customer}"),
            &format!("/customers/{customer}/restriction"),
            &[("reason", "disputes the accuracy")],
        )
        .await;
    assert_eq!(restricted.status(), 303);
    let response = merge(vec![a3]).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("restricted"));
    assert_eq!(bulk(&app, &[a1, a3], "merge").await.status(), 400);
    all_there().await;
    assert_eq!(
        conversation::Entity::find()
            .filter(conversation::Column::Id.eq(a3))
            .one(&app.state.db)
            .await
            .unwrap()
            .map(|c| c.message_count),
        Some(1)
    );
}

#[tokio::test]
async fn splitting_a_message_moves_it_and_replies_to_it_follow() {
    let app = spawn_app().await;
    let (org, channel) = shop(&app).await;
    let anna = "Anna Berg <anna@customer.test>";
    let (id, first) = arrives(&app, org, channel, anna, "Parcel", "Where is my parcel?").await;
    let page = format!("/conversations/{id}");
    // The only message cannot be split off.
    let only = messages_of(&app, id).await[0];
    assert!(
        !app.get_text(&page)
            .await
            .contains(&format!("/messages/{only}/split"))
    );
    let response = app
        .post_form(&page, &format!("{page}/messages/{only}/split"), &[])
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("only message"));

    // A second question in the same thread, with an attachment.
    let raw = mail(
        anna,
        "other-q@customer.test",
        "Re: Parcel and my invoice",
        "And the invoice?",
    )
    .in_reply_to(&first)
    .to("support@shop-m.test")
    .text_attachment("order.txt", "order 1234");
    let (same, second) = app.ingest(arriving(org, Some(channel)), raw).await;
    assert_eq!(same, id);
    let html = app.get_text(&page).await;
    let action = format!("/conversations/{id}/messages/{second}/split");
    assert!(html.contains(&format!("action=\"{action}\"")));

    let response = app.post_form(&page, &action, &[]).await;
    assert_eq!(response.status(), 303);
    let new_id: i64 = location(&response)
        .trim_start_matches("/conversations/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(new_id, id);
    let before = app.conversation(id).await;
    let split = app.conversation(new_id).await;
    assert_eq!(split.customer_id, before.customer_id);
    assert_eq!(split.channel_id, Some(channel));
    assert_eq!(split.subject, "Parcel and my invoice");
    assert_eq!(split.message_count, 1);
    assert_eq!(before.message_count, 1);
    assert_eq!(messages_of(&app, new_id).await, vec![second]);
    assert_eq!(messages_of(&app, id).await, vec![only]);
    let html = app.get_text(&format!("/conversations/{new_id}")).await;
    assert!(html.contains("And the invoice?"));
    assert!(html.contains("order.txt"));
    assert!(!app.get_text(&page).await.contains("And the invoice?"));

    // A reply to the split message threads into the new conversation; one to the first stays.
    let reply = mail(anna, "reply-2@customer.test", "Re: invoice", "Thanks!")
        .in_reply_to("other-q@customer.test")
        .to("support@shop-m.test");
    assert_eq!(
        app.ingest(arriving(org, Some(channel)), reply).await.0,
        new_id
    );
    let reply = mail(anna, "reply-1@customer.test", "Re: Parcel", "Thanks too!")
        .in_reply_to(&first)
        .to("support@shop-m.test");
    assert_eq!(app.ingest(arriving(org, Some(channel)), reply).await.0, id);

    let audit = app.get_text("/audit").await;
    assert!(audit.contains("conversation.split"));
}
