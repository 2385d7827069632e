//! The comment samples of events/ through the local stack, on both backends: a customer's
//! comment (with a phone number) becomes a comment conversation of its post, Meta's
//! redeliveries store nothing twice, the edit keeps the previous text, the removal keeps the
//! comment; the comment-settings samples read and write a Page's auto-hide.

use integration_tests::*;
use serde_json::{Value, json};

const PAGE: &str = "111111111111111";
const CONV: &str = "111111111111111_4444444444444444_p555555555555";
const COMMENT: &str = "555555555555_666666666666";

fn sample(json: &str) -> Value {
    serde_json::from_str(json).expect("sample event")
}

async fn deliver(stack: &local_stack::RunningStack, event: &Value) {
    assert_eq!(deliver_sample(stack, event).await, 200);
}

async fn the_comment_samples_build_one_comment_conversation(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", PAGE).await;
    let added = sample(include_str!("../../events/webhook-post-comment.json"));
    for _ in 0..3 {
        deliver(&stack, &added).await;
    }
    let conv = eventually(20, "the comment conversation", || async {
        let (s, c) = get_json(&stack, &format!("/api/conversations/{CONV}"), &owner).await;
        (s == 200 && !c["assignee"].is_null()).then_some(c)
    })
    .await;
    assert_eq!(conv["kind"], "comment");
    assert_eq!(conv["post_id"], "111111111111111_555555555555");
    assert_eq!(conv["customer_id"], "4444444444444444");
    assert_eq!(conv["customer_name"], "Nguyễn Thị Lan");
    assert_eq!(conv["phones"], json!(["0912345678"]));
    assert_eq!(conv["assignee"], "owner@shop-a.vn", "only-me: the owner holds it");
    assert_eq!(conv["last_message"]["kind"], "comment");
    // Redelivered three times: one comment.
    let msgs = eventually(20, "the comment", || async {
        let m = try_all_messages(&stack, &owner, CONV).await.ok()?;
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    assert_eq!((m["id"].as_str(), m["comment_id"].as_str()), (Some(COMMENT), Some(COMMENT)));
    assert_eq!((m["kind"].as_str(), m["direction"].as_str()), (Some("comment"), Some("in")));
    assert_eq!(m["text"], "Chốt 1 áo size M, ib mình 0912 345 678 nhé");
    assert_eq!(m["parent_id"], "111111111111111_555555555555");
    assert_eq!((m["hidden"].as_bool(), m["removed"].as_bool()), (Some(false), Some(false)));
    assert_eq!((m["private_replied"].as_bool(), m["edited"].as_bool()), (Some(false), Some(false)));

    // The edit, twice: the new text, the previous one kept, still one comment.
    let edited = sample(include_str!("../../events/webhook-post-comment-edited.json"));
    deliver(&stack, &edited).await;
    deliver(&stack, &edited).await;
    let m = eventually(20, "the edit", || async {
        let m = try_all_messages(&stack, &owner, CONV).await.ok()?;
        (m.len() == 1 && m[0]["edited"] == true).then(|| m[0].clone())
    })
    .await;
    assert_eq!(m["text"], "Chốt 2 áo size M nhé shop");
    assert_eq!(m["previous_text"], "Chốt 1 áo size M, ib mình 0912 345 678 nhé");

    // The removal: marked, the text kept; the add redelivered after it changes nothing.
    deliver(&stack, &sample(include_str!("../../events/webhook-post-comment-removed.json"))).await;
    deliver(&stack, &added).await;
    let m = eventually(20, "the removal", || async {
        let m = try_all_messages(&stack, &owner, CONV).await.ok()?;
        (m.len() == 1 && m[0]["removed"] == true).then(|| m[0].clone())
    })
    .await;
    assert_eq!(m["text"], "Chốt 2 áo size M nhé shop");
    let (_, c) = get_json(&stack, &format!("/api/conversations/{CONV}"), &owner).await;
    assert_eq!(c["phones"], json!(["0912345678"]), "a removal keeps what was found");
}

async fn the_comment_settings_samples_read_and_write_auto_hide(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", PAGE).await;
    let path = format!("/api/pages/{PAGE}/comment-settings");
    let (s, b) = get_json(&stack, &path, &owner).await;
    assert_eq!((s, b), (200, json!({"auto_hide": "off"})));
    let put = sample(include_str!("../../events/admin-put-comment-settings.json"));
    let body: Value = serde_json::from_str(put["body"].as_str().expect("body")).expect("json");
    let send = |token: String, body: Value| {
        let url = stack.url(&path);
        async move {
            let r = http().put(url).bearer_auth(token).json(&body).send().await.expect("put");
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or_default())
        }
    };
    assert_eq!(send(owner.clone(), body.clone()).await, (200, json!({"auto_hide": "phone"})));
    assert_eq!(get_json(&stack, &path, &owner).await, (200, json!({"auto_hide": "phone"})));
    let (s, b) = send(owner.clone(), json!({"auto_hide": "sometimes"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("invalid_auto_hide")), "{b}");
    add_agents(&stack, &owner, &["agent@shop-a.vn".to_string()]).await;
    let agent = token("agent@shop-a.vn", "shop-a", "agent");
    let (s, b) = send(agent.clone(), json!({"auto_hide": "off"})).await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(get_json(&stack, &path, &agent).await, (200, json!({"auto_hide": "phone"})));
    // Another shop's caller, or a Page the shop does not have: 404.
    let stranger = token("owner@shop-b.vn", "shop-b", "owner");
    assert_eq!(get_json(&stack, &path, &stranger).await.0, 404);
    assert_eq!(get_json(&stack, "/api/pages/999/comment-settings", &owner).await.0, 404);
}

integration_tests::on_both_backends!(
    the_comment_samples_build_one_comment_conversation,
    the_comment_settings_samples_read_and_write_auto_hide,
);
