//! Bulk import (`lethe import eml|mbox PATH --org NAME`): a directory of .eml files or an
//! mbox, parsed on every core (`crate::cores`) and stored in batches of one transaction each, in file order so
//! that replies thread onto the messages before them. Re-importing counts duplicates; a
//! message that cannot be used is counted with its reason and never stops the import.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::mail::MailError;
use crate::mail::ingest::{self, Source};
use crate::mail::parse::{self, MboxItem, MboxReader, RejectReason};
use crate::orgs::OrgId;
use crate::state::AppState;

mod store;

const BATCH: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Eml,
    Mbox,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Counts {
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Files in an eml directory that are clearly not mail (by name) and were not read.
    pub skipped_files: u64,
    /// Rejected messages by reason (reasons carry no personal data).
    pub rejected_reasons: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] MailError),
}

/// Imports everything at `path` into `org`.
pub async fn import(
    state: &AppState,
    org: OrgId,
    format: Format,
    path: &Path,
) -> Result<Counts, ImportError> {
    let limits = ingest::limits(state);
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<Raw>>(4);
    let path = path.to_owned();
    let reader = tokio::task::spawn_blocking(move || {
        let mut skipped = 0;
        read_all(
            format,
            &path,
            limits.max_message_bytes,
            &sender,
            &mut skipped,
        )
        .map(|()| skipped)
    });
    let source = Source {
        org,
        channel_id: None,
        keep_original_date: true,
    };
    let mut counts = Counts::default();
    while let Some(batch) = receiver.recv().await {
        let parsed = tokio::task::spawn_blocking(move || parse_in_parallel(batch, &limits))
            .await
            .map_err(MailError::from)?;
        store_batch(state, source, parsed, &mut counts).await?;
    }
    counts.skipped_files = reader.await.map_err(MailError::from)??;
    // Imported conversations publish no inbox events: their report facts are filled in here,
    // once (src/reports/facts.rs).
    crate::reports::facts::catch_up(state, org)
        .await
        .map_err(MailError::from)?;
    crate::db::checkpoint(&state.db)
        .await
        .map_err(MailError::from)?;
    Ok(counts)
}

enum Raw {
    Bytes(Vec<u8>),
    TooLarge(usize),
}

fn read_all(
    format: Format,
    path: &Path,
    limit: usize,
    sender: &tokio::sync::mpsc::Sender<Vec<Raw>>,
    skipped_out: &mut u64,
) -> Result<(), ImportError> {
    let read_error = |path: &Path, source| ImportError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut batch = Vec::with_capacity(BATCH);
    let push = |raw: Raw, batch: &mut Vec<Raw>| {
        batch.push(raw);
        if batch.len() >= BATCH {
            // The receiver is gone only when the import failed; stop reading then.
            sender.blocking_send(std::mem::take(batch)).is_ok()
        } else {
            true
        }
    };
    match format {
        Format::Eml => {
            let (files, skipped) = eml_files(path).map_err(|e| read_error(path, e))?;
            *skipped_out = skipped;
            for file in files {
                let size = std::fs::metadata(&file)
                    .map_err(|e| read_error(&file, e))?
                    .len();
                let raw = if usize::try_from(size).unwrap_or(usize::MAX) > limit {
                    Raw::TooLarge(usize::try_from(size).unwrap_or(usize::MAX))
                } else {
                    Raw::Bytes(std::fs::read(&file).map_err(|e| read_error(&file, e))?)
                };
                if !push(raw, &mut batch) {
                    return Ok(());
                }
            }
        }
        Format::Mbox => {
            let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
            for item in MboxReader::new(BufReader::with_capacity(1 << 20, file), limit) {
                let raw = match item.map_err(|e| read_error(path, e))? {
                    MboxItem::Message(bytes) => Raw::Bytes(bytes),
                    MboxItem::TooLarge(size) => Raw::TooLarge(size),
                };
                if !push(raw, &mut batch) {
                    return Ok(());
                }
            }
        }
    }
    if !batch.is_empty() {
        let _ = sender.blocking_send(batch);
    }
    Ok(())
}

/// Extensions of files that sit beside mail in exports and are not mail.
const NOT_MAIL: &[&str] = &[
    "json", "js", "html", "htm", "xml", "csv", "md", "pdf", "png", "jpg", "jpeg", "gif", "zip",
    "gz", "db", "sqlite",
];

/// Whether a file in an eml directory is skipped because its name says it is not mail.
pub fn is_skipped(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'));
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    hidden || extension.is_some_and(|e| NOT_MAIL.contains(&e.as_str()))
}

/// Every regular file under `path` (or `path` itself), in name order, and the number skipped.
fn eml_files(path: &Path) -> std::io::Result<(Vec<PathBuf>, u64)> {
    if path.is_file() {
        return Ok((vec![path.to_owned()], 0));
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    let before = files.len();
    files.retain(|f| !is_skipped(f));
    files.sort();
    let skipped = (before - files.len()) as u64;
    Ok((files, skipped))
}

fn parse_in_parallel(
    batch: Vec<Raw>,
    limits: &parse::Limits,
) -> Vec<Result<parse::ParsedMail, RejectReason>> {
    let parse_one = |raw: &Raw| match raw {
        Raw::Bytes(bytes) => parse::parse(bytes, limits),
        Raw::TooLarge(size) => Err(RejectReason::TooLarge {
            bytes: *size,
            limit: limits.max_message_bytes,
        }),
    };
    crate::cores::map(&batch, parse_one)
}

async fn store_batch(
    state: &AppState,
    source: Source,
    parsed: Vec<Result<parse::ParsedMail, RejectReason>>,
    counts: &mut Counts,
) -> Result<(), MailError> {
    let mut mails = Vec::with_capacity(parsed.len());
    for item in parsed {
        match item {
            Ok(mail) => mails.push(mail),
            Err(reason) => {
                counts.rejected += 1;
                *counts
                    .rejected_reasons
                    .entry(reason_label(&reason))
                    .or_default() += 1;
            }
        }
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let stored = store::store_batch(&txn, &state.blobs, source, mails).await?;
    txn.commit().await?;
    counts.imported += stored.imported;
    counts.duplicates += stored.duplicates;
    Ok(())
}

fn reason_label(reason: &RejectReason) -> String {
    match reason {
        RejectReason::TooLarge { .. } => "too large".into(),
        other => other.to_string(),
    }
}
