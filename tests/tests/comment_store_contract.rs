//! The comment store's contract on both stores (the in-memory twin and DynamoDB on moto):
//! comments found by id, changed in place once and in order, the one private reply, adopted
//! replies, auto-hide, hand-offs, and the phone numbers and post a conversation header keeps.

use std::time::Duration;

use adapters::Stores;
use domain::comments::{AutoHide, CommentChange, CommentState, HANDOFF_TTL_MS, Handoff, PrivateReplyMark};
use domain::model::{ConversationKind, Direction, Message, MessageKind};
use domain::ports::{Assignment, ConversationTouch};
use integration_tests::store_contract;

const PAGE: &str = "111";
const POST: &str = "111_333";
const CONV: &str = "111_222_p333";

fn touch(conversation_id: &str, ms: i64, post: Option<&str>, phones: &[&str]) -> ConversationTouch {
    ConversationTouch {
        tenant_id: "A".into(),
        conversation_id: conversation_id.into(),
        page_id: PAGE.into(),
        customer_id: "222".into(),
        activity_ms: ms,
        customer_ms: Some(ms),
        last_message: None,
        customer_name: None,
        post_id: post.map(Into::into),
        phones: phones.iter().map(|p| p.to_string()).collect(),
    }
}

fn comment(id: &str, text: Option<&str>, ms: i64) -> Message {
    Message {
        id: id.into(),
        conversation_id: CONV.into(),
        direction: Direction::In,
        kind: MessageKind::Comment,
        text: text.map(Into::into),
        sent_ms: ms,
        detail: None,
        reply: None,
        comment: Some(CommentState {
            comment_id: id.into(),
            post_id: Some(POST.into()),
            parent_id: Some(POST.into()),
            ..CommentState::default()
        }),
    }
}

/// A comment conversation with one comment stored.
async fn stored_comment(s: &Stores, id: &str, text: Option<&str>) -> Message {
    s.conversations.touch_conversation(&touch(CONV, 1_000, Some(POST), &[])).await.expect("touch");
    let m = comment(id, text, 1_000);
    assert!(s.conversations.put_message("A", &m).await.expect("put"));
    m
}

/// The index lookup is eventually consistent: give it a moment.
async fn found_by_id(s: &Stores, tenant: &str, id: &str) -> Option<Message> {
    for _ in 0..20 {
        if let Some(m) = s.comments.comment(tenant, id).await.expect("comment") {
            return Some(m);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn state(m: &Option<Message>) -> CommentState {
    m.as_ref().and_then(|m| m.comment.clone()).expect("a comment")
}

async fn a_comment_is_found_by_its_id_within_its_shop(s: Stores) {
    let m = stored_comment(&s, "333_1", Some("ib giá nhé")).await;
    assert_eq!(s.comments.comment_in("A", CONV, "333_1").await.expect("in"), Some(m.clone()));
    assert_eq!(found_by_id(&s, "A", "333_1").await, Some(m.clone()));
    // Another shop, another id, another conversation: nothing.
    assert_eq!(s.comments.comment("B", "333_1").await.expect("other shop"), None);
    assert_eq!(s.comments.comment("A", "333_9").await.expect("other id"), None);
    assert_eq!(s.comments.comment_in("A", "111_222_p334", "333_1").await.expect("elsewhere"), None);
    // A message that is not a comment is not one here either.
    let plain = Message { comment: None, id: "m-1".into(), ..m };
    assert!(s.conversations.put_message("A", &plain).await.expect("put"));
    assert_eq!(s.comments.comment_in("A", CONV, "m-1").await.expect("plain"), None);
    assert!(s.comments.change_comment("A", CONV, "m-1", &CommentChange::Removed).await.expect("x").is_none());

    // The header is a comment conversation of its post, set at creation only.
    let later = touch(CONV, 2_000, Some("111_999"), &[]);
    let c = s.conversations.touch_conversation(&later).await.expect("move");
    assert_eq!((c.post_id.as_deref(), c.kind()), (Some(POST), ConversationKind::Comment));
    let c = s.conversations.conversation("A", CONV).await.expect("get").expect("exists");
    assert_eq!(c.post_id.as_deref(), Some(POST));
}

async fn an_edit_applies_once_and_in_order(s: Stores) {
    stored_comment(&s, "333_1", Some("còn size M?")).await;
    let edit = |text: &str, at_ms| CommentChange::Edited { text: Some(text.into()), at_ms };
    let first = s.comments.change_comment("A", CONV, "333_1", &edit("còn size L?", 10)).await.expect("edit");
    let c = state(&first);
    assert_eq!(first.as_ref().and_then(|m| m.text.as_deref()), Some("còn size L?"));
    assert_eq!((c.previous_text.as_deref(), c.edited_ms), (Some("còn size M?"), Some(10)));
    // The same edit again, then an older one: nothing changes, the comment comes back as is.
    let again = s.comments.change_comment("A", CONV, "333_1", &edit("còn size L?", 10)).await.expect("again");
    assert_eq!(again, first);
    let older = s.comments.change_comment("A", CONV, "333_1", &edit("cũ", 5)).await.expect("older");
    assert_eq!(older, first);
    assert_eq!(s.comments.comment_in("A", CONV, "333_1").await.expect("read"), first);
    // A newer one applies over it.
    let newer = s.comments.change_comment("A", CONV, "333_1", &edit("size XL", 20)).await.expect("newer");
    assert_eq!(newer.as_ref().and_then(|m| m.text.as_deref()), Some("size XL"));
    assert_eq!(state(&newer).previous_text.as_deref(), Some("còn size L?"));
    // An edit to no text, then back: the absence is kept as such.
    let empty = CommentChange::Edited { text: None, at_ms: 30 };
    let cleared = s.comments.change_comment("A", CONV, "333_1", &empty).await.expect("cleared");
    assert_eq!(cleared.as_ref().and_then(|m| m.text.clone()), None);
    let back = s.comments.change_comment("A", CONV, "333_1", &edit("lại", 40)).await.expect("back");
    assert_eq!(state(&back).previous_text, None);
    // A comment never stored: none.
    assert_eq!(s.comments.change_comment("A", CONV, "333_9", &edit("x", 50)).await.expect("absent"), None);
}

async fn removal_keeps_the_text_and_hiding_toggles(s: Stores) {
    stored_comment(&s, "333_1", Some("0912 345 678")).await;
    let hidden =
        s.comments.change_comment("A", CONV, "333_1", &CommentChange::Hidden(true)).await.expect("hide");
    assert!(state(&hidden).hidden);
    let shown =
        s.comments.change_comment("A", CONV, "333_1", &CommentChange::Hidden(false)).await.expect("show");
    assert!(!state(&shown).hidden);
    let removed =
        s.comments.change_comment("A", CONV, "333_1", &CommentChange::Removed).await.expect("remove");
    assert!(state(&removed).removed);
    assert_eq!(removed.as_ref().and_then(|m| m.text.as_deref()), Some("0912 345 678"));
    let read = s.comments.comment_in("A", CONV, "333_1").await.expect("read");
    assert_eq!(read, removed);
    for change in [CommentChange::Removed, CommentChange::Hidden(true)] {
        assert_eq!(s.comments.change_comment("A", CONV, "333_9", &change).await.expect("absent"), None);
        assert_eq!(s.comments.change_comment("B", CONV, "333_1", &change).await.expect("other shop"), None);
    }
}

fn mark(reply_id: &str) -> PrivateReplyMark {
    PrivateReplyMark { by: "a@shop.vn".into(), reply_id: reply_id.into(), at_ms: 5 }
}

async fn one_private_reply_per_comment(s: Stores) {
    stored_comment(&s, "333_1", Some("ib")).await;
    let tries = (0..8).map(|i| {
        let s = s.clone();
        async move { s.comments.mark_private_reply("A", CONV, "333_1", &mark(&format!("reply:{i}"))).await }
    });
    let won: Vec<bool> =
        futures::future::join_all(tries).await.into_iter().map(|r| r.expect("mark")).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let winner = format!("reply:{}", won.iter().position(|w| *w).unwrap_or_default());
    let read = s.comments.comment_in("A", CONV, "333_1").await.expect("read");
    assert_eq!(state(&read).private_reply, Some(mark(&winner)));

    // Only the winner's reply id takes it back.
    s.comments.release_private_reply("A", CONV, "333_1", "reply:other").await.expect("release other");
    let read = s.comments.comment_in("A", CONV, "333_1").await.expect("read");
    assert_eq!(state(&read).private_reply, Some(mark(&winner)));
    assert!(!s.comments.mark_private_reply("A", CONV, "333_1", &mark("reply:late")).await.expect("late"));
    s.comments.release_private_reply("A", CONV, "333_1", &winner).await.expect("release");
    let read = s.comments.comment_in("A", CONV, "333_1").await.expect("read");
    assert_eq!(state(&read).private_reply, None);
    assert!(s.comments.mark_private_reply("A", CONV, "333_1", &mark("reply:next")).await.expect("again"));
    // No comment stored: no mark, and releasing changes nothing.
    assert!(!s.comments.mark_private_reply("A", CONV, "333_9", &mark("reply:x")).await.expect("absent"));
    s.comments.release_private_reply("A", CONV, "333_9", "reply:x").await.expect("release absent");
    assert_eq!(s.comments.comment_in("A", CONV, "333_9").await.expect("read"), None);
}

async fn a_settled_reply_is_adopted_as_a_comment(s: Stores) {
    stored_comment(&s, "333_1", Some("còn hàng?")).await;
    // The shop's public reply, settled under Meta's new comment id: a plain message so far.
    let reply =
        Message {
            direction: Direction::Out, comment: None, ..comment("333_2", Some("Dạ còn ạ"), 1_500)
        };
    assert!(s.conversations.put_message("A", &reply).await.expect("put"));
    assert_eq!(s.comments.comment_in("A", CONV, "333_2").await.expect("before"), None);
    let adopted = CommentState {
        comment_id: "333_2".into(),
        post_id: Some(POST.into()),
        parent_id: Some("333_1".into()),
        ..CommentState::default()
    };
    s.comments.adopt_comment("A", CONV, &adopted).await.expect("adopt");
    let read = s.comments.comment_in("A", CONV, "333_2").await.expect("read");
    assert_eq!(read, Some(Message { comment: Some(adopted.clone()), ..reply.clone() }));
    assert_eq!(found_by_id(&s, "A", "333_2").await, read);
    // A hide that reached it is kept by a second adoption.
    s.comments.change_comment("A", CONV, "333_2", &CommentChange::Hidden(true)).await.expect("hide");
    s.comments.adopt_comment("A", CONV, &adopted).await.expect("adopt again");
    assert!(state(&s.comments.comment_in("A", CONV, "333_2").await.expect("read")).hidden);
    // Not stored: nothing is created.
    let ghost = CommentState { comment_id: "333_7".into(), ..adopted };
    s.comments.adopt_comment("A", CONV, &ghost).await.expect("adopt absent");
    assert_eq!(s.comments.comment_in("A", CONV, "333_7").await.expect("read"), None);
    assert!(s.conversations.list_messages("A", CONV, None, 10).await.expect("list").items.len() == 2);
}

async fn auto_hide_is_per_page_of_each_shop(s: Stores) {
    assert_eq!(s.comments.auto_hide("A", "P1").await.expect("default"), AutoHide::Off);
    s.comments.set_auto_hide("A", "P1", AutoHide::Phone).await.expect("set");
    assert_eq!(s.comments.auto_hide("A", "P1").await.expect("read"), AutoHide::Phone);
    assert_eq!(s.comments.auto_hide("A", "P2").await.expect("other page"), AutoHide::Off);
    assert_eq!(s.comments.auto_hide("B", "P1").await.expect("other shop"), AutoHide::Off);
    s.comments.set_auto_hide("A", "P1", AutoHide::All).await.expect("set all");
    assert_eq!(s.comments.auto_hide("A", "P1").await.expect("read"), AutoHide::All);
    s.comments.set_auto_hide("A", "P1", AutoHide::Off).await.expect("off");
    assert_eq!(s.comments.auto_hide("A", "P1").await.expect("read"), AutoHide::Off);
}

fn handoff(by: &str, at_ms: i64) -> Handoff {
    Handoff { by: by.into(), from_conversation_id: CONV.into(), comment_id: "333_1".into(), at_ms }
}

async fn a_handoff_completes_only_a_pending_conversation(s: Stores) {
    let now = domain::timefmt::now_ms();
    let messenger = domain::model::conversation_id(PAGE, "222");
    assert_eq!(s.comments.handoff("A", &messenger).await.expect("none"), None);
    s.comments.put_handoff("A", &messenger, &handoff("a@shop.vn", now)).await.expect("put");
    // A later private reply replaces it.
    s.comments.put_handoff("A", &messenger, &handoff("b@shop.vn", now + 1)).await.expect("replace");
    let h = s.comments.handoff("A", &messenger).await.expect("read");
    assert_eq!(h, Some(handoff("b@shop.vn", now + 1)));
    assert_eq!(s.comments.handoff("B", &messenger).await.expect("other shop"), None);
    let h = h.unwrap_or_else(|| handoff("b@shop.vn", now + 1));

    // Not created yet: nothing to complete.
    assert!(!s.comments.complete_handoff("A", &messenger, &h).await.expect("absent"));
    s.conversations.touch_conversation(&touch(&messenger, 2_000, None, &[])).await.expect("create");
    assert!(s.comments.complete_handoff("A", &messenger, &h).await.expect("complete"));
    let c = s.conversations.conversation("A", &messenger).await.expect("get").expect("exists");
    assert_eq!((c.assignee.as_deref(), c.assignment_pending), (Some("b@shop.vn"), false));
    assert_eq!((c.kind(), c.handoff), (ConversationKind::Messenger, Some(h.clone())));
    // Once only; and a conversation assigned otherwise first is left alone.
    assert!(!s.comments.complete_handoff("A", &messenger, &handoff("a@shop.vn", now)).await.expect("again"));
    let other = domain::model::conversation_id(PAGE, "777");
    s.conversations.touch_conversation(&touch(&other, 2_000, None, &[])).await.expect("create other");
    let to = Assignment::Agent("c@shop.vn".into());
    assert!(s.conversations.complete_assignment("A", &other, &to).await.expect("assign"));
    assert!(!s.comments.complete_handoff("A", &other, &h).await.expect("assigned"));
    let c = s.conversations.conversation("A", &other).await.expect("get").expect("exists");
    assert_eq!((c.assignee.as_deref(), c.handoff), (Some("c@shop.vn"), None));

    // An expired hand-off is absent.
    let stale = handoff("a@shop.vn", now - HANDOFF_TTL_MS - 1_000);
    s.comments.put_handoff("A", &other, &stale).await.expect("put stale");
    assert_eq!(s.comments.handoff("A", &other).await.expect("stale"), None);
}

async fn deleting_a_conversation_deletes_its_handoff(s: Stores) {
    let messenger = domain::model::conversation_id(PAGE, "222");
    s.conversations.touch_conversation(&touch(&messenger, 2_000, None, &[])).await.expect("create");
    let m =
        Message { conversation_id: messenger.clone(), comment: None, ..comment("m-1", Some("hi"), 2_000) };
    assert!(s.conversations.put_message("A", &m).await.expect("put"));
    let now = domain::timefmt::now_ms();
    s.comments.put_handoff("A", &messenger, &handoff("a@shop.vn", now)).await.expect("put");
    assert_eq!(s.conversations.delete_conversation("A", &messenger).await.expect("delete"), 1, "messages");
    assert_eq!(s.comments.handoff("A", &messenger).await.expect("read"), None);
    assert!(s.conversations.conversation("A", &messenger).await.expect("get").is_none());
}

async fn phones_accumulate_without_duplicates(s: Stores) {
    let (a, b, c) = ("0912345678", "0987654321", "0351234567");
    let t = |ms, phones: &[&str]| touch(CONV, ms, Some(POST), phones);
    let created = s.conversations.touch_conversation(&t(1_000, &[b, a, b])).await.expect("create");
    assert_eq!(created.phones, [a, b]);
    // Moving forward with one known and one new number.
    let moved = s.conversations.touch_conversation(&t(2_000, &[c, a])).await.expect("move");
    assert_eq!(moved.phones, [c, a, b]);
    // A late event: a known number writes nothing new, a new one still joins.
    let late = s.conversations.touch_conversation(&t(1_500, &[a])).await.expect("late");
    assert_eq!(late.phones, [c, a, b]);
    let d = "0701234567";
    let late = s.conversations.touch_conversation(&t(1_600, &[d])).await.expect("late new");
    assert_eq!(late.phones, [c, d, a, b]);
    let stored = s.conversations.conversation("A", CONV).await.expect("get").expect("exists");
    assert_eq!(
        (stored.phones, stored.last_activity_ms),
        (vec![c.to_string(), d.into(), a.into(), b.into()], 2_000)
    );
    // An event without numbers leaves them.
    let none = s.conversations.touch_conversation(&t(3_000, &[])).await.expect("no phones");
    assert_eq!(none.phones.len(), 4);
}

store_contract!(
    a_comment_is_found_by_its_id_within_its_shop,
    an_edit_applies_once_and_in_order,
    removal_keeps_the_text_and_hiding_toggles,
    one_private_reply_per_comment,
    a_settled_reply_is_adopted_as_a_comment,
    auto_hide_is_per_page_of_each_shop,
    a_handoff_completes_only_a_pending_conversation,
    deleting_a_conversation_deletes_its_handoff,
    phones_accumulate_without_duplicates,
);
