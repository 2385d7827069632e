//! Meta's `signed_request` (the deauthorize and data-deletion callbacks): `<sig>.<payload>`,
//! both base64url without padding; valid when the HMAC-SHA256 of the payload string as
//! received, keyed by the app secret (any of the rotation list), equals the decoded signature
//! (constant-time) and the payload's `algorithm` is `HMAC-SHA256`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::signature::AppSecrets;

/// Longest `signed_request` accepted (Meta's are a few hundred bytes).
pub const MAX_SIGNED_REQUEST_BYTES: usize = 4096;
/// Longest app-scoped user id accepted (Meta's are 15-17 digits).
const MAX_USER_ID_LEN: usize = 32;

/// What a verified `signed_request` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The app-scoped id of the person (digits only).
    pub user_id: String,
    /// Unix seconds.
    pub issued_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignedRequestError {
    #[error("the signed_request field is missing")]
    Missing,
    #[error("the signed_request is not of the form <sig>.<payload> in base64url")]
    Malformed,
    #[error("the signed_request signature does not match any configured app secret")]
    Forged,
    #[error("the signed_request algorithm is not HMAC-SHA256")]
    Algorithm,
    #[error("the signed_request payload has no valid user_id")]
    NoUser,
}

#[derive(Deserialize)]
struct Payload {
    algorithm: Option<String>,
    #[serde(default)]
    issued_at: i64,
    user_id: Option<serde_json::Value>,
}

/// Verifies and reads a `signed_request`: the signature is checked before the payload is
/// parsed, so nothing of a forged request is looked at.
pub fn verify(
    secrets: &AppSecrets,
    signed_request: Option<&str>,
) -> Result<SignedRequest, SignedRequestError> {
    let raw = signed_request.map(str::trim).filter(|s| !s.is_empty()).ok_or(SignedRequestError::Missing)?;
    if raw.len() > MAX_SIGNED_REQUEST_BYTES {
        return Err(SignedRequestError::Malformed);
    }
    let (sig_b64, payload_b64) = raw.split_once('.').ok_or(SignedRequestError::Malformed)?;
    let sig = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|_| SignedRequestError::Malformed)?;
    if sig.len() != 32 || payload_b64.is_empty() {
        return Err(SignedRequestError::Malformed);
    }
    // The MAC covers the payload string exactly as received (still base64url).
    if !secrets.mac_matches(payload_b64.as_bytes(), &sig) {
        return Err(SignedRequestError::Forged);
    }
    let json = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| SignedRequestError::Malformed)?;
    let p: Payload = serde_json::from_slice(&json).map_err(|_| SignedRequestError::Malformed)?;
    if !p.algorithm.is_some_and(|a| a.eq_ignore_ascii_case("HMAC-SHA256")) {
        return Err(SignedRequestError::Algorithm);
    }
    let user_id = match p.user_id {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(SignedRequestError::NoUser),
    };
    if !is_user_id(&user_id) {
        return Err(SignedRequestError::NoUser);
    }
    Ok(SignedRequest { user_id, issued_at: p.issued_at })
}

/// An app-scoped user id as Meta issues them: 1 to 32 ASCII digits (it goes into keys).
pub fn is_user_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_USER_ID_LEN && s.bytes().all(|b| b.is_ascii_digit())
}

/// The `signed_request` Meta would send with `payload_json` signed with `secret` (tests, tools).
pub fn sign(secret: &str, payload_json: &str) -> String {
    let payload = URL_SAFE_NO_PAD.encode(payload_json.as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    format!("{}.{payload}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn secrets() -> AppSecrets {
        AppSecrets::from_list(&SecretString::from("new-secret,old-secret".to_string()))
    }

    const PAYLOAD: &str = r#"{"algorithm":"HMAC-SHA256","issued_at":1764000000,"user_id":"10000000001"}"#;

    #[test]
    fn a_valid_request_under_either_rotation_secret_is_read() {
        let expected = SignedRequest { user_id: "10000000001".into(), issued_at: 1_764_000_000 };
        assert_eq!(verify(&secrets(), Some(&sign("new-secret", PAYLOAD))), Ok(expected.clone()));
        assert_eq!(verify(&secrets(), Some(&sign("old-secret", PAYLOAD))), Ok(expected));
        // A numeric user id is read as its digits.
        let numeric = r#"{"algorithm":"HMAC-SHA256","issued_at":1,"user_id":42}"#;
        assert_eq!(
            verify(&secrets(), Some(&sign("new-secret", numeric))).map(|r| r.user_id),
            Ok("42".into())
        );
    }

    #[test]
    fn a_forged_or_altered_request_is_refused() {
        assert_eq!(verify(&secrets(), Some(&sign("other", PAYLOAD))), Err(SignedRequestError::Forged));
        // The signature of one payload on another.
        let good = sign("new-secret", PAYLOAD);
        let (sig, _) = good.split_once('.').unwrap_or_default();
        let other = URL_SAFE_NO_PAD.encode(PAYLOAD.replace("10000000001", "10000000002"));
        assert_eq!(verify(&secrets(), Some(&format!("{sig}.{other}"))), Err(SignedRequestError::Forged));
        // The same payload with padding added is not the string that was signed.
        assert_eq!(verify(&secrets(), Some(&format!("{good}="))), Err(SignedRequestError::Forged));
    }

    #[test]
    fn another_algorithm_is_refused_even_when_signed() {
        let p = r#"{"algorithm":"HMAC-SHA1","issued_at":1,"user_id":"1"}"#;
        assert_eq!(verify(&secrets(), Some(&sign("new-secret", p))), Err(SignedRequestError::Algorithm));
        let none = r#"{"issued_at":1,"user_id":"1"}"#;
        assert_eq!(verify(&secrets(), Some(&sign("new-secret", none))), Err(SignedRequestError::Algorithm));
    }

    #[test]
    fn garbage_and_missing_values_are_refused() {
        assert_eq!(verify(&secrets(), None), Err(SignedRequestError::Missing));
        assert_eq!(verify(&secrets(), Some("  ")), Err(SignedRequestError::Missing));
        for bad in ["nodot", "!!!.abc", "abc.", ".abc", "YWJj.YWJj"] {
            assert_eq!(verify(&secrets(), Some(bad)), Err(SignedRequestError::Malformed), "{bad}");
        }
        let long = "a".repeat(MAX_SIGNED_REQUEST_BYTES + 1);
        assert_eq!(verify(&secrets(), Some(&long)), Err(SignedRequestError::Malformed));
        // Signed, but not JSON, or without a usable user id.
        assert_eq!(
            verify(&secrets(), Some(&sign("new-secret", "not json"))),
            Err(SignedRequestError::Malformed)
        );
        for p in [
            r#"{"algorithm":"HMAC-SHA256","issued_at":1}"#,
            r#"{"algorithm":"HMAC-SHA256","issued_at":1,"user_id":"1#2"}"#,
            r#"{"algorithm":"HMAC-SHA256","issued_at":1,"user_id":""}"#,
        ] {
            assert_eq!(
                verify(&secrets(), Some(&sign("new-secret", p))),
                Err(SignedRequestError::NoUser),
                "{p}"
            );
        }
    }
}
