//! The SASL messages a mail server takes an OAuth2 access token in: `XOAUTH2` (Microsoft,
//! Google, Dovecot) and `OAUTHBEARER` (RFC 7628). After a refusal the server sends an
//! error challenge, which is answered with an empty line so that it ends the exchange.

/// `user=<user>^Aauth=Bearer <token>^A^A`.
pub fn xoauth2(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// `n,a=<user>,^Ahost=<host>^Aport=<port>^Aauth=Bearer <token>^A^A` (RFC 7628, 3.1). A
/// `,` or `=` in the user name is escaped as `=2C` / `=3D` (RFC 5801).
pub fn oauthbearer(user: &str, host: &str, port: u16, token: &str) -> String {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
}

/// Answers the server's first challenge with the message, any later one (the error
/// details of a refusal) with nothing.
pub struct OneShot {
    message: Option<String>,
}

impl OneShot {
    pub fn new(message: String) -> Self {
        Self {
            message: Some(message),
        }
    }
}

impl async_imap::Authenticator for OneShot {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        self.message.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::Authenticator;

    #[test]
    fn xoauth2_matches_the_documented_example() {
        // Google's documentation: user=someuser@example.com^Aauth=Bearer ya29.vF9dft4...^A^A
        assert_eq!(
            xoauth2(
                "someuser@example.com",
                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
            ),
            "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
    }

    #[test]
    fn oauthbearer_matches_rfc_7628() {
        // RFC 7628, 4.1: n,a=user@example.com,^Ahost=server.example.com^Aport=143^A
        // auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==^A^A
        assert_eq!(
            oauthbearer(
                "user@example.com",
                "server.example.com",
                143,
                "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
            ),
            "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert!(oauthbearer("a,b=c", "h", 1, "t").starts_with("n,a=a=2Cb=3Dc,"));
    }

    #[test]
    fn a_refusal_challenge_is_answered_empty() {
        let mut answer = OneShot::new("first".into());
        assert_eq!(answer.process(b""), "first");
        assert_eq!(answer.process(b"{\"status\":\"401\"}"), "");
    }
}
