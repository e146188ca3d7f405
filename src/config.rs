//! One typed `Config`: defaults, then an optional TOML file, then `LETHE_*` environment
//! variables. Every value is parsed here, so a bad setting stops start-up with a message that
//! names it, and code past this point only holds valid values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::crypto::SecretKey;
use crate::jobs::{JobsConfig, Schedule, Scheduled, Worker};
use crate::tls::TlsInput;
pub use crate::tls::{TlsSetting, parse_tls_setting};

/// Where the database lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A SQLite file (the default: `lethe.db` in the data directory).
    Sqlite(PathBuf),
    /// A PostgreSQL server, by URL.
    Postgres(Redacted),
}

/// A string that holds a secret (a password inside a URL, a key): never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The public URL agents use to reach Lethe; links in emails are built on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(value: &str) -> Result<Self, String> {
        let trimmed = value.trim().trim_end_matches('/');
        let parsed = url::Url::parse(trimmed).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("must start with http:// or https://".into());
        }
        if parsed.host_str().is_none() {
            return Err("must name a host".into());
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// `path` must start with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseTarget,
    /// Connections each process opens to PostgreSQL at most (`LETHE_DATABASE_MAX_CONNECTIONS`);
    /// several nodes share the server's `max_connections`. SQLite ignores it.
    pub database_max_connections: u32,
    pub base_url: BaseUrl,
    pub secret_key: Option<SecretKey>,
    /// System mail (password resets, invitations): `smtp://user:pass@host:port` or `smtps://…`.
    pub smtp_url: Option<Redacted>,
    pub smtp_from: String,
    pub log_format: LogFormat,
    pub session_idle_minutes: i64,
    pub session_max_hours: i64,
    /// Largest raw email accepted (inbound endpoint, import, IMAP), in bytes.
    pub max_message_bytes: usize,
    /// Largest attachment stored; a larger one becomes a visible note on its message.
    pub max_attachment_bytes: usize,
    /// The reverse proxies whose `X-Forwarded-For` is believed (`LETHE_TRUSTED_PROXIES`: CIDRs).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Let mail channels reach loopback, private and link-local addresses
    /// (`LETHE_ALLOW_PRIVATE_HOSTS`; off: no SSRF, see `crate::mail::egress`).
    pub allow_private_hosts: bool,
    /// The background work this instance runs (`LETHE_WORKERS`, `LETHE_SCHEDULE_*`).
    pub jobs: JobsConfig,
    /// Request rate limits (`LETHE_RATE_*`, `LETHE_SSE_STREAMS_PER_USER`).
    pub rate_limits: RateLimitConfig,
    /// Audit entries under no organization (failed logins of unknown addresses, refused API
    /// keys) are removed after this many days (`LETHE_INSTANCE_AUDIT_DAYS`).
    pub instance_audit_days: i64,
    /// Owners are told when one member opens more than this many customers' data within an
    /// hour (`LETHE_ACCESS_ALERT_CUSTOMERS_PER_HOUR`; src/audit/access.rs).
    pub access_alert_customers_per_hour: i64,
    /// How long a reply waits in the outbox, with an Undo button, before it is sent
    /// (`LETHE_UNDO_SEND_SECONDS`, default 10; 0: sent at once; src/inbox/undo.rs).
    pub undo_send_seconds: i64,
    /// Owners are told when this many sign-ins into the organization's members' accounts fail
    /// within 15 minutes (`LETHE_ACCESS_ALERT_FAILED_SIGN_INS`; src/auth/failed_sign_in.rs).
    pub access_alert_failed_sign_ins: i64,
    /// Who receives the weekly audit checkpoint (`LETHE_AUDIT_CHECKPOINT_TO`; empty: the
    /// owners of a single-organization instance).
    pub audit_checkpoint_to: Vec<crate::mail::EmailAddress>,
    /// HTTPS on `LETHE_LISTEN` itself (`LETHE_TLS_CERT`/`LETHE_TLS_KEY` or `LETHE_ACME_*`).
    pub tls: Option<TlsSetting>,
    /// Where `/metrics` is served, apart from the pages (`LETHE_METRICS_LISTEN`; unset: not
    /// served).
    pub metrics_listen: Option<SocketAddr>,
    /// Sealed backups and the erasure journal (`LETHE_BACKUP_DIR`, `LETHE_BACKUP_KEEP_DAYS`,
    /// `LETHE_BACKUP_KEY`; the schedule is `LETHE_BACKUP_SCHEDULE`, with the other jobs').
    pub backup: crate::backup::BackupConfig,
    /// Where attachment files are kept (`LETHE_BLOB_URL=s3://bucket/prefix` with the `AWS_*`
    /// variables; unset: `attachments/` in the data directory).
    pub blobs: crate::mail::blobs::BlobTarget,
}

/// Request rate limits, each per minute unless it says otherwise (see `web::rate_limit`).
/// The defaults are far above what a busy team does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `POST /login` per client address.
    pub login_per_minute: u32,
    /// `POST /password/forgot` per client address.
    pub password_reset_per_minute: u32,
    /// `/api/v1/*` per API key.
    pub api_key_per_minute: u32,
    /// `/api/v1/*` per organization, all its keys together.
    pub api_org_per_minute: u32,
    /// `/search` per user.
    pub search_per_minute: u32,
    /// `/inbound/email/*` per channel token, and per client address.
    pub inbound_per_minute: u32,
    /// The channels' *Test IMAP* / *Test SMTP* buttons per organization.
    pub test_button_per_minute: u32,
    /// Open live-update streams (`/events`) per user, at once.
    pub sse_streams_per_user: u32,
    /// Chat widget requests (`/chat/*`: messages, fetches, streams, deletions) per visitor
    /// id, and per client address.
    pub chat_per_minute: u32,
}

impl RateLimitConfig {
    /// (setting, default) of every limit, in the order of the fields.
    const SETTINGS: [(&'static str, u32); 9] = [
        ("LETHE_RATE_LOGIN_PER_MINUTE", 60),
        ("LETHE_RATE_PASSWORD_RESET_PER_MINUTE", 10),
        ("LETHE_RATE_API_PER_MINUTE", 600),
        ("LETHE_RATE_API_ORG_PER_MINUTE", 1200),
        ("LETHE_RATE_SEARCH_PER_MINUTE", 120),
        ("LETHE_RATE_INBOUND_PER_MINUTE", 600),
        ("LETHE_RATE_TEST_BUTTON_PER_MINUTE", 20),
        ("LETHE_SSE_STREAMS_PER_USER", 20),
        ("LETHE_RATE_CHAT_PER_MINUTE", 60),
    ];
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let [
            login,
            reset,
            api_key,
            api_org,
            search,
            inbound,
            test_button,
            streams,
            chat,
        ] = Self::SETTINGS.map(|(_, default)| default);
        Self {
            login_per_minute: login,
            password_reset_per_minute: reset,
            api_key_per_minute: api_key,
            api_org_per_minute: api_org,
            search_per_minute: search,
            inbound_per_minute: inbound,
            test_button_per_minute: test_button,
            sse_streams_per_user: streams,
            chat_per_minute: chat,
        }
    }
}

/// Why the configuration was refused. The message always names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("cannot read the configuration file {path}: {reason}")]
    File { path: String, reason: String },
}

/// The settings as strings, before parsing: from the TOML file, then the environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    base_url: Option<String>,
    secret_key: Option<String>,
    smtp_url: Option<String>,
    smtp_from: Option<String>,
    log_format: Option<String>,
    session_idle_minutes: Option<toml::Value>,
    session_max_hours: Option<toml::Value>,
    max_message_mb: Option<toml::Value>,
    max_attachment_mb: Option<toml::Value>,
    database_max_connections: Option<toml::Value>,
    trust_proxy: Option<toml::Value>,
    trusted_proxies: Option<String>,
    allow_private_hosts: Option<toml::Value>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    acme_domain: Option<String>,
    acme_email: Option<String>,
    acme_directory: Option<String>,
    acme_ca_file: Option<String>,
    workers: Option<String>,
    schedule_cleanup: Option<String>,
    schedule_retention: Option<String>,
    schedule_org_purge: Option<String>,
    schedule_privacy_reminders: Option<String>,
    schedule_attachment_sweep: Option<String>,
    schedule_audit_flush: Option<String>,
    rate_login_per_minute: Option<toml::Value>,
    rate_password_reset_per_minute: Option<toml::Value>,
    rate_api_per_minute: Option<toml::Value>,
    rate_api_org_per_minute: Option<toml::Value>,
    rate_search_per_minute: Option<toml::Value>,
    rate_inbound_per_minute: Option<toml::Value>,
    rate_test_button_per_minute: Option<toml::Value>,
    sse_streams_per_user: Option<toml::Value>,
    rate_chat_per_minute: Option<toml::Value>,
    instance_audit_days: Option<toml::Value>,
    access_alert_customers_per_hour: Option<toml::Value>,
    undo_send_seconds: Option<toml::Value>,
    access_alert_failed_sign_ins: Option<toml::Value>,
    schedule_audit_checkpoint: Option<String>,
    schedule_snooze: Option<String>,
    schedule_sla: Option<String>,
    schedule_intents: Option<String>,
    audit_checkpoint_to: Option<String>,
    metrics_listen: Option<String>,
    backup_dir: Option<String>,
    backup_schedule: Option<String>,
    backup_keep_days: Option<toml::Value>,
    backup_key: Option<String>,
    blob_url: Option<String>,
    /// The `AWS_*` variables of the S3 store (environment only).
    #[serde(skip)]
    aws: BTreeMap<String, String>,
}

/// The recognised environment variables, and the file key each one overrides.
const ENV_KEYS: &[(&str, &str)] = &[
    ("LETHE_LISTEN", "listen"),
    ("LETHE_METRICS_LISTEN", "metrics_listen"),
    ("LETHE_DATA_DIR", "data_dir"),
    ("LETHE_DATABASE_URL", "database_url"),
    ("LETHE_BASE_URL", "base_url"),
    ("LETHE_SECRET_KEY", "secret_key"),
    ("LETHE_SMTP_URL", "smtp_url"),
    ("LETHE_SMTP_FROM", "smtp_from"),
    ("LETHE_LOG_FORMAT", "log_format"),
    ("LETHE_SESSION_IDLE_MINUTES", "session_idle_minutes"),
    ("LETHE_SESSION_MAX_HOURS", "session_max_hours"),
    ("LETHE_MAX_MESSAGE_MB", "max_message_mb"),
    ("LETHE_MAX_ATTACHMENT_MB", "max_attachment_mb"),
    ("LETHE_DATABASE_MAX_CONNECTIONS", "database_max_connections"),
    ("LETHE_TRUST_PROXY", "trust_proxy"),
    ("LETHE_TRUSTED_PROXIES", "trusted_proxies"),
    ("LETHE_ALLOW_PRIVATE_HOSTS", "allow_private_hosts"),
    ("LETHE_TLS_CERT", "tls_cert"),
    ("LETHE_TLS_KEY", "tls_key"),
    ("LETHE_ACME_DOMAIN", "acme_domain"),
    ("LETHE_ACME_EMAIL", "acme_email"),
    ("LETHE_ACME_DIRECTORY", "acme_directory"),
    ("LETHE_ACME_CA_FILE", "acme_ca_file"),
    ("LETHE_WORKERS", "workers"),
    ("LETHE_SCHEDULE_CLEANUP", "schedule_cleanup"),
    ("LETHE_SCHEDULE_RETENTION", "schedule_retention"),
    ("LETHE_SCHEDULE_ORG_PURGE", "schedule_org_purge"),
    (
        "LETHE_SCHEDULE_PRIVACY_REMINDERS",
        "schedule_privacy_reminders",
    ),
    (
        "LETHE_SCHEDULE_ATTACHMENT_SWEEP",
        "schedule_attachment_sweep",
    ),
    ("LETHE_SCHEDULE_AUDIT_FLUSH", "schedule_audit_flush"),
    ("LETHE_RATE_LOGIN_PER_MINUTE", "rate_login_per_minute"),
    (
        "LETHE_RATE_PASSWORD_RESET_PER_MINUTE",
        "rate_password_reset_per_minute",
    ),
    ("LETHE_RATE_API_PER_MINUTE", "rate_api_per_minute"),
    ("LETHE_RATE_API_ORG_PER_MINUTE", "rate_api_org_per_minute"),
    ("LETHE_RATE_SEARCH_PER_MINUTE", "rate_search_per_minute"),
    ("LETHE_RATE_INBOUND_PER_MINUTE", "rate_inbound_per_minute"),
    (
        "LETHE_RATE_TEST_BUTTON_PER_MINUTE",
        "rate_test_button_per_minute",
    ),
    ("LETHE_SSE_STREAMS_PER_USER", "sse_streams_per_user"),
    ("LETHE_RATE_CHAT_PER_MINUTE", "rate_chat_per_minute"),
    ("LETHE_INSTANCE_AUDIT_DAYS", "instance_audit_days"),
    (
        "LETHE_ACCESS_ALERT_CUSTOMERS_PER_HOUR",
        "access_alert_customers_per_hour",
    ),
    ("LETHE_UNDO_SEND_SECONDS", "undo_send_seconds"),
    (
        "LETHE_ACCESS_ALERT_FAILED_SIGN_INS",
        "access_alert_failed_sign_ins",
    ),
    (
        "LETHE_SCHEDULE_AUDIT_CHECKPOINT",
        "schedule_audit_checkpoint",
    ),
    ("LETHE_SCHEDULE_SNOOZE", "schedule_snooze"),
    ("LETHE_SCHEDULE_SLA", "schedule_sla"),
    ("LETHE_SCHEDULE_INTENTS", "schedule_intents"),
    ("LETHE_AUDIT_CHECKPOINT_TO", "audit_checkpoint_to"),
    ("LETHE_BACKUP_DIR", "backup_dir"),
    ("LETHE_BACKUP_SCHEDULE", "backup_schedule"),
    ("LETHE_BACKUP_KEEP_DAYS", "backup_keep_days"),
    ("LETHE_BACKUP_KEY", "backup_key"),
    ("LETHE_BLOB_URL", "blob_url"),
];

/// Variables that are read elsewhere and are not configuration mistakes.
const OTHER_KNOWN_ENV: &[&str] = &["LETHE_CONFIG", "LETHE_LOG"];

impl Config {
    /// Loads from the process environment and the file named by `LETHE_CONFIG` (or `file`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(key, _)| {
                key.starts_with("LETHE_")
                    || crate::mail::blobs::s3::AWS_VARIABLES.contains(&key.as_str())
            })
            .collect();
        Self::from_sources(file, &env)
    }

    /// Loads from an explicit environment map: what tests use.
    pub fn from_sources(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("LETHE_CONFIG").map(PathBuf::from));
        let mut raw = match &file {
            Some(path) => read_file(path)?,
            None => RawConfig::default(),
        };
        for key in env.keys() {
            let known = ENV_KEYS.iter().any(|(name, _)| name == key)
                || OTHER_KNOWN_ENV.contains(&key.as_str());
            if !known && key.starts_with("LETHE_") && !key.starts_with("LETHE_TEST_") {
                tracing::warn!(variable = %key, "unknown LETHE_ variable ignored");
            }
        }
        let get = |name: &str| env.get(name).filter(|v| !v.trim().is_empty()).cloned();
        overlay(&mut raw.listen, get("LETHE_LISTEN"));
        overlay(&mut raw.metrics_listen, get("LETHE_METRICS_LISTEN"));
        overlay(&mut raw.data_dir, get("LETHE_DATA_DIR"));
        overlay(&mut raw.database_url, get("LETHE_DATABASE_URL"));
        overlay(&mut raw.base_url, get("LETHE_BASE_URL"));
        overlay(&mut raw.secret_key, get("LETHE_SECRET_KEY"));
        overlay(&mut raw.smtp_url, get("LETHE_SMTP_URL"));
        overlay(&mut raw.smtp_from, get("LETHE_SMTP_FROM"));
        overlay(&mut raw.log_format, get("LETHE_LOG_FORMAT"));
        overlay_value(
            &mut raw.session_idle_minutes,
            get("LETHE_SESSION_IDLE_MINUTES"),
        );
        overlay_value(&mut raw.session_max_hours, get("LETHE_SESSION_MAX_HOURS"));
        overlay_value(&mut raw.max_message_mb, get("LETHE_MAX_MESSAGE_MB"));
        overlay_value(&mut raw.max_attachment_mb, get("LETHE_MAX_ATTACHMENT_MB"));
        overlay_value(
            &mut raw.database_max_connections,
            get("LETHE_DATABASE_MAX_CONNECTIONS"),
        );
        overlay_value(&mut raw.trust_proxy, get("LETHE_TRUST_PROXY"));
        overlay(&mut raw.trusted_proxies, get("LETHE_TRUSTED_PROXIES"));
        overlay_value(
            &mut raw.allow_private_hosts,
            get("LETHE_ALLOW_PRIVATE_HOSTS"),
        );
        overlay_value(
            &mut raw.rate_login_per_minute,
            get("LETHE_RATE_LOGIN_PER_MINUTE"),
        );
        overlay_value(
            &mut raw.rate_password_reset_per_minute,
            get("LETHE_RATE_PASSWORD_RESET_PER_MINUTE"),
        );
        overlay_value(
            &mut raw.rate_api_per_minute,
            get("LETHE_RATE_API_PER_MINUTE"),
        );
        overlay_value(
            &mut raw.rate_api_org_per_minute,
            get("LETHE_RATE_API_ORG_PER_MINUTE"),
        );
        overlay_value(
            &mut raw.rate_search_per_minute,
            get("LETHE_RATE_SEARCH_PER_MINUTE"),
        );
        overlay_value(
            &mut raw.rate_inbound_per_minute,
            get("LETHE_RATE_INBOUND_PER_MINUTE"),
        );
        overlay_value(
            &mut raw.rate_test_button_per_minute,
            get("LETHE_RATE_TEST_BUTTON_PER_MINUTE"),
        );
        overlay_value(
            &mut raw.sse_streams_per_user,
            get("LETHE_SSE_STREAMS_PER_USER"),
        );
        overlay_value(
            &mut raw.rate_chat_per_minute,
            get("LETHE_RATE_CHAT_PER_MINUTE"),
        );
        overlay_value(
            &mut raw.instance_audit_days,
            get("LETHE_INSTANCE_AUDIT_DAYS"),
        );
        overlay_value(
            &mut raw.access_alert_customers_per_hour,
            get("LETHE_ACCESS_ALERT_CUSTOMERS_PER_HOUR"),
        );
        overlay_value(&mut raw.undo_send_seconds, get("LETHE_UNDO_SEND_SECONDS"));
        overlay_value(
            &mut raw.access_alert_failed_sign_ins,
            get("LETHE_ACCESS_ALERT_FAILED_SIGN_INS"),
        );
        overlay(&mut raw.tls_cert, get("LETHE_TLS_CERT"));
        overlay(&mut raw.tls_key, get("LETHE_TLS_KEY"));
        overlay(&mut raw.acme_domain, get("LETHE_ACME_DOMAIN"));
        overlay(&mut raw.acme_email, get("LETHE_ACME_EMAIL"));
        overlay(&mut raw.acme_directory, get("LETHE_ACME_DIRECTORY"));
        overlay(&mut raw.acme_ca_file, get("LETHE_ACME_CA_FILE"));
        // An empty value switches a job off, so these are taken even when empty.
        let given = |name: &str| env.get(name).cloned();
        overlay(&mut raw.workers, given("LETHE_WORKERS"));
        overlay(&mut raw.schedule_cleanup, given("LETHE_SCHEDULE_CLEANUP"));
        overlay(
            &mut raw.schedule_retention,
            given("LETHE_SCHEDULE_RETENTION"),
        );
        overlay(
            &mut raw.schedule_org_purge,
            given("LETHE_SCHEDULE_ORG_PURGE"),
        );
        overlay(
            &mut raw.schedule_privacy_reminders,
            given("LETHE_SCHEDULE_PRIVACY_REMINDERS"),
        );
        overlay(
            &mut raw.schedule_attachment_sweep,
            given("LETHE_SCHEDULE_ATTACHMENT_SWEEP"),
        );
        overlay(
            &mut raw.schedule_audit_flush,
            given("LETHE_SCHEDULE_AUDIT_FLUSH"),
        );
        overlay(
            &mut raw.schedule_audit_checkpoint,
            given("LETHE_SCHEDULE_AUDIT_CHECKPOINT"),
        );
        overlay(&mut raw.schedule_snooze, given("LETHE_SCHEDULE_SNOOZE"));
        overlay(&mut raw.schedule_sla, given("LETHE_SCHEDULE_SLA"));
        overlay(&mut raw.schedule_intents, given("LETHE_SCHEDULE_INTENTS"));
        overlay(
            &mut raw.audit_checkpoint_to,
            get("LETHE_AUDIT_CHECKPOINT_TO"),
        );
        overlay(&mut raw.backup_dir, get("LETHE_BACKUP_DIR"));
        overlay(&mut raw.backup_schedule, given("LETHE_BACKUP_SCHEDULE"));
        overlay_value(&mut raw.backup_keep_days, get("LETHE_BACKUP_KEEP_DAYS"));
        overlay(&mut raw.backup_key, get("LETHE_BACKUP_KEY"));
        overlay(&mut raw.blob_url, get("LETHE_BLOB_URL"));
        for name in crate::mail::blobs::s3::AWS_VARIABLES {
            if let Some(value) = get(name) {
                raw.aws.insert((*name).to_owned(), value);
            }
        }
        Self::parse(raw)
    }

    fn parse(mut raw: RawConfig) -> Result<Self, ConfigError> {
        let jobs = jobs_config(&raw)?;
        let backup = backup_config(&mut raw)?;
        let blobs = match raw.blob_url.as_deref() {
            None => crate::mail::blobs::BlobTarget::DataDir,
            Some(url) => crate::mail::blobs::BlobTarget::S3(
                crate::mail::blobs::s3::S3Target::parse(url, &|name| raw.aws.get(name).cloned())
                    .map_err(|(setting, reason)| invalid(setting, &reason))?,
            ),
        };
        let rate_limits = rate_limits(&mut raw)?;
        let instance_audit_days = integer(
            raw.instance_audit_days.take(),
            "LETHE_INSTANCE_AUDIT_DAYS",
            365,
            30,
            365 * 100,
        )?;
        let access_alert_customers_per_hour = integer(
            raw.access_alert_customers_per_hour.take(),
            "LETHE_ACCESS_ALERT_CUSTOMERS_PER_HOUR",
            50,
            1,
            1_000_000,
        )?;
        let undo_send_seconds = integer(
            raw.undo_send_seconds.take(),
            "LETHE_UNDO_SEND_SECONDS",
            10,
            0,
            600,
        )?;
        let access_alert_failed_sign_ins = integer(
            raw.access_alert_failed_sign_ins.take(),
            "LETHE_ACCESS_ALERT_FAILED_SIGN_INS",
            10,
            2,
            1_000_000,
        )?;
        let listen: SocketAddr = raw
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:8080")
            .trim()
            .parse()
            .map_err(|_| {
                invalid(
                    "LETHE_LISTEN",
                    "must be an address and port such as 127.0.0.1:8080",
                )
            })?;
        let data_dir = PathBuf::from(raw.data_dir.as_deref().unwrap_or("./data").trim());
        if data_dir.as_os_str().is_empty() {
            return Err(invalid("LETHE_DATA_DIR", "must not be empty"));
        }
        let database = match raw.database_url.as_deref().map(str::trim) {
            None => DatabaseTarget::Sqlite(data_dir.join("lethe.db")),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                url::Url::parse(url).map_err(|e| {
                    invalid(
                        "LETHE_DATABASE_URL",
                        &format!("not a valid PostgreSQL URL ({e})"),
                    )
                })?;
                DatabaseTarget::Postgres(Redacted(url.to_owned()))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:")
                    .split('?')
                    .next()
                    .unwrap_or_default();
                if path.is_empty() || path.contains(":memory:") {
                    return Err(invalid(
                        "LETHE_DATABASE_URL",
                        "a SQLite URL must name a file, such as sqlite:///var/lib/lethe/lethe.db",
                    ));
                }
                DatabaseTarget::Sqlite(PathBuf::from(path))
            }
            Some(_) => {
                return Err(invalid(
                    "LETHE_DATABASE_URL",
                    "must start with postgres:// or sqlite:// (leave it unset for SQLite in the data directory)",
                ));
            }
        };
        let tls = parse_tls_setting(&TlsInput {
            cert: raw.tls_cert.as_deref(),
            key: raw.tls_key.as_deref(),
            acme_domain: raw.acme_domain.as_deref(),
            acme_email: raw.acme_email.as_deref(),
            acme_directory: raw.acme_directory.as_deref(),
            acme_ca_file: raw.acme_ca_file.as_deref(),
        })
        .map_err(|(setting, reason)| invalid(setting, &reason))?;
        let base_url = match (raw.base_url.as_deref(), &tls) {
            (Some(value), _) => {
                BaseUrl::parse(value).map_err(|reason| invalid("LETHE_BASE_URL", &reason))?
            }
            (None, Some(tls)) => BaseUrl::parse(&tls.default_base_url(listen))
                .map_err(|reason| invalid("LETHE_LISTEN", &reason))?,
            (None, None) => BaseUrl::parse(&format!("http://{listen}"))
                .map_err(|reason| invalid("LETHE_LISTEN", &reason))?,
        };
        if tls.is_some() && !base_url.is_https() {
            return Err(invalid(
                "LETHE_BASE_URL",
                "must start with https:// when Lethe serves HTTPS itself \
                 (LETHE_TLS_CERT or LETHE_ACME_DOMAIN)",
            ));
        }
        let secret_key = match raw.secret_key.as_deref() {
            Some(value) => Some(
                SecretKey::parse(value).map_err(|reason| invalid("LETHE_SECRET_KEY", &reason))?,
            ),
            None => None,
        };
        let smtp_url = match raw.smtp_url.as_deref().map(str::trim) {
            Some(url) => {
                let parsed = url::Url::parse(url)
                    .map_err(|e| invalid("LETHE_SMTP_URL", &format!("not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "smtp" | "smtps") {
                    return Err(invalid(
                        "LETHE_SMTP_URL",
                        "must start with smtp:// or smtps://",
                    ));
                }
                Some(Redacted(url.to_owned()))
            }
            None => None,
        };
        let smtp_from = raw
            .smtp_from
            .unwrap_or_else(|| "Lethe <lethe@localhost>".to_owned());
        if !smtp_from.contains('@') {
            return Err(invalid(
                "LETHE_SMTP_FROM",
                "must be an email address, optionally with a name: Lethe <support@shop.example>",
            ));
        }
        let log_format = match raw.log_format.as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(invalid("LETHE_LOG_FORMAT", "must be text or json")),
        };
        let session_idle_minutes = integer(
            raw.session_idle_minutes,
            "LETHE_SESSION_IDLE_MINUTES",
            480,
            5,
            60 * 24 * 30,
        )?;
        let session_max_hours = integer(
            raw.session_max_hours,
            "LETHE_SESSION_MAX_HOURS",
            168,
            1,
            24 * 90,
        )?;
        let max_message_mb = integer(raw.max_message_mb, "LETHE_MAX_MESSAGE_MB", 25, 1, 512)?;
        let max_attachment_mb =
            integer(raw.max_attachment_mb, "LETHE_MAX_ATTACHMENT_MB", 20, 1, 512)?;
        // At least 4: the workers, the indexer and a page share the pool.
        let database_max_connections = integer(
            raw.database_max_connections,
            "LETHE_DATABASE_MAX_CONNECTIONS",
            16,
            4,
            1000,
        )?;
        if raw.trust_proxy.is_some() {
            return Err(invalid(
                "LETHE_TRUST_PROXY",
                "replaced by LETHE_TRUSTED_PROXIES, the addresses of your reverse proxies \
                 as CIDRs (for example 127.0.0.1/32, 10.0.0.0/8)",
            ));
        }
        let audit_checkpoint_to = raw
            .audit_checkpoint_to
            .as_deref()
            .unwrap_or_default()
            .split([',', ' '])
            .filter(|item| !item.trim().is_empty())
            .map(|item| {
                crate::mail::EmailAddress::parse(item.trim()).map_err(|_| {
                    invalid(
                        "LETHE_AUDIT_CHECKPOINT_TO",
                        &format!("{:?} is not an email address", item.trim()),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metrics_listen = match raw.metrics_listen.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(value) => Some(value.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "LETHE_METRICS_LISTEN",
                    "must be an address and port such as 127.0.0.1:9464",
                )
            })?),
        };
        if metrics_listen.is_some_and(|m| m == listen && m.port() != 0) {
            return Err(invalid(
                "LETHE_METRICS_LISTEN",
                "must differ from LETHE_LISTEN (metrics are served apart from the pages)",
            ));
        }
        let trusted_proxies = cidrs(raw.trusted_proxies.as_deref(), "LETHE_TRUSTED_PROXIES")?;
        let allow_private_hosts = boolean(raw.allow_private_hosts, "LETHE_ALLOW_PRIVATE_HOSTS")?;
        Ok(Self {
            listen,
            data_dir,
            database,
            database_max_connections: u32::try_from(database_max_connections).unwrap_or(16),
            base_url,
            secret_key,
            smtp_url,
            smtp_from,
            log_format,
            session_idle_minutes,
            session_max_hours,
            max_message_bytes: usize::try_from(max_message_mb).unwrap_or(25) * 1024 * 1024,
            max_attachment_bytes: usize::try_from(max_attachment_mb).unwrap_or(20) * 1024 * 1024,
            trusted_proxies,
            allow_private_hosts,
            jobs,
            rate_limits,
            instance_audit_days,
            access_alert_customers_per_hour,
            undo_send_seconds,
            access_alert_failed_sign_ins,
            audit_checkpoint_to,
            tls,
            metrics_listen,
            backup,
            blobs,
        })
    }
}

impl Config {
    /// Where mail channels may connect.
    pub fn egress(&self) -> crate::mail::egress::Egress {
        crate::mail::egress::Egress::new(self.allow_private_hosts)
    }
}

/// `LETHE_WORKERS` (a comma-separated list; empty runs none) and one cron schedule per
/// scheduled job (empty switches it off).
fn jobs_config(raw: &RawConfig) -> Result<JobsConfig, ConfigError> {
    let workers = match raw.workers.as_deref() {
        None => Worker::ALL.into_iter().collect(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                Worker::parse(name).ok_or_else(|| {
                    invalid(
                        "LETHE_WORKERS",
                        &format!(
                            "unknown worker {name:?}; the workers are outbox, index, imap, webhooks"
                        ),
                    )
                })
            })
            .collect::<Result<BTreeSet<Worker>, ConfigError>>()?,
    };
    let mut schedules = Vec::new();
    for job in Scheduled::ALL {
        let value = match job {
            Scheduled::Cleanup => &raw.schedule_cleanup,
            Scheduled::Retention => &raw.schedule_retention,
            Scheduled::OrgPurge => &raw.schedule_org_purge,
            Scheduled::PrivacyReminders => &raw.schedule_privacy_reminders,
            Scheduled::AttachmentSweep => &raw.schedule_attachment_sweep,
            Scheduled::AuditFlush => &raw.schedule_audit_flush,
            Scheduled::AuditCheckpoint => &raw.schedule_audit_checkpoint,
            Scheduled::Backup => &raw.backup_schedule,
            Scheduled::SnoozeWake => &raw.schedule_snooze,
            Scheduled::Sla => &raw.schedule_sla,
            Scheduled::Intents => &raw.schedule_intents,
        };
        let text = value.as_deref().unwrap_or(job.default_schedule()).trim();
        if job == Scheduled::Backup && raw.backup_dir.is_none() {
            // Backups need a place: without LETHE_BACKUP_DIR the job is off, and asking for
            // it is a mistake worth naming.
            if value.as_deref().is_some_and(|v| !v.trim().is_empty()) {
                return Err(invalid(
                    job.setting(),
                    "needs LETHE_BACKUP_DIR (where the backups and the erasure journal go)",
                ));
            }
            continue;
        }
        if text.is_empty() {
            continue;
        }
        let schedule = Schedule::parse(text).map_err(|reason| invalid(job.setting(), &reason))?;
        schedules.push((job, schedule));
    }
    Ok(JobsConfig { workers, schedules })
}

/// `LETHE_BACKUP_DIR` (an absolute path), `LETHE_BACKUP_KEEP_DAYS` (1 to 90, default 30)
/// and `LETHE_BACKUP_KEY` (32 bytes, like `LETHE_SECRET_KEY`).
fn backup_config(raw: &mut RawConfig) -> Result<crate::backup::BackupConfig, ConfigError> {
    let keep_days = integer(
        raw.backup_keep_days.take(),
        "LETHE_BACKUP_KEEP_DAYS",
        30,
        1,
        crate::backup::MAX_KEEP_DAYS,
    )?;
    let dir = match raw.backup_dir.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(dir) => {
            let path = PathBuf::from(dir);
            if !path.is_absolute() {
                return Err(invalid(
                    "LETHE_BACKUP_DIR",
                    "must be an absolute path (ideally another disk than LETHE_DATA_DIR)",
                ));
            }
            Some(path)
        }
    };
    let key = raw
        .backup_key
        .as_deref()
        .map(SecretKey::parse)
        .transpose()
        .map_err(|reason| invalid("LETHE_BACKUP_KEY", &reason))?;
    Ok(crate::backup::BackupConfig {
        dir,
        keep_days,
        key,
        operator_schedule: raw
            .backup_schedule
            .as_deref()
            .is_some_and(|v| !v.trim().is_empty()),
    })
}

/// The `LETHE_RATE_*` limits and `LETHE_SSE_STREAMS_PER_USER`: whole numbers from 1.
fn rate_limits(raw: &mut RawConfig) -> Result<RateLimitConfig, ConfigError> {
    let values = [
        raw.rate_login_per_minute.take(),
        raw.rate_password_reset_per_minute.take(),
        raw.rate_api_per_minute.take(),
        raw.rate_api_org_per_minute.take(),
        raw.rate_search_per_minute.take(),
        raw.rate_inbound_per_minute.take(),
        raw.rate_test_button_per_minute.take(),
        raw.sse_streams_per_user.take(),
        raw.rate_chat_per_minute.take(),
    ];
    let mut parsed = [0u32; 9];
    for ((slot, value), (setting, default)) in
        parsed.iter_mut().zip(values).zip(RateLimitConfig::SETTINGS)
    {
        let number = integer(value, setting, i64::from(default), 1, 1_000_000)?;
        *slot = u32::try_from(number).unwrap_or(default);
    }
    let [
        login,
        reset,
        api_key,
        api_org,
        search,
        inbound,
        test_button,
        streams,
        chat,
    ] = parsed;
    Ok(RateLimitConfig {
        login_per_minute: login,
        password_reset_per_minute: reset,
        api_key_per_minute: api_key,
        api_org_per_minute: api_org,
        search_per_minute: search,
        inbound_per_minute: inbound,
        test_button_per_minute: test_button,
        sse_streams_per_user: streams,
        chat_per_minute: chat,
    })
}

fn read_file(path: &Path) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.message().to_owned(),
    })
}

fn overlay(slot: &mut Option<String>, value: Option<String>) {
    if value.is_some() {
        *slot = value;
    }
}

fn overlay_value(slot: &mut Option<toml::Value>, value: Option<String>) {
    if let Some(value) = value {
        *slot = Some(toml::Value::String(value));
    }
}

/// A list of networks, separated by commas or spaces; a bare address is a network of one.
fn cidrs(value: Option<&str>, setting: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    value
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let item = item.trim();
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    invalid(
                        setting,
                        &format!("\"{item}\" is not an IP address or CIDR network"),
                    )
                })
        })
        .collect()
}

fn invalid(setting: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        reason: reason.to_owned(),
    }
}

fn integer(
    value: Option<toml::Value>,
    setting: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    let number = match value {
        None => return Ok(default),
        Some(toml::Value::Integer(n)) => n,
        Some(toml::Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| invalid(setting, "must be a whole number"))?,
        Some(_) => return Err(invalid(setting, "must be a whole number")),
    };
    if !(min..=max).contains(&number) {
        return Err(invalid(
            setting,
            &format!("must be between {min} and {max}"),
        ));
    }
    Ok(number)
}

fn boolean(value: Option<toml::Value>, setting: &str) -> Result<bool, ConfigError> {
    match value {
        None => Ok(false),
        Some(toml::Value::Boolean(b)) => Ok(b),
        Some(toml::Value::String(s)) => match s.trim() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(invalid(setting, "must be true or false")),
        },
        Some(_) => Err(invalid(setting, "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn trusted_proxies_are_networks_and_the_old_switch_is_refused_by_name() {
        let config = Config::from_sources(
            None,
            &env(&[(
                "LETHE_TRUSTED_PROXIES",
                "127.0.0.1, 10.0.0.0/8 2001:db8::/32",
            )]),
        )
        .expect("valid");
        let nets: Vec<String> = config
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"]);
        let bad = Config::from_sources(None, &env(&[("LETHE_TRUSTED_PROXIES", "10.0.0.0/33")]));
        assert!(
            bad.unwrap_err()
                .to_string()
                .starts_with("LETHE_TRUSTED_PROXIES:")
        );
        let old = Config::from_sources(None, &env(&[("LETHE_TRUST_PROXY", "true")]));
        let message = old.unwrap_err().to_string();
        assert!(
            message.starts_with("LETHE_TRUST_PROXY:") && message.contains("LETHE_TRUSTED_PROXIES"),
            "{message}"
        );
    }

    #[test]
    fn the_database_pool_size_is_a_setting_with_bounds() {
        let default = Config::from_sources(None, &env(&[])).expect("valid");
        assert_eq!(default.database_max_connections, 16);
        let set = Config::from_sources(None, &env(&[("LETHE_DATABASE_MAX_CONNECTIONS", "8")]))
            .expect("valid");
        assert_eq!(set.database_max_connections, 8);
        for bad in ["1", "many", "5000"] {
            let refused =
                Config::from_sources(None, &env(&[("LETHE_DATABASE_MAX_CONNECTIONS", bad)]));
            assert!(
                refused
                    .unwrap_err()
                    .to_string()
                    .starts_with("LETHE_DATABASE_MAX_CONNECTIONS:"),
                "{bad}"
            );
        }
    }

    #[test]
    fn metrics_are_served_apart_only_when_asked_for() {
        let none = Config::from_sources(None, &env(&[])).expect("valid");
        assert_eq!(none.metrics_listen, None);
        let set = Config::from_sources(None, &env(&[("LETHE_METRICS_LISTEN", "127.0.0.1:9464")]))
            .expect("valid");
        assert_eq!(set.metrics_listen.map(|a| a.port()), Some(9464));
        for bad in ["9464", "localhost:x"] {
            let refused = Config::from_sources(None, &env(&[("LETHE_METRICS_LISTEN", bad)]));
            assert!(
                refused
                    .unwrap_err()
                    .to_string()
                    .starts_with("LETHE_METRICS_LISTEN:")
            );
        }
        let same = Config::from_sources(
            None,
            &env(&[
                ("LETHE_LISTEN", "127.0.0.1:8080"),
                ("LETHE_METRICS_LISTEN", "127.0.0.1:8080"),
            ]),
        );
        assert!(same.unwrap_err().to_string().contains("must differ"));
    }

    #[test]
    fn defaults_need_nothing_set() {
        let config = Config::from_sources(None, &env(&[])).expect("defaults are valid");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.database,
            DatabaseTarget::Sqlite(PathBuf::from("./data/lethe.db"))
        );
        assert_eq!(config.base_url.as_str(), "http://127.0.0.1:8080");
    }

    #[test]
    fn every_job_runs_by_default_and_an_empty_setting_switches_one_off() {
        let all = Config::from_sources(None, &env(&[])).expect("defaults are valid");
        assert_eq!(all.jobs, JobsConfig::default());
        assert_eq!(all.jobs.workers.len(), 4);
        // Every job but the backup, which needs LETHE_BACKUP_DIR.
        assert_eq!(all.jobs.schedules.len(), Scheduled::ALL.len() - 1);
        let with_backups =
            Config::from_sources(None, &env(&[("LETHE_BACKUP_DIR", "/backups")])).expect("valid");
        assert_eq!(with_backups.jobs.schedules.len(), Scheduled::ALL.len());
        assert_eq!(with_backups.backup.keep_days, 30);

        let some = Config::from_sources(
            None,
            &env(&[
                ("LETHE_WORKERS", "outbox, index"),
                ("LETHE_SCHEDULE_CLEANUP", ""),
                ("LETHE_SCHEDULE_RETENTION", "0 */5 * * * *"),
            ]),
        )
        .expect("valid");
        assert_eq!(
            some.jobs.workers.iter().copied().collect::<Vec<_>>(),
            [Worker::Outbox, Worker::Index]
        );
        let scheduled: Vec<(Scheduled, &str)> = some
            .jobs
            .schedules
            .iter()
            .map(|(job, schedule)| (*job, schedule.as_str()))
            .collect();
        assert!(!scheduled.iter().any(|(job, _)| *job == Scheduled::Cleanup));
        assert!(scheduled.contains(&(Scheduled::Retention, "0 */5 * * * *")));

        let none = Config::from_sources(None, &env(&[("LETHE_WORKERS", "")])).expect("valid");
        assert!(none.jobs.workers.is_empty());
    }

    #[test]
    fn a_bad_schedule_or_worker_is_named() {
        let error = Config::from_sources(None, &env(&[("LETHE_SCHEDULE_ORG_PURGE", "hourly")]))
            .expect_err("must refuse");
        assert!(
            error.to_string().starts_with("LETHE_SCHEDULE_ORG_PURGE:"),
            "{error}"
        );
        let error = Config::from_sources(None, &env(&[("LETHE_WORKERS", "outbox,mailer")]))
            .expect_err("must refuse");
        assert!(error.to_string().starts_with("LETHE_WORKERS:"), "{error}");
        assert!(error.to_string().contains("mailer"), "{error}");
    }

    #[test]
    fn a_bad_setting_is_named() {
        let error = Config::from_sources(None, &env(&[("LETHE_LISTEN", "everywhere")]))
            .expect_err("must refuse");
        assert!(error.to_string().starts_with("LETHE_LISTEN:"), "{error}");
        let error = Config::from_sources(None, &env(&[("LETHE_DATABASE_URL", "mysql://x")]))
            .expect_err("must refuse");
        assert!(
            error.to_string().starts_with("LETHE_DATABASE_URL:"),
            "{error}"
        );
        let error = Config::from_sources(None, &env(&[("LETHE_SECRET_KEY", "short")]))
            .expect_err("must refuse");
        assert!(
            error.to_string().starts_with("LETHE_SECRET_KEY:"),
            "{error}"
        );
        let error = Config::from_sources(None, &env(&[("LETHE_SESSION_IDLE_MINUTES", "0")]))
            .expect_err("must refuse");
        assert!(
            error.to_string().starts_with("LETHE_SESSION_IDLE_MINUTES:"),
            "{error}"
        );
    }

    #[test]
    fn rate_limits_have_generous_defaults_and_a_bad_one_is_named() {
        let config = Config::from_sources(None, &env(&[])).expect("defaults are valid");
        assert_eq!(config.rate_limits, RateLimitConfig::default());
        assert_eq!(config.rate_limits.api_key_per_minute, 600);
        assert_eq!(config.rate_limits.api_org_per_minute, 1200);
        assert_eq!(config.instance_audit_days, 365);
        let set = Config::from_sources(
            None,
            &env(&[
                ("LETHE_RATE_SEARCH_PER_MINUTE", "3"),
                ("LETHE_SSE_STREAMS_PER_USER", "2"),
                ("LETHE_INSTANCE_AUDIT_DAYS", "90"),
            ]),
        )
        .expect("valid");
        assert_eq!(set.rate_limits.search_per_minute, 3);
        assert_eq!(set.rate_limits.sse_streams_per_user, 2);
        assert_eq!(set.rate_limits.login_per_minute, 60);
        assert_eq!(set.instance_audit_days, 90);
        for (setting, value) in [
            ("LETHE_RATE_LOGIN_PER_MINUTE", "0"),
            ("LETHE_RATE_PASSWORD_RESET_PER_MINUTE", "-1"),
            ("LETHE_RATE_API_PER_MINUTE", "lots"),
            ("LETHE_RATE_API_ORG_PER_MINUTE", "1.5"),
            ("LETHE_RATE_SEARCH_PER_MINUTE", "0"),
            ("LETHE_RATE_INBOUND_PER_MINUTE", "many"),
            ("LETHE_RATE_TEST_BUTTON_PER_MINUTE", "0"),
            ("LETHE_SSE_STREAMS_PER_USER", "none"),
            ("LETHE_INSTANCE_AUDIT_DAYS", "7"),
            ("LETHE_SCHEDULE_AUDIT_FLUSH", "every minute"),
        ] {
            let error =
                Config::from_sources(None, &env(&[(setting, value)])).expect_err("must refuse");
            assert!(
                error.to_string().starts_with(&format!("{setting}:")),
                "{setting}={value}: {error}"
            );
        }
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lethe.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\n",
        )
        .expect("write");
        let config = Config::from_sources(Some(&path), &env(&[("LETHE_LOG_FORMAT", "text")]))
            .expect("valid");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.log_format, LogFormat::Text);
        std::fs::write(&path, "lissen = \"x\"\n").expect("write");
        let error = Config::from_sources(Some(&path), &env(&[])).expect_err("unknown key");
        assert!(error.to_string().contains("lissen"), "{error}");
    }

    #[test]
    fn secrets_do_not_print() {
        let config = Config::from_sources(
            None,
            &env(&[("LETHE_SMTP_URL", "smtp://user:hunter2@mail.example:587")]),
        )
        .expect("valid");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
