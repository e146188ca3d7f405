//! URLs that carry personal tokens: query parameters named like token/key/email/session/…,
//! parameter values that look like secrets or emails, or long random path segments (password
//! reset, order-status and tracking links). Plain shop or product links are left alone.

use regex::Regex;

use super::{Candidate, TIER_EXACT};
use crate::privacy::pii::kinds::PiiKind;

pub struct UrlFinder {
    re: Regex,
}

const SENSITIVE_PARAMS: &[&str] = &[
    "token",
    "key",
    "email",
    "mail",
    "session",
    "sid",
    "auth",
    "reset",
    "sig",
    "hash",
    "secret",
    "pass",
    "pwd",
    "login",
    "verify",
    "confirm",
    "user",
    "customer",
    "uid",
    "code",
    "tracking",
    "piececode",
    "trackingnumber",
    "tracknum",
    "idc",
    "parcel",
    "order",
];

impl UrlFinder {
    pub fn new() -> Self {
        UrlFinder {
            re: Regex::new(r#"(?i)(?:https?://|www\.)[^\s<>"'()\[\]{}]+"#)
                .expect("constant URL pattern"),
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.re.find_iter(text) {
            let url = m
                .as_str()
                .trim_end_matches(['.', ',', ';', ':', '!', '?', '*']);
            if url.is_empty() || !carries_personal_token(url) {
                continue;
            }
            out.push(Candidate {
                kind: PiiKind::Url,
                start: m.start(),
                end: m.start() + url.len(),
                tier: TIER_EXACT,
            });
        }
    }
}

fn carries_personal_token(url: &str) -> bool {
    let (path, rest) = match url.find(['?', '#']) {
        Some(i) => (&url[..i], &url[i + 1..]),
        None => (url, ""),
    };
    let path_hit = path
        .split('/')
        .skip(3)
        .any(|seg| looks_random(seg.split('.').next().unwrap_or(seg)));
    let query_hit = rest.split(['&', ';', '#', '?']).any(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or(("", pair));
        let k = k.to_ascii_lowercase();
        (!v.is_empty() && SENSITIVE_PARAMS.iter().any(|p| k.contains(p)))
            || v.contains('@')
            || v.to_ascii_lowercase().contains("%40")
            || looks_random(v)
    });
    path_hit || query_hit
}

/// A token-like string: a long run of letters and digits without word structure, a UUID, or a
/// number of ten or more digits.
fn looks_random(s: &str) -> bool {
    if s.len() >= 10 && s.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    s.split(['-', '_']).any(|part| {
        let letters = part.bytes().filter(u8::is_ascii_alphabetic).count();
        let digits = part.bytes().filter(u8::is_ascii_digit).count();
        let alnum = part.bytes().all(|b| b.is_ascii_alphanumeric());
        (alnum && part.len() >= 12 && letters >= 2 && digits >= 2) || (alnum && base62_noise(part))
    }) || (s.len() >= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        || is_uuid(s)
}

/// A shorter random token such as a share link's `Xk29Qp7Lm4`: at least 8 characters of
/// upper case, lower case and digits, switching between them at least every other character
/// (words and model names like `GalaxyS24` switch far less).
fn base62_noise(part: &str) -> bool {
    fn class(b: u8) -> u8 {
        if b.is_ascii_digit() {
            0
        } else if b.is_ascii_uppercase() {
            1
        } else {
            2
        }
    }
    let bytes = part.as_bytes();
    if bytes.len() < 8 {
        return false;
    }
    let count = |c: u8| bytes.iter().filter(|b| class(**b) == c).count();
    let switches = bytes
        .windows(2)
        .filter(|w| class(w[0]) != class(w[1]))
        .count();
    count(0) >= 2 && count(1) >= 2 && count(2) >= 2 && switches * 2 >= bytes.len()
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_urls() {
        assert!(carries_personal_token(
            "https://shop.example/account/reset?token=ab12cd34ef56"
        ));
        assert!(carries_personal_token(
            "https://shop.example/orders/8f3a9c2e71b44d0aa1c2"
        ));
        assert!(!carries_personal_token(
            "https://shop.example/produkte/winterjacke-blau-xl"
        ));
        assert!(!carries_personal_token("https://www.example.org/faq"));
        assert!(carries_personal_token("https://we.tl/t-Xk29Qp7Lm4"));
        assert!(!carries_personal_token(
            "https://shop.example/samsung/GalaxyS24"
        ));
        assert!(!carries_personal_token(
            "https://shop.example/p/iPhone15Pro"
        ));
    }
}
