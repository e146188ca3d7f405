//! Time-based one-time passwords (RFC 6238 over HOTP, RFC 4226): HMAC-SHA-1, 30-second steps,
//! six digits. [`TotpSecret`] is the shared secret (redacted in `Debug`), [`TotpCode`] a code
//! as typed, checked to be six digits.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per time step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps before and after the current one whose codes are also accepted (clock drift).
pub const WINDOW: i64 = 1;

/// What is escaped in the URI's label and issuer: all but unreserved characters.
const LABEL: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A TOTP secret: 20 random bytes (160 bits, as RFC 4226 recommends).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        super::tokens::fill_random(&mut bytes);
        Self(bytes)
    }

    /// The secret in base32 (RFC 4648, no padding), as authenticator apps take it.
    pub fn to_base32(&self) -> String {
        let mut out = String::with_capacity(self.0.len().div_ceil(5) * 8);
        let mut buffer: u32 = 0;
        let mut bits = 0;
        for &byte in &self.0 {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// Reads a base32 secret (case, spaces and padding ignored); None when it is not base32.
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bytes = Vec::new();
        let mut buffer: u32 = 0;
        let mut bits = 0;
        for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
            let upper = c.to_ascii_uppercase();
            let value = BASE32.iter().position(|&b| char::from(b) == upper)?;
            buffer = (buffer << 5) | value as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push(((buffer >> bits) & 0xff) as u8);
            }
        }
        (!bytes.is_empty()).then_some(Self(bytes))
    }

    /// The `otpauth://` URI an authenticator app reads (as text or from a QR code).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, LABEL).to_string();
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            enc(issuer),
            enc(account),
            self.to_base32(),
            enc(issuer),
        )
    }

    /// The HOTP value of `counter` with `digits` digits (RFC 4226 §5.3).
    pub fn hotp(&self, counter: u64, digits: u32) -> u32 {
        // HMAC takes a key of any length.
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&self.0) else {
            return 0;
        };
        mac.update(&counter.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[19] & 0x0f);
        let binary = (u32::from(digest[offset]) & 0x7f) << 24
            | u32::from(digest[offset + 1]) << 16
            | u32::from(digest[offset + 2]) << 8
            | u32::from(digest[offset + 3]);
        binary % 10u32.pow(digits)
    }

    /// The six-digit code of time step `step`.
    pub fn code_at_step(&self, step: i64) -> TotpCode {
        TotpCode(self.hotp(u64::try_from(step).unwrap_or(0), DIGITS))
    }

    /// The step `code` belongs to, if it is the code of a step within [`WINDOW`] of the one
    /// `unix_seconds` falls in and newer than `last_used_step` (a code is good once).
    pub fn matching_step(
        &self,
        code: TotpCode,
        unix_seconds: i64,
        last_used_step: Option<i64>,
    ) -> Option<i64> {
        let now = step_of(unix_seconds);
        (now - WINDOW..=now + WINDOW)
            .filter(|step| *step >= 0 && last_used_step.is_none_or(|last| *step > last))
            .find(|step| constant_time_eq(self.code_at_step(*step).0, code.0))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The time step `unix_seconds` falls in.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

fn constant_time_eq(a: u32, b: u32) -> bool {
    (a ^ b) == 0
}

/// A code as typed: exactly six digits (spaces allowed between them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TotpCode(u32);

impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCode([redacted])")
    }
}

impl TotpCode {
    pub fn parse(text: &str) -> Option<Self> {
        let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(Self)
    }
}

impl std::fmt::Display for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 vectors, key "12345678901234567890", eight digits.
    #[test]
    fn rfc_6238_sha1_test_vectors() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        for (time, expected) in [
            (59_i64, 94_287_082_u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            let counter = u64::try_from(step_of(time)).expect("positive");
            assert_eq!(secret.hotp(counter, 8), expected, "T = {time}");
            // Six digits are the last six of the eight.
            assert_eq!(
                secret.code_at_step(step_of(time)).to_string(),
                format!("{:06}", expected % 1_000_000)
            );
        }
    }

    /// RFC 4226, appendix D: HOTP values of counters 0 to 9.
    #[test]
    fn rfc_4226_hotp_test_vectors() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, value) in expected.into_iter().enumerate() {
            assert_eq!(secret.hotp(counter as u64, 6), value);
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_never_a_used_step_again() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_000;
        let step = step_of(now);
        for offset in [-1, 0, 1] {
            let code = secret.code_at_step(step + offset);
            assert_eq!(secret.matching_step(code, now, None), Some(step + offset));
        }
        let old = secret.code_at_step(step - 2);
        assert_eq!(secret.matching_step(old, now, None), None);
        let current = secret.code_at_step(step);
        assert_eq!(secret.matching_step(current, now, Some(step)), None);
        assert_eq!(
            secret.matching_step(secret.code_at_step(step + 1), now, Some(step)),
            Some(step + 1)
        );
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(TotpSecret(b"foobar".to_vec()).to_base32(), "MZXW6YTBOI");
        let secret = TotpSecret::generate();
        assert_eq!(secret.to_base32().len(), 32);
        assert_eq!(
            TotpSecret::from_base32(&secret.to_base32().to_lowercase()),
            Some(secret)
        );
        assert_eq!(TotpSecret::from_base32("not base32!"), None);
    }

    #[test]
    fn a_code_is_six_digits() {
        assert_eq!(
            TotpCode::parse("012 345").map(|c| c.to_string()).as_deref(),
            Some("012345")
        );
        for bad in ["", "12345", "1234567", "12345a", "-12345"] {
            assert!(TotpCode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn debug_of_a_secret_is_redacted() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        assert_eq!(format!("{secret:?}"), "TotpSecret([redacted])");
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let secret = TotpSecret(b"foobar".to_vec());
        let uri = secret.otpauth_uri("Lethe", "anna@shop.test");
        assert!(
            uri.starts_with("otpauth://totp/Lethe:anna%40shop.test?secret=MZXW6YTBOI&issuer=Lethe"),
            "{uri}"
        );
    }
}
