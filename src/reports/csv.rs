//! The report's tables as CSV (RFC 4180: every field quoted, quotes doubled, CRLF line ends;
//! a field that a spreadsheet would take for a formula gets a leading `'`). Durations are in
//! seconds, rates in percent; an empty field is "no value".

use super::query::{Line, Rate, Report};

/// The tables that can be downloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Volume,
    Agents,
    Tags,
    Channels,
    Hours,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Volume,
        Table::Agents,
        Table::Tags,
        Table::Channels,
        Table::Hours,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Table::Volume => "volume",
            Table::Agents => "agents",
            Table::Tags => "tags",
            Table::Channels => "channels",
            Table::Hours => "hours",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value.trim())
    }
}

/// One quoted field.
pub fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

fn row(out: &mut String, fields: &[String]) {
    let quoted: Vec<String> = fields.iter().map(|f| field(f)).collect();
    out.push_str(&quoted.join(","));
    out.push_str("\r\n");
}

fn opt(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn rate(rate: &Rate) -> String {
    opt(rate.percent())
}

const LINE_HEADER: [&str; 8] = [
    "new",
    "closed",
    "first_response_median_s",
    "first_response_p90_s",
    "resolution_median_s",
    "resolution_p90_s",
    "sla_first_response_pct",
    "sla_resolution_pct",
];

fn line_fields(first: &str, line: &Line) -> Vec<String> {
    vec![
        first.to_owned(),
        line.new.to_string(),
        line.closed.to_string(),
        opt(line.first_response.median),
        opt(line.first_response.p90),
        opt(line.resolution.median),
        opt(line.resolution.p90),
        rate(&line.sla_first_response),
        rate(&line.sla_resolution),
    ]
}

/// A table of the report as CSV text.
pub fn table(report: &Report, table: Table) -> String {
    let mut out = String::new();
    let header = |first: &str| {
        std::iter::once(first.to_owned())
            .chain(LINE_HEADER.iter().map(|h| (*h).to_owned()))
            .collect::<Vec<_>>()
    };
    match table {
        Table::Volume => {
            row(&mut out, &header(report.period.group.as_str()));
            for (day, line) in &report.buckets {
                row(
                    &mut out,
                    &line_fields(&day.format("%Y-%m-%d").to_string(), line),
                );
            }
        }
        Table::Agents | Table::Tags | Table::Channels => {
            let (name, lines) = match table {
                Table::Agents => ("agent", &report.agents),
                Table::Tags => ("tag", &report.tags),
                _ => ("channel", &report.channels),
            };
            row(&mut out, &header(name));
            for line in lines {
                row(&mut out, &line_fields(&line.label, line));
            }
        }
        Table::Hours => {
            let mut head = vec!["weekday".to_owned()];
            head.extend((0..24).map(|h| format!("{h:02}")));
            row(&mut out, &head);
            const DAYS: [&str; 7] = [
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
            ];
            for (d, counts) in report.hours.iter().enumerate() {
                let mut fields = vec![DAYS[d].to_owned()];
                fields.extend(counts.iter().map(u64::to_string));
                row(&mut out, &fields);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field(r#"Sales "EU", 2"#), r#""Sales ""EU"", 2""#);
        assert_eq!(field("=1+1"), r#""'=1+1""#);
        assert_eq!(Table::parse("tags"), Some(Table::Tags));
        assert_eq!(Table::parse("people"), None);
    }
}
