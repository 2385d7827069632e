//! The same contract for both store implementations: the in-memory twin and DynamoDB on moto.

use std::collections::HashSet;
use std::sync::Arc;

use adapters::Stores;
use domain::model::{ChatMode, Direction, Member, Message, PageRecord, PageRoute, PageStatus, Role};
use domain::ports::{
    Assignment, ConversationFilter, ConversationTouch, ImportedPage, StoreError, StoredPage, WatermarkKind,
};
use integration_tests::store_contract;

fn touch(tenant: &str, page: &str, customer: &str, ts: i64, from_customer: bool) -> ConversationTouch {
    ConversationTouch {
        tenant_id: tenant.into(),
        conversation_id: domain::model::conversation_id(page, customer),
        page_id: page.into(),
        customer_id: customer.into(),
        activity_ms: ts,
        customer_ms: from_customer.then_some(ts),
        last_message: None,
        customer_name: None,
        post_id: None,
        phones: Vec::new(),
    }
}

fn message(conv: &str, mid: &str, ts: i64) -> Message {
    Message {
        id: mid.into(),
        conversation_id: conv.into(),
        direction: Direction::In,
        kind: domain::model::MessageKind::Text,
        text: Some(format!("tin nhắn {mid} – Chào shop")),
        sent_ms: ts,
        detail: Some(serde_json::json!({"reply_to_mid": "m0"})),
        reply: None,
        comment: None,
    }
}

async fn messages_store_once_and_list_newest_first(s: Stores) {
    let c = "P_U";
    for i in 0..7 {
        assert!(
            s.conversations.put_message("A", &message(c, &format!("m{i}"), 1000 + i)).await.expect("put")
        );
    }
    // Redelivery of the same mid, even with another timestamp: refused.
    assert!(!s.conversations.put_message("A", &message(c, "m3", 5000)).await.expect("put dup"));
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.conversations.list_messages("A", c, cursor.as_deref(), 3).await.expect("list");
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|m| (m.sent_ms, m.id, m.text, m.detail)));
        match page.next_cursor {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let ids: Vec<_> = seen.iter().map(|m| m.1.clone()).collect();
    assert_eq!(ids, ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);
    assert_eq!(seen[3].0, 1003, "the duplicate did not overwrite");
    assert_eq!(seen[0].2.as_deref(), Some("tin nhắn m6 – Chào shop"));
    assert_eq!(seen[0].3, Some(serde_json::json!({"reply_to_mid": "m0"})));
    // Another shop sees none of it.
    let other = s.conversations.list_messages("B", c, None, 10).await.expect("list B");
    assert!(other.items.is_empty());
}

async fn activity_only_moves_forward_and_assignment_happens_once(s: Stores) {
    let t = touch("A", "P", "U", 2000, true);
    let c = s.conversations.touch_conversation(&t).await.expect("create");
    assert!(c.assignment_pending);
    assert_eq!(c.last_activity_ms, 2000);
    assert_eq!(c.last_customer_message_ms, Some(2000));
    // An older event (out of order): activity stays.
    let older = s.conversations.touch_conversation(&touch("A", "P", "U", 1500, true)).await.expect("older");
    assert_eq!(older.last_activity_ms, 2000);
    // A newer Page echo: activity moves, the customer's time does not.
    let echo = s.conversations.touch_conversation(&touch("A", "P", "U", 3000, false)).await.expect("echo");
    assert_eq!((echo.last_activity_ms, echo.last_customer_message_ms), (3000, Some(2000)));
    // An older customer message than the echo, newer than the last customer one.
    let late = s.conversations.touch_conversation(&touch("A", "P", "U", 2500, true)).await.expect("late");
    assert_eq!((late.last_activity_ms, late.last_customer_message_ms), (3000, Some(2500)));

    let a = Assignment::Agent("owner@a.vn".into());
    assert!(s.conversations.complete_assignment("A", &c.id, &a).await.expect("assign"));
    assert!(
        !s.conversations
            .complete_assignment("A", &c.id, &Assignment::Agent("x@a.vn".into()))
            .await
            .expect("again")
    );
    let after = s.conversations.touch_conversation(&touch("A", "P", "U", 4000, true)).await.expect("touch");
    assert!(!after.assignment_pending);
    assert_eq!(after.assignee.as_deref(), Some("owner@a.vn"));

    s.conversations.advance_watermark("A", &c.id, WatermarkKind::Read, 3500).await.expect("read");
    s.conversations.advance_watermark("A", &c.id, WatermarkKind::Read, 3000).await.expect("older read");
    s.conversations.advance_watermark("A", &c.id, WatermarkKind::Delivery, 3900).await.expect("delivery");
    // A watermark for a conversation that does not exist creates nothing.
    s.conversations.advance_watermark("A", "P_nobody", WatermarkKind::Read, 1).await.expect("no conv");
    assert!(s.conversations.conversation("A", "P_nobody").await.expect("get").is_none());
    let c = s.conversations.conversation("A", &c.id).await.expect("get").expect("exists");
    assert_eq!((c.read_watermark_ms, c.delivery_watermark_ms), (Some(3500), Some(3900)));
    // Invisible from another shop.
    assert!(s.conversations.conversation("B", &c.id).await.expect("get B").is_none());
}

async fn conversations_list_by_view_newest_first_with_cursors(s: Stores) {
    // 12 conversations on two Pages; even ones held by lan@, odd ones by minh@.
    for i in 0..12i64 {
        let page = if i % 3 == 0 { "P2" } else { "P1" };
        let t = touch("A", page, &format!("U{i:02}"), 10_000 + i * 10, true);
        let c = s.conversations.touch_conversation(&t).await.expect("touch");
        let who = if i % 2 == 0 { "lan@a.vn" } else { "minh@a.vn" };
        s.conversations
            .complete_assignment("A", &c.id, &Assignment::Agent(who.into()))
            .await
            .expect("assign");
    }
    s.conversations.touch_conversation(&touch("B", "P9", "X", 99_999, true)).await.expect("other shop");

    async fn walk(s: &Stores, f: &ConversationFilter, limit: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let p = s.conversations.list_conversations("A", f, cursor.as_deref(), limit).await.expect("list");
            assert!(p.items.len() <= limit);
            out.extend(p.items.into_iter().map(|c| c.id));
            match p.next_cursor {
                Some(n) => cursor = Some(n),
                None => return out,
            }
        }
    }
    let all = walk(&s, &ConversationFilter::All { page_id: None }, 5).await;
    let expected: Vec<String> =
        (0..12i64).rev().map(|i| format!("{}_U{i:02}", if i % 3 == 0 { "P2" } else { "P1" })).collect();
    assert_eq!(all, expected);
    let p2 = walk(&s, &ConversationFilter::All { page_id: Some("P2".into()) }, 2).await;
    assert_eq!(p2, ["P2_U09", "P2_U06", "P2_U03", "P2_U00"]);
    let lan = walk(&s, &ConversationFilter::AssignedTo { email: "lan@a.vn".into(), page_id: None }, 4).await;
    assert_eq!(lan, ["P1_U10", "P1_U08", "P2_U06", "P1_U04", "P1_U02", "P2_U00"]);
    let lan_p1 =
        walk(&s, &ConversationFilter::AssignedTo { email: "lan@a.vn".into(), page_id: Some("P1".into()) }, 2)
            .await;
    assert_eq!(lan_p1, ["P1_U10", "P1_U08", "P1_U04", "P1_U02"]);

    // New activity moves a conversation to the top.
    s.conversations.touch_conversation(&touch("A", "P1", "U01", 50_000, true)).await.expect("touch");
    let first = s
        .conversations
        .list_conversations("A", &ConversationFilter::All { page_id: None }, None, 1)
        .await
        .expect("list");
    assert_eq!(first.items[0].id, "P1_U01");

    // A cursor from one listing is refused by another; garbage is refused.
    let c = first.next_cursor.expect("more");
    let mine = ConversationFilter::AssignedTo { email: "lan@a.vn".into(), page_id: None };
    assert!(matches!(
        s.conversations.list_conversations("A", &mine, Some(&c), 5).await,
        Err(StoreError::InvalidCursor)
    ));
    assert!(matches!(
        s.conversations
            .list_conversations("A", &ConversationFilter::All { page_id: None }, Some("bm9wZQ"), 5)
            .await,
        Err(StoreError::InvalidCursor)
    ));
    // A cursor issued for shop A does not open shop B's listing.
    assert!(matches!(
        s.conversations
            .list_conversations("B", &ConversationFilter::All { page_id: None }, Some(&c), 5)
            .await,
        Err(StoreError::InvalidCursor) | Ok(domain::model::Paged { items: _, next_cursor: None })
    ));
    let b = s
        .conversations
        .list_conversations("B", &ConversationFilter::All { page_id: None }, None, 50)
        .await
        .expect("B");
    assert_eq!(b.items.len(), 1);
}

/// Pages of 25 over 120 conversations while messages keep arriving: conversations just below
/// the cursor jump to the top, listed ones get new messages, new conversations start, and a
/// concurrent writer touches conversations throughout. Every conversation is listed exactly
/// once; new ones at most once.
async fn inbox_walks_list_each_conversation_once_while_messages_arrive(s: Stores) {
    let tenant = "W";
    let base = 1_000_000i64;
    let mut originals = Vec::new();
    for i in 0..120i64 {
        let t = touch(tenant, "P1", &format!("U{i:03}"), base + i * 10, true);
        let c = s.conversations.touch_conversation(&t).await.expect("touch");
        let who = if i % 2 == 0 { "lan@a.vn" } else { "minh@a.vn" };
        s.conversations
            .complete_assignment(tenant, &c.id, &Assignment::Agent(who.into()))
            .await
            .expect("assign");
        originals.push(c.id);
    }
    let clock = Arc::new(std::sync::atomic::AtomicI64::new(base + 10_000));
    let next_ts = {
        let clock = clock.clone();
        move || clock.fetch_add(7, std::sync::atomic::Ordering::SeqCst)
    };

    for filter in [
        ConversationFilter::All { page_id: None },
        ConversationFilter::AssignedTo { email: "lan@a.vn".into(), page_id: None },
    ] {
        let members: Vec<String> = originals
            .iter()
            .enumerate()
            .filter(|(i, _)| matches!(filter, ConversationFilter::All { .. }) || i % 2 == 0)
            .map(|(_, id)| id.clone())
            .collect();
        // A writer that keeps moving conversations while the walk goes on.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writer = {
            let (s, stop, originals, next_ts) = (s.clone(), stop.clone(), originals.clone(), next_ts.clone());
            let writes = writes.clone();
            tokio::spawn(async move {
                let mut n = 0usize;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let customer = &originals[(n * 37) % originals.len()][3..];
                    s.conversations
                        .touch_conversation(&touch(tenant, "P1", customer, next_ts(), true))
                        .await
                        .expect("concurrent touch");
                    n += 1;
                    writes.store(n, std::sync::atomic::Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
                n
            })
        };
        while writes.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let mut listed: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        let mut created = 0;
        loop {
            let p = s
                .conversations
                .list_conversations(tenant, &filter, cursor.as_deref(), 25)
                .await
                .expect("page");
            assert!(p.items.len() <= 25);
            listed.extend(p.items.iter().map(|c| c.id.clone()));
            pages += 1;
            assert!(pages < 20, "the walk does not end");
            let Some(next) = p.next_cursor else { break };
            cursor = Some(next);
            tokio::task::yield_now().await;
            // Between pages: the next two not yet listed (just below the cursor) and the last
            // one get a message and jump to the top; two listed ones get one too; a customer
            // writes for the first time.
            let pending: Vec<&String> = members.iter().rev().filter(|id| !listed.contains(id)).collect();
            let mut moving: Vec<String> = pending.iter().take(2).map(|id| id.to_string()).collect();
            moving.extend(pending.last().map(|id| id.to_string()));
            moving.extend(listed.iter().take(2).cloned());
            for id in moving {
                s.conversations
                    .touch_conversation(&touch(tenant, "P1", &id[3..], next_ts(), true))
                    .await
                    .expect("move");
            }
            created += 1;
            let fresh = touch(tenant, "P1", &format!("NEW{created}"), next_ts(), true);
            let c = s.conversations.touch_conversation(&fresh).await.expect("new conversation");
            s.conversations
                .complete_assignment(tenant, &c.id, &Assignment::Agent("lan@a.vn".into()))
                .await
                .expect("assign new");
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let concurrent = writer.await.expect("writer");
        assert!(concurrent > 0, "the concurrent writer ran");
        assert!(pages >= members.len().div_ceil(25), "{pages} pages for {} conversations", members.len());
        let unique: HashSet<&String> = listed.iter().collect();
        assert_eq!(unique.len(), listed.len(), "a conversation was listed twice: {listed:?}");
        let missing: Vec<&String> = members.iter().filter(|id| !unique.contains(id)).collect();
        assert!(missing.is_empty(), "lost during the walk: {missing:?}");
        assert!(listed.iter().all(|id| members.contains(id) || id.contains("_NEW")), "{listed:?}");
    }
    // A fresh first page shows the newest activity on top.
    let last = touch(tenant, "P1", "U050", next_ts(), true);
    s.conversations.touch_conversation(&last).await.expect("touch");
    let top = s
        .conversations
        .list_conversations(tenant, &ConversationFilter::All { page_id: None }, None, 3)
        .await
        .expect("top");
    assert_eq!(top.items[0].id, last.conversation_id);
}

async fn members_are_added_once(s: Stores) {
    let m = Member { email: "lan@a.vn".into(), role: Role::Agent };
    assert!(s.members.add_member("A", &m).await.expect("add"));
    assert!(!s.members.add_member("A", &Member { role: Role::Owner, ..m.clone() }).await.expect("again"));
    assert_eq!(s.members.member("A", "lan@a.vn").await.expect("get"), Some(m.clone()));
    assert_eq!(s.members.member("B", "lan@a.vn").await.expect("get B"), None);
    s.members.add_member("A", &Member { email: "an@a.vn".into(), role: Role::Owner }).await.expect("add");
    let emails: HashSet<_> =
        s.members.list_members("A").await.expect("list").into_iter().map(|m| m.email).collect();
    assert_eq!(emails, HashSet::from(["lan@a.vn".to_string(), "an@a.vn".to_string()]));
}

async fn a_page_routes_to_one_shop(s: Stores) {
    let page = PageRecord {
        page_id: "P".into(),
        name: "Áo Đẹp".into(),
        status: PageStatus::Connected,
        chat_mode: Some(ChatMode::OnlyMe),
        rule_id: None,
        connected_by: Some("o@a.vn".into()),
        last_connected_at: Some("2026-11-25T10:00:00Z".into()),
        lost_reason: None,
    };
    let route = PageRoute {
        page_id: "P".into(),
        tenant_id: "A".into(),
        status: PageStatus::Connected,
        chat_mode: ChatMode::OnlyMe,
        rule_id: None,
        connected_by: "o@a.vn".into(),
    };
    assert!(s.pages.page_route("P").await.expect("route").is_none());
    s.pages.connect_page(&page, &route).await.expect("connect");
    // The same shop may connect again (reconnect).
    s.pages.connect_page(&page, &route).await.expect("reconnect");
    let other = PageRoute { tenant_id: "B".into(), ..route.clone() };
    assert!(matches!(s.pages.connect_page(&page, &other).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.pages.page_route("P").await.expect("route"), Some(route));
    assert_eq!(s.pages.list_pages("A").await.expect("pages"), vec![page]);
    assert!(s.pages.list_pages("B").await.expect("pages B").is_empty());
}

async fn concurrent_duplicates_store_once(s: Stores) {
    let futs = (0..10).map(|_| {
        let s = s.clone();
        async move { s.conversations.put_message("A", &message("P_U", "same", 1)).await.expect("put") }
    });
    let results = futures::future::join_all(futs).await;
    assert_eq!(results.iter().filter(|r| **r).count(), 1);
    let t = touch("A", "P", "U", 1, true);
    let futs = (0..10).map(|i| {
        let s = s.clone();
        let t = t.clone();
        async move {
            s.conversations.touch_conversation(&t).await.expect("touch");
            s.conversations
                .complete_assignment("A", "P_U", &Assignment::Agent(format!("a{i}@a.vn")))
                .await
                .expect("assign")
        }
    });
    let won = futures::future::join_all(futs).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "exactly one assignment wins");

    // Concurrent moves of one conversation (events of different times, in any order): the
    // newest time wins, every writer gets an answer, and a walk lists the conversation once.
    let futs = (0..8i64).map(|i| {
        let s = s.clone();
        async move {
            let t = touch("A", "P", "U", 100 + (i * 5) % 8, i % 2 == 0);
            tokio::spawn(
                async move { s.conversations.touch_conversation(&t).await.expect("concurrent move") },
            )
            .await
            .expect("task")
        }
    });
    futures::future::join_all(futs).await;
    let c = s.conversations.conversation("A", "P_U").await.expect("get").expect("exists");
    assert_eq!(c.last_activity_ms, 107);
    assert_eq!(c.last_customer_message_ms, Some(106));
    let all = s
        .conversations
        .list_conversations("A", &ConversationFilter::All { page_id: None }, None, 10)
        .await
        .expect("list");
    assert_eq!(all.items.iter().filter(|c| c.id == "P_U").count(), 1);
}

async fn imported_pages_keep_their_token_through_connect_lose_and_disconnect(s: Stores) {
    let imported = ImportedPage {
        page_id: "P".into(),
        name: "Áo Đẹp".into(),
        token_enc: "v1:sealed".into(),
        imported_by: "o@a.vn".into(),
    };
    let p = s.pages.import_page("A", &imported).await.expect("import");
    assert_eq!((p.status, p.chat_mode), (PageStatus::NotConnected, None));
    assert!(s.pages.page_route("P").await.expect("route").is_none(), "imported is not receiving");
    let page = PageRecord {
        status: PageStatus::Connected,
        chat_mode: Some(ChatMode::OnlyMe),
        connected_by: Some("o@a.vn".into()),
        last_connected_at: Some("2026-11-25T10:00:00.000Z".into()),
        ..p
    };
    let route = PageRoute {
        page_id: "P".into(),
        tenant_id: "A".into(),
        status: PageStatus::Connected,
        chat_mode: ChatMode::OnlyMe,
        rule_id: None,
        connected_by: "o@a.vn".into(),
    };
    s.pages.connect_page(&page, &route).await.expect("connect");
    let StoredPage { record: got, token_enc: token } =
        s.pages.page("A", "P").await.expect("page").expect("exists");
    assert_eq!(got, page);
    assert_eq!(token.as_deref(), Some("v1:sealed"), "connecting keeps the stored token");
    // A new import (new OAuth) refreshes name and token, keeps the connection.
    let again = s
        .pages
        .import_page(
            "A",
            &ImportedPage { name: "Áo Đẹp 2".into(), token_enc: "v1:new".into(), ..imported.clone() },
        )
        .await
        .expect("reimport");
    assert_eq!((again.status, again.name.as_str()), (PageStatus::Connected, "Áo Đẹp 2"));
    assert_eq!(
        s.pages.page("A", "P").await.expect("page").and_then(|p| p.token_enc).as_deref(),
        Some("v1:new")
    );

    let version = s.pages.holder("P").await.expect("holder").expect("held").version;
    assert!(s.pages.mark_lost("A", "P", &version, "the Facebook password was changed").await.expect("lost"));
    let StoredPage { record: lost, .. } = s.pages.page("A", "P").await.expect("page").expect("exists");
    assert_eq!(lost.status, PageStatus::LostConnection);
    assert_eq!(lost.lost_reason.as_deref(), Some("the Facebook password was changed"));
    assert_eq!(
        s.pages.page_route("P").await.expect("route").map(|r| r.status),
        Some(PageStatus::LostConnection)
    );
    // Another shop cannot mark or disconnect it.
    s.pages.disconnect_page("B", "P").await.expect("other shop");
    assert!(s.pages.page_route("P").await.expect("route").is_some());

    s.pages.disconnect_page("A", "P").await.expect("disconnect");
    assert!(s.pages.page_route("P").await.expect("route").is_none());
    let StoredPage { record: off, token_enc: token } =
        s.pages.page("A", "P").await.expect("page").expect("exists");
    assert_eq!((off.status, off.lost_reason), (PageStatus::NotConnected, None));
    assert!(token.is_some());
    // mark_lost on a disconnected Page changes nothing.
    assert!(!s.pages.mark_lost("A", "P", &version, "x").await.expect("lost"));
    assert_eq!(
        s.pages.page("A", "P").await.expect("page").map(|p| p.record.status),
        Some(PageStatus::NotConnected)
    );
    assert!(s.pages.page("B", "P").await.expect("page B").is_none());
}

async fn nonces_are_consumed_once(s: Stores) {
    let exp = domain::timefmt::now_ms() + 60_000;
    let futs = (0..8).map(|_| {
        let s = s.clone();
        async move { s.nonces.consume_once("n-1", exp).await.expect("consume") }
    });
    let won = futures::future::join_all(futs).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1);
    assert!(s.nonces.consume_once("n-2", exp).await.expect("other nonce"));
}

store_contract!(
    messages_store_once_and_list_newest_first,
    activity_only_moves_forward_and_assignment_happens_once,
    conversations_list_by_view_newest_first_with_cursors,
    inbox_walks_list_each_conversation_once_while_messages_arrive,
    members_are_added_once,
    a_page_routes_to_one_shop,
    concurrent_duplicates_store_once,
    imported_pages_keep_their_token_through_connect_lose_and_disconnect,
    nonces_are_consumed_once,
);
