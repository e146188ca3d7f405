//! The admin's sign-in: the authorization request (code flow with PKCE `S256` and a
//! `state`), and the checks on its way back. The `state` is the flow itself, sealed under
//! the instance key: the channel, the organization, the admin who started it, the PKCE
//! verifier and an expiry. Nothing is stored until the callback, and a callback is taken
//! only from the admin who started the flow, within ten minutes.

use base64::Engine;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::Provider;
use crate::crypto::{Sealer, random_token};
use crate::db::entity::channel;

const STATE: &str = "oauth-state";
/// How long the admin has to sign in at the provider.
pub const FLOW_MINUTES: i64 = 10;

/// A sign-in under way, carried in `state`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flow {
    pub channel_id: i64,
    pub org: i64,
    pub user_id: i64,
    pub verifier: String,
    pub expires: i64,
}

/// The PKCE challenge of a verifier (RFC 7636, 4.2, `S256`).
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The provider's authorization URL for this channel's app, and the flow it carries.
pub fn authorization_url(
    sealer: &Sealer,
    channel: &channel::Model,
    user_id: i64,
    redirect_uri: &str,
) -> Option<Url> {
    let mut url = Url::parse(channel.oauth_auth_url.as_deref()?).ok()?;
    let client_id = channel.oauth_client_id.as_deref()?;
    let scopes = channel.oauth_scopes.as_deref()?;
    let flow = Flow {
        channel_id: channel.id,
        org: channel.organization_id.get(),
        user_id,
        verifier: random_token(),
        expires: (Utc::now() + chrono::Duration::minutes(FLOW_MINUTES)).timestamp(),
    };
    let state = seal(sealer, &flow)?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scopes)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge(&flow.verifier))
            .append_pair("code_challenge_method", "S256");
        let provider = channel.oauth_provider.as_deref().and_then(Provider::parse);
        if let Some(preset) = provider.and_then(Provider::preset) {
            for (name, value) in preset.extra {
                query.append_pair(name, value);
            }
        }
        // The account that signs in as a hint, so the right one is picked: the SMTP user
        // (with a shared mailbox, the IMAP user is the shared address), else the IMAP user.
        if let Some(user) = channel
            .smtp_user
            .as_deref()
            .or(channel.imap_user.as_deref())
        {
            query.append_pair("login_hint", user);
        }
    }
    Some(url)
}

fn seal(sealer: &Sealer, flow: &Flow) -> Option<String> {
    let json = serde_json::to_vec(flow).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealer.seal(&json, STATE)))
}

/// Opens a `state` this instance sealed and that has not expired.
pub fn open(sealer: &Sealer, state: &str) -> Option<Flow> {
    if state.len() > 2000 {
        return None;
    }
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(state)
        .ok()?;
    let flow: Flow = serde_json::from_slice(&sealer.open(&sealed, STATE).ok()?).ok()?;
    (flow.expires > Utc::now().timestamp()).then_some(flow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn state_opens_only_sealed_by_this_instance_and_in_time() {
        let sealer = Sealer::new(&SecretKey::generate());
        let flow = Flow {
            channel_id: 3,
            org: 1,
            user_id: 7,
            verifier: "v".into(),
            expires: Utc::now().timestamp() + 60,
        };
        let state = seal(&sealer, &flow).expect("sealed");
        assert_eq!(open(&sealer, &state), Some(flow));
        let other = Sealer::new(&SecretKey::generate());
        assert_eq!(open(&other, &state), None);
        let mut tampered = state.clone().into_bytes();
        tampered[10] ^= 1;
        assert_eq!(open(&sealer, &String::from_utf8_lossy(&tampered)), None);
        let late = Flow {
            channel_id: 3,
            org: 1,
            user_id: 7,
            verifier: "v".into(),
            expires: Utc::now().timestamp() - 1,
        };
        assert_eq!(open(&sealer, &seal(&sealer, &late).expect("sealed")), None);
    }
}
