//! The measured quality of the starter model: per-intent precision, recall and F1 and their
//! macro average, on the dev set in `tests/intent_corpus/dev/` (written apart from the starter
//! set; asserted) and, when present, on the held-out set in `tests/intent_corpus/heldout/`
//! (never used for tuning; printed only). `cargo test --lib intent_accuracy -- --nocapture`.

use std::path::Path;
use std::time::Instant;

use super::kind::Intent;
use super::{Intent as I, classify_text, corpus, starter};

const LANGS: [&str; 6] = ["en", "de", "fr", "es", "it", "nl"];

/// Labelled messages of a corpus folder, with their language.
fn load(dir: &Path) -> Vec<(&'static str, Intent, String)> {
    let mut out = Vec::new();
    for lang in LANGS {
        let Ok(source) = std::fs::read_to_string(dir.join(format!("{lang}.txt"))) else {
            continue;
        };
        let parsed = corpus::parse(&source).unwrap_or_else(|e| panic!("{lang}: {e}"));
        out.extend(parsed.into_iter().map(|(i, t)| (lang, i, t)));
    }
    out
}

/// Prints the table and returns the macro-F1.
fn evaluate(name: &str, set: &[(&str, Intent, String)]) -> f64 {
    let model = starter::model();
    let n = I::ALL.len();
    let mut confusion = vec![vec![0usize; n]; n];
    let started = Instant::now();
    let mut per_lang: Vec<(&str, usize, usize)> = LANGS.iter().map(|l| (*l, 0, 0)).collect();
    let mut raw_right = 0usize;
    let mut confidences = Vec::new();
    for (_, truth, text) in set {
        if let Some(p) = model.predict(&super::features::features(text)) {
            raw_right += usize::from(p.intent == *truth);
            confidences.push((p.confidence, p.intent == *truth));
        }
    }
    confidences.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!(
        "without the confidence floor: accuracy {:.2}; confidence deciles {:?}",
        raw_right as f64 / set.len().max(1) as f64,
        (1..10)
            .map(|d| confidences
                .get(confidences.len() * d / 10)
                .map(|c| (c.0 * 100.0).round()))
            .collect::<Vec<_>>()
    );
    for (lang, truth, text) in set {
        let predicted = classify_text(model, text).map_or(I::Other, |p| p.intent);
        confusion[truth.index()][predicted.index()] += 1;
        if let Some(entry) = per_lang.iter_mut().find(|(l, _, _)| l == lang) {
            entry.1 += 1;
            entry.2 += usize::from(predicted == *truth);
        }
    }
    let took = started.elapsed();
    println!("\n{name}: {} messages", set.len());
    println!(
        "{:<18} {:>9} {:>9} {:>9} {:>8}",
        "intent", "precision", "recall", "F1", "support"
    );
    let mut f1_sum = 0.0;
    for intent in I::ALL {
        let k = intent.index();
        let tp = confusion[k][k] as f64;
        let predicted: usize = (0..n).map(|t| confusion[t][k]).sum();
        let support: usize = confusion[k].iter().sum();
        let p = if predicted == 0 {
            0.0
        } else {
            tp / predicted as f64
        };
        let r = if support == 0 {
            0.0
        } else {
            tp / support as f64
        };
        let f1 = if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        };
        f1_sum += f1;
        println!(
            "{:<18} {p:>9.2} {r:>9.2} {f1:>9.2} {support:>8}",
            intent.name()
        );
    }
    let macro_f1 = f1_sum / n as f64;
    println!("macro-F1 {macro_f1:.3}");
    for (lang, total, right) in per_lang {
        if total > 0 {
            println!(
                "  {lang}: accuracy {:.2} ({right}/{total})",
                right as f64 / total as f64
            );
        }
    }
    println!(
        "classification: {:.1} µs per message (this build)",
        took.as_secs_f64() * 1e6 / set.len().max(1) as f64
    );
    for (t, row) in confusion.iter().enumerate() {
        for (p, count) in row.iter().enumerate() {
            if t != p && *count > 0 {
                println!("  {} → {}: {count}", I::ALL[t].name(), I::ALL[p].name());
            }
        }
    }
    macro_f1
}

fn corpus_dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/intent_corpus")
        .join(name)
}

#[test]
fn intent_accuracy_on_the_dev_set() {
    let set = load(&corpus_dir("dev"));
    assert!(set.len() >= 200, "the dev set has {} messages", set.len());
    let macro_f1 = evaluate("dev set", &set);
    assert!(macro_f1 >= 0.85, "macro-F1 {macro_f1:.3}");
}

#[test]
fn intent_heldout_table() {
    let dir = corpus_dir("heldout");
    if !dir.exists() {
        println!("no held-out set at {}", dir.display());
        return;
    }
    // The goal, kept as a guard: a change to the features or the starter set that loses it
    // fails here. Never tune on this set; change the starter set or the dev set instead.
    let macro_f1 = evaluate("held-out set", &load(&dir));
    assert!(
        macro_f1 >= 0.85,
        "held-out macro-F1 {macro_f1:.3} (goal 0.85)"
    );
}
