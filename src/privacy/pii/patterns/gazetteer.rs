//! The embedded name gazetteer: first names and surnames of the countries whose customers
//! write in English, German, French, Spanish, Italian and Dutch (and of the countries many of
//! their residents' families come from), generated from the `names-dataset` package by
//! `scripts/gen_name_gazetteer.py` into `names.txt`. Looked up by hash, built once per process.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::privacy::pii::fold::fold_str;

/// A first name.
pub const FIRST: u8 = 1;
/// A surname.
pub const LAST: u8 = 2;
/// Also a frequent ordinary word ("Mark", "Rose", "Ende"): a name only with context.
pub const WORD: u8 = 4;

static NAMES: LazyLock<HashMap<&'static str, u8>> = LazyLock::new(|| {
    include_str!("names.txt")
        .lines()
        .filter_map(|line| {
            let (name, flags) = line.split_once('\t')?;
            let bits = flags.bytes().fold(0, |acc, b| {
                acc | match b {
                    b'F' => FIRST,
                    b'L' => LAST,
                    b'W' => WORD,
                    _ => 0,
                }
            });
            Some((name, bits))
        })
        .collect()
});

/// The flags of a word (0 when it is no known name), folded like the gazetteer.
pub fn lookup(word: &str) -> u8 {
    if word.is_ascii() {
        return NAMES
            .get(word.to_ascii_lowercase().as_str())
            .copied()
            .unwrap_or(0);
    }
    NAMES.get(fold_str(word).as_str()).copied().unwrap_or(0)
}

/// Forces the table to be built (so the first mail does not pay for it).
pub fn warm() {
    LazyLock::force(&NAMES);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_names_of_the_six_countries() {
        for first in ["Jeroen", "Tom", "Élodie", "Giuseppe", "Jürgen", "Mehmet"] {
            assert!(lookup(first) & FIRST != 0, "{first}");
        }
        for last in ["Fischer", "Dupont", "Yilmaz", "Müller", "Rossi", "Jansen"] {
            assert!(lookup(last) & LAST != 0, "{last}");
        }
        for word in ["Mark", "Rose", "Hope"] {
            assert!(lookup(word) & WORD != 0, "{word}");
        }
        for not in ["Hallo", "Frau", "Bestellung", "de"] {
            assert_eq!(lookup(not), 0, "{not}");
        }
    }
}
