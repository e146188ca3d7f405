//! Precision and recall of the detector on the labeled corpus in `tests/pii_corpus/`.
//!
//! Each `.txt` file is one mail. An optional header of `known: KIND=value` lines, ended by a
//! `---` line, lists the customer record. In the body, gold spans are written inline as
//! `{{KIND:text}}`. A finding is correct when a gold span of the same kind overlaps it; a gold
//! span is found when a finding of the same kind overlaps it. For the asserted table, POSTCODE
//! findings and gold spans count as ADDRESS (street addresses and postcodes together).
//!
//! The asserted table reads `tests/pii_corpus/*.txt` (the dev corpus the rules are tuned on).
//! `tests/pii_corpus/heldout/*.txt`, a held-out set nobody tunes on, is only measured and
//! printed, never asserted, by `cargo test --lib heldout_accuracy -- --nocapture`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::privacy::pii::{Detector, Finding, KnownValue, PiiKind};

struct Mail {
    name: String,
    text: String,
    gold: Vec<Finding>,
    known: Vec<KnownValue>,
}

fn parse(name: &str, raw: &str) -> Mail {
    let mut known = Vec::new();
    let mut body = raw;
    if raw.starts_with("known:") {
        let (head, rest) = raw.split_once("\n---\n").expect("header ends with ---");
        for line in head.lines() {
            let spec = line.strip_prefix("known:").expect("known: line").trim();
            let (kind, value) = spec.split_once('=').expect("KIND=value");
            let kind = PiiKind::from_label(kind).expect("known kind");
            known.push(KnownValue::new(kind, value));
        }
        body = rest;
    }
    let mut text = String::new();
    let mut gold = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        text.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").expect("unclosed {{");
        let (kind, value) = after[..close].split_once(':').expect("{{KIND:value}}");
        let kind = PiiKind::from_label(kind).unwrap_or_else(|| panic!("bad kind {kind} in {name}"));
        let start = text.len();
        text.push_str(value);
        gold.push(Finding {
            kind,
            start,
            end: text.len(),
        });
        rest = &after[close + 2..];
    }
    text.push_str(rest);
    Mail {
        name: name.to_string(),
        text,
        gold,
        known,
    }
}

fn load() -> Vec<Mail> {
    load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pii_corpus"))
}

/// The `.txt` mails directly in `dir` (not in its subfolders, so `heldout/` is never read for
/// the dev table).
fn load_dir(dir: &Path) -> Vec<Mail> {
    let mut paths: Vec<_> = fs::read_dir(dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let raw = fs::read_to_string(p).expect("read mail");
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            parse(&name.unwrap_or_default(), &raw)
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Stats {
    gold: usize,
    found: usize,
    tp_found: usize,
    tp_gold: usize,
}

impl Stats {
    fn precision(&self) -> f64 {
        if self.found == 0 {
            1.0
        } else {
            self.tp_found as f64 / self.found as f64
        }
    }
    fn recall(&self) -> f64 {
        if self.gold == 0 {
            1.0
        } else {
            self.tp_gold as f64 / self.gold as f64
        }
    }
}

fn overlaps(a: &Finding, b: &Finding) -> bool {
    a.start < b.end && b.start < a.end
}

fn evaluate(
    mails: &[Mail],
    map: fn(PiiKind) -> PiiKind,
    verbose: bool,
) -> BTreeMap<PiiKind, Stats> {
    let detector = Detector::new();
    let mut table: BTreeMap<PiiKind, Stats> = BTreeMap::new();
    for mail in mails {
        let found = detector.find(&mail.text, &mail.known);
        let same = |f: &Finding, g: &Finding| map(f.kind) == map(g.kind) && overlaps(f, g);
        for f in &found {
            let s = table.entry(map(f.kind)).or_default();
            s.found += 1;
            if mail.gold.iter().any(|g| same(f, g)) {
                s.tp_found += 1;
            } else if verbose {
                println!(
                    "  FP {} {:?} {:?}",
                    mail.name,
                    f.kind,
                    &mail.text[f.start..f.end]
                );
            }
        }
        for g in &mail.gold {
            let s = table.entry(map(g.kind)).or_default();
            s.gold += 1;
            if found.iter().any(|f| same(f, g)) {
                s.tp_gold += 1;
            } else if verbose {
                println!(
                    "  FN {} {:?} {:?}",
                    mail.name,
                    g.kind,
                    &mail.text[g.start..g.end]
                );
            }
        }
    }
    table
}

fn print_table(title: &str, table: &BTreeMap<PiiKind, Stats>) -> Stats {
    println!("{title}");
    println!(
        "{:<9} {:>5} {:>6} {:>5} {:>10} {:>7}",
        "type", "gold", "found", "tp", "precision", "recall"
    );
    let mut total = Stats::default();
    for (kind, s) in table {
        println!(
            "{:<9} {:>5} {:>6} {:>5} {:>10.3} {:>7.3}",
            kind.label(),
            s.gold,
            s.found,
            s.tp_gold,
            s.precision(),
            s.recall()
        );
        total.gold += s.gold;
        total.found += s.found;
        total.tp_found += s.tp_found;
        total.tp_gold += s.tp_gold;
    }
    println!(
        "{:<9} {:>5} {:>6} {:>5} {:>10.3} {:>7.3}",
        "ALL",
        total.gold,
        total.found,
        total.tp_gold,
        total.precision(),
        total.recall()
    );
    total
}

/// The thresholds asserted per kind on the dev corpus (POSTCODE counted as ADDRESS): issue
/// 17's goals, 0.99 for the structured kinds (emails, phones, IBANs, cards, IPs) and 0.95 for
/// names and addresses; token URLs, recognized by heuristics, 0.90. Precision at least 0.95
/// for every kind.
const RECALL_TARGETS: [(PiiKind, f64); 8] = [
    (PiiKind::Email, 0.99),
    (PiiKind::Phone, 0.99),
    (PiiKind::Iban, 0.99),
    (PiiKind::Card, 0.99),
    (PiiKind::Ip, 0.99),
    (PiiKind::Url, 0.90),
    (PiiKind::Name, 0.95),
    (PiiKind::Address, 0.95),
];
const PRECISION_TARGET: f64 = 0.95;
/// Fewer labeled examples than this would make a kind's figures meaningless.
const MIN_EXAMPLES: usize = 20;

/// Prints the strict and the merged table and the README table; returns the merged table and
/// its totals.
fn report(mails: &[Mail]) -> (BTreeMap<PiiKind, Stats>, Stats) {
    let strict = evaluate(mails, |k| k, false);
    print_table("\nstrict types (tp = gold spans found):", &strict);

    let merged = evaluate(
        mails,
        |k| {
            if k == PiiKind::Postcode {
                PiiKind::Address
            } else {
                k
            }
        },
        true,
    );
    let total = print_table("\nPOSTCODE counted as ADDRESS:", &merged);

    println!("\n| kind | n | recall | precision |");
    println!("| --- | ---: | ---: | ---: |");
    for (kind, _) in RECALL_TARGETS {
        let s = merged.get(&kind).copied().unwrap_or_default();
        println!(
            "| {} | {} | {:.3} | {:.3} |",
            kind.label(),
            s.gold,
            s.recall(),
            s.precision()
        );
    }
    println!(
        "| all | {} | {:.3} | {:.3} |",
        total.gold,
        total.recall(),
        total.precision()
    );
    (merged, total)
}

#[test]
fn corpus_accuracy_meets_targets() {
    let mails = load();
    assert!(mails.len() >= 300, "corpus has {} mails", mails.len());
    println!("{} dev mails", mails.len());
    let (merged, _) = report(&mails);
    let mut failures = Vec::new();
    for (kind, target) in RECALL_TARGETS {
        let s = merged.get(&kind).copied().unwrap_or_default();
        if s.gold < MIN_EXAMPLES {
            failures.push(format!(
                "{}: only {} labeled examples",
                kind.label(),
                s.gold
            ));
        }
        if s.recall() < target {
            failures.push(format!(
                "{}: recall {:.3} < {target}",
                kind.label(),
                s.recall()
            ));
        }
        if s.precision() < PRECISION_TARGET {
            failures.push(format!(
                "{}: precision {:.3} < {PRECISION_TARGET}",
                kind.label(),
                s.precision()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The held-out set, measured and printed only: the goals are judged by whoever holds it.
#[test]
fn heldout_accuracy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pii_corpus/heldout");
    if !dir.is_dir() {
        println!("no held-out set at {}", dir.display());
        return;
    }
    let mails = load_dir(&dir);
    println!("{} held-out mails (not asserted)", mails.len());
    report(&mails);
}

/// Detector throughput on the dev corpus, printed, never asserted (anonymizing a million
/// messages runs this detector): `cargo test --release --lib detector_throughput -- --nocapture`.
#[test]
fn detector_throughput() {
    let mails = load();
    let detector = Detector::new();
    let bytes: usize = mails.iter().map(|m| m.text.len()).sum();
    let start = std::time::Instant::now();
    let mut rounds = 0usize;
    let mut findings = 0usize;
    while rounds < 3 || start.elapsed() < std::time::Duration::from_secs(2) {
        for mail in &mails {
            findings += detector.find(&mail.text, &mail.known).len();
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} mails, {} bytes, {rounds} rounds: {:.0} mails/s, {:.2} MB/s ({findings} findings)",
        mails.len(),
        bytes,
        (mails.len() * rounds) as f64 / secs,
        (bytes * rounds) as f64 / secs / 1e6
    );
}
