//! The multilingual starter model shipped in the binary: trained on first use from the
//! hand-written examples in `starter/{en,de,fr,es,it,nl}.txt` (compiled in with
//! `include_str!`; no model file, no network). Used by every organization that has too little
//! tagged history of its own, and as the base its own model is trained on.

use std::sync::LazyLock;

use super::corpus;
use super::features::features;
use super::kind::Intent;
use super::model::{Example, Model};

/// The starter set, per language.
pub const SOURCES: [(&str, &str); 6] = [
    ("en", include_str!("starter/en.txt")),
    ("de", include_str!("starter/de.txt")),
    ("fr", include_str!("starter/fr.txt")),
    ("es", include_str!("starter/es.txt")),
    ("it", include_str!("starter/it.txt")),
    ("nl", include_str!("starter/nl.txt")),
];

/// The starter examples, as features.
pub fn examples() -> Vec<Example> {
    SOURCES
        .iter()
        .flat_map(|(_, source)| corpus::parse(source).unwrap_or_default())
        .map(|(intent, text)| Example {
            features: features(&text),
            intent,
            weight: 1.0,
        })
        .collect()
}

static STARTER: LazyLock<Model> = LazyLock::new(|| Model::train(&examples(), |_| true));

/// The starter model (trained on first use).
pub fn model() -> &'static Model {
    &STARTER
}

/// The labelled starter texts (for tests and counts).
pub fn labelled() -> Vec<(Intent, String)> {
    SOURCES
        .iter()
        .flat_map(|(_, source)| corpus::parse(source).unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_starter_file_parses_and_each_intent_has_forty_examples() {
        for (lang, source) in SOURCES {
            assert!(corpus::parse(source).is_ok(), "{lang}");
        }
        let all = labelled();
        for intent in Intent::ALL {
            let n = all.iter().filter(|(i, _)| *i == intent).count();
            assert!(n >= 40, "{} has {n} examples", intent.name());
        }
    }

    #[test]
    fn the_starter_model_learns_every_intent() {
        let started = std::time::Instant::now();
        let model = Model::train(&examples(), |_| true);
        println!(
            "starter: {} features, trained in {:?}",
            model.len(),
            started.elapsed()
        );
        assert!(!model.is_empty());
        // Its own training set is read back right, intent by intent (a model that learnt
        // nothing, or one intent swallowing another, fails). How long training takes is printed
        // for `cargo test --release --lib starter -- --nocapture`, never asserted.
        let all = labelled();
        for intent in Intent::ALL {
            let texts: Vec<&String> = all
                .iter()
                .filter(|(i, _)| *i == intent)
                .map(|(_, t)| t)
                .collect();
            let right = texts
                .iter()
                .filter(|t| model.predict(&features(t)).map(|p| p.intent) == Some(intent))
                .count();
            assert!(
                right * 10 >= texts.len() * 8,
                "{}: {right} of {}",
                intent.name(),
                texts.len()
            );
        }
    }
}
