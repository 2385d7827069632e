//! A Lambda's start-up with the secrets it is given by ARN (on moto's Secrets Manager), as the
//! template configures each function. One test in this binary: it sets process environment
//! variables, which tests running in parallel would share.

use adapters::secrets::{SecretError, SecretKind};
use adapters::wiring::Lambda;
use integration_tests::flow::captured;
use integration_tests::{moto_config, moto_url, unique};
use secrecy::SecretString;

async fn create(c: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let out =
        c.create_secret().name(unique("fb-inbox-wiring")).secret_string(value).send().await.expect("create");
    out.arn.expect("arn")
}

fn set(name: &str, value: &str) {
    // SAFETY: the only test of this binary; no other thread reads the environment meanwhile.
    unsafe { std::env::set_var(name, value) }
}

fn unset(name: &str) {
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var(name) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_starts_with_only_the_secrets_its_environment_names() {
    captured();
    let c = aws_sdk_secretsmanager::Client::new(&moto_config().await);
    const APP: &str = "wiring-app-secret-value";
    const VERIFY: &str = "wiring-verify-token-value";
    let key = "c2VjcmV0cy13aXJpbmctdGVzdC1rZXktMzItYnl0ZXM=";
    let ring = format!(r#"{{"current":"k7","keys":{{"k7":"{key}"}}}}"#);
    let (app, verify, keys) = (create(&c, APP).await, create(&c, VERIFY).await, create(&c, &ring).await);
    for (k, v) in [
        ("AWS_ENDPOINT_URL", moto_url()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("FB_APP_ID", "1234567890".into()),
        ("FB_GRAPH_URL", "http://127.0.0.1:9/v25.0".into()),
        ("OAUTH_REDIRECT_URI", "https://x.example/oauth/facebook/callback".into()),
        ("APP_BASE_URL", "https://x.example/".into()),
    ] {
        set(k, &v);
    }
    for k in SecretKind::ALL {
        unset(k.arn_var());
        unset(k.value_var());
    }

    // The admin API's and the worker's share: the key ring only.
    set("TOKEN_KEYS_ARN", &keys);
    let admin = Lambda::start().await;
    let fb = admin.facebook_interactive().expect("facebook without the app secret");
    assert!(fb.cipher.encrypt("A", "P", &SecretString::from("EAAG".to_string())).starts_with("v2:k7:"));
    let no_app = fb.graph.debug_token(&SecretString::from("EAAG".to_string())).await.expect_err("no secret");
    assert!(no_app.message.contains("APP_SECRET_ARN"), "{}", no_app.message);
    assert!(matches!(admin.secret(SecretKind::AppSecret), Err(SecretError::Missing(SecretKind::AppSecret))));

    // The webhook's share: the app secret and the verify token, no key ring.
    unset("TOKEN_KEYS_ARN");
    set("APP_SECRET_ARN", &app);
    set("VERIFY_TOKEN_ARN", &verify);
    let hook = Lambda::start().await;
    let config = webhook::WebhookConfig::new(
        &hook.secret(SecretKind::AppSecret).expect("app"),
        hook.secret(SecretKind::VerifyToken).expect("verify"),
    )
    .expect("webhook config");
    assert!(!config.app_secrets.is_empty());
    let e = hook.facebook().map(|_| ()).expect_err("no key ring given");
    assert!(e.to_string().contains("TOKEN_KEYS_ARN"), "{e}");

    // A secret the function is given but cannot read: it does not start, and says which.
    let gone = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fb-inbox-gone-AbCdEf";
    set("APP_SECRET_ARN", gone);
    set("FB_APP_SECRET", "must-not-be-used");
    let broken = Lambda::start().await;
    let e = broken.secret(SecretKind::AppSecret).expect_err("unreadable").to_string();
    assert!(e.contains("the Meta app secret") && e.contains(gone), "{e}");

    let logs = captured().lock().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
    assert!(logs.contains("secrets read"), "the init cost is logged");
    for secret in [APP, VERIFY, key, "must-not-be-used"] {
        assert!(!logs.contains(secret), "a secret value reached a log line");
    }
}
