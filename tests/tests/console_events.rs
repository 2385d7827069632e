//! The console's function (functions/console) driven with the sample API Gateway events of
//! events/: the page at `/` and a versioned asset, with the headers the deployment relies on
//! (docs/console.md, "Deployment"): content type, gzip, CSP, cache.

use axum::body::Body;
use axum::http::HeaderMap;
use tower::ServiceExt;

const INDEX: &str = include_str!("../../events/console-index.json");
const ASSET: &str = include_str!("../../events/console-asset.json");
/// The version segment of the asset sample: not this build's (the build's changes with every
/// edit of the console), so it plays a page loaded before a deployment.
const SAMPLE_VERSION: &str = "000000000000";

fn app() -> axum::Router {
    let env = [
        ("OIDC_CLIENT_ID", "console-client"),
        ("OIDC_AUTHORIZATION_ENDPOINT", "https://id.example.com/oauth2/authorize"),
        ("OIDC_TOKEN_ENDPOINT", "https://id.example.com/oauth2/token"),
        ("OIDC_SCOPE", "openid email"),
    ];
    let config = console_function::config_from(|name| {
        env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    })
    .expect("config");
    console_function::app(config)
}

async fn call(event_json: &str) -> (u16, HeaderMap, Vec<u8>) {
    let req = lambda_http::request::from_str(event_json).expect("API Gateway event");
    let resp = app().oneshot(req.map(|b| Body::from(b.to_vec()))).await.expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 22).await.expect("body");
    (status, headers, body.to_vec())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The policy every answer carries: only this origin's code, the identity provider's token
/// endpoint for the PKCE exchange, never framed.
fn assert_csp(h: &HeaderMap) {
    let csp = header(h, "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("connect-src 'self' https://id.example.com;"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(header(h, "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn the_page_sample_gets_the_page_gzipped_and_revalidated() {
    let (s, h, body) = call(INDEX).await;
    assert_eq!(s, 200);
    assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
    // The browser accepts gzip: the embedded compressed copy (lambda_http sends a body with a
    // content-encoding base64-encoded, as API Gateway requires for binary answers).
    assert_eq!(header(&h, "content-encoding"), "gzip");
    assert_eq!(body.get(..2), Some(&[0x1f, 0x8b][..]), "a gzip stream");
    // The page names this build's assets, so it is checked again on every load.
    assert_eq!(header(&h, "cache-control"), "no-cache");
    assert!(header(&h, "etag").starts_with('"'));
    assert_csp(&h);

    // Without gzip: the page itself, pointing at this build's versioned assets.
    let plain = INDEX.replace("\"accept-encoding\": \"gzip, deflate, br\",", "");
    let (s, h, body) = call(&plain).await;
    assert_eq!((s, header(&h, "content-encoding")), (200, ""));
    let html = String::from_utf8(body).expect("utf-8");
    assert!(html.contains(&format!("/assets/{}/", console::VERSION)), "{html}");
}

#[tokio::test]
async fn the_asset_sample_is_cached_for_a_year_only_under_this_builds_version() {
    // As shipped: a version that is not this build's (a page from before a deployment) gets
    // today's file, not cached for long.
    let (s, h, _) = call(ASSET).await;
    assert_eq!(s, 200);
    assert_eq!(header(&h, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header(&h, "cache-control"), "no-cache");
    assert_csp(&h);

    // This build's version: immutable for a year, gzipped, with its ETag.
    let current = ASSET.replace(SAMPLE_VERSION, console::VERSION);
    let (s, h, body) = call(&current).await;
    assert_eq!(s, 200);
    assert_eq!(header(&h, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header(&h, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(header(&h, "content-encoding"), "gzip");
    assert_eq!(header(&h, "vary"), "Accept-Encoding");
    assert!(!body.is_empty());
    assert_csp(&h);

    // Revalidation with its ETag: 304, no body.
    let etag = header(&h, "etag").to_string();
    let conditional = current
        .replace("\"accept\": \"*/*\",", &format!("\"accept\": \"*/*\", \"if-none-match\": {etag:?},"));
    let (s, _, body) = call(&conditional).await;
    assert_eq!((s, body.len()), (304, 0));

    // A file the console does not have, or a path outside it: 404.
    let missing = current.replace("js/app.js", "js/nothing.js");
    assert_eq!(call(&missing).await.0, 404);
    let outside = current.replace("js/app.js", "../Cargo.toml");
    assert_eq!(call(&outside).await.0, 404);
}

#[tokio::test]
async fn the_sign_in_settings_are_public_and_hold_no_secret() {
    let cfg = INDEX
        .replace("\"rawPath\": \"/\"", "\"rawPath\": \"/console-config.json\"")
        .replace("\"path\": \"/\"", "\"path\": \"/console-config.json\"");
    let (s, h, body) = call(&cfg).await;
    assert_eq!(s, 200);
    assert_eq!(header(&h, "content-type"), "application/json");
    assert_eq!(header(&h, "cache-control"), "no-cache");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["auth"]["mode"], "oidc");
    assert_eq!(v["auth"]["client_id"], "console-client");
    assert_eq!(v["auth"]["token_endpoint"], "https://id.example.com/oauth2/token");
    assert!(v["auth"].get("client_secret").is_none());
}
