//! Replies through the Send API of a fake Graph API: the 24-hour window and the Human Agent tag,
//! echoes, Meta's errors and what they leave in the thread, who may reply, and on a shared Page
//! only the agent holding the conversation. Every log line of this test binary is captured
//! (`integration_tests::flow`).

use integration_tests::fake_graph::FakeFailure;
use integration_tests::flow::*;
use integration_tests::*;
use serde_json::{Value, json};

async fn replies_follow_the_window_and_meta_errors(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1501", "Shop", "page-token-1501", &["MANAGE"]);
    login(&w, "c").await;
    let (s, _) =
        post_json(&w.stack, "/api/pages/1501/connect", &w.owner, json!({"chat_mode":"only_me"})).await;
    assert_eq!(s, 200);
    let now = domain::timefmt::now_ms();
    let h = 3_600_000i64;
    for (c, age) in [("61", h), ("63", 72 * h), ("68", 8 * 24 * h)] {
        let body =
            notification("1501", vec![text_item("1501", c, now - age, &format!("in-{c}"), "alo shop")]);
        assert_eq!(post_webhook(&w.stack, &body).await, 200);
    }
    eventually(20, "three conversations", || async {
        let (_, b) = get_json(&w.stack, "/api/conversations?view=all", &w.owner).await;
        (b["items"].as_array()?.len() == 3 && b["items"].as_array()?.iter().all(|c| !c["assignee"].is_null()))
            .then_some(())
    })
    .await;
    let reply = |conv: &'static str, token: String, text: &'static str| {
        let url = w.stack.url(&format!("/api/conversations/{conv}/messages"));
        async move {
            let r =
                http().post(url).bearer_auth(token).json(&json!({"text": text})).send().await.expect("reply");
            let status = r.status().as_u16();
            let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
            (status, r.json::<Value>().await.unwrap_or_default(), retry_after)
        }
    };
    let count = |conv: &'static str| {
        let stack = &w.stack;
        let owner = w.owner.clone();
        async move { all_messages(stack, &owner, conv).await.len() }
    };
    // Inside 24 h: RESPONSE, with the Page token, to the customer.
    let (s, b, _) = reply("1501_61", w.owner.clone(), "Dạ còn ạ").await;
    assert_eq!(s, 201, "{b}");
    assert_eq!((b["id"].as_str(), b["direction"].as_str()), (Some("m_sent_1"), Some("out")));
    let sent = w.fake.requests_to("send");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("access_token"), Some("page-token-1501"));
    let body: Value = serde_json::from_str(&sent[0].body).expect("send body");
    assert_eq!(body["messaging_type"], "RESPONSE");
    assert_eq!(body["recipient"]["id"], "61");
    assert_eq!(body["message"]["text"], "Dạ còn ạ");
    // The echo of that reply is the same message; an echo from Meta's own inbox is stored as outgoing.
    let echo = |mid: &str, app: Option<u64>| {
        let mut m = json!({"mid": mid, "text": "Dạ còn ạ", "is_echo": true});
        if let Some(a) = app {
            m["app_id"] = json!(a);
        }
        notification(
            "1501",
            vec![json!({"sender":{"id":"1501"},"recipient":{"id":"61"},"timestamp": now, "message": m})],
        )
    };
    assert_eq!(post_webhook(&w.stack, &echo("m_sent_1", Some(123))).await, 200);
    assert_eq!(post_webhook(&w.stack, &echo("m_inbox_1", None)).await, 200);
    let msgs = eventually(20, "the inbox echo", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1501_61").await.ok()?;
        m.iter().any(|m| m["id"] == "m_inbox_1").then_some(m)
    })
    .await;
    assert_eq!(msgs.iter().filter(|m| m["id"] == "m_sent_1").count(), 1, "send then echo: one message");
    assert_eq!(
        msgs.iter().find(|m| m["id"] == "m_inbox_1").map(|m| m["direction"].clone()),
        Some(json!("out"))
    );
    // Three days: only with the Human Agent tag enabled.
    let (s, b, _) = reply("1501_63", w.owner.clone(), "Xin lỗi đã trả lời muộn").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("outside_window")), "{b}");
    let r = http()
        .put(w.stack.url("/api/settings"))
        .bearer_auth(&w.owner)
        .json(&json!({"human_agent_tag": true}))
        .send()
        .await
        .expect("settings");
    assert_eq!(r.status().as_u16(), 200);
    let (s, b, _) = reply("1501_63", w.owner.clone(), "Xin lỗi đã trả lời muộn").await;
    assert_eq!(s, 201, "{b}");
    let body: Value =
        serde_json::from_str(&w.fake.requests_to("send").last().expect("sent").body).expect("body");
    assert_eq!(
        (body["messaging_type"].as_str(), body["tag"].as_str()),
        (Some("MESSAGE_TAG"), Some("HUMAN_AGENT"))
    );
    // Eight days: closed, whatever the setting.
    let (s, b, _) = reply("1501_68", w.owner.clone(), "alo").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("outside_window")), "{b}");
    assert_eq!(count("1501_68").await, 1);
    // Meta's errors: each leaves the reply in the thread, failed (refused) or unknown (5xx:
    // not retried, it may have gone out), and one request at Meta (rate limits excepted).
    let before = count("1501_61").await;
    let cases: Vec<(Vec<FakeFailure>, u16, &str, &str)> = vec![
        (
            vec![FakeFailure::error(400, 551, Some(1545041), "This person isn't available right now.")],
            422,
            "recipient_unavailable",
            "failed",
        ),
        (
            vec![FakeFailure::error(400, 10, Some(2018278), "Message sent outside allowed window")],
            422,
            "outside_window",
            "failed",
        ),
        (
            vec![FakeFailure::error(400, 4, None, "Application request limit reached"); 3],
            429,
            "rate_limited",
            "failed",
        ),
        (
            vec![FakeFailure::error(500, 2, None, "Service temporarily unavailable")],
            502,
            "graph_error",
            "unknown",
        ),
    ];
    for (n, (failures, status, code, reply_status)) in cases.into_iter().enumerate() {
        for f in failures {
            w.fake.fail_next("send", f);
        }
        let (s, b, retry_after) = reply("1501_61", w.owner.clone(), "thử lại").await;
        assert_eq!((s, b["error"]["code"].as_str()), (status, Some(code)), "{b}");
        assert_eq!(b["reply"]["status"].as_str(), Some(reply_status), "{b}");
        if status == 429 {
            assert_eq!(retry_after.as_deref(), Some("60"));
        }
        assert_eq!(count("1501_61").await, before + n + 1, "the reply stays, with its status, after {code}");
    }
    let before = count("1501_61").await;
    assert_eq!(page(&pages(&w).await, "1501")["status"], "connected");
    // Who may not reply: an agent who does not hold it, another shop's owner.
    let (s, _) =
        post_json(&w.stack, "/api/members", &w.owner, json!({"email":"ag@shop-a.vn","role":"agent"})).await;
    assert_eq!(s, 201);
    let (s, _, _) = reply("1501_61", token("ag@shop-a.vn", "shop-a", "agent"), "x").await;
    assert!(s == 403 || s == 404, "{s}");
    let (s, _, _) = reply("1501_61", token("owner@shop-b.vn", "shop-b", "owner"), "x").await;
    assert_eq!(s, 404);
    let (s, b, _) = reply("1501_61", w.owner.clone(), "").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("invalid_text")));
    // 190 on send: the Page goes to lost connection and the caller is told why.
    w.fake.fail_next(
        "send",
        FakeFailure::error(
            400,
            190,
            Some(460),
            "The session has been invalidated because the user changed their password",
        ),
    );
    let (s, b, _) = reply("1501_61", w.owner.clone(), "thử lại").await;
    assert_eq!((s, b["error"]["code"].as_str()), (502, Some("graph_error")), "{b}");
    assert_eq!(b["reply"]["status"], "failed", "{b}");
    assert_eq!(count("1501_61").await, before + 1);
    let p = page(&pages(&w).await, "1501").clone();
    assert_eq!(p["status"], "lost_connection");
    assert!(p["lost_reason"].as_str().is_some_and(|r| r.contains("password")));
    // Whatever this binary logged so far (its other test included, if it ran first).
    assert_no_token_in_logs(&["page-token-", "short-c", "long-short-c"]);
}

/// On a shared Page, only the agent holding a conversation may reply (owners and admins
/// neither, while an agent holds it: `docs/rules.md`): the rule's other agent, an agent of
/// another rule and another shop's owner are refused, and nothing reaches Meta for them.
async fn only_the_holder_of_a_shared_conversation_replies(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1701", "Shop A1", "page-token-1701", &["MANAGE"]);
    w.fake.add_page("1702", "Shop A2", "page-token-1702", &["MANAGE"]);
    login(&w, "c").await;
    add_agents(&w.stack, &w.owner, &shop_a(&["a1", "a2", "a3"])).await;
    for (page, name, agents) in
        [("1701", "Ca sáng", vec!["a1@shop-a.vn", "a2@shop-a.vn"]), ("1702", "Ca tối", vec!["a3@shop-a.vn"])]
    {
        let new_rule = json!({"name": name, "agent_emails": agents, "method": "round_robin"});
        let (s, b) = post_json(
            &w.stack,
            &format!("/api/pages/{page}/connect"),
            &w.owner,
            json!({"chat_mode": "shared", "new_rule": new_rule}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let now = domain::timefmt::now_ms();
    let body =
        notification("1701", vec![text_item("1701", "71", now - 60_000, "in-71", "Còn size L không?")]);
    assert_eq!(post_webhook(&w.stack, &body).await, 200);
    let holder = eventually(20, "the conversation assigned in turn", || async {
        let (_, c) = get_json(&w.stack, "/api/conversations/1701_71", &w.owner).await;
        c["assignee"].as_str().map(String::from)
    })
    .await;
    let other = if holder == "a1@shop-a.vn" { "a2@shop-a.vn" } else { "a1@shop-a.vn" };
    let reply = |who: String, tenant: &'static str, role: &'static str| {
        let url = w.stack.url("/api/conversations/1701_71/messages");
        async move {
            let r = http()
                .post(url)
                .bearer_auth(token(&who, tenant, role))
                .json(&json!({"text": "Dạ còn ạ"}))
                .send()
                .await
                .expect("reply");
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or_default())
        }
    };
    let (s, b) = reply(other.to_string(), "shop-a", "agent").await;
    assert!(s == 403 || s == 404, "the rule's other agent: {s} {b}");
    let (s, b) = reply("a3@shop-a.vn".into(), "shop-a", "agent").await;
    assert!(s == 403 || s == 404, "an agent of another rule: {s} {b}");
    let (s, b) = reply("owner@shop-b.vn".into(), "shop-b", "owner").await;
    assert_eq!(s, 404, "another shop's owner: {b}");
    assert!(w.fake.requests_to("send").is_empty(), "nothing was sent for a refused reply");
    // The holder replies: inside 24 h, with the Page's own token.
    let (s, b) = reply(holder.clone(), "shop-a", "agent").await;
    assert_eq!(s, 201, "the holder: {b}");
    let sent = w.fake.requests_to("send");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("access_token"), Some("page-token-1701"));
    let sent_body: Value = serde_json::from_str(&sent[0].body).expect("send body");
    assert_eq!(sent_body["messaging_type"], "RESPONSE");
    assert_eq!(sent_body["recipient"]["id"], "71");
}

integration_tests::on_both_backends!(
    replies_follow_the_window_and_meta_errors,
    only_the_holder_of_a_shared_conversation_replies,
);
