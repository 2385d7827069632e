//! What every Lambda main does before its first request, in one place: logging, the AWS SDK
//! configuration, the function's secrets (read once, `crate::secrets`), and the adapters built
//! from the environment (`TABLE_NAME`, `QUEUE_URL`, the Graph and Facebook Login settings). A
//! main picks the parts its function uses and hands them to the function's state, which names
//! only the ports it needs.

use std::sync::Arc;

use secrecy::SecretString;

use crate::config::{self, ConfigError};
use crate::crypto::{DEFAULT_RELOAD_INTERVAL, TokenCipher};
use crate::dynamo::DynamoStore;
use crate::facebook::Facebook;
use crate::graph::{GraphSetupError, HttpGraph};
use crate::retry::RetryPolicy;
use crate::secrets::{LoadedSecrets, SecretError, SecretKind, SecretsManager};
use crate::sqs::SqsQueue;
use crate::{Stores, telemetry};

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Graph(#[from] GraphSetupError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// The environment of a Lambda function at start-up.
pub struct Lambda {
    aws: aws_config::SdkConfig,
    secrets: LoadedSecrets,
}

impl Lambda {
    /// Installs logging, loads the AWS SDK configuration (region and credentials from the
    /// Lambda environment; `AWS_ENDPOINT_URL` when set) and reads the secrets whose ARNs the
    /// environment names (one concurrent round of `GetSecretValue`, at init only).
    pub async fn start() -> Lambda {
        telemetry::init();
        let aws = config::aws_sdk_config().await;
        let manager = SecretsManager::new(aws_sdk_secretsmanager::Client::new(&aws));
        let secrets = LoadedSecrets::load(manager, config::optional).await;
        Lambda { aws, secrets }
    }

    /// One of the function's secrets, as read at start-up.
    pub fn secret(&self, kind: SecretKind) -> Result<SecretString, SecretError> {
        self.secrets.get(kind)
    }

    /// The DynamoDB table named by `TABLE_NAME`.
    pub fn store(&self) -> Result<Arc<DynamoStore>, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        Ok(Arc::new(DynamoStore::new(config::dynamodb_client(&self.aws), table)))
    }

    /// Every store port, on the table named by `TABLE_NAME`.
    pub fn stores(&self) -> Result<Stores, ConfigError> {
        Ok(Stores::from_one(self.store()?))
    }

    /// The event queue at `QUEUE_URL`.
    pub fn queue(&self) -> Result<Arc<SqsQueue>, ConfigError> {
        let url = config::required("QUEUE_URL")?;
        Ok(Arc::new(SqsQueue::new(config::sqs_client(&self.aws), url, None)))
    }

    /// The Graph client (with the app secret only if the function was given it), the token
    /// cipher over the key ring, and the Facebook Login settings (`FB_*`,
    /// `OAUTH_REDIRECT_URI`, `APP_BASE_URL`).
    /// Its Graph calls use [`RetryPolicy::GRAPH`]: for functions no person waits on.
    pub fn facebook(&self) -> Result<Arc<Facebook>, WiringError> {
        self.facebook_with(RetryPolicy::GRAPH)
    }

    /// [`Lambda::facebook`] for functions a person waits on (the admin API, Facebook Login's
    /// return): every Graph call fits [`RetryPolicy::INTERACTIVE`]'s budget.
    pub fn facebook_interactive(&self) -> Result<Arc<Facebook>, WiringError> {
        self.facebook_with(RetryPolicy::INTERACTIVE)
    }

    fn facebook_with(&self, policy: RetryPolicy) -> Result<Arc<Facebook>, WiringError> {
        let app_secrets = self.secrets.optional(SecretKind::AppSecret)?;
        let graph = Arc::new(HttpGraph::from_env_with(policy, app_secrets.as_ref())?);
        let ring = self.secrets.get(SecretKind::TokenKeys)?;
        let mut cipher = TokenCipher::from_ring_secret(&ring)
            .map_err(|e| ConfigError::Invalid { name: "TOKEN_KEYS_ARN", why: e.to_string() })?;
        if let Some(source) = self.secrets.ring_source() {
            cipher = cipher.with_reload(source, DEFAULT_RELOAD_INTERVAL);
        }
        Ok(Arc::new(Facebook::from_env(graph, cipher)?))
    }
}
