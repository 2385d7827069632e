//! The OAuth `state` (`domain::oauth::StateSigner`).
//!
//! Asserts: no panic on any token; a token that verifies is one the key signed (re-signing what
//! it says verifies to the same state, and it expires after its own expiry); any state built
//! from the input round-trips through sign and verify, is refused by another key, and its
//! browser binding holds for it alone; cookie parsing of any header never panics.
#![no_main]

use domain::oauth::{OAuthState, StateError, StateSigner, cookie_value, login_cookie_name};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fuzz_target!(|data: &[u8]| {
    let key = StateSigner::new(&SecretString::from("fuzz-state-key".to_string()));
    let text = String::from_utf8_lossy(data);
    if let Ok(state) = key.verify(&text, i64::MIN) {
        assert_eq!(key.verify(&key.sign(&state), i64::MIN), Ok(state.clone()));
        if let Some(after) = state.expires_ms.checked_add(1) {
            assert_eq!(key.verify(&text, after), Err(StateError::Expired));
        }
    }
    let _ = cookie_value([text.as_ref()], "fb_login_x");

    // A state whose fields are the input's NUL-separated parts.
    let mut parts = text.split('\0').map(str::to_string);
    let mut next = || parts.next().unwrap_or_default();
    let expires_ms = data.iter().take(8).fold(0i64, |acc, &b| acc.wrapping_shl(8) | i64::from(b));
    let state = OAuthState { tenant_id: next(), email: next(), sub: next(), expires_ms, nonce: next() };
    let token = key.sign(&state);
    assert_eq!(key.verify(&token, expires_ms), Ok(state.clone()));
    let other = StateSigner::new(&SecretString::from("another-key".to_string()));
    assert_eq!(other.verify(&token, expires_ms), Err(StateError::BadSignature));
    let binding = key.browser_binding(&state);
    assert!(key.bound_to_browser(&state, Some(&binding)));
    assert!(!other.bound_to_browser(&state, Some(&binding)));
    let name = login_cookie_name(&state);
    assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "cookie name {name:?}");
});
