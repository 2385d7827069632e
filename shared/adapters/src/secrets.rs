//! The three secrets, read from AWS Secrets Manager once at start-up and kept in memory
//! (docs/operations.md, "Secrets and key rotation").
//!
//! A function's environment names each secret it may read by ARN (`APP_SECRET_ARN`,
//! `VERIFY_TOKEN_ARN`, `TOKEN_KEYS_ARN`), never its value, and its IAM policy lets it read
//! exactly those: a function is given only the secrets it uses. When an ARN variable is
//! absent, the value variable (`FB_APP_SECRET`, `FB_VERIFY_TOKEN`, `TOKEN_KEY`) is read
//! instead, so the local stack, the tests and dev runs work without Secrets Manager;
//! production sets only ARNs. Errors name the secret's purpose and ARN, never its value.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::RingSource;

/// Which secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// Meta's app secret (a comma-separated list during a rotation, the current one first):
    /// webhook signatures, `signed_request`, the OAuth code exchange and `debug_token`.
    AppSecret,
    /// The webhook's verify token (Meta's subscription handshake).
    VerifyToken,
    /// The Page-token key ring (`crate::crypto`).
    TokenKeys,
}

impl SecretKind {
    pub const ALL: [SecretKind; 3] = [SecretKind::AppSecret, SecretKind::VerifyToken, SecretKind::TokenKeys];

    /// The variable naming the secret's ARN (production).
    pub fn arn_var(self) -> &'static str {
        match self {
            SecretKind::AppSecret => "APP_SECRET_ARN",
            SecretKind::VerifyToken => "VERIFY_TOKEN_ARN",
            SecretKind::TokenKeys => "TOKEN_KEYS_ARN",
        }
    }

    /// The variable holding the value itself (local runs and tests only).
    pub fn value_var(self) -> &'static str {
        match self {
            SecretKind::AppSecret => "FB_APP_SECRET",
            SecretKind::VerifyToken => "FB_VERIFY_TOKEN",
            SecretKind::TokenKeys => "TOKEN_KEY",
        }
    }

    /// What the secret is for, as errors name it.
    pub fn purpose(self) -> &'static str {
        match self {
            SecretKind::AppSecret => "the Meta app secret",
            SecretKind::VerifyToken => "the webhook verify token",
            SecretKind::TokenKeys => "the Page-token key ring",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretError {
    #[error("{} is not configured: set {} (production) or {} (local runs)", .0.purpose(), .0.arn_var(), .0.value_var())]
    Missing(SecretKind),
    #[error("reading {} from Secrets Manager ({}={arn}) failed: {cause}", .kind.purpose(), .kind.arn_var())]
    Fetch { kind: SecretKind, arn: String, cause: String },
    #[error("{} in Secrets Manager ({}={arn}) has no text: a SecretString is expected", .kind.purpose(), .kind.arn_var())]
    NotText { kind: SecretKind, arn: String },
}

/// Reads secrets from Secrets Manager.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> SecretsManager {
        SecretsManager { client }
    }

    /// The secret's current text (`AWSCURRENT`).
    pub async fn fetch(&self, kind: SecretKind, arn: &str) -> Result<SecretString, SecretError> {
        let out =
            self.client.get_secret_value().secret_id(arn).send().await.map_err(|e| SecretError::Fetch {
                kind,
                arn: arn.to_string(),
                // The service's error names the secret and the reason; a failed read carries no value.
                cause: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
            })?;
        match out.secret_string {
            Some(s) if !s.trim().is_empty() => Ok(SecretString::from(s)),
            _ => Err(SecretError::NotText { kind, arn: arn.to_string() }),
        }
    }
}

/// The secrets of one function, read once at start-up: every secret whose ARN the environment
/// names (that list is the function's share), else the value variables.
pub struct LoadedSecrets {
    values: HashMap<SecretKind, Result<SecretString, SecretError>>,
    manager: SecretsManager,
    ring_arn: Option<String>,
}

impl std::fmt::Debug for LoadedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<_> = self.values.keys().map(|k| k.arn_var()).collect();
        kinds.sort_unstable();
        f.debug_struct("LoadedSecrets").field("loaded", &kinds).finish_non_exhaustive()
    }
}

impl LoadedSecrets {
    /// Reads, concurrently, every secret whose ARN variable `env` has; takes the value
    /// variable of the others. A failed read is kept and reported when the secret is asked for.
    pub async fn load(
        manager: SecretsManager,
        env: impl Fn(&'static str) -> Option<String>,
    ) -> LoadedSecrets {
        let started = Instant::now();
        let arns: Vec<(SecretKind, String)> = SecretKind::ALL
            .into_iter()
            .filter_map(|k| env(k.arn_var()).map(|a| (k, a.trim().to_string())))
            .filter(|(_, a)| !a.is_empty())
            .collect();
        let fetched =
            futures::future::join_all(arns.iter().map(|(kind, arn)| manager.fetch(*kind, arn))).await;
        let mut values: HashMap<_, _> = arns.iter().map(|(k, _)| *k).zip(fetched).collect();
        if !arns.is_empty() {
            let failed = values.values().filter(|r| r.is_err()).count();
            tracing::info!(
                read = arns.len(),
                failed,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "secrets read"
            );
        }
        for kind in SecretKind::ALL {
            if let (false, Some(v)) = (values.contains_key(&kind), env(kind.value_var())) {
                values.insert(kind, Ok(SecretString::from(v)));
            }
        }
        let ring_arn = arns.into_iter().find(|(k, _)| *k == SecretKind::TokenKeys).map(|(_, a)| a);
        LoadedSecrets { values, manager, ring_arn }
    }

    /// The secret; [`SecretError::Missing`] when the function was given neither variable.
    pub fn get(&self, kind: SecretKind) -> Result<SecretString, SecretError> {
        self.optional(kind)?.ok_or(SecretError::Missing(kind))
    }

    /// The secret, or `None` when the function was not given it (least privilege: e.g. the
    /// admin API has no app secret); a failed read is an error, not `None`.
    pub fn optional(&self, kind: SecretKind) -> Result<Option<SecretString>, SecretError> {
        match self.values.get(&kind) {
            None => Ok(None),
            Some(Ok(v)) if v.expose_secret().trim().is_empty() => Err(SecretError::Missing(kind)),
            Some(Ok(v)) => Ok(Some(v.clone())),
            Some(Err(e)) => Err(e.clone()),
        }
    }

    /// Where the key ring is read again when a token names a key added since start-up: only
    /// for a ring from Secrets Manager (an environment value cannot change in a running
    /// function).
    pub fn ring_source(&self) -> Option<Arc<dyn RingSource>> {
        let arn = self.ring_arn.clone()?;
        Some(Arc::new(SecretRing { manager: self.manager.clone(), arn }))
    }
}

/// The key ring's secret in Secrets Manager, read again on demand.
struct SecretRing {
    manager: SecretsManager,
    arn: String,
}

#[async_trait]
impl RingSource for SecretRing {
    async fn load(&self) -> Result<SecretString, String> {
        self.manager.fetch(SecretKind::TokenKeys, &self.arn).await.map_err(|e| e.to_string())
    }
}
