//! Matching of the customer record's known values anywhere in the text: text values through
//! the accent/case fold (whole words, flexible whitespace), phone numbers by their digits.

use regex::Regex;

use crate::privacy::pii::fold::{Folded, value_variants};
use crate::privacy::pii::kinds::{KnownValue, PiiKind};
use crate::privacy::pii::patterns::{Candidate, TIER_STRUCTURED, gazetteer, is_word_char};

pub struct KnownMatcher {
    digit_run: Regex,
}

impl KnownMatcher {
    pub fn new() -> Self {
        KnownMatcher {
            digit_run: Regex::new(r"\+?\(?[0-9][0-9 \-./()]{4,22}[0-9]")
                .expect("constant digit pattern"),
        }
    }

    pub fn find(&self, text: &str, known: &[KnownValue], out: &mut Vec<Candidate>) {
        let usable: Vec<&KnownValue> = known
            .iter()
            .filter(|k| k.value.trim().chars().count() >= 2)
            // A particle ("de", "van der") is never a name on its own.
            .filter(|k| {
                k.kind != PiiKind::Name
                    || !k
                        .value
                        .split_whitespace()
                        .all(crate::privacy::pii::is_particle)
            })
            .collect();
        if usable.is_empty() {
            return;
        }
        let mut folded: Option<Folded> = None;
        for k in usable {
            if k.kind == PiiKind::Phone {
                self.find_phone(text, &k.value, out);
                continue;
            }
            let folded = folded.get_or_insert_with(|| Folded::new(text));
            for variant in value_variants(&k.value) {
                if variant.chars().count() < 2 {
                    continue;
                }
                for (pos, _) in folded.text.match_indices(variant.as_str()) {
                    let end = pos + variant.len();
                    let before_ok = folded.text[..pos]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !is_word_char(c));
                    let after_ok = folded.text[end..]
                        .chars()
                        .next()
                        .is_none_or(|c| !is_word_char(c));
                    if !(before_ok && after_ok) {
                        continue;
                    }
                    if let Some((s, e)) = folded.original_range(pos, end)
                        && !common_word_in_lower_case(k, &text[s..e])
                    {
                        out.push(Candidate {
                            kind: k.kind,
                            start: s,
                            end: e,
                            tier: TIER_STRUCTURED,
                        });
                    }
                }
            }
        }
    }

    fn find_phone(&self, text: &str, value: &str, out: &mut Vec<Candidate>) {
        let want = significant_digits(value);
        if want.len() < 6 {
            return;
        }
        for m in self.digit_run.find_iter(text) {
            let got = significant_digits(m.as_str());
            if got.len() >= 6 && (got.ends_with(&want) || want.ends_with(&got)) {
                let common = got.len().min(want.len());
                if common >= 6 && common + 3 >= want.len().max(got.len()) {
                    out.push(Candidate {
                        kind: PiiKind::Phone,
                        start: m.start(),
                        end: m.end(),
                        tier: TIER_STRUCTURED,
                    });
                }
            }
        }
    }
}

/// The digits of a phone number without international or trunk prefix.
fn significant_digits(s: &str) -> String {
    let s = s.replace("(0)", "");
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').to_string()
}

/// A name of the record that is also a common word ("Frank", "Rose"), written in lower case in
/// the text ("to be frank"), is the word.
fn common_word_in_lower_case(known: &KnownValue, found: &str) -> bool {
    known.kind == PiiKind::Name
        && !found.chars().any(char::is_uppercase)
        && gazetteer::lookup(found) & gazetteer::WORD != 0
}
