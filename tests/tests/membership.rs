//! Who the admin API lets in (findings 4, 7 and 8 of issue 10; `docs/facebook-login.md`,
//! "Shops and members"): a shop founded once by its first owner, roles from the member list,
//! removed means removed, `sub` bound and checked, unverified emails refused, the local
//! authorizer's `nbf`/`iss`/`aud`, and member removal against rule edits. On both backends.

use std::sync::Arc;

use async_trait::async_trait;
use domain::model::Member;
use domain::ports::{AgentsChange, MemberStore, Membership, StoreError};
use integration_tests::*;
use secrecy::SecretString;
use serde_json::{Value, json};

/// A token for `email` with one claim changed (or removed, with `Value::Null`).
fn token_with(email: &str, tenant: &str, role: &str, claim: &str, value: Value) -> String {
    let mut claims = local_stack::auth::claims(email, tenant, role, 3600);
    match value {
        Value::Null => {
            claims.as_object_mut().map(|c| c.remove(claim));
        }
        v => claims[claim] = v,
    }
    local_stack::auth::mint_claims(&SecretString::from(JWT_SECRET.to_string()), &claims).expect("mint")
}

async fn status(stack: &local_stack::RunningStack, path: &str, token: &str) -> (u16, String) {
    let (s, b) = get_json(stack, path, token).await;
    (s, b["error"]["code"].as_str().unwrap_or_default().to_string())
}

async fn emails(stack: &local_stack::RunningStack, token: &str) -> Vec<(String, String)> {
    let (s, b) = get_json(stack, "/api/members", token).await;
    assert_eq!(s, 200, "{b}");
    b["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| (m["email"].as_str().unwrap_or("").into(), m["role"].as_str().unwrap_or("").into()))
                .collect()
        })
        .unwrap_or_default()
}

/// Finding 4: the first owner founds the shop, once (also when several first calls race);
/// afterwards an owner-claiming token of a non-member is refused, and a member's token
/// claiming more than their role gets only their role.
async fn a_shop_is_founded_once_and_roles_come_from_the_member_list(backend: Backend) {
    let stack = start_stack(backend).await;
    let firsts =
        (0..6).map(|i| {
            let stack = &stack;
            async move {
                status(stack, "/api/members", &token(&format!("o{i}@shop-a.vn"), "shop-a", "owner")).await.0
            }
        });
    let answers = futures::future::join_all(firsts).await;
    assert_eq!(answers.iter().filter(|s| **s == 200).count(), 1, "one founder: {answers:?}");
    assert!(answers.iter().all(|s| *s == 200 || *s == 403), "{answers:?}");
    let founder = answers.iter().position(|s| *s == 200).map(|i| format!("o{i}@shop-a.vn")).expect("founder");
    let owner = token(&founder, "shop-a", "owner");
    assert_eq!(emails(&stack, &owner).await, vec![(founder.clone(), "owner".to_string())]);
    // Later owner-claiming tokens do not join.
    let (s, code) = status(&stack, "/api/pages", &token("late@shop-a.vn", "shop-a", "owner")).await;
    assert_eq!((s, code.as_str()), (403, "not_a_member"));
    // An agent whose token says owner is an agent.
    add_agents(&stack, &owner, &["lan@shop-a.vn".to_string()]).await;
    let lan_as_owner = token("lan@shop-a.vn", "shop-a", "owner");
    let (s, b) =
        post_json(&stack, "/api/members", &lan_as_owner, json!({"email":"x@shop-a.vn","role":"owner"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("forbidden")), "{b}");
    assert_eq!(status(&stack, "/api/facebook/login-url", &lan_as_owner).await.0, 403);
    assert_eq!(emails(&stack, &owner).await.len(), 2, "nobody joined");
}

/// Finding 4: a removed member stays removed, an owner too (their owner claim does not bring
/// them back), and nothing else of the shop is theirs to read.
async fn a_removed_member_stays_removed(backend: Backend) {
    let stack = start_stack(backend).await;
    let first = token("first@shop-a.vn", "shop-a", "owner");
    assert_eq!(status(&stack, "/api/members", &first).await.0, 200);
    let (s, b) =
        post_json(&stack, "/api/members", &first, json!({"email":"second@shop-a.vn","role":"owner"})).await;
    assert_eq!(s, 201, "{b}");
    let second = token("second@shop-a.vn", "shop-a", "owner");
    assert_eq!(status(&stack, "/api/members", &second).await.0, 200);
    let (s, b) = delete(&stack, "/api/members/first@shop-a.vn", &second).await;
    assert_eq!(s, 200, "{b}");
    for path in ["/api/members", "/api/pages", "/api/rules", "/api/conversations?view=all"] {
        let (s, code) = status(&stack, path, &first).await;
        assert_eq!((s, code.as_str()), (403, "not_a_member"), "{path}");
    }
    assert_eq!(emails(&stack, &second).await, vec![("second@shop-a.vn".to_string(), "owner".to_string())]);
}

/// Finding 4: the `sub` of a member's first call is theirs; another account with the same
/// email (another `sub`) is refused, for the founder and for a member added by email.
async fn the_sub_is_bound_at_first_use_and_checked(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = token("owner@shop-a.vn", "shop-a", "owner");
    assert_eq!(status(&stack, "/api/members", &owner).await.0, 200);
    let impostor = token_with("owner@shop-a.vn", "shop-a", "owner", "sub", json!("other-idp|owner"));
    let (s, code) = status(&stack, "/api/members", &impostor).await;
    assert_eq!((s, code.as_str()), (403, "identity_mismatch"));
    add_agents(&stack, &owner, &["lan@shop-a.vn".to_string()]).await;
    let lan = token_with("lan@shop-a.vn", "shop-a", "agent", "sub", json!("idp|lan-1"));
    assert_eq!(status(&stack, "/api/conversations?view=mine", &lan).await.0, 200);
    let lan_again = token_with("lan@shop-a.vn", "shop-a", "agent", "sub", json!("idp|lan-1"));
    assert_eq!(status(&stack, "/api/conversations?view=mine", &lan_again).await.0, 200);
    let other_lan = token_with("lan@shop-a.vn", "shop-a", "agent", "sub", json!("idp|lan-2"));
    let (s, code) = status(&stack, "/api/conversations?view=mine", &other_lan).await;
    assert_eq!((s, code.as_str()), (403, "identity_mismatch"));
}

/// Finding 4: `email_verified: false` is refused before anything else; true or absent is fine.
async fn an_unverified_email_is_refused(backend: Backend) {
    let stack = start_stack(backend).await;
    let unverified = token_with("owner@shop-a.vn", "shop-a", "owner", "email_verified", json!(false));
    let (s, code) = status(&stack, "/api/members", &unverified).await;
    assert_eq!((s, code.as_str()), (403, "email_not_verified"));
    // It did not found the shop either.
    let verified = token_with("other@shop-a.vn", "shop-a", "owner", "email_verified", json!(true));
    assert_eq!(status(&stack, "/api/members", &verified).await.0, 200);
    assert_eq!(emails(&stack, &verified).await.len(), 1);
}

/// Finding 8: the local authorizer checks `nbf`, `iss` and `aud` as API Gateway does.
async fn the_local_authorizer_checks_nbf_iss_and_aud(backend: Backend) {
    let stack = start_stack(backend).await;
    let now = domain::timefmt::now_ms() / 1000;
    let refused = [
        ("nbf", json!(now + 3600)),
        ("iss", json!("https://someone-else.example")),
        ("iss", Value::Null),
        ("aud", json!("another-api")),
        ("aud", Value::Null),
    ];
    for (claim, value) in refused {
        let t = token_with("owner@shop-a.vn", "shop-a", "owner", claim, value.clone());
        let (s, code) = status(&stack, "/api/members", &t).await;
        assert_eq!((s, code.as_str()), (401, "invalid_token"), "{claim} = {value}");
    }
    assert_eq!(status(&stack, "/api/members", &token("owner@shop-a.vn", "shop-a", "owner")).await.0, 200);
}

/// Finding 7: rule edits adding a member race that member's removal; whatever the order, a
/// removed member is in no rule.
async fn removal_racing_rule_edits_leaves_no_removed_agent_in_a_rule(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = seed_shop(&stack, "shop-a", "owner@shop-a.vn", "700").await;
    add_agents(&stack, &owner, &["a0@shop-a.vn".to_string()]).await;
    let rule =
        json!({"name":"Ca sáng","page_ids":["700"],"agent_emails":["a0@shop-a.vn"],"method":"round_robin"});
    let (s, b) = post_json(&stack, "/api/rules", &owner, rule).await;
    assert_eq!(s, 201, "{b}");
    let rule_id = b["id"].as_str().expect("rule id").to_string();
    for round in 0..6 {
        let x = format!("x{round}@shop-a.vn");
        add_agents(&stack, &owner, std::slice::from_ref(&x)).await;
        let body = json!({"name":"Ca sáng","page_ids":["700"],"agent_emails":["a0@shop-a.vn", x],"method":"round_robin"});
        let edit = async {
            http()
                .put(stack.url(&format!("/api/rules/{rule_id}")))
                .bearer_auth(&owner)
                .json(&body)
                .send()
                .await
                .expect("put")
                .status()
                .as_u16()
        };
        let path = format!("/api/members/{x}");
        let removal = delete(&stack, &path, &owner);
        let (edited, (removed, rb)) = tokio::join!(edit, removal);
        assert!([200, 409, 422].contains(&edited), "round {round}: the edit answered {edited}");
        assert!([200, 409].contains(&removed), "round {round}: the removal answered {removed} {rb}");
        let (_, r) = get_json(&stack, &format!("/api/rules/{rule_id}"), &owner).await;
        let in_rule = r["agent_emails"].as_array().is_some_and(|a| a.iter().any(|e| e == x.as_str()));
        let member = emails(&stack, &owner).await.iter().any(|(e, _)| *e == x);
        assert!(member || !in_rule, "round {round}: {x} was removed but the rule still names them: {r}");
        if removed == 200 {
            assert!(!member, "round {round}: answered 200 but {x} is still a member");
        }
        // Back to the rule's one agent for the next round.
        let reset = json!({"name":"Ca sáng","page_ids":["700"],"agent_emails":["a0@shop-a.vn"],"method":"round_robin"});
        let r =
            http().put(stack.url(&format!("/api/rules/{rule_id}"))).bearer_auth(&owner).json(&reset).send();
        assert_eq!(r.await.expect("reset").status().as_u16(), 200);
    }
}

/// A member store whose removals always find that the rules changed meanwhile.
struct RulesAlwaysChanging(Arc<dyn MemberStore>);

#[async_trait]
impl MemberStore for RulesAlwaysChanging {
    async fn member(&self, t: &str, e: &str) -> Result<Option<Member>, StoreError> {
        self.0.member(t, e).await
    }
    async fn add_member(&self, t: &str, m: &Member) -> Result<bool, StoreError> {
        self.0.add_member(t, m).await
    }
    async fn list_members(&self, t: &str) -> Result<Vec<Member>, StoreError> {
        self.0.list_members(t).await
    }
    async fn remove_member(&self, t: &str, e: &str) -> Result<bool, StoreError> {
        self.0.remove_member(t, e).await
    }
    async fn human_agent_enabled(&self, t: &str) -> Result<bool, StoreError> {
        self.0.human_agent_enabled(t).await
    }
    async fn set_human_agent_enabled(&self, t: &str, on: bool) -> Result<(), StoreError> {
        self.0.set_human_agent_enabled(t, on).await
    }
    async fn membership(&self, t: &str, e: &str) -> Result<Option<Membership>, StoreError> {
        self.0.membership(t, e).await
    }
    async fn found_shop(&self, t: &str, m: &Member, sub: &str) -> Result<bool, StoreError> {
        self.0.found_shop(t, m, sub).await
    }
    async fn bind_sub(&self, t: &str, e: &str, sub: &str) -> Result<bool, StoreError> {
        self.0.bind_sub(t, e, sub).await
    }
    async fn leave_shop(
        &self,
        _: &str,
        _: &str,
        _: u64,
        _: &[AgentsChange],
        _: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
}

/// Finding 7: a removal that cannot finish its rule updates answers 409 and removes nothing
/// (it used to remove the member anyway and answer 200).
async fn a_removal_that_cannot_finish_answers_409(backend: Backend) {
    let (mut stores, queues, mq) = backends(backend, 2, 5).await;
    stores.members = Arc::new(RulesAlwaysChanging(stores.members.clone()));
    let stack = local_stack::start_with(
        stack_config(backend, std::time::Duration::from_secs(2), 5),
        stores,
        queues,
        mq,
    )
    .await
    .expect("stack");
    let owner = token("owner@shop-a.vn", "shop-a", "owner");
    add_agents(&stack, &owner, &["lan@shop-a.vn".to_string()]).await;
    let (s, b) = delete(&stack, "/api/members/lan@shop-a.vn", &owner).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("rules_changing")), "{b}");
    assert!(emails(&stack, &owner).await.iter().any(|(e, _)| e == "lan@shop-a.vn"), "nothing removed");
}

/// `GET /api/me`: the caller as the member list has them (the console's owner and admin
/// screens and its "Của tôi" view rest on it): the role is the list's, not the token's; the
/// email normalised; a non-member or removed member hears 403 like on every route.
async fn me_says_who_the_caller_is_in_their_shop(backend: Backend) {
    let stack = start_stack(backend).await;
    let owner = token("Owner@Shop-A.vn", "shop-a", "owner");
    let (s, b) = get_json(&stack, "/api/me", &owner).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b, json!({"email": "owner@shop-a.vn", "role": "owner", "tenant_id": "shop-a"}));
    let (s, b) =
        post_json(&stack, "/api/members", &owner, json!({"email":"ad@shop-a.vn","role":"admin"})).await;
    assert_eq!(s, 201, "{b}");
    add_agents(&stack, &owner, &["lan@shop-a.vn".to_string()]).await;
    // A token claiming more than the member list says: the list wins.
    let (_, b) = get_json(&stack, "/api/me", &token("lan@shop-a.vn", "shop-a", "owner")).await;
    assert_eq!(b, json!({"email": "lan@shop-a.vn", "role": "agent", "tenant_id": "shop-a"}));
    let (_, b) = get_json(&stack, "/api/me", &token("ad@shop-a.vn", "shop-a", "agent")).await;
    assert_eq!(b["role"], "admin");
    let (s, code) = status(&stack, "/api/me", &token("late@shop-a.vn", "shop-a", "owner")).await;
    assert_eq!((s, code.as_str()), (403, "not_a_member"));
    // Another shop's member is a stranger here.
    let (s, code) = status(&stack, "/api/me", &token("lan@shop-a.vn", "shop-b", "agent")).await;
    assert_eq!((s, code.as_str()), (403, "not_a_member"));
    let (s, _) = delete(&stack, "/api/members/lan@shop-a.vn", &owner).await;
    assert_eq!(s, 200);
    let (s, code) = status(&stack, "/api/me", &token("lan@shop-a.vn", "shop-a", "agent")).await;
    assert_eq!((s, code.as_str()), (403, "not_a_member"));
}

on_both_backends!(
    me_says_who_the_caller_is_in_their_shop,
    a_shop_is_founded_once_and_roles_come_from_the_member_list,
    a_removed_member_stays_removed,
    the_sub_is_bound_at_first_use_and_checked,
    an_unverified_email_is_refused,
    the_local_authorizer_checks_nbf_iss_and_aud,
    removal_racing_rule_edits_leaves_no_removed_agent_in_a_rule,
    a_removal_that_cannot_finish_answers_409,
);
