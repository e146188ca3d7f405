//! The public data types of the detector: the kinds of PII, a finding (typed byte span) and a
//! known value taken from the customer record.

use serde::Serialize;

/// A category of personal data. Serialized in upper case (`"EMAIL"`, `"PHONE"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PiiKind {
    Email,
    Phone,
    Iban,
    Card,
    Ip,
    Address,
    Postcode,
    Url,
    Name,
}

impl PiiKind {
    /// Every kind, in declaration order.
    pub const ALL: [PiiKind; 9] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Iban,
        PiiKind::Card,
        PiiKind::Ip,
        PiiKind::Address,
        PiiKind::Postcode,
        PiiKind::Url,
        PiiKind::Name,
    ];

    /// The text that replaces a finding of this kind, e.g. `"[EMAIL]"`.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::Card => "[CARD]",
            PiiKind::Ip => "[IP]",
            PiiKind::Address => "[ADDRESS]",
            PiiKind::Postcode => "[POSTCODE]",
            PiiKind::Url => "[URL]",
            PiiKind::Name => "[NAME]",
        }
    }

    /// The upper-case label, as used in JSON and in the test corpus (`"EMAIL"`).
    pub fn label(self) -> &'static str {
        let p = self.placeholder();
        &p[1..p.len() - 1]
    }

    /// Parses an upper-case label such as `"IBAN"`.
    pub fn from_label(label: &str) -> Option<PiiKind> {
        PiiKind::ALL.into_iter().find(|k| k.label() == label)
    }
}

/// One detected piece of PII: its kind and the byte range `start..end` in the input text.
/// Both offsets always lie on `char` boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    #[serde(rename = "type")]
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

/// A value held in the customer record (a name part, street, phone number, email, ...), which
/// is redacted wherever it appears, regardless of case and accents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownValue {
    pub kind: PiiKind,
    pub value: String,
}

impl KnownValue {
    pub fn new(kind: PiiKind, value: impl Into<String>) -> Self {
        KnownValue {
            kind,
            value: value.into(),
        }
    }
}
