//! Facebook Login: the dialog URL and the OAuth `state`, which is signed (HMAC-SHA256), expires,
//! binds the user and the shop, and carries a nonce the callback consumes once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::graph::REQUIRED_PERMISSIONS;

/// How long a login link stays usable.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;

/// What the state binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthState {
    #[serde(rename = "t")]
    pub tenant_id: String,
    #[serde(rename = "e")]
    pub email: String,
    #[serde(rename = "s")]
    pub sub: String,
    /// Expiry, Unix ms.
    #[serde(rename = "x")]
    pub expires_ms: i64,
    /// Single-use nonce.
    #[serde(rename = "n")]
    pub nonce: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the login state is malformed")]
    Malformed,
    #[error("the login state was not issued by this service")]
    BadSignature,
    #[error("the login link expired; start again")]
    Expired,
}

/// Signs and verifies states with a key of its own.
pub struct StateSigner {
    key: Hmac<Sha256>,
}

impl StateSigner {
    pub fn new(key: &SecretString) -> StateSigner {
        let key = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        StateSigner { key }
    }

    pub fn sign(&self, state: &OAuthState) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default());
        let mut mac = self.key.clone();
        mac.update(payload.as_bytes());
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    pub fn verify(&self, token: &str, now_ms: i64) -> Result<OAuthState, StateError> {
        let (payload, sig) = token.split_once('.').ok_or(StateError::Malformed)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| StateError::Malformed)?;
        let mut mac = self.key.clone();
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig).map_err(|_| StateError::BadSignature)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| StateError::Malformed)?;
        let state: OAuthState = serde_json::from_slice(&bytes).map_err(|_| StateError::Malformed)?;
        if now_ms > state.expires_ms {
            return Err(StateError::Expired);
        }
        Ok(state)
    }
}

/// Meta's login dialog URL with every scope the product needs.
pub fn dialog_url(
    dialog_base: &str,
    app_id: &str,
    redirect_uri: &str,
    state: &str,
) -> Result<String, url::ParseError> {
    let mut u = url::Url::parse(dialog_base)?;
    u.query_pairs_mut()
        .append_pair("client_id", app_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("response_type", "code")
        .append_pair("scope", &REQUIRED_PERMISSIONS.join(","));
    Ok(u.into())
}

/// The outcome URL the browser is sent back to.
pub fn outcome_url(app_base: &str, pairs: &[(&str, String)]) -> String {
    match url::Url::parse(app_base) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.into()
        }
        Err(_) => app_base.to_string(),
    }
}

/// The required permissions not granted, in the product's order.
pub fn missing_permissions(granted: &[(String, String)]) -> Vec<&'static str> {
    REQUIRED_PERMISSIONS
        .iter()
        .copied()
        .filter(|p| !granted.iter().any(|(name, status)| name == p && status == "granted"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(exp: i64) -> OAuthState {
        OAuthState {
            tenant_id: "A".into(),
            email: "o@a.vn".into(),
            sub: "s".into(),
            expires_ms: exp,
            nonce: "n1".into(),
        }
    }

    #[test]
    fn signed_states_verify_and_forgeries_do_not() {
        let signer = StateSigner::new(&SecretString::from("k".to_string()));
        let token = signer.sign(&state(2000));
        assert_eq!(signer.verify(&token, 1000), Ok(state(2000)));
        assert_eq!(signer.verify(&token, 3000), Err(StateError::Expired));
        let other = StateSigner::new(&SecretString::from("other".to_string()));
        assert_eq!(other.verify(&token, 1000), Err(StateError::BadSignature));
        // Payload swapped for another shop's, signature kept.
        let forged_payload = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&OAuthState { tenant_id: "B".into(), ..state(2000) }).expect("json"));
        let sig = token.split_once('.').map(|(_, s)| s).unwrap_or_default();
        assert_eq!(signer.verify(&format!("{forged_payload}.{sig}"), 1000), Err(StateError::BadSignature));
        assert_eq!(signer.verify("garbage", 1000), Err(StateError::Malformed));
    }

    #[test]
    fn dialog_url_carries_every_scope() {
        let u = dialog_url("https://www.facebook.com/v25.0/dialog/oauth", "123", "https://x/cb", "s.t")
            .expect("url");
        assert!(u.contains("client_id=123"));
        assert!(u.contains("redirect_uri=https%3A%2F%2Fx%2Fcb"));
        for p in REQUIRED_PERMISSIONS {
            assert!(u.contains(p), "{p}");
        }
    }

    #[test]
    fn missing_permissions_lists_declined_and_absent() {
        let mut granted: Vec<(String, String)> =
            REQUIRED_PERMISSIONS.iter().map(|p| (p.to_string(), "granted".to_string())).collect();
        assert!(missing_permissions(&granted).is_empty());
        granted[0].1 = "declined".into();
        granted.pop();
        assert_eq!(missing_permissions(&granted), vec!["pages_messaging", "pages_show_list"]);
    }
}
