//! The knowledge base in the organization export (src/orgs/export.rs): the help centre's
//! settings, the categories, and every article with all its language variants.
//!
//! ```text
//! knowledge: { help_centre: { slug, title, default_language },
//!              categories: [ { id, name, position } ],
//!              articles: [ { id, slug, category_id, public, published, created_at, updated_at,
//!                            variants: [ { language, title, body, updated_at } ] } ] }
//! ```

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

use super::model;
use crate::orgs::OrgId;

#[derive(Serialize)]
pub struct KnowledgeExport {
    help_centre: HelpCentreRecord,
    categories: Vec<CategoryRecord>,
    articles: Vec<ArticleRecord>,
}

#[derive(Serialize)]
struct HelpCentreRecord {
    slug: Option<String>,
    title: String,
    default_language: String,
}

#[derive(Serialize)]
struct CategoryRecord {
    id: i64,
    name: String,
    position: i32,
}

#[derive(Serialize)]
struct ArticleRecord {
    id: i64,
    slug: String,
    category_id: Option<i64>,
    public: bool,
    published: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    variants: Vec<VariantRecord>,
}

#[derive(Serialize)]
struct VariantRecord {
    language: String,
    title: String,
    body: String,
    updated_at: DateTime<Utc>,
}

/// Everything the knowledge base holds for `org`.
pub async fn of(db: &impl ConnectionTrait, org: OrgId) -> Result<KnowledgeExport, DbErr> {
    let settings = model::settings(db, org).await?;
    Ok(KnowledgeExport {
        help_centre: HelpCentreRecord {
            slug: settings.help_slug,
            title: settings.help_title,
            default_language: settings.default_language,
        },
        categories: model::categories(db, org)
            .await?
            .into_iter()
            .map(|c| CategoryRecord {
                id: c.id,
                name: c.name,
                position: c.position,
            })
            .collect(),
        articles: model::articles(db, org)
            .await?
            .into_iter()
            .map(|a| ArticleRecord {
                id: a.row.id,
                slug: a.row.slug,
                category_id: a.row.category_id,
                public: a.row.public,
                published: a.row.published,
                created_at: a.row.created_at,
                updated_at: a.row.updated_at,
                variants: a
                    .variants
                    .into_iter()
                    .map(|v| VariantRecord {
                        language: v.language,
                        title: v.title,
                        body: v.body,
                        updated_at: v.updated_at,
                    })
                    .collect(),
            })
            .collect(),
    })
}
