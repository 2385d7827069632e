//! Opaque pagination cursors: the codec is pure and lives in `domain::cursor` (so the fuzz
//! target builds without the AWS SDK); re-exported here, where the stores use it, with the
//! health sweep's cursor over Page routes.

use std::collections::BTreeMap;

use domain::ports::StoreError;

pub use domain::cursor::{decode, encode};

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
    fn route_cursors_name_a_page_id_only() {
        assert_eq!(decode_route_cursor(&route_cursor("1201")).expect("decode"), "1201");
        assert!(matches!(decode_route_cursor(&route_cursor("12/../x")), Err(StoreError::InvalidCursor)));
        assert!(matches!(
            decode_route_cursor(&encode("conv", &BTreeMap::new())),
            Err(StoreError::InvalidCursor)
        ));
    }
}
