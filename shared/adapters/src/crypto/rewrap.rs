//! One Page's step of the re-wrap sweep after a key rotation: the health check calls it for
//! each Page whose sealed token it reads, so every token moves to the current key within a
//! sweep or two, and the old key can then leave the ring (docs/operations.md).

use domain::ports::{PageStore, StoreError};

use super::{CipherError, TokenCipher};

/// What [`rewrap_if_needed`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Rewrap {
    /// Already under the current key: nothing written.
    Current,
    /// Re-wrapped under the current key and stored.
    Rewrapped,
    /// The stored token changed since it was read (a new Facebook Login, a revocation):
    /// nothing written; the next sweep sees the new one.
    Raced,
    /// The token could not be re-wrapped (its key left the ring, or it is not this Page's):
    /// nothing written. The caller's own decrypt reports the same token as unreadable.
    Failed(CipherError),
}

/// Re-wraps the shop's sealed Page token under the current key if it is under another one (or
/// in the `v1` form), written only if the stored token is still `sealed`.
pub async fn rewrap_if_needed(
    pages: &dyn PageStore,
    cipher: &TokenCipher,
    tenant_id: &str,
    page_id: &str,
    sealed: &str,
) -> Result<Rewrap, StoreError> {
    if !cipher.needs_rewrap(sealed) {
        return Ok(Rewrap::Current);
    }
    let key = cipher.current_key_id();
    let new = match cipher.rewrap(tenant_id, page_id, sealed) {
        Ok(new) => new,
        Err(e) => {
            // The error names a key id at most, never the token.
            tracing::warn!(tenant_id, page_id, error = %e, "a Page token could not be re-wrapped under the current key");
            crate::telemetry::count("PageTokensRewrapFailed", 1, ("KeyId", &key));
            return Ok(Rewrap::Failed(e));
        }
    };
    if !pages.replace_token(tenant_id, page_id, sealed, &new).await? {
        return Ok(Rewrap::Raced);
    }
    tracing::info!(tenant_id, page_id, key = %key, "Page token re-wrapped under the current key");
    crate::telemetry::count("PageTokensRewrapped", 1, ("KeyId", &key));
    Ok(Rewrap::Rewrapped)
}

#[cfg(test)]
mod tests {
    use domain::ports::ImportedPage;
    use secrecy::SecretString;

    use super::*;
    use crate::memory::MemoryStore;

    fn cipher(json: &str) -> TokenCipher {
        TokenCipher::from_ring_secret(&SecretString::from(json.to_string())).expect("ring")
    }

    const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    const K2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

    #[tokio::test]
    async fn a_sweep_moves_a_token_to_the_current_key_once() {
        let store = MemoryStore::new();
        let old = cipher(&format!(r#"{{"current":"k1","keys":{{"k1":"{K1}"}}}}"#));
        let sealed = old.encrypt("A", "P", &SecretString::from("EAAG-page".to_string()));
        let page = ImportedPage {
            page_id: "P".into(),
            name: "Áo Đẹp".into(),
            token_enc: sealed.clone(),
            imported_by: "o@a.vn".into(),
        };
        store.import_page("A", &page).await.expect("import");
        assert_eq!(rewrap_if_needed(&store, &old, "A", "P", &sealed).await.expect("k1"), Rewrap::Current);

        let both = cipher(&format!(r#"{{"current":"k2","keys":{{"k1":"{K1}","k2":"{K2}"}}}}"#));
        assert_eq!(
            rewrap_if_needed(&store, &both, "A", "P", &sealed).await.expect("sweep"),
            Rewrap::Rewrapped
        );
        let now = store.page("A", "P").await.expect("page").and_then(|p| p.token_enc).expect("token");
        assert!(now.starts_with("v2:k2:"), "{now}");
        // A second sweep that read the old token before the first one wrote: nothing written.
        assert_eq!(rewrap_if_needed(&store, &both, "A", "P", &sealed).await.expect("late"), Rewrap::Raced);
        assert_eq!(rewrap_if_needed(&store, &both, "A", "P", &now).await.expect("again"), Rewrap::Current);

        let k2_only = cipher(&format!(r#"{{"current":"k2","keys":{{"k2":"{K2}"}}}}"#));
        assert!(k2_only.decrypt("A", "P", &now).is_ok());
        let r = rewrap_if_needed(&store, &k2_only, "A", "P", &sealed).await.expect("gone");
        assert!(matches!(r, Rewrap::Failed(CipherError::UnknownKey(_))), "{r:?}");
    }
}
