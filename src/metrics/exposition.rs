//! Writing the Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` once
//! per family, label values escaped.

use std::collections::HashSet;
use std::fmt::Write;

#[derive(Default)]
pub struct Writer {
    out: String,
    described: HashSet<String>,
}

impl Writer {
    fn describe(&mut self, name: &str, help: &str, kind: &str) {
        if self.described.insert(name.to_owned()) {
            let _ = writeln!(self.out, "# HELP {name} {help}");
            let _ = writeln!(self.out, "# TYPE {name} {kind}");
        }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape(value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.describe(name, help, "gauge");
        self.sample(name, labels, value);
    }

    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.describe(name, help, "counter");
        self.sample(name, labels, value);
    }

    /// One histogram series: cumulative counts per upper bound, then sum and count.
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        buckets: &[(f64, u64)],
        sum: f64,
        count: u64,
    ) {
        self.describe(name, help, "histogram");
        let bucket_name = format!("{name}_bucket");
        for (bound, cumulative) in buckets {
            let le = number(*bound);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket_name, &with_le, *cumulative as f64);
        }
        let mut with_inf = labels.to_vec();
        with_inf.push(("le", "+Inf"));
        self.sample(&bucket_name, &with_inf, count as f64);
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, count as f64);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_described_once_and_labels_escaped() {
        let mut out = Writer::default();
        out.gauge("g", "A gauge.", &[("a", "x\"y")], 1.0);
        out.gauge("g", "A gauge.", &[("a", "z")], 2.5);
        out.histogram("h", "A histogram.", &[], &[(0.1, 1), (1.0, 2)], 0.75, 3);
        let text = out.finish();
        assert_eq!(text.matches("# TYPE g gauge").count(), 1);
        assert!(text.contains("g{a=\"x\\\"y\"} 1\n"));
        assert!(text.contains("g{a=\"z\"} 2.5\n"));
        assert!(text.contains("h_bucket{le=\"0.1\"} 1\n"));
        assert!(text.contains("h_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("h_sum 0.75\nh_count 3\n"));
    }
}
