//! Pagination cursors (`domain::cursor`, re-exported by `adapters::cursor`).
//!
//! Asserts: no panic on any cursor; a cursor that decodes for a listing re-encodes to one that
//! decodes to the same keys, and is refused by any other listing; keys built from the input
//! round-trip.
#![no_main]

use std::collections::BTreeMap;

use domain::cursor::{decode, encode};
use libfuzzer_sys::fuzz_target;

/// The listings the stores issue cursors for (`walk.rs`, `dynamo/conversations.rs`), and one more.
const LISTINGS: [&str; 3] = ["conversations", "messages", "members"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for (i, listing) in LISTINGS.iter().enumerate() {
        if let Ok(keys) = decode(listing, &text) {
            assert_eq!(decode(listing, &encode(listing, &keys)).ok(), Some(keys));
            let other = LISTINGS[(i + 1) % LISTINGS.len()];
            assert!(decode(other, &text).is_err(), "a cursor of {listing} accepted by {other}");
        }
    }
    // Keys from the input: `key=value` lines.
    let keys: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| *k != "_l")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(decode("messages", &encode("messages", &keys)).ok(), Some(keys));
});
