//! The Tantivy schema, built in one function, and its fields resolved once.
//!
//! One document per message. Text is indexed three ways: `plain` (folded words with
//! positions, for exact words and phrases), one stemmed field per language (a document fills
//! only the field of its detected language), and `code` (order numbers, SKUs, emails whole and
//! in parts). Filters use keyword fields; ids and the date are fast fields.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions,
};

use super::analysis::{Lang, PLAIN};

/// Field names (also the names of the fast-field columns).
pub(crate) const ORG: &str = "org";
pub(crate) const MESSAGE_ID: &str = "message_id";
pub(crate) const CONVERSATION_ID: &str = "conversation_id";
pub(crate) const DATE: &str = "date_us";

/// All fields of the schema.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    pub org: Field,
    pub message_id: Field,
    pub conversation_id: Field,
    /// Microseconds since the Unix epoch, UTC.
    pub date: Field,
    pub subject: Field,
    pub body: Field,
    pub lang: Field,
    pub plain: Field,
    pub stem: [Field; 6],
    pub code: Field,
    pub from: Field,
    pub to: Field,
    pub tag: Field,
    pub status: Field,
    pub channel: Field,
    pub direction: Field,
    pub assignee: Field,
    pub has: Field,
}

fn keyword_options() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

fn text_options(tokenizer: &str, record: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(record),
    )
}

/// Builds the schema.
pub(crate) fn build_schema() -> Schema {
    let mut b = Schema::builder();
    b.add_i64_field(ORG, INDEXED | FAST);
    b.add_i64_field(MESSAGE_ID, INDEXED | FAST);
    b.add_i64_field(CONVERSATION_ID, INDEXED | FAST);
    b.add_i64_field(DATE, INDEXED | FAST);
    b.add_text_field("subject", STORED);
    b.add_text_field("body", STORED);
    b.add_text_field("lang", STORED);
    b.add_text_field(
        "plain",
        text_options(PLAIN, IndexRecordOption::WithFreqsAndPositions),
    );
    for lang in Lang::ALL {
        b.add_text_field(
            lang.field_name(),
            text_options(lang.analyzer_name(), IndexRecordOption::WithFreqs),
        );
    }
    b.add_text_field("code", text_options("raw", IndexRecordOption::WithFreqs));
    for name in [
        "from",
        "to",
        "tag",
        "status",
        "channel",
        "direction",
        "assignee",
        "has",
    ] {
        b.add_text_field(name, keyword_options());
    }
    b.build()
}

impl Fields {
    /// Resolves every field of `schema`; fails if the index was made with another schema.
    pub(crate) fn resolve(schema: &Schema) -> tantivy::Result<Fields> {
        let f = |name: &str| schema.get_field(name);
        Ok(Fields {
            org: f(ORG)?,
            message_id: f(MESSAGE_ID)?,
            conversation_id: f(CONVERSATION_ID)?,
            date: f(DATE)?,
            subject: f("subject")?,
            body: f("body")?,
            lang: f("lang")?,
            plain: f("plain")?,
            stem: [
                f(Lang::En.field_name())?,
                f(Lang::De.field_name())?,
                f(Lang::Fr.field_name())?,
                f(Lang::Es.field_name())?,
                f(Lang::It.field_name())?,
                f(Lang::Nl.field_name())?,
            ],
            code: f("code")?,
            from: f("from")?,
            to: f("to")?,
            tag: f("tag")?,
            status: f("status")?,
            channel: f("channel")?,
            direction: f("direction")?,
            assignee: f("assignee")?,
            has: f("has")?,
        })
    }
}
