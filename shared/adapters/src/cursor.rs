//! Opaque pagination cursors: base64url of a small JSON object of string keys, tagged with the
//! listing that issued it so a cursor from one listing is refused by another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::ports::StoreError;
use std::collections::BTreeMap;

pub fn encode(listing: &str, key: &BTreeMap<String, String>) -> String {
    let mut m = key.clone();
    m.insert("_l".into(), listing.into());
    let json = serde_json::to_vec(&m).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor issued by `listing`; the caller checks the keys belong to its query.
pub fn decode(listing: &str, cursor: &str) -> Result<BTreeMap<String, String>, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| StoreError::InvalidCursor)?;
    let mut m: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    match m.remove("_l") {
        Some(l) if l == listing => Ok(m),
        _ => Err(StoreError::InvalidCursor),
    }
}

/// The listing name of the health sweep's cursor over Page routes.
const ROUTES: &str = "routes";

/// The health sweep's cursor over Page routes (both backends): the last Page id of a batch,
/// so a batch starts after it even when that route was deleted meanwhile.
pub fn route_cursor(page_id: &str) -> String {
    encode(ROUTES, &BTreeMap::from([("page".to_string(), page_id.to_string())]))
}

/// The Page id a [`route_cursor`] names; only a Page id (digits) is accepted.
pub fn decode_route_cursor(cursor: &str) -> Result<String, StoreError> {
    let mut k = decode(ROUTES, cursor)?;
    match k.remove("page") {
        Some(p) if k.is_empty() && domain::ids::PageId::parse(&p).is_ok() => Ok(p),
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

    #[test]
    fn route_cursors_name_a_page_id_only() {
        assert_eq!(decode_route_cursor(&route_cursor("1201")).expect("decode"), "1201");
        assert!(matches!(decode_route_cursor(&route_cursor("12/../x")), Err(StoreError::InvalidCursor)));
        assert!(matches!(
            decode_route_cursor(&encode("conv", &BTreeMap::new())),
            Err(StoreError::InvalidCursor)
        ));
    }
}
