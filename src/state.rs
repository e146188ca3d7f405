//! [`AppState`]: what every handler and job shares (configuration, database, key, mailer,
//! audit log, blob store, live events, search index), and how it is opened at start.
//! Features take it from here; only `app.rs` knows the route table.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::audit::{AuditLog, ChainKey, Rekeyed};
use crate::auth::LoginThrottle;
use crate::auth::setup::SetupToken;
use crate::config::Config;
use crate::crypto::{Sealer, SecretKey, load_or_create_key};
use crate::db;
use crate::inbox::events::InboxEvents;
use crate::mail::blobs::BlobStore;
use crate::mail::system::SystemMailer;
use crate::web::rate_limit::RateLimits;

/// What every handler and job shares.
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub sealer: Sealer,
    pub mailer: SystemMailer,
    pub throttle: LoginThrottle,
    /// Password reset requests, counted apart from logins (asking for a link never locks an
    /// account).
    pub reset_throttle: LoginThrottle,
    pub setup: SetupToken,
    pub audit: AuditLog,
    pub blobs: BlobStore,
    pub events: InboxEvents,
    /// Wakes the outbox sender when a reply is queued.
    pub outbox_wakeup: tokio::sync::Notify,
    /// The full-text index in `data_dir/index` (src/search/).
    pub search: Arc<crate::search::SearchIndex>,
    /// Request rate limits and the cap on event streams (`web::rate_limit`).
    pub rate_limits: RateLimits,
    /// Request counts and latencies for `/metrics` (`crate::metrics`).
    pub metrics: crate::metrics::HttpMetrics,
    /// The erasure journal beside the backups (`LETHE_BACKUP_DIR`; off without it): every
    /// deletion of customer data is appended by `crate::records`.
    pub journal: crate::backup::Journal,
    /// The IMAP IDLE connections, one per signed-in channel (`crate::mail::imap::idle`).
    pub idle: crate::mail::imap::idle::IdleWatchers,
    /// The access log's queue (src/audit/access.rs): handlers put entries on it, one task
    /// writes them in batches.
    pub access: crate::audit::access::AccessLog,
    /// Who is viewing or answering which conversation (in memory: src/inbox/presence.rs).
    pub presence: crate::inbox::presence::Presence,
    /// This node's id and leases, for work several nodes on one database must do once
    /// (src/cluster/).
    pub leases: crate::cluster::Leases,
    /// Customers' orders fetched from linked shops, in memory only (src/assist/orders/).
    pub orders: crate::assist::orders::OrderCache,
    /// The organizations' own intent models, in memory only (src/assist/intent/).
    pub intents: crate::assist::intent::OrgModels,
    /// The knowledge base's article search, per organization in memory (src/search/articles.rs).
    pub articles: Arc<crate::search::ArticleSearch>,
}

/// Why the application could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] crate::crypto::key::KeyError),
    #[error("cannot open the database (LETHE_DATABASE_URL): {0}")]
    Database(sea_orm::DbErr),
    #[error("cannot migrate the database: {0}")]
    Migration(sea_orm::DbErr),
    #[error("{0}")]
    Mail(String),
    #[error("the base URL of the listen address (LETHE_BASE_URL): {0}")]
    BaseUrl(String),
    #[error("cannot open the search index {path}: {source}")]
    Search {
        path: String,
        source: crate::search::SearchError,
    },
    #[error("cannot start the background jobs: {0}")]
    Jobs(String),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot listen on {address} (LETHE_LISTEN): {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot use the attachment store {url} (LETHE_BLOB_URL): {source}")]
    Blobs {
        url: String,
        source: crate::mail::blobs::BlobError,
    },
}

impl AppState {
    /// Opens the data directory, the key, the database (migrated) and the mailer.
    pub async fn open(config: Config) -> Result<Arc<Self>, StartError> {
        create_data_dir(&config.data_dir)?;
        // A backup cut short by a crash may have left a plain copy of the database.
        crate::backup::create::remove_stale_snapshots(&config.data_dir);
        let key = load_or_create_key(config.secret_key.as_ref(), &config.data_dir)?;
        let db = db::connect(&config.database, config.database_max_connections)
            .await
            .map_err(StartError::Database)?;
        // The audit chain is keyed once, by the process that adds the MAC columns: deciding it
        // from what the database says would let whoever writes the database get a forged
        // chain keyed (`audit::rekey`).
        let keying = db::migrate_noting(&db, crate::audit::KEYING_MIGRATION)
            .await
            .map_err(StartError::Migration)?;
        let chain_key = ChainKey::derive(&key);
        if keying {
            match crate::audit::rekey(&db, &chain_key)
                .await
                .map_err(StartError::Database)?
            {
                Rekeyed::Keyed { rows } if rows > 0 => {
                    tracing::info!(rows, "audit log keyed with the instance key");
                }
                Rekeyed::Broken { row_id } => tracing::warn!(
                    row_id,
                    "the audit log was broken before it could be keyed; `lethe audit verify` names the row"
                ),
                Rekeyed::Keyed { .. } | Rekeyed::AlreadyKeyed => {}
            }
        }
        let mailer = SystemMailer::from_config(&config).map_err(StartError::Mail)?;
        let blobs = open_blobs(&config, &key).await?;
        let config_data_dir = config.data_dir.clone();
        let index_dir = config_data_dir.join("index");
        let search =
            crate::search::SearchIndex::open(&index_dir).map_err(|source| StartError::Search {
                path: index_dir.display().to_string(),
                source,
            })?;
        let rate_limits = RateLimits::new(&config.rate_limits);
        let config_backup_dir = config.backup.dir.clone();
        let node = crate::cluster::NodeId::random();
        tracing::info!(node = %node, "node id of this process");
        Ok(Arc::new(Self {
            config: Arc::new(config),
            db,
            sealer: Sealer::new(&key),
            mailer,
            throttle: LoginThrottle::default(),
            reset_throttle: LoginThrottle::default(),
            setup: SetupToken::default(),
            audit: AuditLog::new(chain_key),
            blobs,
            events: InboxEvents::default(),
            idle: Default::default(),
            outbox_wakeup: tokio::sync::Notify::new(),
            search: Arc::new(search),
            rate_limits,
            metrics: crate::metrics::HttpMetrics::default(),
            journal: crate::backup::Journal::in_dir(config_backup_dir.as_deref()),
            access: crate::audit::access::AccessLog::default(),
            presence: Default::default(),
            leases: crate::cluster::Leases::new(node),
            orders: Default::default(),
            intents: Default::default(),
            articles: Default::default(),
        }))
    }
}

/// The attachment store `LETHE_BLOB_URL` names, checked: a bucket that cannot be listed
/// stops start-up.
async fn open_blobs(config: &Config, key: &SecretKey) -> Result<BlobStore, StartError> {
    let url = match &config.blobs {
        crate::mail::blobs::BlobTarget::S3(target) => target.url(),
        crate::mail::blobs::BlobTarget::DataDir => String::new(),
    };
    let error = |source| StartError::Blobs {
        url: url.clone(),
        source,
    };
    let store = BlobStore::for_target(&config.data_dir, Sealer::new(key), key, &config.blobs)
        .map_err(error)?;
    store.check().await.map_err(error)?;
    Ok(store)
}

fn create_data_dir(path: &std::path::Path) -> Result<(), StartError> {
    let error = |source| StartError::DataDir {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(path).map_err(error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(error)?;
    }
    Ok(())
}
