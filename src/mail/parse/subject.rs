//! Subject clean-up for display and threading: strips reply/forward prefixes in the languages
//! EU shoppers write in ("Re:", "AW:", "WG:", "Fwd:", "TR:", "Antw:", "SV:", "R:", "RIF:", …),
//! repeated and with counters like "Re[2]:", and Lethe's own `[#TOKEN]` tags at either end.

use std::sync::LazyLock;

use regex::Regex;

/// One leading prefix: a reply/forward marker with an optional counter and a colon (ASCII or
/// full-width), or a token tag.
static PREFIX: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)^\s*(?:
            (?:re|aw|wg|fwd?|fw|tr|antw|antwort|sv|vs|vb|r|rif|i|ref|réf|rv|enc|res|odp|pd|
               ynt|ilt|vá|továbbítás|atb|pārs|fs|vl|回复|回覆|转发|轉寄|답장|전달)
            \s*(?:\[\d+\]|\(\d+\))?\s*[:：]
          | \[\#[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{5}\]
        )",
    )
    .ok()
});

/// A trailing token tag.
static SUFFIX_TAG: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\s*\[#[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{5}\]\s*$").ok());

/// The subject without leading reply/forward prefixes and without token tags at its start or
/// end, trimmed. Tags in the middle of the subject stay (the result borrows from the input).
pub fn strip_subject_prefixes(subject: &str) -> &str {
    let mut rest = subject.trim();
    if let Some(prefix) = PREFIX.as_ref() {
        while let Some(m) = prefix.find(rest) {
            rest = rest[m.end()..].trim_start();
        }
    }
    if let Some(suffix) = SUFFIX_TAG.as_ref() {
        while let Some(m) = suffix.find(rest) {
            rest = &rest[..m.start()];
        }
    }
    rest.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_in_several_languages_are_stripped() {
        let cases = [
            ("Re: Order 1001", "Order 1001"),
            ("RE : Commande 1001", "Commande 1001"),
            ("AW: WG: Bestellung 1001", "Bestellung 1001"),
            ("Fwd: Fw: FWD: order", "order"),
            ("TR: Réf: commande", "commande"),
            ("Antw: bestelling", "bestelling"),
            ("SV: Sv: beställning", "beställning"),
            ("R: RIF: ordine", "ordine"),
            ("Re[2]: Re(3): order", "order"),
            ("回复：订单", "订单"),
            ("Odp: zamówienie", "zamówienie"),
            ("RV: pedido", "pedido"),
        ];
        for (input, expected) in cases {
            assert_eq!(strip_subject_prefixes(input), expected, "{input}");
        }
    }

    #[test]
    fn token_tags_at_either_end_are_stripped() {
        assert_eq!(
            strip_subject_prefixes("Re: [#K7F3A] Where is it?"),
            "Where is it?"
        );
        assert_eq!(
            strip_subject_prefixes("AW: Where is it? [#K7F3A]"),
            "Where is it?"
        );
        assert_eq!(
            strip_subject_prefixes("[#K7F3A] Re: [#K7F3A] Where is it?"),
            "Where is it?"
        );
    }

    #[test]
    fn words_that_merely_start_like_prefixes_are_kept() {
        assert_eq!(strip_subject_prefixes("Return label"), "Return label");
        assert_eq!(strip_subject_prefixes("Rifiuto: ordine"), "Rifiuto: ordine");
        assert_eq!(strip_subject_prefixes("Trust me"), "Trust me");
        assert_eq!(strip_subject_prefixes("  "), "");
        assert_eq!(strip_subject_prefixes("Re:"), "");
    }
}
