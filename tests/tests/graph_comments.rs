//! The Graph client's comment calls (`adapters::graph::HttpGraph`, `docs/comments.md`) against
//! the fake Graph API: each call's request (method, path, parameters, body) and answer, which
//! calls are retried (hide, delete, reads) and which never are after an unknown outcome (public
//! and private replies), Meta's private-reply refusals classified, a delete of a gone comment
//! counted as done, ids refused before any request, paging followed to the end, and no token
//! in any error text.

use std::time::Duration;

use domain::graph::{Graph, GraphError, GraphErrorKind};
use integration_tests::fake_graph::{FakeComment, FakeFailure, FakeGraph};
use secrecy::SecretString;
use serde_json::{Value, json};

const PAGE: &str = "501";
const TOKEN: &str = "page-token-501-secret";
const POST: &str = "501_900";

use integration_tests::fast_graph_client as client;

fn token() -> SecretString {
    SecretString::from(TOKEN.to_string())
}

/// Whole seconds (Graph's times have no milliseconds), `hours` ago.
fn hours_ago(hours: i64) -> i64 {
    (domain::timefmt::now_ms() / 1000 - hours * 3600) * 1000
}

/// A fake with the Page, its post, and one customer comment `900_1` by author `8001` (PSID
/// `7001`), made an hour ago.
async fn fake() -> FakeGraph {
    let fake = FakeGraph::start().await;
    fake.add_page(PAGE, "Shop", TOKEN, &["MANAGE"]);
    fake.add_post(PAGE, POST, hours_ago(48));
    fake.add_comment(FakeComment::new(POST, "900_1", "8001", "Trần Mai", "Giá bao nhiêu ạ?", hours_ago(1)));
    fake.set_comment_author_psid("8001", "7001");
    fake
}

fn body(fake: &FakeGraph, route: &str) -> Value {
    let r = fake.requests_to(route).pop().expect("a request");
    serde_json::from_str(&r.body).expect("a JSON body")
}

fn assert_no_token(e: &GraphError) {
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(TOKEN), "{text}");
    }
}

#[tokio::test]
async fn a_public_reply_posts_the_message_under_the_comment() {
    let fake = fake().await;
    let id = client(&fake).reply_comment(&token(), "900_1", "Dạ 350k ạ").await.expect("reply");
    let r = &fake.requests_to("reply_comment")[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v25.0/900_1/comments"));
    assert_eq!(r.param("access_token"), Some(TOKEN));
    assert_eq!(body(&fake, "reply_comment"), json!({"message": "Dạ 350k ạ"}));
    let made = fake.comment(&id).expect("the Page's comment");
    assert_eq!((made.from_id.as_str(), made.parent_id.as_deref()), (PAGE, Some("900_1")));
    assert_eq!(made.text, "Dạ 350k ạ");
    assert_eq!(fake.state().public_replies.len(), 1);
}

#[tokio::test]
async fn a_private_reply_goes_through_the_send_api_to_the_authors_psid() {
    let fake = fake().await;
    let sent =
        client(&fake).private_reply(PAGE, &token(), "900_1", "Chào chị", "reply:r1").await.expect("sent");
    assert_eq!(sent.recipient_id, "7001");
    assert!(sent.message_id.starts_with("m_"), "{}", sent.message_id);
    let r = &fake.requests_to("private_reply")[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v25.0/501/messages"));
    assert_eq!(r.param("access_token"), Some(TOKEN));
    assert_eq!(
        body(&fake, "private_reply"),
        json!({
            "recipient": {"comment_id": "900_1"},
            "message": {"text": "Chào chị", "metadata": "reply:r1"},
            "messaging_type": "RESPONSE",
        })
    );
    assert!(fake.comment("900_1").expect("comment").private_replied);
    assert_eq!(fake.request_count("send"), 0, "a private reply is its own route");
}

#[tokio::test]
async fn a_second_private_reply_is_refused_with_code_10900() {
    let fake = fake().await;
    let g = client(&fake);
    g.private_reply(PAGE, &token(), "900_1", "Chào chị", "reply:r1").await.expect("first");
    let e = g.private_reply(PAGE, &token(), "900_1", "Lần nữa", "reply:r2").await.expect_err("second");
    assert_eq!((e.status, e.code, e.kind), (400, Some(10900), GraphErrorKind::Other));
    assert!(e.message.contains("already replied"), "{}", e.message);
    assert_eq!(fake.request_count("private_reply"), 2, "not retried");
    assert_no_token(&e);
}

#[tokio::test]
async fn a_private_reply_past_seven_days_is_outside_the_window() {
    let fake = fake().await;
    fake.add_comment(FakeComment::new(
        POST,
        "900_2",
        "8001",
        "Trần Mai",
        "Còn hàng không?",
        hours_ago(8 * 24),
    ));
    let e = client(&fake).private_reply(PAGE, &token(), "900_2", "Dạ còn", "").await.expect_err("too old");
    assert_eq!(e.kind, GraphErrorKind::OutsideWindow);
    assert_eq!((e.code, e.subcode), (Some(10), Some(2018278)));
    assert_eq!(fake.request_count("private_reply"), 1);
    assert!(!fake.comment("900_2").expect("comment").private_replied);
    assert_no_token(&e);
}

#[tokio::test]
async fn hide_and_unhide_set_the_flag_and_are_retried() {
    let fake = fake().await;
    let g = client(&fake);
    fake.fail_next("hide_comment", FakeFailure::error(500, 2, None, "An unexpected error has occurred."));
    fake.fail_next(
        "hide_comment",
        FakeFailure::error(400, 4, None, "(#4) Application request limit reached"),
    );
    g.set_comment_hidden(&token(), "900_1", true).await.expect("third attempt");
    assert_eq!(fake.request_count("hide_comment"), 3);
    let r = fake.requests_to("hide_comment").pop().expect("request");
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v25.0/900_1"));
    assert_eq!((r.param("is_hidden"), r.param("access_token")), (Some("true"), Some(TOKEN)));
    assert!(fake.comment("900_1").expect("comment").hidden);
    g.set_comment_hidden(&token(), "900_1", false).await.expect("unhide");
    assert_eq!(fake.requests_to("hide_comment").pop().expect("request").param("is_hidden"), Some("false"));
    assert!(!fake.comment("900_1").expect("comment").hidden);
}

#[tokio::test]
async fn replies_are_never_repeated_after_a_timeout_or_a_5xx() {
    let fake = fake().await;
    let g = client(&fake);
    fake.fail_next("reply_comment", FakeFailure::AfterHandling { status: 500 });
    let e = g.reply_comment(&token(), "900_1", "Dạ").await.expect_err("500 after posting");
    assert_eq!(e.kind, GraphErrorKind::Transient);
    assert_eq!(fake.request_count("reply_comment"), 1);
    assert_eq!(fake.state().public_replies.len(), 1, "posted once, not twice");

    fake.fail_next("reply_comment", FakeFailure::Delay(Duration::from_secs(1)));
    let e = g.reply_comment(&token(), "900_1", "Dạ").await.expect_err("timeout");
    assert_eq!((e.kind, e.status), (GraphErrorKind::Transient, 0));
    assert_eq!(fake.request_count("reply_comment"), 2);
    assert_no_token(&e);

    fake.fail_next("private_reply", FakeFailure::Delay(Duration::from_secs(1)));
    let e = g.private_reply(PAGE, &token(), "900_1", "Chào", "reply:r1").await.expect_err("timeout");
    assert_eq!(e.kind, GraphErrorKind::Transient);
    assert_eq!(fake.request_count("private_reply"), 1);
    assert_no_token(&e);

    fake.add_comment(FakeComment::new(POST, "900_3", "8002", "Lê Hùng", "Ship Q7?", hours_ago(2)));
    fake.fail_next("private_reply", FakeFailure::AfterHandling { status: 503 });
    let e = g.private_reply(PAGE, &token(), "900_3", "Chào", "reply:r3").await.expect_err("503");
    assert_eq!(e.kind, GraphErrorKind::Transient);
    assert_eq!(fake.request_count("private_reply"), 2);
    assert!(fake.comment("900_3").expect("comment").private_replied, "it went out once");
}

#[tokio::test]
async fn deleting_is_done_even_when_the_comment_is_already_gone() {
    let fake = fake().await;
    let g = client(&fake);
    g.delete_comment(&token(), "900_1").await.expect("deleted");
    let r = &fake.requests_to("delete_comment")[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("DELETE", "/v25.0/900_1"));
    assert_eq!(r.param("access_token"), Some(TOKEN));
    assert!(fake.comment("900_1").expect("kept").deleted);
    g.delete_comment(&token(), "900_1").await.expect("already deleted counts as deleted");
    g.delete_comment(&token(), "900_77").await.expect("never existed: 100/33 too");
    assert_eq!(fake.request_count("delete_comment"), 3);
    // Another failure is still one.
    fake.fail_next("delete_comment", FakeFailure::error(403, 200, None, "(#200) Permissions error"));
    let e = g.delete_comment(&token(), "900_1").await.expect_err("permission");
    assert_eq!(e.kind, GraphErrorKind::PermissionMissing);
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_never_printed() {
    let fake = fake().await;
    let wrong = SecretString::from("EAAwrong-token-abcdef".to_string());
    let e = client(&fake).set_comment_hidden(&wrong, "900_1", true).await.expect_err("wrong token");
    assert_eq!(e.kind, GraphErrorKind::TokenInvalid);
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("EAAwrong-token-abcdef"), "{text}");
    }
    assert!(!fake.comment("900_1").expect("comment").hidden);
}

#[tokio::test]
async fn invalid_ids_are_refused_before_any_request() {
    let fake = fake().await;
    let g = client(&fake);
    for bad in ["", "../me", "900_1/comments", "900_1?is_hidden=true", TOKEN, "1__2"] {
        let errors = [
            g.reply_comment(&token(), bad, "x").await.expect_err("reply"),
            g.private_reply(PAGE, &token(), bad, "x", "").await.expect_err("private"),
            g.set_comment_hidden(&token(), bad, true).await.expect_err("hide"),
            g.delete_comment(&token(), bad).await.expect_err("delete"),
            g.comments(bad, &token(), None).await.map(|_| ()).expect_err("comments"),
        ];
        for e in &errors {
            assert_eq!((e.kind, e.status), (GraphErrorKind::Other, 0), "{bad}: {e}");
            assert_no_token(e);
        }
    }
    for bad in ["../501", "501/feed", "abc"] {
        g.posts(bad, &token(), None).await.map(|_| ()).expect_err("posts");
        g.private_reply(bad, &token(), "900_1", "x", "").await.map(|_| ()).expect_err("private");
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn posts_are_paged_newest_first_to_the_end() {
    let fake = fake().await;
    for i in 0..4 {
        fake.add_post(PAGE, &format!("501_90{}", i + 1), hours_ago(10 - i));
    }
    fake.set_posts_page_size(2);
    let g = client(&fake);
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = g.posts(PAGE, &token(), after.as_deref()).await.expect("posts");
        ids.extend(page.posts.iter().map(|p| (p.id.clone(), p.created_ms)));
        after = page.next_after;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(
        ids.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["501_904", "501_903", "501_902", "501_901", "501_900"]
    );
    assert_eq!(ids[0].1, hours_ago(7));
    assert_eq!(fake.request_count("posts"), 3);
    let first = &fake.requests_to("posts")[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("GET", "/v25.0/501/posts"));
    assert_eq!(first.param("fields"), Some("id,created_time"));
    assert_eq!(first.param("limit"), Some("25"));
    assert_eq!(first.param("after"), None);
    assert!(fake.requests_to("posts")[1].param("after").is_some());
}

#[tokio::test]
async fn comments_are_paged_oldest_first_with_replies_and_hidden_ones() {
    let fake = fake().await;
    fake.add_comment(
        FakeComment::new(POST, "900_2", "8002", "Lê Hùng", "Mình cũng hỏi", hours_ago(0)).under("900_1"),
    );
    fake.add_comment(FakeComment {
        hidden: true,
        ..FakeComment::new(POST, "900_3", "8003", "", "0912345678", hours_ago(0) + 1000)
    });
    fake.add_comment(FakeComment {
        deleted: true,
        ..FakeComment::new(POST, "900_4", "8003", "", "gone", hours_ago(0) + 2000)
    });
    fake.set_comments_page_size(2);
    let g = client(&fake);
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = g.comments(POST, &token(), after.as_deref()).await.expect("comments");
        all.extend(page.comments);
        after = page.next_after;
        if after.is_none() {
            break;
        }
    }
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["900_1", "900_2", "900_3"], "oldest first, the deleted one left out");
    assert_eq!(all[0].parent_id, None);
    assert_eq!(all[0].from_name.as_deref(), Some("Trần Mai"));
    assert_eq!(all[0].text.as_deref(), Some("Giá bao nhiêu ạ?"));
    assert_eq!(all[0].created_ms, hours_ago(1));
    assert_eq!(all[1].parent_id.as_deref(), Some("900_1"));
    assert!(all[2].is_hidden && !all[0].is_hidden);
    assert_eq!(all[2].from_name, None, "an empty name is no name");
    assert_eq!(fake.request_count("comments"), 2);
    let first = &fake.requests_to("comments")[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("GET", "/v25.0/501_900/comments"));
    for (k, v) in [
        ("filter", "stream"),
        ("order", "chronological"),
        ("fields", "id,from,message,created_time,parent{id},is_hidden"),
        ("limit", "100"),
        ("access_token", TOKEN),
    ] {
        assert_eq!(first.param(k), Some(v), "{k}");
    }
}

#[tokio::test]
async fn a_rate_limited_read_is_retried_and_a_spent_budget_reported_without_the_token() {
    let fake = fake().await;
    let g = client(&fake);
    fake.fail_next(
        "comments",
        FakeFailure::error(400, 613, None, "(#613) Calls to this api have exceeded the rate limit."),
    );
    assert_eq!(g.comments(POST, &token(), None).await.expect("second attempt").comments.len(), 1);
    assert_eq!(fake.request_count("comments"), 2);
    for _ in 0..3 {
        fake.fail_next(
            "posts",
            FakeFailure::error(500, 1, None, &format!("An unknown error occurred with {TOKEN}")),
        );
    }
    let e = g.posts(PAGE, &token(), None).await.expect_err("three 500s");
    assert_eq!(e.kind, GraphErrorKind::Transient);
    assert_eq!(fake.request_count("posts"), 3);
    assert_no_token(&e);
}
