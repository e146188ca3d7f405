//! The application and the one route table: every URL of Lethe is listed here, and
//! [`Application::build`] wires the state, the background work and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use sea_orm::ConnectionTrait;

use crate::auth;
use crate::config::Config;
pub use crate::state::{AppState, StartError};
use crate::web::AppError;
use crate::{inbox, mail, orgs};

/// A running application: the HTTP server, its port, and the first-start setup link.
pub struct Application {
    pub port: u16,
    pub server: Server,
    pub state: Arc<AppState>,
    pub setup_link: Option<String>,
    /// The workers and scheduled jobs `LETHE_WORKERS` and `LETHE_SCHEDULE_*` turned on.
    pub background: crate::jobs::Background,
}

impl Application {
    /// Builds everything, starts the background work and binds the listener (port 0 picks a
    /// free port, as tests do). `lethe serve` and the test harness both start here.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let listen = config.listen;
        let state = AppState::open(config).await?;
        let setup_link = if auth::users::count(&state.db)
            .await
            .map_err(|e| StartError::Database(sea_orm::DbErr::Custom(e.to_string())))?
            == 0
        {
            let token = state.setup.open();
            Some(state.config.base_url.join(&format!("/setup/{token}")))
        } else {
            None
        };
        let listener = TcpListener::bind(listen).map_err(|source| StartError::Listen {
            address: listen.to_string(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                address: listen.to_string(),
                source,
            })?
            .port();
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
                .wrap(crate::web::headers::security_headers(https))
        })
        .listen(listener)
        .map_err(|source| StartError::Listen {
            address: listen.to_string(),
            source,
        })?
        .shutdown_timeout(10)
        .run();
        let background = crate::jobs::start(state.clone(), &state.config.jobs)
            .await
            .map_err(|e| StartError::Jobs(e.to_string()))?;
        Ok(Self {
            port,
            server,
            state,
            setup_link,
            background,
        })
    }
}

/// The route table.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route(
            "/assets/{path:.*}",
            web::get().to(crate::web::assets::serve),
        )
        .route("/", web::get().to(home))
        // accounts
        .route("/login", web::get().to(auth::routes::login_form))
        .route("/login", web::post().to(auth::routes::login))
        .route("/logout", web::post().to(auth::routes::logout))
        .route("/setup/{token}", web::get().to(auth::routes::setup_form))
        .route("/setup/{token}", web::post().to(auth::routes::setup))
        .route("/account", web::get().to(auth::routes::account))
        .route(
            "/account/profile",
            web::post().to(auth::routes::update_profile),
        )
        .route(
            "/account/password",
            web::post().to(auth::routes::change_password),
        )
        .route("/password/forgot", web::get().to(auth::routes::forgot_form))
        .route("/password/forgot", web::post().to(auth::routes::forgot))
        .route(
            "/password/reset/{token}",
            web::get().to(auth::routes::reset_form),
        )
        .route(
            "/password/reset/{token}",
            web::post().to(auth::routes::reset),
        )
        // organizations and team
        .route("/orgs/new", web::get().to(orgs::routes::new_org_form))
        .route("/orgs/new", web::post().to(orgs::routes::create_org))
        .route("/orgs/switch", web::post().to(orgs::routes::switch))
        .route("/settings/team", web::get().to(orgs::routes::team))
        .route(
            "/settings/team/invitations",
            web::post().to(orgs::routes::invite),
        )
        .route(
            "/settings/team/invitations/{id}/revoke",
            web::post().to(orgs::routes::revoke_invitation),
        )
        .route(
            "/settings/team/members/{user_id}/role",
            web::post().to(orgs::routes::change_role),
        )
        .route(
            "/settings/team/members/{user_id}/remove",
            web::post().to(orgs::routes::remove_member),
        )
        .route(
            "/invitations/{token}",
            web::get().to(orgs::routes::invitation),
        )
        .route(
            "/invitations/{token}",
            web::post().to(orgs::routes::accept_invitation),
        )
        // search (src/search/)
        .route("/search", web::get().to(crate::search::routes::search))
        // audit log
        .route("/audit", web::get().to(crate::audit::routes::log))
        // privacy (src/privacy/)
        .route("/customers/{id}/erase", web::get().to(crate::privacy::routes::erase_confirm))
        .route("/customers/{id}/erase", web::post().to(crate::privacy::routes::erase))
        .route("/customers/{id}/export", web::post().to(crate::privacy::routes::export))
        .route("/privacy/requests", web::get().to(crate::privacy::routes::requests))
        .route("/privacy/requests", web::post().to(crate::privacy::routes::create_request))
        .route(
            "/privacy/requests/{id}/status",
            web::post().to(crate::privacy::routes::change_status),
        )
        .route("/privacy/receipts/{id}", web::get().to(crate::privacy::routes::receipt))
        .route("/customers/{id}/rectify", web::post().to(crate::privacy::rectify::rectify))
        .route("/customers/{id}/restriction", web::post().to(crate::privacy::restrict::change))
        .route("/customers/{id}/objections", web::post().to(crate::privacy::objection::record))
        .route("/customers/{id}/merge", web::get().to(crate::privacy::merge::confirm))
        .route("/customers/{id}/merge", web::post().to(crate::privacy::merge::apply))
        // end privacy
        // inbox (src/inbox/)
        .route("/inbox", web::get().to(inbox::routes::inbox))
        .route("/events", web::get().to(inbox::routes::events))
        .route("/conversations/{id}", web::get().to(inbox::routes::conversation))
        .route("/conversations/{id}/reply", web::post().to(inbox::routes::reply))
        .route("/conversations/{id}/notes", web::post().to(inbox::routes::add_note))
        .route("/conversations/{id}/status", web::post().to(inbox::routes::change_status))
        .route("/conversations/{id}/assignee", web::post().to(inbox::routes::change_assignee))
        .route("/conversations/{id}/tags", web::post().to(inbox::routes::add_tag))
        .route(
            "/conversations/{id}/tags/{tag_id}/remove",
            web::post().to(inbox::routes::remove_tag),
        )
        .route(
            "/conversations/{id}/messages/{message_id}/retry",
            web::post().to(inbox::routes::retry),
        )
        .route("/customers/{id}", web::get().to(inbox::routes::customer))
        .route("/attachments/{id}", web::get().to(inbox::routes::attachment))
        .route("/settings/canned-replies", web::get().to(inbox::routes::canned_list))
        .route("/settings/canned-replies", web::post().to(inbox::routes::canned_create))
        .route("/settings/canned-replies/{id}", web::get().to(inbox::routes::canned_edit))
        .route("/settings/canned-replies/{id}", web::post().to(inbox::routes::canned_update))
        .route(
            "/settings/canned-replies/{id}/delete",
            web::post().to(inbox::routes::canned_delete),
        )
        // end inbox
        // email channels (src/mail/)
        .route("/inbound/email/{token}", web::post().to(mail::inbound_http::receive))
        .route("/settings/channels", web::get().to(mail::channels::routes::list))
        .route("/settings/channels", web::post().to(mail::channels::routes::create))
        .route("/settings/channels/new", web::get().to(mail::channels::routes::new_form))
        .route("/settings/channels/{id}", web::get().to(mail::channels::routes::edit))
        .route("/settings/channels/{id}", web::post().to(mail::channels::routes::update))
        .route("/settings/channels/{id}/delete", web::post().to(mail::channels::routes::delete))
        .route("/settings/channels/{id}/test-imap", web::post().to(mail::channels::routes::test_imap))
        .route("/settings/channels/{id}/test-smtp", web::post().to(mail::channels::routes::test_smtp_button))
        // end email channels
        // retention (src/retention/)
        .route("/settings/retention", web::get().to(crate::retention::routes::settings))
        .route("/settings/retention/rules", web::post().to(crate::retention::routes::save_rule))
        .route(
            "/settings/retention/rules/remove",
            web::post().to(crate::retention::routes::remove_rule),
        )
        .route("/settings/retention/preview", web::post().to(crate::retention::routes::preview))
        .route("/settings/retention/run", web::post().to(crate::retention::routes::run_now))
        .route(
            "/settings/retention/schedule",
            web::post().to(crate::retention::routes::set_schedule),
        )
        .route(
            "/conversations/{id}/legal-hold",
            web::post().to(crate::retention::hold::conversation),
        )
        .route(
            "/customers/{id}/legal-hold",
            web::post().to(crate::retention::hold::customer),
        )
        // end retention
        // organization lifecycle (src/orgs/lifecycle.rs) and the API (src/api/)
        .route("/settings/organization", web::get().to(orgs::lifecycle::page))
        .route("/settings/organization/export", web::post().to(orgs::lifecycle::export))
        .route(
            "/settings/organization/deletion",
            web::post().to(orgs::lifecycle::schedule_deletion),
        )
        .route(
            "/settings/organization/deletion/cancel",
            web::post().to(orgs::lifecycle::cancel_deletion),
        )
        .route("/settings/api-keys", web::get().to(crate::api::keys::list))
        .route("/settings/api-keys", web::post().to(crate::api::keys::create_key))
        .route(
            "/settings/api-keys/{id}/revoke",
            web::post().to(crate::api::keys::revoke_key),
        )
        .route("/api/v1/customers", web::get().to(crate::api::v1::customers))
        .route("/api/v1/customers/{id}/export", web::get().to(crate::api::v1::export))
        .route("/api/v1/customers/{id}/erase", web::post().to(crate::api::v1::erase))
        .route("/api/v1/privacy/requests", web::get().to(crate::api::v1::requests))
        .route("/api/v1/privacy/requests", web::post().to(crate::api::v1::create_request))
        // end organization lifecycle and API
        ;
}

async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.db.execute_unprepared("SELECT 1").await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ok"))
}

async fn home(visitor: crate::web::Visitor) -> HttpResponse {
    if visitor.0.user.is_some() {
        crate::web::see_other("/inbox")
    } else {
        crate::web::see_other("/login")
    }
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
