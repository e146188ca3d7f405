//! PII detection and redaction for customer-service mail: emails, phone numbers, IBANs, card
//! numbers, IP addresses, postal addresses and postcodes, URLs with personal tokens, names (in
//! greetings, sign-offs, after titles, and of anyone in running text through an embedded
//! gazetteer), and every value of the customer record. Findings are byte spans into
//! the input; [`Detector::redact`] replaces each one by its typed placeholder (`[EMAIL]`, …).

pub mod fold;
mod kinds;
mod known;
mod patterns;

#[cfg(test)]
mod accuracy_tests;
#[cfg(test)]
mod detector_tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

pub use kinds::{Finding, KnownValue, PiiKind};

use known::KnownMatcher;
use patterns::Candidate;
use patterns::{
    address::AddressFinder, card::CardFinder, email::EmailFinder, iban::IbanFinder, ip::IpFinder,
    name::NameFinder, phone::PhoneFinder, url::UrlFinder,
};

pub use patterns::card::luhn_ok;
pub use patterns::iban::iban_checksum_ok;

/// The compiled detector. Build it once with [`Detector::new`] and share it (it is `Send +
/// Sync`); `find` and `redact` take `&self`.
pub struct Detector {
    email: EmailFinder,
    url: UrlFinder,
    iban: IbanFinder,
    card: CardFinder,
    phone: PhoneFinder,
    ip: IpFinder,
    address: AddressFinder,
    name: NameFinder,
    known: KnownMatcher,
}

/// The detector the server shares, compiled on first use and kept until [`release_shared`].
static SHARED: Mutex<Option<Arc<Detector>>> = Mutex::new(None);

/// The one detector the server shares (compiled on first use, again after
/// [`release_shared`]). Callers hold the `Arc` for as long as they use it.
pub fn shared() -> Arc<Detector> {
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(slot.get_or_insert_with(|| Arc::new(Detector::new())))
}

/// Drops the shared detector once its current users are done; the next [`shared`] compiles
/// a new one (about a tenth of a second). A large job calls this at its end: the compiled
/// patterns take about 12 MB, and the regex engines' lazy DFA caches, one set per thread that
/// ran them, grow to about 23 MB over an anonymizing retention run (heap profile, issue 21)
/// and are never given back while the detector lives.
pub fn release_shared() {
    let released = SHARED.lock().unwrap_or_else(PoisonError::into_inner).take();
    drop(released);
}

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector {
    pub fn new() -> Self {
        patterns::gazetteer::warm();
        Detector {
            email: EmailFinder::new(),
            url: UrlFinder::new(),
            iban: IbanFinder::new(),
            card: CardFinder::new(),
            phone: PhoneFinder::new(),
            ip: IpFinder::new(),
            address: AddressFinder::new(),
            name: NameFinder::new(),
            known: KnownMatcher::new(),
        }
    }

    /// All PII in `text`, sorted by start, non-overlapping. Where candidates overlap, the more
    /// specific kind wins (URL/email over checksummed numbers over phone/IP/known values over
    /// heuristics), and within the same tier the longer span.
    pub fn find(&self, text: &str, known: &[KnownValue]) -> Vec<Finding> {
        let mut candidates = Vec::new();
        self.email.find(text, &mut candidates);
        self.url.find(text, &mut candidates);
        self.iban.find(text, &mut candidates);
        self.card.find(text, &mut candidates);
        self.phone.find(text, &mut candidates);
        self.ip.find(text, &mut candidates);
        self.address.find(text, &mut candidates);
        let anchors = candidates.clone();
        self.name.find_above(text, &anchors, &mut candidates);
        self.name.find(text, &mut candidates);
        self.known.find(text, known, &mut candidates);
        resolve(text, candidates)
    }

    /// `text` with every finding replaced by its placeholder.
    pub fn redact(&self, text: &str, known: &[KnownValue]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for f in self.find(text, known) {
            out.push_str(&text[pos..f.start]);
            out.push_str(f.kind.placeholder());
            pos = f.end;
        }
        out.push_str(&text[pos..]);
        out
    }
}

/// The known values of a customer record's phone number and postal address: the phone
/// (matched by its digits, however it is written), each address line and each comma-separated
/// part of a line, and the postcodes in it. What anonymization and the PII detector look for
/// besides the name and email addresses.
pub fn record_values(phone: Option<&str>, postal_address: Option<&str>) -> Vec<KnownValue> {
    let mut out = Vec::new();
    if let Some(phone) = phone.map(str::trim).filter(|p| !p.is_empty()) {
        out.push(KnownValue::new(PiiKind::Phone, phone));
    }
    for line in postal_address.unwrap_or_default().lines().map(str::trim) {
        if line.chars().count() < 3 {
            continue;
        }
        out.push(KnownValue::new(PiiKind::Address, line));
        let parts: Vec<&str> = line.split(',').map(str::trim).collect();
        if parts.len() > 1 {
            for part in parts.into_iter().filter(|p| p.chars().count() >= 3) {
                out.push(KnownValue::new(PiiKind::Address, part));
            }
        }
        for word in line.split(|c: char| c.is_whitespace() || c == ',') {
            let digits = word.chars().filter(char::is_ascii_digit).count();
            if digits >= 4 && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                out.push(KnownValue::new(PiiKind::Postcode, word));
            }
        }
    }
    out
}

/// Name particles: never a value on their own, only inside a full-name match.
pub const PARTICLES: &[&str] = &[
    "de", "van", "der", "den", "von", "zu", "zum", "zur", "da", "di", "la", "le", "du", "del",
    "della", "delle", "dei", "degli", "dos", "das", "do", "des", "ten", "ter", "te", "'t", "’t",
    "y", "e", "el", "los", "las", "lo", "vom", "d'", "l'", "d’", "l’", "het", "in", "op",
];

/// Whether a word of a name is a particle ("de", "van", "von", …), compared case-insensitively.
pub fn is_particle(word: &str) -> bool {
    let w = word.trim_end_matches(',');
    PARTICLES.iter().any(|p| p.eq_ignore_ascii_case(w))
}

/// The known values of a customer's display name: the whole name, each word of it that is not
/// a particle, and the surname with its particles ("de Vries" of "Sander de Vries"). A
/// particle is never a value on its own, so a customer named "Sander de Vries" does not turn
/// every Dutch "de" into a finding.
pub fn name_values(display_name: &str) -> Vec<KnownValue> {
    let name = display_name.trim();
    let mut out = Vec::new();
    if name.is_empty() || name.split_whitespace().all(is_particle) {
        return out;
    }
    out.push(KnownValue::new(PiiKind::Name, name));
    let words: Vec<&str> = name.split_whitespace().collect();
    for (i, part) in words.iter().enumerate() {
        if is_particle(part) || part.chars().count() < 2 {
            continue;
        }
        out.push(KnownValue::new(PiiKind::Name, *part));
        // "de Vries", "van der Berg": the particles right before a name word, with it.
        let mut first = i;
        while first > 0 && is_particle(words[first - 1]) {
            first -= 1;
        }
        if first < i {
            out.push(KnownValue::new(PiiKind::Name, words[first..=i].join(" ")));
        }
    }
    out.dedup();
    out
}

/// Greedy overlap resolution: best candidates first, each kept only if it overlaps none kept.
fn resolve(text: &str, mut candidates: Vec<Candidate>) -> Vec<Finding> {
    candidates.retain(|c| {
        c.start < c.end && text.is_char_boundary(c.start) && text.is_char_boundary(c.end)
    });
    candidates.sort_by(|a, b| {
        b.tier
            .cmp(&a.tier)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: BTreeMap<usize, (usize, PiiKind)> = BTreeMap::new();
    for c in candidates {
        let overlaps_prev = kept
            .range(..c.end)
            .next_back()
            .is_some_and(|(_, (end, _))| *end > c.start);
        if !overlaps_prev {
            kept.insert(c.start, (c.end, c.kind));
        }
    }
    kept.into_iter()
        .map(|(start, (end, kind))| Finding { kind, start, end })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn detector_is_send_sync() {
        assert_send_sync::<Detector>();
    }

    #[test]
    fn the_record_s_phone_and_address_are_found_however_they_are_written() {
        let d = Detector::new();
        let known = record_values(
            Some("+49 (0)30 1234 5678"),
            Some("Lindenallee 42, Hinterhaus\n10115 Berlin"),
        );
        let text = "Ruf mich an: 030/12345678. Ich wohne Lindenallee 42 (Hinterhaus), PLZ 10115.";
        let redacted = d.redact(text, &known);
        for gone in ["12345678", "Lindenallee 42", "Hinterhaus", "10115"] {
            assert!(!redacted.contains(gone), "{gone} in {redacted}");
        }
        assert!(record_values(None, None).is_empty());
    }

    #[test]
    fn particles_of_the_customer_name_are_never_values_on_their_own() {
        let d = Detector::new();
        let known = name_values("Sander de Vries");
        let text = "Ik heb de bestelling van de winkel nog niet. Groeten, Sander de Vries. \
                    Meneer de Vries belt morgen; Sander ook.";
        let redacted = d.redact(text, &known);
        assert_eq!(
            redacted,
            "Ik heb de bestelling van de winkel nog niet. Groeten, [NAME]. \
             Meneer [NAME] belt morgen; [NAME] ook."
        );
        // Particles handed over as values by another caller are ignored, too.
        let particles = [
            KnownValue::new(PiiKind::Name, "de"),
            KnownValue::new(PiiKind::Name, "van der"),
        ];
        assert!(d.find("de fiets van der buren", &particles).is_empty());
        assert!(name_values("van der").is_empty());
    }

    #[test]
    fn overlap_prefers_specific_then_longer() {
        let d = Detector::new();
        let text = "IBAN DE89 3704 0044 0532 0130 00 bitte";
        let f = d.find(text, &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, PiiKind::Iban);
        assert_eq!(&text[f[0].start..f[0].end], "DE89 3704 0044 0532 0130 00");
    }
}
