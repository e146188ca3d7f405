//! `spawn_app()`: a real Lethe on a free port with a fresh data directory and a fresh
//! database (SQLite, or PostgreSQL when `LETHE_TEST_DATABASE=postgres`), and a browser-like
//! HTTP client with a cookie jar. Also what many test files need: the `lethe` command line,
//! raw customer mail (`mail`), storing it through the real ingest path, and the raw bytes of
//! the data directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use base64::Engine;
use lethe::app::Application;
use lethe::config::Config;
use lethe::db::entity::{conversation, conversation_tag, customer, tag};
use lethe::mail::ingest::{Outcome, Source, ingest_raw};
use lethe::orgs::OrgId;
use lethe::retention::{Action, Category, RetentionRule};
use lethe::state::AppState;
use reqwest::redirect::Policy;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};

pub struct TestApp {
    pub address: String,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub setup_link: Option<String>,
    /// `http://127.0.0.1:PORT` of `/metrics`, when `LETHE_METRICS_LISTEN` was set.
    pub metrics_address: Option<String>,
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

impl AppOptions {
    /// Options for an app that sends mail through the SMTP server at `url`.
    pub fn with_smtp(url: String) -> Self {
        AppOptions {
            smtp_url: Some(url),
            ..Default::default()
        }
    }
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
            // test.sh names the run (its pid), so it drops only its own and dead runs' databases.
            let prefix =
                std::env::var("LETHE_TEST_DB_PREFIX").unwrap_or_else(|_| "lethe_t_".into());
            let name = format!("{prefix}{}", unique_suffix());
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
    // The suite's Dovecot and SMTP recorder listen on loopback.
    env.insert("LETHE_ALLOW_PRIVATE_HOSTS".to_owned(), "true".to_owned());
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
    // Replies go out on the sender's next pass, as the tests expect; the undo tests ask for a
    // delay (tests/api/drafts.rs).
    env.insert("LETHE_UNDO_SEND_SECONDS".to_owned(), "0".to_owned());
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
    let metrics_address = app.metrics.map(|(port, server)| {
        tokio::spawn(server);
        format!("http://127.0.0.1:{port}")
    });
    tokio::spawn(app.server);
    TestApp {
        address,
        state,
        client: browser_client(),
        data_dir,
        database_url,
        setup_link,
        metrics_address,
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

/// The fields of the channel form (`/settings/channels/new`): a channel "Support" sending as
/// support@shop.test, with no IMAP or SMTP server, but for `changes` (field, value).
pub fn channel_form<'a>(changes: &[(&str, &'a str)]) -> Vec<(&'static str, &'a str)> {
    let mut fields = vec![
        ("name", "Support"),
        ("from_name", "Shop Support"),
        ("from_address", "support@shop.test"),
        ("imap_host", ""),
        ("imap_port", "993"),
        ("imap_tls", "tls"),
        ("imap_user", ""),
        ("imap_password", ""),
        ("imap_folder", "INBOX"),
        ("after_fetch", "seen"),
        ("imap_move_to", ""),
        ("poll_seconds", "60"),
        ("smtp_host", ""),
        ("smtp_port", "587"),
        ("smtp_tls", "starttls"),
        ("smtp_user", ""),
        ("smtp_password", ""),
    ];
    for &(name, value) in changes {
        let field = fields
            .iter_mut()
            .find(|(field, _)| *field == name)
            .unwrap_or_else(|| panic!("the channel form has no field {name}"));
        field.1 = value;
    }
    fields
}

/// Sends `request`; returns the body of the answer.
pub async fn text_of(request: reqwest::RequestBuilder) -> String {
    request.send().await.unwrap().text().await.unwrap()
}

/// Sends `request`; returns the body of the answer, JSON.
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Posts the form at `action` of the server at `base` as `client`, with the CSRF token of
/// the page `form_page`, as a browser does.
pub async fn post_form_with(
    client: &reqwest::Client,
    base: &str,
    form_page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let html = text_of(client.get(format!("{base}{form_page}"))).await;
    let csrf = csrf_of(&html);
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    client
        .post(format!("{base}{action}"))
        .form(&all)
        .send()
        .await
        .expect("POST")
}

/// The `lethe` binary as an operator runs it on `data_dir` and `database_url` (None: SQLite
/// in the data directory), with nothing of the test's environment but `PATH`.
pub fn lethe_command(data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lethe"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LETHE_DATA_DIR", data_dir)
        .env("LETHE_ALLOW_PRIVATE_HOSTS", "true");
    if let Some(url) = database_url {
        command.env("LETHE_DATABASE_URL", url);
    }
    command
}

/// Spawns `command` with `input` on its standard input, which is then closed (as
/// `echo input | command` does).
pub fn spawn_with_input(command: &mut Command, input: &str) -> std::process::Child {
    let mut child = command.stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    child
}

/// Stores `raw` through the real ingest path; returns (conversation id, message id), and
/// panics unless the mail was stored (not a duplicate, not rejected).
pub async fn ingest_into(state: &AppState, source: Source, raw: impl Into<Vec<u8>>) -> (i64, i64) {
    match ingest_raw(state, source, raw.into()).await.unwrap() {
        Outcome::Stored {
            conversation_id,
            message_id,
            ..
        } => (conversation_id, message_id),
        other => panic!("mail not stored: {other:?}"),
    }
}

/// Mail imported into `org`: through no channel, keeping its own date.
pub fn imported(org: OrgId) -> Source {
    Source {
        org,
        channel_id: None,
        keep_original_date: true,
    }
}

/// Mail arriving now for `org` through `channel_id` (None: none), dated when it arrives.
pub fn arriving(org: OrgId, channel_id: Option<i64>) -> Source {
    Source {
        org,
        channel_id,
        keep_original_date: false,
    }
}

/// A raw email from a customer (see `Mail`).
pub fn mail(from: &str, message_id: &str, subject: &str, body: &str) -> Mail {
    Mail {
        from: from.to_owned(),
        to: "support@shop.test".to_owned(),
        subject: subject.to_owned(),
        message_id: message_id.to_owned(),
        date: Some("Tue, 3 Nov 2026 10:00:00 +0100".to_owned()),
        headers: Vec::new(),
        body: body.to_owned(),
        html: None,
        attachment: None,
    }
}

/// A raw email as a customer's mail program sends it: to support@shop.test, dated
/// Tue, 3 Nov 2026 10:00:00 +0100, its body UTF-8 text, unless the builder methods say
/// otherwise. `to_string()` or `Vec::from` gives the raw mail.
#[derive(Clone, Debug)]
pub struct Mail {
    from: String,
    to: String,
    subject: String,
    message_id: String,
    date: Option<String>,
    headers: Vec<(String, String)>,
    body: String,
    html: Option<String>,
    /// The attachment's MIME part: its headers, a blank line and its content.
    attachment: Option<String>,
}

impl Mail {
    /// Addressed to `address` instead of support@shop.test.
    pub fn to(mut self, address: &str) -> Self {
        self.to = address.to_owned();
        self
    }

    /// Dated `date` (RFC 2822) instead.
    pub fn date(mut self, date: &str) -> Self {
        self.date = Some(date.to_owned());
        self
    }

    /// No Date header: the mail is dated when it is stored.
    pub fn undated(mut self) -> Self {
        self.date = None;
        self
    }

    /// One more header, after the Date (in the order added).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// An answer to the mail with Message-ID `message_id` (In-Reply-To and References).
    pub fn in_reply_to(self, message_id: &str) -> Self {
        let id = format!("<{message_id}>");
        self.header("In-Reply-To", &id).header("References", &id)
    }

    /// An HTML version of the body: the text becomes the plain part of a multipart/alternative.
    pub fn html(mut self, html: &str) -> Self {
        self.html = Some(html.to_owned());
        self
    }

    /// Attaches `bytes` as `filename`, base64 in lines of 76 characters.
    pub fn attachment(mut self, content_type: &str, filename: &str, bytes: &[u8]) -> Self {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
            .collect();
        self.attachment = Some(format!(
            "Content-Type: {content_type}\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            lines.join("\r\n")
        ));
        self
    }

    /// Attaches `text` as the plain-text file `filename`, as it is (no transfer encoding).
    pub fn text_attachment(mut self, filename: &str, text: &str) -> Self {
        self.attachment = Some(format!(
            "Content-Type: text/plain; name=\"{filename}\"\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\n\r\n{text}"
        ));
        self
    }
}

impl std::fmt::Display for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "From: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{}>\r\n",
            self.from, self.to, self.subject, self.message_id
        )?;
        if let Some(date) = &self.date {
            write!(f, "Date: {date}\r\n")?;
        }
        for (name, value) in &self.headers {
            write!(f, "{name}: {value}\r\n")?;
        }
        let text = format!(
            "Content-Type: text/plain; charset=utf-8\r\n\r\n{}",
            self.body
        );
        let body = match &self.html {
            None => text,
            Some(html) => format!(
                "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n{text}\r\n\
                 --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--alt--"
            ),
        };
        match &self.attachment {
            None => write!(f, "MIME-Version: 1.0\r\n{body}\r\n"),
            Some(part) => write!(
                f,
                "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
                 --b1\r\n{body}\r\n--b1\r\n{part}\r\n--b1--\r\n"
            ),
        }
    }
}

impl From<Mail> for Vec<u8> {
    fn from(mail: Mail) -> Self {
        mail.to_string().into_bytes()
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every file under `dir` holding `needle` byte for byte (in any ASCII letter case if
/// `any_case`: the search index keeps words lower-cased).
pub fn files_holding(dir: &Path, needle: impl AsRef<[u8]>, any_case: bool) -> Vec<PathBuf> {
    let needle = needle.as_ref();
    files_under(dir)
        .into_iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap_or_default();
            bytes.windows(needle.len()).any(|window| {
                if any_case {
                    window.eq_ignore_ascii_case(needle)
                } else {
                    window == needle
                }
            })
        })
        .collect()
}

/// "<file> holds <needle>" for each of `needles` found byte for byte in a file under `dir`.
pub fn traces<N: AsRef<[u8]>>(dir: &Path, needles: &[N]) -> Vec<String> {
    let mut found = Vec::new();
    for path in files_under(dir) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for needle in needles.iter().map(AsRef::as_ref) {
            if bytes.windows(needle.len()).any(|window| window == needle) {
                found.push(format!(
                    "{} holds {:?}",
                    path.display(),
                    String::from_utf8_lossy(needle)
                ));
            }
        }
    }
    found
}

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
        post_form_with(&self.client, &self.address, form_page, action, fields).await
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

    /// The id of the organization named `name`, which must exist.
    pub async fn org_id(&self, name: &str) -> OrgId {
        lethe::orgs::queries::find_by_name(&self.state.db, name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no organization {name:?}"))
            .0
    }

    /// `lethe_command` on this app's data directory and database.
    pub fn lethe(&self) -> Command {
        lethe_command(&self.data_dir, self.database_url.as_deref())
    }

    /// `ingest_into` this app.
    pub async fn ingest(&self, source: Source, raw: impl Into<Vec<u8>>) -> (i64, i64) {
        ingest_into(&self.state, source, raw).await
    }

    /// Imports a mail into `org` (see `imported`); returns (customer id, conversation id).
    pub async fn receive(&self, org: OrgId, raw: impl Into<Vec<u8>>) -> (i64, i64) {
        let (conversation_id, _) = self.ingest(imported(org), raw).await;
        (self.customer_of(conversation_id).await, conversation_id)
    }

    /// How many rows the table of `E` holds (in all organizations).
    pub async fn count<E>(&self) -> u64
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        E::find().count(&self.state.db).await.unwrap()
    }

    /// The conversation `id`, if it (still) exists.
    pub async fn find_conversation(&self, id: i64) -> Option<conversation::Model> {
        conversation::Entity::find_by_id(id)
            .one(&self.state.db)
            .await
            .unwrap()
    }

    /// The conversation `id`, which must exist.
    pub async fn conversation(&self, id: i64) -> conversation::Model {
        self.find_conversation(id)
            .await
            .unwrap_or_else(|| panic!("no conversation {id}"))
    }

    /// The customer of the conversation `id`.
    pub async fn customer_of(&self, conversation_id: i64) -> i64 {
        self.conversation(conversation_id).await.customer_id
    }

    /// The customer `id`, if it (still) exists.
    pub async fn find_customer(&self, id: i64) -> Option<customer::Model> {
        customer::Entity::find_by_id(id)
            .one(&self.state.db)
            .await
            .unwrap()
    }

    /// Erases customer `customer_id` of `org` as the system (no user, no client).
    pub async fn erase(&self, org: OrgId, customer_id: i64) -> lethe::privacy::erase::Erasure {
        lethe::privacy::erase::erase(
            &self.state,
            org,
            customer_id,
            lethe::privacy::erase::Performer {
                user_id: None,
                actor: lethe::audit::Actor::System("test"),
                client: None,
                holder_verified: false,
            },
        )
        .await
        .unwrap()
    }

    /// Records an access request of customer `customer_id` of `org`, received now.
    pub async fn access_request(
        &self,
        org: OrgId,
        customer_id: i64,
    ) -> lethe::db::entity::privacy_request::Model {
        use lethe::privacy::requests::{Kind, NewRequest, create};
        let request = NewRequest {
            kind: Kind::Access,
            received_at: chrono::Utc::now(),
            customer_id: Some(customer_id),
            note: String::new(),
        };
        create(&self.state.db, org, request).await.unwrap()
    }

    /// Closes the conversation `conversation_id` `days` ago.
    pub async fn close_days_ago(&self, conversation_id: i64, days: i64) {
        conversation::Entity::update_many()
            .col_expr(conversation::Column::Status, Expr::val("closed"))
            .col_expr(
                conversation::Column::ClosedAt,
                Expr::val(chrono::Utc::now() - chrono::Duration::days(days)),
            )
            .filter(conversation::Column::Id.eq(conversation_id))
            .exec(&self.state.db)
            .await
            .unwrap();
    }

    /// Dates the creation of customer `customer_id` `days` back.
    pub async fn customer_created_days_ago(&self, customer_id: i64, days: i64) {
        customer::Entity::update_many()
            .col_expr(
                customer::Column::CreatedAt,
                Expr::val(chrono::Utc::now() - chrono::Duration::days(days)),
            )
            .filter(customer::Column::Id.eq(customer_id))
            .exec(&self.state.db)
            .await
            .unwrap();
    }

    /// Tags the conversation `conversation_id` of `org` with a new tag `name`.
    pub async fn tag_conversation(&self, org: OrgId, conversation_id: i64, name: &str) {
        let tag = tag::ActiveModel {
            organization_id: Set(org),
            name: Set(name.to_owned()),
            ..Default::default()
        }
        .insert(&self.state.db)
        .await
        .unwrap();
        conversation_tag::ActiveModel {
            conversation_id: Set(conversation_id),
            tag_id: Set(tag.id),
        }
        .insert(&self.state.db)
        .await
        .unwrap();
    }

    /// Saves the retention rule of `org` for `category`: `action` after `days` days.
    pub async fn save_rule(&self, org: OrgId, category: Category, days: i64, action: Action) {
        let rule = RetentionRule::new(category, days, action).unwrap();
        lethe::retention::save_rule(&self.state.db, org, rule)
            .await
            .unwrap();
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
                    secret: None,
                }),
                from_name: name.into(),
                from_address: lethe::mail::EmailAddress::parse(from_address).unwrap(),
                aliases: Vec::new(),
                poll_seconds: 60,
                auth: lethe::mail::channel::ChannelAuth::Password,
            },
        )
        .await
        .unwrap();
        (channel.id, token)
    }

    /// Creates a user (and organization) directly, as `lethe user create` does.
    pub async fn create_user(&self, email: &str, org: &str, role: &str) -> i64 {
        use lethe::auth::users::NewPassword;
        use lethe::mail::EmailAddress;
        use lethe::orgs::{Role, queries};
        let name = queries::OrgName::parse(org).expect("name");
        let role = Role::parse(role).expect("role");
        let joining = queries::Joining::by_name(&self.state.db, &name, role)
            .await
            .expect("lookup");
        let (user, _) = queries::create_user_in(
            &self.state.db,
            &EmailAddress::parse(email).expect("email"),
            &NewPassword::parse(PASSWORD, &[]).expect("pw"),
            "Test User",
            joining,
        )
        .await
        .expect("user");
        user.id
    }

    pub async fn login(&self, email: &str) -> reqwest::Response {
        let response = self.login_with(email, PASSWORD).await;
        // Printed with a failing test's output: a later "no CSRF token" or 303 to /login
        // then says why (some tests expect a refused login, so this does not assert).
        if response.status() != reqwest::StatusCode::SEE_OTHER {
            eprintln!(
                "login of {email} answered {} (location {:?})",
                response.status(),
                location(&response)
            );
        }
        response
    }

    pub async fn login_with(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Posts the legal-hold form of `page` (a customer's or a conversation's): a `reason` sets
    /// a hold, `release` lifts it.
    pub async fn legal_hold(&self, page: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_form(page, &format!("{page}/legal-hold"), fields)
            .await
    }

    /// Gives team member `user_id` the role `role` on the team page.
    pub async fn set_role(&self, user_id: i64, role: &str) -> reqwest::Response {
        let action = format!("/settings/team/members/{user_id}/role");
        self.post_form("/settings/team", &action, &[("role", role)])
            .await
    }

    /// The same app reached over HTTPS (it serves TLS itself) by `client`.
    pub fn over_https(mut self, client: reqwest::Client) -> TestApp {
        self.address = self.address.replacen("http://", "https://", 1);
        self.client = client;
        self
    }

    /// Another node of this app, as a second `lethe serve` on another machine would be: its
    /// own server, port and data directory (search index, key file copied from this one, so
    /// both read the sealed secrets), on this app's database. No workers or scheduled jobs:
    /// the tests drive each node's `run_once`.
    pub async fn second_node(&self) -> TestApp {
        self.second_node_with(Vec::new()).await
    }

    /// [`TestApp::second_node`] with more settings (the shared attachment bucket).
    pub async fn second_node_with(&self, extra_env: Vec<(String, String)>) -> TestApp {
        let tmp = tempfile::Builder::new()
            .prefix("lethe-node-")
            .tempdir_in(test_tmp_root())
            .expect("temp dir");
        let data_dir = tmp.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        std::fs::copy(
            self.data_dir.join("instance.key"),
            data_dir.join("instance.key"),
        )
        .expect("the first node's key file");
        let database = self
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("lethe.db").display()));
        let mut env = BTreeMap::new();
        env.insert("LETHE_LISTEN".to_owned(), "127.0.0.1:0".to_owned());
        env.insert("LETHE_DATA_DIR".to_owned(), data_dir.display().to_string());
        env.insert("LETHE_DATABASE_URL".to_owned(), database);
        env.insert("LETHE_ALLOW_PRIVATE_HOSTS".to_owned(), "true".to_owned());
        env.insert("LETHE_UNDO_SEND_SECONDS".to_owned(), "0".to_owned());
        without_background(&mut env);
        env.extend(extra_env);
        let config = Config::from_sources(None, &env).expect("valid test config");
        let app = Application::build(config)
            .await
            .expect("second node builds");
        let address = format!("http://127.0.0.1:{}", app.port);
        let state = app.state.clone();
        tokio::spawn(app.server);
        TestApp {
            address,
            state,
            client: browser_client(),
            data_dir,
            database_url: self.database_url.clone(),
            setup_link: None,
            metrics_address: None,
            _tmp: tmp,
        }
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
            metrics_address: self.metrics_address.clone(),
            _tmp: tempfile::tempdir().expect("tmp"),
        }
    }
}
