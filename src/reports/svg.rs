//! Charts drawn on the server as inline SVG: readable without JavaScript (each has a
//! `<title>` and a `<desc>` that says what it shows in words, `role="img"`), printable (plain
//! fills, no script, no request to another host). Every text is escaped here.

use std::fmt::Write;

use super::query::Report;

/// Escapes text for SVG (XML) content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The texts of a chart, translated by the caller.
pub struct Texts {
    pub title: String,
    pub desc: String,
    pub new: String,
    pub closed: String,
}

fn open(out: &mut String, id: &str, width: u32, height: u32, title: &str, desc: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(desc)
    );
}

/// New and closed conversations per bucket, as pairs of bars.
pub fn volume(report: &Report, texts: &Texts) -> String {
    const HEIGHT: u32 = 220;
    const TOP: f64 = 24.0;
    const BOTTOM: f64 = 40.0;
    const LEFT: f64 = 40.0;
    let n = report.buckets.len().max(1);
    let slot = (720.0 / n as f64).clamp(6.0, 48.0);
    let width = (LEFT + slot * n as f64 + 10.0).ceil() as u32;
    let max = report
        .buckets
        .iter()
        .map(|(_, l)| l.new.max(l.closed))
        .max()
        .unwrap_or(0)
        .max(1);
    let plot = HEIGHT as f64 - TOP - BOTTOM;
    let mut out = String::new();
    open(
        &mut out,
        "chart-volume",
        width,
        HEIGHT,
        &texts.title,
        &texts.desc,
    );
    // Axis and the top value.
    let base = HEIGHT as f64 - BOTTOM;
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{base}" x2="{width}" y2="{base}" stroke="#444"/><text x="{x}" y="{y}" font-size="11" text-anchor="end">{max}</text><text x="{x}" y="{base}" font-size="11" text-anchor="end">0</text>"##,
        x = LEFT - 4.0,
        y = TOP + 4.0,
    );
    let label_every = (n / 12).max(1);
    for (i, (day, line)) in report.buckets.iter().enumerate() {
        let x = LEFT + slot * i as f64;
        let bar = (slot - 2.0) / 2.0;
        for (k, (value, class, name)) in [
            (line.new, "bar-new", &texts.new),
            (line.closed, "bar-closed", &texts.closed),
        ]
        .into_iter()
        .enumerate()
        {
            let h = plot * value as f64 / max as f64;
            let _ = write!(
                out,
                r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{}: {} {value}</title></rect>"#,
                x + 1.0 + bar * k as f64,
                base - h,
                bar,
                h,
                day.format("%Y-%m-%d"),
                escape(name),
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" font-size="10">{}</text>"#,
                x + 1.0,
                base + 14.0,
                day.format("%m-%d")
            );
        }
    }
    // Legend.
    let _ = write!(
        out,
        r#"<rect class="bar-new" x="{LEFT}" y="{y}" width="10" height="10"/><text x="{}" y="{}" font-size="11">{}</text><rect class="bar-closed" x="{}" y="{y}" width="10" height="10"/><text x="{}" y="{}" font-size="11">{}</text></svg>"#,
        LEFT + 14.0,
        HEIGHT as f64 - 9.0,
        escape(&texts.new),
        LEFT + 120.0,
        LEFT + 134.0,
        HEIGHT as f64 - 9.0,
        escape(&texts.closed),
        y = HEIGHT as f64 - 18.0,
    );
    out
}

/// New conversations by weekday and hour: a grid of cells, darker for more.
pub fn hours(report: &Report, title: &str, desc: &str, weekdays: &[String; 7]) -> String {
    const CELL: f64 = 24.0;
    const LEFT: f64 = 48.0;
    const TOP: f64 = 18.0;
    let width = (LEFT + CELL * 24.0 + 4.0) as u32;
    let height = (TOP + CELL * 7.0 + 4.0) as u32;
    let max = report
        .hours
        .iter()
        .flat_map(|row| row.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let mut out = String::new();
    open(&mut out, "chart-hours", width, height, title, desc);
    for hour in (0..24).step_by(3) {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="12" font-size="10">{hour:02}</text>"#,
            LEFT + CELL * hour as f64 + 2.0
        );
    }
    for (d, row) in report.hours.iter().enumerate() {
        let y = TOP + CELL * d as f64;
        let _ = write!(
            out,
            r#"<text x="0" y="{:.1}" font-size="11">{}</text>"#,
            y + 16.0,
            escape(&weekdays[d])
        );
        for (h, count) in row.iter().enumerate() {
            let shade = 0.08 + 0.92 * (*count as f64 / max as f64);
            let _ = write!(
                out,
                r##"<rect class="cell" x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#1f5fa8" fill-opacity="{shade:.2}" stroke="#fff"><title>{} {h:02}:00 — {count}</title></rect>"##,
                LEFT + CELL * h as f64,
                CELL,
                CELL,
                escape(&weekdays[d]),
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
