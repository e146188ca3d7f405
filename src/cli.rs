//! The command line (clap): `serve` (the default), `migrate`, `user create`, `user password`,
//! `audit verify|checkpoint`, `privacy redact|export|erase`, `healthcheck`, `index rebuild|verify`,
//! `demo-data`, `retention rules set`, `retention run`, `backup create|list|verify|restore|prune`,
//! and `import eml|mbox`. Each
//! one-shot command opens the state itself; `serve` builds the [`Application`], which starts the
//! background work.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::config::{Config, LogFormat};
use crate::mail::EmailAddress;
use crate::orgs::Role;
use crate::orgs::queries::{self as orgs, OrgName};
use crate::state::AppState;
use crate::{audit, auth, db};

#[derive(Parser)]
#[command(
    name = "lethe",
    version,
    about = "A self-hosted customer-support inbox that keeps customer data on your server"
)]
pub struct Cli {
    /// A TOML configuration file (also LETHE_CONFIG); environment variables override it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Whether this invocation runs the server (the default command).
    pub fn serves(&self) -> bool {
        matches!(self.command, None | Some(Command::Serve))
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Migrate the database, start the scheduled jobs and serve HTTP (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate {
        /// List the migrations that would run, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Privacy tools.
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// Exit 0 when the server on LETHE_LISTEN answers /healthz (for container health checks).
    Healthcheck {
        /// How long to wait for the answer, in seconds (keep it below the orchestrator's own
        /// timeout: Docker's HEALTHCHECK in the Dockerfile allows 3).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
        timeout: u64,
    },
    /// The search index.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Generate realistic multilingual shop conversations in an organization (for demos and
    /// benchmarks; run it while the server is stopped).
    DemoData {
        #[arg(long)]
        org: String,
        #[arg(long)]
        conversations: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Retention rules and runs (src/retention/).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Sealed backups: create, list, verify, restore, prune (src/backup/).
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Bulk import a directory of .eml files or an mbox file into an organization.
    Import {
        #[arg(value_enum)]
        format: ImportFormat,
        path: PathBuf,
        #[arg(long)]
        org: String,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
}

// backup (src/backup/)
#[derive(Subcommand)]
pub enum BackupCommand {
    /// Take a sealed backup now, while the server runs, into DIR (default LETHE_BACKUP_DIR).
    Create {
        #[arg(long)]
        to: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// List the backups in LETHE_BACKUP_DIR with when each was taken and expires.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Open and read a whole backup, checking every chunk; changes nothing. Exit 1 naming
    /// what is wrong (wrong key, altered, truncated).
    Verify {
        file: PathBuf,
        /// The instance key file (when neither LETHE_SECRET_KEY nor the data directory has it).
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into an empty LETHE_DATA_DIR and replay the erasure journal. Without
    /// --yes, verify it, say what would happen and exit 2.
    Restore {
        file: PathBuf,
        /// The instance key file the backup was taken under (or set LETHE_SECRET_KEY); it is
        /// copied into the new data directory.
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete the backups older than LETHE_BACKUP_KEEP_DAYS (and journal entries no kept
    /// backup needs).
    Prune {
        #[arg(long)]
        json: bool,
    },
}

// retention (src/retention/)
#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Retention rules.
    #[command(subcommand)]
    Rules(RetentionRulesCommand),
    /// Apply the saved rules now (every organization, or one), printing counts per category.
    Run {
        #[arg(long)]
        org: Option<String>,
        /// Count what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the reports as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum RetentionRulesCommand {
    /// Save the rule of one category (replacing the one saved before).
    Set {
        #[arg(long)]
        org: String,
        /// closed_conversations, any_conversation, attachments, internal_notes,
        /// customers_without_conversations, audit_log, access_log, spam, unsent_drafts or
        /// assist_suggestions.
        #[arg(long)]
        category: String,
        #[arg(long)]
        after_days: String,
        /// delete or anonymize.
        #[arg(long)]
        action: String,
    },
}
// end retention

#[derive(Subcommand)]
pub enum IndexCommand {
    /// Drop the search index and rebuild it from the database.
    Rebuild,
    /// Compare the search index with the database; exit 1 if they differ.
    Verify,
}

#[derive(Subcommand)]
pub enum PrivacyCommand {
    /// Run the PII detector on standard input: print the redacted text, or with --json the
    /// findings as byte offsets.
    Redact {
        /// A value the customer record holds, found wherever it appears (case- and
        /// accent-insensitively): `KIND=value` (NAME, EMAIL, PHONE, ADDRESS, POSTCODE, IBAN, …)
        /// or a bare value (an address with @ counts as EMAIL, digits as PHONE, else NAME).
        #[arg(long)]
        known: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    // privacy export/erase (src/privacy/)
    /// Write everything an organization stores about a customer to a ZIP (export.json and the
    /// attachments), and record the access request as completed.
    Export {
        #[arg(long)]
        org: String,
        /// One of the customer's email addresses.
        #[arg(long)]
        email: String,
        /// The ZIP file to write (created with mode 0600).
        #[arg(long)]
        out: PathBuf,
        /// Include the team's internal notes.
        #[arg(long)]
        include_notes: bool,
    },
    /// Erase a customer and everything about them. Without --yes, print what would be removed
    /// and exit 2, changing nothing.
    Erase {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        yes: bool,
        /// Print the counts (and the receipt) as JSON.
        #[arg(long)]
        json: bool,
    },
    // end privacy export/erase
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ImportFormat {
    Eml,
    Mbox,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user (and the organization, if new) with the password read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        org: String,
        #[arg(long, default_value = "owner")]
        role: String,
        /// Display name (default: from the address).
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a user's password, read from standard input (when no SMTP is set up for resets).
    Password {
        #[arg(long)]
        email: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// For a lost device: remove a user's second factor and recovery codes and end all their
    /// sessions (they sign in with the password and may set up a new factor).
    #[command(name = "reset-2fa")]
    ResetTwoFactor {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the keyed hash chain; exit 1 naming the first bad row.
    Verify {
        /// A checkpoint printed earlier by `lethe audit checkpoint`: also fail when the chain
        /// no longer extends it (cut back to an older state).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<std::path::PathBuf>,
    },
    /// Verify the chain and print its checkpoint (JSON: the newest row and its MAC), to keep
    /// somewhere the database's writers cannot reach.
    Checkpoint,
}

/// A failure of a command: printed, and the process exits non-zero.
struct Failure {
    message: String,
    code: u8,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Self {
            message: error.to_string(),
            code: 1,
        }
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("lethe: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate { dry_run } => migrate(config, dry_run).await,
        Command::User(command) => user(config, command).await,
        Command::Audit(AuditCommand::Verify { checkpoint }) => {
            audit_verify(config, checkpoint.as_deref()).await
        }
        Command::Audit(AuditCommand::Checkpoint) => audit_checkpoint(config).await,
        Command::Healthcheck { timeout } => healthcheck(&config, timeout).await,
        Command::Index(command) => index(config, command).await,
        Command::Retention(command) => retention(config, command).await,
        Command::Backup(command) => backup(config, command).await,
        Command::DemoData {
            org,
            conversations,
            seed,
        } => demo_data(config, &org, conversations, seed).await,
        Command::Privacy(PrivacyCommand::Redact { known, json }) => redact(&known, json),
        Command::Privacy(PrivacyCommand::Export {
            org,
            email,
            out,
            include_notes,
        }) => privacy_export(config, &org, &email, &out, include_notes).await,
        Command::Privacy(PrivacyCommand::Erase {
            org,
            email,
            yes,
            json,
        }) => privacy_erase(config, &org, &email, yes, json).await,
        Command::Import {
            format,
            path,
            org,
            json,
        } => import(config, format, &path, &org, json).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("lethe: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    // The database drivers log statements with their values at debug level: they stay at warn
    // whatever LETHE_LOG asks for, so personal data never reaches the log.
    const QUIET: &str =
        "sqlx=warn,sea_orm=warn,sea_orm_migration=warn,tokio_cron_scheduler=warn,html5ever=error";
    let requested = std::env::var("LETHE_LOG").unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::try_new(format!("{requested},{QUIET}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn serve(config: Config) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let app = Application::build(config).await?;
    tracing::info!(
        port = app.port,
        base_url = app.state.config.base_url.as_str(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "lethe is ready"
    );
    if let Some((port, server)) = app.metrics {
        tracing::info!(port, "metrics are served on LETHE_METRICS_LISTEN");
        tokio::spawn(server);
    }
    if let Some(link) = &app.setup_link {
        println!(
            "\nNo user exists yet. Open this one-time link to create the first owner and organization:\n\n    {link}\n"
        );
    }
    app.server.await?;
    // The access entries of the last second are written before the process ends.
    app.state.access.flush().await;
    // The refusals counted since the last flush are written before the process ends.
    if let Err(error) = app.state.audit.flush_tally(&app.state.db).await {
        tracing::error!(%error, "the counted refusals could not be written to the audit log");
    }
    tracing::info!("stopped");
    Ok(())
}

fn redact(known: &[String], json: bool) -> Result<(), Failure> {
    use std::io::Read;

    use crate::privacy::pii::{Detector, KnownValue, PiiKind};
    let known: Vec<KnownValue> = known
        .iter()
        .map(|spec| {
            match spec
                .split_once('=')
                .and_then(|(kind, value)| PiiKind::from_label(kind).map(|k| (k, value)))
            {
                Some((kind, value)) => KnownValue::new(kind, value),
                None if spec.contains('@') => KnownValue::new(PiiKind::Email, spec.as_str()),
                None if spec.chars().filter(char::is_ascii_digit).count() >= 6 => {
                    KnownValue::new(PiiKind::Phone, spec.as_str())
                }
                None => KnownValue::new(PiiKind::Name, spec.as_str()),
            }
        })
        .collect();
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|_| usage("standard input is not UTF-8 text"))?;
    let detector = Detector::new();
    if json {
        println!("{}", serde_json::to_string(&detector.find(&text, &known))?);
    } else {
        print!("{}", detector.redact(&text, &known));
    }
    Ok(())
}

// privacy export/erase (src/privacy/)
async fn privacy_customer(
    state: &AppState,
    org: &str,
    email: &str,
) -> Result<(crate::orgs::OrgId, i64), Failure> {
    let org = org_by_name(state, org).await?;
    let email =
        EmailAddress::parse(email).map_err(|_| usage("--email: not a valid email address"))?;
    let customer = crate::privacy::erase::customer_by_email(&state.db, org, &email)
        .await?
        .ok_or_else(|| Failure {
            message: "no customer of this organization has that email address".into(),
            code: 1,
        })?;
    Ok((org, customer))
}

fn cli_performer() -> crate::privacy::erase::Performer<'static> {
    crate::privacy::erase::Performer {
        user_id: None,
        actor: audit::Actor::System("cli"),
        client: None,
        holder_verified: false,
    }
}

async fn privacy_export(
    config: Config,
    org: &str,
    email: &str,
    out: &std::path::Path,
    include_notes: bool,
) -> Result<(), Failure> {
    use std::io::Write;
    let state = AppState::open(config).await?;
    let (org, customer) = privacy_customer(&state, org, email).await?;
    let (export, zip) =
        crate::privacy::export::export(&state, org, customer, include_notes).await?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(out)
        .map_err(|e| format!("--out: cannot write {}: {e}", out.display()))?;
    file.write_all(&zip)?;
    file.sync_all()?;
    let reference = crate::privacy::export::record(
        &state,
        org,
        customer,
        &cli_performer(),
        include_notes,
        &export,
    )
    .await?;
    println!(
        "exported {} conversations, {} messages, {} attachments to {} (request {reference})",
        export.conversations,
        export.messages,
        export.attachments,
        out.display()
    );
    Ok(())
}

async fn privacy_erase(
    config: Config,
    org: &str,
    email: &str,
    yes: bool,
    json: bool,
) -> Result<(), Failure> {
    use crate::privacy::erase;
    let state = AppState::open(config).await?;
    let (org, customer) = privacy_customer(&state, org, email).await?;
    let holds = erase::holds(&state.db, org, customer).await?;
    if !holds.is_empty() {
        // Legal hold blocks erasure, with or without --yes; nothing is changed.
        return Err(erase::describe_holds(&holds).into());
    }
    if !yes {
        let counts = erase::preview(&state.db, org, customer).await?;
        if json {
            println!(
                "{}",
                serde_json::json!({ "erased": false, "counts": counts })
            );
        } else {
            println!("would erase:");
            print_counts(&counts);
        }
        return Err(usage("nothing was changed: run again with --yes to erase"));
    }
    let erasure = erase::erase(&state, org, customer, cli_performer()).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "erased": true,
                "counts": erasure.counts,
                "receipt": erasure.receipt_id,
                "reference": erasure.reference,
                "incomplete": erasure.incomplete,
            })
        );
    } else {
        println!(
            "erased (request {}, deletion receipt {}):",
            erasure.reference, erasure.receipt_id
        );
        print_counts(&erasure.counts);
    }
    if erasure.incomplete.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            message: format!(
                "the rows are gone, but these steps failed and must be repeated: {}",
                erasure.incomplete.join(", ")
            ),
            code: 1,
        })
    }
}

fn print_counts(counts: &crate::privacy::erase::Counts) {
    let value = serde_json::to_value(counts).unwrap_or_default();
    if let Some(map) = value.as_object() {
        for (category, count) in map {
            println!("  {category}: {count}");
        }
    }
}
// end privacy export/erase

// backup (src/backup/)
async fn backup(config: Config, command: BackupCommand) -> Result<(), Failure> {
    use crate::backup::{self, BackupError, files};
    let show = |json: bool, value: serde_json::Value, text: String| {
        if json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    };
    match command {
        BackupCommand::Create { to, json } => {
            let dir = to
                .or_else(|| config.backup.dir.clone())
                .ok_or(BackupError::NoDirectory)?;
            if config.backup.dir.is_none() {
                tracing::warn!(
                    "LETHE_BACKUP_DIR is not set: no erasure journal is kept, so a restore cannot delete again what was erased after this backup"
                );
            }
            let state = AppState::open(config).await?;
            let created = backup::create::create(&state, &dir).await?;
            show(
                json,
                serde_json::json!(created),
                format!(
                    "backup written: {} ({} files, {} bytes)",
                    created.path.display(),
                    created.files,
                    created.bytes
                ),
            );
            Ok(())
        }
        BackupCommand::List { json } => {
            let dir = config.backup.dir.clone().ok_or(BackupError::NoDirectory)?;
            let listed = files::list(&dir, config.backup.keep_days)?;
            if json {
                println!("{}", serde_json::json!(listed));
            } else if listed.is_empty() {
                println!("no backups in {}", dir.display());
            } else {
                for b in &listed {
                    println!(
                        "{}  taken {}  expires {}  {} bytes",
                        b.name,
                        b.taken_at.to_rfc3339(),
                        b.expires_at.to_rfc3339(),
                        b.bytes
                    );
                }
            }
            Ok(())
        }
        BackupCommand::Verify {
            file,
            key_file,
            json,
        } => {
            let verified = backup::restore::verify(&config, &file, key_file.as_deref()).await?;
            show(
                json,
                serde_json::json!({ "ok": true, "backup": verified }),
                format!(
                    "backup intact: taken {} on {}, {} files, {} bytes",
                    verified.manifest.taken_at.to_rfc3339(),
                    verified.manifest.backend,
                    verified.files,
                    verified.bytes
                ),
            );
            Ok(())
        }
        BackupCommand::Restore {
            file,
            key_file,
            yes,
            json,
        } => {
            if !yes {
                let verified = backup::restore::verify(&config, &file, key_file.as_deref()).await?;
                show(
                    json,
                    serde_json::json!({ "restored": false, "backup": verified }),
                    format!(
                        "backup intact (taken {}, {} files); run again with --yes to restore it into {}",
                        verified.manifest.taken_at.to_rfc3339(),
                        verified.files,
                        config.data_dir.display()
                    ),
                );
                return Err(Failure {
                    message: "nothing restored without --yes".into(),
                    code: 2,
                });
            }
            let data_dir = config.data_dir.clone();
            let restored = backup::restore::restore(config, &file, key_file.as_deref()).await?;
            show(
                json,
                serde_json::json!({ "restored": true, "result": restored }),
                format!(
                    "restored {} files into {} (backup taken {}); erasure journal: {} entries replayed, {} customers and {} conversations deleted again, {} rows anonymized again; {} unreferenced attachment files removed; search index rebuilt ({} documents)",
                    restored.files,
                    data_dir.display(),
                    restored.manifest.taken_at.to_rfc3339(),
                    restored.replayed.entries,
                    restored.replayed.removed.customers,
                    restored.replayed.removed.conversations,
                    restored.replayed.anonymized,
                    restored.orphan_files_removed,
                    restored.index_documents
                ),
            );
            Ok(())
        }
        BackupCommand::Prune { json } => {
            let dir = config.backup.dir.clone().ok_or(BackupError::NoDirectory)?;
            let journal = backup::Journal::in_dir(Some(&dir));
            let pruned = files::prune(&dir, config.backup.keep_days, &journal, chrono::Utc::now())?;
            show(
                json,
                serde_json::json!(pruned),
                format!(
                    "{} expired backups deleted, {} kept",
                    pruned.removed.len(),
                    pruned.kept
                ),
            );
            Ok(())
        }
    }
}

async fn healthcheck(config: &Config, timeout_secs: u64) -> Result<(), Failure> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut address = config.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let request = b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
    let check = async {
        let stream = tokio::net::TcpStream::connect(address).await?;
        let mut answer = Vec::new();
        match &config.tls {
            None => {
                let mut stream = stream;
                stream.write_all(request).await?;
                stream.read_to_end(&mut answer).await?;
            }
            Some(_) => {
                let host = url::Url::parse(config.base_url.as_str())
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "localhost".to_owned());
                let mut stream = crate::tls::connect_to_self(stream, &host).await?;
                stream.write_all(request).await?;
                // A server that closes without TLS close_notify still answered.
                if let Err(e) = stream.read_to_end(&mut answer).await
                    && answer.is_empty()
                {
                    return Err(e);
                }
            }
        }
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(timeout_secs), check)
        .await
        .map_err(|_| Failure {
            message: format!("no answer within {timeout_secs} s"),
            code: 1,
        })??;
    if answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(Failure {
            message: "the server did not answer 200".into(),
            code: 1,
        })
    }
}

async fn migrate(config: Config, dry_run: bool) -> Result<(), Failure> {
    let db = db::connect(&config.database, config.database_max_connections).await?;
    if dry_run {
        let pending = db::pending_migrations(&db).await?;
        if pending.is_empty() {
            println!("the database is up to date: nothing would run");
        } else {
            println!("{} migration(s) would run, in this order:", pending.len());
            for name in pending {
                println!("  {name}");
            }
        }
        return Ok(());
    }
    let applied = db::pending_migrations(&db).await?.len();
    db::migrate(&db).await?;
    println!("migrations applied ({applied} new)");
    Ok(())
}

fn read_password_line() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: 2,
    }
}

async fn user(config: Config, command: UserCommand) -> Result<(), Failure> {
    let state = AppState::open(config).await?;
    match command {
        UserCommand::Create {
            email,
            org,
            role,
            name,
            ..
        } => {
            let email = EmailAddress::parse(&email)
                .map_err(|_| usage("--email: not a valid email address"))?;
            let role =
                Role::parse(&role).ok_or_else(|| usage("--role: must be owner, admin or agent"))?;
            let org_name =
                OrgName::parse(&org).map_err(|_| usage("--org: must be 1 to 100 characters"))?;
            let display_name = match name {
                Some(name) => auth::users::parse_display_name(&name)
                    .map_err(|_| usage("--name: must be 1 to 100 characters"))?,
                None => auth::users::default_display_name(&email),
            };
            let password = read_password_line()?;
            let password = auth::users::NewPassword::parse(&password, &[email.as_str(), &org])
                .map_err(password_refused)?;
            let txn = crate::db::begin_write(&state.db).await?;
            let joining = orgs::Joining::by_name(&txn, &org_name, role).await?;
            if matches!(joining, orgs::Joining::Founds(_)) && role != Role::Owner {
                return Err(usage(format!(
                    "organization \"{}\" does not exist; create it with --role owner",
                    org_name.as_str()
                )));
            }
            if auth::users::find_by_email(&txn, &email).await?.is_some() {
                return Err(usage("a user with this email address exists already"));
            }
            let (user, org_id) =
                orgs::create_user_in(&txn, &email, &password, &display_name, joining).await?;
            txn.commit().await?;
            state
                .audit
                .record(
                    &state.db,
                    audit::Entry {
                        org: Some(org_id),
                        actor: audit::Actor::System("cli"),
                        action: "user.created",
                        target: format!("user:{}", user.id),
                        client: None,
                        details: serde_json::json!({ "role": role.as_str() }),
                    },
                )
                .await?;
            println!(
                "created user {} in organization {} ({}) as {}",
                user.id,
                org_name.as_str(),
                org_id,
                role.as_str()
            );
            Ok(())
        }
        UserCommand::Password { email, .. } => {
            let email = EmailAddress::parse(&email)
                .map_err(|_| usage("--email: not a valid email address"))?;
            let password =
                auth::users::NewPassword::parse(&read_password_line()?, &[email.as_str()])
                    .map_err(password_refused)?;
            let user = auth::users::find_by_email(&state.db, &email)
                .await?
                .ok_or_else(|| usage("no user has this email address"))?;
            auth::users::set_password(&state.db, user.id, &password).await?;
            state
                .audit
                .record(
                    &state.db,
                    audit::Entry {
                        org: None,
                        actor: audit::Actor::System("cli"),
                        action: "password.reset",
                        target: format!("user:{}", user.id),
                        client: None,
                        details: serde_json::json!({}),
                    },
                )
                .await?;
            println!("password set for user {}", user.id);
            Ok(())
        }
        UserCommand::ResetTwoFactor { email } => {
            let email = EmailAddress::parse(&email)
                .map_err(|_| usage("--email: not a valid email address"))?;
            let user = auth::users::find_by_email(&state.db, &email)
                .await?
                .ok_or_else(|| usage("no user has this email address"))?;
            let txn = crate::db::begin_write(&state.db).await?;
            let had = auth::two_factor::remove(&txn, user.id).await?;
            let ended = auth::two_factor::end_sessions(&txn, user.id).await?;
            txn.commit().await?;
            auth::two_factor::audit_account(
                &state,
                user.id,
                audit::Actor::System("cli"),
                "two_factor.reset",
                None,
                serde_json::json!({ "had_factor": had, "sessions_ended": ended }),
            )
            .await?;
            if had
                && let Err(reason) =
                    auth::notices::send_now(&state, user.id, auth::notices::Notice::FactorRemoved)
                        .await
            {
                eprintln!("the notice mail was not sent ({reason})");
            }
            if had {
                println!(
                    "second factor removed for user {}; {ended} session(s) ended",
                    user.id
                );
            } else {
                println!(
                    "user {} had no second factor; {ended} session(s) ended",
                    user.id
                );
            }
            Ok(())
        }
    }
}

async fn org_by_name(state: &AppState, name: &str) -> Result<crate::orgs::OrgId, Failure> {
    orgs::find_by_name(&state.db, name)
        .await?
        .map(|(id, _)| id)
        .ok_or_else(|| usage(format!("--org: no organization is called \"{name}\"")))
}

async fn import(
    config: Config,
    format: ImportFormat,
    path: &std::path::Path,
    org: &str,
    json: bool,
) -> Result<(), Failure> {
    let state = AppState::open(config).await?;
    let org = org_by_name(&state, org).await?;
    let format = match format {
        ImportFormat::Eml => crate::mail::import::Format::Eml,
        ImportFormat::Mbox => crate::mail::import::Format::Mbox,
    };
    let started = std::time::Instant::now();
    let counts = crate::mail::import::import(&state, org, format, path).await?;
    if json {
        println!("{}", serde_json::to_string(&counts)?);
    } else {
        println!(
            "imported {}, duplicates {}, rejected {} ({:.1} s)",
            counts.imported,
            counts.duplicates,
            counts.rejected,
            started.elapsed().as_secs_f64()
        );
        for (reason, count) in &counts.rejected_reasons {
            println!("  rejected {count}: {reason}");
        }
    }
    state
        .audit
        .record(&state.db, audit::Entry { org: Some(org), actor: audit::Actor::System("cli"), action: "mail.imported", target: format!("organization:{org}"), client: None, details: serde_json::json!({ "imported": counts.imported, "duplicates": counts.duplicates, "rejected": counts.rejected }) })
        .await?;
    Ok(())
}

async fn index(config: Config, command: IndexCommand) -> Result<(), Failure> {
    use crate::search::maintenance;
    let state = AppState::open(config).await?;
    let started = std::time::Instant::now();
    match command {
        IndexCommand::Rebuild => {
            let rebuilt = maintenance::rebuild(&state)
                .await
                .map_err(|error| Failure {
                    message: format!(
                        "{error} (a running `lethe serve` holds the index: stop it first)"
                    ),
                    code: 1,
                })?;
            println!(
                "search index rebuilt: {} documents ({:.1} s)",
                rebuilt.documents,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        IndexCommand::Verify => {
            let report = maintenance::verify(&state).await?;
            println!(
                "database messages: {}, index documents: {}, missing from index: {}, missing from database: {}, queued changes: {}",
                report.database_messages,
                report.index_documents,
                report.missing_from_index.len(),
                report.missing_from_database.len(),
                report.pending
            );
            let sample = |ids: &[i64]| {
                ids.iter()
                    .take(20)
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !report.missing_from_index.is_empty() {
                println!(
                    "  messages without a document: {}",
                    sample(&report.missing_from_index)
                );
            }
            if !report.missing_from_database.is_empty() {
                println!(
                    "  documents without a message: {}",
                    sample(&report.missing_from_database)
                );
            }
            if report.is_clean() {
                Ok(())
            } else {
                Err(Failure { message: "the search index differs from the database (lethe index rebuild repairs it)".into(), code: 1 })
            }
        }
    }
}

async fn demo_data(
    config: Config,
    org: &str,
    conversations: u64,
    seed: u64,
) -> Result<(), Failure> {
    let state = AppState::open(config).await?;
    let org = org_by_name(&state, org).await?;
    let started = std::time::Instant::now();
    let options = crate::demo::DemoOptions {
        conversations,
        seed,
    };
    let outcome = crate::demo::generate(&state.db, org, options).await?;
    let secs = started.elapsed().as_secs_f64();
    // Generated conversations publish no inbox events: their report facts, once.
    crate::reports::facts::catch_up(&state, org).await?;
    println!(
        "generated {} conversations, {} messages ({:.1} s, {:.0} messages/s)",
        outcome.conversations,
        outcome.messages,
        secs,
        outcome.messages as f64 / secs.max(0.001)
    );
    Ok(())
}

async fn audit_verify(config: Config, checkpoint: Option<&std::path::Path>) -> Result<(), Failure> {
    let state = AppState::open(config).await?;
    let key = state.audit.key();
    let verification = match checkpoint {
        None => audit::verify(&state.db, key).await?,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("--checkpoint {}: {e}", path.display())))?;
            let checkpoint: audit::Checkpoint = serde_json::from_str(&text).map_err(|e| {
                usage(format!(
                    "--checkpoint {}: not a checkpoint of `lethe audit checkpoint`: {e}",
                    path.display()
                ))
            })?;
            audit::verify_checkpoint(&state.db, key, &checkpoint).await?
        }
    };
    match verification {
        audit::Verification::Intact { rows } => {
            println!("audit log intact: {rows} rows");
            Ok(())
        }
        broken => Err(broken_chain(broken)),
    }
}

async fn audit_checkpoint(config: Config) -> Result<(), Failure> {
    let state = AppState::open(config).await?;
    match audit::checkpoint(&state.db, state.audit.key()).await? {
        Ok(checkpoint) => {
            println!("{}", serde_json::to_string(&checkpoint)?);
            Ok(())
        }
        Err(broken) => Err(broken_chain(broken)),
    }
}

/// Why the password policy refused a password read from standard input.
fn password_refused(key: &'static str) -> Failure {
    usage(match key {
        "form.password_too_short" | "form.password_too_long" => format!(
            "the password must be {} to 1024 characters",
            auth::users::MIN_PASSWORD_CHARS
        ),
        _ => "the password is too common or too easy to guess: use a longer one, such as a few \
              unrelated words"
            .to_owned(),
    })
}

fn broken_chain(verification: audit::Verification) -> Failure {
    let message = match verification {
        audit::Verification::Broken { row_id, reason } => {
            format!("audit log broken at row {row_id}: {reason}")
        }
        audit::Verification::Intact { rows } => format!("audit log intact: {rows} rows"),
    };
    Failure { message, code: 1 }
}

// retention (src/retention/)
async fn retention(config: Config, command: RetentionCommand) -> Result<(), Failure> {
    use crate::retention::{self, RetentionRule};
    let state = AppState::open(config).await?;
    match command {
        RetentionCommand::Rules(RetentionRulesCommand::Set {
            org,
            category,
            after_days,
            action,
        }) => {
            let rule = RetentionRule::parse(&category, &after_days, &action)
                .map_err(|error| usage(format!("--{error}")))?;
            let org = org_by_name(&state, &org).await?;
            retention::save_rule(&state.db, org, rule).await?;
            state
                .audit
                .record(
                    &state.db,
                    audit::Entry {
                        org: Some(org),
                        actor: audit::Actor::System("cli"),
                        action: "retention.rule_changed",
                        target: format!("retention_rule:{}", rule.category().as_str()),
                        client: None,
                        details: serde_json::json!({
                            "after_days": rule.after_days(),
                            "action": rule.action().as_str(),
                        }),
                    },
                )
                .await?;
            println!(
                "retention rule saved: {} after {} days: {}",
                rule.category().as_str(),
                rule.after_days(),
                rule.action().as_str()
            );
            Ok(())
        }
        RetentionCommand::Run { org, dry_run, json } => {
            let orgs = match org {
                Some(name) => vec![org_by_name(&state, &name).await?],
                None => retention::organization_ids(&state.db).await?,
            };
            let mut reports = Vec::new();
            for org in orgs {
                let options = retention::run::RunOptions {
                    dry_run,
                    trigger: "cli",
                    actor: audit::Actor::System("cli"),
                };
                reports.push(retention::run::run_with(&state, org, options).await?);
            }
            if json {
                println!("{}", serde_json::to_string(&reports)?);
            } else {
                for report in &reports {
                    println!(
                        "organization {}{}:",
                        report.organization_id,
                        if report.dry_run { " (dry run)" } else { "" }
                    );
                    for (category, counts) in &report.categories {
                        println!(
                            "  {category} ({}): conversations {}, customers {}, messages {}, attachments {}, notes {}, audit entries {}, skipped on legal hold {}",
                            counts.action,
                            counts.conversations,
                            counts.customers,
                            counts.messages,
                            counts.attachments,
                            counts.notes,
                            counts.audit_events,
                            counts.skipped_legal_hold
                        );
                    }
                }
            }
            Ok(())
        }
    }
}
// end retention
