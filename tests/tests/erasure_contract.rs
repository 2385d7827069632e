//! Finding 6 (Meta's data callbacks, deletion): the storage they rest on, the same contract for
//! the in-memory twin and DynamoDB on moto. Token revocation, who imported which Page, the
//! deletion requests, and a shop deleting a Page's data. None of it existed before: each test
//! fails to compile, let alone pass, on the old code.

use adapters::Stores;
use domain::model::{ChatMode, Direction, Message, PageRecord, PageRoute, PageStatus};
use domain::ports::{
    ConversationFilter, ConversationTouch, DeletionCounts, DeletionRequest, DeletionStatus, ImportedPage,
    PageErasure, StoreError, StoredPage,
};
use integration_tests::store_contract;

const REASON: &str = "the person who connected it removed the app";

async fn import(s: &Stores, tenant: &str, page: &str, token: &str) -> PageRecord {
    let imported = ImportedPage {
        page_id: page.into(),
        name: "Áo Đẹp".into(),
        token_enc: token.into(),
        imported_by: "o@a.vn".into(),
    };
    s.pages.import_page(tenant, &imported).await.expect("import")
}

async fn connect(s: &Stores, tenant: &str, page: PageRecord) {
    let route = PageRoute {
        page_id: page.page_id.clone(),
        tenant_id: tenant.into(),
        status: PageStatus::Connected,
        chat_mode: ChatMode::OnlyMe,
        rule_id: None,
        connected_by: "o@a.vn".into(),
    };
    let record = PageRecord {
        status: PageStatus::Connected,
        chat_mode: Some(ChatMode::OnlyMe),
        connected_by: Some("o@a.vn".into()),
        last_connected_at: Some("2026-11-25T10:00:00.000Z".into()),
        ..page
    };
    s.pages.connect_page(&record, &route).await.expect("connect");
}

async fn stored(s: &Stores, tenant: &str, page: &str) -> Option<StoredPage> {
    s.pages.page(tenant, page).await.expect("page")
}

/// Deauthorize: the shop's Page goes lost with the reason and loses its token, in one write; the
/// route stays (its events are still stored) and goes lost; another shop's route is untouched.
async fn revoking_a_page_takes_its_token_and_marks_it_lost(s: Stores) {
    let p = import(&s, "A", "101", "v1:token-a").await;
    connect(&s, "A", p).await;
    import(&s, "B", "101", "v1:token-b").await;

    s.pages.revoke_page("A", "101", REASON).await.expect("revoke");
    let a = stored(&s, "A", "101").await.expect("A's page");
    assert_eq!(a.record.status, PageStatus::LostConnection);
    assert_eq!(a.record.lost_reason.as_deref(), Some(REASON));
    assert_eq!(a.token_enc, None, "the token is deleted");
    let route = s.pages.page_route("101").await.expect("route").expect("still routed");
    assert_eq!((route.tenant_id.as_str(), route.status), ("A", PageStatus::LostConnection));
    // Idempotent.
    s.pages.revoke_page("A", "101", REASON).await.expect("again");
    assert_eq!(stored(&s, "A", "101").await.map(|p| p.record.status), Some(PageStatus::LostConnection));

    // B only imported it: its token goes, its status stays, A's route is not B's to change.
    assert_eq!(stored(&s, "B", "101").await.and_then(|p| p.token_enc).as_deref(), Some("v1:token-b"));
    s.pages.revoke_page("B", "101", REASON).await.expect("revoke B");
    let b = stored(&s, "B", "101").await.expect("B's page");
    assert_eq!((b.record.status, b.token_enc, b.record.lost_reason), (PageStatus::NotConnected, None, None));
    assert_eq!(s.pages.page_route("101").await.expect("route").map(|r| r.tenant_id).as_deref(), Some("A"));
    // A Page the shop does not have: nothing happens, nothing is created.
    s.pages.revoke_page("C", "101", REASON).await.expect("absent");
    assert!(stored(&s, "C", "101").await.is_none());
}

/// Who imported what: links by person, the latest importer per (shop, Page), forgetting one
/// person leaves the others.
async fn facebook_users_link_and_unlink(s: Stores) {
    let u = &s.facebook_users;
    u.link_pages("111", "A", &["101".into(), "102".into()]).await.expect("link");
    u.link_pages("111", "A", &["101".into()]).await.expect("link again");
    u.link_pages("111", "B", &["101".into()]).await.expect("link B");
    let mut links: Vec<_> =
        u.links("111").await.expect("links").into_iter().map(|l| (l.tenant_id, l.page_id)).collect();
    links.sort();
    let expected: Vec<(String, String)> = [("A", "101"), ("A", "102"), ("B", "101")]
        .iter()
        .map(|(t, p)| (t.to_string(), p.to_string()))
        .collect();
    assert_eq!(links, expected);
    assert_eq!(u.importer("A", "101").await.expect("importer").as_deref(), Some("111"));
    // Someone else imports 101 into A later: they hold its token now.
    u.link_pages("222", "A", &["101".into()]).await.expect("link 222");
    assert_eq!(u.importer("A", "101").await.expect("importer").as_deref(), Some("222"));
    u.unlink("111", "A", "101").await.expect("unlink");
    assert_eq!(
        u.importer("A", "101").await.expect("importer").as_deref(),
        Some("222"),
        "not 111's to forget"
    );
    u.unlink("111", "A", "102").await.expect("unlink 102");
    assert_eq!(u.importer("A", "102").await.expect("importer"), None);
    assert_eq!(u.links("111").await.expect("links").len(), 1);
    assert_eq!(u.links("222").await.expect("links").len(), 1);
    assert!(u.links("333").await.expect("none").is_empty());
}

/// A deletion request is recorded once under its code, pending, then done with its counts.
async fn deletion_requests_report_their_status(s: Stores) {
    let u = &s.facebook_users;
    let req = DeletionRequest {
        code: "0123456789abcdef0123456789abcdef".into(),
        status: DeletionStatus::Pending,
        requested_ms: 1_764_000_000_000,
        completed_ms: None,
        deleted: DeletionCounts::default(),
    };
    u.create_deletion(&req).await.expect("create");
    assert!(matches!(u.create_deletion(&req).await, Err(StoreError::Conflict(_))), "a code is used once");
    assert_eq!(u.deletion(&req.code).await.expect("read"), Some(req.clone()));
    let counts = DeletionCounts { page_tokens: 2, page_links: 3 };
    u.finish_deletion(&req.code, &counts, 1_764_000_001_000).await.expect("finish");
    let done = u.deletion(&req.code).await.expect("read").expect("exists");
    assert_eq!(
        done,
        DeletionRequest {
            status: DeletionStatus::Done,
            completed_ms: Some(1_764_000_001_000),
            deleted: counts,
            ..req
        }
    );
    assert_eq!(u.deletion("ffffffffffffffffffffffffffffffff").await.expect("absent"), None);
}

/// A shop deletes a Page's item only when it does not hold the Page (connected or lost).
async fn page_items_are_deleted_only_when_not_held(s: Stores) {
    let p = import(&s, "A", "201", "v1:t").await;
    s.facebook_users.link_pages("111", "A", &["201".into()]).await.expect("link");
    connect(&s, "A", p).await;
    assert_eq!(s.erasure.delete_page("A", "201").await.expect("connected"), PageErasure::Held);
    let version = s.pages.holder("201").await.expect("holder").map(|h| h.version).unwrap_or_default();
    assert!(s.pages.mark_lost("A", "201", &version, "token expired").await.expect("lost"));
    assert_eq!(s.erasure.delete_page("A", "201").await.expect("lost"), PageErasure::Held);
    assert!(stored(&s, "A", "201").await.is_some(), "refused: nothing changed");
    s.pages.disconnect_page("A", "201").await.expect("disconnect");
    assert_eq!(s.erasure.delete_page("A", "201").await.expect("delete"), PageErasure::Deleted);
    assert!(stored(&s, "A", "201").await.is_none(), "record and token gone");
    assert!(s.pages.list_pages("A").await.expect("list").is_empty());
    assert_eq!(s.facebook_users.importer("A", "201").await.expect("importer"), None);
    assert_eq!(s.erasure.delete_page("A", "201").await.expect("again"), PageErasure::Absent);
    // Another shop holding the route does not stop this shop deleting its own item.
    let b = import(&s, "B", "202", "v1:b").await;
    connect(&s, "B", b).await;
    import(&s, "A", "202", "v1:a").await;
    assert_eq!(s.erasure.delete_page("A", "202").await.expect("A's item"), PageErasure::Deleted);
    assert!(stored(&s, "B", "202").await.is_some());
}

fn message(conv: &str, mid: &str, ts: i64) -> Message {
    Message {
        id: mid.into(),
        conversation_id: conv.into(),
        direction: Direction::In,
        kind: domain::model::MessageKind::Text,
        text: Some("Chào shop".into()),
        sent_ms: ts,
        detail: None,
        reply: None,
        comment: None,
    }
}

async fn conversation_with(s: &Stores, tenant: &str, page: &str, customer: &str, messages: i64) -> String {
    let id = domain::model::conversation_id(page, customer);
    let t = ConversationTouch {
        tenant_id: tenant.into(),
        conversation_id: id.clone(),
        page_id: page.into(),
        customer_id: customer.into(),
        activity_ms: 1_000,
        customer_ms: Some(1_000),
        last_message: None,
        customer_name: None,
        post_id: None,
        phones: Vec::new(),
    };
    s.conversations.touch_conversation(&t).await.expect("touch");
    for i in 0..messages {
        s.conversations
            .put_message(tenant, &message(&id, &format!("m-{customer}-{i}"), 1_000 + i))
            .await
            .expect("put");
    }
    id
}

/// Deleting a conversation deletes every message (more than one batch) and then the header;
/// other conversations and other shops keep theirs; a second deletion finds nothing.
async fn deleting_a_conversation_deletes_its_messages(s: Stores) {
    let gone = conversation_with(&s, "A", "301", "31", 30).await;
    let kept = conversation_with(&s, "A", "301", "32", 2).await;
    let other_shop = conversation_with(&s, "B", "301", "31", 3).await;
    assert_eq!(gone, other_shop);
    // A reply still pending is the shop's text to the customer: deleted with the rest.
    let pending = pending_reply(&gone, "reply:0123456789abcdef0123456789abcdef");
    assert!(s.conversations.begin_reply("A", &pending).await.expect("begin").is_none());

    assert_eq!(s.conversations.delete_conversation("A", &gone).await.expect("delete"), 31);
    assert!(s.conversations.conversation("A", &gone).await.expect("read").is_none());
    assert!(s.conversations.list_messages("A", &gone, None, 100).await.expect("list").items.is_empty());
    let of_page = ConversationFilter::All { page_id: Some("301".into()) };
    let listed = s.conversations.list_conversations("A", &of_page, None, 50).await.expect("list");
    assert_eq!(listed.items.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [kept.as_str()]);
    assert_eq!(s.conversations.list_messages("A", &kept, None, 100).await.expect("kept").items.len(), 2);
    assert_eq!(s.conversations.list_messages("B", &other_shop, None, 100).await.expect("B").items.len(), 3);
    assert_eq!(s.conversations.delete_conversation("A", &gone).await.expect("again"), 0);
    // The reply's record is gone: the same id starts afresh.
    assert!(s.conversations.begin_reply("A", &pending).await.expect("begin again").is_none());
}

fn pending_reply(conv: &str, reply_id: &str) -> Message {
    Message {
        reply: Some(domain::model::ReplyState {
            reply_id: reply_id.into(),
            status: domain::model::ReplyStatus::Pending,
            error: None,
        }),
        direction: Direction::Out,
        ..message(conv, reply_id, 2_000_000)
    }
}

store_contract!(
    revoking_a_page_takes_its_token_and_marks_it_lost,
    facebook_users_link_and_unlink,
    deletion_requests_report_their_status,
    page_items_are_deleted_only_when_not_held,
    deleting_a_conversation_deletes_its_messages,
);
