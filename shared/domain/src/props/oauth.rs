//! The OAuth `state` (`oauth.rs`, `StateSigner`): a signed state reads back as signed until it
//! expires; any change, another key, or garbage is refused; the browser binding holds only for
//! its own state; the login cookie's name is always a plain token.

use proptest::prelude::*;
use secrecy::SecretString;

use crate::oauth::{OAuthState, StateError, StateSigner, cookie_value, login_cookie_name};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(500)
}

fn signer(key: &str) -> StateSigner {
    StateSigner::new(&SecretString::from(key.to_string()))
}

/// Any state, with any text in its fields (the shop id and the email come from claims).
fn state() -> impl Strategy<Value = OAuthState> {
    (any::<String>(), any::<String>(), any::<String>(), any::<i64>(), "[0-9a-f]{32}|.{0,40}").prop_map(
        |(tenant_id, email, sub, expires_ms, nonce)| OAuthState { tenant_id, email, sub, expires_ms, nonce },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_signed_state_reads_back_until_it_expires(s in state(), before in 0i64..=crate::oauth::STATE_TTL_MS) {
        let k = signer("state-key");
        let token = k.sign(&s);
        prop_assert_eq!(k.verify(&token, s.expires_ms.saturating_sub(before)), Ok(s.clone()));
        if let Some(later) = s.expires_ms.checked_add(1 + before) {
            prop_assert_eq!(k.verify(&token, later), Err(StateError::Expired));
        }
    }

    #[test]
    fn another_key_is_refused(s in state(), key in "[a-z]{1,20}") {
        prop_assume!(key != "state-key");
        let token = signer(&key).sign(&s);
        prop_assert_eq!(signer("state-key").verify(&token, i64::MIN), Err(StateError::BadSignature));
    }

    /// Any one character of the token changed (or cut off, or added) is refused: the MAC covers
    /// the payload as written, and the MAC's own encoding admits one spelling only.
    #[test]
    fn any_change_of_the_token_is_refused(
        s in state(),
        at in any::<prop::sample::Index>(),
        with in prop::sample::select(b"ABCXYZabcxyz0189-_.=+/ ".to_vec()),
        how in 0u8..3,
    ) {
        let k = signer("state-key");
        let token = k.sign(&s).into_bytes();
        let i = at.index(token.len());
        let mut bad = token.clone();
        match how {
            0 => bad[i] = with,
            1 => { bad.remove(i); }
            _ => bad.insert(i, with),
        }
        prop_assume!(bad != token);
        let bad = String::from_utf8(bad).expect("ascii");
        prop_assert!(k.verify(&bad, i64::MIN).is_err(), "{} accepted", bad);
    }

    #[test]
    fn garbage_is_refused_without_panic(token in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,60}"]) {
        prop_assert!(signer("state-key").verify(&token, 0).is_err());
    }

    /// The cookie binds its own state only, and its name is a plain cookie token whatever the
    /// nonce holds (a `;` or `=` there would let a state write other cookies).
    #[test]
    fn the_browser_binding_is_the_states_own(a in state(), b in state()) {
        let k = signer("state-key");
        let cookie = k.browser_binding(&a);
        prop_assert!(k.bound_to_browser(&a, Some(&cookie)));
        prop_assert!(!signer("other-key").bound_to_browser(&a, Some(&cookie)));
        if a.nonce != b.nonce {
            prop_assert!(!k.bound_to_browser(&b, Some(&cookie)));
        }
        let name = login_cookie_name(&a);
        prop_assert!(name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'), "{}", name);
        let header = format!("x=1; {name}={cookie}; y=2");
        prop_assert_eq!(cookie_value([header.as_str()], &name), Some(cookie.as_str()));
    }
}
