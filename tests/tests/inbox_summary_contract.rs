//! What the inbox list shows of a conversation, on both stores: its last message (moved with
//! the activity, so a late older event never replaces a newer one) and the customer's name.

use adapters::Stores;
use domain::model::{Conversation, Direction, LastMessage, MessageKind};
use domain::ports::{ConversationFilter, ConversationTouch};
use integration_tests::store_contract;

fn last(text: &str, direction: Direction, ms: i64) -> LastMessage {
    LastMessage { direction, kind: MessageKind::Text, text: Some(text.into()), sent_ms: ms }
}

fn touch(ms: i64, message: Option<LastMessage>, name: Option<&str>) -> ConversationTouch {
    ConversationTouch {
        tenant_id: "A".into(),
        conversation_id: "P_U".into(),
        page_id: "P".into(),
        customer_id: "U".into(),
        activity_ms: ms,
        customer_ms: None,
        last_message: message,
        customer_name: name.map(Into::into),
        post_id: None,
        phones: Vec::new(),
    }
}

async fn stored(s: &Stores) -> Conversation {
    s.conversations.conversation("A", "P_U").await.expect("get").expect("exists")
}

async fn the_last_message_follows_the_newest_event_only(s: Stores) {
    let first = last("Còn size M không?", Direction::In, 2_000);
    let c =
        s.conversations.touch_conversation(&touch(2_000, Some(first.clone()), None)).await.expect("create");
    assert_eq!(c.last_message.as_ref(), Some(&first));
    assert_eq!(stored(&s).await.last_message, Some(first.clone()));

    // A late older event: stored elsewhere, but the header keeps the newer message.
    let older = last("older", Direction::In, 1_500);
    let c = s.conversations.touch_conversation(&touch(1_500, Some(older), None)).await.expect("older");
    assert_eq!(c.last_message.as_ref(), Some(&first));
    // Same time (a redelivery): unchanged too.
    let again = last("again", Direction::In, 2_000);
    s.conversations.touch_conversation(&touch(2_000, Some(again), None)).await.expect("again");
    assert_eq!(stored(&s).await.last_message, Some(first));

    // A newer reply from the Page replaces it, attachment-only (no text) included.
    let reply =
        LastMessage { direction: Direction::Out, kind: MessageKind::Attachment, text: None, sent_ms: 3_000 };
    let c =
        s.conversations.touch_conversation(&touch(3_000, Some(reply.clone()), None)).await.expect("reply");
    assert_eq!(c.last_message.as_ref(), Some(&reply));
    assert_eq!(stored(&s).await.last_message, Some(reply.clone()));
    // A newer touch that carries no message moves the activity and keeps the last message.
    s.conversations.touch_conversation(&touch(3_500, None, None)).await.expect("bare");
    let c = stored(&s).await;
    assert_eq!((c.last_activity_ms, c.last_message), (3_500, Some(reply.clone())));

    // The inbox listing carries it (the indexes project every attribute).
    let all = ConversationFilter::All { page_id: None };
    let page = s.conversations.list_conversations("A", &all, None, 10).await.expect("list");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].last_message, Some(reply));
}

async fn the_customer_name_comes_from_sync_or_the_profile_lookup(s: Stores) {
    // Created by a webhook: no name yet.
    let c = s.conversations.touch_conversation(&touch(1_000, None, None)).await.expect("create");
    assert_eq!(c.customer_name, None);
    // History sync reaching it with the same time fills the missing name in.
    let c = s.conversations.touch_conversation(&touch(1_000, None, Some("Lan Anh"))).await.expect("sync");
    assert_eq!(c.customer_name.as_deref(), Some("Lan Anh"));
    assert_eq!(stored(&s).await.customer_name.as_deref(), Some("Lan Anh"));
    // An older sync does not replace a known name; a newer one (the name changed) does.
    s.conversations.touch_conversation(&touch(900, None, Some("Old"))).await.expect("older");
    assert_eq!(stored(&s).await.customer_name.as_deref(), Some("Lan Anh"));
    s.conversations.touch_conversation(&touch(1_100, None, Some("Lan Anh Nguyễn"))).await.expect("newer");
    assert_eq!(stored(&s).await.customer_name.as_deref(), Some("Lan Anh Nguyễn"));
    // The worker's profile lookup sets it outright.
    s.conversations.set_customer_name("A", "P_U", "Chị Lan").await.expect("set");
    let c = stored(&s).await;
    assert_eq!((c.customer_name.as_deref(), c.last_activity_ms), (Some("Chị Lan"), 1_100));
    // A name for a conversation that does not exist creates nothing; another shop sees none.
    s.conversations.set_customer_name("A", "P_nobody", "X").await.expect("no conversation");
    assert!(s.conversations.conversation("A", "P_nobody").await.expect("get").is_none());
    s.conversations.set_customer_name("B", "P_U", "X").await.expect("other shop");
    assert!(s.conversations.conversation("B", "P_U").await.expect("get B").is_none());
    // Created by history sync: the name comes with the creation.
    let synced = ConversationTouch {
        conversation_id: "P_V".into(),
        customer_id: "V".into(),
        ..touch(5_000, Some(last("hi", Direction::In, 5_000)), Some("Minh"))
    };
    let c = s.conversations.touch_conversation(&synced).await.expect("synced");
    assert_eq!(c.customer_name.as_deref(), Some("Minh"));
    let c = s.conversations.conversation("A", "P_V").await.expect("get").expect("exists");
    assert_eq!(c.customer_name.as_deref(), Some("Minh"));
}

store_contract!(
    the_last_message_follows_the_newest_event_only,
    the_customer_name_comes_from_sync_or_the_profile_lookup,
);
