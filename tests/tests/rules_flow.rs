//! Assignment rules through the admin API with Pages connected through a fake Graph API: the
//! refusals, connecting shared with a new or existing rule, round-robin assignment, replacing and
//! deleting a rule, tenant isolation, and an only-me Page joining a rule handing its old
//! conversations over. Every log line of this test binary is captured (`integration_tests::flow`).

use std::collections::HashMap;

use integration_tests::flow::*;
use integration_tests::*;
use serde_json::json;

async fn rules_through_the_api(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    for p in ["1301", "1302", "1303"] {
        w.fake.add_page(p, &format!("Shop {p}"), &format!("page-token-{p}"), &["MANAGE"]);
    }
    login(&w, "c").await;
    add_agents(&w.stack, &w.owner, &shop_a(&["agent0", "agent1", "agent2"])).await;
    let rule = |name: &str, pages: Vec<&str>, agents: Vec<&str>, method: &str| json!({"name": name, "page_ids": pages, "agent_emails": agents, "method": method, "old_conversations": "none"});
    // Refusals, each clear.
    for (body, status, code) in [
        (rule("A", vec![], vec!["agent0@shop-a.vn"], "round_robin"), 422, "no_pages"),
        (rule("A", vec!["1303"], vec![], "round_robin"), 422, "no_agents"),
        (
            rule("A", vec!["1303"], vec!["agent0@shop-a.vn", "x@y.vn", "z@y.vn"], "round_robin"),
            422,
            "unknown_emails",
        ),
        (rule("A", vec!["9999"], vec!["agent0@shop-a.vn"], "round_robin"), 422, "unknown_pages"),
        (rule("A", vec!["1303"], vec!["agent0@shop-a.vn"], "lottery"), 422, "invalid_method"),
        (rule(" ", vec!["1303"], vec!["agent0@shop-a.vn"], "round_robin"), 422, "invalid_name"),
    ] {
        let (s, b) = post_json(&w.stack, "/api/rules", &w.owner, body).await;
        assert_eq!((s, b["error"]["code"].as_str()), (status, Some(code)), "{b}");
        if code == "unknown_emails" {
            let m = b["error"]["message"].as_str().unwrap_or_default();
            assert!(m.contains("x@y.vn") && m.contains("z@y.vn") && !m.contains("agent0"), "{m}");
        }
    }
    // Connect 1301 shared with a new rule, atomically.
    let new_rule = json!({"name": "Bán hàng", "agent_emails": ["agent0@shop-a.vn", "Agent1@Shop-A.vn"], "method": "round_robin"});
    let (s, b) = post_json(
        &w.stack,
        "/api/pages/1301/connect",
        &w.owner,
        json!({"chat_mode": "shared", "new_rule": new_rule}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["chat_mode"], "shared");
    let rule_id = b["rule_id"].as_str().expect("rule id").to_string();
    let (s, r) = get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await;
    assert_eq!(s, 200);
    assert_eq!(r["page_ids"], json!(["1301"]));
    assert_eq!(r["agent_emails"], json!(["agent0@shop-a.vn", "agent1@shop-a.vn"]));
    // The same name in another case; a Page already in a rule.
    let (s, b) = post_json(
        &w.stack,
        "/api/rules",
        &w.owner,
        rule("BÁN HÀNG", vec!["1303"], vec!["agent2@shop-a.vn"], "self_claim"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("rule_name_taken")), "{b}");
    let (s, b) = post_json(
        &w.stack,
        "/api/rules",
        &w.owner,
        rule("Tự nhận", vec!["1301"], vec!["agent2@shop-a.vn"], "self_claim"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("page_in_other_rule")), "{b}");
    assert!(b["error"]["message"].as_str().is_some_and(|m| m.contains("Bán hàng")), "{b}");
    // 1302 joins the existing rule.
    let (s, b) = post_json(
        &w.stack,
        "/api/pages/1302/connect",
        &w.owner,
        json!({"chat_mode": "shared", "rule_id": rule_id}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, r) = get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await;
    assert_eq!(r["page_ids"], json!(["1301", "1302"]));
    // Four new customers: two each, in turn.
    for (i, p) in ["1301", "1302", "1301", "1302"].iter().enumerate() {
        let body = notification(
            p,
            vec![text_item(p, &format!("77{i}"), 1_764_000_000_000 + i as i64, &format!("rr-{i}"), "alo")],
        );
        assert_eq!(post_webhook(&w.stack, &body).await, 200);
    }
    let per_agent = eventually(20, "four assigned conversations", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=all", &w.owner).await;
        let items = b["items"].as_array()?.clone();
        if items.len() < 4 || items.iter().any(|c| c["assignee"].is_null()) {
            return None;
        }
        let mut m: HashMap<String, usize> = HashMap::new();
        for c in items {
            *m.entry(c["assignee"].as_str()?.to_string()).or_default() += 1;
        }
        Some(m)
    })
    .await;
    assert_eq!(per_agent.get("agent0@shop-a.vn"), Some(&2), "{per_agent:?}");
    assert_eq!(per_agent.get("agent1@shop-a.vn"), Some(&2), "{per_agent:?}");
    // An agent is refused on every management route.
    let agent = token("agent0@shop-a.vn", "shop-a", "agent");
    assert_eq!(get_json(&w.stack, "/api/rules", &agent).await.0, 403);
    assert_eq!(get_json(&w.stack, &format!("/api/rules/{rule_id}"), &agent).await.0, 403);
    assert_eq!(
        post_json(
            &w.stack,
            "/api/rules",
            &agent,
            rule("X", vec!["1303"], vec!["agent0@shop-a.vn"], "self_claim")
        )
        .await
        .0,
        403
    );
    assert_eq!(
        post_json(&w.stack, "/api/pages/1303/connect", &agent, json!({"chat_mode":"only_me"})).await.0,
        403
    );
    assert_eq!(post_json(&w.stack, "/api/pages/1303/disconnect", &agent, json!({})).await.0, 403);
    assert_eq!(
        post_json(&w.stack, "/api/members", &agent, json!({"email":"n@x.vn","role":"agent"})).await.0,
        403
    );
    assert_eq!(get_json(&w.stack, "/api/facebook/login-url", &agent).await.0, 403);
    // Replace the rule: 1302 leaves it (back to only-me), agents change, policy recorded.
    let put = json!({"name": "Bán hàng 2", "page_ids": ["1301"], "agent_emails": ["agent0@shop-a.vn", "agent2@shop-a.vn"],
        "method": "round_robin", "old_conversations": "all"});
    let r = http()
        .put(w.stack.url(&format!("/api/rules/{rule_id}")))
        .bearer_auth(&w.owner)
        .json(&put)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let (_, r) = get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await;
    assert_eq!((r["name"].as_str(), r["page_ids"].clone()), (Some("Bán hàng 2"), json!(["1301"])));
    assert_eq!(r["old_conversations_chosen_by"], "owner@shop-a.vn");
    let list = pages(&w).await;
    assert_eq!(
        (page(&list, "1302")["chat_mode"].as_str(), page(&list, "1302")["rule_id"].is_null()),
        (Some("only_me"), true)
    );
    let body = notification("1302", vec![text_item("1302", "880", 1_764_000_001_000, "after-put", "alo")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    let c = eventually(20, "the only-me conversation", || async {
        let (s, c) = get_json(&w.stack, "/api/conversations/1302_880", &w.owner).await;
        (s == 200 && !c["assignee"].is_null()).then_some(c)
    })
    .await;
    assert_eq!(c["assignee"], "owner@shop-a.vn");
    // Deleting a rule with Pages is refused; once its last Page moves out, it goes.
    let del = |t: String| {
        let url = w.stack.url(&format!("/api/rules/{rule_id}"));
        async move { http().delete(url).bearer_auth(t).send().await.expect("delete").status().as_u16() }
    };
    assert_eq!(del(w.owner.clone()).await, 409);
    let (s, b) =
        post_json(&w.stack, "/api/pages/1301/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["rule_id"].is_null());
    assert_eq!(get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await.1["page_ids"], json!([]));
    assert_eq!(del(agent.clone()).await, 403);
    assert_eq!(del(w.owner.clone()).await, 204);
    assert_eq!(get_json(&w.stack, &format!("/api/rules/{rule_id}"), &w.owner).await.0, 404);
    // Another shop sees none of it.
    let other = token("owner@shop-b.vn", "shop-b", "owner");
    assert_eq!(get_json(&w.stack, &format!("/api/rules/{rule_id}"), &other).await.0, 404);
    assert_eq!(get_json(&w.stack, "/api/rules", &other).await.1["items"], json!([]));
    let (s, _) = post_json(
        &w.stack,
        "/api/pages/1303/connect",
        &other,
        json!({"chat_mode":"shared","rule_id": rule_id}),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(get_json(&w.stack, "/api/conversations/1301_770/messages", &other).await.0, 404);
    // Whatever this binary logged so far (its other test included, if it ran first).
    assert_no_token_in_logs(&["page-token-", "short-c", "long-short-c"]);
}

async fn an_only_me_page_joining_a_rule_hands_its_old_conversations_over(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1601", "Shop", "page-token-1601", &["MANAGE"]);
    let now = domain::timefmt::now_ms() / 1000 * 1000;
    for i in 0..4i64 {
        let customer = format!("600{i}");
        let mid = format!("o-{i}");
        w.fake.add_conversation(
            "1601",
            &format!("t_{i}"),
            now - 60_000 + i * 1000,
            &customer,
            vec![(mid.as_str(), now - 60_000 + i * 1000, customer.as_str(), "hi")],
        );
    }
    login(&w, "c").await;
    let (s, _) =
        post_json(&w.stack, "/api/pages/1601/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200);
    eventually(30, "four synced conversations held by the owner", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=mine", &w.owner).await;
        (b["items"].as_array()?.len() == 4).then_some(())
    })
    .await;
    add_agents(&w.stack, &w.owner, &shop_a(&["a", "b"])).await;
    let body = json!({"name": "Chia đều", "page_ids": ["1601"], "agent_emails": ["a@shop-a.vn", "b@shop-a.vn"],
        "method": "round_robin", "old_conversations": "all"});
    let (s, b) = post_json(&w.stack, "/api/rules", &w.owner, body).await;
    assert_eq!(s, 201, "{b}");
    let per = eventually(30, "the owner's old conversations handed to the rule's agents", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=all", &w.owner).await;
        let items = b["items"].as_array()?.clone();
        let mut m: HashMap<String, usize> = HashMap::new();
        for c in &items {
            *m.entry(c["assignee"].as_str().unwrap_or("-").to_string()).or_default() += 1;
        }
        (m.get("a@shop-a.vn") == Some(&2) && m.get("b@shop-a.vn") == Some(&2)).then_some(m)
    })
    .await;
    assert_eq!(per.len(), 2, "{per:?}");
    assert_eq!(page(&pages(&w).await, "1601")["chat_mode"], "shared");
}

integration_tests::on_both_backends!(
    rules_through_the_api,
    an_only_me_page_joining_a_rule_hands_its_old_conversations_over,
);
