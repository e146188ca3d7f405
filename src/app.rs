//! The application and the one route table: every URL of Lethe is listed here, and
//! [`Application::build`] wires the state, the background work and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::{HttpServiceFactory, Server, ServiceRequest};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, FromRequest, Handler, HttpResponse, HttpServer, Responder, guard, web};
use sea_orm::ConnectionTrait;

use crate::api::v1;
use crate::assist::knowledge;
use crate::auth;
use crate::config::Config;
pub use crate::state::{AppState, StartError};
use crate::web::rate_limit::{self, AddressLimit};
use crate::web::{AppError, paths};
use crate::{chat, inbox, mail, orgs};

/// A running application: the HTTP server, its port, and the first-start setup link.
pub struct Application {
    pub port: u16,
    pub server: Server,
    pub state: Arc<AppState>,
    pub setup_link: Option<String>,
    /// The workers and scheduled jobs `LETHE_WORKERS` and `LETHE_SCHEDULE_*` turned on.
    pub background: crate::jobs::Background,
    /// `/metrics` on `LETHE_METRICS_LISTEN`, when set: its server and port.
    pub metrics: Option<(u16, Server)>,
}

impl Application {
    /// Builds everything, starts the background work and binds the listener (port 0 picks a
    /// free port, as tests do). `lethe serve` and the test harness both start here.
    pub async fn build(mut config: Config) -> Result<Self, StartError> {
        let listen = config.listen;
        let listener = TcpListener::bind(listen).map_err(|source| StartError::Listen {
            address: listen.to_string(),
            source,
        })?;
        let bound = listener.local_addr().map_err(|source| StartError::Listen {
            address: listen.to_string(),
            source,
        })?;
        let port = bound.port();
        // Port 0 picks a free port: a base URL that defaults to the listen address follows it,
        // so links (and an OAuth2 redirect URL) point where the server is.
        if listen.port() == 0 && config.base_url.as_str() == format!("http://{listen}") {
            config.base_url = crate::config::BaseUrl::parse(&format!("http://{bound}"))
                .map_err(StartError::BaseUrl)?;
        }
        let state = AppState::open(config).await?;
        let setup_link = if auth::users::count(&state.db)
            .await
            .map_err(|e| StartError::Database(sea_orm::DbErr::Custom(e.to_string())))?
            == 0
        {
            let token = state.setup.open();
            Some(state.config.base_url.join(&paths::SETUP.at(token)))
        } else {
            None
        };
        let tls = match &state.config.tls {
            Some(setting) => Some(crate::tls::start(setting, &state.config.data_dir)?),
            None => None,
        };
        let data = web::Data::from(state.clone());
        let https = state.config.base_url.is_https();
        let max_message_bytes = state.config.max_message_bytes;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(max_message_bytes))
                .app_data(web::FormConfig::default().limit(crate::web::forms::FORM_LIMIT))
                .configure(routes)
                .default_service(web::to(not_found))
                .wrap(from_fn(crate::web::session::load_session))
                .wrap(from_fn(crate::web::headers::reject_cross_site_posts))
                .wrap(from_fn(crate::web::error::render_errors))
                .wrap(from_fn(crate::metrics::record))
                .wrap(crate::web::headers::security_headers(https))
        });
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls),
            None => server.listen(listener),
        }
        .map_err(|source| StartError::Listen {
            address: listen.to_string(),
            source,
        })?
        .shutdown_timeout(10)
        // A client that closes its side is gone: its event stream (and the slot it holds
        // of `LETHE_SSE_STREAMS_PER_USER`) ends now, not at the next failed keep-alive write.
        .h1_allow_half_closed(false)
        .run();
        let metrics = match state.config.metrics_listen {
            Some(address) => {
                let failed = |source| StartError::Listen {
                    address: address.to_string(),
                    source,
                };
                let listener = TcpListener::bind(address).map_err(failed)?;
                let port = listener.local_addr().map_err(failed)?.port();
                let server = crate::metrics::serve(state.clone(), listener).map_err(failed)?;
                Some((port, server))
            }
            None => None,
        };
        // A new node (or one behind the search change log) builds its index before it serves.
        if let Err(error) = crate::search::indexer::build_if_needed(&state).await {
            tracing::error!(%error, "search index not built at start; the indexer retries");
        }
        // Other nodes' live updates (PostgreSQL only).
        crate::cluster::live::start(&state).await;
        // The access log's writer runs wherever pages are served (not a worker to switch off:
        // the pages feed it).
        crate::audit::access::spawn_writer(state.clone()).await;
        // Report facts: filled in for conversations without, and kept up to date.
        crate::reports::facts::spawn_worker(state.clone()).await;
        let background = crate::jobs::start(state.clone(), &state.config.jobs)
            .await
            .map_err(|e| StartError::Jobs(e.to_string()))?;
        Ok(Self {
            port,
            server,
            state,
            setup_link,
            background,
            metrics,
        })
    }
}

/// The route table.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::HEALTHZ.pattern(), web::get().to(healthz))
        .route(paths::READYZ.pattern(), web::get().to(readyz))
        .route(
            paths::ASSET.pattern(),
            web::get().to(crate::web::assets::serve),
        )
        .route(paths::HOME.pattern(), web::get().to(home))
        // accounts
        .route(paths::LOGIN.pattern(), web::get().to(auth::login::login_form))
        .service(limited_post(paths::LOGIN.pattern(), AddressLimit::Login, auth::login::login))
        .route(paths::LOGOUT.pattern(), web::post().to(auth::login::logout))
        .route(paths::LOGIN_TWO_FACTOR.pattern(), web::get().to(auth::second_step::form))
        .route(paths::LOGIN_TWO_FACTOR.pattern(), web::post().to(auth::second_step::verify))
        .route(
            paths::LOGIN_TWO_FACTOR_SETUP_PASSKEY.pattern(),
            web::post().to(auth::second_step::setup_passkey),
        )
        .route(
            paths::LOGIN_TWO_FACTOR_PASSKEY.pattern(),
            web::post().to(auth::second_step::verify_passkey),
        )
        .service(limited_post(
            paths::LOGIN_PASSKEY.pattern(),
            AddressLimit::Login,
            auth::login::passkey_sign_in,
        ))
        .route(
            paths::LOGIN_TWO_FACTOR_SETUP.pattern(),
            web::get().to(auth::second_step::setup_form),
        )
        .route(
            paths::LOGIN_TWO_FACTOR_SETUP.pattern(),
            web::post().to(auth::second_step::setup),
        )
        .route(paths::SETUP.pattern(), web::get().to(auth::setup::setup_form))
        .route(paths::SETUP.pattern(), web::post().to(auth::setup::setup))
        .route(paths::ACCOUNT.pattern(), web::get().to(auth::account::account))
        .route(paths::KEYBOARD.pattern(), web::get().to(crate::web::keyboard::page))
        .route(
            paths::ACCOUNT_PROFILE.pattern(),
            web::post().to(auth::account::update_profile),
        )
        .route(
            paths::ACCOUNT_PASSWORD.pattern(),
            web::post().to(auth::account::change_password),
        )
        .route(
            paths::ACCOUNT_SIGNATURE.pattern(),
            web::post().to(auth::account::save_signature),
        )
        .route(
            paths::ACCOUNT_NOTIFICATIONS.pattern(),
            web::post().to(inbox::notifications::routes::save_preferences),
        )
        .route(
            paths::ACCOUNT_DELETE.pattern(),
            web::post().to(orgs::leaving::delete_own_account),
        )
        .route(paths::ACCOUNT_SECURITY.pattern(), web::get().to(auth::security::security))
        .route(
            paths::ACCOUNT_TWO_FACTOR.pattern(),
            web::get().to(auth::enrolment::enrol_form),
        )
        .route(
            paths::ACCOUNT_TWO_FACTOR.pattern(),
            web::post().to(auth::enrolment::confirm),
        )
        .route(
            paths::ACCOUNT_TWO_FACTOR_REMOVE.pattern(),
            web::post().to(auth::security::remove_factor),
        )
        .route(paths::ACCOUNT_PASSKEYS.pattern(), web::post().to(auth::passkey_pages::add))
        .route(
            paths::ACCOUNT_PASSKEY_REMOVE.pattern(),
            web::post().to(auth::passkey_pages::remove),
        )
        .route(
            paths::ACCOUNT_SESSION_END.pattern(),
            web::post().to(auth::security::end_session),
        )
        .route(paths::PASSWORD_FORGOT.pattern(), web::get().to(auth::password_reset::forgot_form))
        .service(limited_post(
            paths::PASSWORD_FORGOT.pattern(),
            AddressLimit::PasswordReset,
            auth::password_reset::forgot,
        ))
        .route(
            paths::PASSWORD_RESET.pattern(),
            web::get().to(auth::password_reset::reset_form),
        )
        .route(
            paths::PASSWORD_RESET.pattern(),
            web::post().to(auth::password_reset::reset),
        )
        // organizations and team
        .route(paths::ORG_NEW.pattern(), web::get().to(orgs::new::new_org_form))
        .route(paths::ORG_NEW.pattern(), web::post().to(orgs::new::create_org))
        .route(paths::ORG_SWITCH.pattern(), web::post().to(orgs::new::switch))
        .route(paths::TEAM.pattern(), web::get().to(orgs::team::team))
        .route(
            paths::TEAM_INVITATIONS.pattern(),
            web::post().to(orgs::team::invite),
        )
        .route(
            paths::TEAM_INVITATION_REVOKE.pattern(),
            web::post().to(orgs::team::revoke_invitation),
        )
        .route(
            paths::TEAM_MEMBER_ROLE.pattern(),
            web::post().to(orgs::team::change_role),
        )
        .route(
            paths::TEAM_MEMBER_REMOVE.pattern(),
            web::post().to(orgs::team::remove_member),
        )
        .route(
            paths::INVITATION.pattern(),
            web::get().to(orgs::invitations::invitation),
        )
        .route(
            paths::INVITATION.pattern(),
            web::post().to(orgs::invitations::accept_invitation),
        )
        // search (src/search/)
        .route(paths::SEARCH.pattern(), web::get().to(crate::search::routes::search))
        // audit log
        .route(paths::AUDIT.pattern(), web::get().to(crate::audit::routes::log))
        .route(paths::AUDIT_ACCESS.pattern(), web::get().to(crate::audit::access::page))
        // reports
        .route(paths::REPORTS.pattern(), web::get().to(crate::reports::routes::page))
        .route(paths::REPORTS_CSV.pattern(), web::get().to(crate::reports::routes::download_csv))
        // privacy (src/privacy/)
        .route(paths::CUSTOMER_ERASE.pattern(), web::get().to(crate::privacy::erase::confirm))
        .route(paths::CUSTOMER_ERASE.pattern(), web::post().to(crate::privacy::erase::apply))
        .route(paths::CUSTOMER_EXPORT.pattern(), web::post().to(crate::privacy::export::customer))
        .route(paths::PRIVACY_REQUESTS.pattern(), web::get().to(crate::privacy::requests::requests))
        .route(paths::PRIVACY_REQUESTS.pattern(), web::post().to(crate::privacy::requests::create_request))
        .route(
            paths::PRIVACY_REQUEST_STATUS.pattern(),
            web::post().to(crate::privacy::requests::change_status),
        )
        .route(
            paths::PRIVACY_REQUEST_VERIFICATION.pattern(),
            web::post().to(crate::privacy::verify::send),
        )
        .route(paths::PRIVACY_VERIFY.pattern(), web::get().to(crate::privacy::verify::show))
        .route(paths::PRIVACY_VERIFY.pattern(), web::post().to(crate::privacy::verify::confirm))
        .route(paths::PRIVACY_RECEIPT.pattern(), web::get().to(crate::privacy::receipt::receipt))
        .route(paths::CUSTOMER_RECTIFY.pattern(), web::post().to(crate::privacy::rectify::rectify))
        .route(paths::CUSTOMER_RESTRICTION.pattern(), web::post().to(crate::privacy::restrict::change))
        .route(paths::CUSTOMER_OBJECTIONS.pattern(), web::post().to(crate::privacy::objection::record))
        .route(paths::CUSTOMER_OBJECTIONS_LIFT.pattern(), web::post().to(crate::privacy::objection::lift))
        .route(paths::CUSTOMER_MERGE.pattern(), web::get().to(crate::privacy::merge::confirm))
        .route(paths::CUSTOMER_MERGE.pattern(), web::post().to(crate::privacy::merge::apply))
        // end privacy
        // inbox (src/inbox/)
        .route(paths::INBOX.pattern(), web::get().to(inbox::list::inbox))
        .route(paths::INBOX_BULK.pattern(), web::post().to(inbox::bulk::bulk))
        .route(paths::INBOX_COUNTS.pattern(), web::get().to(inbox::folders::counts_json))
        .route(paths::SAVED_VIEWS.pattern(), web::post().to(inbox::views::create))
        .route(paths::SAVED_VIEW.pattern(), web::get().to(inbox::views::edit))
        .route(paths::SAVED_VIEW.pattern(), web::post().to(inbox::views::update))
        .route(paths::SAVED_VIEW_DELETE.pattern(), web::post().to(inbox::views::delete))
        .route(paths::EVENTS.pattern(), web::get().to(inbox::sse::events))
        .route(paths::NOTIFICATIONS.pattern(), web::get().to(inbox::notifications::routes::list))
        .route(paths::NOTIFICATIONS_COUNT.pattern(), web::get().to(inbox::notifications::routes::count))
        .route(paths::NOTIFICATIONS_READ.pattern(), web::post().to(inbox::notifications::routes::mark_all_read))
        .route(paths::NOTIFICATION_READ.pattern(), web::post().to(inbox::notifications::routes::mark_one_read))
        .route(paths::MENTION_MEMBERS.pattern(), web::get().to(inbox::notifications::mentions::members))
        .route(paths::CONVERSATION_NEW.pattern(), web::get().to(inbox::compose::show))
        .route(paths::CONVERSATION_NEW.pattern(), web::post().to(inbox::compose::create))
        .route(paths::CONVERSATION.pattern(), web::get().to(inbox::conversation::show))
        .route(paths::CONVERSATION_REPLY.pattern(), web::post().to(inbox::reply::reply))
        .route(paths::CONVERSATION_NOTES.pattern(), web::post().to(inbox::notes::add))
        .route(paths::CONVERSATION_DRAFT.pattern(), web::post().to(inbox::drafts::save_draft))
        .route(paths::CONVERSATION_PRESENCE.pattern(), web::get().to(inbox::presence::stream))
        .route(paths::CONVERSATION_TYPING.pattern(), web::post().to(inbox::presence::typing))
        .route(paths::CONVERSATION_MESSAGE_UNDO.pattern(), web::post().to(inbox::undo::undo))
        .route(paths::CONVERSATION_STATUS.pattern(), web::post().to(inbox::triage::change_status))
        .route(paths::CONVERSATION_ASSIGNEE.pattern(), web::post().to(inbox::triage::change_assignee))
        .route(paths::CONVERSATION_SNOOZE.pattern(), web::post().to(inbox::snooze::snooze))
        .route(paths::CONVERSATION_SPAM.pattern(), web::post().to(inbox::spam::mark_spam))
        .route(paths::CONVERSATION_UNREAD.pattern(), web::post().to(inbox::unread::mark_unread))
        .route(paths::CONVERSATION_MERGE.pattern(), web::post().to(inbox::merge::merge_into))
        .route(paths::CONVERSATION_MESSAGE_SPLIT.pattern(), web::post().to(inbox::split::split))
        .route(paths::BLOCKED_SENDERS.pattern(), web::get().to(inbox::spam::blocked_senders))
        .route(paths::BLOCKED_SENDERS.pattern(), web::post().to(inbox::spam::add_blocked_sender))
        .route(paths::BLOCKED_SENDER_DELETE.pattern(), web::post().to(inbox::spam::remove_blocked_sender))
        .route(paths::CONVERSATION_TAGS.pattern(), web::post().to(inbox::tags::add))
        .route(
            paths::CONVERSATION_TAG_REMOVE.pattern(),
            web::post().to(inbox::tags::remove),
        )
        .route(
            paths::CONVERSATION_MESSAGE_RETRY.pattern(),
            web::post().to(inbox::reply::retry),
        )
        .route(
            paths::CONVERSATION_MESSAGE_FORWARD.pattern(),
            web::post().to(inbox::forward::forward),
        )
        .route(
            paths::CONVERSATION_FORWARD.pattern(),
            web::post().to(inbox::forward::forward_conversation),
        )
        .route(paths::CUSTOMER.pattern(), web::get().to(inbox::customer_page::show))
        .route(paths::ATTACHMENT.pattern(), web::get().to(inbox::attachments::download))
        .route(paths::CANNED_REPLIES.pattern(), web::get().to(inbox::canned::list))
        .route(paths::CANNED_REPLIES.pattern(), web::post().to(inbox::canned::create))
        .route(paths::CANNED_REPLY.pattern(), web::get().to(inbox::canned::edit))
        .route(paths::CANNED_REPLY.pattern(), web::post().to(inbox::canned::update))
        .route(
            paths::CANNED_REPLY_DELETE.pattern(),
            web::post().to(inbox::canned::delete),
        )
        // end inbox
        // chat (src/chat/): the visitor's endpoints (no session), then its settings pages,
        // before the email channels' `/settings/channels/{id}`
        // knowledge base and help centre (src/assist/knowledge/): the fixed paths before `{id}`
        .route(paths::KNOWLEDGE.pattern(), web::get().to(knowledge::pages::list))
        .route(paths::KNOWLEDGE_NEW.pattern(), web::get().to(knowledge::pages::new_form))
        .route(paths::KNOWLEDGE_NEW.pattern(), web::post().to(knowledge::pages::create))
        .route(paths::KNOWLEDGE_CATEGORIES.pattern(), web::get().to(knowledge::categories::show))
        .route(paths::KNOWLEDGE_CATEGORIES.pattern(), web::post().to(knowledge::categories::create))
        .route(paths::KNOWLEDGE_CATEGORY_DELETE.pattern(), web::post().to(knowledge::categories::delete))
        .route(paths::KNOWLEDGE_SETTINGS.pattern(), web::post().to(knowledge::categories::save_settings))
        .route(paths::KNOWLEDGE_ARTICLE.pattern(), web::get().to(knowledge::pages::show))
        .route(paths::KNOWLEDGE_ARTICLE_EDIT.pattern(), web::get().to(knowledge::pages::edit_form))
        .route(paths::KNOWLEDGE_ARTICLE_EDIT.pattern(), web::post().to(knowledge::pages::update))
        .route(paths::KNOWLEDGE_ARTICLE_DELETE.pattern(), web::get().to(knowledge::pages::confirm_delete))
        .route(paths::KNOWLEDGE_ARTICLE_DELETE.pattern(), web::post().to(knowledge::pages::delete))
        .route(paths::CONVERSATION_KNOWLEDGE.pattern(), web::get().to(knowledge::insert::find))
        .route(paths::CONVERSATION_KNOWLEDGE.pattern(), web::post().to(knowledge::insert::insert))
        .route(paths::HELP_HOME.pattern(), web::get().to(knowledge::help::home))
        .route(paths::HELP_SEARCH.pattern(), web::get().to(knowledge::help::search))
        .route(paths::HELP_ARTICLE.pattern(), web::get().to(knowledge::help::article))
        // end knowledge base
        .route(paths::CHAT_WIDGET.pattern(), web::get().to(chat::routes::widget))
        .route(paths::CHAT_MESSAGES.pattern(), web::post().to(chat::routes::post_message))
        .route(paths::CHAT_MESSAGES.pattern(), web::get().to(chat::routes::messages))
        .route(paths::CHAT_EVENTS.pattern(), web::get().to(chat::routes::events))
        .route(paths::CHAT_DELETE.pattern(), web::post().to(chat::routes::delete))
        .route(paths::CHAT_FILES.pattern(), web::post().to(chat::routes::upload))
        .route(paths::CHAT_FILE.pattern(), web::get().to(chat::routes::download))
        .route(paths::CHAT_ARTICLES.pattern(), web::get().to(chat::help::articles))
        .route(paths::CHAT_ARTICLE.pattern(), web::get().to(chat::help::article))
        .route(paths::CHAT_HELP.pattern(), web::get().to(chat::help::page))
        .route(paths::CHAT_HELP_ARTICLE.pattern(), web::get().to(chat::help::article_page))
        .route(paths::CHAT_PREFLIGHT.pattern(), web::method(actix_web::http::Method::OPTIONS).to(chat::routes::preflight))
        .route(paths::CHAT_CHANNEL_NEW.pattern(), web::get().to(chat::settings_page::new_form))
        .route(paths::CHAT_CHANNELS.pattern(), web::post().to(chat::settings_page::create))
        .route(paths::CHAT_CHANNEL.pattern(), web::get().to(chat::settings_page::edit))
        .route(paths::CHAT_CHANNEL.pattern(), web::post().to(chat::settings_page::update))
        .route(paths::CHAT_CHANNEL_DELETE.pattern(), web::post().to(chat::settings_page::delete))
        // end chat
        // email channels (src/mail/)
        .service(limited_post(
            paths::INBOUND_EMAIL.pattern(),
            AddressLimit::Inbound,
            mail::inbound_http::receive,
        ))
        .route(paths::CHANNELS.pattern(), web::get().to(mail::channels::routes::list))
        .route(paths::CHANNELS.pattern(), web::post().to(mail::channels::routes::create))
        .route(paths::CHANNEL_NEW.pattern(), web::get().to(mail::channels::routes::new_form))
        .route(paths::CHANNEL.pattern(), web::get().to(mail::channels::routes::edit))
        .route(paths::CHANNEL.pattern(), web::post().to(mail::channels::routes::update))
        .route(paths::CHANNEL_DELETE.pattern(), web::post().to(mail::channels::routes::delete))
        .route(paths::CHANNEL_SIGNATURE.pattern(), web::post().to(mail::channels::signature::save))
        .route(paths::CHANNEL_TEST_IMAP.pattern(), web::post().to(mail::channels::routes::test_imap))
        .route(paths::CHANNEL_TEST_SMTP.pattern(), web::post().to(mail::channels::routes::test_smtp_button))
        .route(paths::CHANNEL_OAUTH_START.pattern(), web::get().to(mail::channels::oauth_routes::start))
        .route(paths::CHANNEL_OAUTH_CALLBACK.pattern(), web::get().to(mail::channels::oauth_routes::callback))
        // end email channels
        // retention (src/retention/)
        .route(paths::RETENTION.pattern(), web::get().to(crate::retention::settings::settings))
        .route(paths::RETENTION_RULES.pattern(), web::post().to(crate::retention::settings::save_rule))
        .route(
            paths::RETENTION_RULES_REMOVE.pattern(),
            web::post().to(crate::retention::settings::remove_rule),
        )
        .route(paths::RETENTION_PREVIEW.pattern(), web::post().to(crate::retention::settings::preview))
        .route(paths::RETENTION_RUN.pattern(), web::post().to(crate::retention::settings::run_now))
        .route(
            paths::RETENTION_SCHEDULE.pattern(),
            web::post().to(crate::retention::settings::set_schedule),
        )
        .route(
            paths::CONVERSATION_LEGAL_HOLD.pattern(),
            web::post().to(crate::retention::hold::conversation),
        )
        .route(
            paths::CUSTOMER_LEGAL_HOLD.pattern(),
            web::post().to(crate::retention::hold::customer),
        )
        // end retention
        // the organization's settings page (src/orgs/organization_page.rs) and the API (src/api/)
        .route(paths::PRIVACY_SETTINGS.pattern(), web::get().to(crate::privacy::purposes_page::show))
        .route(paths::PRIVACY_PURPOSES.pattern(), web::post().to(crate::privacy::purposes_page::save))
        .route(
            paths::PRIVACY_PURPOSES_DEFAULTS.pattern(),
            web::post().to(crate::privacy::purposes_page::restore_defaults),
        )
        .route(paths::ORGANIZATION.pattern(), web::get().to(orgs::organization_page::page))
        .route(paths::ORGANIZATION_EXPORT.pattern(), web::post().to(orgs::organization_page::export))
        .route(
            paths::ORGANIZATION_TWO_FACTOR.pattern(),
            web::post().to(orgs::organization_page::set_two_factor_policy),
        )
        .route(
            paths::ORGANIZATION_DELETION.pattern(),
            web::post().to(orgs::organization_page::schedule_deletion),
        )
        .route(
            paths::ORGANIZATION_DELETION_CANCEL.pattern(),
            web::post().to(orgs::organization_page::cancel_deletion),
        )
        .route(
            paths::ORGANIZATION_DELETION_RECEIPT.pattern(),
            web::get().to(orgs::organization_page::deletion_receipt),
        )
        .route(paths::SLA_SETTINGS.pattern(), web::get().to(crate::sla::page::show))
        .route(paths::SLA_SETTINGS.pattern(), web::post().to(crate::sla::page::save))
        .route(paths::API_KEYS.pattern(), web::get().to(crate::api::keys::list))
        .route(paths::API_KEYS.pattern(), web::post().to(crate::api::keys::create_key))
        .route(
            paths::API_KEY_REVOKE.pattern(),
            web::post().to(crate::api::keys::revoke_key),
        )
        // order connectors and the orders panel (src/assist/orders/)
        .route(paths::INTEGRATIONS.pattern(), web::get().to(crate::assist::orders::routes::list))
        .route(paths::INTEGRATIONS.pattern(), web::post().to(crate::assist::orders::routes::create))
        .route(paths::INTEGRATION.pattern(), web::get().to(crate::assist::orders::routes::edit))
        .route(paths::INTEGRATION.pattern(), web::post().to(crate::assist::orders::routes::update))
        .route(paths::INTEGRATION_DELETE.pattern(), web::post().to(crate::assist::orders::routes::delete))
        .route(paths::INTEGRATION_TEST.pattern(), web::post().to(crate::assist::orders::routes::test))
        .route(
            paths::CONVERSATION_ORDER_INSERT.pattern(),
            web::post().to(crate::assist::orders::insert::insert),
        )
        // end order connectors
        // webhooks (src/webhooks/)
        // (the inbound URLs' settings before `/settings/webhooks/{id}`, which would take them)
        .route(paths::WEBHOOK_INBOUND.pattern(), web::post().to(crate::webhooks::inbound::create))
        .route(
            paths::WEBHOOK_INBOUND_DELETE.pattern(),
            web::post().to(crate::webhooks::inbound::delete),
        )
        .route(paths::BACKUPS.pattern(), web::get().to(crate::backup::routes::show))
        .route(paths::BACKUP_SCHEDULE.pattern(), web::post().to(crate::backup::routes::set_schedule))
        .route(paths::BACKUP_NOW.pattern(), web::post().to(crate::backup::routes::take_now))
        .route(paths::WEBHOOKS.pattern(), web::get().to(crate::webhooks::routes::list))
        .route(paths::WEBHOOKS.pattern(), web::post().to(crate::webhooks::routes::create))
        .route(paths::WEBHOOK.pattern(), web::get().to(crate::webhooks::routes::show))
        .route(paths::WEBHOOK.pattern(), web::post().to(crate::webhooks::routes::update))
        .route(paths::WEBHOOK_ROTATE.pattern(), web::post().to(crate::webhooks::routes::rotate))
        .route(paths::WEBHOOK_DELETE.pattern(), web::post().to(crate::webhooks::routes::delete))
        .route(paths::WEBHOOK_RESEND.pattern(), web::post().to(crate::webhooks::routes::resend))
        .service(limited_post(
            paths::INBOUND_WEBHOOK.pattern(),
            AddressLimit::Inbound,
            crate::webhooks::inbound::receive,
        ))
        // end webhooks
        // the language model (src/assist/llm/)
        .route(paths::ASSIST_SETTINGS.pattern(), web::get().to(crate::assist::llm::settings::show))
        .route(paths::ASSIST_SETTINGS.pattern(), web::post().to(crate::assist::llm::settings::save))
        .route(paths::ASSIST_SETTINGS_TEST.pattern(), web::post().to(crate::assist::llm::settings::test))
        .route(paths::CONVERSATION_MODEL_DRAFT.pattern(), web::post().to(crate::assist::llm::draft::draft))
        // suggestions (src/assist/suggest/)
        .route(paths::ASSIST_SUGGESTIONS_MODE.pattern(), web::post().to(crate::assist::suggest::settings::save))
        .route(
            paths::CONVERSATION_SUGGESTION_INSERT.pattern(),
            web::post().to(crate::assist::suggest::routes::insert),
        )
        // the JSON API (src/api/v1/); the document and its page need no key
        .route(paths::API_OPENAPI, web::get().to(v1::openapi::json))
        .route(paths::API_DOCS, web::get().to(v1::docs::show))
        .route(paths::API_CONVERSATIONS.pattern(), web::get().to(v1::conversations::list))
        .route(paths::API_CONVERSATIONS.pattern(), web::post().to(v1::conversations::create))
        .route(paths::API_CONVERSATION.pattern(), web::get().to(v1::conversations::get))
        .route(paths::API_CONVERSATION_STATUS.pattern(), web::put().to(v1::conversations::set_status))
        .route(paths::API_CONVERSATION_ASSIGNEE.pattern(), web::put().to(v1::conversations::set_assignee))
        .route(paths::API_CONVERSATION_TAGS.pattern(), web::post().to(v1::conversations::add_tag))
        .route(paths::API_CONVERSATION_TAG.pattern(), web::delete().to(v1::conversations::remove_tag))
        .route(paths::API_MESSAGES.pattern(), web::get().to(v1::messages::list))
        .route(paths::API_REPLIES.pattern(), web::post().to(v1::messages::reply))
        .route(paths::API_NOTES.pattern(), web::post().to(v1::messages::note))
        .route(paths::API_CUSTOMERS.pattern(), web::get().to(v1::customers::lookup))
        .route(paths::API_CUSTOMERS.pattern(), web::post().to(v1::customers::create))
        .route(paths::API_CUSTOMER.pattern(), web::get().to(v1::customers::get))
        .route(paths::API_CUSTOMER.pattern(), web::patch().to(v1::customers::update))
        .route(paths::API_CUSTOMER_EXPORT.pattern(), web::get().to(v1::privacy::export))
        .route(paths::API_CUSTOMER_ERASE.pattern(), web::post().to(v1::privacy::erase))
        .route(paths::API_PRIVACY_REQUESTS.pattern(), web::get().to(v1::privacy::requests))
        .route(paths::API_PRIVACY_REQUESTS.pattern(), web::post().to(v1::privacy::create_request))
        .route(paths::API_TAGS.pattern(), web::get().to(v1::directory::tags))
        .route(paths::API_USERS.pattern(), web::get().to(v1::directory::users))
        .route(paths::API_CHANNELS.pattern(), web::get().to(v1::directory::channels))
        .route(paths::API_RETENTION_RUNS.pattern(), web::get().to(v1::directory::retention_runs))
        // end organization settings and API
        ;
}

/// A POST route limited by the client's address (and, for inbound mail, the channel token):
/// over the limit it answers 429 before its handler runs (`web::rate_limit`). The other
/// limits are keyed by who is signed in, so their handlers (search, the channels' test
/// buttons, `/events`) and the API key extractor check them.
fn limited_post<F, Args>(pattern: &str, limit: AddressLimit, handler: F) -> impl HttpServiceFactory
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(pattern)
        .guard(guard::Post())
        .wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| {
            rate_limit::by_address(limit, req, next)
        }))
        .route(web::post().to(handler))
}

async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.db.execute_unprepared("SELECT 1").await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ok"))
}

/// `GET /readyz`: 200 when this instance can serve: the database answers and its schema is
/// the one this binary expects (no migration pending: an old binary on a newer schema, or a
/// new one before `lethe migrate`, is not ready). 503 with the reason otherwise.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    use sea_orm_migration::MigratorTrait;
    let unready = |reason: &str| {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("not ready: {reason}"))
    };
    if state.db.execute_unprepared("SELECT 1").await.is_err() {
        return unready("the database does not answer");
    }
    match crate::db::Migrator::get_pending_migrations(&state.db).await {
        Ok(pending) if pending.is_empty() => {
            HttpResponse::Ok().content_type("text/plain").body("ready")
        }
        Ok(_) => unready("database migrations are pending (run lethe migrate)"),
        Err(_) => unready("the schema version could not be read"),
    }
}

async fn home(visitor: crate::web::Visitor) -> HttpResponse {
    if visitor.0.user.is_some() {
        crate::web::see_other(paths::INBOX.path())
    } else {
        crate::web::see_other(paths::LOGIN.path())
    }
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
