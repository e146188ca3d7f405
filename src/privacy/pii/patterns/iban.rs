//! IBANs: country code, check digits and BBAN of the country's length, optionally written in
//! groups separated by single spaces; accepted only when the mod-97 check passes.

use regex::Regex;

use super::{Candidate, TIER_CHECKED, char_after, char_before, is_word_char};
use crate::privacy::pii::kinds::PiiKind;

pub struct IbanFinder {
    start: Regex,
}

/// IBAN length for the countries of the SEPA area.
fn iban_length(country: &str) -> Option<usize> {
    let len = match country {
        "AD" => 24,
        "AT" => 20,
        "BE" => 16,
        "BG" => 22,
        "CH" => 21,
        "CY" => 28,
        "CZ" => 24,
        "DE" => 22,
        "DK" => 18,
        "EE" => 20,
        "ES" => 24,
        "FI" => 18,
        "FR" => 27,
        "GB" => 22,
        "GI" => 23,
        "GR" => 27,
        "HR" => 21,
        "HU" => 28,
        "IE" => 22,
        "IS" => 26,
        "IT" => 27,
        "LI" => 21,
        "LT" => 20,
        "LU" => 20,
        "LV" => 21,
        "MC" => 27,
        "MT" => 31,
        "NL" => 18,
        "NO" => 15,
        "PL" => 28,
        "PT" => 25,
        "RO" => 24,
        "SE" => 24,
        "SI" => 19,
        "SK" => 24,
        "SM" => 27,
        "VA" => 22,
        _ => return None,
    };
    Some(len)
}

/// The ISO 13616 mod-97 check on a compact, upper-case IBAN.
pub fn iban_checksum_ok(iban: &str) -> bool {
    if iban.len() < 5 || !iban.is_ascii() {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    rem == 1
}

impl IbanFinder {
    pub fn new() -> Self {
        IbanFinder {
            start: Regex::new(r"(?i)(?-u:\b)[a-z]{2}[0-9]{2}").expect("constant IBAN pattern"),
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.start.find_iter(text) {
            if char_before(text, m.start()).is_some_and(is_word_char) {
                continue;
            }
            let country = text[m.start()..m.start() + 2].to_ascii_uppercase();
            let Some(len) = iban_length(&country) else {
                continue;
            };
            if let Some(end) = collect(text, m.start(), len) {
                let compact: String = text[m.start()..end]
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
                if iban_checksum_ok(&compact) {
                    out.push(Candidate {
                        kind: PiiKind::Iban,
                        start: m.start(),
                        end,
                        tier: TIER_CHECKED,
                    });
                }
            }
        }
    }
}

/// Walks from `start` collecting `len` alphanumerics, allowing single spaces or dashes between
/// them; returns the end offset when the IBAN is not glued to a following word.
fn collect(text: &str, start: usize, len: usize) -> Option<usize> {
    let mut count = 0;
    let mut prev_sep = false;
    for (i, c) in text[start..].char_indices() {
        if c.is_ascii_alphanumeric() {
            count += 1;
            prev_sep = false;
            if count == len {
                let end = start + i + 1;
                return match char_after(text, end) {
                    Some(n) if is_word_char(n) => None,
                    _ => Some(end),
                };
            }
        } else if (c == ' ' || c == '-') && !prev_sep && count >= 2 {
            prev_sep = true;
        } else {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod97_accepts_valid_and_rejects_changed_digit() {
        assert!(iban_checksum_ok("DE89370400440532013000"));
        assert!(iban_checksum_ok("GB82WEST12345698765432"));
        assert!(iban_checksum_ok("FR1420041010050500013M02606"));
        assert!(!iban_checksum_ok("DE89370400440532013001"));
        assert!(!iban_checksum_ok("DE88370400440532013000"));
    }
}
