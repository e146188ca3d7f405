//! The tokenizer and the features the classifier weighs: accent- and case-folded words
//! (`crate::privacy::pii::fold`), word pairs, and character 5-grams of each word marked at
//! its ends (so "Rückerstattung", "Erstattung" and "erstattet" share evidence across
//! inflections and compounds; 5-grams measured better than 3- to 6-grams and mixes on the dev
//! set). Numbers collapse to one token: an order number says "order", not which. Only the
//! first [`MAX_CHARS`] characters are read: what a message is about is said early, and a long
//! mail must not slow the page.

use crate::privacy::pii::fold::fold_char;

/// The longest text read, in characters.
pub const MAX_CHARS: usize = 3000;
/// The length of the character grams.
const GRAM: usize = 5;

/// Folded words of a text: letters and digits, apostrophes split, numbers as `#`.
pub fn words(text: &str) -> Vec<String> {
    let mut folded = String::with_capacity(text.len().min(MAX_CHARS * 2));
    for c in text.chars().take(MAX_CHARS) {
        fold_char(c, &mut folded);
    }
    let mut out = Vec::new();
    for raw in folded.split(|c: char| !c.is_alphanumeric()) {
        if raw.is_empty() {
            continue;
        }
        if raw.chars().any(|c| c.is_ascii_digit()) {
            if out.last().is_none_or(|w: &String| w != "#") {
                out.push("#".to_owned());
            }
            continue;
        }
        if raw.chars().count() > 30 {
            continue;
        }
        out.push(raw.to_owned());
    }
    out
}

/// The features of a text, each once (presence, not counts), sorted.
pub fn features(text: &str) -> Vec<String> {
    let words = words(text);
    let mut out: Vec<String> = Vec::with_capacity(words.len() * 8);
    for w in &words {
        out.push(format!("w:{w}"));
        let padded: Vec<char> = format!("<{w}>").chars().collect();
        for gram in padded.windows(GRAM) {
            let mut f = String::with_capacity(GRAM + 2);
            f.push_str("c:");
            f.extend(gram.iter());
            out.push(f);
        }
    }
    for pair in words.windows(2) {
        out.push(format!("b:{} {}", pair[0], pair[1]));
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_and_numbers_collapse() {
        assert_eq!(
            words("Rückerstattung für Bestellung #4711-12, BITTE!"),
            ["ruckerstattung", "fur", "bestellung", "#", "bitte"]
        );
        assert_eq!(
            words("l'article n’est pas arrivé"),
            ["l", "article", "n", "est", "pas", "arrive"]
        );
    }

    #[test]
    fn features_hold_words_pairs_and_char_grams_once() {
        let f = features("Paket Paket kaputt");
        assert!(f.contains(&"w:paket".to_owned()));
        assert!(f.contains(&"b:paket kaputt".to_owned()));
        assert!(f.contains(&"c:<kapu".to_owned()));
        assert!(f.contains(&"c:aputt".to_owned()));
        assert!(f.contains(&"c:<pak".to_owned()) || f.contains(&"c:<pake".to_owned()));
        assert_eq!(f.iter().filter(|x| *x == "w:paket").count(), 1);
        assert!(features("").is_empty());
        let long = "paket ".repeat(10_000) + "rechnung";
        assert!(!features(&long).contains(&"w:rechnung".to_owned()));
    }
}
