//! The console's Lambda function: the `console` crate's router (the page at `/`, versioned
//! assets under `/assets/`, `/console-config.json`), served on the same HTTP API as the admin
//! API, so the console, the API, the Facebook Login cookie and the OAuth redirect share one
//! origin (`docs/console.md`, "Deployment").
//!
//! Its only settings say how the browser signs in: OIDC authorization code with PKCE, a
//! public client (no client secret exists or is needed). The API's base is the page's own
//! origin, so it is not configured.

use console::{Auth, ConsoleConfig, DEFAULT_TIME_ZONE};

/// A setting missing or unusable: the function refuses to start (a console that cannot sign
/// anyone in is a deployment error, better seen at once in the logs and the error alarm).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {0} must be an https:// URL")]
    NotHttps(&'static str),
}

/// The console's settings from environment-like `lookup`: `OIDC_CLIENT_ID`,
/// `OIDC_AUTHORIZATION_ENDPOINT`, `OIDC_TOKEN_ENDPOINT` (both https), `OIDC_SCOPE`.
pub fn config_from(lookup: impl Fn(&str) -> Option<String>) -> Result<ConsoleConfig, ConfigError> {
    let get = |name: &'static str| {
        lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name))
    };
    let https = |name: &'static str| {
        let v = get(name)?;
        if v.starts_with("https://") && v.len() > "https://".len() {
            Ok(v)
        } else {
            Err(ConfigError::NotHttps(name))
        }
    };
    Ok(ConsoleConfig {
        auth: Auth::Oidc {
            client_id: get("OIDC_CLIENT_ID")?,
            authorization_endpoint: https("OIDC_AUTHORIZATION_ENDPOINT")?,
            token_endpoint: https("OIDC_TOKEN_ENDPOINT")?,
            scope: get("OIDC_SCOPE")?,
        },
        simulator_url: None,
        time_zone: DEFAULT_TIME_ZONE.into(),
        dir: None,
    })
}

/// The settings from the process environment.
pub fn config_from_env() -> Result<ConsoleConfig, ConfigError> {
    config_from(|name| std::env::var(name).ok())
}

/// What the function serves: the console's router, nothing else (every other path is 404).
pub fn app(config: ConsoleConfig) -> axum::Router {
    console::router(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    const FULL: [(&str, &str); 4] = [
        ("OIDC_CLIENT_ID", "console-client"),
        ("OIDC_AUTHORIZATION_ENDPOINT", "https://id.example.com/oauth2/authorize"),
        ("OIDC_TOKEN_ENDPOINT", "https://id.example.com/oauth2/token"),
        ("OIDC_SCOPE", "openid email"),
    ];

    #[test]
    fn oidc_settings_come_from_the_environment() {
        let c = config_from(env(&FULL)).expect("config");
        let Auth::Oidc { client_id, token_endpoint, scope, .. } = &c.auth else { panic!("oidc expected") };
        assert_eq!((client_id.as_str(), scope.as_str()), ("console-client", "openid email"));
        assert_eq!(token_endpoint, "https://id.example.com/oauth2/token");
        assert!(c.csp().contains("connect-src 'self' https://id.example.com;"));
    }

    #[test]
    fn a_missing_or_plain_http_setting_stops_the_start() {
        for missing in FULL.map(|(k, _)| k) {
            let rest: Vec<_> = FULL.iter().copied().filter(|(k, _)| *k != missing).collect();
            assert!(matches!(config_from(env(&rest)), Err(ConfigError::Missing(m)) if m == missing));
        }
        let mut http = FULL;
        http[2] = ("OIDC_TOKEN_ENDPOINT", "http://id.example.com/oauth2/token");
        assert!(matches!(config_from(env(&http)), Err(ConfigError::NotHttps("OIDC_TOKEN_ENDPOINT"))));
    }
}
