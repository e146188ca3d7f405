//! Phone numbers: international (`+CC`, `00CC`), national with trunk prefix `0` (DE, AT, CH,
//! FR, BE, NL, IT landlines, IE, UK, FI, SE, …) and national without trunk prefix (ES, PT, PL,
//! CZ, DK, LU, IT mobiles) when grouped like a phone number or introduced by a phone keyword.

use regex::Regex;

use super::{
    Candidate, NEGATIVE_CONTEXT, TIER_STRUCTURED, char_before, context_before, has_keyword,
    is_word_char,
};
use crate::privacy::pii::kinds::PiiKind;

pub struct PhoneFinder {
    intl: Regex,
    national: Regex,
    bare: Regex,
    date: Regex,
    full_date: Regex,
    grouped_no_trunk: Regex,
}

const PHONE_WORDS: &[&str] = &[
    "tel",
    "phone",
    "mobile",
    "mobil",
    "handy",
    "cell",
    "fon",
    "telefon",
    "fax",
    "portable",
    "téléphone",
    "telephone",
    "móvil",
    "movil",
    "teléfono",
    "telefono",
    "cellulare",
    "mobiel",
    "telefoon",
    "whatsapp",
    "call",
    "ruf",
    "anruf",
    "rappel",
    "appel",
    "llam",
    "chiam",
    "bel ",
    "bellen",
    "reach me",
    "erreichbar",
    "joignable",
    "puhelin",
    "tlf",
    "tfn",
    "numéro",
    "número",
    "numero",
    "nummer",
];

impl PhoneFinder {
    pub fn new() -> Self {
        PhoneFinder {
            intl: Regex::new(r"(?:\+|(?-u:\b)00)[ ]?[1-9][0-9 \-./()]{5,22}[0-9]")
                .expect("constant phone pattern"),
            national: Regex::new(r"(?:\(0[1-9][0-9]{0,4}\)|(?-u:\b)0[1-9])[0-9 \-./()]{5,18}[0-9]")
                .expect("constant phone pattern"),
            bare: Regex::new(r"(?-u:\b)[1-9][0-9]{1,3}(?:[ .\-/]?[0-9]{2,7}){1,4}(?-u:\b)")
                .expect("constant phone pattern"),
            date: Regex::new(
                r"[0-9]{1,2}[./][0-9]{1,2}[./][0-9]{2,4}|[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}\.[0-9]{1,2}\.",
            )
            .expect("constant date pattern"),
            full_date: Regex::new(
                r"[0-9]{1,2}[./][0-9]{1,2}[./](?:19|20)[0-9]{2}|(?:19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}",
            )
            .expect("constant date pattern"),
            grouped_no_trunk: Regex::new(
                r"^(?:[6-9][0-9]{2} [0-9]{3} [0-9]{3}|[6-9][0-9]{2} [0-9]{2} [0-9]{2} [0-9]{2}|3[0-9]{2}[ .][0-9]{3}[ .]?[0-9]{3,4}|3[0-9]{2}[ /][0-9]{6,7}|2[0-9]{2} [0-9]{3} [0-9]{3})$",
            )
            .expect("constant phone pattern"),
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.intl.find_iter(text) {
            if self.accept(text, m.start(), m.end(), Style::International) {
                push(out, m.start(), m.end());
            }
        }
        for m in self.national.find_iter(text) {
            if self.accept(text, m.start(), m.end(), Style::National) {
                push(out, m.start(), m.end());
            }
        }
        for m in self.bare.find_iter(text) {
            if self.accept(text, m.start(), m.end(), Style::Bare) {
                push(out, m.start(), m.end());
            }
        }
    }

    fn accept(&self, text: &str, start: usize, end: usize, style: Style) -> bool {
        let s = &text[start..end];
        // Part of a longer token, a decimal number, a date or a time.
        let before = char_before(text, start);
        if before.is_some_and(|c| is_word_char(c) || c == '#' || c == '+' || c == '/') {
            return false;
        }
        if let Some(b) = before
            && matches!(b, '.' | ',' | '-' | ':')
            && char_before(text, start - b.len_utf8()).is_some_and(|c| c.is_ascii_digit())
        {
            return false;
        }
        let after = text.get(end..).unwrap_or("");
        let mut after_chars = after.chars();
        match (after_chars.next(), after_chars.next()) {
            (Some(c), _) if is_word_char(c) => return false,
            (Some('.' | ',' | ':' | '/' | '-'), Some(d)) if d.is_ascii_digit() => return false,
            (Some(' '), Some('€' | '%')) | (Some('€' | '%'), _) => return false,
            _ => {}
        }
        // A date with a full year is never a phone number; a shorter date-like run only when
        // the number has fewer than four groups (French and Belgian numbers are written in
        // dotted pairs: 06.12.34.56.78, 0470/12.34.56).
        let groups = s
            .split([' ', '.', '/', '-', '(', ')'])
            .filter(|g| !g.is_empty())
            .count();
        let ipv4_shaped = groups == 4
            && s.split('.').count() == 4
            && s.split('.').all(|g| {
                (1..=3).contains(&g.len())
                    && g.bytes().all(|b| b.is_ascii_digit())
                    && !(g.len() > 1 && g.starts_with('0'))
            });
        if ipv4_shaped
            || self.full_date.is_match(s)
            || (self.date.is_match(s) && groups < 4)
            || s.contains("  ")
            || s.contains("..")
        {
            return false;
        }
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        let ctx = context_before(text, start, 32);
        let positive = has_keyword(&ctx, PHONE_WORDS);
        let negative = has_keyword(&ctx, NEGATIVE_CONTEXT);
        match style {
            Style::International => {
                let mut n = digits.len();
                if s.starts_with("00") {
                    n -= 2;
                    if negative && !positive {
                        return false;
                    }
                }
                if s.contains("(0)") {
                    n -= 1;
                }
                (8..=15).contains(&n)
            }
            Style::National => {
                if negative && !positive {
                    return false;
                }
                let grouped = s.contains([' ', '-', '/', '(', '.']);
                let n = digits.len();
                if positive {
                    (6..=12).contains(&n)
                } else {
                    (9..=12).contains(&n) && (grouped || n >= 10)
                }
            }
            Style::Bare => {
                if negative && !positive {
                    return false;
                }
                let n = digits.len();
                if positive {
                    (8..=10).contains(&n)
                } else {
                    self.grouped_no_trunk.is_match(s)
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Style {
    International,
    National,
    Bare,
}

fn push(out: &mut Vec<Candidate>, start: usize, end: usize) {
    out.push(Candidate {
        kind: PiiKind::Phone,
        start,
        end,
        tier: TIER_STRUCTURED,
    });
}
