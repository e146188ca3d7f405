//! A syntactically checked, lower-cased email address. Code past the edge holds only these.

use std::fmt;

/// An email address: `local@domain`, trimmed and lower-cased.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(value: &str) -> Result<Self, InvalidEmail> {
        let value = value.trim().to_lowercase();
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail);
        }
        let (local, domain) = value.rsplit_once('@').ok_or(InvalidEmail)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains(['<', '>', '(', ')', ',', ';', ':', '"', '[', ']', '\\', '@']);
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if local_ok && domain_ok {
            Ok(Self(value))
        } else {
            Err(InvalidEmail)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

/// Addresses are personal data: `Debug` does not print them, so they cannot reach the log by
/// accident.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress([redacted])")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("not a valid email address")]
pub struct InvalidEmail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_addresses_and_lowercases() {
        let address = EmailAddress::parse("  Anna.Schmidt+shop@Example.DE ").expect("valid");
        assert_eq!(address.as_str(), "anna.schmidt+shop@example.de");
        assert_eq!(address.domain(), "example.de");
        assert!(EmailAddress::parse("jürgen@müller.de").is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "anna",
            "anna@",
            "@example.com",
            "anna@example",
            "a b@example.com",
            "a@exa..mple.com",
            "<a@b.com>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", EmailAddress::parse("a@b.de").expect("valid")),
            "EmailAddress([redacted])"
        );
    }
}
