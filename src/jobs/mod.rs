//! Background work, started in one place ([`start`], from `Application::build`): the workers
//! that run all the time (the outbox sender, the search indexer, the IMAP poller, the webhook
//! sender) and the scheduled jobs (tokio-cron-scheduler). Both lists come from [`JobsConfig`], read from the
//! settings, so `lethe serve` and the test harness run the same wiring; a setting left empty
//! switches its job off. Each job is a `run_once(&AppState)` that tests call directly.
//! Per-organization schedules (retention runs) are set in the UI; the retention job here is
//! the tick that starts the runs that came due.

pub mod cleanup;
pub mod org_purge;
pub mod privacy_reminders;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::state::AppState;

/// A worker that runs for as long as the server does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Worker {
    /// Sends queued replies (src/mail/outbound.rs).
    Outbox,
    /// Drains the search queue into the index (src/search/indexer.rs).
    Index,
    /// Polls the channels' IMAP mailboxes (src/mail/imap/).
    Imap,
    /// Sends queued webhook deliveries (src/webhooks/deliver.rs).
    Webhooks,
}

impl Worker {
    pub const ALL: [Worker; 4] = [
        Worker::Outbox,
        Worker::Index,
        Worker::Imap,
        Worker::Webhooks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Worker::Outbox => "outbox",
            Worker::Index => "index",
            Worker::Imap => "imap",
            Worker::Webhooks => "webhooks",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == name.trim())
    }
}

/// A scheduled job, with the setting that holds its schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scheduled {
    /// Expired sessions, reset links and invitations (src/jobs/cleanup.rs).
    Cleanup,
    /// Starts the retention runs that came due (src/retention/tick.rs); also once at start,
    /// to catch up runs missed while the server was down.
    Retention,
    /// Purges organizations whose deletion window has passed (src/orgs/purge.rs).
    OrgPurge,
    /// Reminds admins of privacy requests coming due (src/jobs/privacy_reminders.rs).
    PrivacyReminders,
    /// Removes attachment files no row refers to (src/retention/sweep.rs).
    AttachmentSweep,
    /// Writes the counted refusals (unknown logins, refused API keys) as one audit row per
    /// source (src/audit/tally.rs).
    AuditFlush,
    /// Verifies the audit chain and mails its checkpoint (src/audit/checkpoint_mail.rs).
    AuditCheckpoint,
    /// Takes a sealed backup and deletes the expired ones (src/backup/); on only with
    /// `LETHE_BACKUP_DIR`.
    Backup,
    /// Brings back the snoozed conversations whose time came (src/inbox/snooze.rs); also once
    /// at start, for those that came due while the server was down.
    SnoozeWake,
    /// Recomputes SLA due times after a settings change and mails the admins before a
    /// breach (src/sla/warn.rs).
    Sla,
    /// Retrains the organizations' intent models from their tagged conversations
    /// (src/assist/intent/train.rs); also once at start. Every node for itself: the models
    /// live in memory only.
    Intents,
}

impl Scheduled {
    pub const ALL: [Scheduled; 11] = [
        Scheduled::Cleanup,
        Scheduled::Retention,
        Scheduled::OrgPurge,
        Scheduled::PrivacyReminders,
        Scheduled::AttachmentSweep,
        Scheduled::AuditFlush,
        Scheduled::AuditCheckpoint,
        Scheduled::Backup,
        Scheduled::SnoozeWake,
        Scheduled::Sla,
        Scheduled::Intents,
    ];

    /// The environment variable that sets the schedule.
    pub fn setting(self) -> &'static str {
        match self {
            Scheduled::Cleanup => "LETHE_SCHEDULE_CLEANUP",
            Scheduled::Retention => "LETHE_SCHEDULE_RETENTION",
            Scheduled::OrgPurge => "LETHE_SCHEDULE_ORG_PURGE",
            Scheduled::PrivacyReminders => "LETHE_SCHEDULE_PRIVACY_REMINDERS",
            Scheduled::AttachmentSweep => "LETHE_SCHEDULE_ATTACHMENT_SWEEP",
            Scheduled::AuditFlush => "LETHE_SCHEDULE_AUDIT_FLUSH",
            Scheduled::AuditCheckpoint => "LETHE_SCHEDULE_AUDIT_CHECKPOINT",
            Scheduled::Backup => "LETHE_BACKUP_SCHEDULE",
            Scheduled::SnoozeWake => "LETHE_SCHEDULE_SNOOZE",
            Scheduled::Sla => "LETHE_SCHEDULE_SLA",
            Scheduled::Intents => "LETHE_SCHEDULE_INTENTS",
        }
    }

    /// The schedule when the setting is not given (cron, seconds first, UTC).
    pub fn default_schedule(self) -> &'static str {
        match self {
            Scheduled::Cleanup => "0 */15 * * * *",
            Scheduled::Retention => "0 * * * * *",
            Scheduled::OrgPurge => "0 20 * * * *",
            Scheduled::PrivacyReminders => "0 5 * * * *",
            Scheduled::AttachmentSweep => "0 41 * * * *",
            Scheduled::AuditFlush => "0 * * * * *",
            Scheduled::AuditCheckpoint => "0 0 6 * * Mon",
            // Hourly: the schedule owners set at /settings/backups (daily at 02:30 UTC
            // unless they change it) decides whether this hour takes a backup.
            Scheduled::Backup => crate::backup::schedule::HOURLY,
            Scheduled::SnoozeWake => "30 * * * * *",
            Scheduled::Sla => "45 * * * * *",
            Scheduled::Intents => "0 17 * * * *",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scheduled::Cleanup => "cleanup",
            Scheduled::Retention => "retention schedule check",
            Scheduled::OrgPurge => "organization purge check",
            Scheduled::PrivacyReminders => "privacy reminders",
            Scheduled::AttachmentSweep => "attachment sweep",
            Scheduled::AuditFlush => "audit tally flush",
            Scheduled::AuditCheckpoint => "audit checkpoint mail",
            Scheduled::Backup => "backup",
            Scheduled::SnoozeWake => "snooze wake-up",
            Scheduled::Sla => "SLA recompute and warnings",
            Scheduled::Intents => "intent model retraining",
        }
    }

    /// Whether one node of several on the database runs it per scheduled time (under the
    /// lease [`Scheduled::lease_name`]), or every node for itself: the audit tally counts
    /// this process's refusals, the sweep looks at this node's data directory, and the intent
    /// models are kept in this node's memory only.
    pub fn once_per_cluster(self) -> bool {
        !matches!(
            self,
            Scheduled::AuditFlush | Scheduled::AttachmentSweep | Scheduled::Intents
        )
    }

    /// The lease a node holds while it runs the job (`crate::cluster`).
    pub fn lease_name(self) -> String {
        format!("job:{}", self.setting())
    }

    /// One run of the job; its outcome is logged, and the next run happens on schedule. A
    /// job done once per scheduled time is run under its lease: a node whose clock fires while
    /// another runs it (or up to [`crate::cluster::lease::TTL`] after that one finished) skips
    /// this time.
    fn run(self, state: Arc<AppState>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            if !self.once_per_cluster() {
                self.log(self.work(&state).await);
                return;
            }
            let lease = match state.leases.try_take(&state.db, &self.lease_name()).await {
                Ok(Some(lease)) => lease,
                Ok(None) => {
                    tracing::debug!(job = self.name(), "another node runs this job now");
                    return;
                }
                Err(error) => {
                    tracing::error!(job = self.name(), %error, "job lease not taken");
                    return;
                }
            };
            let result = match lease.hold(self.work(&state)).await {
                Ok(result) => result,
                Err(lost) => Err(lost.to_string()),
            };
            lease.keep_until_expiry().await;
            self.log(result);
        })
    }

    fn log(self, result: Result<String, String>) {
        match result {
            Ok(outcome) => tracing::debug!(job = self.name(), %outcome, "job finished"),
            Err(error) => tracing::error!(job = self.name(), %error, "job failed"),
        }
    }

    /// The job's work, once.
    async fn work(self, state: &AppState) -> Result<String, String> {
        {
            match self {
                Scheduled::Cleanup => cleanup::run_once(state)
                    .await
                    .map(|o| format!("{o:?}"))
                    .map_err(|e| e.to_string()),
                Scheduled::Retention => crate::retention::tick::scheduled_tick(state)
                    .await
                    .map(|started| format!("{started} runs started"))
                    .map_err(|e| e.to_string()),
                Scheduled::OrgPurge => org_purge::run_once(state)
                    .await
                    .map(|o| format!("{o:?}"))
                    .map_err(|e| e.to_string()),
                Scheduled::PrivacyReminders => privacy_reminders::run_once(state)
                    .await
                    .map(|o| format!("{o:?}"))
                    .map_err(|e| e.to_string()),
                Scheduled::AttachmentSweep => crate::retention::sweep::run_once(state)
                    .await
                    .map(|o| format!("{o:?}"))
                    .map_err(|e| e.to_string()),
                Scheduled::AuditFlush => state
                    .audit
                    .flush_tally(&state.db)
                    .await
                    .map(|rows| format!("{rows} rows written"))
                    .map_err(|e| e.to_string()),
                Scheduled::AuditCheckpoint => crate::audit::checkpoint_mail::run_once(state)
                    .await
                    .map(|o| format!("{o:?}"))
                    .map_err(|e| e.to_string()),
                Scheduled::SnoozeWake => crate::inbox::snooze::wake_due(state, chrono::Utc::now())
                    .await
                    .map(|woken| format!("{woken} conversations back"))
                    .map_err(|e| e.to_string()),
                Scheduled::Sla => crate::sla::warn::run_once(state, chrono::Utc::now())
                    .await
                    .map(|o| format!("{o:?}"))
                    .map_err(|e| e.to_string()),
                Scheduled::Intents => crate::assist::intent::train::run_once(state)
                    .await
                    .map(|o| format!("{o:?}"))
                    .map_err(|e| e.to_string()),
                Scheduled::Backup => crate::backup::schedule::run_if_due(state, chrono::Utc::now())
                    .await
                    .map(|o| o.map_or_else(|| "not due this hour".to_owned(), |o| format!("{o:?}")))
                    .map_err(|e| e.to_string()),
            }
        }
    }
}

/// A cron expression that the scheduler accepts (six fields, seconds first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule(String);

impl Schedule {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(value)
            .map_err(|e| {
                format!("not a schedule ({e}); six fields, seconds first, e.g. \"0 */15 * * * *\"")
            })?;
        Ok(Schedule(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which background work this instance runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobsConfig {
    pub workers: BTreeSet<Worker>,
    /// The scheduled jobs that are on, with their schedules.
    pub schedules: Vec<(Scheduled, Schedule)>,
}

impl Default for JobsConfig {
    /// Everything on, on the default schedules.
    fn default() -> Self {
        JobsConfig {
            workers: Worker::ALL.into_iter().collect(),
            schedules: Scheduled::ALL
                .into_iter()
                // Backups need LETHE_BACKUP_DIR, which a default does not have.
                .filter(|job| *job != Scheduled::Backup)
                .filter_map(|job| {
                    Schedule::parse(job.default_schedule())
                        .ok()
                        .map(|s| (job, s))
                })
                .collect(),
        }
    }
}

/// The running background work; dropping it leaves the tasks running until the process ends
/// (the scheduler and the workers stop with the runtime).
pub struct Background {
    pub scheduler: Option<JobScheduler>,
    pub workers: Vec<(Worker, JoinHandle<()>)>,
}

/// Starts the workers and the scheduled jobs `config` names.
pub async fn start(
    state: Arc<AppState>,
    config: &JobsConfig,
) -> Result<Background, JobSchedulerError> {
    let workers = config
        .workers
        .iter()
        .map(|worker| {
            let handle = match worker {
                Worker::Outbox => crate::mail::outbound::spawn_sender(state.clone()),
                Worker::Index => crate::search::indexer::spawn_indexer(state.clone()),
                Worker::Imap => crate::mail::imap::spawn_poller(state.clone()),
                Worker::Webhooks => crate::webhooks::deliver::spawn_worker(state.clone()),
            };
            (*worker, handle)
        })
        .collect();
    let scheduler = if config.schedules.is_empty() {
        None
    } else {
        let scheduler = JobScheduler::new().await?;
        for (job, schedule) in &config.schedules {
            let (job, job_state) = (*job, state.clone());
            scheduler
                .add(Job::new_async(schedule.as_str(), move |_, _| {
                    job.run(job_state.clone())
                })?)
                .await?;
            if matches!(
                job,
                Scheduled::Retention | Scheduled::SnoozeWake | Scheduled::Intents
            ) {
                tokio::spawn(job.run(state.clone()));
            }
        }
        scheduler.start().await?;
        Some(scheduler)
    };
    Ok(Background { scheduler, workers })
}
