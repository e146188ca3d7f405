//! IPv4 and IPv6 addresses (IPv6 candidates are confirmed with the standard library parser).

use std::net::Ipv6Addr;

use regex::Regex;

use super::{Candidate, TIER_STRUCTURED, char_after, char_before, is_word_char};
use crate::privacy::pii::kinds::PiiKind;

pub struct IpFinder {
    v4: Regex,
    v6: Regex,
}

impl IpFinder {
    pub fn new() -> Self {
        let octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
        IpFinder {
            v4: Regex::new(&format!(r"(?-u:\b){octet}(?:\.{octet}){{3}}(?-u:\b)"))
                .expect("constant IPv4 pattern"),
            v6: Regex::new(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:]*")
                .expect("constant IPv6 pattern"),
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.v4.find_iter(text) {
            let before = char_before(text, m.start());
            let after = text.get(m.end()..).unwrap_or("");
            if before.is_some_and(|c| c == '.' || is_word_char(c))
                || after.starts_with(|c: char| is_word_char(c))
                || (after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit()))
            {
                continue;
            }
            out.push(Candidate {
                kind: PiiKind::Ip,
                start: m.start(),
                end: m.end(),
                tier: TIER_STRUCTURED,
            });
        }
        for m in self.v6.find_iter(text) {
            let s = m.as_str();
            if s.len() < 3 || s.len() > 39 {
                continue;
            }
            if char_before(text, m.start()).is_some_and(is_word_char)
                || char_after(text, m.end()).is_some_and(is_word_char)
                || text[m.end()..].starts_with('.')
                    && char_after(text, m.end() + 1).is_some_and(|c| c.is_ascii_digit())
            {
                continue;
            }
            let colons = s.matches(':').count();
            if !(s.contains("::") || colons == 7) || s.parse::<Ipv6Addr>().is_err() {
                continue;
            }
            // "::" alone or tiny forms like "a::b" are too ambiguous.
            if s.chars().filter(char::is_ascii_hexdigit).count() < 4 {
                continue;
            }
            out.push(Candidate {
                kind: PiiKind::Ip,
                start: m.start(),
                end: m.end(),
                tier: TIER_STRUCTURED,
            });
        }
    }
}
