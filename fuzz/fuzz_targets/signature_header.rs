//! `X-Hub-Signature-256` (`domain::signature`): the input is `<header>\n<body>`.
//!
//! Asserts: no panic on any header or body; a header is accepted only when it is the HMAC of
//! the body under a configured secret (hex in either case); what `sign` makes always verifies,
//! and stops verifying when one bit of the body changes; a rotation list read from any text
//! never panics and holds at most one secret per comma-separated item.
#![no_main]

use domain::signature::{AppSecrets, sign};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

const SECRETS: [&str; 2] = ["test-app-secret", "old-app-secret"];

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let secrets = AppSecrets::from_list(&SecretString::from(SECRETS.join(",")));
    if secrets.verify(Some(header), body).is_ok() {
        let lower = String::from_utf8_lossy(header).to_ascii_lowercase();
        assert!(SECRETS.iter().any(|s| sign(s, body) == lower), "accepted a header that is not a signature");
    }
    let good = sign(SECRETS[1], body);
    assert_eq!(secrets.verify(Some(good.as_bytes()), body), Ok(()));
    if let Some(&first) = header.first()
        && !body.is_empty()
    {
        let mut changed = body.to_vec();
        let at = usize::from(first) % changed.len();
        changed[at] ^= 1 << (first % 8);
        assert!(secrets.verify(Some(good.as_bytes()), &changed).is_err(), "a changed body verified");
    }
    let list = String::from_utf8_lossy(header).into_owned();
    let items = list.split(',').count();
    assert!(AppSecrets::from_list(&SecretString::from(list)).len() <= items);
});
