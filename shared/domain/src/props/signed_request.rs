//! Meta's `signed_request` (`signed_request.rs`): what Meta signs is read back as it was
//! written; any one character changed is refused; anything else is refused without a panic.

use proptest::prelude::*;
use secrecy::SecretString;

use crate::signature::AppSecrets;
use crate::signed_request::{SignedRequest, SignedRequestError, sign, verify};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(500)
}

fn secrets(s: &str) -> AppSecrets {
    AppSecrets::from_list(&SecretString::from(s.to_string()))
}

/// A payload as Meta writes it, with the user id as a string or a number; and what it says.
fn payload() -> impl Strategy<Value = (String, SignedRequest)> {
    ("[0-9]{1,19}", any::<i64>(), any::<bool>(), prop::sample::select(vec!["HMAC-SHA256", "hmac-sha256"]))
        .prop_map(|(user, issued_at, numeric, alg)| {
            let (json_user, user_id) = match user.parse::<u64>() {
                Ok(n) if numeric => (serde_json::json!(n), n.to_string()),
                _ => (serde_json::json!(user), user.clone()),
            };
            let json = serde_json::json!({"algorithm": alg, "issued_at": issued_at, "user_id": json_user})
                .to_string();
            (json, SignedRequest { user_id, issued_at })
        })
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";

proptest! {
    #![proptest_config(config())]

    #[test]
    fn what_meta_signs_is_read_back(secret in "[!-+\\--~]{1,40}", (json, expected) in payload()) {
        prop_assert_eq!(verify(&secrets(&secret), Some(&sign(&secret, &json))), Ok(expected));
    }

    #[test]
    fn any_character_changed_is_refused(
        (json, _) in payload(),
        at in any::<prop::sample::Index>(),
        with in prop::sample::select(ALPHABET.to_vec()),
    ) {
        let good = sign("app-secret", &json).into_bytes();
        let i = at.index(good.len());
        prop_assume!(good[i] != with);
        let mut bad = good.clone();
        bad[i] = with;
        let bad = String::from_utf8(bad).expect("ascii");
        let verdict = verify(&secrets("app-secret"), Some(&bad));
        // A blank at either end is trimmed away: the request is then the one Meta signed.
        let trimmed = with == b' ' && (i == 0 || i == good.len() - 1);
        prop_assert!(verdict.is_err() || trimmed, "{} accepted", bad);
    }

    #[test]
    fn another_secret_is_forged(secret in "[a-z]{1,20}", (json, _) in payload()) {
        prop_assume!(secret != "app-secret");
        prop_assert_eq!(verify(&secrets("app-secret"), Some(&sign(&secret, &json))), Err(SignedRequestError::Forged));
    }

    #[test]
    fn anything_else_is_refused_without_panic(raw in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_=-]{0,120}",
    ]) {
        prop_assert!(verify(&secrets("app-secret"), Some(&raw)).is_err());
    }

    /// Whatever a signed payload says (any JSON the app secret signed), the answer is an error
    /// or a user id that is safe in a storage key.
    #[test]
    fn a_signed_payload_of_any_shape_yields_only_digit_user_ids(json in prop_oneof![
        any::<String>(),
        ("[a-zA-Z0-9#_ -]{0,40}", prop::option::of(any::<i64>()))
            .prop_map(|(u, at)| serde_json::json!({"algorithm":"HMAC-SHA256","user_id":u,"issued_at":at}).to_string()),
        any::<f64>().prop_map(|u| format!(r#"{{"algorithm":"HMAC-SHA256","user_id":{u}}}"#)),
    ]) {
        if let Ok(r) = verify(&secrets("app-secret"), Some(&sign("app-secret", &json))) {
            prop_assert!(crate::signed_request::is_user_id(&r.user_id), "{:?}", r.user_id);
        }
    }
}
