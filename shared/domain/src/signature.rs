//! Meta's `X-Hub-Signature-256` check: HMAC-SHA256 of the raw body, keyed by the app secret,
//! compared in constant time, with several secrets accepted while one is being rotated.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not of the form sha256=<hex>")]
    Malformed,
    #[error("the signature does not match any configured app secret")]
    Mismatch,
}

/// The app secrets a webhook accepts (the current one first, then those being rotated out).
#[derive(Clone)]
pub struct AppSecrets {
    keys: Vec<HmacSha256>,
}

impl std::fmt::Debug for AppSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppSecrets({} configured, redacted)", self.keys.len())
    }
}

impl AppSecrets {
    /// Secrets from a comma-separated list (`FB_APP_SECRET`); blanks are ignored.
    pub fn from_list(list: &SecretString) -> AppSecrets {
        let keys = list
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(|s| HmacSha256::new_from_slice(s.as_bytes()).ok())
            .collect();
        AppSecrets { keys }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `sig` is the HMAC-SHA256 of `data` under any configured secret (constant-time
    /// compare for each).
    pub(crate) fn mac_matches(&self, data: &[u8], sig: &[u8]) -> bool {
        self.keys.iter().any(|key| {
            let mut mac = key.clone();
            mac.update(data);
            mac.verify_slice(sig).is_ok()
        })
    }

    /// Verifies a header value against the raw body.
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let hex_sig = header.strip_prefix(b"sha256=").ok_or(SignatureError::Malformed)?;
        let mut expected = [0u8; 32];
        hex::decode_to_slice(hex_sig, &mut expected).map_err(|_| SignatureError::Malformed)?;
        for key in &self.keys {
            let mut mac = key.clone();
            mac.update(body);
            // verify_slice compares in constant time.
            if mac.verify_slice(&expected).is_ok() {
                return Ok(());
            }
        }
        Err(SignatureError::Mismatch)
    }
}

/// The header value Meta would send for `body` signed with `secret` (for tests and tools).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(s: &str) -> AppSecrets {
        AppSecrets::from_list(&SecretString::from(s.to_string()))
    }

    #[test]
    fn accepts_each_rotation_secret_and_refuses_others() {
        let s = secrets("new-secret, old-secret");
        assert_eq!(s.len(), 2);
        let body = br#"{"object":"page"}"#;
        assert_eq!(s.verify(Some(sign("new-secret", body).as_bytes()), body), Ok(()));
        assert_eq!(s.verify(Some(sign("old-secret", body).as_bytes()), body), Ok(()));
        assert_eq!(s.verify(Some(sign("other", body).as_bytes()), body), Err(SignatureError::Mismatch));
        assert_eq!(s.verify(None, body), Err(SignatureError::Missing));
        let sha1 = sign("new-secret", body).replace("sha256=", "sha1=");
        assert_eq!(s.verify(Some(sha1.as_bytes()), body), Err(SignatureError::Malformed));
        assert_eq!(s.verify(Some(b"sha256=zz"), body), Err(SignatureError::Malformed));
        // Uppercase hex is what Meta never sends, but decoding accepts it; a changed body is refused.
        let sig = sign("new-secret", body);
        assert_eq!(s.verify(Some(sig.as_bytes()), b"{\"object\":\"page\" }"), Err(SignatureError::Mismatch));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let s = secrets("very-secret-value");
        assert!(!format!("{s:?}").contains("very-secret"));
    }
}
