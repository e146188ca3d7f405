//! The relying party's side of WebAuthn (Level 2): checking what a browser returns from
//! `navigator.credentials.create()` (a new passkey) and `navigator.credentials.get()` (a
//! signature by one). Pure Rust: CBOR from [`super::cbor`], signatures checked with `ring`
//! (ES256, EdDSA and RS256, the three algorithms authenticators use).
//!
//! What is checked here: the client data's type, origin and (returned to the caller, who owns
//! challenges) challenge; the authenticator data's relying party hash and flags; the public
//! key's form; and an assertion's signature. Attestation statements are not verified: Lethe asks
//! for none (`attestation: "none"`) and trusts a passkey because the signed-in user added it,
//! not because of who made the authenticator.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::cbor::{self, Value};

/// COSE algorithm numbers Lethe accepts, in order of preference.
pub const ALGORITHMS: [i64; 3] = [ES256, EDDSA, RS256];
const ES256: i64 = -7;
const EDDSA: i64 = -8;
const RS256: i64 = -257;

/// Authenticator data flags.
pub const USER_PRESENT: u8 = 0x01;
pub const USER_VERIFIED: u8 = 0x04;
const BACKUP_ELIGIBLE: u8 = 0x08;
const ATTESTED_DATA: u8 = 0x40;
const EXTENSION_DATA: u8 = 0x80;

/// The longest credential id WebAuthn allows.
const MAX_CREDENTIAL_ID: usize = 1023;

/// Why a browser's answer was refused. The text names the check, never the data.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebAuthnError {
    #[error("the client data is not WebAuthn client data")]
    ClientData,
    #[error("the ceremony is of the wrong type")]
    WrongType,
    #[error("the origin is not this instance's")]
    WrongOrigin,
    #[error("the authenticator data is malformed")]
    AuthenticatorData,
    #[error("the passkey is for another relying party")]
    WrongRelyingParty,
    #[error("the user was not present")]
    UserNotPresent,
    #[error("the user was not verified")]
    UserNotVerified,
    #[error("the attestation object is malformed")]
    Attestation,
    #[error("the public key is malformed or of an algorithm Lethe does not accept")]
    PublicKey,
    #[error("the signature is not valid")]
    Signature,
}

/// This instance as a WebAuthn relying party: its id (the host name of `LETHE_BASE_URL`) and
/// the origin pages are served from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    id: String,
    origin: String,
}

impl RelyingParty {
    /// None when the URL's host is an IP address: browsers offer WebAuthn only on a domain
    /// name (`localhost` included).
    pub fn from_url(base_url: &str) -> Option<Self> {
        let url = url::Url::parse(base_url).ok()?;
        let id = match url.host()? {
            url::Host::Domain(domain) => domain.trim_end_matches('.').to_ascii_lowercase(),
            url::Host::Ipv4(_) | url::Host::Ipv6(_) => return None,
        };
        // A page on plain HTTP is a secure context only on localhost.
        if url.scheme() != "https" && id != "localhost" && !id.ends_with(".localhost") {
            return None;
        }
        Some(Self {
            id,
            origin: url.origin().ascii_serialization(),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn id_hash(&self) -> [u8; 32] {
        Sha256::digest(self.id.as_bytes()).into()
    }
}

/// A passkey the browser made, checked: what to store.
#[derive(Debug)]
pub struct NewCredential {
    /// The challenge the client data carried (the caller checks it is one it issued).
    pub challenge: Vec<u8>,
    pub credential_id: Vec<u8>,
    /// The COSE public key, as the authenticator encoded it.
    pub public_key: Vec<u8>,
    pub sign_count: u32,
    pub user_verified: bool,
    /// Synced between devices (a passkey in a password manager or platform account).
    pub backup_eligible: bool,
}

/// A signature by a stored passkey, checked.
#[derive(Debug)]
pub struct Assertion {
    pub challenge: Vec<u8>,
    pub sign_count: u32,
    pub user_verified: bool,
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
}

/// The challenge of client data of `kind` from this relying party's origin.
fn check_client_data(
    rp: &RelyingParty,
    client_data_json: &[u8],
    kind: &str,
) -> Result<Vec<u8>, WebAuthnError> {
    let data: ClientData =
        serde_json::from_slice(client_data_json).map_err(|_| WebAuthnError::ClientData)?;
    if data.kind != kind {
        return Err(WebAuthnError::WrongType);
    }
    if data.origin != rp.origin || data.cross_origin {
        return Err(WebAuthnError::WrongOrigin);
    }
    URL_SAFE_NO_PAD
        .decode(data.challenge.trim_end_matches('='))
        .map_err(|_| WebAuthnError::ClientData)
}

/// The fixed head of authenticator data: the flags and the signature counter, after checking
/// the relying party hash and that the user was present.
fn check_head(rp: &RelyingParty, auth_data: &[u8]) -> Result<(u8, u32), WebAuthnError> {
    if auth_data.len() < 37 {
        return Err(WebAuthnError::AuthenticatorData);
    }
    if auth_data[..32] != rp.id_hash() {
        return Err(WebAuthnError::WrongRelyingParty);
    }
    let flags = auth_data[32];
    if flags & USER_PRESENT == 0 {
        return Err(WebAuthnError::UserNotPresent);
    }
    let count = u32::from_be_bytes([auth_data[33], auth_data[34], auth_data[35], auth_data[36]]);
    Ok((flags, count))
}

/// Checks the answer of `navigator.credentials.create()`: `client_data_json` and
/// `attestation_object` as the browser gave them.
pub fn check_registration(
    rp: &RelyingParty,
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> Result<NewCredential, WebAuthnError> {
    let challenge = check_client_data(rp, client_data_json, "webauthn.create")?;
    let attestation = cbor::decode(attestation_object).map_err(|_| WebAuthnError::Attestation)?;
    attestation
        .get_text_key("fmt")
        .and_then(Value::as_text)
        .ok_or(WebAuthnError::Attestation)?;
    let auth_data = attestation
        .get_text_key("authData")
        .and_then(Value::as_bytes)
        .ok_or(WebAuthnError::Attestation)?;
    let (flags, sign_count) = check_head(rp, auth_data)?;
    if flags & ATTESTED_DATA == 0 {
        return Err(WebAuthnError::AuthenticatorData);
    }
    // aaguid (16 bytes), credential id length (2), credential id, COSE key, extensions.
    let rest = &auth_data[37..];
    if rest.len() < 18 {
        return Err(WebAuthnError::AuthenticatorData);
    }
    let id_length = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
    if id_length == 0 || id_length > MAX_CREDENTIAL_ID || rest.len() < 18 + id_length {
        return Err(WebAuthnError::AuthenticatorData);
    }
    let credential_id = rest[18..18 + id_length].to_vec();
    let key_and_extensions = &rest[18 + id_length..];
    let (key, key_length) =
        cbor::decode_prefix(key_and_extensions).map_err(|_| WebAuthnError::PublicKey)?;
    PublicKey::from_cose(&key)?;
    let extensions = &key_and_extensions[key_length..];
    let extensions_ok = if flags & EXTENSION_DATA != 0 {
        cbor::decode(extensions).is_ok()
    } else {
        extensions.is_empty()
    };
    if !extensions_ok {
        return Err(WebAuthnError::AuthenticatorData);
    }
    Ok(NewCredential {
        challenge,
        credential_id,
        public_key: key_and_extensions[..key_length].to_vec(),
        sign_count,
        user_verified: flags & USER_VERIFIED != 0,
        backup_eligible: flags & BACKUP_ELIGIBLE != 0,
    })
}

/// Checks the answer of `navigator.credentials.get()` against the stored COSE `public_key`.
pub fn check_assertion(
    rp: &RelyingParty,
    public_key: &[u8],
    client_data_json: &[u8],
    authenticator_data: &[u8],
    signature: &[u8],
) -> Result<Assertion, WebAuthnError> {
    let challenge = check_client_data(rp, client_data_json, "webauthn.get")?;
    let (flags, sign_count) = check_head(rp, authenticator_data)?;
    let key = cbor::decode(public_key).map_err(|_| WebAuthnError::PublicKey)?;
    let key = PublicKey::from_cose(&key)?;
    let mut signed = authenticator_data.to_vec();
    signed.extend_from_slice(&Sha256::digest(client_data_json));
    key.verify(&signed, signature)?;
    Ok(Assertion {
        challenge,
        sign_count,
        user_verified: flags & USER_VERIFIED != 0,
    })
}

/// A public key of an accepted algorithm.
enum PublicKey {
    /// The uncompressed point `04 ‖ x ‖ y`.
    Es256(Vec<u8>),
    Ed25519(Vec<u8>),
    Rs256 {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl PublicKey {
    fn from_cose(key: &Value) -> Result<Self, WebAuthnError> {
        let int = |label| key.get_int_key(label).and_then(Value::as_i64);
        let bytes = |label| key.get_int_key(label).and_then(Value::as_bytes);
        let kty = int(1).ok_or(WebAuthnError::PublicKey)?;
        let alg = int(3).ok_or(WebAuthnError::PublicKey)?;
        match (kty, alg) {
            // EC2 on P-256
            (2, ES256) if int(-1) == Some(1) => {
                let (x, y) = bytes(-2).zip(bytes(-3)).ok_or(WebAuthnError::PublicKey)?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(WebAuthnError::PublicKey);
                }
                Ok(PublicKey::Es256([&[4u8][..], x, y].concat()))
            }
            // OKP on Ed25519
            (1, EDDSA) if int(-1) == Some(6) => {
                let x = bytes(-2).ok_or(WebAuthnError::PublicKey)?;
                if x.len() != 32 {
                    return Err(WebAuthnError::PublicKey);
                }
                Ok(PublicKey::Ed25519(x.to_vec()))
            }
            // RSA, at least 2048 bits
            (3, RS256) => {
                let (n, e) = bytes(-1).zip(bytes(-2)).ok_or(WebAuthnError::PublicKey)?;
                let n = n.strip_prefix(&[0]).unwrap_or(n);
                if n.len() < 256 || e.is_empty() {
                    return Err(WebAuthnError::PublicKey);
                }
                Ok(PublicKey::Rs256 {
                    n: n.to_vec(),
                    e: e.to_vec(),
                })
            }
            _ => Err(WebAuthnError::PublicKey),
        }
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), WebAuthnError> {
        let checked = match self {
            PublicKey::Es256(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point)
                    .verify(message, sig)
            }
            PublicKey::Ed25519(x) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig)
            }
            PublicKey::Rs256 { n, e } => signature::RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                message,
                sig,
            ),
        };
        checked.map_err(|_| WebAuthnError::Signature)
    }
}

/// Base64url without padding, as WebAuthn's JSON forms carry binary values.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads base64url (padding tolerated).
pub fn from_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

/// A software authenticator for tests: real keys made with `ring`, data laid out as CTAP2
/// does, so the checks above meet what a browser sends. Compiled for tests only.
#[cfg(any(test, feature = "test-hooks"))]
pub mod testing {
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    use super::*;

    pub use super::{USER_PRESENT, USER_VERIFIED};

    /// CBOR heads and items, enough to build what an authenticator sends.
    fn head(major: u8, n: usize) -> Vec<u8> {
        let major = major << 5;
        match n {
            0..=23 => vec![major | n as u8],
            24..=255 => vec![major | 24, n as u8],
            _ => vec![major | 25, (n >> 8) as u8, n as u8],
        }
    }
    fn int(n: i64) -> Vec<u8> {
        if n >= 0 {
            head(0, n as usize)
        } else {
            head(1, (-1 - n) as usize)
        }
    }
    fn bytes(b: &[u8]) -> Vec<u8> {
        [head(2, b.len()), b.to_vec()].concat()
    }
    fn text(t: &str) -> Vec<u8> {
        [head(3, t.len()), t.as_bytes().to_vec()].concat()
    }

    pub enum Key {
        P256(EcdsaKeyPair),
        Ed(Ed25519KeyPair),
    }

    pub struct Authenticator {
        pub key: Key,
        pub credential_id: Vec<u8>,
        /// The user handle a discoverable passkey returns with its signatures.
        pub user_handle: Vec<u8>,
        pub rp_id: String,
        pub count: u32,
        pub flags: u8,
    }

    impl Authenticator {
        pub fn p256(rp_id: &str) -> Self {
            let rng = SystemRandom::new();
            let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("ring works");
            let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("ring works");
            Self::with(Key::P256(key), rp_id)
        }

        pub fn ed25519(rp_id: &str) -> Self {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("ring works");
            let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("ring works");
            Self::with(Key::Ed(key), rp_id)
        }

        fn with(key: Key, rp_id: &str) -> Self {
            let mut credential_id = vec![0u8; 32];
            crate::crypto::fill_random(&mut credential_id);
            Self {
                key,
                credential_id,
                user_handle: Vec::new(),
                rp_id: rp_id.to_owned(),
                count: 0,
                flags: USER_PRESENT | USER_VERIFIED,
            }
        }

        fn cose_key(&self) -> Vec<u8> {
            match &self.key {
                Key::P256(key) => {
                    let point = key.public_key().as_ref();
                    [
                        vec![0xa5],
                        int(1),
                        int(2),
                        int(3),
                        int(ES256),
                        int(-1),
                        int(1),
                        int(-2),
                        bytes(&point[1..33]),
                        int(-3),
                        bytes(&point[33..65]),
                    ]
                    .concat()
                }
                Key::Ed(key) => [
                    vec![0xa4],
                    int(1),
                    int(1),
                    int(3),
                    int(EDDSA),
                    int(-1),
                    int(6),
                    int(-2),
                    bytes(key.public_key().as_ref()),
                ]
                .concat(),
            }
        }

        fn auth_data(&self, flags: u8, attested: bool) -> Vec<u8> {
            let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
            data.push(flags | if attested { ATTESTED_DATA } else { 0 });
            data.extend_from_slice(&self.count.to_be_bytes());
            if attested {
                data.extend_from_slice(&[0u8; 16]);
                data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
                data.extend_from_slice(&self.credential_id);
                data.extend_from_slice(&self.cose_key());
            }
            data
        }

        pub fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
            serde_json::json!({"type": kind, "challenge": b64url(challenge), "origin": origin})
                .to_string()
                .into_bytes()
        }

        /// (clientDataJSON, attestationObject)
        pub fn create(&self, challenge: &[u8], origin: &str) -> (Vec<u8>, Vec<u8>) {
            let client_data = Self::client_data("webauthn.create", challenge, origin);
            let object = [
                vec![0xa3],
                text("fmt"),
                text("none"),
                text("attStmt"),
                vec![0xa0],
                text("authData"),
                bytes(&self.auth_data(self.flags, true)),
            ]
            .concat();
            (client_data, object)
        }

        /// (clientDataJSON, authenticatorData, signature)
        pub fn get(&mut self, challenge: &[u8], origin: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
            self.count += 1;
            let client_data = Self::client_data("webauthn.get", challenge, origin);
            let auth_data = self.auth_data(self.flags, false);
            let signature = self.sign(&auth_data, &client_data);
            (client_data, auth_data, signature)
        }

        pub fn sign(&self, auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
            let message = [auth_data, &Sha256::digest(client_data)].concat();
            match &self.key {
                Key::P256(key) => key
                    .sign(&SystemRandom::new(), &message)
                    .expect("ring works")
                    .as_ref()
                    .to_vec(),
                Key::Ed(key) => key.sign(&message).as_ref().to_vec(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Authenticator;
    use super::*;

    fn rp() -> RelyingParty {
        RelyingParty::from_url("https://support.shop.example").unwrap()
    }

    const ORIGIN: &str = "https://support.shop.example";

    fn registered(authenticator: &Authenticator) -> NewCredential {
        let (client_data, object) = authenticator.create(b"challenge-1", ORIGIN);
        check_registration(&rp(), &client_data, &object).unwrap()
    }

    #[test]
    fn a_new_passkey_and_its_signatures_are_accepted() {
        for mut authenticator in [
            Authenticator::p256("support.shop.example"),
            Authenticator::ed25519("support.shop.example"),
        ] {
            let credential = registered(&authenticator);
            assert_eq!(credential.challenge, b"challenge-1");
            assert_eq!(credential.credential_id, authenticator.credential_id);
            assert!(credential.user_verified);
            let (client_data, auth_data, signature) = authenticator.get(b"challenge-2", ORIGIN);
            let assertion = check_assertion(
                &rp(),
                &credential.public_key,
                &client_data,
                &auth_data,
                &signature,
            )
            .unwrap();
            assert_eq!(assertion.challenge, b"challenge-2");
            assert_eq!(assertion.sign_count, 1);
        }
    }

    #[test]
    fn a_signature_over_anything_else_is_refused() {
        let mut authenticator = Authenticator::p256("support.shop.example");
        let credential = registered(&authenticator);
        let (client_data, mut auth_data, signature) = authenticator.get(b"c", ORIGIN);
        // Another key's signature, a changed counter, changed client data.
        let other = Authenticator::p256("support.shop.example");
        let foreign = other.sign(&auth_data, &client_data);
        let check = |client_data: &[u8], auth_data: &[u8], signature: &[u8]| {
            check_assertion(
                &rp(),
                &credential.public_key,
                client_data,
                auth_data,
                signature,
            )
        };
        assert_eq!(
            check(&client_data, &auth_data, &foreign).unwrap_err(),
            WebAuthnError::Signature
        );
        let changed_client = Authenticator::client_data("webauthn.get", b"d", ORIGIN);
        assert_eq!(
            check(&changed_client, &auth_data, &signature).unwrap_err(),
            WebAuthnError::Signature
        );
        auth_data[36] ^= 1;
        assert_eq!(
            check(&client_data, &auth_data, &signature).unwrap_err(),
            WebAuthnError::Signature
        );
    }

    #[test]
    fn another_origin_site_or_ceremony_is_refused() {
        let mut authenticator = Authenticator::p256("support.shop.example");
        let credential = registered(&authenticator);
        let (client_data, object) = authenticator.create(b"c", "https://evil.example");
        assert_eq!(
            check_registration(&rp(), &client_data, &object).unwrap_err(),
            WebAuthnError::WrongOrigin
        );
        let (client_data, auth_data, signature) = authenticator.get(b"c", ORIGIN);
        // A signature made for a registration page, reused to sign in.
        let (create_data, _) = authenticator.create(b"c", ORIGIN);
        assert_eq!(
            check_registration(&rp(), &client_data, &object).unwrap_err(),
            WebAuthnError::WrongType
        );
        assert_eq!(
            check_assertion(
                &rp(),
                &credential.public_key,
                &create_data,
                &auth_data,
                &signature
            )
            .unwrap_err(),
            WebAuthnError::WrongType
        );
        let mut elsewhere = Authenticator::p256("evil.example");
        elsewhere.credential_id = authenticator.credential_id.clone();
        let (client_data, object) = elsewhere.create(b"c", ORIGIN);
        assert_eq!(
            check_registration(&rp(), &client_data, &object).unwrap_err(),
            WebAuthnError::WrongRelyingParty
        );
    }

    #[test]
    fn a_user_not_present_is_refused_and_verification_is_reported() {
        let mut authenticator = Authenticator::p256("support.shop.example");
        let credential = registered(&authenticator);
        authenticator.flags = USER_PRESENT;
        let (client_data, auth_data, signature) = authenticator.get(b"c", ORIGIN);
        let assertion = check_assertion(
            &rp(),
            &credential.public_key,
            &client_data,
            &auth_data,
            &signature,
        )
        .unwrap();
        assert!(!assertion.user_verified);
        authenticator.flags = USER_VERIFIED;
        let (client_data, auth_data, signature) = authenticator.get(b"c", ORIGIN);
        assert_eq!(
            check_assertion(
                &rp(),
                &credential.public_key,
                &client_data,
                &auth_data,
                &signature
            )
            .unwrap_err(),
            WebAuthnError::UserNotPresent
        );
    }

    #[test]
    fn malformed_answers_are_refused_without_panicking() {
        let authenticator = Authenticator::p256("support.shop.example");
        let (client_data, object) = authenticator.create(b"c", ORIGIN);
        for cut in [0, 1, 10, object.len() / 2, object.len() - 1] {
            assert!(check_registration(&rp(), &client_data, &object[..cut]).is_err());
        }
        assert_eq!(
            check_registration(&rp(), b"{not json", &object).unwrap_err(),
            WebAuthnError::ClientData
        );
        // An unsupported key (P-256 curve number changed to P-384's).
        let mut wrong_curve = object.clone();
        let at = wrong_curve
            .windows(3)
            .position(|w| w == [0x20, 0x01, 0x21])
            .unwrap();
        wrong_curve[at + 1] = 0x02;
        assert_eq!(
            check_registration(&rp(), &client_data, &wrong_curve).unwrap_err(),
            WebAuthnError::PublicKey
        );
        assert!(check_assertion(&rp(), b"\xff", &client_data, &[0; 37], b"").is_err());
    }

    #[test]
    fn the_relying_party_is_the_host_name_of_the_base_url() {
        let rp = RelyingParty::from_url("https://Support.Shop.example:8443").unwrap();
        assert_eq!(
            (rp.id(), rp.origin.as_str()),
            ("support.shop.example", "https://support.shop.example:8443")
        );
        let local = RelyingParty::from_url("http://localhost:8080").unwrap();
        assert_eq!(local.origin, "http://localhost:8080");
        assert_eq!(RelyingParty::from_url("http://127.0.0.1:8080"), None);
        assert_eq!(RelyingParty::from_url("https://[::1]"), None);
        assert_eq!(RelyingParty::from_url("http://support.shop.example"), None);
    }
}
