//! Pattern-based detectors, one module per kind of PII, and the helpers they share (context
//! keywords, neighbouring characters). Each detector pushes [`Candidate`]s; overlaps are
//! resolved in `lib.rs`.

pub mod address;
pub mod card;
pub mod email;
pub mod gazetteer;
pub mod iban;
pub mod ip;
pub mod name;
pub mod phone;
pub mod url;

use crate::privacy::pii::kinds::PiiKind;

/// A possible finding before overlap resolution. Higher `tier` wins over lower tiers; within a
/// tier the longer span wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
    pub tier: u8,
}

/// Tier of checksummed or unambiguous formats (email, URL).
pub const TIER_EXACT: u8 = 3;
/// Tier of checksum-validated numbers (IBAN, card).
pub const TIER_CHECKED: u8 = 2;
/// Tier of structured numbers and known values (phone, IP, customer record).
pub const TIER_STRUCTURED: u8 = 1;
/// Tier of heuristics (addresses, postcodes, names).
pub const TIER_HEURISTIC: u8 = 0;

/// The character just before byte offset `i`.
pub fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i).and_then(|s| s.chars().next_back())
}

/// The character starting at byte offset `i`.
pub fn char_after(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

/// Up to `max_chars` characters before byte offset `i`, lower-cased.
pub fn context_before(text: &str, i: usize, max_chars: usize) -> String {
    let head = text.get(..i).unwrap_or("");
    let mut start = head.len();
    for (n, (idx, _)) in head.char_indices().rev().enumerate() {
        if n >= max_chars {
            break;
        }
        start = idx;
    }
    head[start..].to_lowercase()
}

/// Whether `ctx` contains one of `words` at the start of a word.
pub fn has_keyword(ctx: &str, words: &[&str]) -> bool {
    words.iter().any(|w| {
        ctx.match_indices(w).any(|(i, _)| {
            ctx[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
        })
    })
}

/// Words that introduce order, invoice, tracking or article numbers: numbers right after them
/// are not personal data.
pub const NEGATIVE_CONTEXT: &[&str] = &[
    "order",
    "bestell",
    "auftrag",
    "rechnung",
    "invoice",
    "commande",
    "facture",
    "pedido",
    "factura",
    "ordine",
    "fattura",
    "bestelling",
    "factuur",
    "tracking",
    "track",
    "sendung",
    "suivi",
    "seguimiento",
    "spedizione",
    "sku",
    "artikel",
    "article",
    "articolo",
    "art.",
    "ref",
    "kundennummer",
    "customer number",
    "iban",
    "bic",
    "konto",
    "#",
    "nr",
    "no.",
    "n°",
    "nº",
    "num.",
    "paket",
    "parcel",
    "colis",
    "zending",
    "pakket",
    "ticket",
    "vorgang",
    "referenz",
    "référence",
    "riferimento",
    "referencia",
    "referentie",
    "gutschein",
    "voucher",
    "code",
    "€",
    "eur ",
    "eur.",
    "euro ",
    "euros",
];

/// Whether the character is part of a word or number.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}
