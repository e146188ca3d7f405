//! Pseudonymization before any text leaves Lethe (invariant 10). Every finding of the PII
//! detector and every value of the customer record becomes a numbered placeholder —
//! `[NAME_1]`, `[EMAIL_2]`… — the same value the same placeholder across the whole prompt, so
//! the model can still say "Dear [NAME_1]". The table lives only in memory for one call:
//! [`Pseudonyms::restore`] puts the values back into the model's answer on this server, and
//! the table is dropped with the request. [`Pseudonyms::leaked`] is the last check before
//! sending: a record value that the detector did not replace stops the call.

use std::collections::HashMap;

use crate::privacy::pii::{Detector, KnownValue, PiiKind};

/// The placeholders of one call and the values they stand for.
#[derive(Default)]
pub struct Pseudonyms {
    /// (kind, folded value) → placeholder.
    by_value: HashMap<(PiiKind, String), String>,
    /// placeholder → the value as first written.
    by_placeholder: HashMap<String, String>,
    /// The last number given per kind.
    counters: HashMap<PiiKind, usize>,
}

/// How a value is compared: case and runs of white space do not matter.
fn folded(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The placeholder's kind word: postcodes are part of an address.
fn label(kind: PiiKind) -> &'static str {
    match kind {
        PiiKind::Email => "EMAIL",
        PiiKind::Phone => "PHONE",
        PiiKind::Iban => "IBAN",
        PiiKind::Card => "CARD",
        PiiKind::Ip => "IP",
        PiiKind::Address | PiiKind::Postcode => "ADDRESS",
        PiiKind::Url => "URL",
        PiiKind::Name => "NAME",
    }
}

impl Pseudonyms {
    pub fn new() -> Self {
        Self::default()
    }

    /// `text` with every finding replaced by its placeholder.
    pub fn hide(&mut self, detector: &Detector, text: &str, known: &[KnownValue]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for finding in detector.find(text, known) {
            out.push_str(&text[pos..finding.start]);
            let value = &text[finding.start..finding.end];
            out.push_str(&self.placeholder(finding.kind, value));
            pos = finding.end;
        }
        out.push_str(&text[pos..]);
        out
    }

    fn placeholder(&mut self, kind: PiiKind, value: &str) -> String {
        let kind = match kind {
            PiiKind::Postcode => PiiKind::Address,
            other => other,
        };
        let key = (kind, folded(value));
        if let Some(existing) = self.by_value.get(&key) {
            return existing.clone();
        }
        let n = self.counters.entry(kind).or_default();
        *n += 1;
        let placeholder = format!("[{}_{}]", label(kind), n);
        self.by_value.insert(key, placeholder.clone());
        self.by_placeholder
            .insert(placeholder.clone(), value.to_owned());
        placeholder
    }

    /// How many distinct values were hidden.
    pub fn len(&self) -> usize {
        self.by_placeholder.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_placeholder.is_empty()
    }

    /// The model's answer with each placeholder it used replaced by its value. A placeholder
    /// the model made up (`[NAME_9]` when there are two) stays as it is, for the agent to see.
    pub fn restore(&self, answer: &str) -> String {
        let mut out = String::with_capacity(answer.len());
        let mut rest = answer;
        while let Some(open) = rest.find('[') {
            out.push_str(&rest[..open]);
            let tail = &rest[open..];
            match tail.find(']') {
                Some(close) if close <= 24 => {
                    let candidate = &tail[..=close];
                    match self.by_placeholder.get(candidate) {
                        Some(value) => out.push_str(value),
                        None => out.push_str(candidate),
                    }
                    rest = &tail[close + 1..];
                }
                _ => {
                    out.push('[');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The first value of the customer record still readable in `outgoing`, by kind: the
    /// detector missed it, and nothing may be sent. Values shorter than three characters are
    /// not checked (they are parts of words everywhere).
    pub fn leaked(outgoing: &str, known: &[KnownValue]) -> Option<PiiKind> {
        let haystack = folded(outgoing);
        known
            .iter()
            .filter(|k| k.value.chars().count() >= 3)
            .find(|k| contains_word(&haystack, &folded(&k.value)))
            .map(|k| k.kind)
    }
}

/// Whether `needle` occurs in `haystack` between word boundaries.
fn contains_word(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !is_word(before) && !is_word(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<KnownValue> {
        vec![
            KnownValue::new(PiiKind::Name, "Anna Schmidt"),
            KnownValue::new(PiiKind::Name, "Anna"),
            KnownValue::new(PiiKind::Name, "Schmidt"),
            KnownValue::new(PiiKind::Email, "anna.schmidt@example.de"),
        ]
    }

    #[test]
    fn the_same_value_gets_the_same_placeholder_and_comes_back() {
        let detector = Detector::new();
        let mut p = Pseudonyms::new();
        let hidden = p.hide(
            &detector,
            "Hallo, ich bin Anna Schmidt (anna.schmidt@example.de). Tel. +49 151 23456789.",
            &known(),
        );
        let again = p.hide(&detector, "Viele Grüße\nAnna Schmidt", &known());
        assert!(!hidden.contains("Schmidt"), "{hidden}");
        assert!(!hidden.contains("anna.schmidt"), "{hidden}");
        assert!(!hidden.contains("23456789"), "{hidden}");
        assert!(hidden.contains("[NAME_1]"), "{hidden}");
        assert!(again.contains("[NAME_1]"), "{again}");
        assert_eq!(
            p.restore("Liebe [NAME_1], wir rufen Sie unter [PHONE_1] an. [NAME_7] [x"),
            "Liebe Anna Schmidt, wir rufen Sie unter +49 151 23456789 an. [NAME_7] [x"
        );
        assert!(Pseudonyms::leaked(&hidden, &known()).is_none());
    }

    #[test]
    fn a_record_value_left_in_the_text_is_caught() {
        assert_eq!(
            Pseudonyms::leaked("Grüße von ANNA  schmidt", &known()),
            Some(PiiKind::Name)
        );
        // A value inside another word is not that value.
        assert!(Pseudonyms::leaked("Annabelle Schmidtke", &known()).is_none());
    }
}
