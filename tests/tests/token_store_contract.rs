//! `PageStore::replace_token` on both backends: the re-wrap sweep's write, which replaces a
//! Page's sealed token only while it is the one the sweep read.

use adapters::Stores;
use adapters::crypto::TokenCipher;
use domain::model::{ChatMode, PageRecord, PageRoute, PageStatus};
use domain::ports::ImportedPage;
use integration_tests::store_contract;
use secrecy::{ExposeSecret, SecretString};

fn ring(current: &str, keys: &[(&str, u8)]) -> TokenCipher {
    let keys: serde_json::Map<_, _> =
        keys.iter().map(|(id, b)| (id.to_string(), base64_32(*b).into())).collect();
    let text = serde_json::json!({ "current": current, "keys": keys }).to_string();
    TokenCipher::from_ring_secret(&SecretString::from(text)).expect("ring")
}

fn base64_32(byte: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

async fn import(s: &Stores, tenant: &str, page: &str, token_enc: &str) {
    let p = ImportedPage {
        page_id: page.into(),
        name: "Áo Đẹp".into(),
        token_enc: token_enc.into(),
        imported_by: "o@a.vn".into(),
    };
    s.pages.import_page(tenant, &p).await.expect("import");
}

async fn stored(s: &Stores, tenant: &str, page: &str) -> Option<String> {
    s.pages.page(tenant, page).await.expect("page").and_then(|p| p.token_enc)
}

async fn a_token_is_replaced_only_while_unchanged(s: Stores) {
    let k1 = ring("k1", &[("k1", 1)]);
    let sealed = k1.encrypt("A", "P", &SecretString::from("EAAG-page".to_string()));
    import(&s, "A", "P", &sealed).await;
    let both = ring("k2", &[("k1", 1), ("k2", 2)]);
    assert!(both.needs_rewrap(&sealed));
    let new = both.rewrap("A", "P", &sealed).expect("rewrap");

    // Not the token stored: refused, nothing written.
    assert!(!s.pages.replace_token("A", "P", "v2:k1:other:other", &new).await.expect("stale"));
    assert_eq!(stored(&s, "A", "P").await.as_deref(), Some(sealed.as_str()));
    // Another shop's item, a Page the shop does not have: refused, nothing created.
    assert!(!s.pages.replace_token("B", "P", &sealed, &new).await.expect("other shop"));
    assert!(s.pages.page("B", "P").await.expect("page B").is_none());
    assert!(!s.pages.replace_token("A", "Q", &sealed, &new).await.expect("no page"));
    assert!(s.pages.page("A", "Q").await.expect("page Q").is_none());

    assert!(s.pages.replace_token("A", "P", &sealed, &new).await.expect("replace"));
    let now = stored(&s, "A", "P").await.expect("token");
    assert_eq!(now, new);
    let k2 = ring("k2", &[("k2", 2)]);
    assert_eq!(k2.decrypt("A", "P", &now).expect("opens under k2").expose_secret(), "EAAG-page");
    // The same sweep again (a retry, or a second instance): nothing to do.
    assert!(!s.pages.replace_token("A", "P", &sealed, &new).await.expect("again"));
}

async fn a_login_or_revocation_meanwhile_is_never_overwritten(s: Stores) {
    import(&s, "A", "P", "v2:k1:old:old").await;
    // A new Facebook Login wrote a fresh token after the sweep read the old one.
    import(&s, "A", "P", "v2:k2:login:login").await;
    assert!(!s.pages.replace_token("A", "P", "v2:k1:old:old", "v2:k2:rewrapped:old").await.expect("raced"));
    assert_eq!(stored(&s, "A", "P").await.as_deref(), Some("v2:k2:login:login"));
    // The person took the token back: it stays gone.
    s.pages.revoke_page("A", "P", "the person removed the app").await.expect("revoke");
    assert!(!s.pages.replace_token("A", "P", "v2:k2:login:login", "v2:k3:x:login").await.expect("revoked"));
    assert_eq!(stored(&s, "A", "P").await, None);
}

async fn concurrent_rewraps_write_once_and_the_holder_sees_it(s: Stores) {
    import(&s, "A", "P", "v2:k1:old:data").await;
    let page = PageRecord {
        page_id: "P".into(),
        name: "Áo Đẹp".into(),
        status: PageStatus::Connected,
        chat_mode: Some(ChatMode::OnlyMe),
        rule_id: None,
        connected_by: Some("o@a.vn".into()),
        last_connected_at: Some("2026-11-25T10:00:00.000Z".into()),
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
    s.pages.connect_page(&page, &route).await.expect("connect");
    let tries = (0..6).map(|i| {
        let s = s.clone();
        async move { s.pages.replace_token("A", "P", "v2:k1:old:data", &format!("v2:k2:w{i}:data")).await }
    });
    let won: Vec<bool> =
        futures::future::join_all(tries).await.into_iter().map(|r| r.expect("replace")).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let winner = won.iter().position(|w| *w).expect("one won");
    let holder = s.pages.holder("P").await.expect("holder").expect("held");
    assert_eq!(
        holder.token_enc,
        Some(format!("v2:k2:w{winner}:data")),
        "Graph calls use the re-wrapped token"
    );
    let record = s.pages.page("A", "P").await.expect("page").expect("exists").record;
    assert_eq!(record.status, PageStatus::Connected, "only the token changed");
}

store_contract!(
    a_token_is_replaced_only_while_unchanged,
    a_login_or_revocation_meanwhile_is_never_overwritten,
    concurrent_rewraps_write_once_and_the_holder_sees_it,
);
