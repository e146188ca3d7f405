//! Searching the knowledge base: reads the organization's knowledge version (one lookup), has
//! this node's in-memory article index rebuilt from the database when it was built at another
//! version, then asks it (`crate::search::ArticleSearch`). Blocking Tantivy work runs on the
//! blocking pool.

use crate::orgs::OrgId;
use crate::search::{ArticleDoc, ArticleFilter, ArticleHit};
use crate::state::AppState;
use crate::web::AppError;

use super::model;

/// At most this many results.
pub const LIMIT: usize = 20;

/// The organization's variants matching `text`, best first.
pub async fn search(
    state: &AppState,
    org: OrgId,
    text: &str,
    filter: ArticleFilter,
) -> Result<Vec<ArticleHit>, AppError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let version = model::settings(&state.db, org).await?.version;
    if !state.articles.is_current(org, version) {
        let docs: Vec<ArticleDoc> = model::articles(&state.db, org)
            .await?
            .into_iter()
            .flat_map(|a| {
                let public = a.is_shown_publicly();
                let id = a.row.id;
                a.variants.into_iter().filter_map(move |v| {
                    Some(ArticleDoc {
                        article_id: id,
                        lang: model::parse_lang(&v.language)?,
                        title: v.title,
                        body: v.body,
                        public,
                    })
                })
            })
            .collect();
        let building = state.articles.clone();
        tokio::task::spawn_blocking(move || building.rebuild(org, version, &docs))
            .await
            .map_err(|e| AppError::internal(format!("article index build: {e}")))?
            .map_err(|e| AppError::internal(e.to_string()))?;
    }
    let searching = state.articles.clone();
    let text = text.to_owned();
    tokio::task::spawn_blocking(move || searching.search(org, &text, filter, LIMIT))
        .await
        .map_err(|e| AppError::internal(format!("article search: {e}")))?
        .map_err(|e| AppError::internal(e.to_string()))
}
