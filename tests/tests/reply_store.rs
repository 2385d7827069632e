//! Replies sent once, the store's half (finding 5), on both backends: a reply is recorded
//! before the Send API call under its own id, settled once, listed with its status, and its
//! echo never makes a second message.

use adapters::Stores;
use domain::model::{Direction, Message, MessageKind, ReplyState, ReplyStatus};
use domain::reply::ReplyOutcome;
use integration_tests::store_contract;

const CONV: &str = "1501_61";

fn pending(reply_id: &str, sent_ms: i64) -> Message {
    Message {
        id: reply_id.into(),
        conversation_id: CONV.into(),
        direction: Direction::Out,
        kind: MessageKind::Text,
        text: Some(format!("Dạ còn ạ ({reply_id})")),
        sent_ms,
        detail: Some(serde_json::json!({"sent_by": "lan@shop-a.vn"})),
        reply: Some(ReplyState { reply_id: reply_id.into(), status: ReplyStatus::Pending, error: None }),
        comment: None,
    }
}

fn echo(mid: &str, sent_ms: i64) -> Message {
    Message {
        id: mid.into(),
        conversation_id: CONV.into(),
        direction: Direction::Out,
        kind: MessageKind::Text,
        text: Some("Dạ còn ạ".into()),
        sent_ms,
        detail: Some(serde_json::json!({"metadata": "x"})),
        reply: None,
        comment: None,
    }
}

async fn thread(s: &Stores) -> Vec<(String, Option<ReplyStatus>)> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.conversations.list_messages("A", CONV, cursor.as_deref(), 2).await.expect("list");
        out.extend(page.items.into_iter().map(|m| (m.id, m.reply.map(|r| r.status))));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

fn status_of(m: &Option<Message>) -> Option<ReplyStatus> {
    m.as_ref().and_then(|m| m.reply.as_ref()).map(|r| r.status)
}

/// A reply is in the thread from before the call (pending), with the same id on a repeated
/// request; failed and unknown settle only a pending reply; another shop sees none of it.
async fn a_reply_is_recorded_before_it_is_sent(s: Stores) {
    let c = &s.conversations;
    assert_eq!(c.begin_reply("A", &pending("reply:a", 1000)).await.expect("begin"), None);
    let again = c.begin_reply("A", &pending("reply:a", 2000)).await.expect("begin again");
    assert_eq!(
        again.as_ref().map(|m| (m.id.as_str(), m.sent_ms)),
        Some(("reply:a", 1000)),
        "the first stays"
    );
    assert_eq!(thread(&s).await, [("reply:a".to_string(), Some(ReplyStatus::Pending))]);
    let unknown = ReplyOutcome::Unknown { error: "timed out".into() };
    let settled = c.settle_reply("A", CONV, "reply:a", &unknown).await.expect("unknown");
    assert_eq!(status_of(&settled), Some(ReplyStatus::Unknown));
    assert_eq!(settled.and_then(|m| m.reply).and_then(|r| r.error).as_deref(), Some("timed out"));
    // Only a pending reply takes failed or unknown.
    let failed = ReplyOutcome::Failed { error: "refused".into() };
    let after = c.settle_reply("A", CONV, "reply:a", &failed).await.expect("failed");
    assert_eq!(status_of(&after), Some(ReplyStatus::Unknown));
    assert_eq!(c.settle_reply("A", CONV, "reply:none", &failed).await.expect("absent"), None);
    assert!(c.list_messages("B", CONV, None, 10).await.expect("B").items.is_empty());
    assert_eq!(c.settle_reply("B", CONV, "reply:a", &failed).await.expect("B settle"), None);
}

/// Sent moves the reply to Meta's id, once, whichever of the send's answer and the echo comes
/// first; an unknown reply whose echo comes back is sent after all.
async fn a_sent_reply_and_its_echo_are_one_message(s: Stores) {
    let c = &s.conversations;
    // The answer first, then the echo.
    c.begin_reply("A", &pending("reply:a", 1000)).await.expect("begin a");
    let sent = ReplyOutcome::Sent { mid: "m_1".into() };
    let a = c.settle_reply("A", CONV, "reply:a", &sent).await.expect("sent").expect("reply a");
    assert_eq!((a.id.as_str(), status_of(&Some(a.clone()))), ("m_1", Some(ReplyStatus::Sent)));
    assert!(!c.put_message("A", &echo("m_1", 1005)).await.expect("echo"), "the echo is a duplicate");
    // The echo first (stored as Meta sent it), then the answer: the reply takes its place.
    c.begin_reply("A", &pending("reply:b", 2000)).await.expect("begin b");
    assert!(c.put_message("A", &echo("m_2", 2005)).await.expect("early echo"));
    let b = ReplyOutcome::Sent { mid: "m_2".into() };
    c.settle_reply("A", CONV, "reply:b", &b).await.expect("sent b");
    // A timeout, then the echo proves it went out.
    c.begin_reply("A", &pending("reply:c", 3000)).await.expect("begin c");
    let unknown = ReplyOutcome::Unknown { error: "timed out".into() };
    c.settle_reply("A", CONV, "reply:c", &unknown).await.expect("unknown");
    let late = c.settle_reply("A", CONV, "reply:c", &ReplyOutcome::Sent { mid: "m_3".into() }).await;
    assert_eq!(late.expect("late echo").map(|m| m.id), Some("m_3".to_string()));
    // Settling again changes nothing; a repeated request finds the sent reply under Meta's id.
    let again = c.settle_reply("A", CONV, "reply:a", &ReplyOutcome::Sent { mid: "m_9".into() }).await;
    assert_eq!(again.expect("again").map(|m| m.id), Some("m_1".to_string()));
    let repeat = c.begin_reply("A", &pending("reply:a", 9000)).await.expect("repeat");
    assert_eq!(repeat.map(|m| m.id), Some("m_1".to_string()));
    assert_eq!(
        thread(&s).await,
        [
            ("m_3".to_string(), Some(ReplyStatus::Sent)),
            ("m_2".to_string(), Some(ReplyStatus::Sent)),
            ("m_1".to_string(), Some(ReplyStatus::Sent)),
        ],
        "three replies, three messages"
    );
    let listed = c.list_messages("A", CONV, None, 10).await.expect("list").items;
    let m2 = listed.iter().find(|m| m.id == "m_2").expect("m_2");
    assert_eq!(
        m2.detail,
        Some(serde_json::json!({"sent_by": "lan@shop-a.vn"})),
        "the reply's author is kept"
    );
}

/// A failed reply stays in the thread, beside the explicit resend that went out.
async fn failed_and_unknown_replies_stay_in_the_thread(s: Stores) {
    let c = &s.conversations;
    c.begin_reply("A", &pending("reply:f", 1000)).await.expect("begin f");
    c.settle_reply("A", CONV, "reply:f", &ReplyOutcome::Failed { error: "(#551) unavailable".into() })
        .await
        .expect("failed");
    c.begin_reply("A", &pending("reply:u", 2000)).await.expect("begin u");
    c.settle_reply("A", CONV, "reply:u", &ReplyOutcome::Unknown { error: "HTTP 500".into() })
        .await
        .expect("unknown");
    c.begin_reply("A", &pending("reply:r", 3000)).await.expect("begin resend");
    c.settle_reply("A", CONV, "reply:r", &ReplyOutcome::Sent { mid: "m_r".into() }).await.expect("sent");
    assert_eq!(
        thread(&s).await,
        [
            ("m_r".to_string(), Some(ReplyStatus::Sent)),
            ("reply:u".to_string(), Some(ReplyStatus::Unknown)),
            ("reply:f".to_string(), Some(ReplyStatus::Failed)),
        ]
    );
}

/// Concurrent settlements of one reply (the send's answer and its echo) leave one message.
async fn concurrent_settlements_leave_one_message(s: Stores) {
    let c = s.conversations.clone();
    c.begin_reply("A", &pending("reply:x", 1000)).await.expect("begin");
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.settle_reply("A", CONV, "reply:x", &ReplyOutcome::Sent { mid: "m_x".into() }).await
        }));
    }
    for t in tasks {
        let m = t.await.expect("task").expect("settle").expect("reply");
        assert_eq!(m.id, "m_x");
    }
    assert_eq!(thread(&s).await, [("m_x".to_string(), Some(ReplyStatus::Sent))]);
}

store_contract!(
    a_reply_is_recorded_before_it_is_sent,
    a_sent_reply_and_its_echo_are_one_message,
    failed_and_unknown_replies_stay_in_the_thread,
    concurrent_settlements_leave_one_message,
);
