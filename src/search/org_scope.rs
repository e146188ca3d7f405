//! [`OrgScope`]: the organization clause every compiled query carries (DESIGN.md invariant 1).
//!
//! It matches exactly the documents whose `org` is the organization, like a term query on the
//! `org` field, but looks at each segment's `org` column first: a segment that holds only
//! this organization's documents (the usual case on a single-shop server) gets an
//! [`AllScorer`], which Tantivy's boolean query drops from an intersection instead of seeking
//! through a posting list that names every document; a segment without the organization gets
//! no documents at all. Either way the clause neither widens nor narrows the result, and it
//! adds nothing to the score.

use tantivy::columnar::Column;
use tantivy::query::{
    AllScorer, ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer, TermQuery,
    Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, Score, SegmentReader, Term};

use super::schema::ORG;
use crate::orgs::OrgId;

/// Matches the documents of one organization.
#[derive(Clone, Debug)]
pub(crate) struct OrgScope {
    field: Field,
    org: i64,
}

impl OrgScope {
    pub(crate) fn new(field: Field, org: OrgId) -> Self {
        OrgScope {
            field,
            org: org.get(),
        }
    }

    fn term_query(&self) -> TermQuery {
        TermQuery::new(
            Term::from_field_i64(self.field, self.org),
            IndexRecordOption::Basic,
        )
    }
}

impl Query for OrgScope {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        // The term weight is only used for segments shared by several organizations, and
        // never scores.
        let terms = self
            .term_query()
            .weight(EnableScoring::disabled_from_schema(scoring.schema()))?;
        Ok(Box::new(OrgScopeWeight {
            org: self.org,
            terms,
        }))
    }
}

struct OrgScopeWeight {
    org: i64,
    terms: Box<dyn Weight>,
}

/// Which documents of a segment belong to the organization, judged by the column's bounds.
enum SegmentShare {
    All,
    None,
    Some,
}

fn share(org: i64, column: &Column<i64>, num_docs: u32) -> SegmentShare {
    if num_docs == 0 {
        return SegmentShare::None;
    }
    let (min, max) = (column.min_value(), column.max_value());
    // Every document has an org value (it is added to each one), so a column whose bounds
    // are both the organization holds it alone.
    let every_doc_has_one = column.get_cardinality().is_full();
    if min == org && max == org && every_doc_has_one {
        SegmentShare::All
    } else if org < min || org > max {
        SegmentShare::None
    } else {
        SegmentShare::Some
    }
}

impl Weight for OrgScopeWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let column = reader.fast_fields().i64(ORG)?;
        Ok(match share(self.org, &column, reader.max_doc()) {
            SegmentShare::All => Box::new(AllScorer::new(reader.max_doc())),
            SegmentShare::None => Box::new(EmptyScorer),
            SegmentShare::Some => {
                Box::new(ConstScorer::new(self.terms.scorer(reader, boost)?, 0.0))
            }
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.terms.explain(reader, doc)
    }
}
