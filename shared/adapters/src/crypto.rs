//! Page tokens at rest: AES-256-GCM with the key `TOKEN_KEY` (32 bytes, base64), a fresh random
//! nonce per token, and the shop and Page as associated data, so a ciphertext copied onto
//! another Page's item does not decrypt.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

const PREFIX: &str = "v1:";

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("TOKEN_KEY must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("a stored token could not be decrypted (wrong key, or not this Page's token)")]
    Undecryptable,
}

pub struct TokenCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher(redacted)")
    }
}

impl TokenCipher {
    pub fn from_base64_key(key: &SecretString) -> Result<TokenCipher, CipherError> {
        let bytes = STANDARD.decode(key.expose_secret().trim()).map_err(|_| CipherError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CipherError::BadKey);
        }
        Ok(TokenCipher { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)) })
    }

    fn aad(tenant_id: &str, page_id: &str) -> Vec<u8> {
        format!("{tenant_id}\u{0}{page_id}").into_bytes()
    }

    pub fn encrypt(&self, tenant_id: &str, page_id: &str, token: &SecretString) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = Self::aad(tenant_id, page_id);
        // Encryption with a valid key and a fresh nonce cannot fail for inputs of this size.
        let ct = self
            .cipher
            .encrypt(&nonce, Payload { msg: token.expose_secret().as_bytes(), aad: &aad })
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{PREFIX}{}", STANDARD.encode(blob))
    }

    pub fn decrypt(&self, tenant_id: &str, page_id: &str, stored: &str) -> Result<SecretString, CipherError> {
        let b64 = stored.strip_prefix(PREFIX).ok_or(CipherError::Undecryptable)?;
        let blob = STANDARD.decode(b64).map_err(|_| CipherError::Undecryptable)?;
        if blob.len() < 12 + 16 {
            return Err(CipherError::Undecryptable);
        }
        let (nonce, ct) = blob.split_at(12);
        let aad = Self::aad(tenant_id, page_id);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| CipherError::Undecryptable)?;
        String::from_utf8(pt).map(SecretString::from).map_err(|_| CipherError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> TokenCipher {
        TokenCipher::from_base64_key(&SecretString::from(STANDARD.encode([byte; 32]))).expect("key")
    }

    #[test]
    fn round_trip_bound_to_its_page_and_key() {
        let c = cipher(7);
        let token = SecretString::from("EAAG-page-token".to_string());
        let a = c.encrypt("shop", "P1", &token);
        let b = c.encrypt("shop", "P1", &token);
        assert_ne!(a, b, "fresh nonce each time");
        assert!(!a.contains("EAAG"));
        assert_eq!(c.decrypt("shop", "P1", &a).expect("decrypt").expose_secret(), "EAAG-page-token");
        assert!(c.decrypt("shop", "P2", &a).is_err());
        assert!(c.decrypt("other", "P1", &a).is_err());
        assert!(cipher(8).decrypt("shop", "P1", &a).is_err());
        assert!(c.decrypt("shop", "P1", "v1:AAAA").is_err());
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(TokenCipher::from_base64_key(&SecretString::from(STANDARD.encode([1u8; 16]))).is_err());
        assert!(TokenCipher::from_base64_key(&SecretString::from("not base64!".to_string())).is_err());
    }
}
