//! What every Lambda main does before its first request, in one place: logging, the AWS SDK
//! configuration, and the adapters built from the environment (`TABLE_NAME`, `QUEUE_URL`, the
//! Graph and Facebook Login settings). A main picks the parts its function uses and hands them
//! to the function's state, which names only the ports it needs.

use std::sync::Arc;

use crate::config::{self, ConfigError};
use crate::dynamo::DynamoStore;
use crate::facebook::Facebook;
use crate::graph::{GraphSetupError, HttpGraph};
use crate::retry::RetryPolicy;
use crate::sqs::SqsQueue;
use crate::{Stores, telemetry};

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Graph(#[from] GraphSetupError),
}

/// The environment of a Lambda function at start-up.
pub struct Lambda {
    aws: aws_config::SdkConfig,
}

impl Lambda {
    /// Installs logging and loads the AWS SDK configuration (region and credentials from the
    /// Lambda environment; `AWS_ENDPOINT_URL` when set).
    pub async fn start() -> Lambda {
        telemetry::init();
        Lambda { aws: config::aws_sdk_config().await }
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

    /// The Graph client and the Facebook Login settings (`FB_*`, `TOKEN_KEY`,
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
        let graph = Arc::new(HttpGraph::from_env_with(policy)?);
        Ok(Arc::new(Facebook::from_env(graph)?))
    }
}
