//! What talking to Facebook needs, built once at start-up: the Graph client, the Page-token
//! cipher, the OAuth state signer and the Login settings.

use std::sync::Arc;

use domain::graph::Graph;
use domain::oauth::StateSigner;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ConfigError, optional, required};
use crate::crypto::TokenCipher;

pub const DEFAULT_DIALOG_URL: &str = "https://www.facebook.com/v25.0/dialog/oauth";

pub struct Facebook {
    pub graph: Arc<dyn Graph>,
    pub cipher: TokenCipher,
    pub states: StateSigner,
    pub app_id: String,
    /// `FB_DIALOG_URL`
    pub dialog_url: String,
    /// `OAUTH_REDIRECT_URI`: must equal the one the code is exchanged with.
    pub redirect_uri: String,
    /// `APP_BASE_URL`: where the callback sends the browser back.
    pub app_base_url: String,
}

impl Facebook {
    /// Builds from explicit settings. `token_keys` is the key ring's secret text: a JSON ring
    /// or one base64 key (the former `TOKEN_KEY`, as the local stack gives it).
    pub fn new(
        graph: Arc<dyn Graph>,
        token_keys: &SecretString,
        app_id: String,
        dialog_url: String,
        redirect_uri: String,
        app_base_url: String,
    ) -> Result<Facebook, ConfigError> {
        let cipher = TokenCipher::from_ring_secret(token_keys)
            .map_err(|e| ConfigError::Invalid { name: "TOKEN_KEY", why: e.to_string() })?;
        Ok(Facebook::with_cipher(graph, cipher, app_id, dialog_url, redirect_uri, app_base_url))
    }

    /// Builds around a cipher made elsewhere (one that re-reads its ring, in a Lambda). The
    /// current token key also keys the state signer, under a purpose label so the two uses
    /// never share a key. A state signed just before a rotation fails its check after it: the
    /// person starts Facebook Login again (a state lives minutes).
    pub fn with_cipher(
        graph: Arc<dyn Graph>,
        cipher: TokenCipher,
        app_id: String,
        dialog_url: String,
        redirect_uri: String,
        app_base_url: String,
    ) -> Facebook {
        let state_key =
            SecretString::from(format!("oauth-state\u{0}{}", cipher.current_key_text().expose_secret()));
        Facebook {
            graph,
            cipher,
            states: StateSigner::new(&state_key),
            app_id,
            dialog_url,
            redirect_uri,
            app_base_url,
        }
    }

    /// `FB_APP_ID`, `FB_DIALOG_URL`, `OAUTH_REDIRECT_URI`, `APP_BASE_URL` from the environment,
    /// around `cipher` (whose ring comes from Secrets Manager, or `TOKEN_KEY` locally).
    pub fn from_env(graph: Arc<dyn Graph>, cipher: TokenCipher) -> Result<Facebook, ConfigError> {
        Ok(Facebook::with_cipher(
            graph,
            cipher,
            required("FB_APP_ID")?,
            optional("FB_DIALOG_URL").unwrap_or_else(|| DEFAULT_DIALOG_URL.to_string()),
            required("OAUTH_REDIRECT_URI")?,
            required("APP_BASE_URL")?,
        ))
    }
}
