//! Accent- and case-folding of text with a map back to the original byte offsets, used to find
//! known customer values ("Müller" matches "MULLER", "mueller", "Muller").

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A folded copy of a text: lower case, diacritics stripped, `ß` → `ss`, every run of
/// whitespace collapsed to one space. `origin[i]` is the original byte range of the character
/// that produced folded byte `i`.
pub struct Folded {
    pub text: String,
    origin: Vec<(usize, usize)>,
}

impl Folded {
    pub fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        let mut last_space = false;
        for (start, c) in original.char_indices() {
            let end = start + c.len_utf8();
            if c.is_whitespace() {
                if !last_space {
                    text.push(' ');
                    origin.push((start, end));
                    last_space = true;
                }
                continue;
            }
            last_space = false;
            let before = text.len();
            fold_char(c, &mut text);
            origin.resize(origin.len() + (text.len() - before), (start, end));
        }
        Folded { text, origin }
    }

    /// Maps a byte range of the folded text back to a byte range of the original text.
    pub fn original_range(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if start >= end {
            return None;
        }
        let first = self.origin.get(start)?;
        let last = self.origin.get(end - 1)?;
        Some((first.0, last.1))
    }
}

/// Appends the folded form of `c` to `out`.
pub fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'æ' | 'Æ' => out.push_str("ae"),
        'œ' | 'Œ' => out.push_str("oe"),
        'ø' | 'Ø' => out.push('o'),
        'ł' | 'Ł' => out.push('l'),
        'đ' | 'Đ' | 'ð' | 'Ð' => out.push('d'),
        'þ' | 'Þ' => out.push_str("th"),
        'ı' => out.push('i'),
        '’' | '‘' | '`' | '´' => out.push('\''),
        _ => {
            for lower in c.to_lowercase() {
                for d in std::iter::once(lower).nfd() {
                    if !is_combining_mark(d) {
                        out.push(d);
                    }
                }
            }
        }
    }
}

/// Folds a whole string (see [`Folded`]), trimming it.
pub fn fold_str(s: &str) -> String {
    Folded::new(s.trim()).text
}

/// The folded spellings under which a known value may appear: the plain fold, the German
/// transliteration of umlauts (`ü` → `ue`) and, for values written with `ue`/`ae`/`oe`, the
/// contracted form (`Mueller` → `muller`, which matches a folded `Müller`).
pub fn value_variants(value: &str) -> Vec<String> {
    let plain = fold_str(value);
    let mut variants = vec![plain.clone()];
    let expanded: String = value
        .trim()
        .chars()
        .map(|c| match c {
            'ä' | 'Ä' => "ae".to_string(),
            'ö' | 'Ö' => "oe".to_string(),
            'ü' | 'Ü' => "ue".to_string(),
            other => other.to_string(),
        })
        .collect();
    variants.push(fold_str(&expanded));
    let contracted = plain
        .replace("ae", "a")
        .replace("oe", "o")
        .replace("ue", "u");
    variants.push(contracted);
    if plain.contains("strasse") {
        variants.push(plain.replace("strasse", "str."));
        variants.push(plain.replace("strasse", "str"));
    }
    variants.sort();
    variants.dedup();
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_and_case() {
        assert_eq!(fold_str("Müller"), "muller");
        assert_eq!(fold_str("ÉLODIE  Straße"), "elodie strasse");
        assert_eq!(fold_str("Øre"), "ore");
    }

    #[test]
    fn variants_cover_ue_spelling() {
        let v = value_variants("Müller");
        assert!(v.contains(&"muller".to_string()));
        assert!(v.contains(&"mueller".to_string()));
        let v = value_variants("Mueller");
        assert!(v.contains(&"muller".to_string()));
    }

    #[test]
    fn maps_back_to_original() {
        let f = Folded::new("Herr MÜLLER kam");
        let pos = f.text.find("muller").unwrap_or(0);
        assert_eq!(f.original_range(pos, pos + 6), Some((5, 12)));
    }
}
