//! The knowledge base and the public help centre (issue 17).
//!
//! Articles are Markdown, one variant per language (en, de, fr, es, it, nl) under a stable
//! slug, grouped in categories, internal or public, draft or published. Agents read and write
//! articles; admins (and owners) also manage categories, delete articles and set up the help
//! centre. Every change writes an audit entry and bumps the organization's knowledge version,
//! on which each node's article search index rebuilds (`crate::search::ArticleSearch`).
//!
//! - [`model`]: the checked types (slug, language) and the queries;
//! - [`markdown`]: rendering (pulldown-cmark, then ammonia) and plain text for replies;
//! - [`find`]: the article search, kept in step with the database through the version;
//! - [`pages`]: `/knowledge`, its article pages and forms;
//! - [`categories`]: `/knowledge/categories` and `/knowledge/settings` (admins);
//! - [`insert`]: finding an article from a conversation and putting it into the draft;
//! - [`help`]: the public help centre at `/help/{slug}` (no session, no cookie);
//! - [`export`]: the knowledge base in the organization export (the purge is
//!   [`model::purge`], called by `crate::orgs::purge`).

pub mod categories;
pub mod export;
pub mod find;
pub mod help;
pub mod insert;
pub mod markdown;
pub mod model;
pub mod pages;
