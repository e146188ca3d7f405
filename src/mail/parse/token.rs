//! Conversation tokens: five characters from an alphabet without look-alikes (no 0/O/1/I),
//! written into subjects as `[#K7F3A]` so replies find their conversation even when the
//! In-Reply-To and References headers are lost.

use std::sync::LazyLock;

use regex::Regex;

/// The characters a token is made of.
pub const TOKEN_ALPHABET: &str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// The number of characters in a token.
pub const TOKEN_LEN: usize = 5;

static TAG: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\[#([23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{5})\]").ok());

/// The subject tag for a token: `[#K7F3A]`.
pub fn format_token_tag(token: &str) -> String {
    format!("[#{token}]")
}

/// The first well-formed token tag in a subject, without `[#` and `]`.
///
/// Matching is exact (upper case, the token alphabet, five characters), so `[#12345]` or a
/// ticket number from another system is not mistaken for a Lethe token.
pub fn conversation_token_in(subject: &str) -> Option<String> {
    let tag = TAG.as_ref()?;
    tag.captures(subject)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
}

/// Whether `token` is a syntactically valid token.
pub fn is_valid_token(token: &str) -> bool {
    token.len() == TOKEN_LEN && token.chars().all(|c| TOKEN_ALPHABET.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_found_anywhere_in_the_subject() {
        assert_eq!(
            conversation_token_in("Re: [#K7F3A] Where is my order?").as_deref(),
            Some("K7F3A")
        );
        assert_eq!(
            conversation_token_in("AW: Where is my order? [#K7F3A]").as_deref(),
            Some("K7F3A")
        );
    }

    #[test]
    fn look_alike_characters_and_wrong_lengths_are_not_tokens() {
        for subject in [
            "[#K7F0A]", "[#K7FOA]", "[#K7F1A]", "[#K7FIA]", "[#K7F3]", "[#k7f3a]",
        ] {
            assert_eq!(conversation_token_in(subject), None, "{subject}");
        }
        assert_eq!(conversation_token_in("[#K7F3AB]"), None);
        assert_eq!(conversation_token_in("Order #12345"), None);
    }

    #[test]
    fn formatted_tag_round_trips() {
        let tag = format_token_tag("K7F3A");
        assert_eq!(tag, "[#K7F3A]");
        assert_eq!(conversation_token_in(&tag).as_deref(), Some("K7F3A"));
        assert!(is_valid_token("K7F3A"));
        assert!(!is_valid_token("K7F3O"));
    }
}
