//! What an API key may do. `read` looks customers and privacy requests up, `write` records
//! privacy requests, `privacy` exports and erases a customer's data. A key holds at least one;
//! an admin picks them when creating it, and a call outside them answers 403 naming the scope.

/// One permission of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Privacy,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Privacy];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Privacy => "privacy",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|s| s.as_str() == value.trim())
    }

    /// The message of a call this scope is missing for.
    pub fn missing_key(self) -> &'static str {
        match self {
            Scope::Read => "api.error.needs_read",
            Scope::Write => "api.error.needs_write",
            Scope::Privacy => "api.error.needs_privacy",
        }
    }
}

/// The scopes of one key: never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scopes([bool; 3]);

impl Scopes {
    /// The ticked scopes of a form; none ticked is refused.
    pub fn chosen(read: bool, write: bool, privacy: bool) -> Result<Self, &'static str> {
        if read || write || privacy {
            Ok(Self([read, write, privacy]))
        } else {
            Err("api.keys.scopes_required")
        }
    }

    /// The stored list (`read,privacy`). Unknown names are ignored: a key never gains a
    /// scope by a typo.
    pub fn from_stored(value: &str) -> Self {
        let mut held = [false; 3];
        for scope in value.split(',').filter_map(Scope::parse) {
            held[scope as usize] = true;
        }
        Self(held)
    }

    pub fn stored(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(",")
    }

    pub fn allows(self, scope: Scope) -> bool {
        self.0[scope as usize]
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.allows(*s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_unknown_names_grant_nothing() {
        let chosen = Scopes::chosen(true, false, true).unwrap();
        assert_eq!(chosen.stored(), "read,privacy");
        assert_eq!(Scopes::from_stored("read,privacy"), chosen);
        assert!(!Scopes::from_stored("read,admin,Privacy").allows(Scope::Privacy));
        assert_eq!(
            Scopes::chosen(false, false, false),
            Err("api.keys.scopes_required")
        );
    }
}
