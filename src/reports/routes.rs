//! `GET /reports` (the page: figures, two SVG charts, the tables) and `GET /reports.csv`
//! (one table as CSV). Admins and owners only; a bad period is a 400 naming the field.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;

use super::csv::Table;
use super::query::{self, Line, Names, Period, PeriodQuery, Report, human};
use super::svg;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::page::download;
use crate::web::{AppError, Page, render};

/// One line as the page shows it.
pub struct LineView {
    pub label: String,
    pub new: u64,
    pub closed: u64,
    pub first_response_median: String,
    pub first_response_p90: String,
    pub resolution_median: String,
    pub resolution_p90: String,
    pub sla_first_response: String,
    pub sla_resolution: String,
}

fn percent(value: Option<u64>) -> String {
    value
        .map(|p| format!("{p} %"))
        .unwrap_or_else(|| "—".to_owned())
}

impl From<&Line> for LineView {
    fn from(line: &Line) -> Self {
        Self {
            label: line.label.clone(),
            new: line.new,
            closed: line.closed,
            first_response_median: human(line.first_response.median),
            first_response_p90: human(line.first_response.p90),
            resolution_median: human(line.resolution.median),
            resolution_p90: human(line.resolution.p90),
            sla_first_response: percent(line.sla_first_response.percent()),
            sla_resolution: percent(line.sla_resolution.percent()),
        }
    }
}

/// A breakdown table of the page.
pub struct TableView {
    pub id: &'static str,
    pub heading_key: &'static str,
    pub first_key: &'static str,
    pub csv: String,
    pub lines: Vec<LineView>,
}

#[derive(Template)]
#[template(path = "reports/page.html")]
struct ReportsPage {
    page: Page,
    from: String,
    to: String,
    week: bool,
    total: LineView,
    volume_svg: String,
    hours_svg: String,
    tables: Vec<TableView>,
    hours_csv: String,
    /// How suggestions fared in the period (src/assist/suggest/), when any were made.
    suggestions: Option<crate::assist::suggest::store::Tally>,
}

/// The report the query asks for, with every pending fact settled first.
async fn load(
    state: &AppState,
    scope: &TenantScope,
    page: &Page,
    query: &PeriodQuery,
) -> Result<Report, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let zone = super::zone(&state.db, org).await?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let period = Period::parse(query, today)?;
    super::facts::settle(state, Some(org)).await?;
    let names = Names {
        unassigned: page.t("reports.unassigned").to_owned(),
        former_member: page.t("reports.former_member").to_owned(),
        no_channel: page.t("reports.no_channel").to_owned(),
        removed_channel: page.t("reports.removed_channel").to_owned(),
        removed_tag: page.t("reports.removed_tag").to_owned(),
    };
    query::report(&state.db, org, period, &zone, &names).await
}

fn csv_link(period: &Period, table: Table) -> String {
    format!(
        "{}?table={}&from={}&to={}&group={}",
        crate::web::paths::REPORTS_CSV,
        table.as_str(),
        period.from,
        period.to,
        period.group.as_str()
    )
}

/// `GET /reports?from=YYYY-MM-DD&to=YYYY-MM-DD&group=day|week` (admins).
pub async fn page(
    state: web::Data<AppState>,
    scope: TenantScope,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let page = Page::new(&state, &scope.session, "reports").await?;
    let report = load(&state, &scope, &page, &query).await?;
    let period = report.period;
    let range = [
        ("from", period.from.to_string()),
        ("to", period.to.to_string()),
    ];
    let args: Vec<(&str, &str)> = range.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let new = report.total.new.to_string();
    let closed = report.total.closed.to_string();
    let mut volume_args = args.clone();
    volume_args.push(("new", new.as_str()));
    volume_args.push(("closed", closed.as_str()));
    let volume_svg = svg::volume(
        &report,
        &svg::Texts {
            title: page.tf(
                if period.group == query::Group::Week {
                    "reports.chart_volume_week"
                } else {
                    "reports.chart_volume_day"
                },
                &args,
            ),
            desc: page.tf("reports.chart_volume_desc", &volume_args),
            new: page.t("reports.new").to_owned(),
            closed: page.t("reports.closed").to_owned(),
        },
    );
    let weekdays: [String; 7] = [
        "reports.mon",
        "reports.tue",
        "reports.wed",
        "reports.thu",
        "reports.fri",
        "reports.sat",
        "reports.sun",
    ]
    .map(|k| page.t(k).to_owned());
    let (busiest_day, busiest_hour, busiest) = report
        .hours
        .iter()
        .enumerate()
        .flat_map(|(d, row)| row.iter().enumerate().map(move |(h, n)| (d, h, *n)))
        .max_by_key(|(_, _, n)| *n)
        .unwrap_or((0, 0, 0));
    let hour = format!("{busiest_hour:02}:00");
    let count = busiest.to_string();
    let hours_desc = if busiest == 0 {
        page.t("reports.chart_hours_empty").to_owned()
    } else {
        page.tf(
            "reports.chart_hours_desc",
            &[
                ("day", weekdays[busiest_day].as_str()),
                ("hour", hour.as_str()),
                ("count", count.as_str()),
            ],
        )
    };
    let hours_svg = svg::hours(
        &report,
        page.t("reports.chart_hours"),
        &hours_desc,
        &weekdays,
    );
    let table = |id: Table, heading_key, first_key, lines: &[Line]| TableView {
        id: id.as_str(),
        heading_key,
        first_key,
        csv: csv_link(&period, id),
        lines: lines.iter().map(LineView::from).collect(),
    };
    let buckets: Vec<Line> = report.buckets.iter().map(|(_, l)| l.clone()).collect();
    let tables = vec![
        table(
            Table::Volume,
            "reports.by_period",
            if period.group == query::Group::Week {
                "reports.week"
            } else {
                "reports.day"
            },
            &buckets,
        ),
        table(
            Table::Agents,
            "reports.by_agent",
            "reports.agent",
            &report.agents,
        ),
        table(Table::Tags, "reports.by_tag", "reports.tag", &report.tags),
        table(
            Table::Channels,
            "reports.by_channel",
            "reports.channel",
            &report.channels,
        ),
    ];
    let since = period
        .from
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or_default();
    let until = (period.to + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or_default();
    let tally = crate::assist::suggest::store::tally(&state.db, scope.org(), since, until).await?;
    render(&ReportsPage {
        suggestions: (tally != Default::default()).then_some(tally),
        from: period.from.to_string(),
        to: period.to.to_string(),
        week: period.group == query::Group::Week,
        total: LineView::from(&report.total),
        volume_svg,
        hours_svg,
        tables,
        hours_csv: csv_link(&period, Table::Hours),
        page,
    })
}

#[derive(serde::Deserialize)]
pub struct CsvQuery {
    table: Option<String>,
    #[serde(flatten)]
    period: PeriodQuery,
}

/// `GET /reports.csv?table=…&from=…&to=…&group=…` (admins): one table as a CSV download.
pub async fn download_csv(
    state: web::Data<AppState>,
    scope: TenantScope,
    query: web::Query<CsvQuery>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let table = query
        .table
        .as_deref()
        .and_then(Table::parse)
        .ok_or(AppError::BadRequest("reports.bad_table"))?;
    let page = Page::new(&state, &scope.session, "reports").await?;
    let report = load(&state, &scope, &page, &query.period).await?;
    let body = super::csv::table(&report, table);
    let name = format!(
        "lethe-report-{}-{}-{}.csv",
        table.as_str(),
        report.period.from,
        report.period.to
    );
    Ok(download("text/csv; charset=utf-8", &name).body(body))
}
