//! The token key ring: the key-encryption keys by id and which one is current.
//!
//! The secret is JSON, `{"current":"k2","keys":{"k1":"...","k2":"..."}}`. Key entries may also
//! sit at the top level (`{"current":"k1","k1":"..."}`), the shape `GenerateSecretString`
//! produces with `SecretStringTemplate` `{"current":"k1"}` and `GenerateStringKey` `k1`, so
//! CloudFormation can create the first ring itself. A plain string that is not JSON is one
//! key (the former `TOKEN_KEY`), given the id [`LEGACY_ID`].
//!
//! A key value is either base64 of 32 random bytes (used as is), or a generated string of at
//! least 32 characters without `=` (not base64 of 32 bytes), from which the 32-byte key is
//! derived with HKDF-SHA256: a generated password is text, not key bytes.

use std::collections::BTreeMap;

use aes_gcm::{Aes256Gcm, Key, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use super::CipherError;

/// The id of the single key of a ring given as a plain key (the former `TOKEN_KEY`).
pub const LEGACY_ID: &str = "k1";

/// HKDF's `info` for keys derived from generated strings: a purpose label, so the same
/// string used elsewhere never yields this key.
const HKDF_INFO: &[u8] = b"fb-inbox page-token key-encryption key";

/// The key-encryption keys, by id, and the current one (which seals new tokens).
pub struct KeyRing {
    pub(super) current: String,
    pub(super) keys: BTreeMap<String, Aes256Gcm>,
    /// The current key's text: the OAuth state signer's key derives from it (as it derived
    /// from `TOKEN_KEY` before, so a ring made of the former key signs the same states).
    current_text: SecretString,
}

impl KeyRing {
    /// Parses the ring secret. Errors say what is wrong, never a key.
    pub fn parse(secret: &SecretString) -> Result<KeyRing, CipherError> {
        let text = secret.expose_secret().trim();
        if !text.starts_with('{') {
            let key = key_from_text(text)?;
            return Ok(KeyRing {
                current: LEGACY_ID.to_string(),
                keys: BTreeMap::from([(LEGACY_ID.to_string(), key)]),
                current_text: SecretString::from(text.to_string()),
            });
        }
        // serde_json's errors name a line and column, never the text: safe to show.
        let json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| bad(format!("not a JSON object ({e})")))?;
        let current = json
            .get("current")
            .and_then(|c| c.as_str())
            .ok_or_else(|| bad("\"current\" (the id of the key that seals new tokens) is missing"))?
            .to_string();
        let mut texts: BTreeMap<String, &str> = BTreeMap::new();
        for (id, v) in &json {
            if id == "current" || id == "keys" {
                continue;
            }
            let v = v.as_str().ok_or_else(|| bad(format!("key {id:?} is not a string")))?;
            texts.insert(id.clone(), v);
        }
        if let Some(nested) = json.get("keys") {
            let nested = nested.as_object().ok_or_else(|| bad("\"keys\" is not an object"))?;
            for (id, v) in nested {
                let v = v.as_str().ok_or_else(|| bad(format!("key {id:?} is not a string")))?;
                if texts.insert(id.clone(), v).is_some() {
                    return Err(bad(format!("key {id:?} is given twice")));
                }
            }
        }
        let mut keys = BTreeMap::new();
        for (id, v) in &texts {
            if !valid_id(id) {
                return Err(bad(format!("key id {id:?} must be 1-32 letters, digits, '-' or '_'")));
            }
            let key = key_from_text(v.trim()).map_err(|_| {
                bad(format!(
                    "key {id:?} is neither base64 of 32 bytes nor a generated string of 32+ characters"
                ))
            })?;
            keys.insert(id.clone(), key);
        }
        let current_text = texts
            .get(&current)
            .map(|t| SecretString::from(t.trim().to_string()))
            .ok_or_else(|| bad(format!("the current key {current:?} is not in the ring")))?;
        Ok(KeyRing { current, keys, current_text })
    }

    /// The id of the key that seals new tokens.
    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// The ids in the ring (not secret: they are written in every sealed token).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub(super) fn current_text(&self) -> &SecretString {
        &self.current_text
    }
}

fn bad(why: impl Into<String>) -> CipherError {
    CipherError::BadRing(why.into())
}

/// Key ids travel in sealed tokens, between `:`: a short plain alphabet.
pub(super) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Base64 of 32 bytes, or a generated string (32+ characters, no `=`) through HKDF-SHA256.
fn key_from_text(text: &str) -> Result<Aes256Gcm, CipherError> {
    if let Ok(bytes) = STANDARD.decode(text)
        && bytes.len() == 32
    {
        return Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)));
    }
    // A '=' means base64 was meant: a wrong length there is a mistake, not a password.
    if text.len() < 32 || text.contains('=') {
        return Err(CipherError::BadKey);
    }
    let mut okm = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, text.as_bytes())
        .expand(HKDF_INFO, &mut okm)
        .map_err(|_| CipherError::BadKey)?;
    Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&okm)))
}
