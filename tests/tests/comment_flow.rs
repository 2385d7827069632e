//! Page comments end to end, through the local stack and a fake Graph API, on both backends:
//! routing by a round-robin rule, a public reply that Meta's webhook about it does not double,
//! hide / unhide / delete, the one private reply and its hand-off (on a round-robin rule with two
//! agents, the Messenger follow-up goes to the private replier, not by turn), the refusals
//! (nothing reaches Meta), Meta's errors, auto-hide within 5 seconds, and history sync of
//! comments. Every log line of this test binary is captured (`integration_tests::flow`).

use integration_tests::fake_graph::{FakeComment, FakeFailure};
use integration_tests::flow::*;
use integration_tests::*;
use serde_json::{Value, json};

/// A signed `feed` notification of one comment change.
fn feed(page: &str, value: Value) -> String {
    json!({"object": "page", "entry": [{"id": page, "time": 1, "changes": [{"field": "feed", "value": value}]}]})
        .to_string()
}

/// A customer's (or the Page's) comment `verb` as Meta sends it.
fn comment_change(c: &FakeComment, verb: &str) -> Value {
    json!({
        "item": "comment", "verb": verb, "comment_id": c.id, "post_id": c.post_id,
        "parent_id": c.parent_id.clone().unwrap_or_else(|| c.post_id.clone()),
        "from": {"id": c.from_id, "name": c.from_name}, "message": c.text,
        "created_time": c.created_ms / 1000,
    })
}

async fn send(w: &World, conv: &str, token: &str, body: Value, key: &str) -> (u16, Value) {
    let r = http()
        .post(w.stack.url(&format!("/api/conversations/{conv}/messages")))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .expect("reply");
    (r.status().as_u16(), r.json::<Value>().await.unwrap_or_default())
}

async fn act(w: &World, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    let r = http().request(method, w.stack.url(path)).bearer_auth(token).send().await.expect("call");
    (r.status().as_u16(), r.json::<Value>().await.unwrap_or_default())
}

async fn conversation_when(w: &World, id: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    eventually(20, what, || async {
        let (s, c) = get_json(&w.stack, &format!("/api/conversations/{id}"), &w.owner).await;
        (s == 200 && ok(&c)).then_some(c)
    })
    .await
}

/// The shop's Page 1601 connected shared under a round-robin rule of agent0 and agent1.
async fn shared_page(w: &World) {
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1601", "Shop 1601", "page-token-1601", &["MANAGE"]);
    login(w, "c").await;
    add_agents(&w.stack, &w.owner, &shop_a(&["agent0", "agent1"])).await;
    let rule = json!({"name": "Bình luận", "agent_emails": ["agent0@shop-a.vn", "agent1@shop-a.vn"], "method": "round_robin"});
    let (s, b) = post_json(
        &w.stack,
        "/api/pages/1601/connect",
        &w.owner,
        json!({"chat_mode": "shared", "new_rule": rule}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

async fn comments_replies_moderation_and_the_hand_off(backend: Backend) {
    let w = world(backend).await;
    shared_page(&w).await;
    let now = domain::timefmt::now_ms();
    w.fake.add_post("1601", "1601_77", now - 60_000);
    let lan = FakeComment::new("1601_77", "77_1", "9001", "Lan", "Chốt áo M, sđt 0912 345 678", now - 30_000);
    w.fake.add_comment(lan.clone());
    w.fake.set_comment_author_psid("9001", "6001");
    assert_eq!(post_webhook(&w.stack, &feed("1601", comment_change(&lan, "add"))).await, 200);
    let conv_id = "1601_9001_p77";
    let conv =
        conversation_when(&w, conv_id, "the comment conversation assigned", |c| !c["assignee"].is_null())
            .await;
    assert_eq!((conv["kind"].as_str(), conv["post_id"].as_str()), (Some("comment"), Some("1601_77")));
    assert_eq!(conv["phones"], json!(["0912345678"]));
    let holder_email = conv["assignee"].as_str().expect("holder").to_string();
    let other_email =
        if holder_email == "agent0@shop-a.vn" { "agent1@shop-a.vn" } else { "agent0@shop-a.vn" }.to_string();
    let holder = token(&holder_email, "shop-a", "agent");
    let other = token(&other_email, "shop-a", "agent");
    let stranger = token("owner@shop-b.vn", "shop-b", "owner");

    // Refusals first: nothing reaches Meta.
    let public = |text: &str| json!({"text": text, "reply_to": "77_1"});
    // The other agent of the rule does not see a conversation another holds: 404, as for a stranger.
    let (s, b) = send(&w, conv_id, &other, public("Dạ"), "o-1").await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")), "{b}");
    assert_eq!(send(&w, conv_id, &stranger, public("Dạ"), "s-1").await.0, 404);
    assert_eq!(act(&w, reqwest::Method::POST, "/api/comments/77_1/hide", &other).await.0, 404);
    assert_eq!(act(&w, reqwest::Method::POST, "/api/comments/77_1/hide", &stranger).await.0, 404);
    assert_eq!(act(&w, reqwest::Method::DELETE, "/api/comments/77_1", &stranger).await.0, 404);
    let (s, b) = send(&w, conv_id, &holder, json!({"text": "Dạ", "reply_to": "77_9"}), "h-0").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("invalid_reply_to")), "{b}");
    let (s, b) = send(&w, conv_id, &holder, json!({"text": "Dạ"}), "h-00").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("invalid_reply_to")), "{b}");
    for route in ["reply_comment", "private_reply", "hide_comment", "delete_comment"] {
        assert_eq!(w.fake.request_count(route), 0, "{route}");
    }

    // The holder replies publicly; Meta's webhook about that reply, twice, is the same message.
    let (s, reply) = send(&w, conv_id, &holder, public("Dạ shop inbox bạn nhé"), "h-1").await;
    assert_eq!(s, 201, "{reply}");
    assert_eq!((reply["kind"].as_str(), reply["parent_id"].as_str()), (Some("comment"), Some("77_1")));
    let sent = w.fake.requests_to("reply_comment");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("access_token"), Some("page-token-1601"));
    let new_id = reply["id"].as_str().expect("new comment id").to_string();
    assert_eq!(reply["comment_id"].as_str(), Some(new_id.as_str()));
    // The same request again (same key): the first reply, nothing sent.
    let (s, again) = send(&w, conv_id, &holder, public("Dạ shop inbox bạn nhé"), "h-1").await;
    assert_eq!((s, again["id"].as_str()), (200, Some(new_id.as_str())), "{again}");
    assert_eq!(w.fake.request_count("reply_comment"), 1);
    let ours =
        FakeComment::new("1601_77", &new_id, "1601", "Shop 1601", "Dạ shop inbox bạn nhé", now).under("77_1");
    for _ in 0..2 {
        assert_eq!(post_webhook(&w.stack, &feed("1601", comment_change(&ours, "add"))).await, 200);
    }
    let thread = eventually(20, "the thread", || async {
        let m = try_all_messages(&w.stack, &w.owner, conv_id).await.ok()?;
        (m.len() == 2 && m.iter().all(|m| m["status"] != "unknown")).then_some(m)
    })
    .await;
    assert_eq!(thread.iter().filter(|m| m["id"] == new_id.as_str()).count(), 1, "{thread:?}");
    assert_eq!(
        thread.iter().find(|m| m["id"] == new_id.as_str()).map(|m| m["direction"].clone()),
        Some(json!("out"))
    );

    // An owner hides and unhides; Meta first, then the thread.
    let (s, b) = act(&w, reqwest::Method::POST, "/api/comments/77_1/hide", &w.owner).await;
    assert_eq!((s, b["hidden"].as_bool()), (200, Some(true)), "{b}");
    assert!(w.fake.comment("77_1").is_some_and(|c| c.hidden));
    let (s, b) = act(&w, reqwest::Method::POST, "/api/comments/77_1/unhide", &holder).await;
    assert_eq!((s, b["hidden"].as_bool()), (200, Some(false)), "{b}");
    assert!(w.fake.comment("77_1").is_some_and(|c| !c.hidden));
    // The Page's own reply is found by the id Meta gave it: Meta refuses to hide it (said in
    // words), and it can be deleted.
    let (s, b) = act(&w, reqwest::Method::POST, &format!("/api/comments/{new_id}/hide"), &holder).await;
    assert_eq!((s, b["error"]["code"].as_str()), (502, Some("graph_error")), "{b}");
    assert!(b["error"]["message"].as_str().is_some_and(|m| m.contains("cannot hide")), "{b}");
    let (s, b) = act(&w, reqwest::Method::DELETE, &format!("/api/comments/{new_id}"), &holder).await;
    assert_eq!((s, b["removed"].as_bool(), b["direction"].as_str()), (200, Some(true), Some("out")), "{b}");

    // The one private reply, by the holder.
    let private = json!({"text": "Chào Lan, áo M còn ạ", "reply_to": "77_1", "private": true});
    let (s, pr) = send(&w, conv_id, &holder, private.clone(), "h-2").await;
    assert_eq!(s, 201, "{pr}");
    let prs = w.fake.requests_to("private_reply");
    assert_eq!(prs.len(), 1);
    let body: Value = serde_json::from_str(&prs[0].body).expect("send body");
    assert_eq!(body["recipient"]["comment_id"], "77_1");
    let reply_id = body["message"]["metadata"].as_str().expect("metadata").to_string();
    assert!(reply_id.starts_with("reply:"), "{reply_id}");
    let msgs = all_messages(&w.stack, &w.owner, conv_id).await;
    let commented = msgs.iter().find(|m| m["id"] == "77_1").expect("the comment");
    assert_eq!(commented["private_replied"], true);
    // A second one, by anyone: 409, nothing sent.
    let (s, b) = send(&w, conv_id, &w.owner, private.clone(), "o-2").await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("already_private_replied")), "{b}");
    assert_eq!(w.fake.request_count("private_reply"), 1);

    // Meta echoes the private reply on the customer's PSID, then the customer answers in
    // Messenger: that conversation goes to the private replier, not to the rule's next turn.
    let mid = pr["id"].as_str().expect("mid").to_string();
    let echo = json!({"sender": {"id": "1601"}, "recipient": {"id": "6001"}, "timestamp": now,
        "message": {"mid": mid, "text": "Chào Lan, áo M còn ạ", "is_echo": true, "app_id": 1, "metadata": reply_id}});
    assert_eq!(post_webhook(&w.stack, &notification("1601", vec![echo])).await, 200);
    let answer = text_item("1601", "6001", domain::timefmt::now_ms(), "m_answer_1", "Mình ở Hà Nội");
    assert_eq!(post_webhook(&w.stack, &notification("1601", vec![answer])).await, 200);
    let messenger = conversation_when(&w, "1601_6001", "the hand-off", |c| {
        !c["assignee"].is_null() && !c["handoff"].is_null()
    })
    .await;
    assert_eq!(messenger["assignee"].as_str(), Some(holder_email.as_str()), "{messenger}");
    assert_eq!(messenger["kind"], "messenger");
    assert_eq!(messenger["handoff"]["by"].as_str(), Some(holder_email.as_str()));
    assert_eq!(messenger["handoff"]["from_conversation_id"], conv_id);
    assert_eq!(messenger["handoff"]["comment_id"], "77_1");
    let thread = eventually(20, "the private reply and the answer", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1601_6001").await.ok()?;
        (m.len() == 2).then_some(m)
    })
    .await;
    assert_eq!(thread.iter().filter(|m| m["id"] == "m_answer_1").count(), 1, "{thread:?}");
    // The next new conversation takes the turn the hand-off did not spend.
    let next = FakeComment::new("1601_77", "77_3", "9003", "Minh", "còn không shop", now);
    w.fake.add_comment(next.clone());
    assert_eq!(post_webhook(&w.stack, &feed("1601", comment_change(&next, "add"))).await, 200);
    let c =
        conversation_when(&w, "1601_9003_p77", "the next comment conversation", |c| !c["assignee"].is_null())
            .await;
    assert_eq!(c["assignee"].as_str(), Some(other_email.as_str()), "round robin went on: {c}");

    // Delete: gone at Meta, kept as removed; a reply to it is refused.
    let (s, b) = act(&w, reqwest::Method::DELETE, "/api/comments/77_1", &w.owner).await;
    assert_eq!(
        (s, b["removed"].as_bool(), b["text"].as_str()),
        (200, Some(true), Some("Chốt áo M, sđt 0912 345 678"))
    );
    assert!(w.fake.comment("77_1").is_some_and(|c| c.deleted));
    let (s, b) = send(&w, conv_id, &holder, public("alo"), "h-3").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("invalid_reply_to")), "{b}");

    // Eight days old: no private reply (refused before Meta).
    let old = FakeComment::new("1601_77", "77_2", "9002", "Hoa", "hết hàng chưa", now - 8 * 24 * 3_600_000);
    w.fake.add_comment(old.clone());
    assert_eq!(post_webhook(&w.stack, &feed("1601", comment_change(&old, "add"))).await, 200);
    conversation_when(&w, "1601_9002_p77", "the old comment", |c| !c["assignee"].is_null()).await;
    let (s, b) = send(
        &w,
        "1601_9002_p77",
        &w.owner,
        json!({"text": "Dạ", "reply_to": "77_2", "private": true}),
        "o-3",
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("outside_window")), "{b}");
    assert_eq!(w.fake.request_count("private_reply"), 1);

    // Meta's errors: a reply timing out is never sent again (unknown); a rate limit outlasting
    // the retries is 429; a dead token marks the Page lost.
    w.fake.fail_next("reply_comment", FakeFailure::AfterHandling { status: 500 });
    let (s, b) = send(&w, "1601_9002_p77", &w.owner, json!({"text": "Dạ", "reply_to": "77_2"}), "o-4").await;
    assert_eq!((s, b["reply"]["status"].as_str()), (502, Some("unknown")), "{b}");
    assert_eq!(w.fake.request_count("reply_comment"), 2, "one attempt, never repeated");
    for _ in 0..3 {
        w.fake
            .fail_next("hide_comment", FakeFailure::error(400, 4, None, "Application request limit reached"));
    }
    let (s, b) = act(&w, reqwest::Method::POST, "/api/comments/77_2/hide", &w.owner).await;
    assert_eq!((s, b["error"]["code"].as_str()), (429, Some("rate_limited")), "{b}");
    w.fake
        .fail_next("hide_comment", FakeFailure::error(400, 190, Some(460), "Error validating access token"));
    let (s, b) = act(&w, reqwest::Method::POST, "/api/comments/77_2/hide", &w.owner).await;
    assert_eq!((s, b["error"]["code"].as_str()), (502, Some("graph_error")), "{b}");
    assert_eq!(page(&pages(&w).await, "1601")["status"], "lost_connection");
    assert_no_token_in_logs(&["page-token-1601", "short-c"]);
}

async fn auto_hide_hides_phone_numbers_within_seconds(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1602", "Shop 1602", "page-token-1602", &["MANAGE"]);
    login(&w, "c").await;
    let (s, b) =
        post_json(&w.stack, "/api/pages/1602/connect", &w.owner, json!({"chat_mode": "only_me"})).await;
    assert_eq!(s, 200, "{b}");
    let r = http()
        .put(w.stack.url("/api/pages/1602/comment-settings"))
        .bearer_auth(&w.owner)
        .json(&json!({"auto_hide": "phone"}))
        .send()
        .await
        .expect("settings");
    assert_eq!(r.status().as_u16(), 200);
    let now = domain::timefmt::now_ms();
    w.fake.add_post("1602", "1602_5", now);
    let with_phone = FakeComment::new("1602_5", "5_1", "9101", "An", "ib mình +84 912.345.678 nha", now);
    let without = FakeComment::new("1602_5", "5_2", "9102", "Bình", "giá 350.000đ hả shop", now);
    w.fake.add_comment(with_phone.clone());
    w.fake.add_comment(without.clone());
    let sent = std::time::Instant::now();
    for c in [&with_phone, &without] {
        assert_eq!(post_webhook(&w.stack, &feed("1602", comment_change(c, "add"))).await, 200);
    }
    let hidden = eventually(5, "the comment with a number hidden within 5 s", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1602_9101_p5").await.ok()?;
        m.first().filter(|m| m["hidden"] == true).cloned()
    })
    .await;
    println!("auto-hide: stored hidden {} ms after the webhook", sent.elapsed().as_millis());
    assert_eq!(hidden["id"], "5_1");
    assert!(w.fake.comment("5_1").is_some_and(|c| c.hidden), "hidden at Meta");
    let c = conversation_when(&w, "1602_9101_p5", "phones", |c| c["phones"].is_array()).await;
    assert_eq!(c["phones"], json!(["0912345678"]));
    let plain = eventually(10, "the other comment", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1602_9102_p5").await.ok()?;
        m.first().cloned()
    })
    .await;
    assert_eq!(plain["hidden"], false, "a price is no phone number");
    assert!(w.fake.comment("5_2").is_some_and(|c| !c.hidden));
    assert_eq!(w.fake.request_count("hide_comment"), 1);
    // The shop unhides it; Meta redelivering the comment does not hide it again.
    let (s, _) = act(&w, reqwest::Method::POST, "/api/comments/5_1/unhide", &w.owner).await;
    assert_eq!(s, 200);
    assert_eq!(post_webhook(&w.stack, &feed("1602", comment_change(&with_phone, "add"))).await, 200);
    let marker = FakeComment::new("1602_5", "5_3", "9101", "An", "cảm ơn shop", now + 1000);
    w.fake.add_comment(marker.clone());
    assert_eq!(post_webhook(&w.stack, &feed("1602", comment_change(&marker, "add"))).await, 200);
    eventually(10, "the later comment", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1602_9101_p5").await.ok()?;
        (m.len() == 2).then_some(())
    })
    .await;
    assert_eq!(w.fake.request_count("hide_comment"), 2, "the unhide only: no second hide");
    assert!(w.fake.comment("5_1").is_some_and(|c| !c.hidden));
    // A failing hide never holds the comment back: stored visible.
    for _ in 0..4 {
        w.fake.fail_next("hide_comment", FakeFailure::error(500, 2, None, "Service temporarily unavailable"));
    }
    let failing = FakeComment::new("1602_5", "5_4", "9104", "Cúc", "0987654321", now);
    w.fake.add_comment(failing.clone());
    assert_eq!(post_webhook(&w.stack, &feed("1602", comment_change(&failing, "add"))).await, 200);
    let m = eventually(20, "the comment whose hide failed", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1602_9104_p5").await.ok()?;
        m.first().cloned()
    })
    .await;
    assert_eq!(m["hidden"], false);
}

async fn history_sync_brings_recent_comments(backend: Backend) {
    let w = world(backend).await;
    w.fake.add_code("c", "short-c");
    w.fake.add_page("1603", "Shop 1603", "page-token-1603", &["MANAGE"]);
    let now = domain::timefmt::now_ms();
    w.fake.add_post("1603", "1603_8", now - 3_600_000);
    w.fake.add_post("1603", "1603_9", now - 60 * 24 * 3_600_000);
    let mut hidden = FakeComment::new("1603_8", "8_1", "9201", "Dung", "chốt 2 cái", now - 3_000_000);
    hidden.hidden = true;
    let answer = FakeComment::new("1603_8", "8_2", "1603", "Shop 1603", "Dạ shop inbox ạ", now - 2_000_000)
        .under("8_1");
    let ancient = FakeComment::new("1603_9", "9_1", "9202", "Én", "cũ rồi", now - 59 * 24 * 3_600_000);
    for c in [&hidden, &answer, &ancient] {
        w.fake.add_comment(c.clone());
    }
    w.fake.set_comments_page_size(1);
    login(&w, "c").await;
    let (s, b) =
        post_json(&w.stack, "/api/pages/1603/connect", &w.owner, json!({"chat_mode": "only_me"})).await;
    assert_eq!(s, 200, "{b}");
    let thread = eventually(30, "the synced comment thread", || async {
        let m = try_all_messages(&w.stack, &w.owner, "1603_9201_p8").await.ok()?;
        (m.len() == 2).then_some(m)
    })
    .await;
    let theirs = thread.iter().find(|m| m["id"] == "8_1").expect("the customer's comment");
    assert_eq!((theirs["hidden"].as_bool(), theirs["direction"].as_str()), (Some(true), Some("in")));
    let ours = thread.iter().find(|m| m["id"] == "8_2").expect("the Page's answer");
    assert_eq!(ours["direction"], "out");
    let c = conversation_when(&w, "1603_9201_p8", "assigned", |c| !c["assignee"].is_null()).await;
    assert_eq!(c["assignee"], "owner@shop-a.vn");
    assert_eq!(c["customer_name"], "Dung");
    // The post older than 30 days is not read.
    let (s, _) = get_json(&w.stack, "/api/conversations/1603_9202_p9", &w.owner).await;
    assert_eq!(s, 404);
    assert!(w.fake.requests_to("comments").iter().all(|r| !r.path.contains("1603_9")));
}

/// The Page answered on Facebook itself, and Meta delivers the answer in the same POST as (and
/// before) the comment it answers: they travel in two queue groups, and the answer still finds
/// its comment.
async fn the_pages_answer_before_its_comment_still_joins_it(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", "1604").await;
    let now = domain::timefmt::now_ms();
    let theirs = FakeComment::new("1604_3", "3_1", "9301", "Giang", "size L còn không", now - 5_000);
    let ours = FakeComment::new("1604_3", "3_2", "1604", "Shop", "Dạ còn ạ", now).under("3_1");
    let body = json!({"object": "page", "entry": [{"id": "1604", "time": now, "changes": [
        {"field": "feed", "value": comment_change(&ours, "add")},
        {"field": "feed", "value": comment_change(&theirs, "add")},
    ]}]});
    assert_eq!(post_webhook(&stack, &body.to_string()).await, 200);
    let thread = eventually(20, "both comments in the customer's thread", || async {
        let m = try_all_messages(&stack, &owner, "1604_9301_p3").await.ok()?;
        (m.len() == 2).then_some(m)
    })
    .await;
    let dirs: Vec<_> = thread.iter().map(|m| (m["id"].as_str(), m["direction"].as_str())).collect();
    assert!(
        dirs.contains(&(Some("3_2"), Some("out"))) && dirs.contains(&(Some("3_1"), Some("in"))),
        "{dirs:?}"
    );
}

integration_tests::on_both_backends!(
    the_pages_answer_before_its_comment_still_joins_it,
    comments_replies_moderation_and_the_hand_off,
    auto_hide_hides_phone_numbers_within_seconds,
    history_sync_brings_recent_comments,
);
