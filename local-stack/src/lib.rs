//! The local stack: every function's routes on one loopback port, the JWT authorizer played
//! with HS256 tokens, and an in-process poller that drives the worker the way Lambda's SQS
//! event source does (batches of up to ten, visibility timeout, partial batch failures, the
//! dead-letter queue after the maximum receives).
//!
//! By default the store and the queue are the in-memory twins; with `AWS_ENDPOINT_URL` set
//! they are DynamoDB and SQS there (moto server, or real AWS), created if missing.

pub mod auth;
mod console;
pub mod simulator;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use adapters::memory::{MemoryQueue, MemoryStore};
use adapters::{Queues, Stores};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use domain::access::Identity;
use domain::model::{ChatMode, PageRecord, PageRoute, PageStatus};
use domain::ports::QueueConsumer;
use domain::signature::AppSecrets;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

/// Settings of the local stack, from the environment with development defaults.
#[derive(Clone)]
pub struct LocalConfig {
    pub port: u16,
    pub jwt_secret: SecretString,
    pub app_secrets: SecretString,
    pub verify_token: SecretString,
    pub max_body_bytes: usize,
    /// `AWS_ENDPOINT_URL`: use DynamoDB and SQS there instead of the in-memory twins.
    pub aws_endpoint: Option<String>,
    pub table_name: String,
    pub queue_name: String,
    pub visibility: Duration,
    pub max_receives: u32,
    pub pollers: usize,
    /// `FB_GRAPH_URL` (default Meta's; tests point it at a fake Graph API).
    pub graph_url: String,
    pub app_id: String,
    pub dialog_url: String,
    /// Default: this stack's own callback URL.
    pub redirect_uri: Option<String>,
    /// Default: this stack's root URL.
    pub app_base_url: Option<String>,
    pub token_key: SecretString,
    pub graph_policy: adapters::graph::RetryPolicy,
    /// Facebook Login's return ends within this (`oauth_callback::DEADLINE` by default).
    pub callback_deadline: Duration,
    /// `CONSOLE_DIR`: serve the console's files from this directory instead of the copy built
    /// into the binary (edit, reload, no rebuild).
    pub console_dir: Option<std::path::PathBuf>,
    /// Play Meta with the built-in simulator under `/_sim` (`simulator.rs`); from the
    /// environment: on when `FB_APP_ID`, `FB_GRAPH_URL` and `FB_DIALOG_URL` are all unset.
    pub simulator: bool,
}

impl LocalConfig {
    pub fn from_env() -> Result<LocalConfig, adapters::config::ConfigError> {
        use adapters::config::{optional, parse_or};
        let secret = |name: &'static str, dev: &str| {
            SecretString::from(optional(name).unwrap_or_else(|| {
                warn!("{name} not set: using the local development default");
                dev.to_string()
            }))
        };
        Ok(LocalConfig {
            port: parse_or("PORT", 3000)?,
            jwt_secret: secret("LOCAL_JWT_SECRET", "local-jwt-secret"),
            app_secrets: secret("FB_APP_SECRET", "test-app-secret"),
            verify_token: secret("FB_VERIFY_TOKEN", "local-verify-token"),
            max_body_bytes: parse_or("WEBHOOK_MAX_BODY_BYTES", 5 * 1024 * 1024)?,
            aws_endpoint: optional("AWS_ENDPOINT_URL"),
            table_name: optional("TABLE_NAME").unwrap_or_else(|| "fb-inbox-local".into()),
            queue_name: optional("QUEUE_NAME").unwrap_or_else(|| "fb-inbox-events.fifo".into()),
            visibility: Duration::from_secs(parse_or("LOCAL_VISIBILITY_SECONDS", 30)?),
            max_receives: parse_or("LOCAL_MAX_RECEIVES", 5)?,
            pollers: parse_or("LOCAL_POLLERS", 2)?,
            graph_url: optional("FB_GRAPH_URL")
                .unwrap_or_else(|| adapters::graph::DEFAULT_GRAPH_URL.to_string()),
            app_id: optional("FB_APP_ID").unwrap_or_else(|| "local-app-id".into()),
            dialog_url: optional("FB_DIALOG_URL")
                .unwrap_or_else(|| adapters::facebook::DEFAULT_DIALOG_URL.into()),
            redirect_uri: optional("OAUTH_REDIRECT_URI"),
            app_base_url: optional("APP_BASE_URL"),
            // 32 bytes, base64: a development key, announced as such.
            token_key: secret("TOKEN_KEY", "bG9jYWwtZGV2ZWxvcG1lbnQta2V5LW5vdC1zZWNyZXQ="),
            graph_policy: adapters::graph::RetryPolicy::default(),
            callback_deadline: oauth_callback::DEADLINE,
            console_dir: optional("CONSOLE_DIR").map(std::path::PathBuf::from),
            simulator: simulator::wanted_by_env(),
        })
    }
}

/// A running local stack.
pub struct RunningStack {
    pub addr: SocketAddr,
    pub stores: Stores,
    pub queues: Queues,
    /// The in-memory queue, when that is the backend (tests inject failures through it).
    pub memory_queue: Option<Arc<MemoryQueue>>,
    pub worker: Arc<assignment::Worker>,
    /// The Meta simulator, when it plays Meta for this stack.
    pub simulator: Option<meta_sim::Simulator>,
    /// Its customer view, when it runs (`http://ADDR/_sim/customer`).
    pub simulator_url: Option<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningStack {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for RunningStack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Builds the backends the configuration names.
pub async fn backends(cfg: &LocalConfig) -> anyhow::Result<(Stores, Queues, Option<Arc<MemoryQueue>>)> {
    match &cfg.aws_endpoint {
        None => {
            let q = Arc::new(MemoryQueue::new(cfg.visibility, cfg.max_receives));
            Ok((Stores::from_one(Arc::new(MemoryStore::new())), Queues::from_one(q.clone()), Some(q)))
        }
        Some(endpoint) => {
            info!(endpoint = %endpoint, table = %cfg.table_name, queue = %cfg.queue_name, "using DynamoDB and SQS");
            let aws = adapters::config::aws_sdk_config().await;
            let store =
                adapters::dynamo::DynamoStore::new(adapters::config::dynamodb_client(&aws), &cfg.table_name);
            store.create_table_if_missing().await?;
            let visibility = u32::try_from(cfg.visibility.as_secs()).unwrap_or(30);
            let queue = adapters::sqs::SqsQueue::create_if_missing(
                adapters::config::sqs_client(&aws),
                &cfg.queue_name,
                visibility,
                cfg.max_receives,
            )
            .await?;
            Ok((Stores::from_one(Arc::new(store)), Queues::from_one(Arc::new(queue)), None))
        }
    }
}

/// Starts the stack on 127.0.0.1:`cfg.port` (0 picks a free port).
pub async fn start(cfg: LocalConfig) -> anyhow::Result<RunningStack> {
    let (stores, queues, memory_queue) = backends(&cfg).await?;
    start_with(cfg, stores, queues, memory_queue).await
}

/// Starts the stack on given backends.
pub async fn start_with(
    cfg: LocalConfig,
    stores: Stores,
    queues: Queues,
    memory_queue: Option<Arc<MemoryQueue>>,
) -> anyhow::Result<RunningStack> {
    let webhook = Arc::new(webhook::Webhook {
        config: webhook::WebhookConfig {
            app_secrets: AppSecrets::from_list(&cfg.app_secrets),
            verify_token: cfg.verify_token.clone(),
            max_body_bytes: cfg.max_body_bytes,
        },
        queue: queues.producer.clone(),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cfg.port)).await?;
    let addr = listener.local_addr()?;
    let mut cfg = cfg;
    let sim = simulator::mount(&mut cfg, addr);
    let first_secret =
        cfg.app_secrets.expose_secret().split(',').next().unwrap_or_default().trim().to_string();
    let graph = Arc::new(adapters::graph::HttpGraph::new(
        cfg.graph_url.clone(),
        cfg.app_id.clone(),
        SecretString::from(first_secret),
        cfg.graph_policy,
    )?);
    let facebook = Arc::new(adapters::facebook::Facebook::new(
        graph,
        &cfg.token_key,
        cfg.app_id.clone(),
        cfg.dialog_url.clone(),
        cfg.redirect_uri.clone().unwrap_or_else(|| format!("http://{addr}{}", oauth_callback::PATH)),
        cfg.app_base_url.clone().unwrap_or_else(|| format!("http://{addr}/")),
    )?);
    let api = Arc::new(admin_api::AdminApi {
        stores: stores.clone(),
        facebook: facebook.clone(),
        queue: queues.producer.clone(),
    });
    let callback = Arc::new(oauth_callback::Callback {
        deadline: cfg.callback_deadline,
        ..oauth_callback::Callback::new(&stores, facebook.clone())
    });
    let meta_callbacks = Arc::new(meta_callbacks::MetaCallbacks::new(
        meta_callbacks::CallbacksConfig {
            app_secrets: AppSecrets::from_list(&cfg.app_secrets),
            base_url: Some(format!("http://{addr}")),
        },
        &stores,
    ));
    let jwt = Arc::new(auth::LocalAuthorizer::new(&cfg.jwt_secret));
    let authed = admin_api::router(api.clone())
        .merge(Router::new().route("/_local/pages", post(seed_page)).with_state(api))
        .layer(axum::middleware::from_fn_with_state(jwt, auth::require_jwt));
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(webhook::router(webhook))
        .merge(oauth_callback::router(callback))
        .merge(meta_callbacks::router(meta_callbacks))
        .merge(console::router(
            ::console::ConsoleConfig {
                dir: cfg.console_dir.clone(),
                simulator_url: sim.as_ref().map(|(s, _)| s.customer_url()),
                ..::console::ConsoleConfig::dev()
            },
            &cfg.jwt_secret,
        ))
        .merge(authed);
    let app = simulator::attach(app, &sim);
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!(error = %e, "local stack HTTP server stopped");
        }
    }));
    let worker = Arc::new(assignment::Worker::with_sync(
        stores.clone(),
        assignment::SyncDeps { facebook, queue: queues.producer.clone() },
    ));
    for _ in 0..cfg.pollers.max(1) {
        tasks.push(tokio::spawn(poll(queues.consumer.clone(), worker.clone())));
    }
    info!(%addr, "local stack listening");
    let simulator_url = sim.as_ref().map(|(s, _)| s.customer_url());
    let simulator = sim.map(|(s, _)| s);
    Ok(RunningStack { addr, stores, queues, memory_queue, worker, simulator, simulator_url, tasks })
}

/// Lambda's SQS event source, played locally: receive a batch, hand it to the worker, delete
/// what succeeded, leave the failed records to reappear after the visibility timeout.
async fn poll(consumer: Arc<dyn QueueConsumer>, worker: Arc<assignment::Worker>) {
    loop {
        let msgs = match consumer.receive(10, 1).await {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "queue receive failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if msgs.is_empty() {
            continue;
        }
        let records = msgs
            .iter()
            .map(|m| assignment::Record {
                message_id: m.message_id.clone(),
                group_id: m.group_id.clone(),
                body: m.body.clone(),
            })
            .collect();
        let outcome = worker.handle_batch(records).await;
        for m in &msgs {
            if outcome.failed.contains(&m.message_id) {
                continue;
            }
            if let Err(e) = consumer.delete(&m.receipt_handle).await {
                warn!(error = %e, message_id = %m.message_id, "delete failed; the record will be redelivered");
            }
        }
    }
}

#[derive(Deserialize)]
struct SeedPage {
    page_id: String,
    name: String,
}

/// Local only, until Pages are connected through Facebook Login: connects a Page to the
/// caller's shop in only-me mode, as if its owner had connected it.
async fn seed_page(
    State(api): State<Arc<admin_api::AdminApi>>,
    Extension(id): Extension<Identity>,
    Json(body): Json<SeedPage>,
) -> Result<(StatusCode, Json<serde_json::Value>), admin_api::ApiError> {
    let me = admin_api::caller(&api, &id).await?;
    if !me.role.is_manager() {
        return Err(admin_api::ApiError::Forbidden(
            admin_api::ErrorCode::Forbidden,
            "only owners and admins connect Pages",
        ));
    }
    let now = domain::timefmt::rfc3339_ms(domain::timefmt::now_ms());
    let page = PageRecord {
        page_id: body.page_id.clone(),
        name: body.name,
        status: PageStatus::Connected,
        chat_mode: Some(ChatMode::OnlyMe),
        rule_id: None,
        connected_by: Some(me.email.clone()),
        last_connected_at: Some(now),
        lost_reason: None,
    };
    let route = PageRoute {
        page_id: body.page_id,
        tenant_id: me.tenant_id.to_string(),
        status: PageStatus::Connected,
        chat_mode: ChatMode::OnlyMe,
        rule_id: None,
        connected_by: me.email,
    };
    api.stores.pages.connect_page(&page, &route).await?;
    Ok((StatusCode::CREATED, Json(admin_api::page_json(&page))))
}
