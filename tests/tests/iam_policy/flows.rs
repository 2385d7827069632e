//! The static lists kept honest: every function's main flows run on moto, each function on its
//! own recording DynamoDB and SQS clients (as each Lambda has its own role), and every call
//! recorded must be in that function's list. The local stack shares one store among the
//! functions, so this test wires the functions itself, the same way, one store per function.
//!
//! Flows: Facebook Login (admin API's link, the OAuth callback), connect shared and only-me
//! (history sync in the worker), webhook ingest of a message and a comment, a reply and comment
//! moderation by the holder, every admin API route as owner and as agent, a member removal
//! (re-homing), a Page's data deletion (erasure job), Meta's deauthorize and data-deletion
//! callbacks, and one page-health run.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use adapters::{Queues, Stores};
use axum::Router;
use domain::signature::AppSecrets;
use integration_tests::fake_graph::{DEFAULT_USER_ID, FakeComment, FakeGraph};
use integration_tests::iam::Recorder;
use integration_tests::*;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::NEEDS;

#[path = "../access_matrix/routes.rs"]
#[allow(dead_code)]
mod routes;

struct Split {
    base: String,
    recorder: Recorder,
    fake: FakeGraph,
    table: String,
    facebook: Arc<adapters::facebook::Facebook>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Split {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

impl Split {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn stores(&self, function: &str) -> Stores {
        Stores::from_one(Arc::new(self.recorder.store(function, &self.table).await))
    }
}

/// Every function wired on its own recording clients, on one moto table and queue.
async fn start() -> Split {
    let recorder = Recorder::default();
    let aws = moto_config().await;
    let table = unique("tbl");
    let setup = adapters::dynamo::DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &table);
    setup.create_table_if_missing().await.expect("table");
    let consumer =
        adapters::sqs::SqsQueue::create_if_missing(aws_sdk_sqs::Client::new(&aws), &unique("q"), 2, 5)
            .await
            .expect("queue");
    let url = consumer.url().to_string();
    let queue = |f: &'static str| {
        let (recorder, url) = (recorder.clone(), url.clone());
        async move { Queues::from_one(Arc::new(recorder.queue(f, &url).await)).producer }
    };
    let fake = FakeGraph::start().await;
    let facebook = facebook_at(&fake.base_url());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mut split =
        Split { base, recorder: recorder.clone(), fake, table, facebook: facebook.clone(), tasks: vec![] };
    let secrets = || AppSecrets::from_list(&SecretString::from(APP_SECRET.to_string()));
    let webhook = Arc::new(webhook::Webhook {
        config: webhook::WebhookConfig {
            app_secrets: secrets(),
            verify_token: SecretString::from(VERIFY_TOKEN.to_string()),
            max_body_bytes: 1024 * 1024,
        },
        queue: queue("webhook").await,
    });
    let api = Arc::new(admin_api::AdminApi {
        stores: split.stores("admin-api").await,
        facebook: facebook.clone(),
        queue: queue("admin-api").await,
    });
    let callback =
        Arc::new(oauth_callback::Callback::new(&split.stores("oauth-callback").await, facebook.clone()));
    let meta = Arc::new(meta_callbacks::MetaCallbacks::new(
        meta_callbacks::CallbacksConfig { app_secrets: secrets(), base_url: Some(split.base.clone()) },
        &split.stores("meta-callbacks").await,
    ));
    let jwt = Arc::new(local_stack::auth::LocalAuthorizer::new(&SecretString::from(JWT_SECRET.to_string())));
    let app = Router::new()
        .merge(webhook::router(webhook))
        .merge(oauth_callback::router(callback))
        .merge(meta_callbacks::router(meta))
        .merge(
            admin_api::router(api)
                .layer(axum::middleware::from_fn_with_state(jwt, local_stack::auth::require_jwt)),
        );
    split.tasks.push(tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    }));
    let worker = Arc::new(assignment::Worker::with_sync(
        split.stores("assignment").await,
        assignment::SyncDeps { facebook, queue: queue("assignment").await },
    ));
    // Lambda's SQS event source (not the function's code: its calls are not recorded).
    split.tasks.push(tokio::spawn(async move {
        use domain::ports::QueueConsumer;
        loop {
            let Ok(msgs) = consumer.receive(10, 1).await else { continue };
            let records = msgs
                .iter()
                .map(|m| assignment::Record {
                    message_id: m.message_id.clone(),
                    group_id: m.group_id.clone(),
                    body: m.body.clone(),
                })
                .collect();
            let outcome = worker.handle_batch(records).await;
            for m in msgs.iter().filter(|m| !outcome.failed.contains(&m.message_id)) {
                consumer.delete(&m.receipt_handle).await.ok();
            }
        }
    }));
    split
}

async fn call(s: &Split, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = http().request(m, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post_form(s: &Split, path: &str, signed_request: &str) -> u16 {
    let r = http()
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("signed_request={signed_request}"))
        .send()
        .await
        .expect("callback");
    r.status().as_u16()
}

/// Facebook Login as `owner`: the admin API's link, then Meta's return to the callback.
async fn login(s: &Split, owner: &str, code: &str) {
    let r = http().get(s.url("/api/facebook/login-url")).bearer_auth(owner).send().await.expect("link");
    let cookie =
        r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).map(String::from).expect("cookie");
    let b: Value = r.json().await.expect("json");
    let dialog = reqwest::Url::parse(b["url"].as_str().expect("url")).expect("dialog url");
    let state = dialog.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).expect("state");
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let r = client
        .get(s.url(oauth_callback::PATH))
        .query(&[("code", code), ("state", state.as_str())])
        .header("cookie", cookie_pair(&cookie))
        .send()
        .await
        .expect("callback");
    let loc = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string();
    assert!(loc.contains("result=ok"), "login: {loc}");
}

const PAGE: &str = "4100000001";
const PAGE2: &str = "4100000002";

/// Drives every function's main flows; returns nothing, the recorder holds the calls.
async fn drive(s: &Split) {
    let owner = token("owner@iam-shop.vn", "tenant-iam", "owner");
    let holder = "holder@iam-shop.vn";
    let holder_token = token(holder, "tenant-iam", "agent");
    s.fake.add_code("code-iam", "short-iam");
    s.fake.add_page(PAGE, "IAM Page", "page-token-iam-1", &["MANAGE", "MESSAGING"]);
    s.fake.add_page(PAGE2, "IAM Page 2", "page-token-iam-2", &["MANAGE", "MESSAGING"]);
    login(s, &owner, "code-iam").await;
    for (who, role) in [(holder, "agent"), ("other@iam-shop.vn", "agent"), ("gone@iam-shop.vn", "agent")] {
        let (st, b) =
            call(s, "POST", "/api/members", &owner, Some(json!({"email": who, "role": role}))).await;
        assert_eq!(st, 201, "{b}");
    }
    let rule =
        json!({"name": "IAM rule", "agent_emails": [holder, "gone@iam-shop.vn"], "method": "round_robin"});
    let connect = json!({"chat_mode": "shared", "new_rule": rule});
    let (st, b) = call(s, "POST", &format!("/api/pages/{PAGE}/connect"), &owner, Some(connect)).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = call(
        s,
        "POST",
        &format!("/api/pages/{PAGE2}/connect"),
        &owner,
        Some(json!({"chat_mode": "only_me"})),
    )
    .await;
    assert_eq!(st, 200, "{b}");

    let now = domain::timefmt::now_ms();
    for psid in ["4200000001", "4200000002"] {
        let body = notification(PAGE, vec![text_item(PAGE, psid, now, &format!("m_{psid}"), "xin chào")]);
        assert_eq!(post_webhook_at(s, &body).await, 200);
    }
    let comment_id = "4400000001_4500000001";
    let post_id = format!("{PAGE}_4400000001");
    s.fake.add_post(PAGE, &post_id, now - 60_000);
    s.fake.add_comment(FakeComment::new(&post_id, comment_id, "4300000001", "Lan", "áo M", now - 30_000));
    let change = json!({"item": "comment", "verb": "add", "comment_id": comment_id,
        "post_id": format!("{PAGE}_4400000001"), "parent_id": format!("{PAGE}_4400000001"),
        "from": {"id": "4300000001", "name": "Lan"}, "message": "áo M", "created_time": now / 1000});
    let feed = json!({"object": "page", "entry": [{"id": PAGE, "time": 1, "changes": [{"field": "feed", "value": change}]}]});
    assert_eq!(post_webhook_at(s, &feed.to_string()).await, 200);
    let convs = eventually(30, "three conversations stored", || async {
        let (st, b) = call(s, "GET", "/api/conversations?view=all", &owner, None).await;
        let items = b["items"].as_array().cloned().unwrap_or_default();
        (st == 200 && items.len() == 3 && items.iter().all(|c| c["assignee"].is_string())).then_some(items)
    })
    .await;
    // An inbox walk whose second page follows a conversation that moved meanwhile (the
    // moved headers are read with BatchGetItem); one Page's inbox (gsi3).
    let (_, first) = call(s, "GET", "/api/conversations?view=all&limit=1", &owner, None).await;
    let cursor = first["next_cursor"].as_str().expect("a second page").to_string();
    let oldest = convs.iter().rev().find(|c| c["kind"] == "messenger").expect("a chat");
    let psid = oldest["customer_id"].as_str().expect("psid");
    let later = domain::timefmt::now_ms();
    let body = notification(PAGE, vec![text_item(PAGE, psid, later, "m_moved", "còn không")]);
    assert_eq!(post_webhook_at(s, &body).await, 200);
    let conv_last = oldest["id"].as_str().expect("id").to_string();
    eventually(30, "the conversation moved up", || async {
        let (_, b) = call(s, "GET", "/api/conversations?view=all&limit=1", &owner, None).await;
        (b["items"][0]["id"] == conv_last.as_str()).then_some(())
    })
    .await;
    let (st, b) =
        call(s, "GET", &format!("/api/conversations?view=all&limit=1&cursor={cursor}"), &owner, None).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = call(s, "GET", &format!("/api/conversations?view=all&page_id={PAGE}"), &owner, None).await;
    assert_eq!(st, 200, "{b}");
    let held =
        convs.iter().find(|c| c["assignee"] == holder && c["kind"] == "messenger").expect("a held chat");
    let conv = held["id"].as_str().expect("id").to_string();
    let holder_of_comment =
        convs.iter().find(|c| c["kind"] == "comment").expect("comment conversation")["assignee"]
            .as_str()
            .map(|e| token(e, "tenant-iam", "agent"))
            .expect("holder");
    let (st, b) = call(
        s,
        "POST",
        &format!("/api/conversations/{conv}/messages"),
        &holder_token,
        Some(json!({"text": "dạ"})),
    )
    .await;
    assert_eq!(st, 201, "reply: {b}");
    for action in ["hide", "unhide"] {
        let (st, b) =
            call(s, "POST", &format!("/api/comments/{comment_id}/{action}"), &holder_of_comment, None).await;
        assert_eq!(st, 200, "{action}: {b}");
    }

    // Every admin route, as the owner and as an agent, on the shop's own objects.
    let (_, rules) = call(s, "GET", "/api/rules", &owner, None).await;
    let rule_id = rules["items"][0]["id"].as_str().expect("rule id").to_string();
    let (_, r) = call(s, "GET", &format!("/api/rules/{rule_id}"), &owner, None).await;
    for row in routes::ROWS {
        for t in [&owner, &holder_token] {
            let id = match row.param {
                routes::Param::None => String::new(),
                routes::Param::Email => "other@iam-shop.vn".into(),
                routes::Param::Page => PAGE2.into(),
                routes::Param::Rule => rule_id.clone(),
                routes::Param::Conversation | routes::Param::Pooled => conv.clone(),
                routes::Param::Comment => comment_id.into(),
            };
            let body = match (row.method, row.path) {
                ("POST", "/api/members") => Some(json!({"email": "new@iam-shop.vn", "role": "agent"})),
                ("POST", "/api/rules") => Some(
                    json!({"name": "R2", "page_ids": [PAGE2], "agent_emails": [holder], "method": "self_claim"}),
                ),
                ("PUT", "/api/rules/{rule_id}") => Some(r.clone()),
                ("POST", "/api/pages/{page_id}/connect") => Some(json!({"chat_mode": "only_me"})),
                ("POST", "/api/conversations/{id}/messages") => Some(json!({"text": "vâng"})),
                ("PUT", "/api/pages/{page_id}/comment-settings") => Some(json!({"auto_hide": "off"})),
                ("PUT", "/api/settings") => Some(json!({"human_agent_tag": true})),
                _ => None,
            };
            let (st, b) = call(s, row.method, &routes::fill(row.path, &id), t, body).await;
            // 502: Meta refused (hide after the delete above); the calls are what counts here.
            assert!(st < 500 || st == 502, "{} {}: {st} {b}", row.method, row.path);
        }
    }
    // A member who holds conversations leaves (re-homing); a Page's data is deleted (erasure).
    let (st, b) = call(s, "DELETE", "/api/members/gone@iam-shop.vn", &owner, None).await;
    assert_eq!(st, 200, "{b}");
    call(s, "POST", &format!("/api/pages/{PAGE2}/disconnect"), &owner, None).await;
    let (st, b) = call(s, "DELETE", &format!("/api/pages/{PAGE2}"), &owner, None).await;
    assert_eq!(st, 202, "{b}");

    // Page health, then Meta's callbacks for the person who connected the Pages.
    let health = page_health::HealthCheck::new(
        s.stores("page-health").await.pages,
        s.facebook.clone(),
        Duration::from_secs(3600),
    );
    health.run().await.expect("page health");
    let payload = json!({"algorithm": "HMAC-SHA256", "issued_at": 1_764_000_000, "user_id": DEFAULT_USER_ID});
    let signed = domain::signed_request::sign(APP_SECRET, &payload.to_string());
    assert_eq!(post_form(s, meta_callbacks::DEAUTHORIZE_PATH, &signed).await, 200);
    assert_eq!(post_form(s, meta_callbacks::DATA_DELETION_PATH, &signed).await, 200);
    // The first Page's data, conversations and messages included, is deleted (erasure job).
    call(s, "POST", &format!("/api/pages/{PAGE}/disconnect"), &owner, None).await;
    let (st, b) = call(s, "DELETE", &format!("/api/pages/{PAGE}"), &owner, None).await;
    assert_eq!(st, 202, "{b}");
    // The worker's jobs (history sync, re-homing, erasure) run out.
    tokio::time::sleep(Duration::from_secs(4)).await;
}

async fn post_webhook_at(s: &Split, body: &str) -> u16 {
    let r = http()
        .post(s.url("/webhooks/facebook"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(body))
        .body(body.to_string())
        .send()
        .await
        .expect("webhook");
    r.status().as_u16()
}

/// Every call each function made on moto is in its static list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_calls_are_in_each_functions_static_list() {
    let s = start().await;
    drive(&s).await;
    let calls = s.recorder.calls();
    let mut outside = Vec::new();
    for n in NEEDS {
        let mine: BTreeSet<(String, String)> =
            calls.iter().filter(|c| c.0 == n.function).map(|c| (c.1.clone(), c.2.clone())).collect();
        let listed: BTreeSet<(String, String)> =
            n.needs.iter().map(|(a, r)| (a.to_string(), r.to_string())).collect();
        let unused: Vec<_> = listed.difference(&mine).collect();
        println!(
            "{}: {} calls recorded {mine:?}; listed but not seen in these flows: {unused:?}",
            n.function,
            mine.len()
        );
        outside.extend(mine.difference(&listed).map(|(a, r)| format!("{}: {a} on {r}", n.function)));
        if n.function != "console" {
            assert!(!mine.is_empty(), "{} made no recorded call: the flows did not reach it", n.function);
        }
    }
    let unknown: Vec<_> = calls.iter().filter(|c| !NEEDS.iter().any(|n| n.function == c.0)).collect();
    assert!(unknown.is_empty(), "calls of no listed function: {unknown:?}");
    assert!(
        outside.is_empty(),
        "calls missing from the static lists (and so maybe from template.yaml):\n{}",
        outside.join("\n")
    );
}
