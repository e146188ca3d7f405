//! [`SearchIndex`]: owns the Tantivy index, its one writer (behind a mutex) and its reader.
//!
//! Updates are delete-term + add and become visible on [`SearchIndex::commit`], which also
//! reloads the reader. [`SearchIndex::purge_deleted`] rewrites every segment that has deleted
//! documents and garbage-collects the old files, so erased text leaves the disk.
//!
//! The writer exists only while there is writing to do: its indexing threads, their arenas and
//! its merge threads hold tens of megabytes, so the indexer closes it when the queue has been
//! quiet for a while ([`SearchIndex::release_writer`]). Which process may write is decided by
//! an owner lock ([`OWNER_LOCK`]), not by the writer's own lock: the process that runs the
//! indexer (`lethe serve`) claims it at start and holds it for its life, a command claims it
//! at its first write, so a command meets a running server's index as "held elsewhere" whether
//! or not the server's writer is open at that moment.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tantivy::directory::MmapDirectory;
use tantivy::schema::Value;
use tantivy::store::Compressor;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

use super::analysis::{
    Lang, LanguageDetector, address_terms, code_terms, keyword, plain_analyzer, register_analyzers,
    stem_analyzer,
};
use super::cache::{AnswerCounts, Key, ResultCache};
use super::collect::GroupCollector;
use super::compile::{QueryAnalyzers, compile};
use super::error::SearchError;
use super::query::Query;
use super::queue::LogPosition;
use super::results::{
    ConversationHit, Highlighter, Page, SearchContext, SearchResults, Sort, micros_to_date, rank,
};
use super::schema::{Fields, MESSAGE_ID, ORG, build_schema};
use crate::orgs::OrgId;

/// The channel kind every conversation has; a named channel is also indexed under it.
pub(crate) const EMAIL_CHANNEL: &str = "email";

/// One message as the search index sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageDoc {
    /// Organization (tenant).
    pub org: OrgId,
    /// Message id (unique across the instance).
    pub message_id: i64,
    /// Conversation the message belongs to.
    pub conversation_id: i64,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// Customer's display name.
    pub customer_name: String,
    /// Customer's email address.
    pub customer_email: String,
    /// From header (name and/or address).
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Conversation tags.
    pub tags: Vec<String>,
    /// `open`, `pending` or `closed`.
    pub status: String,
    /// Channel name (email, webchat, …).
    pub channel: String,
    /// Assigned user id.
    pub assignee: Option<i64>,
    /// `inbound`, `outbound` or `note`.
    pub direction: String,
    /// Whether the message has attachments.
    pub has_attachment: bool,
    /// When the message was sent or received.
    pub date: DateTime<Utc>,
}

/// How an index is created and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchOptions {
    /// Compress the document store with LZ4. Only used when the index is created. Without
    /// compression the stored text is plain bytes on disk, which makes raw-byte erasure
    /// checks meaningful; with it the store is roughly half the size.
    pub compress_store: bool,
    /// Indexing threads (1..=8).
    pub writer_threads: usize,
    /// Total indexing memory budget in bytes (at least 15 MB per thread).
    pub writer_memory: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        let cpus = crate::cores::count();
        SearchOptions {
            compress_store: true,
            writer_threads: cpus.clamp(1, 2),
            writer_memory: 64_000_000,
        }
    }
}

/// The file in the index directory whose exclusive lock (`flock`) makes a process the index's
/// one writer. Not a file of Tantivy's: its garbage collection leaves it alone.
pub const OWNER_LOCK: &str = "lethe-owner.lock";

/// The open writer and whether it holds changes not committed yet.
struct OpenWriter {
    writer: IndexWriter,
    uncommitted: bool,
}

/// The embedded search index.
pub struct SearchIndex {
    index: Index,
    dir: PathBuf,
    fields: Fields,
    options: SearchOptions,
    /// The owner lock, once this process has claimed it (held until the process ends).
    owner: Mutex<Option<File>>,
    /// Created on first write, so that readers never start indexing threads; closed again by
    /// [`SearchIndex::release_writer`] and at the end of [`SearchIndex::purge_deleted`].
    writer: Mutex<Option<OpenWriter>>,
    /// Held while the indexer drains the queue, so that two drains never interleave.
    pub(super) drain_lock: tokio::sync::Mutex<()>,
    /// How far in the change log (`super::queue`) the committed index is; recorded in each
    /// commit. None for a new index, which is built from the database first.
    position: Mutex<Option<LogPosition>>,
    /// When this node last recorded its position in the database.
    heard: Mutex<Option<std::time::Instant>>,
    reader: IndexReader,
    detector: LanguageDetector,
    query_analyzers: QueryAnalyzers,
    plain_index: TextAnalyzer,
    /// The ranked conversations of recent searches ([`super::cache`]).
    cache: ResultCache,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating the directory and the index if missing.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        Self::open_with(dir, SearchOptions::default())
    }

    /// [`SearchIndex::open`] with explicit options.
    pub fn open_with(dir: &Path, options: SearchOptions) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir)?;
        let directory = MmapDirectory::open(dir).map_err(tantivy::TantivyError::from)?;
        let settings = IndexSettings {
            docstore_compression: if options.compress_store {
                Compressor::Lz4
            } else {
                Compressor::None
            },
            ..IndexSettings::default()
        };
        let mut index = Index::builder()
            .schema(build_schema())
            .settings(settings)
            .open_or_create(directory)?;
        // A search runs its segments on every core: one agent's query is answered in about
        // half the time on two cores; concurrent queries share the same threads.
        let cores = crate::cores::count();
        if cores > 1 {
            index.set_multithread_executor(cores.min(8))?;
        }
        register_analyzers(index.tokenizers());
        let fields = Fields::resolve(&index.schema())?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        // An index from before the change log has no position: it has applied every row the
        // queue no longer holds, so it reads the rest from the start.
        let position = match index.load_metas()?.payload.as_deref() {
            Some(payload) => LogPosition::from_payload(payload),
            None if reader.searcher().num_docs() > 0 => Some(LogPosition::START),
            None => None,
        };
        Ok(SearchIndex {
            index,
            dir: dir.to_path_buf(),
            fields,
            options,
            owner: Mutex::new(None),
            writer: Mutex::new(None),
            drain_lock: tokio::sync::Mutex::new(()),
            position: Mutex::new(position),
            heard: Mutex::new(None),
            reader,
            detector: LanguageDetector::new(),
            query_analyzers: QueryAnalyzers {
                plain: plain_analyzer(false),
                stem: Lang::ALL.into_iter().map(stem_analyzer).collect(),
            },
            plain_index: plain_analyzer(true),
            cache: ResultCache::default(),
        })
    }

    /// Makes this process the index's one writer for the rest of its life: takes the owner
    /// lock unless this process holds it already. [`SearchError::HeldElsewhere`] when another
    /// process (a running `lethe serve`, a command) holds it.
    pub fn claim(&self) -> Result<(), SearchError> {
        let mut owner = self.owner.lock().map_err(|_| SearchError::Poisoned)?;
        if owner.is_some() {
            return Ok(());
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(OWNER_LOCK))?;
        match file.try_lock() {
            Ok(()) => {
                *owner = Some(file);
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(SearchError::HeldElsewhere),
            Err(std::fs::TryLockError::Error(error)) => Err(error.into()),
        }
    }

    /// The writer, opened (after claiming the index) when it is closed.
    fn lock(&self) -> Result<MutexGuard<'_, Option<OpenWriter>>, SearchError> {
        self.claim()?;
        let mut guard = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        if guard.is_none() {
            *guard = Some(OpenWriter {
                writer: new_writer(&self.index, self.options)?,
                uncommitted: false,
            });
        }
        Ok(guard)
    }

    /// Runs `f` with the writer; `changes` says whether `f` leaves something to commit.
    fn with_writer<T>(
        &self,
        changes: bool,
        f: impl FnOnce(&mut IndexWriter) -> Result<T, SearchError>,
    ) -> Result<T, SearchError> {
        let mut guard = self.lock()?;
        match guard.as_mut() {
            Some(open) => {
                open.uncommitted |= changes;
                f(&mut open.writer)
            }
            None => Err(SearchError::Poisoned),
        }
    }

    /// Closes the writer when it holds nothing uncommitted: its indexing threads end, its
    /// merges finish and the memory they held is freed. The next write opens it again; this
    /// process keeps the owner lock. Returns whether a writer was closed.
    pub fn release_writer(&self) -> Result<bool, SearchError> {
        let mut guard = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        if guard.as_ref().is_none_or(|open| open.uncommitted) {
            return Ok(false);
        }
        if let Some(open) = guard.take() {
            open.writer.wait_merging_threads()?;
        }
        Ok(true)
    }

    /// Whether the writer is open; true while another thread uses it (never waits).
    pub fn writer_is_open(&self) -> bool {
        match self.writer.try_lock() {
            Ok(guard) => guard.is_some(),
            Err(std::sync::TryLockError::WouldBlock) => true,
            Err(std::sync::TryLockError::Poisoned(_)) => false,
        }
    }

    /// Adds or replaces messages (by `message_id`). Visible after [`SearchIndex::commit`].
    pub fn upsert(&self, docs: &[MessageDoc]) -> Result<(), SearchError> {
        // Language detection and the code/address terms, on every core.
        let built: Vec<(i64, TantivyDocument)> =
            crate::cores::map(docs, |d| (d.message_id, self.build_document(d)));
        self.with_writer(true, |writer| {
            for (id, doc) in built {
                writer.delete_term(Term::from_field_i64(self.fields.message_id, id));
                writer.add_document(doc)?;
            }
            Ok(())
        })
    }

    /// Adds messages the index does not hold (after [`SearchIndex::delete_all`]: the rebuild).
    /// Unlike [`SearchIndex::upsert`] it queues no delete per document: the writer keeps every
    /// queued delete until the next commit, and a million of them held hundreds of megabytes.
    pub fn insert_new(&self, docs: &[MessageDoc]) -> Result<(), SearchError> {
        let built: Vec<TantivyDocument> = crate::cores::map(docs, |d| self.build_document(d));
        self.with_writer(true, |writer| {
            for doc in built {
                writer.add_document(doc)?;
            }
            Ok(())
        })
    }

    fn build_document(&self, m: &MessageDoc) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::new();
        doc.add_i64(f.org, m.org.get());
        doc.add_i64(f.message_id, m.message_id);
        doc.add_i64(f.conversation_id, m.conversation_id);
        doc.add_i64(f.date, m.date.timestamp_micros());
        doc.add_text(f.subject, &m.subject);
        doc.add_text(f.body, &m.body);
        let lang = self.detector.detect(&m.subject, &m.body);
        doc.add_text(f.lang, lang.code());

        doc.add_text(f.plain, &m.subject);
        doc.add_text(f.plain, &m.body);
        let people = format!("{} {} {}", m.customer_name, m.customer_email, m.from);
        doc.add_text(f.plain, &people);
        let stem_field = f.stem[lang.index()];
        doc.add_text(stem_field, &m.subject);
        doc.add_text(stem_field, &m.body);

        let mut codes = Vec::new();
        code_terms(&m.subject, &mut codes);
        code_terms(&m.body, &mut codes);
        code_terms(&m.customer_email, &mut codes);
        code_terms(&m.from, &mut codes);
        for code in &codes {
            doc.add_text(f.code, code);
        }

        let mut terms = Vec::new();
        address_terms(&m.from, &mut terms);
        for t in &terms {
            doc.add_text(f.from, t);
        }
        terms.clear();
        for to in &m.to {
            address_terms(to, &mut terms);
        }
        for t in &terms {
            doc.add_text(f.to, t);
        }
        for tag in &m.tags {
            doc.add_text(f.tag, keyword(tag));
        }
        doc.add_text(f.status, keyword(&m.status));
        // Every channel is an email channel: `channel:email` finds them all, and a named
        // channel is found by its name as well.
        let channel = keyword(&m.channel);
        if channel != EMAIL_CHANNEL {
            doc.add_text(f.channel, EMAIL_CHANNEL);
        }
        doc.add_text(f.channel, channel);
        doc.add_text(f.direction, keyword(&m.direction));
        match m.assignee {
            Some(id) => doc.add_text(f.assignee, id.to_string()),
            None => doc.add_text(f.assignee, "none"),
        }
        if m.has_attachment {
            doc.add_text(f.has, "attachment");
        }
        doc
    }

    /// Deletes messages by id. Effective after [`SearchIndex::commit`].
    pub fn delete_messages(&self, ids: &[i64]) -> Result<(), SearchError> {
        self.delete_terms(self.fields.message_id, ids)
    }

    /// Deletes all messages of these conversations. Effective after [`SearchIndex::commit`].
    pub fn delete_conversations(&self, ids: &[i64]) -> Result<(), SearchError> {
        self.delete_terms(self.fields.conversation_id, ids)
    }

    /// Deletes every message of an organization. Effective after [`SearchIndex::commit`].
    pub fn delete_org(&self, org: OrgId) -> Result<(), SearchError> {
        self.delete_terms(self.fields.org, &[org.get()])
    }

    fn delete_terms(&self, field: tantivy::schema::Field, ids: &[i64]) -> Result<(), SearchError> {
        self.with_writer(!ids.is_empty(), |writer| {
            for id in ids {
                writer.delete_term(Term::from_field_i64(field, *id));
            }
            Ok(())
        })
    }

    /// Deletes every document. Effective after [`SearchIndex::commit`].
    pub fn delete_all(&self) -> Result<(), SearchError> {
        self.with_writer(true, |writer| {
            writer.delete_all_documents()?;
            Ok(())
        })
    }

    /// Commits pending changes and reloads the reader.
    pub fn commit(&self) -> Result<(), SearchError> {
        let position = self.position();
        self.commit_recorded(position)?;
        self.reload_reader()?;
        Ok(())
    }

    /// Commits pending changes, which bring the index up to `position` in the change log,
    /// recording it in the commit; reloads the reader.
    pub(super) fn commit_at(&self, position: LogPosition) -> Result<(), SearchError> {
        self.commit_recorded(Some(position))?;
        if let Ok(mut current) = self.position.lock() {
            *current = Some(position);
        }
        self.reload_reader()?;
        Ok(())
    }

    /// Commits the open writer (opening one if it is closed), recording `position`; nothing
    /// is left uncommitted after it.
    fn commit_recorded(&self, position: Option<LogPosition>) -> Result<(), SearchError> {
        let mut guard = self.lock()?;
        let Some(open) = guard.as_mut() else {
            return Err(SearchError::Poisoned);
        };
        commit_recording(&mut open.writer, position)?;
        open.uncommitted = false;
        Ok(())
    }

    /// Takes the index's writer if this process does not hold it yet: an error (the lock is
    /// held elsewhere, by the running server) when this process cannot write the index.
    pub(super) fn take_writer(&self) -> Result<(), SearchError> {
        self.lock().map(|_| ())
    }

    /// Whether this process writes the index: it holds the owner lock ([`OWNER_LOCK`]), whether
    /// or not its writer is open at the moment (an idle indexer closes it).
    pub(super) fn has_writer(&self) -> bool {
        self.owner.lock().map(|o| o.is_some()).unwrap_or(false)
    }

    /// The position of an index with nothing to commit (a new index of an empty database).
    pub(super) fn set_position(&self, position: LogPosition) {
        if let Ok(mut current) = self.position.lock() {
            *current = Some(position);
        }
    }

    /// The node's position was recorded in the database now.
    pub(super) fn heard(&self) {
        if let Ok(mut heard) = self.heard.lock() {
            *heard = Some(std::time::Instant::now());
        }
    }

    /// True when the node should say again that it is alive.
    pub(super) fn heartbeat_due(&self) -> bool {
        self.heard.lock().map_or(true, |heard| {
            heard.is_none_or(|at| at.elapsed() >= super::indexer::HEARTBEAT)
        })
    }

    /// Where the committed index is in the change log; None when it has to be built first.
    pub(super) fn position(&self) -> Option<LogPosition> {
        self.position.lock().ok().and_then(|p| *p)
    }

    /// Commits, then rewrites every segment that has deleted documents and removes the old
    /// files, so deleted text no longer exists in any file of the index directory. Callers
    /// hold the drain lock (`crate::search::indexer::purge`): the writer is replaced here, and
    /// closed at the end (a purge ends a job; the next write opens a writer again).
    pub fn purge_deleted(&self) -> Result<(), SearchError> {
        let mut guard = self.lock()?;
        let Some(OpenWriter { mut writer, .. }) = guard.take() else {
            return Err(SearchError::Poisoned);
        };
        commit_recording(&mut writer, self.position())?;
        // Let background merges finish so that no segment with deletes is busy.
        writer.wait_merging_threads()?;
        let mut writer = new_writer(&self.index, self.options)?;
        let with_deletes: Vec<_> = self
            .index
            .searchable_segment_metas()?
            .into_iter()
            .filter(|meta| meta.has_deletes())
            .map(|meta| meta.id())
            .collect();
        if !with_deletes.is_empty() {
            writer.merge(&with_deletes).wait()?;
        }
        writer.garbage_collect_files().wait()?;
        writer.wait_merging_threads()?;
        drop(guard);
        self.reload_reader()?;
        Ok(())
    }

    /// Searches the messages of `org`, grouped by conversation.
    pub fn search(
        &self,
        org: OrgId,
        query: &Query,
        ctx: &SearchContext,
        page: Page,
    ) -> Result<SearchResults, SearchError> {
        let mut analyzers = self.query_analyzers.clone();
        let tantivy_query = compile(&self.fields, &mut analyzers, org, query, ctx)?;
        let by_score = query.has_text() && page.sort == Sort::Relevance;
        let searcher = self.reader.searcher();
        let key = Key::new(
            searcher.generation().generation_id(),
            org,
            query,
            ctx,
            by_score,
        );
        let group = || {
            searcher
                .search(
                    tantivy_query.as_ref(),
                    &GroupCollector { scoring: by_score },
                )
                .map(|groups| rank(groups, page, by_score))
        };
        let cached = self
            .cache
            .get(&key)
            .filter(|answer| answer.page(page).is_some());
        self.cache.count(cached.is_some());
        let answer = match cached {
            Some(answer) => answer,
            None => {
                let answer = Arc::new(group()?);
                // A deep page's longer answer (asked through the API) is not kept.
                if answer.first.len() <= super::cache::KEPT {
                    self.cache.put(key, answer.clone());
                }
                answer
            }
        };
        let ranked = answer.page(page).unwrap_or_default();
        let mut highlighter = Highlighter::new(
            query,
            analyzers.plain,
            self.plain_index.clone(),
            analyzers.stem,
        );
        let mut hits = Vec::with_capacity(ranked.len());
        for (conversation_id, group) in ranked {
            let (addr, date) = if by_score {
                (group.best_doc, group.best_date)
            } else {
                (group.newest_doc, group.newest_date)
            };
            let doc: TantivyDocument = searcher.doc(addr)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let body = text(self.fields.body);
            let lang = Lang::from_code(&text(self.fields.lang));
            let message_id = searcher
                .segment_reader(addr.segment_ord)
                .fast_fields()
                .i64(MESSAGE_ID)?
                .first(addr.doc_id)
                .unwrap_or_default();
            hits.push(ConversationHit {
                conversation_id: *conversation_id,
                best_message_id: message_id,
                score: group.best_score,
                date: micros_to_date(date),
                subject: text(self.fields.subject),
                snippet_html: highlighter.snippet(&body, lang),
                matching_messages: group.count as usize,
            });
        }
        Ok(SearchResults {
            total_conversations: answer.total,
            hits,
        })
    }

    /// How searches were answered since start: from recent answers, or by grouping matches.
    pub fn answer_counts(&self) -> AnswerCounts {
        self.cache.counts()
    }

    /// Ids of all committed messages, optionally of one organization, ascending.
    pub fn all_message_ids(&self, org: Option<OrgId>) -> Result<Vec<i64>, SearchError> {
        let searcher = self.reader.searcher();
        let mut ids = Vec::new();
        for segment in searcher.segment_readers() {
            let fast = segment.fast_fields();
            let orgs = fast.i64(ORG)?;
            let messages = fast.i64(MESSAGE_ID)?;
            for doc in segment.doc_ids_alive() {
                if let Some(org) = org
                    && orgs.first(doc) != Some(org.get())
                {
                    continue;
                }
                if let Some(id) = messages.first(doc) {
                    ids.push(id);
                }
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Makes changes committed by another process visible.
    pub fn reload(&self) -> Result<(), SearchError> {
        self.reload_reader()
    }

    /// Reloads the reader and forgets the recent answers: after a commit or a purge, nothing
    /// of a removed conversation (not even its id and score) stays in memory.
    fn reload_reader(&self) -> Result<(), SearchError> {
        self.reader.reload()?;
        self.cache.clear();
        Ok(())
    }

    /// Number of committed, not deleted messages.
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

fn new_writer(index: &Index, options: SearchOptions) -> Result<IndexWriter, SearchError> {
    let threads = options.writer_threads.clamp(1, 8);
    let memory = options.writer_memory.max(threads * 15_000_000);
    Ok(index.writer_with_num_threads(threads, memory)?)
}

/// Commits, recording the change log position (when known) in the commit.
fn commit_recording(
    writer: &mut IndexWriter,
    position: Option<LogPosition>,
) -> Result<(), SearchError> {
    let mut commit = writer.prepare_commit()?;
    if let Some(position) = position {
        commit.set_payload(&position.to_payload());
    }
    commit.commit()?;
    Ok(())
}
