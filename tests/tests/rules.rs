//! Sharing rules under concurrency, on the in-memory twin and on DynamoDB (moto): round robin
//! from the rule's atomic counter, and self-claim decided by a conditional write.

use std::collections::HashMap;

use adapters::Stores;
use domain::model::{ChatMode, Method, OldConversations, PageStatus, Rule};
use domain::ports::{ClaimOutcome, ConversationFilter, StoreError, StoredPage};
use integration_tests::Backend;

async fn stores(backend: Backend) -> Stores {
    integration_tests::backends(backend, 30, 5).await.0
}

fn rule(id: &str, name: &str, agents: usize, method: Method) -> Rule {
    Rule {
        id: id.into(),
        name: name.into(),
        page_ids: vec!["P".into()],
        agent_emails: (0..agents).map(|i| format!("agent{i}@shop-a.vn")).collect(),
        method,
        old_conversations: OldConversations::None,
        policy_chosen_by: None,
        policy_chosen_at: None,
    }
}

/// Page P of shop-a connected (only me), then `rule` created over it: P switches to shared
/// mode under the rule, as a shop owner would do it.
async fn shared_page(s: &Stores, rule: &Rule) {
    integration_tests::connect_only_me(s, "shop-a", "P", "owner@shop-a.vn", PageStatus::Connected).await;
    agents_are_members(s, "shop-a", rule).await;
    s.rules.create_rule("shop-a", rule, &["P".to_string()]).await.expect("rule");
    let r = s.pages.page_route("P").await.expect("route").expect("route exists");
    assert_eq!((r.chat_mode, r.rule_id.as_deref()), (ChatMode::Shared, Some(rule.id.as_str())));
    let StoredPage { record: p, .. } = s.pages.page("shop-a", "P").await.expect("page").expect("page exists");
    assert_eq!((p.chat_mode, p.rule_id.as_deref()), (Some(ChatMode::Shared), Some(rule.id.as_str())));
}

/// The rule's agents become members of the shop (a rule only names members).
async fn agents_are_members(s: &Stores, tenant: &str, rule: &Rule) {
    for email in &rule.agent_emails {
        let m = domain::model::Member { email: email.clone(), role: domain::model::Role::Agent };
        s.members.add_member(tenant, &m).await.expect("add member");
    }
}

fn record(i: usize) -> assignment::Record {
    let body = integration_tests::notification(
        "P",
        vec![integration_tests::text_item(
            "P",
            &format!("C{i:03}"),
            1_000 + i as i64,
            &format!("m{i}"),
            "xin chào",
        )],
    );
    let parsed = domain::meta::parse_notification(body.as_bytes()).expect("parse");
    let plan =
        domain::event::plan_queue_messages(parsed.events, domain::event::MAX_QUEUE_BODY_BYTES).expect("plan");
    assignment::Record {
        message_id: format!("r{i}"),
        group_id: Some(plan[0].group_id.clone()),
        body: plan[0].body.clone(),
    }
}

async fn all_conversations(s: &Stores) -> Vec<domain::model::Conversation> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let p = s
            .conversations
            .list_conversations("shop-a", &ConversationFilter::All { page_id: None }, cursor.as_deref(), 100)
            .await
            .expect("list");
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

async fn round_robin_spreads_300_conversations_over_7_agents_with_8_workers(backend: Backend) {
    let s = stores(backend).await;
    shared_page(&s, &rule("rr", "Bán hàng", 7, Method::RoundRobin)).await;
    // Eight workers, each its own instance (as eight Lambda sandboxes), all at once.
    let chunks: Vec<Vec<assignment::Record>> =
        (0..8).map(|w| (0..300).filter(|i| i % 8 == w).map(record).collect()).collect();
    let runs = chunks.into_iter().map(|chunk| {
        let worker = assignment::Worker::new(s.clone());
        async move {
            for batch in chunk.chunks(10) {
                let out = worker.handle_batch(batch.to_vec()).await;
                assert!(out.failed.is_empty(), "{:?}", out.failed);
            }
        }
    });
    futures::future::join_all(runs).await;
    let convs = all_conversations(&s).await;
    assert_eq!(convs.len(), 300);
    let mut per_agent: HashMap<String, usize> = HashMap::new();
    for c in &convs {
        *per_agent.entry(c.assignee.clone().expect("assigned")).or_default() += 1;
    }
    assert_eq!(per_agent.len(), 7);
    assert!(per_agent.values().all(|n| *n == 42 || *n == 43), "{per_agent:?}");
}

/// The queue delivers at least once, and a record can come back while its first delivery is
/// still running: new conversations delivered three times at once to three workers, and
/// pending ones that three deliveries try to assign at once, lose no turn: a delivery that
/// finds the conversation assigned gives its turn back.
async fn redelivered_new_conversations_lose_no_turn(backend: Backend) {
    let s = stores(backend).await;
    shared_page(&s, &rule("rr", "Bán hàng", 3, Method::RoundRobin)).await;
    for i in 0..12 {
        let runs = (0..3).map(|_| {
            let worker = assignment::Worker::new(s.clone());
            async move { worker.handle_batch(vec![record(i)]).await }
        });
        for out in futures::future::join_all(runs).await {
            assert!(out.failed.is_empty(), "{:?}", out.failed);
        }
    }
    // The exact race: three deliveries all saw the conversation pending, then assign at once.
    let rr = s.rules.rule("shop-a", "rr").await.expect("rule").expect("exists");
    let target = assignment::Target::NextInTurn(rr);
    for i in 12..18 {
        let touch = domain::ports::ConversationTouch {
            tenant_id: "shop-a".into(),
            conversation_id: format!("P_C{i:03}"),
            page_id: "P".into(),
            customer_id: format!("C{i:03}"),
            activity_ms: 1_000 + i as i64,
            customer_ms: Some(1_000 + i as i64),
            last_message: None,
            customer_name: None,
            post_id: None,
            phones: Vec::new(),
        };
        assert!(s.conversations.touch_conversation(&touch).await.expect("touch").assignment_pending);
        let runs = (0..3).map(|_| {
            let (worker, id, target) =
                (assignment::Worker::new(s.clone()), touch.conversation_id.clone(), &target);
            async move { worker.assign_pending("shop-a", &id, target).await.expect("assign") }
        });
        let won = futures::future::join_all(runs).await;
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    }
    let convs = all_conversations(&s).await;
    assert_eq!(convs.len(), 18);
    let mut per_agent: HashMap<String, usize> = HashMap::new();
    for c in &convs {
        *per_agent.entry(c.assignee.clone().expect("assigned")).or_default() += 1;
    }
    assert_eq!(per_agent.len(), 3, "{per_agent:?}");
    // No turn was lost: the next one is the 19th, or one given back before it (spending a turn
    // per delivery would have reached 43).
    assert!(s.rules.next_turn("shop-a", "rr").await.expect("turn") <= 19);
    // Even: exactly 6 each when nothing is in flight (the in-memory store runs the deliveries
    // one after the other); at most a given-back turn or two off while some are (DynamoDB).
    let (min, max) = (per_agent.values().min(), per_agent.values().max());
    match backend {
        Backend::Memory => assert!(per_agent.values().all(|n| *n == 6), "{per_agent:?}"),
        Backend::Moto => assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 2), "{per_agent:?}"),
    }
}

async fn twenty_concurrent_claims_have_exactly_one_winner(backend: Backend) {
    let s = stores(backend).await;
    shared_page(&s, &rule("pool", "Tự nhận", 5, Method::SelfClaim)).await;
    let out = assignment::Worker::new(s.clone()).handle_batch(vec![record(1)]).await;
    assert!(out.failed.is_empty());
    let pool = ConversationFilter::Pool { rule_id: "pool".into(), page_id: None };
    let waiting = s.conversations.list_conversations("shop-a", &pool, None, 10).await.expect("pool");
    assert_eq!(waiting.items.len(), 1);
    assert_eq!(waiting.items[0].assignee, None);
    let claims = (0..20).map(|i| {
        let s = s.clone();
        async move {
            let who = format!("agent{}@shop-a.vn", i % 5);
            let r = s.conversations.claim("shop-a", "P_C001", "pool", &who).await.expect("claim");
            (who, r)
        }
    });
    let results = futures::future::join_all(claims).await;
    let winners: Vec<_> =
        results.iter().filter(|(_, r)| *r == ClaimOutcome::Won).map(|(w, _)| w.clone()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = winners[0].clone();
    assert!(
        results
            .iter()
            .filter(|(_, r)| *r != ClaimOutcome::Won)
            .all(|(_, r)| *r == ClaimOutcome::AlreadyClaimed(Some(winner.clone()))),
        "{results:?}"
    );
    let c = s.conversations.conversation("shop-a", "P_C001").await.expect("get").expect("conversation");
    assert_eq!(c.assignee.as_deref(), Some(winner.as_str()));
    assert!(
        s.conversations.list_conversations("shop-a", &pool, None, 10).await.expect("pool").items.is_empty()
    );
    let mine = ConversationFilter::AssignedTo { email: winner.clone(), page_id: None };
    assert_eq!(
        s.conversations.list_conversations("shop-a", &mine, None, 10).await.expect("mine").items.len(),
        1
    );
    // Not in that pool: refused without a winner.
    assert_eq!(
        s.conversations.claim("shop-a", "P_nobody", "pool", "agent0@shop-a.vn").await.expect("claim"),
        ClaimOutcome::NotInPool
    );
}

async fn rule_names_are_unique_per_shop_and_turns_are_atomic(backend: Backend) {
    let s = stores(backend).await;
    let import = |tenant: &'static str, page: &'static str| {
        let s = s.clone();
        async move {
            let p = domain::ports::ImportedPage {
                page_id: page.into(),
                name: page.into(),
                token_enc: "v1:x".into(),
                imported_by: "o@x.vn".into(),
            };
            s.pages.import_page(tenant, &p).await.expect("import");
        }
    };
    import("shop-a", "P").await;
    import("shop-a", "Q").await;
    import("shop-b", "P").await;
    agents_are_members(&s, "shop-a", &rule("r1", "Bán Hàng", 2, Method::RoundRobin)).await;
    agents_are_members(&s, "shop-b", &rule("r2", "Bán Hàng", 2, Method::RoundRobin)).await;
    s.rules.create_rule("shop-a", &rule("r1", "Bán Hàng", 2, Method::RoundRobin), &[]).await.expect("rule");
    // The same name (any case) again: refused, and Q stays free.
    let mut dup = rule("r2", "bán hàng", 2, Method::RoundRobin);
    dup.page_ids = vec!["Q".into()];
    assert!(matches!(s.rules.create_rule("shop-a", &dup, &[]).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.pages.page("shop-a", "Q").await.expect("page").and_then(|p| p.record.rule_id), None);
    // A Page already in a rule, or not the shop's: refused.
    let mut taken = rule("r3", "Khác", 2, Method::RoundRobin);
    assert!(matches!(s.rules.create_rule("shop-a", &taken, &[]).await, Err(StoreError::Conflict(_))));
    taken.page_ids = vec!["ZZ".into()];
    assert!(matches!(s.rules.create_rule("shop-a", &taken, &[]).await, Err(StoreError::Conflict(_))));
    assert!(s.rules.rule("shop-a", "r3").await.expect("get").is_none(), "nothing half-written");
    s.rules
        .create_rule("shop-b", &rule("r2", "Bán Hàng", 2, Method::RoundRobin), &[])
        .await
        .expect("other shop");
    assert_eq!(s.rules.list_rules("shop-a").await.expect("list").len(), 1);
    assert_eq!(s.rules.rule("shop-a", "r1").await.expect("get").map(|r| r.agent_emails.len()), Some(2));
    assert_eq!(
        s.pages.page("shop-a", "P").await.expect("page").and_then(|p| p.record.rule_id).as_deref(),
        Some("r1")
    );
    assert!(s.rules.rule("shop-b", "r1").await.expect("get").is_none());
    let turns = (0..40).map(|_| {
        let s = s.clone();
        async move { s.rules.next_turn("shop-a", "r1").await.expect("turn") }
    });
    let mut got = futures::future::join_all(turns).await;
    got.sort_unstable();
    assert_eq!(got, (1..=40).collect::<Vec<u64>>());
    assert!(matches!(s.rules.next_turn("shop-a", "missing").await, Err(StoreError::Conflict(_))));
}

async fn claims_through_the_api_have_one_winner_and_only_the_winner_reads(backend: Backend) {
    use integration_tests::{
        eventually, get_json, http, notification, post_webhook, start_stack, text_item, token,
    };
    let stack = start_stack(backend).await;
    let owner = token("owner@shop-a.vn", "shop-a", "owner");
    let agents: Vec<String> = (0..6).map(|i| format!("agent{i}@shop-a.vn")).collect();
    integration_tests::add_agents(&stack, &owner, &agents).await;
    // agent5 is a member but not in the rule.
    shared_page(&stack.stores, &rule("pool", "Tự nhận", 5, Method::SelfClaim)).await;
    assert_eq!(
        post_webhook(
            &stack,
            &notification("P", vec![text_item("P", "C9", 5, "m-pool", "ai tư vấn giúp em?")])
        )
        .await,
        200
    );
    let agent = |i: usize| token(&format!("agent{i}@shop-a.vn"), "shop-a", "agent");
    let pooled = eventually(20, "the conversation in the pool", || async {
        let (_, b) = get_json(&stack, "/api/conversations?view=pool", &agent(0)).await;
        b["items"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await;
    assert_eq!(pooled[0]["id"], "P_C9");
    assert!(pooled[0]["assignee"].is_null());
    // Rule agents may read it while it waits; others may not.
    assert_eq!(get_json(&stack, "/api/conversations/P_C9/messages", &agent(3)).await.0, 200);
    assert_eq!(get_json(&stack, "/api/conversations/P_C9/messages", &agent(5)).await.0, 404);
    let (_, b) = get_json(&stack, "/api/conversations?view=pool", &agent(5)).await;
    assert_eq!(b["items"].as_array().map(Vec::len), Some(0));

    let claims = (0..20).map(|i| {
        let t = agent(i % 5);
        let url = stack.url("/api/conversations/P_C9/claim");
        async move {
            let r = http().post(url).bearer_auth(t).send().await.expect("claim");
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    });
    let results = futures::future::join_all(claims).await;
    let won: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    let winner = won[0].1["assignee"].as_str().expect("winner").to_string();
    for (s, b) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*s, 409, "{b}");
        assert_eq!(b["error"]["code"], "already_claimed");
        assert!(b["error"]["message"].as_str().is_some_and(|m| m.contains(&winner)), "{b}");
    }
    let winner_idx: usize =
        winner.trim_start_matches("agent").split('@').next().and_then(|n| n.parse().ok()).expect("index");
    let loser = (winner_idx + 1) % 5;
    assert_eq!(get_json(&stack, "/api/conversations/P_C9/messages", &agent(winner_idx)).await.0, 200);
    assert_eq!(get_json(&stack, "/api/conversations/P_C9/messages", &agent(loser)).await.0, 404);
    assert_eq!(get_json(&stack, "/api/conversations/P_C9/messages", &owner).await.0, 200);
    let (_, b) = get_json(&stack, "/api/conversations?view=pool", &agent(0)).await;
    assert_eq!(b["items"].as_array().map(Vec::len), Some(0));
    let (_, b) = get_json(&stack, "/api/conversations?view=mine", &agent(winner_idx)).await;
    assert_eq!(b["items"][0]["id"], "P_C9");
}

async fn assignees(stack: &local_stack::RunningStack, owner: &str) -> HashMap<String, Option<String>> {
    let mut out = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/conversations?view=all&limit=100".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (s, b) = integration_tests::get_json(stack, &path, owner).await;
        assert_eq!(s, 200, "{b}");
        for c in b["items"].as_array().cloned().unwrap_or_default() {
            out.insert(
                c["id"].as_str().unwrap_or_default().to_string(),
                c["assignee"].as_str().map(String::from),
            );
        }
        match b["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// 150 conversations over agents x, y, z (50 each, round robin), odd customers last wrote two
/// days ago; then x is removed. Returns (before, after) assignments.
type Assignees = HashMap<String, Option<String>>;

async fn remove_agent_under(
    backend: Backend,
    policy: OldConversations,
) -> (Assignees, Assignees, HashMap<String, bool>) {
    remove_agent(backend, policy, false).await
}

/// As [`remove_agent_under`]; with `from_rule_only`, x leaves the rule (PUT) but stays a member.
async fn remove_agent(
    backend: Backend,
    policy: OldConversations,
    from_rule_only: bool,
) -> (Assignees, Assignees, HashMap<String, bool>) {
    use integration_tests::{delete, eventually, notification, post_webhook, text_item, token};
    // A visibility timeout that outlasts a step on a slow moto (production: 180 s), so a step is
    // not redelivered while it still runs (a duplicate step would take extra turns).
    let stack = integration_tests::start_configured(integration_tests::stack_config(
        backend,
        std::time::Duration::from_secs(60),
        5,
    ))
    .await;
    let owner = token("owner@shop-a.vn", "shop-a", "owner");
    integration_tests::add_agents(&stack, &owner, &integration_tests::shop_a(&["x", "y", "z"])).await;
    let mut r = rule("rr", "Bán hàng", 0, Method::RoundRobin);
    r.agent_emails = vec!["x@shop-a.vn".into(), "y@shop-a.vn".into(), "z@shop-a.vn".into()];
    r.old_conversations = policy;
    shared_page(&stack.stores, &r).await;
    let now = domain::timefmt::now_ms();
    let mut recent = HashMap::new();
    let items: Vec<_> = (0..150)
        .map(|i| {
            let ts = if i % 2 == 1 { now - 2 * 24 * 3600 * 1000 } else { now - 1000 };
            recent.insert(format!("P_K{i:03}"), i % 2 == 0);
            text_item("P", &format!("K{i:03}"), ts + i as i64, &format!("k{i}"), "alo")
        })
        .collect();
    assert_eq!(post_webhook(&stack, &notification("P", items)).await, 200);
    let before = eventually(180, "150 assigned conversations", || async {
        let a = assignees(&stack, &owner).await;
        (a.len() == 150 && a.values().all(Option::is_some)).then_some(a)
    })
    .await;
    if from_rule_only {
        let body = serde_json::json!({"name": "Bán hàng", "page_ids": ["P"], "agent_emails": ["y@shop-a.vn", "z@shop-a.vn"],
            "method": "round_robin", "old_conversations": policy.as_str()});
        let r = integration_tests::http()
            .put(stack.url("/api/rules/rr"))
            .bearer_auth(&owner)
            .json(&body)
            .send()
            .await
            .expect("put");
        assert_eq!(r.status().as_u16(), 200);
    } else {
        let (s, b) = delete(&stack, "/api/members/x@shop-a.vn", &owner).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["reassignment"], "queued");
    }
    let after = eventually(180, "x's conversations re-homed", || async {
        let a = assignees(&stack, &owner).await;
        (a.len() == 150 && !a.values().any(|v| v.as_deref() == Some("x@shop-a.vn"))).then_some(a)
    })
    .await;
    let (_, rule_now) = integration_tests::get_json(&stack, "/api/rules/rr", &owner).await;
    assert_eq!(rule_now["agent_emails"], serde_json::json!(["y@shop-a.vn", "z@shop-a.vn"]));
    (before, after, recent)
}

fn held_by(m: &HashMap<String, Option<String>>, who: &str) -> Vec<String> {
    let mut v: Vec<_> = m.iter().filter(|(_, a)| a.as_deref() == Some(who)).map(|(k, _)| k.clone()).collect();
    v.sort();
    v
}

async fn removing_an_agent_under_all_spreads_their_conversations_evenly(backend: Backend) {
    let (before, after, _) = remove_agent_under(backend, OldConversations::All).await;
    let xs = held_by(&before, "x@shop-a.vn");
    assert_eq!(xs.len(), 50);
    let to_y = xs.iter().filter(|c| after[*c].as_deref() == Some("y@shop-a.vn")).count();
    let to_z = xs.iter().filter(|c| after[*c].as_deref() == Some("z@shop-a.vn")).count();
    assert_eq!((to_y, to_z), (25, 25), "all 50 reassigned evenly");
    // Nobody else's conversations moved.
    for (c, a) in &before {
        if a.as_deref() != Some("x@shop-a.vn") {
            assert_eq!(&after[c], a, "{c}");
        }
    }
}

async fn removing_an_agent_under_available_moves_only_recent_ones(backend: Backend) {
    let (before, after, recent) = remove_agent_under(backend, OldConversations::Available).await;
    let xs = held_by(&before, "x@shop-a.vn");
    assert_eq!(xs.len(), 50);
    for c in &xs {
        match (recent[c], after[c].as_deref()) {
            (true, Some("y@shop-a.vn" | "z@shop-a.vn")) | (false, None) => {}
            other => panic!("{c}: {other:?}"),
        }
    }
    assert!(xs.iter().any(|c| recent[c]) && xs.iter().any(|c| !recent[c]));
}

async fn removing_an_agent_under_none_leaves_their_conversations_unassigned(backend: Backend) {
    let (before, after, _) = remove_agent_under(backend, OldConversations::None).await;
    let xs = held_by(&before, "x@shop-a.vn");
    assert_eq!(xs.len(), 50);
    assert!(xs.iter().all(|c| after[c].is_none()), "none reassigned");
    assert_eq!(held_by(&after, "y@shop-a.vn").len(), 50);
}

async fn an_agent_leaving_a_rule_hands_back_its_conversations(backend: Backend) {
    let (before, after, _) = remove_agent(backend, OldConversations::All, true).await;
    let xs = held_by(&before, "x@shop-a.vn");
    assert_eq!(xs.len(), 50);
    let to_y = xs.iter().filter(|c| after[*c].as_deref() == Some("y@shop-a.vn")).count();
    assert_eq!(to_y, 25);
    assert_eq!(held_by(&after, "z@shop-a.vn").len(), 75);
}

integration_tests::on_both_backends!(
    round_robin_spreads_300_conversations_over_7_agents_with_8_workers,
    redelivered_new_conversations_lose_no_turn,
    twenty_concurrent_claims_have_exactly_one_winner,
    rule_names_are_unique_per_shop_and_turns_are_atomic,
    claims_through_the_api_have_one_winner_and_only_the_winner_reads,
    removing_an_agent_under_all_spreads_their_conversations_evenly,
    removing_an_agent_under_available_moves_only_recent_ones,
    removing_an_agent_under_none_leaves_their_conversations_unassigned,
    an_agent_leaving_a_rule_hands_back_its_conversations,
);
