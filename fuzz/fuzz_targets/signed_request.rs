//! Meta's `signed_request` (`domain::signed_request`).
//!
//! Asserts: no panic on any request; an accepted request carries a user id of digits only (it
//! goes into storage keys) and is exactly what the app secret signs for its payload (a fuzzer
//! cannot sign, so only the seeds Meta "sent" pass). The input is tried twice: as a whole
//! request, and as the payload of a request signed with the app secret, so the payload parsing
//! behind the signature check is reached too.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::signature::AppSecrets;
use domain::signed_request::{is_user_id, sign, verify};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

const SECRET: &str = "test-app-secret";

fuzz_target!(|data: &[u8]| {
    let secrets = AppSecrets::from_list(&SecretString::from(SECRET.to_string()));
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = verify(&secrets, Some(&text)) {
        assert!(is_user_id(&r.user_id), "user id {:?}", r.user_id);
        let raw = text.trim();
        let (_, payload) = raw.split_once('.').expect("an accepted request has a dot");
        let json = URL_SAFE_NO_PAD.decode(payload).expect("an accepted payload decodes");
        let json = std::str::from_utf8(&json).expect("an accepted payload is JSON text");
        assert_eq!(sign(SECRET, json), raw, "accepted a request the app secret did not sign");
    }
    if let Ok(r) = verify(&secrets, Some(&sign(SECRET, &text))) {
        assert!(is_user_id(&r.user_id), "user id {:?}", r.user_id);
    }
});
