//! A Tantivy collector that groups matching messages by conversation in one pass.
//!
//! For each conversation it keeps the number of matching messages, the best-scoring message
//! and the newest message, so both sort orders, exact conversation totals and pagination come
//! out of a single scan of the matches.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::ColumnValues;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::schema::{CONVERSATION_ID, DATE};

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
            conversation: fast.i64(CONVERSATION_ID)?.first_or_default_col(0),
            date: fast.i64(DATE)?.first_or_default_col(0),
            groups: Groups::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<Groups>) -> tantivy::Result<Groups> {
        let mut iter = fruits.into_iter();
        let mut merged = iter.next().unwrap_or_default();
        for fruit in iter {
            for (conversation, group) in fruit {
                merged
                    .entry(conversation)
                    .and_modify(|g| g.absorb(&group))
                    .or_insert(group);
            }
        }
        Ok(merged)
    }
}

/// Per-segment part of [`GroupCollector`].
pub(crate) struct GroupSegmentCollector {
    segment_ord: SegmentOrdinal,
    conversation: Arc<dyn ColumnValues<i64>>,
    date: Arc<dyn ColumnValues<i64>>,
    groups: Groups,
}

impl SegmentCollector for GroupSegmentCollector {
    type Fruit = Groups;

    fn collect(&mut self, doc: DocId, score: Score) {
        let conversation = self.conversation.get_val(doc);
        let date = self.date.get_val(doc);
        let one = Group::new(score, date, DocAddress::new(self.segment_ord, doc));
        self.groups
            .entry(conversation)
            .and_modify(|g| g.absorb(&one))
            .or_insert(one);
    }

    fn harvest(self) -> Groups {
        self.groups
    }
}
