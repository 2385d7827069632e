//! *Chờ nhận* with a Page filter: `GET /api/conversations?view=pool&page_id=P` lists only that
//! Page's pooled conversations (the console's Page filter in the pool view), pages through them
//! with the cursor, and lists nothing for a Page in no pool the caller sees.

use domain::model::{Member, Method, OldConversations, PageStatus, Role, Rule};
use integration_tests::*;
use serde_json::Value;

fn ids(b: &Value) -> Vec<String> {
    let mut v: Vec<String> = b["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

async fn the_pool_view_filters_by_page(backend: Backend) {
    let stack = start_stack(backend).await;
    let s = &stack.stores;
    for page in ["111", "222", "333"] {
        connect_only_me(s, "shop-a", page, "owner@shop-a.vn", PageStatus::Connected).await;
    }
    let agent = Member { email: "agent0@shop-a.vn".into(), role: Role::Agent };
    s.members.add_member("shop-a", &agent).await.expect("member");
    let rule = Rule {
        id: "pool".into(),
        name: "Tự nhận".into(),
        page_ids: vec!["111".into(), "222".into()],
        agent_emails: vec![agent.email.clone()],
        method: Method::SelfClaim,
        old_conversations: OldConversations::None,
        policy_chosen_by: None,
        policy_chosen_at: None,
    };
    s.rules.create_rule("shop-a", &rule, &rule.page_ids).await.expect("rule");
    let items =
        vec![text_item("111", "A1", 1_000, "m-a1", "alo"), text_item("111", "A2", 2_000, "m-a2", "alo")];
    assert_eq!(post_webhook(&stack, &notification("111", items)).await, 200);
    let items = vec![text_item("222", "B1", 3_000, "m-b1", "alo")];
    assert_eq!(post_webhook(&stack, &notification("222", items)).await, 200);
    let me = token(&agent.email, "shop-a", "agent");
    eventually(20, "three pooled conversations", || async {
        let (_, b) = get_json(&stack, "/api/conversations?view=pool", &me).await;
        (ids(&b).len() == 3).then_some(())
    })
    .await;

    let (s1, b) = get_json(&stack, "/api/conversations?view=pool&page_id=111", &me).await;
    assert_eq!((s1, ids(&b)), (200, vec!["111_A1".to_string(), "111_A2".to_string()]), "{b}");
    let (_, b) = get_json(&stack, "/api/conversations?view=pool&page_id=222", &me).await;
    assert_eq!(ids(&b), vec!["222_B1".to_string()]);
    // Page 333 is in no rule: nothing, not every pool.
    let (s3, b) = get_json(&stack, "/api/conversations?view=pool&page_id=333", &me).await;
    assert_eq!((s3, ids(&b)), (200, Vec::<String>::new()));

    // One at a time through the cursor: only Page 111's, newest first, each once.
    let mut seen = Vec::new();
    let mut path = "/api/conversations?view=pool&page_id=111&limit=1".to_string();
    for _ in 0..5 {
        let (status, b) = get_json(&stack, &path, &me).await;
        assert_eq!(status, 200, "{b}");
        seen.extend(ids(&b));
        match b["next_cursor"].as_str() {
            Some(c) => path = format!("/api/conversations?view=pool&page_id=111&limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec!["111_A2".to_string(), "111_A1".to_string()]);
}

integration_tests::on_both_backends!(the_pool_view_filters_by_page);
