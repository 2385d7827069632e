//! The local stack with its Meta simulator on (`docs/meta-simulator.md`): the whole seed flow
//! over HTTP as a browser does it, without a browser: Facebook Login through the simulated
//! dialog (a declined permission, then two Pages, then a cancel), connecting a Page, a
//! customer writing through the simulator, the shop's reply reaching the customer's thread
//! once and staying once after its echo webhook, plus the Graph answers the simulator adds.

use std::collections::HashMap;
use std::time::Duration;

use integration_tests::*;
use meta_sim::{DEMO_PAGES, HISTORY_PAGE};
use serde_json::{Value, json};

async fn sim_stack(backend: Backend) -> local_stack::RunningStack {
    let cfg =
        local_stack::LocalConfig { simulator: true, ..stack_config(backend, Duration::from_secs(2), 5) };
    start_configured(cfg).await
}

/// A browser without JavaScript: keeps cookies (one host), follows redirects until it would
/// leave for the console's address (`APP_BASE_URL`, not served in tests).
struct Browser {
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new() -> Browser {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        Browser { client, cookies: HashMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let pair = cookie_pair(v.to_str().unwrap_or_default());
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }

    /// Sends, then follows redirects on 127.0.0.1; returns the last answer and, when it
    /// stopped at a redirect elsewhere, that redirect's target.
    async fn go(&mut self, req: reqwest::RequestBuilder) -> (reqwest::Response, Option<String>) {
        let mut r = req.header("cookie", self.cookie_header()).send().await.expect("request");
        for _ in 0..10 {
            self.keep_cookies(&r);
            if !r.status().is_redirection() {
                return (r, None);
            }
            let loc =
                r.headers().get("location").and_then(|l| l.to_str().ok()).expect("location").to_string();
            let next = reqwest::Url::parse(&loc).expect("absolute location");
            if next.host_str() != Some("127.0.0.1") {
                return (r, Some(loc));
            }
            r = self.client.get(next).header("cookie", self.cookie_header()).send().await.expect("redirect");
        }
        panic!("too many redirects");
    }
}

/// The `<input type="hidden">` fields of the dialog's form.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"")?;
            let (value, _) = rest.split_once('"')?;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

/// Facebook Login from the console's button to the console's address: asks for the login
/// link as `owner`, opens the dialog, answers it with `action`, these Pages and permissions.
/// Returns the outcome's query pairs.
async fn login_through_dialog(
    stack: &local_stack::RunningStack,
    owner: &str,
    pages: &[&str],
    perms: &[&str],
    action: &str,
) -> HashMap<String, String> {
    let mut b = Browser::new();
    let (r, _) = b.go(b.client.get(stack.url("/api/facebook/login-url")).bearer_auth(owner)).await;
    assert_eq!(r.status().as_u16(), 200);
    let url = r.json::<Value>().await.expect("json")["url"].as_str().expect("url").to_string();
    assert!(url.starts_with(&stack.url("/_sim/dialog/oauth?")), "{url}");
    let (r, _) = b.go(b.client.get(&url)).await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.expect("dialog");
    assert!(html.contains("Trình mô phỏng Meta — Meta simulator (not Facebook)"));
    assert!(html.contains(">Tiếp tục</button>") && html.contains(">Hủy</button>"));
    for p in &DEMO_PAGES {
        assert!(html.contains(&format!("name=\"page\" value=\"{}\" checked", p.id)), "{}", p.name);
    }
    for perm in domain::graph::REQUIRED_PERMISSIONS {
        assert!(
            html.contains(&format!(
                "<label><input type=\"checkbox\" name=\"perm\" value=\"{perm}\" checked>"
            )),
            "{perm}"
        );
    }
    let mut form = hidden_fields(&html);
    assert_eq!(form.iter().filter(|(k, _)| k == "state").count(), 1, "{form:?}");
    form.extend(pages.iter().map(|p| ("page".to_string(), p.to_string())));
    form.extend(perms.iter().map(|p| ("perm".to_string(), p.to_string())));
    form.push(("action".into(), action.into()));
    let action_url = url.split('?').next().expect("dialog path").to_string();
    let (r, elsewhere) = b.go(b.client.post(action_url).form(&form)).await;
    let loc = elsewhere.unwrap_or_else(|| panic!("ended at {} instead of the console", r.status()));
    assert!(loc.starts_with("https://app.example.vn/facebook/done"), "{loc}");
    outcome(&loc)
}

async fn sim_json(stack: &local_stack::RunningStack, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = match body {
        Some(b) => http().post(stack.url(path)).json(&b),
        None => http().get(stack.url(path)),
    };
    let r = req.send().await.expect("simulator");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn seed_flow_through_the_simulator(backend: Backend) {
    let stack = sim_stack(backend).await;
    let sim = stack.simulator.clone().expect("the simulator runs");
    assert_eq!(stack.simulator_url.as_deref(), Some(stack.url("/_sim/customer").as_str()));
    let owner = token("owner@sim.vn", &unique("shop"), "owner");
    let all_perms = domain::graph::REQUIRED_PERMISSIONS;
    let ids: Vec<&str> = DEMO_PAGES.iter().map(|p| p.id).collect();

    // One permission left unchecked: the console is told exactly which one.
    let fewer: Vec<&str> = all_perms.iter().copied().filter(|p| *p != "pages_manage_posts").collect();
    let o = login_through_dialog(&stack, &owner, &ids, &fewer, "continue").await;
    assert_eq!(o.get("error").map(String::as_str), Some("permissions_declined"), "{o:?}");
    assert_eq!(o.get("missing").map(String::as_str), Some("pages_manage_posts"), "{o:?}");

    // Everything granted, two of the three Pages chosen: exactly those two come in.
    let chosen = [DEMO_PAGES[0].id, HISTORY_PAGE];
    let o = login_through_dialog(&stack, &owner, &chosen, all_perms, "continue").await;
    assert_eq!(o.get("result").map(String::as_str), Some("ok"), "{o:?}");
    assert_eq!(o.get("imported").map(String::as_str), Some("2"), "{o:?}");
    let (_, pages) = get_json(&stack, "/api/pages", &owner).await;
    let mut got: Vec<String> = pages["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["page_id"].as_str().map(String::from))
        .collect();
    got.sort();
    let mut want: Vec<String> = chosen.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    let long_name =
        pages["items"].as_array().expect("items").iter().find(|p| p["page_id"] == DEMO_PAGES[0].id);
    assert_eq!(long_name.expect("the long-named Page")["name"], DEMO_PAGES[0].name);

    // Connecting subscribes the app at the simulated Meta.
    assert!(sim.graph().subscribed(HISTORY_PAGE).is_none());
    let (s, b) = post_json(
        &stack,
        &format!("/api/pages/{HISTORY_PAGE}/connect"),
        &owner,
        json!({"chat_mode":"only_me"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let fields = sim.graph().subscribed(HISTORY_PAGE).expect("subscribed");
    assert!(
        fields.iter().any(|f| f == "messages") && fields.iter().any(|f| f == "message_echoes"),
        "{fields:?}"
    );
    let (_, info) = sim_json(&stack, "/_sim/api/info", None).await;
    let listed = info["pages"].as_array().expect("pages").iter().find(|p| p["id"] == HISTORY_PAGE).cloned();
    assert!(listed.expect("history page")["subscribed_fields"].is_array(), "{info}");
    assert_eq!(info["customer_url"], stack.url("/_sim/customer"));

    // The demo history comes in through the Conversations API, with the customers' names.
    eventually(10, "the demo history", || async {
        let (_, b) = get_json(&stack, "/api/conversations?view=all&limit=50", &owner).await;
        let n = b["items"].as_array()?.iter().filter(|c| c["page_id"] == HISTORY_PAGE).count();
        (n >= 3).then_some(())
    })
    .await;

    // A customer writes through the simulator: a signed webhook the stack accepts.
    let (s, m) = sim_json(
        &stack,
        "/_sim/api/customer/messages",
        Some(json!({"page_id": HISTORY_PAGE, "customer_name": "Đỗ Thị Thu", "text": "Shop ơi còn bánh không?"})),
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["delivered"], true, "{m}");
    let psid = m["psid"].as_str().expect("psid").to_string();
    let mid = m["mid"].as_str().expect("mid").to_string();
    let conv = eventually(5, "the customer's conversation and message", || async {
        let (_, b) = get_json(&stack, "/api/conversations?view=all&limit=50", &owner).await;
        let c = b["items"].as_array()?.iter().find(|c| c["customer_id"] == psid.as_str())?.clone();
        let msgs = try_all_messages(&stack, &owner, c["id"].as_str()?).await.ok()?;
        msgs.iter().any(|x| x["id"] == mid.as_str()).then_some(c)
    })
    .await;
    let conv_id = conv["id"].as_str().expect("id").to_string();

    // The shop replies: the customer's thread shows it once ...
    let reply = "Dạ còn ạ, chị lấy mấy ổ?";
    let (s, b) =
        post_json(&stack, &format!("/api/conversations/{conv_id}/messages"), &owner, json!({"text": reply}))
            .await;
    assert!(s == 200 || s == 201, "{s} {b}");
    let thread_path = format!("/_sim/api/customer/thread?page_id={HISTORY_PAGE}&psid={psid}");
    let (_, t) = sim_json(&stack, &thread_path, None).await;
    let replies: Vec<&Value> =
        t["messages"].as_array().expect("messages").iter().filter(|m| m["from"] == "page").collect();
    assert_eq!(replies.len(), 1, "{t}");
    assert_eq!(replies[0]["text"], reply);
    let reply_mid = replies[0]["mid"].as_str().expect("mid").to_string();
    // ... its echo and delivery webhooks go out ...
    eventually(5, "the echo delivered", || async {
        let (_, t) = sim_json(&stack, &thread_path, None).await;
        let m = t["messages"].as_array()?.iter().find(|m| m["mid"] == reply_mid.as_str())?.clone();
        (m["status"] == "delivered").then_some(())
    })
    .await;
    let (_, log) = sim_json(&stack, "/_sim/api/webhooks", None).await;
    let echoed = log["webhooks"].as_array().expect("log").iter().any(|d| {
        d["kind"] == "echo" && d["id"] == reply_mid.as_str() && d["accepted"] == true && d["attempts"] == 1
    });
    assert!(echoed, "the signed echo was accepted at once: {log}");
    // ... and once a later message of the same customer is in, the echo before it was handled:
    // the reply is still there once, sent.
    let (_, m2) = sim_json(
        &stack,
        "/_sim/api/customer/messages",
        Some(json!({"page_id": HISTORY_PAGE, "psid": psid, "text": "Cho em 2 ổ nhé"})),
    )
    .await;
    let mid2 = m2["mid"].as_str().expect("mid").to_string();
    let msgs = eventually(5, "the second message", || async {
        let msgs = try_all_messages(&stack, &owner, &conv_id).await.ok()?;
        msgs.iter().any(|x| x["id"] == mid2.as_str()).then_some(msgs)
    })
    .await;
    let outs: Vec<&Value> = msgs.iter().filter(|m| m["direction"] == "out").collect();
    assert_eq!(outs.len(), 1, "{msgs:?}");
    assert_eq!(outs[0]["text"], reply);
    assert_eq!(outs[0]["status"], "sent", "{:?}", outs[0]);

    // "Đã xem": a read webhook, and the thread marks the reply read.
    let (s, r) =
        sim_json(&stack, "/_sim/api/customer/read", Some(json!({"page_id": HISTORY_PAGE, "psid": psid})))
            .await;
    assert_eq!((s, &r["delivered"]), (200, &json!(true)), "{r}");
    let (_, t) = sim_json(&stack, &thread_path, None).await;
    let status = t["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["mid"] == reply_mid.as_str())
        .map(|m| m["status"].clone());
    assert_eq!(status, Some(json!("read")), "{t}");

    // Hủy on the dialog: Meta's denial reaches the console.
    let o = login_through_dialog(&stack, &owner, &ids, all_perms, "cancel").await;
    assert_eq!(o.get("error").map(String::as_str), Some("access_denied"), "{o:?}");
}

on_both_backends!(seed_flow_through_the_simulator);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_on_a_connected_page_reaches_the_inbox() {
    let stack = sim_stack(Backend::Memory).await;
    let owner = token("owner@sim.vn", &unique("shop"), "owner");
    let page = DEMO_PAGES[2].id;
    // Not connected yet: Meta would not deliver, and the simulator says so.
    let comment =
        json!({"page_id": page, "customer_name": "Vũ Hải", "text": "Giá ốp lưng bao nhiêu? 0912345678"});
    let (s, c) = sim_json(&stack, "/_sim/api/customer/comments", Some(comment.clone())).await;
    assert_eq!((s, &c["delivered"]), (201, &json!(false)), "{c}");
    let o =
        login_through_dialog(&stack, &owner, &[page], domain::graph::REQUIRED_PERMISSIONS, "continue").await;
    assert_eq!(o.get("imported").map(String::as_str), Some("1"), "{o:?}");
    let (s, b) =
        post_json(&stack, &format!("/api/pages/{page}/connect"), &owner, json!({"chat_mode":"only_me"}))
            .await;
    assert_eq!(s, 200, "{b}");
    let (s, c) = sim_json(&stack, "/_sim/api/customer/comments", Some(comment)).await;
    assert_eq!((s, &c["delivered"]), (201, &json!(true)), "{c}");
    assert_eq!(c["parent_id"], DEMO_PAGES[2].post_id);
    let comment_id = c["comment_id"].as_str().expect("comment id").to_string();
    eventually(5, "the comment conversation", || async {
        let (_, b) = get_json(&stack, "/api/conversations?view=all&limit=50", &owner).await;
        for conv in b["items"].as_array()? {
            let msgs = try_all_messages(&stack, &owner, conv["id"].as_str()?).await.ok()?;
            if msgs.iter().any(|m| m["id"] == comment_id.as_str()) {
                return Some(());
            }
        }
        None
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_answers_profiles_and_issued_tokens() {
    let stack = sim_stack(Backend::Memory).await;
    let sim = stack.simulator.clone().expect("simulator");
    let graph = sim.graph_url();
    assert_eq!(graph, stack.url("/_sim/graph/v25.0"));
    let page_token =
        sim.graph().state().pages.iter().find(|p| p.id == HISTORY_PAGE).expect("page").token.clone();
    let get = |path: String| async move {
        let r = http().get(path).send().await.expect("graph");
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (s, b) = get(format!("{graph}/7100000000000001?fields=name&access_token={page_token}")).await;
    assert_eq!((s, b), (200, json!({"name": "Trần Thị Mai", "id": "7100000000000001"})));
    let (s, b) = get(format!("{graph}/7999999999999999?fields=name&access_token={page_token}")).await;
    assert_eq!((s, &b["error"]["code"]), (400, &json!(100)), "{b}");
    let (s, b) = get(format!("{graph}/7100000000000001?fields=name&access_token=not-a-token")).await;
    assert_eq!((s, &b["error"]["code"]), (400, &json!(190)), "{b}");
    // debug_token finds the Page token it issued valid, an unknown one not.
    let app = format!("{}|{APP_SECRET}", sim.app_id());
    let (_, b) = get(format!("{graph}/debug_token?input_token={page_token}&access_token={app}")).await;
    assert_eq!(b["data"]["is_valid"], true, "{b}");
    let (_, b) = get(format!("{graph}/debug_token?input_token=EAAnope&access_token={app}")).await;
    assert_eq!(b["data"]["is_valid"], false, "{b}");
    // The history's participants carry the customers' names.
    let (_, b) =
        get(format!("{graph}/{HISTORY_PAGE}/conversations?platform=messenger&access_token={page_token}"))
            .await;
    let names: Vec<&str> = b["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|c| c["participants"]["data"][0]["name"].as_str())
        .collect();
    assert!(names.contains(&"Phạm Ngọc Ánh"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_is_off_for_test_configs_and_refuses_strangers() {
    let plain = start_stack(Backend::Memory).await;
    assert!(plain.simulator.is_none() && plain.simulator_url.is_none());
    assert_ne!(http().get(plain.url("/_sim/api/info")).send().await.expect("get").status().as_u16(), 200);
    let stack = sim_stack(Backend::Memory).await;
    // Another app's dialog request is refused before anything is shown.
    let r = http()
        .get(stack.url("/_sim/dialog/oauth?client_id=other&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&state=s"))
        .send()
        .await
        .expect("dialog");
    assert_eq!(r.status().as_u16(), 400);
    let (s, b) = sim_json(
        &stack,
        "/_sim/api/customer/messages",
        Some(json!({"page_id": "12345", "customer_name": "X", "text": "hi"})),
    )
    .await;
    assert_eq!((s, &b["error"]["code"]), (404, &json!("unknown_page")), "{b}");
    let (s, _) = sim_json(
        &stack,
        "/_sim/api/customer/messages",
        Some(json!({"page_id": HISTORY_PAGE, "customer_name": "X", "text": "  "})),
    )
    .await;
    assert_eq!(s, 400);
    let r = http().get(stack.url("/_sim/customer")).send().await.expect("customer view");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap_or_default().contains("Meta simulator (not Facebook)"));
}

/// A simulator of its own whose webhooks land in a capture server, served on loopback: what
/// Meta would post to the app, signature and body, for the comment tests.
struct CapturedSim {
    sim: meta_sim::Simulator,
    hooks: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    graph: adapters::graph::HttpGraph,
    _servers: Vec<tokio::task::JoinHandle<()>>,
}

impl CapturedSim {
    async fn start() -> CapturedSim {
        use axum::extract::State;
        type Hooks = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;
        let hooks: Hooks = Default::default();
        let capture = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    |State(h): State<Hooks>, headers: http::HeaderMap, body: String| async move {
                        let sig = headers
                            .get("x-hub-signature-256")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        h.lock().expect("hooks").push((sig, body));
                        "EVENT_RECEIVED"
                    },
                ),
            )
            .with_state(hooks.clone());
        let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let hook_addr = hook_listener.local_addr().expect("addr");
        let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let sim_addr = sim_listener.local_addr().expect("addr");
        let sim = meta_sim::Simulator::new(meta_sim::SimConfig {
            base_url: format!("http://{sim_addr}/_sim"),
            app_id: "1234567".into(),
            app_secret: APP_SECRET.into(),
            webhook_url: format!("http://{hook_addr}/hook"),
        });
        let app = axum::Router::new().nest("/_sim", sim.router());
        let servers = vec![
            tokio::spawn(async move {
                let _ = axum::serve(hook_listener, capture).await;
            }),
            tokio::spawn(async move {
                let _ = axum::serve(sim_listener, app).await;
            }),
        ];
        let graph = adapters::graph::HttpGraph::new(
            sim.graph_url(),
            "1234567".into(),
            secrecy::SecretString::from(APP_SECRET.to_string()),
            adapters::graph::RetryPolicy::default(),
        )
        .expect("client");
        CapturedSim { sim, hooks, graph, _servers: servers }
    }

    fn page_token(&self, page: &str) -> secrecy::SecretString {
        let t = self.sim.graph().state().pages.iter().find(|p| p.id == page).expect("page").token.clone();
        secrecy::SecretString::from(t)
    }

    /// Subscribes the Page as the app does when it connects it.
    async fn connect(&self, page: &str) {
        use domain::graph::Graph;
        self.graph
            .subscribe_page(page, &self.page_token(page), domain::graph::SUBSCRIBED_FIELDS)
            .await
            .expect("subscribed");
    }

    /// The first captured webhook `pick` finds, its signature checked against the app secret.
    async fn hook(&self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let secrets =
            domain::signature::AppSecrets::from_list(&secrecy::SecretString::from(APP_SECRET.to_string()));
        eventually(5, what, || async {
            let hooks = self.hooks.lock().expect("hooks").clone();
            hooks.into_iter().find_map(|(sig, body)| {
                let v: Value = serde_json::from_str(&body).ok()?;
                if !pick(&v) {
                    return None;
                }
                assert!(secrets.verify(Some(sig.as_bytes()), body.as_bytes()).is_ok(), "unsigned: {body}");
                Some(v)
            })
        })
        .await
    }

    async fn comment(&self, page: &str, name: &str, text: &str) -> meta_sim::SimComment {
        let req = meta_sim::CommentRequest {
            page_id: page.into(),
            post_id: None,
            parent_id: None,
            who: meta_sim::Who { psid: None, customer_name: Some(name.into()) },
            text: text.into(),
        };
        self.sim.customer_comments(&req).await.expect("commented")
    }
}

fn feed_value(v: &Value) -> &Value {
    &v["entry"][0]["changes"][0]["value"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shops_public_reply_hide_and_delete_come_back_as_signed_feed_webhooks() {
    use domain::graph::Graph;
    let cs = CapturedSim::start().await;
    let page = &DEMO_PAGES[0];
    cs.connect(page.id).await;
    let c = cs.comment(page.id, "Đỗ Lan", "Áo này còn size S không?").await;
    assert!(c.delivered, "{c:?}");
    assert_ne!(c.author_id, c.psid, "a comment author id is not a PSID");
    let token = cs.page_token(page.id);

    let reply_id = cs.graph.reply_comment(&token, &c.comment_id, "Dạ còn ạ").await.expect("reply");
    let v = cs.hook("the Page's comment", |v| feed_value(v)["comment_id"] == reply_id.as_str()).await;
    let f = feed_value(&v);
    assert_eq!((&f["item"], &f["verb"]), (&json!("comment"), &json!("add")), "{v}");
    assert_eq!(f["from"]["id"], page.id);
    assert_eq!(f["parent_id"], c.comment_id.as_str());
    assert_eq!(f["post_id"], page.post_id);
    assert_eq!(f["message"], "Dạ còn ạ");
    assert_eq!(v["entry"][0]["id"], page.id);

    cs.graph.set_comment_hidden(&token, &c.comment_id, true).await.expect("hide");
    let hid = |verb: &'static str| {
        let id = c.comment_id.clone();
        move |v: &Value| feed_value(v)["comment_id"] == id.as_str() && feed_value(v)["verb"] == verb
    };
    let v = cs.hook("the hide", hid("hide")).await;
    assert_eq!(feed_value(&v)["from"]["id"], c.author_id.as_str());
    cs.graph.set_comment_hidden(&token, &c.comment_id, false).await.expect("unhide");
    cs.hook("the unhide", hid("unhide")).await;
    cs.graph.set_comment_hidden(&token, &c.comment_id, true).await.expect("hide again");
    let view = cs.sim.comment_view(Some(page.id));
    let mine = view.iter().find(|x| x["comment_id"] == c.comment_id.as_str()).expect("listed");
    assert_eq!((&mine["hidden"], &mine["from"]), (&json!(true), &json!("customer")));
    let answer = view.iter().find(|x| x["comment_id"] == reply_id.as_str()).expect("the reply");
    assert_eq!((&answer["from"], &answer["parent_id"]), (&json!("page"), &json!(c.comment_id)));

    cs.graph.delete_comment(&token, &c.comment_id).await.expect("delete");
    cs.hook("the removal", hid("remove")).await;
    let view = cs.sim.comment_view(Some(page.id));
    assert!(view.iter().any(|x| x["comment_id"] == c.comment_id.as_str() && x["deleted"] == true));
    // A Page not subscribed to feed is told nothing.
    let other = &DEMO_PAGES[1];
    let c2 = cs.comment(other.id, "Đỗ Lan", "Bánh mì còn không?").await;
    assert!(!c2.delivered);
    let id = cs.graph.reply_comment(&cs.page_token(other.id), &c2.comment_id, "Còn ạ").await.expect("reply");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!cs.hooks.lock().expect("hooks").iter().any(|(_, b)| b.contains(&id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_reply_lands_in_the_customers_thread_and_its_echo_carries_the_metadata() {
    use domain::graph::Graph;
    let cs = CapturedSim::start().await;
    let page = &DEMO_PAGES[2];
    cs.connect(page.id).await;
    let c = cs.comment(page.id, "Vũ Hải", "Ib giá giúp mình").await;
    let token = cs.page_token(page.id);
    let sent = cs
        .graph
        .private_reply(page.id, &token, &c.comment_id, "Chào anh, ốp giá 120k ạ", "reply:r9")
        .await
        .expect("private reply");
    assert_eq!(sent.recipient_id, c.psid, "the author's PSID, not their comment id");
    let v = cs
        .hook("the echo", |v| v["entry"][0]["messaging"][0]["message"]["mid"] == sent.message_id.as_str())
        .await;
    let m = &v["entry"][0]["messaging"][0];
    assert_eq!((&m["sender"]["id"], &m["recipient"]["id"]), (&json!(page.id), &json!(c.psid)), "{v}");
    assert_eq!((&m["message"]["is_echo"], &m["message"]["metadata"]), (&json!(true), &json!("reply:r9")));
    let t = cs.sim.thread(page.id, &c.psid).expect("thread");
    let msgs = t["messages"].as_array().expect("messages");
    assert!(msgs.iter().any(|m| m["from"] == "page" && m["text"] == "Chào anh, ốp giá 120k ạ"), "{t}");
    let view = cs.sim.comment_view(Some(page.id));
    assert!(view.iter().any(|x| x["comment_id"] == c.comment_id.as_str() && x["private_replied"] == true));
    // One per comment, as Meta allows.
    let e = cs.graph.private_reply(page.id, &token, &c.comment_id, "Lần hai", "").await.expect_err("second");
    assert_eq!(e.code, Some(10900));
    // The customer answers in Messenger: the same thread with the Page.
    let who = meta_sim::Who { psid: Some(c.psid.clone()), customer_name: None };
    let said = cs.sim.customer_says(page.id, &who, "Cho mình 2 cái").await.expect("said");
    assert!(said.delivered);
    let t = cs.sim.thread(page.id, &c.psid).expect("thread");
    assert_eq!(t["messages"].as_array().map(Vec::len), Some(2), "{t}");
}
