//! Organizations, roles, invitations and switching.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{AppOptions, PASSWORD, location, spawn_app, spawn_app_with};
use crate::smtp::{SmtpRecorder, unfold_qp};
use lethe::db::entity::{invitation, membership};

fn invite_link(html: &str) -> String {
    regex::Regex::new(r"/invitations/[A-Za-z0-9_-]{43}")
        .unwrap()
        .find(html)
        .expect("invitation link on the page")
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn an_admin_invites_by_link_and_the_invitee_creates_an_account() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let response = app
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "New.Agent@Shop.test"), ("role", "agent")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("This server sends no email"),
        "without SMTP the page hands out the link"
    );
    let link = invite_link(&html);

    // A duplicate invitation is refused with a message.
    let duplicate = app
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "new.agent@shop.test"), ("role", "agent")],
        )
        .await;
    assert_eq!(duplicate.status(), 422);
    assert!(
        duplicate
            .text()
            .await
            .unwrap()
            .contains("pending invitation already")
    );

    let invitee = app.another_browser();
    let page = invitee.get_text(&link).await;
    assert!(page.contains("You are invited to join Shop"));
    let bad = invitee
        .post_form(
            &link,
            &link,
            &[
                ("display_name", "New Agent"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let response = invitee
        .post_form(
            &link,
            &link,
            &[
                ("display_name", "New Agent"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(invitee.get_text("/inbox").await.contains("New Agent"));
    // Agents do not manage the team.
    assert_eq!(invitee.get("/settings/team").await.status(), 403);
    // The link is used up.
    assert_eq!(app.another_browser().get(&link).await.status(), 400);
}

#[tokio::test]
async fn an_invitation_is_mailed_when_smtp_is_configured() {
    let smtp = SmtpRecorder::start().await;
    let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let response = app
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "helper@shop.test"), ("role", "admin")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let mail = unfold_qp(&smtp.wait_for(1).await[0]);
    assert!(mail.contains("helper@shop.test") && mail.contains("Auto-Submitted: auto-generated"));
    invite_link(&mail);
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let html = app
        .post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "late@shop.test"), ("role", "agent")],
        )
        .await
        .text()
        .await
        .unwrap();
    let link = invite_link(&html);
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::ExpiresAt,
            (chrono::Utc::now() - chrono::Duration::hours(1)).into(),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let invitee = app.another_browser();
    let page = invitee.get(&link).await;
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("invalid, expired"));
    let response = invitee
        .post_form(
            "/login",
            &link,
            &[
                ("display_name", "Late"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn an_existing_user_signs_in_to_accept_and_can_switch_organizations() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop A", "owner").await;
    app.create_user("other@shop.test", "Shop B", "owner").await;
    app.login("owner@shop.test").await;
    let link = invite_link(
        &app.post_form(
            "/settings/team",
            "/settings/team/invitations",
            &[("email", "other@shop.test"), ("role", "admin")],
        )
        .await
        .text()
        .await
        .unwrap(),
    );

    let invitee = app.another_browser();
    assert!(invitee.get_text(&link).await.contains("Sign in to accept"));
    invitee.login("other@shop.test").await;
    let response = invitee.post_form(&link, &link, &[]).await;
    assert_eq!(response.status(), 303);
    let inbox = invitee.get_text("/inbox").await;
    assert!(
        inbox.contains("Shop A") && inbox.contains("Shop B"),
        "the switcher lists both"
    );

    let shop_b = invitee.org_id("Shop B").await;
    let response = invitee
        .post_form(
            "/inbox",
            "/orgs/switch",
            &[("organization", &shop_b.get().to_string())],
        )
        .await;
    assert_eq!(response.status(), 303);
    let html = invitee.get_text("/settings/team").await;
    assert!(
        html.contains("other@shop.test") && !html.contains("owner@shop.test"),
        "now working in Shop B"
    );
}

#[tokio::test]
async fn two_owners_removing_each_other_at_once_leave_one_owner() {
    // Arrange
    let app = spawn_app().await;
    let first = app.create_user("first@shop.test", "Shop", "owner").await;
    let second = app.create_user("second@shop.test", "Shop", "owner").await;
    let org = app.org_id("Shop").await;
    use lethe::orgs::queries::{TeamChange, change_role, remove_member};

    // Act: each removes (then demotes) the other at the same time
    let (a, b) = tokio::join!(
        remove_member(&app.state.db, org, second),
        remove_member(&app.state.db, org, first)
    );
    let owners_after_removal = owners(&app).await;
    let survivor = owners_after_removal[0];
    let newcomer = app.create_user("third@shop.test", "Shop", "owner").await;
    let (c, d) = tokio::join!(
        change_role(&app.state.db, org, survivor, lethe::orgs::Role::Agent),
        change_role(&app.state.db, org, newcomer, lethe::orgs::Role::Agent)
    );

    // Assert
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, TeamChange::LastOwner));
    assert!(
        matches!(outcomes, [TeamChange::Done, TeamChange::LastOwner]),
        "one removal passes, the other is refused"
    );
    assert_eq!(owners_after_removal.len(), 1);
    let mut demotions = [c.unwrap(), d.unwrap()];
    demotions.sort_by_key(|o| matches!(o, TeamChange::LastOwner));
    assert!(matches!(
        demotions,
        [TeamChange::Done, TeamChange::LastOwner]
    ));
    assert_eq!(
        owners(&app).await.len(),
        1,
        "the organization keeps an owner"
    );
}

async fn owners(app: &crate::helpers::TestApp) -> Vec<i64> {
    membership::Entity::find()
        .filter(membership::Column::Role.eq("owner"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user_id)
        .collect()
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed_or_demoted() {
    let app = spawn_app().await;
    let owner = app.create_user("owner@shop.test", "Shop", "owner").await;
    let agent = app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("owner@shop.test").await;
    let demote = app.set_role(owner, "admin").await;
    assert_eq!(demote.status(), 409);
    assert!(demote.text().await.unwrap().contains("at least one owner"));
    let remove = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{owner}/remove"),
            &[],
        )
        .await;
    assert_eq!(remove.status(), 409);
    let roles: Vec<String> = membership::Entity::find()
        .filter(membership::Column::UserId.eq(owner))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.role)
        .collect();
    assert_eq!(roles, vec!["owner"]);

    // With a second owner, the first may step down.
    assert_eq!(app.set_role(agent, "owner").await.status(), 303);
    assert_eq!(app.set_role(owner, "admin").await.status(), 303);
}

#[tokio::test]
async fn admins_cannot_make_owners_and_removed_members_lose_access() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    let admin = app.create_user("admin@shop.test", "Shop", "admin").await;
    let agent = app.create_user("agent@shop.test", "Shop", "agent").await;
    app.login("admin@shop.test").await;
    assert_eq!(app.set_role(agent, "owner").await.status(), 403);
    assert_eq!(app.set_role(admin, "owner").await.status(), 403);

    let agent_browser = app.another_browser();
    agent_browser.login("agent@shop.test").await;
    assert_eq!(agent_browser.get("/inbox").await.status(), 200);
    let response = app
        .post_form(
            "/settings/team",
            &format!("/settings/team/members/{agent}/remove"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    let response = agent_browser.get("/inbox").await;
    assert_eq!(response.status(), 303);
    // It was the agent's only organization: the account's data went with the membership
    // (src/orgs/leaving.rs), the session with it.
    assert!(location(&response).starts_with("/login"), "signed out");
}

#[tokio::test]
async fn a_user_can_create_another_organization() {
    let app = spawn_app().await;
    app.create_user("owner@shop.test", "Shop", "owner").await;
    app.login("owner@shop.test").await;
    let taken = app
        .post_form("/orgs/new", "/orgs/new", &[("name", "Shop")])
        .await;
    assert_eq!(taken.status(), 422);
    assert!(taken.text().await.unwrap().contains("exists already"));
    let response = app
        .post_form("/orgs/new", "/orgs/new", &[("name", "Second Shop")])
        .await;
    assert_eq!(response.status(), 303);
    let team = app.get_text("/settings/team").await;
    assert!(team.contains("Second Shop"));
}

// ---- organization export, scheduled deletion and purge, privacy reminders -----------------

mod lifecycle {
    use std::io::{Cursor, Read};

    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

    use crate::helpers::{
        AppOptions, TestApp, channel_form, csrf_of, files_under, mail, spawn_app, spawn_app_with,
        traces, unique_suffix,
    };
    use crate::smtp::SmtpRecorder;
    use lethe::db::entity::{
        audit_event, channel, conversation, organization, organization_deletion, privacy_reminder,
        user,
    };
    use lethe::orgs::OrgId;

    const IMAP_SECRET: &str = "imap-pw-Lk29";
    const SMTP_SECRET: &str = "smtp-pw-Rt57";

    fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut file = archive.by_index(i).unwrap();
                let mut content = Vec::new();
                file.read_to_end(&mut content).unwrap();
                (file.name().unwrap().into_owned(), content)
            })
            .collect()
    }

    async fn download_export(app: &TestApp) -> reqwest::Response {
        let csrf = csrf_of(&app.get_text("/settings/organization").await);
        app.post_with_csrf("/settings/organization/export", &csrf, &[])
            .await
    }

    #[tokio::test]
    async fn the_owner_exports_the_whole_organization_without_secrets_or_other_tenants() {
        // Arrange
        let app = spawn_app().await;
        app.create_user("owner@shop-a.test", "Shop A", "owner")
            .await;
        app.create_user("admin@shop-a.test", "Shop A", "admin")
            .await;
        app.create_user("owner@shop-b.test", "Shop B", "owner")
            .await;
        let a = app.org_id("Shop A").await;
        let b = app.org_id("Shop B").await;
        let suffix = unique_suffix();
        let attachment = format!("ATTACH-{suffix}-").repeat(20).into_bytes();
        let (anna, _) = app
            .receive(
                a,
                mail(
                    "Anna <anna@kunde.test>",
                    &format!("a1-{suffix}@kunde.test"),
                    "Question",
                    "Where is my order?",
                )
                .attachment("application/octet-stream", "file.bin", &attachment),
            )
            .await;
        let (bert, _) = app
            .receive(
                a,
                mail(
                    "Bert <bert@kunde.test>",
                    &format!("a2-{suffix}@kunde.test"),
                    "Question",
                    "Invoice please",
                ),
            )
            .await;
        app.receive(
            b,
            mail(
                "Other <other@kunde.test>",
                &format!("b1-{suffix}@kunde.test"),
                "Question",
                &format!("Tenant B secret {suffix}"),
            ),
        )
        .await;
        app.login("owner@shop-a.test").await;
        let created = app
            .post_form(
                "/settings/channels/new",
                "/settings/channels",
                &channel_form(&[
                    ("from_address", "support@shop-a.test"),
                    ("imap_host", "imap.shop-a.test"),
                    ("imap_user", "support@shop-a.test"),
                    ("imap_password", IMAP_SECRET),
                    ("poll_seconds", "120"),
                    ("smtp_host", "smtp.shop-a.test"),
                    ("smtp_user", "support@shop-a.test"),
                    ("smtp_password", SMTP_SECRET),
                ]),
            )
            .await;
        assert_eq!(created.status(), 303);
        let stored = channel::Entity::find()
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();

        // Act
        let response = download_export(&app).await;

        // Assert
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/zip");
        let bytes = response.bytes().await.unwrap();
        let files = unzip(&bytes);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "README.txt".to_owned(),
            "organization.json".to_owned(),
            "customers/README.txt".to_owned(),
            format!("customers/{anna}/export.json"),
            format!("customers/{bert}/export.json"),
        ] {
            assert!(
                names.contains(&expected.as_str()),
                "{expected} in {names:?}"
            );
        }
        assert!(
            files.iter().any(
                |(n, c)| n.starts_with(&format!("customers/{anna}/attachments/"))
                    && *c == attachment
            ),
            "the attachment is in the customer's folder"
        );
        let org_json: serde_json::Value = serde_json::from_slice(
            &files
                .iter()
                .find(|(n, _)| n == "organization.json")
                .unwrap()
                .1,
        )
        .unwrap();
        assert_eq!(org_json["schema"], "lethe.organization-export");
        assert_eq!(org_json["organization"]["name"], "Shop A");
        assert_eq!(org_json["customers"].as_array().unwrap().len(), 2);
        assert_eq!(org_json["members"].as_array().unwrap().len(), 2);
        assert_eq!(org_json["channels"][0]["imap"]["host"], "imap.shop-a.test");
        let anna_json: serde_json::Value = serde_json::from_slice(
            &files
                .iter()
                .find(|(n, _)| *n == format!("customers/{anna}/export.json"))
                .unwrap()
                .1,
        )
        .unwrap();
        assert_eq!(
            anna_json["schema"], "lethe.customer-export",
            "the customer export's schema"
        );
        assert_eq!(
            anna_json["conversations"][0]["messages"][0]["text"],
            "Where is my order?"
        );
        let everything: Vec<u8> = files.iter().flat_map(|(_, c)| c.clone()).collect();
        let text = String::from_utf8_lossy(&everything);
        for secret in [
            IMAP_SECRET,
            SMTP_SECRET,
            stored.inbound_token_hash.as_str(),
            stored.inbound_token_sealed.as_str(),
            stored.imap_password_sealed.as_deref().unwrap(),
            stored.smtp_password_sealed.as_deref().unwrap(),
        ] {
            assert!(
                !text.contains(secret),
                "the export holds no secret ({secret})"
            );
        }
        let org_text = org_json.to_string();
        for field in ["password", "sealed", "token"] {
            assert!(
                !org_text.contains(field),
                "no {field} field in organization.json"
            );
        }
        assert!(!text.contains(&format!("Tenant B secret {suffix}")) && !text.contains("Shop B"));
        let logged = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("organization.exported"))
            .filter(audit_event::Column::OrganizationId.eq(a.get()))
            .count(&app.state.db)
            .await
            .unwrap();
        assert_eq!(logged, 1, "the export is audit-logged");

        // Admins see the page, but the export and the deletion are the owner's.
        let admin = app.another_browser();
        admin.login("admin@shop-a.test").await;
        let page = admin.get_text("/settings/organization").await;
        assert!(
            page.contains("Only an owner") && !page.contains("/settings/organization/export\"")
        );
        let csrf = csrf_of(&page);
        assert_eq!(
            admin
                .post_with_csrf("/settings/organization/export", &csrf, &[])
                .await
                .status(),
            403
        );
        assert_eq!(
            admin
                .post_with_csrf(
                    "/settings/organization/deletion",
                    &csrf,
                    &[("confirm_name", "Shop A")]
                )
                .await
                .status(),
            403
        );
    }

    #[tokio::test]
    async fn a_scheduled_deletion_purges_everything_after_the_window_and_spares_the_other_organization()
     {
        // Arrange
        let app = spawn_app().await;
        app.create_user("owner@doomed.test", "Doomed Shop", "owner")
            .await;
        let lone_agent = app
            .create_user("agent-only@doomed.test", "Doomed Shop", "agent")
            .await;
        app.create_user("owner@kept.test", "Kept Shop", "owner")
            .await;
        let shared = app
            .create_user("shared@kept.test", "Kept Shop", "agent")
            .await;
        let doomed = app.org_id("Doomed Shop").await;
        let kept = app.org_id("Kept Shop").await;
        lethe::orgs::queries::add_member(&app.state.db, doomed, shared, lethe::orgs::Role::Agent)
            .await
            .unwrap();
        let suffix = unique_suffix();
        let doomed_words = format!("quokkamarmalade{suffix}");
        let doomed_address = format!("zq{suffix}@doomed-kunde.test");
        let attachment = format!("DOOMED-FILE-{suffix}-").repeat(40).into_bytes();
        let (doomed_customer, _) = app
            .receive(
                doomed,
                mail(
                    &format!("Xylo{suffix} Doom <{doomed_address}>"),
                    &format!("d1-{suffix}@doomed.test"),
                    "Question",
                    &format!("My parcel {doomed_words} never came"),
                )
                .attachment("application/octet-stream", "file.bin", &attachment),
            )
            .await;
        let kept_words = format!("wombatchutney{suffix}");
        let (kept_customer, _) = app
            .receive(
                kept,
                mail(
                    "Kim <kim@kept-kunde.test>",
                    &format!("k1-{suffix}@kept.test"),
                    "Question",
                    &format!("Thanks for the {kept_words}"),
                ),
            )
            .await;
        lethe::search::indexer::run_once(&app.state).await.unwrap();
        app.login("owner@doomed.test").await;

        // A wrong name schedules nothing.
        let csrf = csrf_of(&app.get_text("/settings/organization").await);
        let wrong = app
            .post_with_csrf(
                "/settings/organization/deletion",
                &csrf,
                &[("confirm_name", "doomed shop")],
            )
            .await;
        assert_eq!(wrong.status(), 422);
        assert!(wrong.text().await.unwrap().contains("does not match"));
        let scheduled = || async {
            organization_deletion::Entity::find_by_id(doomed)
                .one(&app.state.db)
                .await
                .unwrap()
        };
        assert!(scheduled().await.is_none());

        // The right name schedules it; the page shows the date, and it can be cancelled.
        let response = app
            .post_with_csrf(
                "/settings/organization/deletion",
                &csrf,
                &[("confirm_name", "Doomed Shop")],
            )
            .await;
        assert_eq!(response.status(), 303);
        let row = scheduled().await.expect("scheduled");
        assert_eq!((row.purge_after - row.requested_at).num_days(), 30);
        let page = app.get_text("/settings/organization").await;
        let date = row.purge_after.format("%Y-%m-%d").to_string();
        assert!(
            page.contains(&format!("will be deleted on {date}")),
            "{page}"
        );
        assert!(page.contains("30 days are left"));
        let cancel = app
            .post_with_csrf("/settings/organization/deletion/cancel", &csrf, &[])
            .await;
        assert_eq!(cancel.status(), 303);
        assert!(scheduled().await.is_none(), "cancelled");
        assert!(
            !app.get_text("/settings/organization")
                .await
                .contains("will be deleted on")
        );
        app.post_with_csrf(
            "/settings/organization/deletion",
            &csrf,
            &[("confirm_name", "Doomed Shop")],
        )
        .await;
        assert!(scheduled().await.is_some());
        // The export can still be downloaded during the window.
        let export = download_export(&app).await;
        assert_eq!(export.status(), 200);
        assert!(unzip(&export.bytes().await.unwrap()).len() > 2);
        // Nothing happens before the window ends.
        assert_eq!(
            lethe::jobs::org_purge::run_once(&app.state)
                .await
                .unwrap()
                .purged,
            0
        );

        lethe::db::checkpoint(&app.state.db).await.unwrap();
        let needles = vec![
            doomed_words.clone(),
            doomed_address.clone(),
            format!("Xylo{suffix}"),
            format!("DOOMED-FILE-{suffix}"),
            "Doomed Shop".to_owned(),
            "agent-only@doomed.test".to_owned(),
        ];
        let on_sqlite = app.database_url.is_none();
        if on_sqlite {
            assert!(
                !traces(&app.data_dir, &needles).is_empty(),
                "the scan finds the organization before the purge"
            );
        }
        let blob_files = files_under(&app.data_dir.join("attachments")).len();

        // Act: the window has passed.
        organization_deletion::Entity::update_many()
            .col_expr(
                organization_deletion::Column::PurgeAfter,
                (chrono::Utc::now() - chrono::Duration::minutes(1)).into(),
            )
            .exec(&app.state.db)
            .await
            .unwrap();
        let outcome = lethe::jobs::org_purge::run_once(&app.state).await.unwrap();

        // Assert
        assert_eq!(outcome.purged, 1);
        let db = &app.state.db;
        assert!(
            organization::Entity::find_by_id(doomed.get())
                .one(db)
                .await
                .unwrap()
                .is_none()
        );
        assert!(app.find_customer(doomed_customer).await.is_none());
        assert!(
            user::Entity::find_by_id(lone_agent)
                .one(db)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            user::Entity::find_by_id(shared)
                .one(db)
                .await
                .unwrap()
                .is_some(),
            "a member of another organization keeps the account"
        );
        assert_eq!(
            audit_event::Entity::find()
                .filter(audit_event::Column::OrganizationId.eq(doomed.get()))
                .count(db)
                .await
                .unwrap(),
            0
        );
        let purged = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("organization.purged"))
            .one(db)
            .await
            .unwrap()
            .expect("the purge is recorded");
        assert!(purged.organization_id.is_none() && !format!("{purged:?}").contains("Doomed"));
        assert!(matches!(
            lethe::audit::verify(db, app.state.audit.key())
                .await
                .unwrap(),
            lethe::audit::Verification::Intact { .. }
        ));
        assert!(
            app.state
                .search
                .all_message_ids(Some(doomed))
                .unwrap()
                .is_empty(),
            "no search document of the organization is left"
        );
        assert_eq!(
            files_under(&app.data_dir.join("attachments")).len(),
            blob_files - 1,
            "the attachment file is gone"
        );
        if on_sqlite {
            let found = traces(&app.data_dir, &needles);
            assert!(found.is_empty(), "traces left: {found:#?}");
            assert!(
                !traces(&app.data_dir, std::slice::from_ref(&kept_words)).is_empty(),
                "the other organization's data is still there"
            );
        }
        // The other organization works as before.
        let other = app.another_browser();
        other.login("owner@kept.test").await;
        assert_eq!(
            other
                .get(&format!("/customers/{kept_customer}"))
                .await
                .status(),
            200
        );
        assert!(
            other
                .get_text(&format!("/search?q={kept_words}"))
                .await
                .contains("Kim"),
            "the other organization's search still finds its conversation"
        );
        assert_eq!(
            conversation::Entity::find()
                .filter(conversation::Column::OrganizationId.eq(kept.get()))
                .count(db)
                .await
                .unwrap(),
            1
        );
        // The deleted owner's session is gone with the account.
        assert_eq!(app.get("/inbox").await.status(), 303);
    }

    #[tokio::test]
    async fn legal_hold_blocks_scheduling_the_organization_deletion() {
        let app = spawn_app().await;
        app.create_user("owner@shop.test", "Shop", "owner").await;
        let org = app.org_id("Shop").await;
        let (customer_id, _) = app
            .receive(
                org,
                mail(
                    "Hold <hold@kunde.test>",
                    "h1@kunde.test",
                    "Question",
                    "Keep this",
                ),
            )
            .await;
        app.login("owner@shop.test").await;
        let held = app
            .legal_hold(
                &format!("/customers/{customer_id}"),
                &[("reason", "Court case 7/2026")],
            )
            .await;
        assert_eq!(held.status(), 303);
        let page = app.get_text("/settings/organization").await;
        assert!(page.contains("on legal hold"));
        let response = app
            .post_with_csrf(
                "/settings/organization/deletion",
                &csrf_of(&page),
                &[("confirm_name", "Shop")],
            )
            .await;
        assert_eq!(response.status(), 409);
        assert!(
            organization_deletion::Entity::find_by_id(org)
                .one(&app.state.db)
                .await
                .unwrap()
                .is_none()
        );
    }

    /// A request received `30 - days` days ago: due in about `days` days (months vary).
    async fn request_due_in(
        app: &TestApp,
        org: OrgId,
        days: i64,
        customer_id: Option<i64>,
    ) -> lethe::db::entity::privacy_request::Model {
        let received_at = chrono::Utc::now() - chrono::Duration::days(30 - days);
        lethe::privacy::requests::create(
            &app.state.db,
            org,
            lethe::privacy::requests::NewRequest {
                kind: lethe::privacy::requests::Kind::Erasure,
                received_at,
                customer_id,
                note: "Zelda Privatperson wants everything gone".into(),
            },
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn admins_are_reminded_once_before_a_privacy_request_is_due_without_personal_data() {
        // Arrange
        let smtp = SmtpRecorder::start().await;
        let app = spawn_app_with(AppOptions::with_smtp(smtp.url())).await;
        app.create_user("owner@shop-a.test", "Shop A", "owner")
            .await;
        app.create_user("admin@shop-a.test", "Shop A", "admin")
            .await;
        app.create_user("agent@shop-a.test", "Shop A", "agent")
            .await;
        app.create_user("owner@shop-b.test", "Shop B", "owner")
            .await;
        let a = app.org_id("Shop A").await;
        let b = app.org_id("Shop B").await;
        let (zelda, _) = app
            .receive(
                a,
                mail(
                    "Zelda Privatperson <zelda@kunde.test>",
                    "z1@kunde.test",
                    "Question",
                    "Delete me",
                ),
            )
            .await;
        let soon = request_due_in(&app, a, 3, Some(zelda)).await;
        let later = request_due_in(&app, a, 20, None).await.reference;
        let closed = request_due_in(&app, a, 2, None).await;
        lethe::privacy::requests::close(
            &app.state.db,
            a,
            closed.id,
            lethe::privacy::requests::Status::Rejected,
            None,
        )
        .await
        .unwrap();
        let closed = closed.reference;
        let other = request_due_in(&app, b, 2, None).await.reference;

        // Act
        let outcome = lethe::jobs::privacy_reminders::run_once(&app.state)
            .await
            .unwrap();

        // Assert
        assert_eq!(
            (outcome.requests, outcome.emails, outcome.failed),
            (2, 3, 0)
        );
        let messages = smtp.wait_for(3).await;
        let to_line = |m: &String| {
            m.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("to:"))
                .unwrap_or_default()
                .to_owned()
        };
        let recipients: Vec<String> = messages.iter().map(to_line).collect();
        for expected in [
            "owner@shop-a.test",
            "admin@shop-a.test",
            "owner@shop-b.test",
        ] {
            assert!(
                recipients.iter().any(|r| r.contains(expected)),
                "{expected} in {recipients:?}"
            );
        }
        assert!(
            !recipients.iter().any(|r| r.contains("agent@")),
            "agents are not reminded"
        );
        for message in &messages {
            let body = crate::smtp::unfold_qp(message);
            assert!(
                !body.contains("Zelda") && !body.contains("zelda@"),
                "no personal data"
            );
            assert!(!body.contains(&later) && !body.contains(&closed));
            if to_line(message).contains("shop-a") {
                assert!(body.contains(&soon.reference), "the reference");
                let due = soon.due_at.format("%Y-%m-%d").to_string();
                assert!(body.contains(&due), "the due date {due}");
            } else {
                assert!(body.contains(&other));
            }
        }
        assert_eq!(
            app.count::<privacy_reminder::Entity>().await,
            2,
            "each reminder is recorded"
        );
        let again = lethe::jobs::privacy_reminders::run_once(&app.state)
            .await
            .unwrap();
        assert_eq!((again.requests, again.emails), (0, 0), "once per request");
        assert_eq!(smtp.messages().len(), 3);
    }
}
