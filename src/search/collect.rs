//! A Tantivy collector that groups matching messages by conversation in one pass.
//!
//! For each conversation it keeps the number of matching messages, the best-scoring message
//! and the newest message, so both sort orders, exact conversation totals and pagination come
//! out of a single scan of the matches. A conversation's messages mostly sit next to each
//! other in a segment (they are indexed in id order), so a run of matches from one
//! conversation is folded into one group before it touches the hash map, and queries that do
//! not score read the id and date columns a block of documents at a time.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnValues};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::schema::{CONVERSATION_ID, DATE};

/// Scored matches buffered before their columns are read.
const SCORED_BLOCK: usize = 64;

/// A cheap hasher for integer ids (multiply-shift); ids are not attacker-chosen keys here.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, n: i64) {
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// Conversation id → its group.
pub(crate) type Groups = HashMap<i64, Group, BuildHasherDefault<IdHasher>>;

/// The matching messages of one conversation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Group {
    pub count: u32,
    pub best_score: Score,
    pub best_date: i64,
    pub best_doc: DocAddress,
    pub newest_date: i64,
    pub newest_doc: DocAddress,
}

impl Group {
    fn new(score: Score, date: i64, doc: DocAddress) -> Group {
        Group {
            count: 1,
            best_score: score,
            best_date: date,
            best_doc: doc,
            newest_date: date,
            newest_doc: doc,
        }
    }

    fn absorb(&mut self, other: &Group) {
        self.count += other.count;
        let better = other
            .best_score
            .total_cmp(&self.best_score)
            .then(other.best_date.cmp(&self.best_date))
            .then(other.best_doc.cmp(&self.best_doc))
            .is_gt();
        if better {
            self.best_score = other.best_score;
            self.best_date = other.best_date;
            self.best_doc = other.best_doc;
        }
        let newer = other
            .newest_date
            .cmp(&self.newest_date)
            .then(other.newest_doc.cmp(&self.newest_doc))
            .is_gt();
        if newer {
            self.newest_date = other.newest_date;
            self.newest_doc = other.newest_doc;
        }
    }
}

/// Groups all matches by conversation.
pub(crate) struct GroupCollector {
    /// Whether scores are needed (relevance sort with text terms).
    pub scoring: bool,
}

impl Collector for GroupCollector {
    type Fruit = Groups;
    type Child = GroupSegmentCollector;

    fn for_segment(
        &self,
        segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<GroupSegmentCollector> {
        let fast = segment.fast_fields();
        Ok(GroupSegmentCollector {
            segment_ord,
            conversation: values(fast.i64(CONVERSATION_ID)?),
            date: values(fast.i64(DATE)?),
            groups: Groups::default(),
            current: None,
            block: Block::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    /// Like Tantivy's own, but reads the id and date columns a block of matches at a time in
    /// both modes: scored matches are buffered with their scores, and a segment with deleted
    /// documents filters each block instead of falling back to one match at a time.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Groups> {
        let mut child = self.for_segment(segment_ord, reader)?;
        let alive = reader.alive_bitset();
        let is_alive = |doc: DocId| alive.is_none_or(|bits| bits.is_alive(doc));
        if self.scoring {
            let mut docs = Vec::with_capacity(SCORED_BLOCK);
            let mut scores = Vec::with_capacity(SCORED_BLOCK);
            weight.for_each(reader, &mut |doc, score| {
                if is_alive(doc) {
                    docs.push(doc);
                    scores.push(score);
                    if docs.len() == SCORED_BLOCK {
                        child.collect_scored(&docs, &scores);
                        docs.clear();
                        scores.clear();
                    }
                }
            })?;
            child.collect_scored(&docs, &scores);
        } else {
            let mut kept = Vec::new();
            weight.for_each_no_score(reader, &mut |docs| {
                if alive.is_none() {
                    child.collect_block(docs);
                } else {
                    kept.clear();
                    kept.extend(docs.iter().copied().filter(|doc| is_alive(*doc)));
                    child.collect_block(&kept);
                }
            })?;
        }
        Ok(child.harvest())
    }

    fn merge_fruits(&self, fruits: Vec<Groups>) -> tantivy::Result<Groups> {
        // Into the largest, so the fewest groups are moved.
        let mut fruits = fruits;
        fruits.sort_unstable_by_key(|fruit| std::cmp::Reverse(fruit.len()));
        let mut iter = fruits.into_iter();
        let mut merged = iter.next().unwrap_or_default();
        for fruit in iter {
            for (conversation, group) in fruit {
                absorb_into(&mut merged, conversation, group);
            }
        }
        Ok(merged)
    }
}

/// Adds `group` to the conversation's group in `groups`.
fn absorb_into(groups: &mut Groups, conversation: i64, group: Group) {
    groups
        .entry(conversation)
        .and_modify(|g| g.absorb(&group))
        .or_insert(group);
}

/// A column's values by document; every document has one id and one date, so the values are
/// read directly where the column is full (no per-document "first value" indirection).
fn values(column: Column<i64>) -> Arc<dyn ColumnValues<i64>> {
    if column.get_cardinality().is_full() {
        column.values
    } else {
        column.first_or_default_col(0)
    }
}

/// Reused buffers for [`SegmentCollector::collect_block`].
#[derive(Default)]
struct Block {
    conversations: Vec<i64>,
    dates: Vec<i64>,
}

/// Per-segment part of [`GroupCollector`].
pub(crate) struct GroupSegmentCollector {
    segment_ord: SegmentOrdinal,
    conversation: Arc<dyn ColumnValues<i64>>,
    date: Arc<dyn ColumnValues<i64>>,
    groups: Groups,
    /// The group of the conversation of the last match, not yet in `groups`.
    current: Option<(i64, Group)>,
    block: Block,
}

impl GroupSegmentCollector {
    fn add(&mut self, conversation: i64, one: Group) {
        match &mut self.current {
            Some((id, group)) if *id == conversation => group.absorb(&one),
            current => {
                if let Some((id, group)) = current.replace((conversation, one)) {
                    absorb_into(&mut self.groups, id, group);
                }
            }
        }
    }
}

impl GroupSegmentCollector {
    /// Matches with their scores (none: all 0), the columns read a block at a time.
    fn collect_scored(&mut self, docs: &[DocId], scores: &[Score]) {
        if docs.is_empty() {
            return;
        }
        let mut block = std::mem::take(&mut self.block);
        block.conversations.resize(docs.len(), 0);
        block.dates.resize(docs.len(), 0);
        self.conversation.get_vals(docs, &mut block.conversations);
        self.date.get_vals(docs, &mut block.dates);
        for (i, ((doc, conversation), date)) in docs
            .iter()
            .zip(&block.conversations)
            .zip(&block.dates)
            .enumerate()
        {
            let score = scores.get(i).copied().unwrap_or(0.0);
            self.add(
                *conversation,
                Group::new(score, *date, DocAddress::new(self.segment_ord, *doc)),
            );
        }
        self.block = block;
    }
}

impl SegmentCollector for GroupSegmentCollector {
    type Fruit = Groups;

    fn collect(&mut self, doc: DocId, score: Score) {
        let conversation = self.conversation.get_val(doc);
        let date = self.date.get_val(doc);
        self.add(
            conversation,
            Group::new(score, date, DocAddress::new(self.segment_ord, doc)),
        );
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.collect_scored(docs, &[]);
    }

    fn harvest(mut self) -> Groups {
        if let Some((id, group)) = self.current.take() {
            absorb_into(&mut self.groups, id, group);
        }
        self.groups
    }
}
