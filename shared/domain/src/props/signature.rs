//! `X-Hub-Signature-256` (`signature.rs`): what Meta signs verifies, under any secret of the
//! rotation list; any single-bit change of the body or of the signature is refused; any header
//! is answered without a panic.

use proptest::prelude::*;
use secrecy::SecretString;

use crate::signature::{AppSecrets, SignatureError, sign};

/// Each case is one or a few HMACs: cheap.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(500)
}

/// A secret as the rotation list can hold it (no comma, no surrounding blanks).
fn secret() -> impl Strategy<Value = String> {
    "[!-+\\--~]{1,40}"
}

fn secrets(list: &[String]) -> AppSecrets {
    AppSecrets::from_list(&SecretString::from(list.join(",")))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn what_is_signed_verifies(s in secret(), body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let header = sign(&s, &body);
        prop_assert_eq!(secrets(&[s]).verify(Some(header.as_bytes()), &body), Ok(()));
    }

    #[test]
    fn any_bit_flipped_in_the_body_is_refused(
        s in secret(),
        body in prop::collection::vec(any::<u8>(), 1..1024),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let header = sign(&s, &body);
        let mut changed = body.clone();
        changed[at.index(body.len())] ^= 1 << bit;
        prop_assert_eq!(secrets(&[s]).verify(Some(header.as_bytes()), &changed), Err(SignatureError::Mismatch));
    }

    /// A bit flipped in the MAC itself is refused; in the header's text, a flip is refused
    /// unless it only changes the case of a hex letter (hex decoding ignores case: the same MAC).
    #[test]
    fn any_bit_flipped_in_the_signature_is_refused(
        s in secret(),
        body in prop::collection::vec(any::<u8>(), 0..256),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let header = sign(&s, &body);
        let set = secrets(&[s]);
        let mut mac = hex::decode(&header["sha256=".len()..]).expect("hex");
        mac[at.index(32)] ^= 1 << bit;
        let forged = format!("sha256={}", hex::encode(&mac));
        prop_assert_eq!(set.verify(Some(forged.as_bytes()), &body), Err(SignatureError::Mismatch));

        let mut text = header.clone().into_bytes();
        let i = at.index(text.len());
        let before = text[i];
        text[i] ^= 1 << bit;
        let case_only = before.is_ascii_hexdigit() && before.is_ascii_alphabetic() && text[i] == before ^ 0x20 && i >= 7;
        let verdict = set.verify(Some(&text), &body);
        if case_only {
            prop_assert_eq!(verdict, Ok(()));
        } else {
            prop_assert!(verdict.is_err(), "{:?} accepted", String::from_utf8_lossy(&text));
        }
    }

    /// Any secret of the list verifies, whatever its place and the blanks around it; a secret
    /// not in the list never does.
    #[test]
    fn rotation_accepts_every_listed_secret_and_no_other(
        list in prop::collection::vec(secret(), 1..5),
        other in secret(),
        pick in any::<prop::sample::Index>(),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        prop_assume!(!list.contains(&other));
        let padded: Vec<String> = list.iter().map(|s| format!(" {s} ")).chain([String::new()]).collect();
        let set = secrets(&padded);
        prop_assert_eq!(set.len(), list.len());
        let chosen = &list[pick.index(list.len())];
        prop_assert_eq!(set.verify(Some(sign(chosen, &body).as_bytes()), &body), Ok(()));
        prop_assert_eq!(set.verify(Some(sign(&other, &body).as_bytes()), &body), Err(SignatureError::Mismatch));
    }

    /// Any header value is answered (Missing, Malformed or Mismatch), never a panic, never Ok.
    #[test]
    fn any_header_is_refused_without_panic(
        s in secret(),
        header in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..100),
            "sha256=[0-9a-fA-F]{0,70}".prop_map(String::into_bytes),
            "(sha256|sha1|SHA256)=?.{0,70}".prop_map(String::into_bytes),
        ],
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let verdict = secrets(&[s]).verify(Some(&header), &body);
        prop_assert!(verdict.is_err());
        if !header.starts_with(b"sha256=") {
            prop_assert_eq!(verdict, Err(SignatureError::Malformed));
        }
    }
}
