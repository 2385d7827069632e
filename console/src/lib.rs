//! The web console (PRODUCT.md, "Console"): plain HTML, CSS and ES-module JavaScript under
//! `web/`, embedded at compile time (see `build.rs`), served by the local stack at `/` and,
//! on AWS, by the `console` function on the same HTTP API as the admin API (`docs/console.md`).
//!
//! Routes: `/` (the page), `/assets/<version>/<path>` (scripts and styles; the version is the
//! build's content hash, so those answers are cached for a year), and `/console-config.json`
//! (how to sign in: the local stack's development form, or OIDC with PKCE).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

/// One embedded file.
pub struct Asset {
    /// Relative to `web/`, with `/` separators.
    pub path: &'static str,
    pub body: &'static [u8],
    pub gzip: &'static [u8],
    /// A quoted content hash.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The embedded file at `path` (relative to `web/`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// How the console signs people in.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Auth {
    /// The local stack's form (*Email*, *Cửa hàng*, *Vai trò*): `POST /_local/token` mints a
    /// token for the local authorizer.
    Dev,
    /// Authorization code with PKCE against the deployment's identity provider.
    Oidc { client_id: String, authorization_endpoint: String, token_endpoint: String, scope: String },
}

/// What `/console-config.json` tells the browser, plus where the files come from.
#[derive(Debug, Clone, Serialize)]
pub struct ConsoleConfig {
    pub auth: Auth,
    /// The Meta simulator's customer view, when the local stack runs one.
    pub simulator_url: Option<String>,
    /// Shop time for dates (*Kết nối gần nhất*).
    pub time_zone: String,
    /// Serve `web/` from this directory instead of the embedded copy (local development:
    /// edits show on reload without a rebuild).
    #[serde(skip)]
    pub dir: Option<PathBuf>,
}

impl ConsoleConfig {
    pub fn dev() -> ConsoleConfig {
        ConsoleConfig { auth: Auth::Dev, simulator_url: None, time_zone: DEFAULT_TIME_ZONE.into(), dir: None }
    }

    /// The origin (scheme://host[:port]) of the token endpoint, which the page must reach.
    fn token_origin(&self) -> Option<String> {
        match &self.auth {
            Auth::Dev => None,
            Auth::Oidc { token_endpoint, .. } => origin(token_endpoint),
        }
    }

    /// The Content-Security-Policy of every answer: only this origin's scripts and styles, no
    /// inline code, pictures from Meta's CDN (attachments), calls to this API and the token
    /// endpoint only, never framed.
    pub fn csp(&self) -> String {
        let connect = match self.token_origin() {
            Some(o) => format!("'self' {o}"),
            None => "'self'".into(),
        };
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
             connect-src {connect}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    }
}

pub const DEFAULT_TIME_ZONE: &str = "Asia/Ho_Chi_Minh";

fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    let safe = host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    (matches!(scheme, "https" | "http") && safe).then(|| format!("{scheme}://{host}"))
}

struct Served {
    config: ConsoleConfig,
    csp: HeaderValue,
    config_json: String,
}

/// `/`, `/assets/{version}/{*path}` and `/console-config.json`.
pub fn router(config: ConsoleConfig) -> Router {
    let csp = HeaderValue::from_str(&config.csp())
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let config_json = serde_json::to_string(&config).unwrap_or_else(|_| "{}".into());
    let served = Arc::new(Served { config, csp, config_json });
    Router::new()
        .route("/", get(index))
        .route("/assets/{version}/{*path}", get(file))
        .route("/console-config.json", get(config_answer))
        .with_state(served)
}

const NO_CACHE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

async fn index(State(s): State<Arc<Served>>, headers: HeaderMap) -> Response {
    serve(&s, "index.html", NO_CACHE, &headers)
}

async fn file(
    State(s): State<Arc<Served>>,
    Path((version, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    // An old page asking for an older version gets today's file, not cached for long.
    let cache = if version == VERSION && s.config.dir.is_none() { IMMUTABLE } else { NO_CACHE };
    serve(&s, &path, cache, &headers)
}

async fn config_answer(State(s): State<Arc<Served>>) -> Response {
    let mut r = (StatusCode::OK, s.config_json.clone()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    r
}

/// The content type for a file name.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "webmanifest" => "application/json",
        _ => "application/octet-stream",
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| e.trim().split(';').next().is_some_and(|n| n.trim().eq_ignore_ascii_case("gzip")))
}

fn serve(s: &Served, path: &str, cache: &'static str, headers: &HeaderMap) -> Response {
    if let Some(dir) = &s.config.dir {
        return serve_from_disk(s, dir, path);
    }
    let Some(a) = asset(path) else { return not_found(s) };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(headers) {
        let mut r = (StatusCode::OK, a.gzip).into_response();
        r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        (StatusCode::OK, a.body).into_response()
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(header::ETAG, HeaderValue::from_static(a.etag));
    security_headers(s, h);
    r
}

/// Development: files read from `dir` at each request (path segments checked: no `..`).
fn serve_from_disk(s: &Served, dir: &std::path::Path, path: &str) -> Response {
    if path.split('/').any(|seg| seg.is_empty() || seg == ".." || seg.starts_with('.')) {
        return not_found(s);
    }
    let Ok(mut bytes) = std::fs::read(dir.join(path)) else { return not_found(s) };
    if path == "index.html" {
        bytes = String::from_utf8_lossy(&bytes).replace("__V__", "dev").into_bytes();
    }
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    security_headers(s, h);
    r
}

fn security_headers(s: &Served, h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, s.csp.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

fn not_found(s: &Served) -> Response {
    let mut r = (StatusCode::NOT_FOUND, "not found").into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    security_headers(s, h);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_entry_script_are_embedded_with_the_version() {
        let index = asset("index.html").expect("index.html embedded");
        let text = std::str::from_utf8(index.body).expect("utf-8");
        assert!(text.contains(&format!("/assets/{VERSION}/")), "index.html refers to versioned assets");
        assert!(!text.contains("__V__"));
        assert!(asset("js/app.js").is_some());
        assert!(index.gzip.len() < index.body.len());
    }

    #[test]
    fn csp_allows_the_token_endpoint_origin_only() {
        let mut c = ConsoleConfig::dev();
        assert!(c.csp().contains("connect-src 'self';"));
        c.auth = Auth::Oidc {
            client_id: "c".into(),
            authorization_endpoint: "https://id.example.com/oauth2/authorize".into(),
            token_endpoint: "https://id.example.com/oauth2/token".into(),
            scope: "openid email".into(),
        };
        assert!(c.csp().contains("connect-src 'self' https://id.example.com;"));
        assert!(!c.csp().contains("unsafe-inline"));
    }

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br, gzip;q=0.8"));
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzipx"));
        assert!(!accepts_gzip(&h));
    }
}
