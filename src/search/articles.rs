//! The knowledge-base article search (src/assist/knowledge/): one small Tantivy index per
//! organization, in memory, built from the organization's article variants with the same
//! analyzers as the conversation index (folded plain words, and the Snowball stemmer of each
//! variant's language).
//!
//! Why in memory and rebuilt rather than a second index on disk kept in step: a shop has tens
//! to a few thousand articles, which index in milliseconds, and several nodes share one
//! database. Every knowledge change bumps the organization's version counter
//! (`knowledge_settings.version`) in the same transaction as the change; each search reads
//! that counter (one primary-key lookup) and rebuilds this node's index of the organization
//! when it differs from the version the index was built at. So an edit or a deletion on any
//! node is seen by the next search on every node, and there is no disk state to repair.
//!
//! Organization scope is by construction: the indexes are kept per [`OrgId`] and a search
//! names one; no index holds two organizations' articles.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query as TQuery, TermQuery};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, Schema, TantivyDocument, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, ReloadPolicy, Term, doc};

use super::analysis::{Lang, PLAIN, PLAIN_QUERY, analyze, register_analyzers, stem_analyzer};
use super::error::SearchError;
use crate::orgs::OrgId;

/// One language variant of an article, as indexed.
#[derive(Clone, Debug)]
pub struct ArticleDoc {
    pub article_id: i64,
    pub lang: Lang,
    pub title: String,
    pub body: String,
    /// Public and published: the help centre and the chat widget may show it.
    pub public: bool,
}

/// Which variants a search looks at.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArticleFilter {
    pub lang: Option<Lang>,
    pub public_only: bool,
}

/// A matching variant.
#[derive(Clone, Debug, PartialEq)]
pub struct ArticleHit {
    pub article_id: i64,
    pub lang: Lang,
    pub score: f32,
}

#[derive(Clone, Copy)]
struct Fields {
    article_id: Field,
    lang: Field,
    public: Field,
    plain: Field,
    stem: [Field; 6],
}

fn schema() -> (Schema, Fields) {
    let text = |tokenizer: &str, record| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(record),
        )
    };
    let mut b = Schema::builder();
    let article_id = b.add_i64_field("article_id", INDEXED | STORED);
    let lang = b.add_text_field("lang", text("raw", IndexRecordOption::Basic) | STORED);
    let public = b.add_text_field("public", text("raw", IndexRecordOption::Basic));
    let plain = b.add_text_field("plain", text(PLAIN, IndexRecordOption::WithFreqs));
    let stem = Lang::ALL.map(|l| {
        b.add_text_field(
            l.field_name(),
            text(l.analyzer_name(), IndexRecordOption::WithFreqs),
        )
    });
    let fields = Fields {
        article_id,
        lang,
        public,
        plain,
        stem,
    };
    (b.build(), fields)
}

/// One organization's articles, indexed at one version.
struct OrgIndex {
    version: i64,
    reader: IndexReader,
    fields: Fields,
}

/// Every organization's article index on this node, each tagged with the version it was built
/// at.
#[derive(Default)]
pub struct ArticleSearch {
    indexes: Mutex<HashMap<OrgId, Arc<OrgIndex>>>,
}

/// Words longer than this are not searched for (as in the conversation index).
const MAX_QUERY_WORDS: usize = 20;

impl ArticleSearch {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OrgId, Arc<OrgIndex>>> {
        self.indexes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True when this node's index of `org` was built at `version`.
    pub fn is_current(&self, org: OrgId, version: i64) -> bool {
        self.lock().get(&org).is_some_and(|i| i.version == version)
    }

    /// Builds `org`'s index from all its variants, at `version` (blocking: call it from
    /// `spawn_blocking`).
    pub fn rebuild(
        &self,
        org: OrgId,
        version: i64,
        docs: &[ArticleDoc],
    ) -> Result<(), SearchError> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        register_analyzers(index.tokenizers());
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, 15_000_000)?;
        for d in docs {
            let mut document = doc!(
                fields.article_id => d.article_id,
                fields.lang => d.lang.code(),
                fields.public => if d.public { "1" } else { "0" },
            );
            for text in [&d.title, &d.title, &d.body] {
                document.add_text(fields.plain, text);
                document.add_text(fields.stem[d.lang.index()], text);
            }
            writer.add_document(document)?;
        }
        writer.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        self.lock().insert(
            org,
            Arc::new(OrgIndex {
                version,
                reader,
                fields,
            }),
        );
        Ok(())
    }

    /// Forgets `org`'s index (the organization was purged).
    pub fn forget(&self, org: OrgId) {
        self.lock().remove(&org);
    }

    /// The variants of `org` matching every word of `text` (stemmed in the variant's language,
    /// or as folded words), best first. Nothing when `org` has no index yet.
    pub fn search(
        &self,
        org: OrgId,
        text: &str,
        filter: ArticleFilter,
        limit: usize,
    ) -> Result<Vec<ArticleHit>, SearchError> {
        let Some(index) = self.lock().get(&org).cloned() else {
            return Ok(Vec::new());
        };
        let f = index.fields;
        let words = |mut analyzer: TextAnalyzer| {
            let mut words = analyze(&mut analyzer, text);
            words.truncate(MAX_QUERY_WORDS);
            words
        };
        let all_of = |field: Field, words: Vec<String>| -> Option<Box<dyn TQuery>> {
            (!words.is_empty()).then(|| {
                Box::new(BooleanQuery::new(
                    words
                        .iter()
                        .map(|w| (Occur::Must, term(field, w)))
                        .collect(),
                )) as Box<dyn TQuery>
            })
        };
        let plain_query = index
            .reader
            .searcher()
            .index()
            .tokenizers()
            .get(PLAIN_QUERY);
        let mut should: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
        if let Some(analyzer) = plain_query
            && let Some(q) = all_of(f.plain, words(analyzer))
        {
            should.push((Occur::Should, q));
        }
        for lang in Lang::ALL {
            if filter.lang.is_some_and(|l| l != lang) {
                continue;
            }
            if let Some(q) = all_of(f.stem[lang.index()], words(stem_analyzer(lang))) {
                should.push((Occur::Should, q));
            }
        }
        if should.is_empty() {
            return Ok(Vec::new());
        }
        let mut must: Vec<(Occur, Box<dyn TQuery>)> =
            vec![(Occur::Must, Box::new(BooleanQuery::new(should)))];
        if let Some(lang) = filter.lang {
            must.push((Occur::Must, term(f.lang, lang.code())));
        }
        if filter.public_only {
            must.push((Occur::Must, term(f.public, "1")));
        }
        let searcher = index.reader.searcher();
        let top = searcher.search(
            &BooleanQuery::new(must),
            &TopDocs::with_limit(limit.max(1)).order_by_score(),
        )?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let article_id = doc
                .get_first(f.article_id)
                .and_then(|v| v.as_i64())
                .unwrap_or_default();
            let lang = doc
                .get_first(f.lang)
                .and_then(|v| v.as_str())
                .and_then(Lang::from_code)
                .unwrap_or(Lang::En);
            hits.push(ArticleHit {
                article_id,
                lang,
                score,
            });
        }
        Ok(hits)
    }
}

fn term(field: Field, text: &str) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: i64, lang: Lang, title: &str, body: &str, public: bool) -> ArticleDoc {
        ArticleDoc {
            article_id: id,
            lang,
            title: title.into(),
            body: body.into(),
            public,
        }
    }

    #[test]
    fn stemmed_words_find_their_language_and_orgs_stay_apart() {
        let search = ArticleSearch::default();
        let org = OrgId::from_db(1);
        let other = OrgId::from_db(2);
        search
            .rebuild(
                org,
                1,
                &[
                    article(
                        1,
                        Lang::De,
                        "Rücksendung",
                        "So senden Sie Bestellungen zurück",
                        true,
                    ),
                    article(
                        2,
                        Lang::Fr,
                        "Livraison",
                        "Les livraisons arrivent en trois jours",
                        false,
                    ),
                ],
            )
            .unwrap();
        search
            .rebuild(
                other,
                1,
                &[article(3, Lang::De, "Bestellung", "Bestellungen", true)],
            )
            .unwrap();
        let ids = |q: &str, filter| {
            search
                .search(org, q, filter, 10)
                .unwrap()
                .into_iter()
                .map(|h| h.article_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("Bestellung", ArticleFilter::default()), vec![1]);
        assert_eq!(ids("livraison", ArticleFilter::default()), vec![2]);
        assert_eq!(ids("rucksendung", ArticleFilter::default()), vec![1]);
        let public = ArticleFilter {
            public_only: true,
            lang: None,
        };
        assert!(ids("livraison", public).is_empty());
        assert!(search.is_current(org, 1));
        assert!(!search.is_current(org, 2));
    }

    /// An index of many variants answers every two-word query with the variants holding both
    /// words, and prints how long it took (figures, not asserted). `LETHE_ARTICLE_FIGURES=300,3000
    /// cargo test --features test-hooks --lib article_index_figures -- --nocapture` measures
    /// larger indexes (tantivy built at opt-level 2 in dev); the suite runs 300.
    #[test]
    fn article_index_figures() {
        let words = [
            "Bestellung",
            "Rücksendung",
            "livraison",
            "remboursement",
            "parcel",
            "refund",
            "envío",
            "spedizione",
            "bezorging",
            "Rechnung",
            "facture",
            "tracking",
            "Adresse",
        ];
        let counts: Vec<usize> = std::env::var("LETHE_ARTICLE_FIGURES")
            .ok()
            .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![300]);
        for count in counts {
            let docs: Vec<ArticleDoc> = (0..count)
                .map(|i| {
                    let lang = Lang::ALL[i % 6];
                    let body: Vec<&str> = (0..120)
                        .map(|j| words[(i * 7 + j * 3) % words.len()])
                        .collect();
                    article(
                        i as i64 / 3,
                        lang,
                        &format!("Article {i}"),
                        &body.join(" "),
                        i % 2 == 0,
                    )
                })
                .collect();
            let search = ArticleSearch::default();
            let org = OrgId::from_db(1);
            let started = std::time::Instant::now();
            search.rebuild(org, 1, &docs).unwrap();
            let rebuild = started.elapsed();
            let mut times = Vec::new();
            for i in 0..500 {
                let q = format!(
                    "{} {}",
                    words[i % words.len()],
                    words[(i + 5) % words.len()]
                );
                let started = std::time::Instant::now();
                let hits = search
                    .search(org, &q, ArticleFilter::default(), 20)
                    .unwrap();
                times.push(started.elapsed());
                // Each word pair recurs across the generated bodies: something always matches,
                // and only variants that hold both words.
                assert!(!hits.is_empty(), "{q}");
                for hit in &hits {
                    let doc = docs
                        .iter()
                        .find(|d| d.article_id == hit.article_id && d.lang == hit.lang)
                        .expect("a hit is an indexed variant");
                    let folded = doc.body.to_lowercase();
                    for word in q.split(' ') {
                        assert!(
                            folded.contains(&word.to_lowercase()),
                            "{word} in {}",
                            hit.article_id
                        );
                    }
                }
            }
            times.sort();
            println!(
                "{count} variants (~120 words each): rebuild {:?}, search p50 {:?} p99 {:?}",
                rebuild,
                times[times.len() / 2],
                times[times.len() * 99 / 100]
            );
        }
    }
}
