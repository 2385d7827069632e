//! The two shops of the access matrix, seeded through the same doors production uses (the
//! admin API and signed webhooks), each with recognisable markers so that any answer carrying
//! the other shop's data can be found by a plain substring search.

use std::sync::Mutex;

use integration_tests::*;
use serde_json::{Value, json};

/// What one shop is made of; every string here is a marker of that shop.
pub struct ShopSpec {
    /// `alpha` or `beta`: used in names, emails and the tenant id.
    pub tag: &'static str,
    /// First digit of every numeric id of the shop (7 for alpha, 8 for beta), so that no id of
    /// one shop is a substring of an id of the other.
    pub digit: char,
}

/// One seeded shop: its tokens and the ids of its objects.
pub struct Shop {
    pub tag: &'static str,
    pub tenant: String,
    pub domain: String,
    pub page_id: String,
    pub page_name: String,
    pub rule_id: String,
    pub rule_name: String,
    pub owner: String,
    pub holder: String,
    pub other: String,
    pub owner_token: String,
    pub admin_token: String,
    pub holder_token: String,
    pub other_token: String,
    pub conversation_id: String,
    pub comment_conversation_id: String,
    pub comment_id: String,
    /// A conversation waiting in the pool of a self-claim rule whose one agent is the holder.
    pub pooled_conversation_id: String,
    pub pool_rule_id: String,
    /// Ids made during the matrix (disposable Pages and members): markers too.
    pub made: Mutex<Vec<String>>,
    next: Mutex<u32>,
    digit: char,
    texts: Vec<String>,
}

fn num(digit: char, kind: char, n: u32) -> String {
    format!("{digit}{kind}{n:08}")
}

impl Shop {
    /// Every string that belongs to this shop and must never reach a member of another one.
    pub fn markers(&self) -> Vec<String> {
        let mut m = vec![
            self.tenant.clone(),
            self.domain.clone(),
            self.page_id.clone(),
            self.page_name.clone(),
            self.rule_id.clone(),
            self.rule_name.clone(),
            self.conversation_id.clone(),
            self.comment_conversation_id.clone(),
            self.comment_id.clone(),
            self.pooled_conversation_id.clone(),
            self.pool_rule_id.clone(),
            num(self.digit, '1', 2),
            num(self.digit, '2', 2),
            num(self.digit, '2', 1),
            num(self.digit, '3', 1),
            num(self.digit, '4', 1),
        ];
        m.extend(self.texts.iter().cloned());
        m.extend(self.made.lock().map(|v| v.clone()).unwrap_or_default());
        m
    }

    /// A fresh numeric id of this shop (a disposable Page).
    pub fn fresh_page_id(&self) -> String {
        let n = self.next.lock().map(|mut n| {
            *n += 1;
            *n
        });
        let id = num(self.digit, '9', n.unwrap_or(0));
        self.made.lock().map(|mut v| v.push(id.clone())).ok();
        id
    }

    /// A fresh member email of this shop (carries the shop's domain, a marker).
    pub fn fresh_email(&self, what: &str) -> String {
        let n = self.next.lock().map(|mut n| {
            *n += 1;
            *n
        });
        format!("{what}{}@{}", n.unwrap_or(0), self.domain)
    }

    /// A Page of the shop connected only-me, made for one cell.
    pub async fn disposable_page(&self, stack: &local_stack::RunningStack) -> String {
        let page = self.fresh_page_id();
        let body = json!({"page_id": page, "name": format!("{}-DISPOSABLE-PAGE", self.tag.to_uppercase())});
        let (s, b) = post_json(stack, "/_local/pages", &self.owner_token, body).await;
        assert_eq!(s, 201, "seeding a disposable Page: {b}");
        page
    }

    /// An agent of the shop made for one cell.
    pub async fn disposable_member(&self, stack: &local_stack::RunningStack) -> String {
        let email = self.fresh_email("temp");
        let (s, b) =
            post_json(stack, "/api/members", &self.owner_token, json!({"email": email, "role": "agent"}))
                .await;
        assert_eq!(s, 201, "adding a disposable member: {b}");
        email
    }

    /// The shop's rule as a `PUT /api/rules/{id}` body: replacing the rule with itself.
    pub fn rule_body(&self) -> Value {
        json!({"name": self.rule_name, "page_ids": [self.page_id], "agent_emails": [self.holder],
               "method": "round_robin", "old_conversations": "none"})
    }
}

/// Seeds one shop: owner, admin, two agents, a Page under a round-robin rule of one agent
/// (the holder), one Messenger conversation and one comment conversation, both held by the
/// holder. Waits until the worker stored both.
pub async fn seed(stack: &local_stack::RunningStack, spec: ShopSpec) -> Shop {
    let tag = spec.tag;
    let d = spec.digit;
    let shop_domain = format!("{tag}-shop.vn");
    let tenant = format!("tenant-{tag}");
    let email = |who: &str| format!("{who}@{shop_domain}");
    let (owner, admin, holder, other) = (email("owner"), email("admin"), email("holder"), email("other"));
    let owner_token = token(&owner, &tenant, "owner");
    let page_id = num(d, '1', 1);
    let page_name = format!("{}-PAGE-NAME", tag.to_uppercase());
    let (s, b) =
        post_json(stack, "/_local/pages", &owner_token, json!({"page_id": page_id, "name": page_name})).await;
    assert_eq!(s, 201, "seeding {tag}'s Page: {b}");
    for (who, role) in [(&admin, "admin"), (&holder, "agent"), (&other, "agent")] {
        let (s, b) =
            post_json(stack, "/api/members", &owner_token, json!({"email": who, "role": role})).await;
        assert_eq!(s, 201, "adding {who}: {b}");
    }
    let rule_name = format!("{}-RULE-NAME", tag.to_uppercase());
    let rule =
        json!({"name": rule_name, "page_ids": [page_id], "agent_emails": [holder], "method": "round_robin"});
    let (s, b) = post_json(stack, "/api/rules", &owner_token, rule).await;
    assert_eq!(s, 201, "creating {tag}'s rule: {b}");
    let rule_id = b["id"].as_str().expect("rule id").to_string();

    let psid = num(d, '2', 1);
    let text = format!("{}-SECRET-MESSAGE-TEXT", tag.to_uppercase());
    let now = domain::timefmt::now_ms();
    let mid = format!("m_{}-MID", tag.to_uppercase());
    let body = notification(&page_id, vec![text_item(&page_id, &psid, now, &mid, &text)]);
    assert_eq!(post_webhook(stack, &body).await, 200);

    let from = num(d, '3', 1);
    let post_id = format!("{page_id}_{}", num(d, '4', 1));
    let comment_id = format!("{}_{}", num(d, '4', 1), num(d, '5', 1));
    let comment_text = format!("{}-SECRET-COMMENT-TEXT", tag.to_uppercase());
    let from_name = format!("{}-CUSTOMER-NAME", tag.to_uppercase());
    let change = json!({
        "item": "comment", "verb": "add", "comment_id": comment_id, "post_id": post_id,
        "parent_id": post_id, "from": {"id": from, "name": from_name}, "message": comment_text,
        "created_time": now / 1000,
    });
    let feed = json!({"object": "page", "entry": [{"id": page_id, "time": 1,
        "changes": [{"field": "feed", "value": change}]}]})
    .to_string();
    assert_eq!(post_webhook(stack, &feed).await, 200);

    // A second Page under a self-claim rule of the holder: its conversation waits in the pool.
    let pool_page = num(d, '1', 2);
    let name = format!("{}-POOL-PAGE-NAME", tag.to_uppercase());
    let (s, b) =
        post_json(stack, "/_local/pages", &owner_token, json!({"page_id": pool_page, "name": name})).await;
    assert_eq!(s, 201, "seeding {tag}'s pool Page: {b}");
    let pool_rule = json!({"name": format!("{}-POOL-RULE-NAME", tag.to_uppercase()), "page_ids": [pool_page],
        "agent_emails": [holder], "method": "self_claim"});
    let (s, b) = post_json(stack, "/api/rules", &owner_token, pool_rule).await;
    assert_eq!(s, 201, "creating {tag}'s pool rule: {b}");
    let pool_rule_id = b["id"].as_str().expect("rule id").to_string();
    let pool_psid = num(d, '2', 2);
    let pooled_text = format!("{}-SECRET-POOLED-TEXT", tag.to_uppercase());
    let body =
        notification(&pool_page, vec![text_item(&pool_page, &pool_psid, now, "m_pooled", &pooled_text)]);
    assert_eq!(post_webhook(stack, &body).await, 200);

    let conversation_id = domain::model::conversation_id(&page_id, &psid);
    let pooled_conversation_id = domain::model::conversation_id(&pool_page, &pool_psid);
    let items = eventually(30, "two conversations held by the holder, one pooled", || async {
        let (s, b) = get_json(stack, "/api/conversations?view=all", &owner_token).await;
        let items = b["items"].as_array().cloned().unwrap_or_default();
        let held = items.iter().filter(|c| c["assignee"] == json!(holder)).count();
        let pooled = items
            .iter()
            .filter(|c| c["id"] == json!(pooled_conversation_id) && c["assignee"].is_null())
            .count();
        (s == 200 && items.len() == 3 && held == 2 && pooled == 1).then_some(items)
    })
    .await;
    let comment_conversation_id = items
        .iter()
        .find(|c| c["kind"] == "comment")
        .and_then(|c| c["id"].as_str())
        .expect("the comment conversation")
        .to_string();
    let texts = vec![text, comment_text, from_name, mid, post_id, pooled_text];
    Shop {
        tag,
        admin_token: token(&admin, &tenant, "admin"),
        holder_token: token(&holder, &tenant, "agent"),
        other_token: token(&other, &tenant, "agent"),
        tenant,
        domain: shop_domain,
        page_id,
        page_name,
        rule_id,
        rule_name,
        owner,
        holder,
        other,
        owner_token,
        conversation_id,
        comment_conversation_id,
        comment_id,
        pooled_conversation_id,
        pool_rule_id,
        made: Mutex::new(Vec::new()),
        next: Mutex::new(0),
        digit: d,
        texts,
    }
}

/// Everything a shop's owner can read of their shop, plus who holds its Page's route: compared
/// before and after the other shop's calls, so a refused write that changed something shows.
pub async fn snapshot(stack: &local_stack::RunningStack, shop: &Shop) -> Value {
    let t = &shop.owner_token;
    let mut paths = vec![
        "/api/members".to_string(),
        "/api/pages".to_string(),
        "/api/rules".to_string(),
        format!("/api/rules/{}", shop.rule_id),
        "/api/conversations?view=all".to_string(),
        format!("/api/pages/{}/comment-settings", shop.page_id),
        "/api/settings".to_string(),
    ];
    for c in [&shop.conversation_id, &shop.comment_conversation_id, &shop.pooled_conversation_id] {
        paths.push(format!("/api/conversations/{c}"));
        paths.push(format!("/api/conversations/{c}/messages?limit=100"));
    }
    let mut out = serde_json::Map::new();
    for p in paths {
        let (s, b) = get_json(stack, &p, t).await;
        assert_eq!(s, 200, "snapshot of {} at {p}: {b}", shop.tag);
        out.insert(p, b);
    }
    let holder = stack.stores.pages.holder(&shop.page_id).await.expect("holder");
    let route = holder.map(|h| {
        json!({"tenant": h.route.tenant_id, "status": format!("{:?}", h.route.status),
        "rule": h.route.rule_id, "version": h.version, "draft": h.draft, "lease": h.lease_until_ms})
    });
    out.insert("route".into(), route.unwrap_or(Value::Null));
    Value::Object(out)
}

/// The markers must be observable: each one the shop's owner can read in the snapshot of
/// their own shop (the tenant id aside: no answer names it), else a leak of it could not be
/// seen either.
pub fn assert_markers_visible(snapshot: &Value, shop: &Shop) {
    let text = snapshot.to_string();
    let unseen: Vec<String> =
        shop.markers().into_iter().filter(|m| m != &shop.tenant && !text.contains(m.as_str())).collect();
    assert!(unseen.is_empty(), "markers of {} its own owner never reads: {unseen:?}", shop.tag);
}

/// What differs between two snapshots, read by read (None when nothing does).
pub fn changes(before: &Value, after: &Value) -> Option<String> {
    let empty = serde_json::Map::new();
    let (b, a) = (before.as_object().unwrap_or(&empty), after.as_object().unwrap_or(&empty));
    let diff: Vec<String> = b
        .iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: {v} -> {}", a.get(k).unwrap_or(&Value::Null)))
        .collect();
    (!diff.is_empty() || a.len() != b.len()).then(|| diff.join("; "))
}
