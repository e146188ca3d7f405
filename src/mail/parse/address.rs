//! Mail addresses as Lethe stores them: a display name and a lower-cased, trimmed address that
//! passed a syntax check. Conversion from `mail-parser`'s address types lives here too.

use mail_parser::{Addr, Address};

/// A checked mail address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, trimmed; `None` when absent or blank.
    pub name: Option<String>,
    /// The address: trimmed, lower-cased and syntactically checked.
    pub address: String,
}

impl Mailbox {
    /// Builds a mailbox from a name and an address, or `None` if the address is not usable.
    pub fn new(name: Option<&str>, address: &str) -> Option<Self> {
        let address = normalize_address(address)?;
        let name = name
            .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&address));
        Some(Self { name, address })
    }

    pub(crate) fn from_addr(addr: &Addr<'_>) -> Option<Self> {
        Self::new(addr.name(), addr.address()?)
    }

    /// The local part (before the last `@`).
    pub fn local_part(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map_or(self.address.as_str(), |(local, _)| local)
    }
}

/// All usable mailboxes of an address header, groups flattened, invalid entries dropped.
pub(crate) fn mailboxes(address: Option<&Address<'_>>) -> Vec<Mailbox> {
    address
        .map(|a| a.iter().filter_map(Mailbox::from_addr).collect())
        .unwrap_or_default()
}

/// Trims, strips one pair of angle brackets, lower-cases and checks an address.
pub(crate) fn normalize_address(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let trimmed = trimmed
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(trimmed)
        .trim();
    let lower = trimmed.to_lowercase();
    is_valid_address(&lower).then_some(lower)
}

/// A pragmatic RFC 5321/5322 syntax check: `local@domain`, at most 254 characters, a local part
/// of 1–64 characters without spaces, controls or specials outside quotes, and a domain of
/// dot-separated labels (letters, digits, hyphens, non-ASCII for IDNs) or an address literal.
pub(crate) fn is_valid_address(address: &str) -> bool {
    if address.len() > 254 {
        return false;
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    is_valid_local_part(local) && is_valid_domain(domain)
}

fn is_valid_local_part(local: &str) -> bool {
    if local.is_empty() || local.len() > 64 {
        return false;
    }
    if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        return !local.chars().any(char::is_control);
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    local
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace() && !"()<>[]:;@\\,\"".contains(c))
}

fn is_valid_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 253 {
        return false;
    }
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return !literal.is_empty()
            && literal
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:".contains(c));
    }
    domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let mb = Mailbox::new(Some("  Anna   Müller "), "  <Anna.Mueller@Example.DE> ");
        assert_eq!(
            mb,
            Some(Mailbox {
                name: Some("Anna Müller".into()),
                address: "anna.mueller@example.de".into()
            })
        );
    }

    #[test]
    fn name_equal_to_address_or_blank_is_dropped() {
        let mb = Mailbox::new(Some("a@b.de"), "A@B.de");
        assert_eq!(mb.and_then(|m| m.name), None);
        let mb = Mailbox::new(Some("   "), "a@b.de");
        assert_eq!(mb.and_then(|m| m.name), None);
    }

    #[test]
    fn valid_addresses_pass() {
        for a in [
            "a@b.de",
            "first.last+tag@sub.example.co.uk",
            "postmaster@localhost",
            "\"john doe\"@example.com",
            "jörg@müller.de",
            "x@[192.0.2.1]",
        ] {
            assert!(is_valid_address(a), "{a}");
        }
    }

    #[test]
    fn invalid_addresses_fail() {
        for a in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@exa mple.com",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example..com",
            "a<b@example.com",
            "undisclosed-recipients:;",
        ] {
            assert!(!is_valid_address(a), "{a}");
        }
    }
}
