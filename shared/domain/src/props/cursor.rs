//! Pagination cursors (`cursor.rs`): a cursor decodes to the keys it was made of, by its own
//! listing only; anything else is refused without a panic, and whatever decodes re-encodes to a
//! cursor that decodes the same.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use crate::cursor::{decode, encode};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(1000)
}

/// Keys as the stores write them (`pk`, `sk`, `gsi1sk`, with `T#shop#...` values), and any text.
fn keys() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        prop_oneof!["(pk|sk|gsi[1-3](pk|sk)|t0|n)", any::<String>()],
        prop_oneof!["T#[a-z0-9]{1,8}#(C|M)#[0-9]{1,13}", any::<String>()],
        0..5,
    )
    .prop_filter("`_l` is the cursor's own key", |m| !m.contains_key("_l"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_cursor_decodes_to_its_keys_in_its_listing_only(k in keys(), listing in "[a-z_]{1,12}", other in "[a-z_]{1,12}") {
        let c = encode(&listing, &k);
        prop_assert_eq!(decode(&listing, &c).ok(), Some(k));
        if other != listing {
            prop_assert!(decode(&other, &c).is_err());
        }
    }

    /// Garbage, valid base64 of garbage, and JSON of the wrong shape: refused, or (if it
    /// happens to be a cursor of the listing) re-encoded to an equal cursor.
    #[test]
    fn anything_else_is_refused_or_round_trips(raw in prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        any::<String>().prop_map(|s| URL_SAFE_NO_PAD.encode(format!(r#"{{"_l":"conv","k":{s:?}}}"#))),
        (any::<String>(), any::<i64>()).prop_map(|(s, n)| URL_SAFE_NO_PAD.encode(format!(r#"{{"_l":"conv","{n}":{s:?},"x":{n}}}"#))),
    ]) {
        if let Ok(k) = decode("conv", &raw) {
            prop_assert_eq!(decode("conv", &encode("conv", &k)).ok(), Some(k));
        }
    }
}
