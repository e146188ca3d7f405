//! `spawn_app()`: a real Lethe on a free port with a fresh data directory and a fresh
//! database (SQLite, or PostgreSQL when `LETHE_TEST_DATABASE=postgres`), and a browser-like
//! HTTP client with a cookie jar.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use lethe::app::Application;
use lethe::config::Config;
use lethe::state::AppState;
use reqwest::redirect::Policy;
use sea_orm::{ConnectionTrait, Database};

pub struct TestApp {
    pub address: String,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub setup_link: Option<String>,
    _tmp: tempfile::TempDir,
}

/// Options for an app that needs more than the defaults.
#[derive(Default)]
pub struct AppOptions {
    pub smtp_url: Option<String>,
    pub extra_env: Vec<(String, String)>,
    /// Run the workers and scheduled jobs as `lethe serve` does (off by default).
    pub background: bool,
}

pub fn test_tmp_root() -> PathBuf {
    std::env::var_os("LETHE_TEST_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

pub fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A fresh PostgreSQL database when the suite runs on PostgreSQL; None for SQLite.
pub async fn fresh_database_url() -> Option<String> {
    match std::env::var("LETHE_TEST_DATABASE").as_deref() {
        Ok("postgres") => {
            let base = std::env::var("LETHE_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
            let name = format!("lethe_t_{}", unique_suffix());
            let admin = Database::connect(format!("{base}/postgres"))
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create database");
            admin.close().await.ok();
            Some(format!("{base}/{name}"))
        }
        _ => None,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let tmp = tempfile::Builder::new()
        .prefix("lethe-test-")
        .tempdir_in(test_tmp_root())
        .expect("temp dir");
    let data_dir = tmp.path().join("data");
    let database_url = fresh_database_url().await;
    let mut env = BTreeMap::new();
    env.insert("LETHE_LISTEN".to_owned(), "127.0.0.1:0".to_owned());
    env.insert("LETHE_DATA_DIR".to_owned(), data_dir.display().to_string());
    if let Some(url) = &database_url {
        env.insert("LETHE_DATABASE_URL".to_owned(), url.clone());
    }
    if let Some(url) = &options.smtp_url {
        env.insert("LETHE_SMTP_URL".to_owned(), url.clone());
        env.insert(
            "LETHE_SMTP_FROM".to_owned(),
            "Lethe <lethe@shop.test>".to_owned(),
        );
    }
    // The tests drive each job themselves (`run_once`), so nothing runs in the background
    // unless a test asks for it; the wiring is `lethe serve`'s all the same.
    if !options.background {
        without_background(&mut env);
    }
    for (key, value) in options.extra_env {
        env.insert(key, value);
    }
    let config = Config::from_sources(None, &env).expect("valid test config");
    let app = Application::build(config).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port);
    let setup_link = app.setup_link.clone().map(|link| {
        // The link is built on the configured base URL (port 0): point it at the real port.
        let path = link
            .split_once("/setup/")
            .map(|(_, token)| format!("/setup/{token}"))
            .unwrap_or_default();
        format!("{address}{path}")
    });
    let state = app.state.clone();
    tokio::spawn(app.server);
    TestApp {
        address,
        state,
        client: browser_client(),
        data_dir,
        database_url,
        setup_link,
        _tmp: tmp,
    }
}

/// Settings that switch off every worker and scheduled job: the tests drive each job
/// themselves (`run_once`).
pub fn without_background(env: &mut BTreeMap<String, String>) {
    env.insert("LETHE_WORKERS".to_owned(), String::new());
    for job in lethe::jobs::Scheduled::ALL {
        env.insert(job.setting().to_owned(), String::new());
    }
}

pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The CSRF token of the first form on a page.
pub fn csrf_of(html: &str) -> String {
    let re = regex::Regex::new(r#"name="csrf" value="([^"]+)""#).expect("regex");
    re.captures(html)
        .map(|c| c[1].to_owned())
        .expect("page has a CSRF token")
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// Posts a form with the CSRF token taken from `form_page`.
    pub async fn post_form(
        &self,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let html = self.get_text(form_page).await;
        let csrf = csrf_of(&html);
        self.post_with_csrf(action, &csrf, fields).await
    }

    pub async fn post_with_csrf(
        &self,
        action: &str,
        csrf: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf)];
        all.extend_from_slice(fields);
        self.client
            .post(self.url(action))
            .form(&all)
            .send()
            .await
            .expect("POST")
    }

    /// An email channel of `org` sending as `from_address` (through the SMTP recorder on
    /// `smtp_port`, if given; no IMAP): its id and its inbound token.
    pub async fn email_channel(
        &self,
        org: lethe::orgs::OrgId,
        name: &str,
        from_address: &str,
        smtp_port: Option<u16>,
    ) -> (i64, String) {
        use lethe::mail::channel::{NewChannel, SmtpSettings, TlsMode, create};
        let (channel, token) = create(
            &self.state.db,
            &self.state.sealer,
            org,
            NewChannel {
                name: name.into(),
                imap: None,
                smtp: smtp_port.map(|port| SmtpSettings {
                    host: "127.0.0.1".into(),
                    port,
                    tls: TlsMode::None,
                    user: None,
                    password: None,
                }),
                from_name: name.into(),
                from_address: lethe::mail::EmailAddress::parse(from_address).unwrap(),
                poll_seconds: 60,
            },
        )
        .await
        .unwrap();
        (channel.id, token)
    }

    /// Creates a user (and organization) directly, as `lethe user create` does.
    pub async fn create_user(&self, email: &str, org: &str, role: &str) -> i64 {
        use lethe::auth::users;
        use lethe::mail::EmailAddress;
        use lethe::orgs::{Role, queries};
        let email = EmailAddress::parse(email).expect("email");
        let user = users::create(
            &self.state.db,
            &email,
            &users::NewPassword::parse(PASSWORD).expect("pw"),
            "Test User",
        )
        .await
        .expect("user");
        let role = Role::parse(role).expect("role");
        match queries::find_by_name(&self.state.db, org)
            .await
            .expect("lookup")
        {
            Some((id, _)) => queries::add_member(&self.state.db, id, user.id, role)
                .await
                .expect("member"),
            None => {
                queries::create_organization(
                    &self.state.db,
                    &queries::OrgName::parse(org).expect("name"),
                    user.id,
                )
                .await
                .expect("org");
            }
        }
        user.id
    }

    pub async fn login(&self, email: &str) -> reqwest::Response {
        self.login_with(email, PASSWORD).await
    }

    pub async fn login_with(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// A second browser on the same app (its own cookie jar).
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            state: self.state.clone(),
            client: browser_client(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            setup_link: None,
            _tmp: tempfile::tempdir().expect("tmp"),
        }
    }
}
