//! Facebook Login: the dialog URL and the OAuth `state`, which is signed (HMAC-SHA256), expires,
//! binds the user and the shop, and carries a nonce the callback consumes once; the cookie that
//! binds the login to the browser that asked for it; and the text of a login Meta cancelled.

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

    /// The value of the browser cookie that goes with `state`: HMAC-SHA256 of the state's nonce
    /// under the state key, with its own label. Only the service can compute it, and the state
    /// (which Meta, the browser history and the address bar see) does not reveal it.
    pub fn browser_binding(&self, state: &OAuthState) -> String {
        URL_SAFE_NO_PAD.encode(self.binding_mac(&state.nonce).finalize().into_bytes())
    }

    /// Whether `cookie` (the value of the state's [`login_cookie_name`] cookie, if the browser
    /// sent it) is the binding of `state`; compared in constant time.
    pub fn bound_to_browser(&self, state: &OAuthState, cookie: Option<&str>) -> bool {
        let Some(sent) = cookie.and_then(|c| URL_SAFE_NO_PAD.decode(c.trim()).ok()) else {
            return false;
        };
        self.binding_mac(&state.nonce).verify_slice(&sent).is_ok()
    }

    fn binding_mac(&self, nonce: &str) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        mac.update(b"browser-binding\0");
        mac.update(nonce.as_bytes());
        mac
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

/// The name of the cookie that binds one login to its browser: one per login link (named by
/// its nonce, which is in the state anyway), so two links asked for in two tabs both work.
pub fn login_cookie_name(state: &OAuthState) -> String {
    // The nonce is the service's own hex UUID; anything else is kept out of the cookie name.
    let nonce: String = state.nonce.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
    format!("{LOGIN_COOKIE_PREFIX}{nonce}")
}

/// The prefix of every login cookie's name.
pub const LOGIN_COOKIE_PREFIX: &str = "fb_login_";

/// The `Set-Cookie` value the login link's answer carries: HttpOnly, SameSite=Lax (sent on
/// Meta's top-level redirect back, never on a cross-site subrequest), Path limited to the
/// callback's path (the path of `redirect_uri`), Secure when the callback is HTTPS, and
/// expiring with the state.
pub fn login_cookie(state: &OAuthState, value: &str, redirect_uri: &str, max_age_s: i64) -> String {
    let (path, secure) = cookie_scope(redirect_uri);
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{}={value}; Max-Age={}; Path={path}; HttpOnly; SameSite=Lax{secure}",
        login_cookie_name(state),
        max_age_s.max(0)
    )
}

/// The `Set-Cookie` value that deletes the login cookie of `state` (the callback sends it
/// with every outcome: a login link is used once).
pub fn clear_login_cookie(state: &OAuthState, redirect_uri: &str) -> String {
    let (path, secure) = cookie_scope(redirect_uri);
    let secure = if secure { "; Secure" } else { "" };
    format!("{}=; Max-Age=0; Path={path}; HttpOnly; SameSite=Lax{secure}", login_cookie_name(state))
}

/// The path and whether the callback is HTTPS.
fn cookie_scope(redirect_uri: &str) -> (String, bool) {
    match url::Url::parse(redirect_uri) {
        Ok(u) => (u.path().to_string(), u.scheme() == "https"),
        Err(_) => ("/".to_string(), true),
    }
}

/// The value of the cookie `name` among `Cookie` header values (`a=1; b=2`).
pub fn cookie_value<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    headers
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// What the callback tells the user when Meta sends `error` instead of a code: our own words
/// for the reasons Meta documents, never the query string's text (which anyone can write).
pub fn denial_message(error_reason: Option<&str>) -> &'static str {
    match error_reason {
        Some("user_denied") => "you declined the Facebook Login; nothing was imported",
        _ => "Facebook Login was cancelled; nothing was imported",
    }
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

/// The required permissions missing from a token's `scopes` (what `debug_token` reports): the
/// health check's reading of [`missing_permissions`], in the product's order.
pub fn missing_scopes(scopes: &[String]) -> Vec<&'static str> {
    REQUIRED_PERMISSIONS.iter().copied().filter(|p| !scopes.iter().any(|s| s == p)).collect()
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

    /// Finding 2 (login CSRF): the browser's cookie is what binds a state to the browser that
    /// asked for it; another login's cookie, a forged one, or none, does not.
    #[test]
    fn a_state_binds_only_the_browser_holding_its_cookie() {
        let signer = StateSigner::new(&SecretString::from("k".to_string()));
        let s1 = state(2000);
        let s2 = OAuthState { nonce: "n2".into(), ..state(2000) };
        let b1 = signer.browser_binding(&s1);
        assert!(signer.bound_to_browser(&s1, Some(&b1)));
        assert!(!signer.bound_to_browser(&s1, None));
        assert!(!signer.bound_to_browser(&s1, Some("")));
        assert!(!signer.bound_to_browser(&s2, Some(&b1)), "another login's cookie");
        let other = StateSigner::new(&SecretString::from("other".to_string()));
        assert!(!other.bound_to_browser(&s1, Some(&b1)), "a cookie made with another key");
        assert!(!b1.contains(&s1.nonce), "the cookie does not derive from the public state alone");
        let set = login_cookie(&s1, &b1, "https://api.example.vn/oauth/facebook/callback", 600);
        assert_eq!(
            set,
            format!(
                "fb_login_n1={b1}; Max-Age=600; Path=/oauth/facebook/callback; HttpOnly; SameSite=Lax; Secure"
            )
        );
        let local = login_cookie(&s1, &b1, "http://127.0.0.1:3000/oauth/facebook/callback", 600);
        assert!(!local.contains("Secure"), "{local}");
        assert!(clear_login_cookie(&s1, "https://x/cb").starts_with("fb_login_n1=; Max-Age=0; Path=/cb;"));
        let header = format!("a=1; fb_login_n0=zz; {}={b1}", login_cookie_name(&s1));
        assert_eq!(cookie_value([header.as_str()], "fb_login_n1"), Some(b1.as_str()));
        assert_eq!(cookie_value(["a=1", "fb_login_n0=zz"], "fb_login_n1"), None);
    }

    /// Finding 8: `error_reason` is not reflected; known reasons get our own words.
    #[test]
    fn denial_messages_are_our_own_words() {
        assert!(denial_message(Some("user_denied")).contains("declined"));
        let injected = denial_message(Some("<script>call +84 000</script>"));
        assert_eq!(injected, denial_message(None));
        assert!(!injected.contains("script"));
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
    fn missing_scopes_lists_the_absent_ones() {
        let all: Vec<String> = REQUIRED_PERMISSIONS.iter().map(|p| p.to_string()).collect();
        assert!(missing_scopes(&all).is_empty());
        let some: Vec<String> = all.iter().filter(|p| *p != "pages_messaging").cloned().collect();
        assert_eq!(missing_scopes(&some), vec!["pages_messaging"]);
        assert_eq!(missing_scopes(&[]).len(), REQUIRED_PERMISSIONS.len());
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
