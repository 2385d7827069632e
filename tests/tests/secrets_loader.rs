//! The secrets loader against Secrets Manager on moto: what a function reads at init, the
//! fallback to the value variables, failures that name the secret and never a value, and the
//! key ring re-read once when a token names a key added after start-up.

use std::collections::HashMap;
use std::time::Duration;

use adapters::crypto::{DEFAULT_RELOAD_INTERVAL, TokenCipher};
use adapters::secrets::{LoadedSecrets, SecretError, SecretKind, SecretsManager};
use base64::Engine;
use integration_tests::{moto_config, unique};
use secrecy::{ExposeSecret, SecretString};

async fn client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto_config().await)
}

/// A new secret on moto; its ARN.
async fn create(c: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let out = c
        .create_secret()
        .name(unique("fb-inbox-test"))
        .secret_string(value)
        .send()
        .await
        .expect("create secret");
    out.arn.expect("arn")
}

async fn load(c: &aws_sdk_secretsmanager::Client, env: &[(&'static str, String)]) -> LoadedSecrets {
    let env: HashMap<&'static str, String> = env.iter().cloned().collect();
    LoadedSecrets::load(SecretsManager::new(c.clone()), move |name| env.get(name).cloned()).await
}

fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn ring(current: &str, keys: &[(&str, u8)]) -> String {
    let keys: serde_json::Map<_, _> = keys.iter().map(|(id, b)| (id.to_string(), key(*b).into())).collect();
    serde_json::json!({ "current": current, "keys": keys }).to_string()
}

#[tokio::test]
async fn secrets_named_by_arn_are_read_at_init_and_win_over_values() {
    let c = client().await;
    let app = create(&c, "app-secret-new,app-secret-old").await;
    let verify = create(&c, "verify-from-sm").await;
    let keys = create(&c, &ring("k1", &[("k1", 1)])).await;
    let s = load(
        &c,
        &[
            ("APP_SECRET_ARN", app),
            ("VERIFY_TOKEN_ARN", verify),
            ("TOKEN_KEYS_ARN", keys),
            ("FB_VERIFY_TOKEN", "from-env-must-lose".into()),
        ],
    )
    .await;
    assert_eq!(s.get(SecretKind::AppSecret).expect("app").expose_secret(), "app-secret-new,app-secret-old");
    assert_eq!(s.get(SecretKind::VerifyToken).expect("verify").expose_secret(), "verify-from-sm");
    let ring_text = s.get(SecretKind::TokenKeys).expect("ring");
    assert_eq!(TokenCipher::from_ring_secret(&ring_text).expect("parses").current_key_id(), "k1");
    assert!(s.ring_source().is_some(), "a ring from Secrets Manager can be re-read");
    let shown = format!("{s:?}");
    assert!(!shown.contains("app-secret") && !shown.contains("verify-from-sm"), "{shown}");
}

#[tokio::test]
async fn without_arns_the_value_variables_are_read_and_absent_secrets_are_not_given() {
    let c = client().await;
    let s = load(&c, &[("FB_APP_SECRET", "local-app".into()), ("TOKEN_KEY", key(3))]).await;
    assert_eq!(s.get(SecretKind::AppSecret).expect("app").expose_secret(), "local-app");
    assert!(TokenCipher::from_ring_secret(&s.get(SecretKind::TokenKeys).expect("key")).is_ok());
    assert!(s.ring_source().is_none(), "an environment value cannot change: no re-read");
    // The admin API's share: no app secret, no verify token.
    assert!(s.optional(SecretKind::VerifyToken).expect("not an error").is_none());
    let e = s.get(SecretKind::VerifyToken).expect_err("missing").to_string();
    assert!(
        e.contains("webhook verify token") && e.contains("VERIFY_TOKEN_ARN") && e.contains("FB_VERIFY_TOKEN"),
        "{e}"
    );
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_fails_by_name_without_falling_back() {
    let c = client().await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fb-inbox-gone-AbCdEf".to_string();
    let keys = create(&c, &ring("k1", &[("k1", 9)])).await;
    let s = load(
        &c,
        &[
            ("APP_SECRET_ARN", missing.clone()),
            ("FB_APP_SECRET", "fallback-must-not-be-used".into()),
            ("TOKEN_KEYS_ARN", keys),
        ],
    )
    .await;
    let e = s.get(SecretKind::AppSecret).expect_err("not found");
    assert!(matches!(e, SecretError::Fetch { kind: SecretKind::AppSecret, .. }), "{e:?}");
    // A failed read is an error for optional() too: the function was given the secret.
    assert!(s.optional(SecretKind::AppSecret).is_err());
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("the Meta app secret") && shown.contains(&missing), "{shown}");
    assert!(!shown.contains("fallback-must-not-be-used") && !shown.contains(&key(9)), "{shown}");
    // The other secrets of the function are unaffected.
    assert!(s.get(SecretKind::TokenKeys).is_ok());
}

#[tokio::test]
async fn a_binary_secret_is_refused_by_name() {
    let c = client().await;
    let out = c
        .create_secret()
        .name(unique("fb-inbox-binary"))
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![1u8, 2, 3]))
        .send()
        .await
        .expect("create");
    let s = load(&c, &[("VERIFY_TOKEN_ARN", out.arn.expect("arn"))]).await;
    let e = s.get(SecretKind::VerifyToken).expect_err("binary");
    assert!(matches!(e, SecretError::NotText { kind: SecretKind::VerifyToken, .. }), "{e:?}");
}

#[tokio::test]
async fn the_ring_is_reread_once_when_a_token_names_a_new_key() {
    let c = client().await;
    let arn = create(&c, &ring("k1", &[("k1", 1)])).await;
    let s = load(&c, &[("TOKEN_KEYS_ARN", arn.clone())]).await;
    let warm = TokenCipher::from_ring_secret(&s.get(SecretKind::TokenKeys).expect("ring"))
        .expect("parse")
        .with_reload(s.ring_source().expect("source"), DEFAULT_RELOAD_INTERVAL);
    let page_token = SecretString::from("EAAG-page".to_string());

    // The operator adds k2 and makes it current; another instance seals a token under it.
    let two = ring("k2", &[("k1", 1), ("k2", 2)]);
    c.put_secret_value().secret_id(&arn).secret_string(&two).send().await.expect("put k2");
    let fresh = TokenCipher::from_ring_secret(&SecretString::from(two)).expect("two");
    let under_k2 = fresh.encrypt("A", "P", &page_token);
    assert_eq!(warm.open("A", "P", &under_k2).await.expect("re-read").expose_secret(), "EAAG-page");
    assert_eq!(warm.current_key_id(), "k2");

    // k3 right after: within the interval the ring is not read again, so the token stays
    // unknown (the next try after a minute reads it).
    let three = ring("k3", &[("k1", 1), ("k2", 2), ("k3", 3)]);
    c.put_secret_value().secret_id(&arn).secret_string(&three).send().await.expect("put k3");
    let under_k3 = TokenCipher::from_ring_secret(&SecretString::from(three)).expect("three").encrypt(
        "A",
        "P",
        &page_token,
    );
    let e = warm.open("A", "P", &under_k3).await.expect_err("rate-limited");
    assert!(e.to_string().contains("\"k3\""), "{e}");

    // With no interval, the same instance picks k3 up.
    let eager = TokenCipher::from_ring_secret(&s.get(SecretKind::TokenKeys).expect("ring"))
        .expect("parse")
        .with_reload(s.ring_source().expect("source"), Duration::ZERO);
    assert_eq!(eager.open("A", "P", &under_k3).await.expect("k3").expose_secret(), "EAAG-page");
}
