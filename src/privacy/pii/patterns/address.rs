//! Street addresses and postcodes, best effort per country: street name + house number
//! (DE/AT/CH/NL/Nordic suffix words), house number + street (FR, UK/IE), street type + name +
//! number (ES, IT, PT, BE, PL), and postcode + city (5-digit, 4-digit, NL, UK, PL, PT, CZ/SE).

use regex::Regex;

use super::{
    Candidate, NEGATIVE_CONTEXT, TIER_HEURISTIC, char_after, char_before, context_before,
    has_keyword, is_word_char,
};
use crate::privacy::pii::kinds::PiiKind;

pub struct AddressFinder {
    /// Street patterns whose match ends with the house number.
    number_last: Vec<Regex>,
    /// Street patterns that end with a word (FR, UK).
    word_last: Vec<Regex>,
    /// Postcode patterns that need an address-like context.
    postcode_ctx: Vec<Regex>,
    /// Postcode patterns distinctive enough on their own.
    postcode_free: Vec<Regex>,
}

const NUMBER: &str =
    r"[ \t]*\d{1,4}(?:[ \t]?[a-zA-Z](?-u:\b))?(?:[ \t]*[-/][ \t]*\d{1,4}[a-zA-Z]?)?";
const CITY: &str = r"(?:[AO][ \t]+)?\p{Lu}[\p{L}'’\-]+(?:[ \t]+(?:am|an|im|in|der|de|del|sur|la|le|les|en|\p{Lu}[\p{L}'’\-]+|\(\p{Lu}{2}\))){0,3}";

/// Capitalised words that follow numbers but are not cities.
const NOT_CITY: &[&str] = &[
    "Dank",
    "Stück",
    "Stk",
    "Euro",
    "EUR",
    "Mal",
    "Jahre",
    "Tage",
    "Pakete",
    "Artikel",
    "Items",
    "Units",
    "Pieces",
    "Times",
    "Grazie",
    "Merci",
    "Gracias",
    "Punkte",
    "Points",
    "Kunden",
    "Bestellungen",
    "Orders",
    "Km",
    "Uhr",
    "Minuten",
    "Stunden",
    "Exemplare",
    "Euros",
];

impl AddressFinder {
    pub fn new() -> Self {
        let part = r"(?:de|del|della|delle|dei|degli|di|da|do|dos|das|la|las|los|le|les|du|des|y|e|van|von)";
        let name_word = r"(?:[dDlL]['’])?\p{Lu}[\p{L}'’.\-]*";
        let street_type = r"(?:[Cc]alle|C/|c/|[Aa]venida|[Aa]vda\.?|[Pp]laza|[Pp]za\.|[Pp]aseo|[Cc]amino|[Rr]onda|[Tt]ravesía|[Vv]ia|[Vv]iale|[Pp]iazza|[Pp]iazzale|[Cc]orso|[Ll]argo|[Vv]icolo|[Rr]ua|[Tt]ravessa|[Rr]ue|[Aa]venue|[Bb]oulevard|[Cc]haussée|[Qq]uai|ul\.|[Uu]lica|al\.|[Cc]arrer|[Pp]asseig|[Ss]trada|[Aa]vinguda|[Pp]laça|[Rr]ambla|[Cc]/\.)";
        let mut number_last = vec![
            // Hauptstraße 12, hauptstr. 5a, Kerkstraat 3, Drottninggatan 5
            format!(
                r"[\p{{L}}][\p{{L}}\-]*(?i:straße|strasse|str\.|str|straat|laan|gracht|gatan|vägen|gade|vej|katu|weg|steeg|kade|singel)(?-u:\b)?{NUMBER}"
            ),
            // Lindenweg 4, Marktplatz 1, Mannerheimintie 3 (capitalised)
            format!(
                r"\p{{Lu}}[\p{{L}}\-]*(?:gasse|allee|platz|ring|damm|ufer|chaussee|steig|pfad|graben|markt|plein|dijk|dreef|tie|torget|torv|gata|hof|park|lei|baan)(?-u:\b)?{NUMBER}"
            ),
            // Berliner Straße 5
            format!(
                r"\p{{Lu}}[\p{{L}}\-]+[ \t]+(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm|Ufer|Chaussee|Markt|Reihe|Kamp|Stieg|Twiete|Steig|Laan|Straat|Kade|Gracht|Plein|Dijk){NUMBER}"
            ),
            // Calle Mayor 5, Via Roma 10, C/ Alcalá 45, 3º B, Rua Augusta 25
            format!(
                r"{street_type}[ \t]+(?:{part}[ \t]+)*{name_word}(?:[ \t]+(?:{part}[ \t]+)*{name_word}){{0,3}},?[ \t]*(?:n[º°o]\.?[ \t]*)?\d{{1,4}}[a-zA-Z]?(?:[ \t]*/[ \t]*\d{{1,3}}[a-zA-Z]?|,?[ \t]*\d{{1,2}}[º°ª]\.?(?:[ \t]*-?[ \t]*[A-Za-z](?-u:\b))?)?"
            ),
        ];
        // Laan van Meerdervoort 301 A, Eerste Jan Steenstraat 5-hs, Jan van Galenstraat 9 II,
        // Meir 12 bus 3: Dutch and Belgian streets named after people or places, with the
        // house number's additions (a letter, -hs, a floor in Roman numerals, "bus" and a box).
        let nl_addition = r"(?:-?hs|-?huis|-?bis|[ \t]+(?:I{1,3}|IV|hs|bis|[A-H])(?-u:\b)|[ \t]+bus[ \t]+\d{1,4}[a-zA-Z]?)?";
        number_last.push(format!(
            r"(?:Eerste|Tweede|Derde|1e|2e|3e)?[ \t]*(?:\p{{Lu}}\p{{Ll}}+[ \t]+(?:(?:van|de|der|den|ten|ter|'t)[ \t]+)*)?(?:Laan|Weg|Kade|Plein|Singel|Dreef)[ \t]+(?:(?:van|de|der|den|ten|ter|op|'t)[ \t]+)+\p{{Lu}}\p{{Ll}}+(?:[ \t]+\p{{Lu}}\p{{Ll}}+)?[ \t]+\d{{1,4}}[a-zA-Z]?{nl_addition}"
        ));
        number_last.push(format!(
            r"(?:(?:Eerste|Tweede|Derde|1e|2e|3e)[ \t]+)?(?:\p{{Lu}}\p{{Ll}}+[ \t]+(?:(?:van|de|der|den|ten|ter)[ \t]+)*)?\p{{Lu}}[\p{{L}}\-]*(?:straat|laan|gracht|kade|singel|plein|dijk|weg)[ \t]+\d{{1,4}}[a-zA-Z]?{nl_addition}"
        ));
        number_last.push(
            r"\p{Lu}\p{Ll}+[ \t]+\d{1,4}[a-zA-Z]?[ \t]+bus[ \t]+\d{1,4}[a-zA-Z]?(?-u:\b)"
                .to_string(),
        );
        // Postbus 1042, Postfach 10 20 30, PO Box 17, P.O. Box 17, Apartado de correos 45
        number_last.push(
            r"(?:Postbus|Postfach|PO Box|P\.O\. Box|Apartado de [Cc]orreos|Casella [Pp]ostale)[ \t]+\d{1,6}(?:[ \t]\d{2}){0,2}(?-u:\b)".to_string(),
        );
        // Am Kirchberg 2, An der Steinhalde 4, Im Rosengarten 9
        number_last.push(format!(
            r"(?:Am|Im|An der|An den|Auf der|Auf dem|In der|In den|Zum|Zur|Unter den|Hinter der)[ \t]+\p{{Lu}}\p{{Ll}}*(?:berg|hang|feld|bach|hof|weg|graben|ring|markt|platz|tor|anger|acker|garten|wald|holz|kamp|deich|brink|busch|rain|steig|halde|wiese|höhe|grund|eck|ufer|see|park)(?-u:\b){NUMBER}"
        ));
        let word_last = vec![
            // 12 rue de la Paix, 5 bis, avenue Foch
            format!(
                r"(?-u:\b)\d{{1,4}}(?:[ \t]?(?:bis|ter|[a-dA-D]))?,?[ \t]+(?i:rue|avenue|av\.|boulevard|bd|place|allée|allee|impasse|chemin|quai|route|cours|square|passage|faubourg|chaussée)(?:[ \t]+(?:(?:des|du|de|la|les|le|aux|au|sur)(?-u:\b)|(?:[dDlL]['’])?\p{{Lu}}[\p{{L}}'’\-]*|[dDlL]['’]\p{{L}}+))+"
            ),
            // 221B Baker Street, 14 Grafton St.
            r"(?-u:\b)\d{1,4}[A-Za-z]?,?[ \t]+(?:\p{Lu}[\p{L}'’\-]*[ \t]+){1,3}(?:Street|Road|Avenue|Lane|Drive|Close|Way|Place|Square|Terrace|Crescent|Gardens|Court|Grove|Row|Mews|Hill|Walk|Parade|Quay|St|Rd|Ave)\.?".to_string(),
            // Flat 3, The Maltings, Bow Lane; The Old Rectory, Church Lane: a named house and
            // its street, without a house number.
            r"(?:(?:Flat|Apartment|Apt\.?|Unit)[ \t]+\d{1,4}[A-Za-z]?,[ \t]*)?The[ \t]+(?:\p{Lu}\p{Ll}+[ \t]+){0,2}\p{Lu}\p{Ll}+,[ \t]*(?:\p{Lu}\p{Ll}+[ \t]+){1,2}(?:Lane|Road|Street|Close|Way|Drive|Avenue|Hill|Row)".to_string(),
            // 14 Kingsway, 3 Southgate
            r"(?-u:\b)\d{1,4}[A-Za-z]?,?[ \t]+\p{Lu}\p{Ll}+(?:way|gate)(?-u:\b)".to_string(),
        ];
        let postcode_ctx = vec![
            format!(r"(?-u:\b)(?:(?:D|F|I|E|FI|DE|FR|IT|ES)-)?\d{{5}}[ \t]+{CITY}"),
            format!(r"(?-u:\b)(?:(?:A|CH|B|L|DK|NO)-)?\d{{4}}[ \t]+{CITY}"),
            format!(r"(?-u:\b)\d{{3}}[ \t]\d{{2}}[ \t]+{CITY}"),
            // Irish Eircode ("Dublin D02 X285"), only in an address context.
            r"(?-u:\b)(?:[AC-FHKNPRTV-Y]\d{2}|D6W)[ \t]?[0-9AC-FHKNPRTV-Y]{4}(?-u:\b)".to_string(),
        ];
        let postcode_free = vec![
            format!(r"(?-u:\b)[1-9]\d{{3}}[ \t]?[A-Z]{{2}}(?-u:\b)(?:[ \t]+{CITY})?"),
            r"(?-u:\b)(?:[A-Z]{1,2}\d[A-Z\d]?)[ \t]?\d[A-Z]{2}(?-u:\b)".to_string(),
            format!(r"(?-u:\b)\d{{2}}-\d{{3}}[ \t]+{CITY}"),
            format!(r"(?-u:\b)\d{{4}}-\d{{3}}[ \t]+{CITY}"),
        ];
        let compile = |v: Vec<String>| -> Vec<Regex> {
            v.iter()
                .map(|p| Regex::new(p).expect("constant address pattern"))
                .collect()
        };
        AddressFinder {
            number_last: compile(number_last),
            word_last: compile(word_last),
            postcode_ctx: compile(postcode_ctx),
            postcode_free: compile(postcode_free),
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for re in &self.number_last {
            for m in re.find_iter(text) {
                if let Some(end) = trim_to_number(text, m.start(), m.end()) {
                    push(out, PiiKind::Address, m.start(), end);
                }
            }
        }
        for re in &self.word_last {
            for m in re.find_iter(text) {
                if char_after(text, m.end()).is_some_and(is_word_char)
                    || char_before(text, m.start()).is_some_and(is_word_char)
                {
                    continue;
                }
                let end = trim_particles(text, m.start(), m.end());
                push(out, PiiKind::Address, m.start(), end);
            }
        }
        for re in &self.postcode_ctx {
            for m in re.find_iter(text) {
                if postcode_context_ok(text, m.start(), m.as_str()) {
                    push(out, PiiKind::Postcode, m.start(), m.end());
                }
            }
        }
        for re in &self.postcode_free {
            for m in re.find_iter(text) {
                if char_before(text, m.start()).is_some_and(|c| is_word_char(c) || c == '-')
                    || char_after(text, m.end()).is_some_and(|c| is_word_char(c) || c == '-')
                {
                    continue;
                }
                let s = m.as_str();
                if let Some(letters) = s.get(4..).map(str::trim_start)
                    && s.as_bytes()
                        .get(..4)
                        .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
                    && ["SA", "SD", "SS"].iter().any(|x| letters.starts_with(x))
                {
                    continue;
                }
                let ctx = context_before(text, m.start(), 25);
                if has_keyword(&ctx, NEGATIVE_CONTEXT) {
                    continue;
                }
                push(out, PiiKind::Postcode, m.start(), m.end());
            }
        }
    }
}

fn push(out: &mut Vec<Candidate>, kind: PiiKind, start: usize, end: usize) {
    out.push(Candidate {
        kind,
        start,
        end,
        tier: TIER_HEURISTIC,
    });
}

/// Shrinks a street match whose end is glued to a following word ("Hauptstraße 12 in" →
/// "Hauptstraße 12"); rejects it when no house number is left.
fn trim_to_number(text: &str, start: usize, mut end: usize) -> Option<usize> {
    if char_before(text, start).is_some_and(is_word_char) {
        return None;
    }
    while end > start && char_after(text, end).is_some_and(is_word_char) {
        end -= char_before(text, end)?.len_utf8();
    }
    let s = text[start..end].trim_end();
    let end = start + s.len();
    let tail_has_digit = s
        .chars()
        .rev()
        .take_while(|c| !c.is_alphabetic() || c.is_ascii_alphabetic() || "ºª".contains(*c))
        .take(8)
        .any(|c| c.is_ascii_digit());
    let last_ok = s
        .chars()
        .next_back()
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, 'º' | '°' | 'ª' | '.'));
    (tail_has_digit && last_ok).then_some(end)
}

/// Drops dangling lower-case particles at the end of a French street ("12 rue de la").
fn trim_particles(text: &str, start: usize, end: usize) -> usize {
    let mut s = &text[start..end];
    loop {
        let trimmed = s.trim_end();
        match trimmed.rsplit_once([' ', '\t']) {
            Some((head, last))
                if ["de", "du", "des", "la", "le", "les", "aux", "au", "sur"].contains(&last)
                    && head.split_whitespace().count() >= 3 =>
            {
                s = head;
            }
            _ => return start + trimmed.len(),
        }
    }
}

/// A bare "12345 City" is a postcode only where an address line would be: at the start of a
/// line, after a comma or dash, or after "in"/"à"/"en"/…, and not after an order keyword.
fn postcode_context_ok(text: &str, start: usize, matched: &str) -> bool {
    if char_before(text, start).is_some_and(|c| is_word_char(c) || c == '-' || c == '.') {
        return false;
    }
    let city = matched
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .trim_end_matches([',', '.']);
    if NOT_CITY.contains(&city) {
        return false;
    }
    let digits: String = matched
        .chars()
        .take_while(|c| !c.is_whitespace())
        .filter(char::is_ascii_digit)
        .collect();
    let prefixed = matched.contains('-');
    let ctx = context_before(text, start, 25);
    let after_house_number = ctx
        .trim_end()
        .strip_suffix(',')
        .is_some_and(|s| s.trim_end().ends_with(|c: char| c.is_ascii_digit()));
    if digits.len() == 4
        && !prefixed
        && !after_house_number
        && (digits.starts_with("19") || digits.starts_with("20"))
    {
        return false;
    }
    if has_keyword(&ctx, NEGATIVE_CONTEXT) {
        return false;
    }
    let line = ctx.rsplit('\n').next().unwrap_or("").trim_end();
    line.is_empty()
        || line.ends_with("dublin")
        || line.ends_with("london")
        || line.ends_with([',', '-', '–', '|', '>', ';', '.'])
        || [
            "in", "à", "a", "en", "te", "nach", "aus", "bei", "to", "from", "de", "im", "zu",
            "per", "naar", "uit",
        ]
        .iter()
        .any(|w| line == *w || line.ends_with(&format!(" {w}")))
}
