use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

fn b64(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

fn ring(current: &str, keys: &[(&str, u8)]) -> SecretString {
    let keys: serde_json::Map<_, _> = keys.iter().map(|(id, b)| (id.to_string(), b64(*b).into())).collect();
    SecretString::from(serde_json::json!({ "current": current, "keys": keys }).to_string())
}

fn cipher(current: &str, keys: &[(&str, u8)]) -> TokenCipher {
    TokenCipher::from_ring_secret(&ring(current, keys)).expect("ring")
}

fn token() -> SecretString {
    SecretString::from("EAAG-page-token".to_string())
}

/// The `v1` form as the former cipher wrote it: directly under the key, no key id.
fn seal_v1(byte: u8, tenant: &str, page: &str) -> String {
    let key = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&[byte; 32]));
    format!("v1:{}", STANDARD.encode(seal(&key, b"EAAG-old-token", &aad(tenant, page))))
}

#[test]
fn v2_round_trip_bound_to_its_page() {
    let c = cipher("k1", &[("k1", 7)]);
    let a = c.encrypt("shop", "P1", &token());
    let b = c.encrypt("shop", "P1", &token());
    assert_ne!(a, b, "fresh data key and nonce each time");
    assert!(a.starts_with("v2:k1:"), "{a}");
    assert!(!a.contains("EAAG"));
    assert_eq!(c.decrypt("shop", "P1", &a).expect("decrypt").expose_secret(), "EAAG-page-token");
    assert!(matches!(c.decrypt("shop", "P2", &a), Err(CipherError::Undecryptable)));
    assert!(matches!(c.decrypt("other", "P1", &a), Err(CipherError::Undecryptable)));
    assert!(cipher("k1", &[("k1", 8)]).decrypt("shop", "P1", &a).is_err(), "another key of the same id");
    assert!(c.decrypt("shop", "P1", "v2:k1:AAAA:AAAA").is_err());
    assert!(c.decrypt("shop", "P1", "garbage").is_err());
}

#[test]
fn a_relabelled_key_id_does_not_open() {
    let c = cipher("k1", &[("k1", 7), ("k2", 7)]);
    let a = c.encrypt("shop", "P1", &token());
    let relabelled = a.replacen("v2:k1:", "v2:k2:", 1);
    assert!(c.decrypt("shop", "P1", &relabelled).is_err(), "the key id is bound to the wrapped key");
}

#[test]
fn v1_tokens_open_through_the_ring_and_need_a_rewrap() {
    let old = seal_v1(5, "shop", "P1");
    // The former TOKEN_KEY as the ring's only key, given as a plain key...
    let plain = TokenCipher::from_base64_key(&SecretString::from(b64(5))).expect("key");
    assert_eq!(plain.decrypt("shop", "P1", &old).expect("v1").expose_secret(), "EAAG-old-token");
    // ... or kept under any id in a ring whose current key is new.
    let c = cipher("k2", &[("k1", 5), ("k2", 9)]);
    assert_eq!(c.decrypt("shop", "P1", &old).expect("v1").expose_secret(), "EAAG-old-token");
    assert!(c.decrypt("shop", "P2", &old).is_err());
    assert!(c.needs_rewrap(&old));
    let new = c.rewrap("shop", "P1", &old).expect("rewrap");
    assert!(new.starts_with("v2:k2:"), "{new}");
    assert!(!c.needs_rewrap(&new));
    let k2_only = cipher("k2", &[("k2", 9)]);
    assert_eq!(k2_only.decrypt("shop", "P1", &new).expect("after").expose_secret(), "EAAG-old-token");
    assert!(k2_only.decrypt("shop", "P1", &old).is_err(), "the old key is gone");
}

#[test]
fn rotation_rewraps_the_data_key_only() {
    let k1 = cipher("k1", &[("k1", 1)]);
    let sealed = k1.encrypt("shop", "P1", &token());
    assert!(!k1.needs_rewrap(&sealed));
    // k2 added and made current: the k1 token still opens and asks for a re-wrap.
    let both = cipher("k2", &[("k1", 1), ("k2", 2)]);
    assert_eq!(both.decrypt("shop", "P1", &sealed).expect("k1 token").expose_secret(), "EAAG-page-token");
    assert!(both.needs_rewrap(&sealed));
    assert!(
        matches!(both.rewrap("shop", "P2", &sealed), Err(CipherError::Undecryptable)),
        "bound to its Page"
    );
    let rewrapped = both.rewrap("shop", "P1", &sealed).expect("rewrap");
    assert!(rewrapped.starts_with("v2:k2:"), "{rewrapped}");
    let data = |s: &str| s.rsplit(':').next().map(str::to_string);
    assert_eq!(data(&rewrapped), data(&sealed), "the token's ciphertext is kept");
    assert!(!both.needs_rewrap(&rewrapped));
    assert_eq!(both.rewrap("shop", "P1", &rewrapped).expect("again"), rewrapped, "already current");
    // k1 removed: the re-wrapped token opens, the old one does not.
    let k2 = cipher("k2", &[("k2", 2)]);
    assert_eq!(k2.decrypt("shop", "P1", &rewrapped).expect("k2").expose_secret(), "EAAG-page-token");
    assert!(matches!(k2.decrypt("shop", "P1", &sealed), Err(CipherError::UnknownKey(id)) if id == "k1"));
}

#[test]
fn rings_are_checked_and_errors_hold_no_key() {
    let secret = b64(3);
    for bad in [
        format!(r#"{{"current":"k9","keys":{{"k1":"{secret}"}}}}"#),
        format!(r#"{{"keys":{{"k1":"{secret}"}}}}"#),
        r#"{"current":"k1","keys":{"k1":"c2hvcnQ="}}"#.to_string(),
        format!(r#"{{"current":"k:1","keys":{{"k:1":"{secret}"}}}}"#),
        format!(r#"{{"current":"k1","k1":"{secret}","keys":{{"k1":"{secret}"}}}}"#),
        format!(r#"{{"current":"k1","keys":{{"k1":"{secret}"}}"#),
    ] {
        let e = TokenCipher::from_ring_secret(&SecretString::from(bad.clone())).map(|_| ()).expect_err(&bad);
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(&secret), "{shown}");
    }
    assert!(TokenCipher::from_base64_key(&SecretString::from(STANDARD.encode([1u8; 16]))).is_err());
    assert!(TokenCipher::from_base64_key(&SecretString::from("not base64!".to_string())).is_err());
}

#[test]
fn generated_strings_are_keys_through_hkdf() {
    // What GenerateSecretString makes: {"current":"k1"} plus a 64-character password under k1.
    let generated = "Zq8mXv2LpR7tYw4NcB9sKd3HfJ6gUe1AaQo5Ir0TlMnPbVxWyCzEuGhSjDkFiOl7";
    let text = format!(r#"{{"current":"k1","k1":"{generated}"}}"#);
    let c = TokenCipher::from_ring_secret(&SecretString::from(text.clone())).expect("generated ring");
    let sealed = c.encrypt("shop", "P1", &token());
    let again = TokenCipher::from_ring_secret(&SecretString::from(text)).expect("same ring");
    assert_eq!(
        again.decrypt("shop", "P1", &sealed).expect("same derived key").expose_secret(),
        "EAAG-page-token"
    );
    let other = format!(r#"{{"current":"k1","k1":"{}x"}}"#, &generated[1..]);
    assert!(
        TokenCipher::from_ring_secret(&SecretString::from(other))
            .expect("ring")
            .decrypt("shop", "P1", &sealed)
            .is_err()
    );
}

#[test]
fn debug_and_errors_show_no_token_or_key() {
    let c = cipher("k1", &[("k1", 4)]);
    let sealed = c.encrypt("shop", "P1", &token());
    let e = c.decrypt("shop", "P2", &sealed).expect_err("wrong page");
    let shown = format!("{c:?} {e} {e:?}");
    assert!(!shown.contains("EAAG") && !shown.contains(&b64(4)) && !shown.contains(&sealed), "{shown}");
}

/// A ring source that counts its reads and answers the ring it is set to.
struct Counting {
    reads: AtomicUsize,
    text: std::sync::Mutex<String>,
}

#[async_trait::async_trait]
impl RingSource for Counting {
    async fn load(&self) -> Result<SecretString, String> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(SecretString::from(self.text.lock().expect("lock").clone()))
    }
}

fn counting(text: &SecretString) -> Arc<Counting> {
    Arc::new(Counting {
        reads: AtomicUsize::new(0),
        text: std::sync::Mutex::new(text.expose_secret().to_string()),
    })
}

#[tokio::test]
async fn an_unknown_key_id_rereads_the_ring_once_per_interval() {
    let newer = cipher("k2", &[("k1", 1), ("k2", 2)]);
    let sealed_k2 = newer.encrypt("shop", "P1", &token());
    // A warm instance that started with k1 only.
    let source = counting(&ring("k1", &[("k1", 1)]));
    let warm = cipher("k1", &[("k1", 1)]).with_reload(source.clone(), Duration::from_secs(60));
    // The ring has not changed yet: one read, still unknown.
    assert!(matches!(warm.open("shop", "P1", &sealed_k2).await, Err(CipherError::UnknownKey(_))));
    assert_eq!(source.reads.load(Ordering::SeqCst), 1);
    // k2 added now, but within the interval: no second read.
    *source.text.lock().expect("lock") = ring("k2", &[("k1", 1), ("k2", 2)]).expose_secret().to_string();
    assert!(warm.open("shop", "P1", &sealed_k2).await.is_err());
    assert_eq!(source.reads.load(Ordering::SeqCst), 1, "rate-limited");
    // Known keys and other failures never read.
    let k1_token = warm.encrypt("shop", "P1", &token());
    assert!(warm.open("shop", "P1", &k1_token).await.is_ok());
    assert!(warm.open("shop", "P2", &k1_token).await.is_err());
    assert_eq!(source.reads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_warm_instance_learns_a_new_key_on_its_first_token() {
    let newer = cipher("k2", &[("k1", 1), ("k2", 2)]);
    let sealed_k2 = newer.encrypt("shop", "P1", &token());
    let source = counting(&ring("k2", &[("k1", 1), ("k2", 2)]));
    let warm = cipher("k1", &[("k1", 1)]).with_reload(source.clone(), Duration::from_secs(60));
    assert_eq!(
        warm.open("shop", "P1", &sealed_k2).await.expect("re-read").expose_secret(),
        "EAAG-page-token"
    );
    assert_eq!(source.reads.load(Ordering::SeqCst), 1);
    assert_eq!(warm.current_key_id(), "k2", "new tokens go under the new current key");
    assert!(warm.decrypt("shop", "P1", &sealed_k2).is_ok());
    assert_eq!(source.reads.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_synchronous_decrypt_rereads_too_on_a_multi_thread_runtime() {
    let newer = cipher("k2", &[("k1", 1), ("k2", 2)]);
    let sealed_k2 = newer.encrypt("shop", "P1", &token());
    let source = counting(&ring("k2", &[("k1", 1), ("k2", 2)]));
    let warm = cipher("k1", &[("k1", 1)]).with_reload(source.clone(), Duration::from_secs(60));
    assert_eq!(warm.decrypt("shop", "P1", &sealed_k2).expect("re-read").expose_secret(), "EAAG-page-token");
    assert_eq!(source.reads.load(Ordering::SeqCst), 1);
}
