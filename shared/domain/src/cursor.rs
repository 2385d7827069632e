//! Opaque pagination cursors: base64url of a small JSON object of string keys, tagged with the
//! listing that issued it so a cursor from one listing is refused by another.
//!
//! Pure (no I/O), so it lives in the domain crate: the fuzz target `cursor` builds against this
//! crate alone, without the AWS SDK the adapters pull in. `adapters::cursor` re-exports it.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ports::StoreError;

/// The key the listing's name travels under inside the cursor.
const LISTING_KEY: &str = "_l";

pub fn encode(listing: &str, key: &BTreeMap<String, String>) -> String {
    let mut m = key.clone();
    m.insert(LISTING_KEY.into(), listing.into());
    let json = serde_json::to_vec(&m).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor issued by `listing`; the caller checks the keys belong to its query.
pub fn decode(listing: &str, cursor: &str) -> Result<BTreeMap<String, String>, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| StoreError::InvalidCursor)?;
    let mut m: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    match m.remove(LISTING_KEY) {
        Some(l) if l == listing => Ok(m),
        _ => Err(StoreError::InvalidCursor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let mut k = BTreeMap::new();
        k.insert("pk".to_string(), "T#a".to_string());
        let c = encode("conv", &k);
        assert_eq!(decode("conv", &c).expect("decode"), k);
        assert!(matches!(decode("msgs", &c), Err(StoreError::InvalidCursor)));
        assert!(matches!(decode("conv", "!!!"), Err(StoreError::InvalidCursor)));
        assert!(matches!(decode("conv", "e30"), Err(StoreError::InvalidCursor)));
    }
}
