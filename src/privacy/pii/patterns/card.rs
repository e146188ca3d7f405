//! Payment card numbers: 13–19 digits, optionally grouped by spaces or dashes, starting like a
//! card scheme (2–6) and passing the Luhn check.

use regex::Regex;

use super::{
    Candidate, NEGATIVE_CONTEXT, TIER_CHECKED, char_after, char_before, context_before,
    has_keyword, is_word_char,
};
use crate::privacy::pii::kinds::PiiKind;

pub struct CardFinder {
    re: Regex,
}

/// The Luhn check on a string of ASCII digits.
pub fn luhn_ok(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

const CARD_WORDS: &[&str] = &[
    "card",
    "karte",
    "carte",
    "tarjeta",
    "carta",
    "kaart",
    "visa",
    "mastercard",
    "amex",
    "cb",
];

impl CardFinder {
    pub fn new() -> Self {
        CardFinder {
            re: Regex::new(r"(?-u:\b)[2-6][0-9](?:[ \-]?[0-9]){11,17}(?-u:\b)")
                .expect("constant card pattern"),
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.re.find_iter(text) {
            if char_before(text, m.start()).is_some_and(|c| is_word_char(c) || c == '.')
                || char_after(text, m.end()).is_some_and(is_word_char)
            {
                continue;
            }
            let s = m.as_str();
            let has_space = s.contains(' ');
            let has_dash = s.contains('-');
            if has_space && has_dash {
                continue;
            }
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            if !(13..=19).contains(&digits.len()) || !luhn_ok(&digits) {
                continue;
            }
            let ctx = context_before(text, m.start(), 30);
            if has_keyword(&ctx, NEGATIVE_CONTEXT) && !has_keyword(&ctx, CARD_WORDS) {
                continue;
            }
            out.push(Candidate {
                kind: PiiKind::Card,
                start: m.start(),
                end: m.end(),
                tier: TIER_CHECKED,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn() {
        assert!(luhn_ok("4111111111111111"));
        assert!(luhn_ok("5555555555554444"));
        assert!(luhn_ok("378282246310005"));
        assert!(!luhn_ok("4111111111111112"));
        assert!(!luhn_ok(""));
    }
}
