//! The world a fault scenario runs in: moto behind a [`FaultProxy`], two shops and three Pages
//! seeded straight into the table (not through the proxy), the fake Graph API for the worker's
//! profile lookups, the webhook on one local stack and the worker on another that can be
//! killed and started again on the same table and queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::dynamo::DynamoStore;
use adapters::sqs::SqsQueue;
use adapters::{Queues, Stores};
use domain::model::{
    ChatMode, Member, Method, OldConversations, PageRecord, PageRoute, PageStatus, Role, Rule,
};
use domain::ports::{ImportedPage, QueueConsumer, QueueError, ReceivedMessage};
use secrecy::SecretString;

use super::proxy::FaultProxy;
use crate::fake_graph::FakeGraph;
use crate::{Backend, FlakyStore, facebook_at, moto_url, stack_config, unique};

/// Shop A: its owner, a Page in only-me mode and a Page shared round robin by three agents.
pub const SHOP_A: &str = "shop-fa";
pub const OWNER_A: &str = "owner@fa.vn";
pub const AGENTS_A: [&str; 3] = ["a0@fa.vn", "a1@fa.vn", "a2@fa.vn"];
pub const RULE_A: &str = "rr-fa";
/// Shop B: its owner and one Page in only-me mode.
pub const SHOP_B: &str = "shop-fb";
pub const OWNER_B: &str = "owner@fb.vn";
/// (Page, shop, round robin?) of the three Pages.
pub const PAGES: [(&str, &str, bool); 3] =
    [("1101", SHOP_A, false), ("1102", SHOP_A, true), ("2201", SHOP_B, false)];
/// Customers write to the Pages; customer c writes to Page `PAGES[c % 3]`.
pub const CUSTOMERS: usize = 20;
/// Short, so records of a killed worker come back quickly.
pub const VISIBILITY_SECS: u32 = 2;
/// Generous: a fault must not push a record into the dead-letter queue by bad luck.
pub const MAX_RECEIVES: u32 = 10;

/// The PSID of customer `c`.
pub fn psid(c: usize) -> String {
    format!("{}", 700_000 + c)
}

/// The Page customer `c` writes to and the shop it belongs to.
pub fn page_of(c: usize) -> (&'static str, &'static str, bool) {
    PAGES[c % PAGES.len()]
}

/// An SDK configuration for `endpoint` with moto's static credentials and the SDK's default
/// retries (as the functions have on AWS).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let creds = aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .load()
        .await
}

/// A queue consumer that never has anything: the webhook's stack must not process records.
struct NoConsumer;

#[async_trait::async_trait]
impl QueueConsumer for NoConsumer {
    async fn receive(&self, _max: usize, wait_seconds: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        tokio::time::sleep(Duration::from_secs(u64::from(wait_seconds.max(1)))).await;
        Ok(Vec::new())
    }
    async fn delete(&self, _receipt_handle: &str) -> Result<(), QueueError> {
        Ok(())
    }
    async fn release(&self, _receipt_handle: &str) -> Result<(), QueueError> {
        Ok(())
    }
    async fn dead_letter_depth(&self) -> Result<usize, QueueError> {
        Ok(0)
    }
}

pub struct World {
    pub proxy: FaultProxy,
    pub fake: FakeGraph,
    /// The table straight on moto (seeding and the checker's scan).
    pub table: String,
    pub dynamo: aws_sdk_dynamodb::Client,
    /// The queue straight on moto (its depth, the dead-letter queue).
    pub queue: SqsQueue,
    pub sqs: aws_sdk_sqs::Client,
    /// The worker's stores (through the proxy), counting the messages each insert reports.
    pub counter: Arc<FlakyStore>,
    queues: Queues,
    /// The webhook and the admin API (its worker never receives anything).
    pub front: local_stack::RunningStack,
    /// The worker, replaced when a kill stops it.
    worker: Mutex<Option<local_stack::RunningStack>>,
    cfg: local_stack::LocalConfig,
}

impl World {
    pub async fn new(seed: u64) -> World {
        // `FAULTS_LOG=warn` (a tracing filter) shows the functions' logs and every injection.
        if let Ok(filter) = std::env::var("FAULTS_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        let proxy = FaultProxy::start(&moto_url(), seed).await;
        let fake = FakeGraph::start().await;
        let direct = sdk_config(&moto_url()).await;
        let via_proxy = sdk_config(&proxy.url()).await;
        let table = unique("faults");
        let dynamo = aws_sdk_dynamodb::Client::new(&direct);
        let seeded = DynamoStore::new(dynamo.clone(), &table);
        seeded.create_table_if_missing().await.expect("table on moto");
        let sqs = aws_sdk_sqs::Client::new(&direct);
        let name = unique("fq");
        let queue = SqsQueue::create_if_missing(sqs.clone(), &name, VISIBILITY_SECS, MAX_RECEIVES)
            .await
            .expect("queue on moto");
        let proxied_queue = Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&via_proxy), queue.url(), None));
        let queues = Queues { producer: proxied_queue.clone(), consumer: proxied_queue };
        seed_shops(&Stores::from_one(Arc::new(seeded)), &fake).await;
        let proxied =
            Stores::from_one(Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&via_proxy), &table)));
        let counter = Arc::new(FlakyStore::new(proxied, []));

        let mut cfg =
            stack_config(Backend::Memory, Duration::from_secs(u64::from(VISIBILITY_SECS)), MAX_RECEIVES);
        cfg.graph_url = fake.base_url();
        // Its admin API goes through the proxy too (a reply's writes under faults).
        let front = local_stack::start_with(
            cfg.clone(),
            counter.stores(),
            Queues { producer: queues.producer.clone(), consumer: Arc::new(NoConsumer) },
            None,
        )
        .await
        .expect("webhook stack");
        let world = World {
            proxy,
            fake,
            table,
            dynamo,
            queue,
            sqs,
            counter,
            queues,
            front,
            worker: Mutex::default(),
            cfg,
        };
        world.start_worker().await;
        world
    }

    /// Starts a fresh worker (two pollers, as the local stack has) on the world's table and queue.
    pub async fn start_worker(&self) {
        let stack =
            local_stack::start_with(self.cfg.clone(), self.counter.stores(), self.queues.clone(), None)
                .await
                .expect("worker stack");
        if let Some(old) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).replace(stack) {
            old.stop();
        }
    }

    /// Stops the worker: its pollers are aborted wherever they are, mid-record included.
    pub fn kill_worker(&self) {
        if let Some(old) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            old.stop();
        }
    }

    /// Messages in the main queue, visible or in flight.
    pub async fn queue_depth(&self) -> usize {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let Ok(out) = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.queue.url())
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
        else {
            return usize::MAX;
        };
        let attrs = out.attributes.unwrap_or_default();
        [A::ApproximateNumberOfMessages, A::ApproximateNumberOfMessagesNotVisible]
            .iter()
            .map(|a| attrs.get(a).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0))
            .sum()
    }
}

/// Members, Pages (with a sealed Page token, so the worker looks customers' names up), the round
/// robin rule, and the customers' profiles on the fake Graph API.
async fn seed_shops(s: &Stores, fake: &FakeGraph) {
    let cipher = &facebook_at(&fake.base_url()).cipher;
    for (tenant, owner) in [(SHOP_A, OWNER_A), (SHOP_B, OWNER_B)] {
        s.members
            .add_member(tenant, &Member { email: owner.into(), role: Role::Owner })
            .await
            .expect("owner");
    }
    for a in AGENTS_A {
        s.members.add_member(SHOP_A, &Member { email: a.into(), role: Role::Agent }).await.expect("agent");
    }
    for (page, tenant, shared) in PAGES {
        let owner = if tenant == SHOP_A { OWNER_A } else { OWNER_B };
        let token = format!("page-token-{page}");
        fake.add_page(page, &format!("Page {page}"), &token, &["MESSAGING"]);
        let token = SecretString::from(token);
        let imported = ImportedPage {
            page_id: page.into(),
            name: format!("Page {page}"),
            token_enc: cipher.encrypt(tenant, page, &token),
            imported_by: owner.into(),
        };
        let record = s.pages.import_page(tenant, &imported).await.expect("import");
        let route = PageRoute {
            page_id: page.into(),
            tenant_id: tenant.into(),
            status: PageStatus::Connected,
            chat_mode: ChatMode::OnlyMe,
            rule_id: None,
            connected_by: owner.into(),
        };
        let record = PageRecord {
            status: PageStatus::Connected,
            chat_mode: Some(ChatMode::OnlyMe),
            connected_by: Some(owner.into()),
            last_connected_at: Some("2026-11-30T10:00:00.000Z".into()),
            ..record
        };
        s.pages.connect_page(&record, &route).await.expect("connect");
        if shared {
            let rule = Rule {
                id: RULE_A.into(),
                name: "Bán hàng".into(),
                page_ids: vec![page.into()],
                agent_emails: AGENTS_A.iter().map(|a| a.to_string()).collect(),
                method: Method::RoundRobin,
                old_conversations: OldConversations::None,
                policy_chosen_by: None,
                policy_chosen_at: None,
            };
            s.rules.create_rule(tenant, &rule, &[page.to_string()]).await.expect("rule");
        }
    }
    for c in 0..CUSTOMERS {
        fake.add_profile(page_of(c).0, &psid(c), &format!("Khách {c}"));
    }
}
