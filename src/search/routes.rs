//! `/search?q=&sort=relevance|newest&page=N`: the organization's conversations that match a
//! query, grouped by conversation, with highlighted snippets. A malformed query is explained
//! on the page (400); an empty one shows how to search.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query as Sql};
use serde::Deserialize;

use super::{Page as ResultPage, Query, QueryError, SearchContext, SearchError, Sort};
use crate::db::InOrg;
use crate::db::entity::{conversation, customer};
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::i18n::Tr;
use crate::web::page::render_with_status;
use crate::web::paths;
use crate::web::{AppError, Page};

/// Conversations per page.
const PER_PAGE: usize = 20;
/// The last page one can go to (deeper pages cost more than they help).
const MAX_PAGE: usize = 500;

/// The query string, read leniently: a bad `page` or `sort` falls back to the default.
#[derive(Deserialize, Default)]
pub struct SearchParams {
    #[serde(default, deserialize_with = "crate::web::forms::one_line")]
    q: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

/// One conversation on the results page.
pub struct HitView {
    pub conversation_id: i64,
    pub subject: String,
    pub customer: String,
    pub date: String,
    pub date_iso: String,
    /// Escaped text with `<mark>` around matches (built in `results.rs`), safe to embed.
    pub snippet_html: String,
    pub matching_messages: usize,
    /// The customer's processing is restricted (only admins get such hits).
    pub restricted: bool,
}

#[derive(Template)]
#[template(path = "search/results.html")]
struct SearchPage {
    page: Page,
    q: String,
    newest: bool,
    error: Option<String>,
    total: usize,
    hits: Vec<HitView>,
    number: usize,
    prev: Option<String>,
    next: Option<String>,
    relevance_link: String,
    newest_link: String,
}

pub async fn search(
    state: web::Data<AppState>,
    scope: TenantScope,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, AppError> {
    state.rate_limits.search(scope.user_id())?;
    let q = params.q.clone().unwrap_or_default().trim().to_owned();
    let newest = params.sort.as_deref() == Some("newest");
    let number = params
        .page
        .as_deref()
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_PAGE);
    let page = Page::new(&state, &scope.session, "search").await?;
    let mut view = SearchPage {
        relevance_link: link(&q, false, 1),
        newest_link: link(&q, true, 1),
        page,
        q,
        newest,
        error: None,
        total: 0,
        hits: Vec::new(),
        number,
        prev: None,
        next: None,
    };
    if view.q.is_empty() {
        return render_with_status(&view, StatusCode::OK);
    }
    let query = match Query::parse(&view.q) {
        Ok(query) => query,
        Err(error) => return explain(view, &error),
    };
    let index = state.search.clone();
    let org = scope.org();
    // Restricted customers' conversations: left out for agents, marked for admins.
    let restricted = crate::privacy::restrict::restricted_conversation_ids(&state.db, org).await?;
    let ctx = SearchContext {
        me: Some(scope.user_id()),
        hidden_conversations: if scope.role().is_admin() {
            Vec::new()
        } else {
            restricted.clone()
        },
    };
    let result_page = ResultPage {
        number,
        per_page: PER_PAGE,
        sort: if newest {
            Sort::Newest
        } else {
            Sort::Relevance
        },
    };
    let started = std::time::Instant::now();
    let found = tokio::task::spawn_blocking(move || index.search(org, &query, &ctx, result_page))
        .await
        .map_err(AppError::internal)?;
    let search_ms = started.elapsed().as_secs_f64() * 1000.0;
    let results = match found {
        Ok(results) => results,
        Err(SearchError::Query(error)) => return explain(view, &error),
        Err(error) => return Err(error.into()),
    };
    let ids: Vec<i64> = results.hits.iter().map(|h| h.conversation_id).collect();
    let summaries = conversation_summaries(&state, &scope, &ids).await?;
    // The access log: each customer the results showed (once per page).
    let shown: std::collections::BTreeSet<i64> =
        summaries.iter().filter_map(|s| s.customer_id).collect();
    for customer_id in shown {
        state.access.opened(
            &scope,
            crate::audit::access::Kind::Search,
            Some(customer_id),
            None,
        );
    }
    view.total = results.total_conversations;
    view.hits = results
        .hits
        .into_iter()
        .map(|hit| {
            let summary = summaries.iter().find(|s| s.id == hit.conversation_id);
            HitView {
                conversation_id: hit.conversation_id,
                customer: summary.map(|s| s.customer.clone()).unwrap_or_default(),
                subject: summary.map_or(hit.subject, |s| s.subject.clone()),
                date: hit.date.format("%Y-%m-%d %H:%M").to_string(),
                date_iso: hit.date.to_rfc3339(),
                snippet_html: hit.snippet_html,
                matching_messages: hit.matching_messages,
                restricted: restricted.contains(&hit.conversation_id),
            }
        })
        .collect();
    if number > 1 {
        view.prev = Some(link(&view.q, newest, number - 1));
    }
    if number * PER_PAGE < view.total && number < MAX_PAGE {
        view.next = Some(link(&view.q, newest, number + 1));
    }
    let mut response = render_with_status(&view, StatusCode::OK)?;
    // How long the index took, for benchmarks and the browser's developer tools.
    if let Ok(value) = HeaderValue::from_str(&format!("index;dur={search_ms:.3}")) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("server-timing"), value);
    }
    Ok(response)
}

/// A found conversation as the inbox shows it.
struct Summary {
    id: i64,
    subject: String,
    customer: String,
    customer_id: Option<i64>,
}

/// Subject and customer name of each conversation, read within the tenant (one query).
async fn conversation_summaries(
    state: &AppState,
    scope: &TenantScope,
    conversation_ids: &[i64],
) -> Result<Vec<Summary>, sea_orm::DbErr> {
    if conversation_ids.is_empty() {
        return Ok(Vec::new());
    }
    let org = scope.org();
    let query = Sql::select()
        .column((conversation::Entity, conversation::Column::Id))
        .column((conversation::Entity, conversation::Column::Subject))
        .column((conversation::Entity, conversation::Column::CustomerId))
        .expr_as(
            Expr::col((customer::Entity, customer::Column::DisplayName)),
            Alias::new("customer_name"),
        )
        .from(conversation::Entity)
        .left_join(
            customer::Entity,
            Expr::col((customer::Entity, customer::Column::Id))
                .equals((conversation::Entity, conversation::Column::CustomerId))
                .and(customer::Entity::org_check(org)),
        )
        .and_where(conversation::Entity::org_check(org))
        .and_where(
            Expr::col((conversation::Entity, conversation::Column::Id))
                .is_in(conversation_ids.iter().copied()),
        )
        .to_owned();
    let mut summaries = Vec::with_capacity(conversation_ids.len());
    for row in state.db.query_all(&query).await? {
        summaries.push(Summary {
            id: row.try_get("", "id")?,
            subject: row.try_get("", "subject")?,
            customer_id: row.try_get("", "customer_id")?,
            customer: row
                .try_get::<Option<String>>("", "customer_name")?
                .unwrap_or_default(),
        });
    }
    Ok(summaries)
}

/// The page again, with the query's mistake in plain words (400).
fn explain(mut view: SearchPage, error: &QueryError) -> Result<HttpResponse, AppError> {
    view.error = Some(error_text(view.page.tr, error));
    render_with_status(&view, StatusCode::BAD_REQUEST)
}

/// A query mistake in the user's language.
pub fn error_text(tr: Tr, error: &QueryError) -> String {
    match error {
        QueryError::UnknownFilter(name) => tr.tf("search.error.unknown_filter", &[("name", name)]),
        QueryError::MissingValue { filter, example } => tr.tf(
            "search.error.missing_value",
            &[("name", filter), ("example", example)],
        ),
        QueryError::BadDate(filter) => tr.tf("search.error.bad_date", &[("name", filter)]),
        QueryError::BadStatus(value) => tr.tf("search.error.bad_status", &[("value", value)]),
        QueryError::BadDirection(value) => tr.tf("search.error.bad_direction", &[("value", value)]),
        QueryError::BadAssignee(value) => tr.tf("search.error.bad_assignee", &[("value", value)]),
        QueryError::BadHas(value) => tr.tf("search.error.bad_has", &[("value", value)]),
        QueryError::UnclosedQuote => tr.t("search.error.unclosed_quote").to_owned(),
        QueryError::NoTerms => tr.t("search.error.no_terms").to_owned(),
        QueryError::TooLong => tr.t("search.error.too_long").to_owned(),
        QueryError::TooManyParts => tr.t("search.error.too_many_parts").to_owned(),
        QueryError::NoCurrentUser => tr.t("search.error.no_user").to_owned(),
    }
}

/// The URL of a results page.
fn link(q: &str, newest: bool, page: usize) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    out.append_pair("q", q);
    if newest {
        out.append_pair("sort", "newest");
    }
    if page > 1 {
        out.append_pair("page", &page.to_string());
    }
    format!("{}?{}", paths::SEARCH, out.finish())
}
