//! Page tokens at rest: envelope encryption with a key ring, so the key that protects them can
//! rotate without anyone connecting a Page again (docs/operations.md, "Secrets and key
//! rotation").
//!
//! Each token is sealed with its own random data key (AES-256-GCM, a fresh nonce, the shop and
//! Page as associated data, so a ciphertext copied onto another Page's item does not decrypt);
//! the data key is wrapped by the ring's current key-encryption key, bound to the key id, shop
//! and Page. The stored string is `v2:<key id>:<b64 nonce+wrapped data key>:<b64 nonce+ciphertext>`.
//! Rotating re-wraps only the 60-byte data key ([`TokenCipher::rewrap`]).
//!
//! Tokens sealed before (`v1:<b64 nonce+ciphertext>`, directly under the single `TOKEN_KEY`)
//! still open when that key is in the ring under any id: every key is tried (a ring holds a
//! handful, and GCM's tag tells the right one). They always need a re-wrap.

mod reload;
mod rewrap;
mod ring;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

pub use reload::{DEFAULT_RELOAD_INTERVAL, RingSource};
pub use rewrap::{Rewrap, rewrap_if_needed};
pub use ring::{KeyRing, LEGACY_ID};

const V1: &str = "v1:";
const V2: &str = "v2";
const NONCE: usize = 12;
const TAG: usize = 16;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("a token key must be 32 bytes, base64-encoded (or a generated string of 32+ characters)")]
    BadKey,
    #[error("the token key ring is invalid: {0}")]
    BadRing(String),
    #[error("a stored token is sealed under key {0:?}, which is not in the key ring")]
    UnknownKey(String),
    #[error("a stored token could not be decrypted (wrong key, or not this Page's token)")]
    Undecryptable,
}

/// Seals and opens Page tokens with the key ring, re-read (at most once per interval) when a
/// token names a key this instance does not know yet.
pub struct TokenCipher {
    ring: RwLock<Arc<KeyRing>>,
    reload: Option<reload::Reload>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher(redacted)")
    }
}

/// A parsed `v2` token: its key id and the two base64 parts.
struct Sealed<'a> {
    kid: &'a str,
    wrapped: &'a str,
    data: &'a str,
}

fn parse_v2(stored: &str) -> Option<Sealed<'_>> {
    let mut parts = stored.splitn(4, ':');
    let (Some(V2), Some(kid), Some(wrapped), Some(data)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    ring::valid_id(kid).then_some(Sealed { kid, wrapped, data })
}

fn aad(tenant_id: &str, page_id: &str) -> Vec<u8> {
    format!("{tenant_id}\u{0}{page_id}").into_bytes()
}

/// The wrapped data key is bound to its key id as well: relabelling a token's id fails.
fn wrap_aad(kid: &str, tenant_id: &str, page_id: &str) -> Vec<u8> {
    format!("{V2}\u{0}{kid}\u{0}{tenant_id}\u{0}{page_id}").into_bytes()
}

/// `nonce || AES-GCM(key, msg, aad)`. Encryption with a valid key and a fresh nonce cannot
/// fail for inputs of this size.
fn seal(key: &Aes256Gcm, msg: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ct = key.encrypt(&nonce, Payload { msg, aad }).unwrap_or_default();
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ct);
    blob
}

fn open_blob(key: &Aes256Gcm, b64: &str, aad: &[u8]) -> Result<Vec<u8>, CipherError> {
    let blob = STANDARD.decode(b64).map_err(|_| CipherError::Undecryptable)?;
    if blob.len() < NONCE + TAG {
        return Err(CipherError::Undecryptable);
    }
    let (nonce, ct) = blob.split_at(NONCE);
    key.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad }).map_err(|_| CipherError::Undecryptable)
}

fn text(pt: Vec<u8>) -> Result<SecretString, CipherError> {
    String::from_utf8(pt).map(SecretString::from).map_err(|_| CipherError::Undecryptable)
}

impl TokenCipher {
    /// A cipher over a ring that never changes (local runs, tests).
    pub fn new(ring: KeyRing) -> TokenCipher {
        TokenCipher { ring: RwLock::new(Arc::new(ring)), reload: None }
    }

    /// The ring secret's text (JSON ring, or one base64 key), parsed.
    pub fn from_ring_secret(secret: &SecretString) -> Result<TokenCipher, CipherError> {
        Ok(TokenCipher::new(KeyRing::parse(secret)?))
    }

    /// One key given as base64 (the former `TOKEN_KEY`), under id [`LEGACY_ID`].
    pub fn from_base64_key(key: &SecretString) -> Result<TokenCipher, CipherError> {
        if key.expose_secret().trim().starts_with('{') {
            return Err(CipherError::BadKey);
        }
        TokenCipher::from_ring_secret(key)
    }

    /// Lets the cipher re-read the ring from `source` when a token names an unknown key id,
    /// at most once per `min_interval`.
    pub fn with_reload(
        mut self,
        source: Arc<dyn RingSource>,
        min_interval: std::time::Duration,
    ) -> TokenCipher {
        self.reload = Some(reload::Reload::new(source, min_interval));
        self
    }

    pub(crate) fn ring(&self) -> Arc<KeyRing> {
        self.ring.read().map(|r| r.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    fn replace_ring(&self, ring: KeyRing) {
        match self.ring.write() {
            Ok(mut r) => *r = Arc::new(ring),
            Err(p) => *p.into_inner() = Arc::new(ring),
        }
    }

    /// The current key's text, for deriving the OAuth state signer's key.
    pub(crate) fn current_key_text(&self) -> SecretString {
        self.ring().current_text().clone()
    }

    /// The id of the key new tokens are sealed under.
    pub fn current_key_id(&self) -> String {
        self.ring().current_id().to_string()
    }

    /// Seals `token` for the shop's Page under the current key with a fresh data key.
    pub fn encrypt(&self, tenant_id: &str, page_id: &str, token: &SecretString) -> String {
        let ring = self.ring();
        let kid = ring.current_id();
        let dek = Aes256Gcm::generate_key(&mut OsRng);
        let data = seal(&Aes256Gcm::new(&dek), token.expose_secret().as_bytes(), &aad(tenant_id, page_id));
        // The current key is always in the ring (checked when it was parsed).
        let wrapped =
            ring.keys.get(kid).map(|kek| seal(kek, dek.as_slice(), &wrap_aad(kid, tenant_id, page_id)));
        format!("{V2}:{kid}:{}:{}", STANDARD.encode(wrapped.unwrap_or_default()), STANDARD.encode(data))
    }

    /// Opens a sealed token with the ring as it is now (no re-read).
    fn open_now(&self, tenant_id: &str, page_id: &str, stored: &str) -> Result<SecretString, CipherError> {
        let ring = self.ring();
        if let Some(b64) = stored.strip_prefix(V1) {
            let aad = aad(tenant_id, page_id);
            return ring
                .keys
                .values()
                .find_map(|k| open_blob(k, b64, &aad).ok())
                .ok_or(CipherError::Undecryptable)
                .and_then(text);
        }
        let s = parse_v2(stored).ok_or(CipherError::Undecryptable)?;
        let dek = Self::unwrap_dek(&ring, &s, tenant_id, page_id)?;
        text(open_blob(&dek, s.data, &aad(tenant_id, page_id))?)
    }

    fn unwrap_dek(
        ring: &KeyRing,
        s: &Sealed<'_>,
        tenant_id: &str,
        page_id: &str,
    ) -> Result<Aes256Gcm, CipherError> {
        let kek = ring.keys.get(s.kid).ok_or_else(|| CipherError::UnknownKey(s.kid.to_string()))?;
        let dek = open_blob(kek, s.wrapped, &wrap_aad(s.kid, tenant_id, page_id))?;
        if dek.len() != 32 {
            return Err(CipherError::Undecryptable);
        }
        Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&dek)))
    }

    /// Opens a sealed token of the shop's Page. A token under a key id this instance does not
    /// know makes it re-read the ring first (rate-limited), so a warm function started before
    /// a key was added does not take a good token for a bad one. Synchronous for callers that
    /// cannot wait: the re-read blocks this worker thread on a multi-thread runtime (the
    /// Lambda's); prefer [`TokenCipher::open`] where the caller is async.
    pub fn decrypt(&self, tenant_id: &str, page_id: &str, stored: &str) -> Result<SecretString, CipherError> {
        match self.open_now(tenant_id, page_id, stored) {
            Err(CipherError::UnknownKey(kid)) if self.reload.is_some() => {
                if self.reload_blocking() {
                    self.open_now(tenant_id, page_id, stored)
                } else {
                    Err(CipherError::UnknownKey(kid))
                }
            }
            r => r,
        }
    }

    /// [`TokenCipher::decrypt`], awaiting the ring's re-read instead of blocking.
    pub async fn open(
        &self,
        tenant_id: &str,
        page_id: &str,
        stored: &str,
    ) -> Result<SecretString, CipherError> {
        match self.open_now(tenant_id, page_id, stored) {
            Err(CipherError::UnknownKey(kid)) => {
                if self.reload_now().await {
                    self.open_now(tenant_id, page_id, stored)
                } else {
                    Err(CipherError::UnknownKey(kid))
                }
            }
            r => r,
        }
    }

    /// Re-reads the ring if allowed now; whether it got a new one.
    async fn reload_now(&self) -> bool {
        let Some(reload) = &self.reload else { return false };
        match reload.fetch().await {
            Some(ring) => {
                self.replace_ring(ring);
                true
            }
            None => false,
        }
    }

    fn reload_blocking(&self) -> bool {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.block_on(self.reload_now()))
            }
            _ => {
                tracing::warn!(
                    "the token key ring cannot be re-read here (no multi-thread runtime); use open()"
                );
                false
            }
        }
    }

    /// Whether the stored token should be re-wrapped: sealed under a key that is not the
    /// current one, or in the `v1` form. Unreadable strings answer `false` (a re-wrap could
    /// not open them either).
    pub fn needs_rewrap(&self, stored: &str) -> bool {
        if stored.starts_with(V1) {
            return true;
        }
        parse_v2(stored).is_some_and(|s| s.kid != self.ring().current_id())
    }

    /// The same token sealed under the current key: for `v2`, only its data key is unwrapped
    /// and wrapped again (the token's ciphertext is kept as is); a `v1` token, which has no
    /// data key, is opened and sealed afresh. A token already under the current key comes back
    /// unchanged. No re-read of the ring: a key this instance does not know is an error.
    pub fn rewrap(&self, tenant_id: &str, page_id: &str, stored: &str) -> Result<String, CipherError> {
        if stored.starts_with(V1) {
            let token = self.open_now(tenant_id, page_id, stored)?;
            return Ok(self.encrypt(tenant_id, page_id, &token));
        }
        let s = parse_v2(stored).ok_or(CipherError::Undecryptable)?;
        let ring = self.ring();
        let kid = ring.current_id();
        if s.kid == kid {
            return Ok(stored.to_string());
        }
        let old = ring.keys.get(s.kid).ok_or_else(|| CipherError::UnknownKey(s.kid.to_string()))?;
        let dek = open_blob(old, s.wrapped, &wrap_aad(s.kid, tenant_id, page_id))?;
        let kek = ring.keys.get(kid).ok_or(CipherError::Undecryptable)?;
        let wrapped = seal(kek, &dek, &wrap_aad(kid, tenant_id, page_id));
        Ok(format!("{V2}:{kid}:{}:{}", STANDARD.encode(wrapped), s.data))
    }
}
